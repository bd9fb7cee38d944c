// SPDX-License-Identifier: GPL-3.0-or-later
#include "volume/Jpeg2000.h"

#include "common/AnalysisError.h"

#include <openjpeg.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace spinemet
{
  namespace
  {
    // OpenJPEG pulls its input through callbacks; this one serves it from memory.
    struct MemoryInput
    {
      const uint8_t* data;
      size_t size;
      size_t offset;
    };

    OPJ_SIZE_T readInput(void* buffer, OPJ_SIZE_T wanted, void* user)
    {
      MemoryInput& input = *static_cast<MemoryInput*>(user);
      if (input.offset >= input.size)
      {
        return static_cast<OPJ_SIZE_T>(-1);
      }
      const size_t count = std::min<size_t>(wanted, input.size - input.offset);
      std::memcpy(buffer, input.data + input.offset, count);
      input.offset += count;
      return count;
    }

    OPJ_OFF_T skipInput(OPJ_OFF_T count, void* user)
    {
      MemoryInput& input = *static_cast<MemoryInput*>(user);
      if (count < 0)
      {
        const size_t back = std::min<size_t>(static_cast<size_t>(-count), input.offset);
        input.offset -= back;
        return -static_cast<OPJ_OFF_T>(back);
      }
      const size_t forward = std::min<size_t>(static_cast<size_t>(count), input.size - input.offset);
      input.offset += forward;
      return static_cast<OPJ_OFF_T>(forward);
    }

    OPJ_BOOL seekInput(OPJ_OFF_T position, void* user)
    {
      MemoryInput& input = *static_cast<MemoryInput*>(user);
      if (position < 0 || static_cast<size_t>(position) > input.size)
      {
        return OPJ_FALSE;
      }
      input.offset = static_cast<size_t>(position);
      return OPJ_TRUE;
    }

    void keepError(const char* message, void* user)
    {
      std::string& errors = *static_cast<std::string*>(user);
      if (errors.empty())
      {
        errors = message;
        while (!errors.empty() && (errors.back() == '\n' || errors.back() == ' '))
        {
          errors.pop_back();
        }
      }
    }

    void ignoreMessage(const char*, void*)
    {
    }

    // A JP2 file starts with its signature box; anything else is taken as a raw codestream,
    // which is what DICOM encapsulates (PS3.5 A.4.4), and OpenJPEG tells if it is not one.
    bool isJp2File(const uint8_t* data, size_t size)
    {
      static const uint8_t signature[] = {0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20};
      return size >= sizeof(signature) && std::memcmp(data, signature, sizeof(signature)) == 0;
    }

    struct CodecDeleter { void operator()(opj_codec_t* codec) const { opj_destroy_codec(codec); } };
    struct StreamDeleter { void operator()(opj_stream_t* stream) const { opj_stream_destroy(stream); } };
    struct ImageDeleter { void operator()(opj_image_t* image) const { opj_image_destroy(image); } };
  }

  Jpeg2000Image decodeJpeg2000(const uint8_t* data, size_t size, const std::string& what)
  {
    auto fail = [&](const std::string& reason) -> AnalysisError
    {
      return AnalysisError("broken-pixel-data", "The JPEG 2000 pixel data of " + what +
                                                " cannot be decoded: " + reason);
    };

    std::unique_ptr<opj_codec_t, CodecDeleter> codec(
      opj_create_decompress(isJp2File(data, size) ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K));
    if (!codec)
    {
      throw fail("OpenJPEG could not create a decoder");
    }
    std::string errors;
    opj_set_error_handler(codec.get(), keepError, &errors);
    opj_set_warning_handler(codec.get(), ignoreMessage, nullptr);
    opj_set_info_handler(codec.get(), ignoreMessage, nullptr);

    opj_dparameters_t parameters;
    opj_set_default_decoder_parameters(&parameters);
    if (!opj_setup_decoder(codec.get(), &parameters))
    {
      throw fail("OpenJPEG rejected its decoder parameters");
    }

    MemoryInput input{data, size, 0};
    std::unique_ptr<opj_stream_t, StreamDeleter> stream(opj_stream_default_create(OPJ_TRUE));
    if (!stream)
    {
      throw fail("OpenJPEG could not create a stream");
    }
    opj_stream_set_user_data(stream.get(), &input, nullptr);
    opj_stream_set_user_data_length(stream.get(), size);
    opj_stream_set_read_function(stream.get(), readInput);
    opj_stream_set_skip_function(stream.get(), skipInput);
    opj_stream_set_seek_function(stream.get(), seekInput);

    opj_image_t* rawImage = nullptr;
    const bool headerRead = opj_read_header(stream.get(), codec.get(), &rawImage);
    std::unique_ptr<opj_image_t, ImageDeleter> image(rawImage);
    if (!headerRead)
    {
      throw fail(errors.empty() ? "unreadable codestream header" : errors);
    }
    if (!opj_decode(codec.get(), stream.get(), image.get()) ||
        !opj_end_decompress(codec.get(), stream.get()))
    {
      throw fail(errors.empty() ? "truncated or corrupt codestream" : errors);
    }
    if (image->numcomps != 1)
    {
      throw fail("it has " + std::to_string(image->numcomps) + " components, a CT image has one");
    }

    const opj_image_comp_t& component = image->comps[0];
    if (component.data == nullptr || component.dx != 1 || component.dy != 1)
    {
      throw fail("the component is missing or subsampled");
    }
    Jpeg2000Image result;
    result.columns = component.w;
    result.rows = component.h;
    result.precision = component.prec;
    result.isSigned = component.sgnd != 0;
    result.samples.assign(component.data, component.data + result.columns * result.rows);
    return result;
  }
}
