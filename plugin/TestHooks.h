// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// For tests only: lets a test stop the plugin at a named point of an analysis, deterministically,
// to kill Orthanc exactly there (tests/plugin/test_kill_points.py). With the environment variable
// SPINEMET_TEST_HOLD_AT=<point>[:<n>] set when Orthanc starts, the n-th time (default the first)
// the plugin reaches <point> it logs "test hook: holding at <point> (series <id>)" and holds that
// thread (at most 10 minutes, then goes on). Unset, as in every real deployment, a point costs one
// comparison. The points: "claimed" (a series claimed, its row running, nothing started; the rest
// still queued), "analysing" (the
// worker has the series), "after-sr" (the SR is stored, the overlays not yet), "after-overlays"
// (every output is stored, the result not yet attached), "before-done" (outputs stored, the queue
// row not yet done). docs/plugin.md.

#include <string>

namespace spinemet
{
  void holdIfAsked(const char* point, const std::string& series);
}
