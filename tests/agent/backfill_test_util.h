// Shared by the backfill tests: a sleeper that does not sleep, and a
// realistic combined-format line (api format: latency, upstream time, API
// key, request length) at 2026-11-26T10:<minute>:05Z.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "sink/sink.h"

namespace apimeter::testing {

class NoSleep : public Sleeper {
 public:
  void SleepFor(std::chrono::milliseconds) override {}
};

inline std::string BackfillLine(int minute, const std::string& path, int status,
                                const std::string& key) {
  char buf[400];
  std::snprintf(buf, sizeof buf,
                "10.0.0.1 - - [26/Nov/2026:10:%02d:05 +0000] \"GET %s HTTP/1.1\" %d 100 \"-\" "
                "\"curl\" 0.010 0.009 \"%s\" 200\n",
                minute, path.c_str(), status, key.c_str());
  return buf;
}

}  // namespace apimeter::testing
