// Small helpers shared by the sink's translation units (not a public API).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>

#include "aggregator/flush_batch.h"
#include "common/time_util.h"

namespace apimeter::sink_internal {

// Floor division, so that times before 1970 land in the right bucket.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// Epoch seconds at which a bucket ends (exclusive).
constexpr int64_t BucketEnd(Tier tier, int64_t bucket) { return (bucket + 1) * TierSeconds(tier); }

// The UTC day a bucket lies in (a minute or hour never spans two days).
constexpr int64_t DayOfBucket(Tier tier, int64_t bucket) {
  return FloorDiv(bucket * TierSeconds(tier), kSecondsPerDay);
}

constexpr int64_t DayOfMicros(int64_t time_us) {
  return FloorDiv(FloorDiv(time_us, kMicrosPerSecond), kSecondsPerDay);
}

}  // namespace apimeter::sink_internal
