#include "agent/batch_id.h"

#include <cstdio>
#include <random>

namespace apimeter {

std::string NewBatchId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace apimeter
