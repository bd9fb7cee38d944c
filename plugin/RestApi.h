// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

namespace spinemet
{
  class Service;

  // The routes under /spinemet/ (docs/plugin.md). Served by Orthanc, so its authentication applies.
  //   GET  /spinemet/health                   enabled or not, and why; device, model, queue counts
  //   GET  /spinemet/model                    the loaded model's metadata (spinemet.json)
  //   GET  /spinemet/queue                    queued and running analyses, counts per state
  //   GET  /spinemet/series/{id}              status and result JSON of a series
  //   POST /spinemet/series/{id}/analyse      (re-)analyse a series now
  //   POST /spinemet/series/{id}/cancel       cancel its queued or running analysis
  //   GET  /spinemet/studies/{id}             status and results of the series of a study
  void registerRestApi(Service& service);
}
