#include "aggregator/merge_batches.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <tuple>
#include <utility>

namespace apimeter {
namespace {

// The UTC day of a request, as the aggregator files its slow candidates.
int64_t UtcDay(int64_t time_us) {
  constexpr int64_t kMicrosPerDay = int64_t{86400} * 1000000;
  const int64_t q = time_us / kMicrosPerDay;
  return (time_us % kMicrosPerDay != 0 && time_us < 0) ? q - 1 : q;
}

}  // namespace

FlushBatch MergeFlushBatches(std::vector<FlushBatch> batches) {
  if (batches.empty()) return {};
  FlushBatch out = std::move(batches.front());
  if (batches.size() == 1) return out;
  size_t series = out.series.size(), slow = out.slow.size();
  for (size_t i = 1; i < batches.size(); ++i) {
    series += batches[i].series.size();
    slow += batches[i].slow.size();
  }
  out.series.reserve(series);
  out.slow.reserve(slow);
  for (size_t i = 1; i < batches.size(); ++i) {
    FlushBatch& b = batches[i];
    std::move(b.series.begin(), b.series.end(), std::back_inserter(out.series));
    std::move(b.slow.begin(), b.slow.end(), std::back_inserter(out.slow));
    out.lines += b.lines;
  }
  auto key = [](const SeriesDelta& d) { return std::tie(d.tier, d.bucket, d.kind, d.name); };
  std::stable_sort(out.series.begin(), out.series.end(),
                   [&](const SeriesDelta& a, const SeriesDelta& b) { return key(a) < key(b); });
  // Slow candidates as one aggregator hands them over: by UTC day, then slowest first.
  auto day = [](const SlowRequest& r) { return UtcDay(r.time_us); };
  std::sort(out.slow.begin(), out.slow.end(), [&](const SlowRequest& a, const SlowRequest& b) {
    const int64_t da = day(a), db = day(b);
    return da != db ? da < db : Slower(a, b);
  });
  size_t kept = 0;
  for (size_t i = 0; i < out.series.size(); ++i) {
    if (kept > 0 && key(out.series[kept - 1]) == key(out.series[i])) {
      out.series[kept - 1].rollup.Merge(out.series[i].rollup);
    } else {
      if (kept != i) out.series[kept] = std::move(out.series[i]);
      ++kept;
    }
  }
  out.series.resize(kept);
  return out;
}

}  // namespace apimeter
