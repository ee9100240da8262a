#include "query/range_plan.h"

#include <algorithm>

#include "common/time_util.h"

namespace apimeter {
namespace {

constexpr Tier kTiers[] = {Tier::kMinute, Tier::kHour, Tier::kDay};

// The first bucket of `tier` whose key still exists at now_s.
int64_t FirstRetainedBucket(Tier tier, const RetentionSeconds& r, int64_t now_s) {
  // bucket b is retained iff (b + 1) * S + R > now  <=>  b >= floor((now - R) / S).
  return FloorDiv(now_s - r.For(tier), TierSeconds(tier));
}

// The oldest second any tier still holds data for (the day tier, given the
// ordering CheckRetention enforces).
int64_t OldestRetainedSecond(const RetentionSeconds& r, int64_t now_s) {
  int64_t oldest = INT64_MAX;
  for (Tier t : kTiers)
    oldest = std::min(oldest, FirstRetainedBucket(t, r, now_s) * TierSeconds(t));
  return oldest;
}

Status CheckRetention(const RetentionSeconds& r) {
  if (r.minute_s < 60 || r.hour_s < r.minute_s || r.day_s < r.hour_s) {
    return Status::InvalidArgument(
        "retention must satisfy 60s <= minute <= hour <= day (got minute=" +
        std::to_string(r.minute_s) + "s, hour=" + std::to_string(r.hour_s) +
        "s, day=" + std::to_string(r.day_s) + "s)");
  }
  return Status::Ok();
}

Status CheckRange(int64_t from_s, int64_t to_s, const RetentionSeconds& r) {
  APIMETER_RETURN_IF_ERROR(CheckRetention(r));
  if (from_s >= to_s) return Status::InvalidArgument("from must be before to");
  if (to_s - from_s > r.day_s) {
    return Status::InvalidArgument("range of " + std::to_string((to_s - from_s) / 86400) +
                                   " days is longer than the day retention (" +
                                   std::to_string(r.day_s / 86400) + " days)");
  }
  return Status::Ok();
}

void AppendMinutes(int64_t x, int64_t y, std::vector<BucketRun>* runs) {
  if (x < y) runs->push_back({Tier::kMinute, x / 60, y / 60});
}

void AppendHoursAndMinutes(int64_t x, int64_t y, std::vector<BucketRun>* runs) {
  if (x >= y) return;
  const int64_t h_lo = CeilDiv(x, 3600), h_hi = FloorDiv(y, 3600);
  if (h_lo >= h_hi) {
    AppendMinutes(x, y, runs);
    return;
  }
  AppendMinutes(x, h_lo * 3600, runs);
  runs->push_back({Tier::kHour, h_lo, h_hi});
  AppendMinutes(h_hi * 3600, y, runs);
}

Tier Coarser(Tier t) { return t == Tier::kMinute ? Tier::kHour : Tier::kDay; }

// The tier a timeseries step reads: the coarsest tier whose bucket divides it.
Tier StepTier(int64_t step_s) {
  if (step_s % 86400 == 0) return Tier::kDay;
  if (step_s % 3600 == 0) return Tier::kHour;
  return Tier::kMinute;
}

}  // namespace

int64_t FloorDiv(int64_t n, int64_t d) { return n / d - ((n % d != 0) && (n < 0)); }
int64_t CeilDiv(int64_t n, int64_t d) { return n / d + ((n % d != 0) && (n > 0)); }

int64_t RangePlan::BucketCount() const {
  int64_t n = 0;
  for (const auto& r : runs) n += r.Count();
  return n;
}

std::string_view TierName(Tier tier) {
  return tier == Tier::kMinute ? "minute" : tier == Tier::kHour ? "hour" : "day";
}

bool BucketRetained(Tier tier, int64_t bucket, const RetentionSeconds& r, int64_t now_s) {
  return (bucket + 1) * TierSeconds(tier) + r.For(tier) > now_s;
}

std::vector<BucketRun> Decompose(int64_t from_s, int64_t to_s) {
  std::vector<BucketRun> runs;
  const int64_t d_lo = CeilDiv(from_s, 86400), d_hi = FloorDiv(to_s, 86400);
  if (d_lo < d_hi) {
    AppendHoursAndMinutes(from_s, d_lo * 86400, &runs);
    runs.push_back({Tier::kDay, d_lo, d_hi});
    AppendHoursAndMinutes(d_hi * 86400, to_s, &runs);
  } else {
    AppendHoursAndMinutes(from_s, to_s, &runs);
  }
  return runs;
}

Result<RangePlan> PlanRange(int64_t from_s, int64_t to_s, const RetentionSeconds& r, int64_t now_s,
                            Tier finest) {
  APIMETER_RETURN_IF_ERROR(CheckRange(from_s, to_s, r));
  RangePlan plan;
  plan.requested_from_s = from_s;
  plan.requested_to_s = to_s;
  // Whole buckets of the finest tier the series exist in; Decompose then
  // never picks a finer one.
  const int64_t grain = TierSeconds(finest);
  int64_t a = FloorDiv(from_s, grain) * grain;
  int64_t b = CeilDiv(to_s, grain) * grain;
  const int64_t oldest = OldestRetainedSecond(r, now_s);
  if (b <= oldest) {
    return Status::InvalidArgument("range ends before the oldest retained data (" +
                                   FormatIso8601(oldest) + ")");
  }
  a = std::max(a, oldest);
  // Each pass either accepts the plan or moves one edge to a coarser boundary,
  // so three passes per edge suffice; the bound only guards against a bug.
  for (int pass = 0; pass < 8; ++pass) {
    std::vector<BucketRun> runs = Decompose(a, b);
    auto expired = std::find_if(runs.begin(), runs.end(), [&](const BucketRun& run) {
      return !BucketRetained(run.tier, run.first, r, now_s);
    });
    if (expired == runs.end()) {
      plan.from_s = a;
      plan.to_s = b;
      plan.runs = std::move(runs);
      return plan;
    }
    if (expired->tier == Tier::kDay) break;  // impossible after clipping to `oldest`
    const int64_t s = TierSeconds(Coarser(expired->tier));
    // Decompose only uses a finer tier next to an edge that is not aligned to
    // the coarser one, so moving that edge outward removes the expired run.
    if (a % s != 0 && expired->FromSeconds() == a) {
      a = FloorDiv(a, s) * s;
    } else if (b % s != 0) {
      b = CeilDiv(b, s) * s;
    } else {
      break;
    }
  }
  return Status::Internal("range planning did not converge for [" + std::to_string(from_s) + ", " +
                          std::to_string(to_s) + ")");
}

int64_t ChooseStep(int64_t from_s, int64_t to_s, const RetentionSeconds& r, int64_t now_s) {
  const int64_t span = CeilDiv(to_s, 60) * 60 - FloorDiv(from_s, 60) * 60;
  int64_t step = span <= 6 * 3600 ? 60 : span <= 14 * 86400 ? 3600 : 86400;
  while (step < 86400) {
    const Tier tier = StepTier(step);
    const int64_t first = FloorDiv(FloorDiv(from_s, step) * step, TierSeconds(tier));
    if (BucketRetained(tier, first, r, now_s)) break;
    step = step < 3600 ? 3600 : 86400;
  }
  return step;
}

Result<TimeseriesPlan> PlanTimeseries(int64_t from_s, int64_t to_s, int64_t step_s,
                                      const RetentionSeconds& r, int64_t now_s, Tier finest) {
  APIMETER_RETURN_IF_ERROR(CheckRange(from_s, to_s, r));
  if (step_s < 0 || step_s % 60 != 0) {
    return Status::InvalidArgument("step_s must be a positive multiple of 60 (got " +
                                   std::to_string(step_s) + ")");
  }
  const int64_t grain = TierSeconds(finest);
  if (step_s % grain != 0) {
    return Status::InvalidArgument("step_s must be a multiple of " + std::to_string(grain) +
                                   " (got " + std::to_string(step_s) +
                                   "): these series are stored per " +
                                   std::string(TierName(finest)) + " only");
  }
  TimeseriesPlan plan;
  plan.requested_from_s = from_s;
  plan.requested_to_s = to_s;
  const int64_t oldest = OldestRetainedSecond(r, now_s);
  if (to_s <= oldest) {
    return Status::InvalidArgument("range ends before the oldest retained data (" +
                                   FormatIso8601(oldest) + ")");
  }
  from_s = std::max(from_s, oldest);
  plan.step_chosen = step_s == 0;
  const int64_t step =
      plan.step_chosen ? std::max(ChooseStep(from_s, to_s, r, now_s), grain) : step_s;
  plan.step_s = step;
  plan.from_s = FloorDiv(from_s, step) * step;
  plan.to_s = CeilDiv(to_s, step) * step;
  const int64_t count = (plan.to_s - plan.from_s) / step;
  if (count > kMaxTimeseriesPoints) {
    return Status::InvalidArgument(
        "step_s=" + std::to_string(step) + " gives " + std::to_string(count) + " points; at most " +
        std::to_string(kMaxTimeseriesPoints) + " are allowed: use a larger step_s");
  }
  plan.points.reserve(static_cast<size_t>(count));
  for (int64_t t = plan.from_s; t < plan.to_s; t += step) {
    SeriesPoint point{t, Decompose(t, t + step)};
    for (const BucketRun& run : point.runs) {
      if (BucketRetained(run.tier, run.first, r, now_s)) continue;
      return Status::InvalidArgument(
          "step_s=" + std::to_string(step) + " needs " + std::string(TierName(run.tier)) +
          " data from " + FormatIso8601(run.FromSeconds()) + ", which has expired (kept " +
          std::to_string(r.For(run.tier) / 3600) + "h): use a step that is a multiple of " +
          std::to_string(TierSeconds(Coarser(run.tier))) + " or a later from");
    }
    plan.points.push_back(std::move(point));
  }
  return plan;
}

}  // namespace apimeter
