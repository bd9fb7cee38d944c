// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What the tests that run whole analyses share (the worker's, the pipeline's, the Dispatcher's):
// the phantom series tests/worker/make_phantoms.sh writes and the tiny model
// tests/engine/make_test_models.py writes. Their folders come from the test target's
// SPINEMET_WORKER_PHANTOMS and SPINEMET_ENGINE_MODELS definitions (CMake fixtures make them first).

#include "engine/Engine.h"

#include <memory>
#include <string>

#if !defined(SPINEMET_WORKER_PHANTOMS) || !defined(SPINEMET_ENGINE_MODELS)
#error "define SPINEMET_WORKER_PHANTOMS and SPINEMET_ENGINE_MODELS for the test target"
#endif

namespace spinemet::test
{
  inline std::string phantomFolder(const std::string& name)
  {
    return std::string(SPINEMET_WORKER_PHANTOMS) + "/" + name;
  }

  // Loaded once per test process: loading costs more than most of the tests that use it.
  inline std::shared_ptr<Engine> tinyEngine()
  {
    static const std::shared_ptr<Engine> engine = [] {
      EngineOptions options;
      options.device = "cpu";
      options.threads = 1;
      return Engine::load(std::string(SPINEMET_ENGINE_MODELS) + "/tiny.pt", options);
    }();
    return engine;
  }
}
