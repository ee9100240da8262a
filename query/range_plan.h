// Range planning: which Redis buckets (tier, bucket number) answer a time range.
//
// Promise: pure functions of their arguments (no I/O, no clock reads: `now_s`
// is passed in), thread-safe.
//
// Granularity: a range [from, to) covers the minute buckets m with
// floor(from/60) <= m < ceil(to/60); the effective range is therefore widened
// to whole minutes. PlanRange then covers that range with the fewest buckets:
// whole UTC days from the day tier, whole hours from the hour tier, the rest
// from the minute tier; every line is counted in all three tiers, so any such
// decomposition sums to exactly the same numbers.
//
// Retention: a bucket of tier T exists while bucket_end + retention(T) > now.
// When a finer tier has expired at an edge, that edge is rounded OUTWARD to
// the coarser tier's boundary (from down, to up), so the reported range still
// contains the requested one and the numbers are exact for the reported range.
// A start older than every tier is clipped inward to the oldest retained day.
// RangePlan::from_s/to_s are always the range the buckets cover exactly.
//
// Finest tier: some series are written only at a coarser tier (customer ×
// endpoint series only at the day tier, see docs/redis-schema.md). Planning
// with `finest` = that tier first rounds the range OUTWARD to whole buckets
// of it (from down, to up) and never uses a finer tier, so such a query is
// exact for the reported, wider range. With the default (minute) the plans
// are exactly as described above.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aggregator/flush_batch.h"
#include "common/defaults.h"
#include "common/result.h"

namespace apimeter {

struct RetentionSeconds {
  int64_t minute_s = defaults::kMinuteRetentionS;
  int64_t hour_s = defaults::kHourRetentionS;
  int64_t day_s = defaults::kDayRetentionS;

  int64_t For(Tier tier) const {
    return tier == Tier::kMinute ? minute_s : tier == Tier::kHour ? hour_s : day_s;
  }
};

// Consecutive buckets [first, last) of one tier.
struct BucketRun {
  Tier tier = Tier::kMinute;
  int64_t first = 0;
  int64_t last = 0;  // exclusive

  int64_t Count() const { return last - first; }
  int64_t FromSeconds() const { return first * TierSeconds(tier); }
  int64_t ToSeconds() const { return last * TierSeconds(tier); }
  bool operator==(const BucketRun&) const = default;
};

struct RangePlan {
  int64_t requested_from_s = 0;
  int64_t requested_to_s = 0;
  int64_t from_s = 0;  // effective range the runs cover exactly
  int64_t to_s = 0;
  std::vector<BucketRun> runs;  // ascending in time, non-overlapping, contiguous

  bool Adjusted() const { return from_s != requested_from_s || to_s != requested_to_s; }
  int64_t BucketCount() const;
};

// Floor / ceiling division for possibly negative numerators (d > 0).
int64_t FloorDiv(int64_t n, int64_t d);
int64_t CeilDiv(int64_t n, int64_t d);

// True while the bucket's key still exists: bucket_end + retention > now.
bool BucketRetained(Tier tier, int64_t bucket, const RetentionSeconds& retention, int64_t now_s);

// The fewest whole buckets covering [from_s, to_s) (both multiples of 60),
// ignoring retention. Exposed for tests and for timeseries points.
std::vector<BucketRun> Decompose(int64_t from_s, int64_t to_s);

// Validates and plans [from_s, to_s), reading no tier finer than `finest`.
// Errors (InvalidArgument): from >= to, a range longer than the day retention,
// a range that ends before the oldest retained day.
Result<RangePlan> PlanRange(int64_t from_s, int64_t to_s, const RetentionSeconds& retention,
                            int64_t now_s, Tier finest = Tier::kMinute);

// Timeseries: points [t, t + step) on a grid aligned to multiples of step_s
// since the epoch (so hour and day steps fall on UTC boundaries).
struct SeriesPoint {
  int64_t t = 0;
  std::vector<BucketRun> runs;
};
struct TimeseriesPlan {
  int64_t requested_from_s = 0;
  int64_t requested_to_s = 0;
  int64_t from_s = 0;  // first point's start
  int64_t to_s = 0;    // last point's end
  int64_t step_s = 0;
  bool step_chosen = false;  // true when step_s was chosen from the range
  std::vector<SeriesPoint> points;
};

constexpr int64_t kMaxTimeseriesPoints = 1500;

// The automatic step for a range of `span_s` seconds:
//   span <= 6h -> 60 s; <= 24h -> 300 s; <= 14 d -> 3600 s; longer -> 86400 s.
// It is then coarsened (to 3600, then 86400) while the tier it reads has
// expired at the start of the range.
int64_t ChooseStep(int64_t from_s, int64_t to_s, const RetentionSeconds& retention, int64_t now_s);

// step_s == 0 chooses the step (ChooseStep, but never finer than `finest`:
// one point per UTC day for day-only series). An explicit step must be a
// positive multiple of TierSeconds(finest) (60 by default) giving at most
// kMaxTimeseriesPoints points, and every bucket it needs must still be
// retained; otherwise InvalidArgument naming step_s.
Result<TimeseriesPlan> PlanTimeseries(int64_t from_s, int64_t to_s, int64_t step_s,
                                      const RetentionSeconds& retention, int64_t now_s,
                                      Tier finest = Tier::kMinute);

std::string_view TierName(Tier tier);  // "minute", "hour", "day"

}  // namespace apimeter
