// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "AnalysisQueue.h"
#include "Configuration.h"
#include "result/AnalysisResult.h"
#include "volume/Volume.h"

#include <functional>
#include <string>
#include <vector>

namespace spinemet
{
  // Puts a finished analysis back into Orthanc: the SR and the overlays into the source study, the
  // result JSON as an attachment of the source series, then forwards them where configured.
  //
  // One current result per series, also across crashes: the output series' UIDs are derived from
  // the source series' UID, so the outputs of an earlier analysis (or of one interrupted half-way
  // through storing) are found, and deleted once the new ones are stored. Stored source instances
  // are never touched.
  class ResultWriter
  {
  public:
    explicit ResultWriter(const PluginConfiguration& configuration);

    // Returns the Orthanc IDs of the stored outputs. Throws AnalysisError("dicom-write") or
    // AnalysisError("store") naming what Orthanc refused, or AnalysisError("cancelled") when
    // `shouldStop` says so before the result is complete; in each case what this call stored is
    // removed again and the previous result stays the current one.
    std::vector<std::string> write(const AnalysisRecord& record, const AnalysisResult& result, const Series& series,
                                   const std::function<bool()>& shouldStop);

  private:
    std::vector<std::string> previousOutputs(const AnalysisRecord& record, const std::vector<std::string>& outputSeriesUids);
    void deleteOutputs(const AnalysisRecord& record, const std::vector<std::string>& previous,
                       const std::vector<std::string>& current);
    std::string store(const std::string& bytes, const std::string& what);
    void forward(const AnalysisRecord& record, const AnalysisResult& result, const std::vector<std::string>& outputs);

    const PluginConfiguration& configuration_;
  };
}
