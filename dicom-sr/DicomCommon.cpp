// SPDX-License-Identifier: GPL-3.0-or-later
#include "DicomCommon.h"
#include "DicomObject.h"

#include "common/AnalysisError.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcwcache.h>

#include <ctime>
#include <fstream>
#include <random>

namespace spinemet
{
  namespace
  {
    // 128 bits as the decimal integer that follows "2.25." (no leading zeros).
    std::string uidFrom128Bits(unsigned __int128 value)
    {
      std::string digits;
      do
      {
        digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
        value /= 10;
      } while (value != 0);
      return "2.25." + digits;
    }

    // Marks the bits as a UUID of the given version (RFC 4122 variant), as X.667 expects.
    unsigned __int128 asUuid(unsigned __int128 bits, unsigned version)
    {
      const unsigned __int128 one = 1;
      bits &= ~(static_cast<unsigned __int128>(0xF) << 76);
      bits |= static_cast<unsigned __int128>(version) << 76;
      bits &= ~(static_cast<unsigned __int128>(0x3) << 62);
      bits |= one << 63;
      return bits;
    }

    // FNV-1a, then the SplitMix64 finaliser so that texts differing in their last character
    // differ in every digit of the UID, not only in the low bits.
    uint64_t hashText(const std::string& text, uint64_t basis)
    {
      uint64_t hash = basis;
      for (unsigned char c : text)
      {
        hash ^= c;
        hash *= 1099511628211ULL;
      }
      hash ^= hash >> 30;
      hash *= 0xBF58476D1CE4E5B9ULL;
      hash ^= hash >> 27;
      hash *= 0x94D049BB133111EBULL;
      hash ^= hash >> 31;
      return hash;
    }
  }

  std::string newUid()
  {
    static thread_local std::random_device device;
    unsigned __int128 bits = 0;
    for (int i = 0; i < 4; ++i)
    {
      bits = (bits << 32) | static_cast<uint32_t>(device());
    }
    return uidFrom128Bits(asUuid(bits, 4));
  }

  std::string uidFromText(const std::string& text)
  {
    // Two 64-bit hashes with different bases; stable across platforms and runs.
    const unsigned __int128 high = hashText(text, 14695981039346656037ULL);
    const unsigned __int128 low = hashText(text, 14695981039346656037ULL ^ 0x5370696E654D6574ULL);
    return uidFrom128Bits(asUuid((high << 64) | low, 8));
  }

  void DicomObject::save(const std::string& path) const
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    file.close();
    if (!file)
    {
      throw AnalysisError("dicom-write", "cannot write " + path);
    }
  }

  namespace dicom
  {
    void check(const OFCondition& condition, const std::string& what, const char* code)
    {
      if (condition.bad())
      {
        throw AnalysisError(code, what + ": " + condition.text());
      }
    }

    void put(DcmItem& item, const DcmTagKey& tag, const std::string& value)
    {
      check(item.putAndInsertString(tag, value.c_str()), "cannot set " + DcmTag(tag).toString() + " to \"" + value + "\"");
    }

    std::string toPart10(DcmFileFormat& file)
    {
      const E_TransferSyntax xfer = EXS_LittleEndianExplicit;
      check(file.validateMetaInfo(xfer), "cannot build the file meta information");
      file.removeInvalidGroups();
      const Uint32 length = file.calcElementLength(xfer, EET_ExplicitLength) + 4096;
      std::string bytes(length, '\0');
      DcmOutputBufferStream stream(&bytes[0], length);
      file.transferInit();
      const OFCondition status = file.write(stream, xfer, EET_ExplicitLength, nullptr);
      file.transferEnd();
      check(status, "cannot encode the DICOM file");
      void* buffer = nullptr;
      offile_off_t written = 0;
      stream.flushBuffer(buffer, written);
      bytes.resize(static_cast<size_t>(written));
      return bytes;
    }

    void fromPart10(const std::string& bytes, DcmFileFormat& file, const char* errorCode)
    {
      DcmInputBufferStream stream;
      stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
      stream.setEos();
      file.clear();
      file.transferInit();
      const OFCondition status = file.read(stream, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
      file.transferEnd();
      check(status, "not a readable DICOM file", errorCode);
    }

    void copyPatientAndStudy(const SeriesAttributes& source, DcmItem& target)
    {
      if (!source.specificCharacterSet.empty())
      {
        put(target, DCM_SpecificCharacterSet, source.specificCharacterSet);
      }
      put(target, DCM_PatientName, source.patientName);
      put(target, DCM_PatientID, source.patientId);
      put(target, DCM_PatientBirthDate, source.patientBirthDate);
      put(target, DCM_PatientSex, source.patientSex);
      put(target, DCM_StudyInstanceUID, source.studyInstanceUid);
      put(target, DCM_StudyDate, source.studyDate);
      put(target, DCM_StudyTime, source.studyTime);
      put(target, DCM_StudyID, source.studyId);
      put(target, DCM_AccessionNumber, source.accessionNumber);
      put(target, DCM_ReferringPhysicianName, source.referringPhysicianName);
      if (!source.studyDescription.empty())
      {
        put(target, DCM_StudyDescription, source.studyDescription);
      }
    }

    std::string currentDate()
    {
      char text[16];
      const std::time_t now = std::time(nullptr);
      std::tm local{};
      localtime_r(&now, &local);
      std::strftime(text, sizeof(text), "%Y%m%d", &local);
      return text;
    }

    std::string currentTime()
    {
      char text[16];
      const std::time_t now = std::time(nullptr);
      std::tm local{};
      localtime_r(&now, &local);
      std::strftime(text, sizeof(text), "%H%M%S", &local);
      return text;
    }
  }
}
