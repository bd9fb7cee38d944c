// SPDX-License-Identifier: GPL-3.0-or-later
#include "Tid1500MeasurementReport.h"

#include "AssessabilityText.h"
#include "Codes.h"
#include "DicomCommon.h"

#include "common/AnalysisError.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmsr/dsrdoc.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

// The tree is built with DSRDocumentTree rather than DCMTK's cmr TID1500_MeasurementReport:
// DCMTK 3.6.7's cmr offers TID 1411 (volumetric) groups only, which carry a region as a
// segmentation reference or SCOORD3D. The per-vertebra region on the key slice needs TID 1410
// (planar: SCOORD SELECTED FROM IMAGE), which cmr does not implement. docs/dicom-outputs.md.

namespace spinemet
{
  namespace
  {
    const char* const CT_IMAGE_STORAGE = UID_CTImageStorage;

    DSRCodedEntryValue toDcmtk(const CodedConcept& concept)
    {
      return DSRCodedEntryValue(concept.value.c_str(), concept.scheme.c_str(), concept.meaning.c_str());
    }

    std::string describe(const CodedConcept& concept)
    {
      return "(" + concept.value + ", " + concept.scheme + ", \"" + concept.meaning + "\")";
    }

    std::string formatNumber(double value, int decimals)
    {
      char text[32];
      std::snprintf(text, sizeof(text), "%.*f", decimals, value);
      return text;
    }

    // Adds content items with the cursor semantics of DSRDocumentTree, checking every step.
    class TreeBuilder
    {
    public:
      explicit TreeBuilder(DSRDocumentTree& tree) : tree_(tree) {}

      // A sibling of the current item (or the root when the tree is empty).
      DSRContentItem& add(DSRTypes::E_RelationshipType relationship, DSRTypes::E_ValueType valueType,
                          const CodedConcept* concept)
      {
        return addAt(relationship, valueType, concept, DSRTypes::AM_afterCurrent);
      }

      // The first child of the current item.
      DSRContentItem& addChild(DSRTypes::E_RelationshipType relationship, DSRTypes::E_ValueType valueType,
                               const CodedConcept* concept)
      {
        return addAt(relationship, valueType, concept, DSRTypes::AM_belowCurrent);
      }

      void up()
      {
        if (tree_.goUp() == 0)
        {
          throw AnalysisError::internal("SR tree: no parent to return to");
        }
      }

      DSRContentItem& text(DSRTypes::E_RelationshipType relationship, const CodedConcept& concept,
                           const std::string& value, bool child = false)
      {
        DSRContentItem& item = child ? addChild(relationship, DSRTypes::VT_Text, &concept)
                                     : add(relationship, DSRTypes::VT_Text, &concept);
        dicom::check(item.setStringValue(value.c_str()), "SR: cannot set " + describe(concept) + " to \"" + value + "\"");
        return item;
      }

      DSRContentItem& uidref(DSRTypes::E_RelationshipType relationship, const CodedConcept& concept,
                             const std::string& value)
      {
        DSRContentItem& item = add(relationship, DSRTypes::VT_UIDRef, &concept);
        dicom::check(item.setStringValue(value.c_str()), "SR: cannot set " + describe(concept) + " to " + value);
        return item;
      }

      DSRContentItem& code(DSRTypes::E_RelationshipType relationship, const CodedConcept& concept,
                           const CodedConcept& value, bool child = false)
      {
        DSRContentItem& item = child ? addChild(relationship, DSRTypes::VT_Code, &concept)
                                     : add(relationship, DSRTypes::VT_Code, &concept);
        dicom::check(item.setCodeValue(toDcmtk(value)), "SR: cannot set " + describe(concept) + " to " + describe(value));
        return item;
      }

      DSRContentItem& number(const CodedConcept& concept, const std::string& value, const CodedConcept& unit)
      {
        DSRContentItem& item = add(DSRTypes::RT_contains, DSRTypes::VT_Num, &concept);
        dicom::check(item.setNumericValue(DSRNumericMeasurementValue(value.c_str(), toDcmtk(unit))),
                     "SR: cannot set " + describe(concept) + " to " + value);
        return item;
      }

    private:
      DSRContentItem& addAt(DSRTypes::E_RelationshipType relationship, DSRTypes::E_ValueType valueType,
                            const CodedConcept* concept, DSRTypes::E_AddMode mode)
      {
        if (tree_.addContentItem(relationship, valueType, mode) == 0)
        {
          throw AnalysisError("dicom-write", std::string("SR: DCMTK refuses a ") + DSRTypes::valueTypeToDefinedTerm(valueType) +
                                             " content item here" + (concept ? " for " + describe(*concept) : std::string()));
        }
        DSRContentItem& item = tree_.getCurrentContentItem();
        if (concept != nullptr)
        {
          dicom::check(item.setConceptName(toDcmtk(*concept)), "SR: cannot set concept name " + describe(*concept));
        }
        return item;
      }

      DSRDocumentTree& tree_;
    };


    std::vector<std::array<double, 2>> closedOutline(const std::vector<std::array<double, 2>>& outline)
    {
      std::vector<std::array<double, 2>> closed = outline;
      if (!closed.empty() && (closed.front()[0] != closed.back()[0] || closed.front()[1] != closed.back()[1]))
      {
        closed.push_back(closed.front());
      }
      return closed;
    }

    std::string vertebraLabel(const VertebraResult& vertebra)
    {
      if (!vertebra.assessable)
      {
        return notAssessableStatement(vertebra);
      }
      return vertebra.displayName + ": " + toString(vertebra.boneQuality) + ", posterolateral " + toString(vertebra.posterolateral);
    }

    // Machine-readable first (the reader parses the reason back), then the measured detail.
    std::string reasonText(const NotAssessable& entry)
    {
      return entry.detail.empty() ? std::string(toString(entry.reason)) : std::string(toString(entry.reason)) + ": " + entry.detail;
    }

    // The vertebral body's area on the key slice (shoelace formula over the outline), mm2.
    double outlineAreaMm2(const std::vector<std::array<double, 2>>& closed, const VolumeGeometry& geometry)
    {
      double twiceArea = 0;
      for (size_t i = 0; i + 1 < closed.size(); ++i)
      {
        twiceArea += closed[i][0] * closed[i + 1][1] - closed[i + 1][0] * closed[i][1];
      }
      return std::abs(twiceArea) / 2 * geometry.columnSpacing * geometry.rowSpacing;
    }

    void addMeasurementGroup(TreeBuilder& tree, const AnalysisResult& result, const VertebraResult& vertebra,
                             const std::string& sopClassUid)
    {
      // A sibling of the algorithm identification that opens the Imaging Measurements container.
      DSRContentItem& group = tree.add(DSRTypes::RT_contains, DSRTypes::VT_Container, &codes::MEASUREMENT_GROUP);
      dicom::check(group.setTemplateIdentification("1410", "DCMR"), "SR: cannot set template identification");

      tree.text(DSRTypes::RT_hasObsContext, codes::TRACKING_IDENTIFIER, codes::trackingIdentifier(vertebra.displayName), true);
      tree.uidref(DSRTypes::RT_hasObsContext, codes::TRACKING_UNIQUE_IDENTIFIER,
                  uidFromText("spinemet-vertebra:" + result.series.seriesInstanceUid + ":" + std::to_string(vertebra.index)));
      // A vertebra the model cannot be trusted on gets the standard "Undetermined" as its finding,
      // never a bone-quality class.
      tree.code(DSRTypes::RT_contains, codes::FINDING,
                vertebra.assessable ? codes::boneQualityCode(vertebra.boneQuality) : codes::UNDETERMINED);

      const auto outline = closedOutline(vertebra.keySliceOutline);
      if (outline.size() < 4)
      {
        throw AnalysisError("dicom-write", "SR: vertebra " + vertebra.displayName +
                                           " has no key-slice outline (at least three points are needed)");
      }
      if (vertebra.keySliceSopInstanceUid.empty())
      {
        throw AnalysisError("dicom-write", "SR: vertebra " + vertebra.displayName + " has no key slice SOP Instance UID");
      }
      DSRSpatialCoordinatesValue coordinates(DSRTypes::GT_Polyline);
      for (const auto& point : outline)
      {
        coordinates.getGraphicDataList().addItem(static_cast<Float32>(point[0] + codes::PIXEL_CENTRE),
                                                 static_cast<Float32>(point[1] + codes::PIXEL_CENTRE));
      }
      const DSRImageReferenceValue keySlice(sopClassUid.c_str(), vertebra.keySliceSopInstanceUid.c_str());
      const auto addRegion = [&](DSRContentItem& region) {
        dicom::check(region.setSpatialCoordinates(coordinates), "SR: cannot set the region of " + vertebra.displayName);
        DSRContentItem& image = tree.addChild(DSRTypes::RT_selectedFrom, DSRTypes::VT_Image, nullptr);
        dicom::check(image.setImageReference(keySlice), "SR: cannot reference key slice " + vertebra.keySliceSopInstanceUid);
        tree.up();
      };
      addRegion(tree.add(DSRTypes::RT_contains, DSRTypes::VT_SCoord, &codes::IMAGE_REGION));

      // TID 1419 "ROI Measurements": finding site, then the measurements.
      // CID 7603 codes only a level that is named and certain; an uncertain one ("T12?",
      // counted from one landmark that a variant can move) must not pass for a fact in a
      // coded query: its site is the spine, and the level stays in the tracking identifier
      // and the comment as text.
      if (vertebra.levelUncertain())
      {
        tree.code(DSRTypes::RT_hasConceptMod, codes::FINDING_SITE, codes::SPINE);
      }
      else if (const auto site = codes::vertebraCode(vertebra.level))
      {
        tree.code(DSRTypes::RT_hasConceptMod, codes::FINDING_SITE, *site);
      }
      if (!vertebra.assessable)
      {
        // No probability, class or SINS point: only what was measured and why there is no finding.
        // The first NUM carries the region for OHIF (see below); the body's area is a measurement
        // every group has, the out-of-distribution score is not (NaN when the model has no gate).
        tree.number(codes::AREA, formatNumber(outlineAreaMm2(outline, result.geometry), 1), codes::SQUARE_MILLIMETER);
        addRegion(tree.addChild(DSRTypes::RT_inferredFrom, DSRTypes::VT_SCoord, &codes::SOURCE_OF_MEASUREMENT));
        tree.up();
        if (!std::isnan(vertebra.outOfDistributionScore))
        {
          tree.number(codes::OUT_OF_DISTRIBUTION_SCORE, formatNumber(vertebra.outOfDistributionScore, 4), codes::NO_UNITS);
        }
        for (const auto& reason : vertebra.notAssessableBecause)
        {
          tree.text(DSRTypes::RT_contains, codes::NOT_ASSESSABLE_REASON, reasonText(reason));
        }
        tree.text(DSRTypes::RT_contains, codes::COMMENT, vertebraLabel(vertebra));
        tree.up();
        return;
      }
      for (BoneQuality value : {BoneQuality::Normal, BoneQuality::Blastic, BoneQuality::Lytic, BoneQuality::Mixed})
      {
        tree.number(codes::boneQualityProbability(value),
                    formatNumber(vertebra.boneQualityProbabilities[static_cast<size_t>(value)], 4), codes::NO_UNITS);
        if (value == BoneQuality::Normal)
        {
          // OHIF 3.13 (Cornerstone adapters) looks for the region only below the group's first NUM;
          // TID 300 allows it there as "INFERRED FROM" TID 320. docs/dicom-outputs.md.
          addRegion(tree.addChild(DSRTypes::RT_inferredFrom, DSRTypes::VT_SCoord, &codes::SOURCE_OF_MEASUREMENT));
          tree.up();
        }
      }
      for (Posterolateral value : {Posterolateral::None, Posterolateral::Unilateral, Posterolateral::Bilateral})
      {
        tree.number(codes::posterolateralProbability(value),
                    formatNumber(vertebra.posterolateralProbabilities[static_cast<size_t>(value)], 4), codes::NO_UNITS);
      }
      tree.number(codes::SINS_BONE_LESION_COMPONENT, std::to_string(vertebra.sinsBoneLesion), codes::NO_UNITS);
      tree.number(codes::SINS_POSTEROLATERAL_COMPONENT, std::to_string(vertebra.sinsPosterolateral), codes::NO_UNITS);
      if (!std::isnan(vertebra.outOfDistributionScore))
      {
        tree.number(codes::OUT_OF_DISTRIBUTION_SCORE, formatNumber(vertebra.outOfDistributionScore, 4), codes::NO_UNITS);
      }

      tree.code(DSRTypes::RT_contains, codes::BONE_LESION_QUALITY, codes::boneQualityCode(vertebra.boneQuality));
      tree.code(DSRTypes::RT_contains, codes::POSTEROLATERAL_INVOLVEMENT, codes::posterolateralCode(vertebra.posterolateral));
      // TID 1410 is extensible; OHIF labels the measurement with this comment's text.
      tree.text(DSRTypes::RT_contains, codes::COMMENT, vertebraLabel(vertebra));
      tree.up();
    }

    std::string disclaimer(const AnalysisResult& result)
    {
      std::ostringstream text;
      text << "AI result - not for diagnostic use. Produced automatically by " << result.model.name << " version "
           << result.model.version;
      if (!result.model.trainedOn.empty())
      {
        text << ", a model trained on " << result.model.trainedOn;
      }
      text << ". Per vertebra it gives two partial components of the Spinal Instability Neoplastic Score "
              "(bone lesion quality: lytic 2, mixed 1, blastic or normal 0; posterolateral involvement: "
              "bilateral 3, unilateral 1, none 0). These are not the SINS total, which also needs location, "
              "pain, alignment and collapse.";
      const size_t notAssessed = result.vertebrae.size() - result.assessableVertebrae();
      if (notAssessed > 0)
      {
        text << " " << notAssessed << " of " << result.vertebrae.size()
             << " vertebrae were not assessable (outside what the model can be trusted on); they carry no "
                "finding, which does not mean that they are normal.";
      }
      return text.str();
    }
  }

  std::string reportSeriesDescription(const ModelIdentity& model)
  {
    if (model.trainedOn.find("phantom") != std::string::npos)
    {
      return "SpineMet AI results (phantom-trained demo model)";
    }
    return "SpineMet AI results";
  }

  DicomObject writeMeasurementReport(const AnalysisResult& result, const DicomOutputOptions& options)
  {
    const std::string sopClassUid = CT_IMAGE_STORAGE;
    if (result.series.studyInstanceUid.empty() || result.series.seriesInstanceUid.empty())
    {
      throw AnalysisError("dicom-write", "SR: the result names no source study or series (Study/Series Instance UID empty)");
    }
    if (result.vertebrae.empty())
    {
      throw AnalysisError("dicom-write", "SR: the result has no vertebra to report");
    }

    DSRDocument document(DSRTypes::DT_ComprehensiveSR);
    dicom::check(document.createNewSeriesInStudy(result.series.studyInstanceUid.c_str()), "SR: bad Study Instance UID");
    dicom::check(document.setSeriesDescription(reportSeriesDescription(result.model).c_str()), "SR: Series Description");
    const int seriesNumber = options.seriesNumber != 0 ? options.seriesNumber : 9901;
    dicom::check(document.setSeriesNumber(std::to_string(seriesNumber).c_str()), "SR: Series Number");
    dicom::check(document.setInstanceNumber("1"), "SR: Instance Number");
    dicom::check(document.setManufacturer("SpineMet"), "SR: Manufacturer");
    dicom::check(document.setManufacturerModelName(result.model.name.c_str()), "SR: Manufacturer's Model Name");
    dicom::check(document.setSoftwareVersions((std::string("SpineMet ") + SPINEMET_VERSION + "\\" + result.model.name + " " +
                                               result.model.version).c_str()), "SR: Software Versions");
    const std::string date = dicom::currentDate();
    const std::string time = dicom::currentTime();
    dicom::check(document.setContentDate(date.c_str()), "SR: Content Date");
    dicom::check(document.setContentTime(time.c_str()), "SR: Content Time");
    dicom::check(document.completeDocument(), "SR: cannot mark the document complete");

    for (const auto& scheme : codes::codingSchemes())
    {
      dicom::check(document.getCodingSchemeIdentification().addItem(scheme.designator.c_str(), scheme.uid.c_str(),
                                                                     scheme.name.c_str(), scheme.responsibleOrganization.c_str()),
                   "SR: cannot declare coding scheme " + scheme.designator);
    }

    TreeBuilder tree(document.getTree());
    DSRContentItem& root = tree.add(DSRTypes::RT_isRoot, DSRTypes::VT_Container, &codes::IMAGING_MEASUREMENT_REPORT);
    dicom::check(root.setTemplateIdentification("1500", "DCMR"), "SR: cannot set template identification");

    // TID 1204 language, TID 1001/1002/1004 observer context (the algorithm as a device).
    tree.code(DSRTypes::RT_hasConceptMod, codes::LANGUAGE_OF_CONTENT, codes::ENGLISH_UNITED_STATES, true);
    tree.code(DSRTypes::RT_hasObsContext, codes::OBSERVER_TYPE, codes::DEVICE);
    tree.uidref(DSRTypes::RT_hasObsContext, codes::DEVICE_OBSERVER_UID,
                uidFromText("spinemet-device:" + result.model.name + ":" + result.model.version));
    tree.text(DSRTypes::RT_hasObsContext, codes::DEVICE_OBSERVER_NAME, result.model.name + " " + result.model.version);
    tree.text(DSRTypes::RT_hasObsContext, codes::DEVICE_OBSERVER_MANUFACTURER, "SpineMet");
    tree.text(DSRTypes::RT_hasObsContext, codes::DEVICE_OBSERVER_MODEL_NAME,
              result.model.architecture.empty() ? result.model.name : result.model.name + " (" + result.model.architecture + ")");
    tree.code(DSRTypes::RT_hasConceptMod, codes::PROCEDURE_REPORTED, codes::CT_UNSPECIFIED_BODY_REGION);

    // TID 1600 Image Library: the key slices that the regions are drawn on.
    std::vector<std::string> keySlices;
    {
      std::set<std::string> seen;
      for (const auto& vertebra : result.vertebrae)
      {
        if (seen.insert(vertebra.keySliceSopInstanceUid).second)
        {
          keySlices.push_back(vertebra.keySliceSopInstanceUid);
        }
      }
    }
    tree.add(DSRTypes::RT_contains, DSRTypes::VT_Container, &codes::IMAGE_LIBRARY);
    tree.addChild(DSRTypes::RT_contains, DSRTypes::VT_Container, &codes::IMAGE_LIBRARY_GROUP);
    for (size_t i = 0; i < keySlices.size(); ++i)
    {
      DSRContentItem& image = i == 0 ? tree.addChild(DSRTypes::RT_contains, DSRTypes::VT_Image, nullptr)
                                     : tree.add(DSRTypes::RT_contains, DSRTypes::VT_Image, nullptr);
      dicom::check(image.setImageReference(DSRImageReferenceValue(sopClassUid.c_str(), keySlices[i].c_str())),
                   "SR: cannot reference image " + keySlices[i]);
    }
    tree.up();
    tree.up();

    // TID 1500 row 6: the measurements, one TID 1410 group per vertebra.
    tree.add(DSRTypes::RT_contains, DSRTypes::VT_Container, &codes::IMAGING_MEASUREMENTS);
    tree.text(DSRTypes::RT_hasConceptMod, codes::ALGORITHM_NAME, result.model.name, true);
    tree.text(DSRTypes::RT_hasConceptMod, codes::ALGORITHM_VERSION, result.model.version);
    for (const auto& vertebra : result.vertebrae)
    {
      addMeasurementGroup(tree, result, vertebra, sopClassUid);
    }
    tree.up();

    // TID 1500 row 12: the study-level summary.
    tree.add(DSRTypes::RT_contains, DSRTypes::VT_Container, &codes::QUALITATIVE_EVALUATIONS);
    // The study state is coded with CID 230 (Yes / No / Undetermined): "No" only when some vertebra
    // was assessed, "Undetermined" when none could be, which is not the same as finding nothing.
    const StudyState state = result.state();
    tree.code(DSRTypes::RT_contains, codes::METASTATIC_LESION_SUSPECTED,
              state == StudyState::LesionSuspected ? codes::YES
                                                   : state == StudyState::NoLesionFound ? codes::NO : codes::UNDETERMINED,
              true);
    tree.code(DSRTypes::RT_contains, codes::HIGHEST_BONE_LESION_QUALITY,
              state == StudyState::NotAssessable ? codes::NORMALITY_UNDETERMINED
                                                 : codes::boneQualityCode(result.highestBoneQuality()));
    tree.text(DSRTypes::RT_contains, codes::STUDY_STATE, studyStateStatement(result));
    tree.text(DSRTypes::RT_contains, codes::VERTEBRAE_ANALYSED, std::to_string(result.vertebrae.size()));
    tree.text(DSRTypes::RT_contains, codes::VERTEBRAE_ASSESSABLE, std::to_string(result.assessableVertebrae()));
    tree.text(DSRTypes::RT_contains, codes::COMMENT, disclaimer(result));

    for (const auto& uid : keySlices)
    {
      dicom::check(document.getCurrentRequestedProcedureEvidence().addItem(result.series.studyInstanceUid.c_str(),
                                                                           result.series.seriesInstanceUid.c_str(),
                                                                           sopClassUid.c_str(), uid.c_str()),
                   "SR: cannot list evidence " + uid);
    }

    DcmFileFormat file;
    DcmDataset& dataset = *file.getDataset();
    dicom::check(document.write(dataset), "SR: DCMTK cannot write the document");
    dicom::copyPatientAndStudy(result.series, dataset);
    if (!options.seriesInstanceUid.empty())
    {
      dicom::put(dataset, DCM_SeriesInstanceUID, options.seriesInstanceUid);
    }

    DicomObject object;
    object.sopClassUid = UID_ComprehensiveSRStorage;
    OFString value;
    dataset.findAndGetOFString(DCM_SOPInstanceUID, value);
    object.sopInstanceUid = value.c_str();
    dataset.findAndGetOFString(DCM_SeriesInstanceUID, value);
    object.seriesInstanceUid = value.c_str();
    object.studyInstanceUid = result.series.studyInstanceUid;
    object.bytes = dicom::toPart10(file);
    return object;
  }
}
