// SPDX-License-Identifier: GPL-3.0-or-later
#include "TestHooks.h"

#include "OrthancApi.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

namespace spinemet
{
  namespace
  {
    struct HoldRequest
    {
      std::string point;
      long occurrence = 1;
    };

    HoldRequest readHoldRequest()
    {
      HoldRequest request;
      const char* value = std::getenv("SPINEMET_TEST_HOLD_AT");
      if (value == nullptr) return request;
      request.point = value;
      const std::string::size_type colon = request.point.find(':');
      if (colon != std::string::npos)
      {
        request.occurrence = std::max(1L, std::strtol(request.point.c_str() + colon + 1, nullptr, 10));
        request.point.erase(colon);
      }
      return request;
    }
  }

  void holdIfAsked(const char* point, const std::string& series)
  {
    static const HoldRequest request = readHoldRequest();
    static std::atomic<long> reached{0};
    if (request.point.empty() || request.point != point || ++reached != request.occurrence)
    {
      return;
    }
    orthanc::logWarning(std::string("test hook: holding at ") + point + " (series " + series + ")");
    const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(10);
    while (std::chrono::steady_clock::now() < until)
    {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}
