// SPDX-License-Identifier: GPL-3.0-or-later
// Reading a SpineMet TID 1500 SR back (Tid1500MeasurementReport.h): the writer is in
// Tid1500MeasurementReport.cpp; the codes and the tracking identifier's convention both use are
// in Codes.h.
#include "Tid1500MeasurementReport.h"

#include "AssessabilityText.h"
#include "Codes.h"
#include "DicomCommon.h"

#include "common/AnalysisError.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmsr/dsrdoc.h>

#include <cmath>
#include <fstream>
#include <sstream>

namespace spinemet
{
  namespace
  {
    bool is(const DSRCodedEntryValue& code, const CodedConcept& concept)
    {
      return concept.sameAs(code.getCodeValue().c_str(), code.getCodingSchemeDesignator().c_str());
    }

    [[noreturn]] void missing(const std::string& what)
    {
      throw AnalysisError("sr-content", "not a SpineMet measurement report: " + what);
    }

    double numberOf(const DSRContentItem& item, const std::string& where)
    {
      Float64 value = 0;
      if (item.getNumericValue().getFloatingPointRepresentation(value).bad())
      {
        const std::string text = item.getNumericValue().getNumericValue().c_str();
        try
        {
          return std::stod(text);
        }
        catch (const std::exception&)
        {
          missing(where + " has no numeric value (\"" + text + "\")");
        }
      }
      return value;
    }

    NotAssessable reasonFromText(const std::string& text)
    {
      const size_t colon = text.find(": ");
      NotAssessable entry;
      try
      {
        entry.reason = parseNotAssessableReason(text.substr(0, colon));
      }
      catch (const std::invalid_argument&)
      {
        missing("\"" + text + "\" does not start with a known not-assessable reason");
      }
      entry.detail = colon == std::string::npos ? std::string() : text.substr(colon + 2);
      return entry;
    }

    ReportedVertebra readGroup(DSRDocumentTree& tree)
    {
      ReportedVertebra vertebra;
      if (tree.goDown() == 0)
      {
        missing("an empty measurement group");
      }
      do
      {
        const DSRContentItem& item = tree.getCurrentContentItem();
        const DSRCodedEntryValue& name = item.getConceptName();
        if (is(name, codes::FINDING) && is(item.getCodeValue(), codes::UNDETERMINED))
        {
          vertebra.assessable = false;
        }
        else if (is(name, codes::NOT_ASSESSABLE_REASON))
        {
          vertebra.notAssessableBecause.push_back(reasonFromText(item.getStringValue().c_str()));
        }
        else if (is(name, codes::OUT_OF_DISTRIBUTION_SCORE))
        {
          vertebra.outOfDistributionScore = numberOf(item, codes::OUT_OF_DISTRIBUTION_SCORE.meaning);
        }
        else if (is(name, codes::AREA))
        {
          vertebra.areaMm2 = numberOf(item, codes::AREA.meaning);
        }
        else if (is(name, codes::TRACKING_IDENTIFIER))
        {
          vertebra.trackingIdentifier = codes::displayNameFromTrackingIdentifier(item.getStringValue().c_str());
        }
        else if (is(name, codes::TRACKING_UNIQUE_IDENTIFIER))
        {
          vertebra.trackingUid = item.getStringValue().c_str();
        }
        else if (is(name, codes::FINDING_SITE))
        {
          vertebra.level = codes::levelFromVertebraCode(item.getCodeValue().getCodeValue().c_str(),
                                                        item.getCodeValue().getCodingSchemeDesignator().c_str());
        }
        else if (is(name, codes::BONE_LESION_QUALITY))
        {
          vertebra.boneQuality = codes::boneQualityFromCode(item.getCodeValue().getCodeValue().c_str(),
                                                            item.getCodeValue().getCodingSchemeDesignator().c_str());
        }
        else if (is(name, codes::POSTEROLATERAL_INVOLVEMENT))
        {
          vertebra.posterolateral = codes::posterolateralFromCode(item.getCodeValue().getCodeValue().c_str(),
                                                                  item.getCodeValue().getCodingSchemeDesignator().c_str());
        }
        else if (is(name, codes::SINS_BONE_LESION_COMPONENT))
        {
          vertebra.sinsBoneLesion = static_cast<int>(std::lround(numberOf(item, "the SINS bone lesion component")));
        }
        else if (is(name, codes::SINS_POSTEROLATERAL_COMPONENT))
        {
          vertebra.sinsPosterolateral = static_cast<int>(std::lround(numberOf(item, "the SINS posterolateral component")));
        }
        else if (is(name, codes::IMAGE_REGION))
        {
          DSRSpatialCoordinatesValue coordinates;
          item.getSpatialCoordinates(coordinates);
          const DSRGraphicDataList& points = coordinates.getGraphicDataList();
          for (size_t i = 1; i <= points.getNumberOfItems(); ++i)
          {
            const DSRGraphicDataItem& point = points.getItem(i);
            vertebra.region.push_back({point.Column - codes::PIXEL_CENTRE, point.Row - codes::PIXEL_CENTRE});
          }
          if (tree.goDown() != 0)
          {
            vertebra.keySliceSopInstanceUid = tree.getCurrentContentItem().getImageReference().getSOPInstanceUID().c_str();
            tree.goUp();
          }
        }
        else if (item.getValueType() == DSRTypes::VT_Num)
        {
          for (BoneQuality value : {BoneQuality::Normal, BoneQuality::Blastic, BoneQuality::Lytic, BoneQuality::Mixed})
          {
            if (is(name, codes::boneQualityProbability(value)))
            {
              vertebra.boneQualityProbabilities[static_cast<size_t>(value)] = numberOf(item, codes::boneQualityProbability(value).meaning);
            }
          }
          for (Posterolateral value : {Posterolateral::None, Posterolateral::Unilateral, Posterolateral::Bilateral})
          {
            if (is(name, codes::posterolateralProbability(value)))
            {
              vertebra.posterolateralProbabilities[static_cast<size_t>(value)] = numberOf(item, codes::posterolateralProbability(value).meaning);
            }
          }
        }
      } while (tree.gotoNext() != 0);
      tree.goUp();
      if (vertebra.trackingIdentifier.empty())
      {
        missing("a measurement group without Tracking Identifier");
      }
      if (!vertebra.assessable && vertebra.notAssessableBecause.empty())
      {
        missing("vertebra " + vertebra.trackingIdentifier + " has an undetermined finding but no reason");
      }
      return vertebra;
    }
  }

  ReportedAnalysis readMeasurementReport(const std::string& part10Bytes)
  {
    DcmFileFormat file;
    dicom::fromPart10(part10Bytes, file, "sr-read");
    DSRDocument document;
    dicom::check(document.read(*file.getDataset()), "not a readable DICOM SR document", "sr-read");

    ReportedAnalysis report;
    OFString value;
    document.getStudyInstanceUID(value);
    report.studyInstanceUid = value.c_str();
    document.getSeriesInstanceUID(value);
    report.seriesInstanceUid = value.c_str();
    document.getSeriesDescription(value);
    report.seriesDescription = value.c_str();

    DSRDocumentTree& tree = document.getTree();
    if (tree.gotoRoot() == 0 || !is(tree.getCurrentContentItem().getConceptName(), codes::IMAGING_MEASUREMENT_REPORT))
    {
      missing("the root is not (126000, DCM, \"Imaging Measurement Report\")");
    }
    if (tree.goDown() == 0)
    {
      missing("the root container is empty");
    }
    bool measurementsFound = false;
    bool summaryFound = false;
    bool assessableCountFound = false;
    do
    {
      const DSRCodedEntryValue& name = tree.getCurrentContentItem().getConceptName();
      if (is(name, codes::IMAGING_MEASUREMENTS))
      {
        measurementsFound = true;
        if (tree.goDown() != 0)
        {
          do
          {
            const DSRContentItem& item = tree.getCurrentContentItem();
            if (is(item.getConceptName(), codes::MEASUREMENT_GROUP))
            {
              report.vertebrae.push_back(readGroup(tree));
            }
            else if (is(item.getConceptName(), codes::ALGORITHM_NAME))
            {
              report.algorithmName = item.getStringValue().c_str();
            }
            else if (is(item.getConceptName(), codes::ALGORITHM_VERSION))
            {
              report.algorithmVersion = item.getStringValue().c_str();
            }
          } while (tree.gotoNext() != 0);
          tree.goUp();
        }
      }
      else if (is(name, codes::QUALITATIVE_EVALUATIONS))
      {
        summaryFound = true;
        if (tree.goDown() != 0)
        {
          do
          {
            const DSRContentItem& item = tree.getCurrentContentItem();
            if (is(item.getConceptName(), codes::METASTATIC_LESION_SUSPECTED))
            {
              report.lesionSuspected = is(item.getCodeValue(), codes::YES);
              report.state = report.lesionSuspected ? StudyState::LesionSuspected
                             : is(item.getCodeValue(), codes::UNDETERMINED) ? StudyState::NotAssessable
                                                                            : StudyState::NoLesionFound;
            }
            else if (is(item.getConceptName(), codes::HIGHEST_BONE_LESION_QUALITY))
            {
              report.highestBoneQuality =
                is(item.getCodeValue(), codes::NORMALITY_UNDETERMINED)
                  ? BoneQuality::Normal
                  : codes::boneQualityFromCode(item.getCodeValue().getCodeValue().c_str(),
                                               item.getCodeValue().getCodingSchemeDesignator().c_str());
            }
            else if (is(item.getConceptName(), codes::VERTEBRAE_ANALYSED))
            {
              report.vertebraeAnalysed = std::atoi(item.getStringValue().c_str());
            }
            else if (is(item.getConceptName(), codes::VERTEBRAE_ASSESSABLE))
            {
              report.vertebraeAssessable = std::atoi(item.getStringValue().c_str());
              assessableCountFound = true;
            }
            else if (is(item.getConceptName(), codes::STUDY_STATE))
            {
              report.stateStatement = item.getStringValue().c_str();
            }
          } while (tree.gotoNext() != 0);
          tree.goUp();
        }
      }
    } while (tree.gotoNext() != 0);

    if (!measurementsFound)
    {
      missing("no (126010, DCM, \"Imaging Measurements\") container");
    }
    if (!summaryFound)
    {
      missing("no (C0034375, UMLS, \"Qualitative Evaluations\") summary");
    }
    if (!assessableCountFound)
    {
      report.vertebraeAssessable = report.vertebraeAnalysed;
    }
    return report;
  }

  ReportedAnalysis readMeasurementReportFile(const std::string& path)
  {
    std::ifstream stream(path, std::ios::binary);
    if (!stream)
    {
      throw AnalysisError("sr-read", "cannot open " + path);
    }
    std::ostringstream bytes;
    bytes << stream.rdbuf();
    try
    {
      return readMeasurementReport(bytes.str());
    }
    catch (const AnalysisError& error)
    {
      throw AnalysisError(error.code(), path + ": " + error.what());
    }
  }
}
