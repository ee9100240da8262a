// Benchmarks of the storage-v2 blocks (sink/block*.h): build from Rollups,
// encode (delta and base zstd levels), decode, and merge, on realistic
// shapes of a 2M-line day with 5,000 Zipf customers and 300 endpoints:
//   min_c   a minute customer block: 700 customers with 1–3 requests each
//   min_e   a minute endpoint block: 1,389 requests (2M / 1440) over 300 endpoints
//   hour_e  an hour endpoint block: 83K requests over 300 Zipf endpoints
//   hour_c  an hour customer block: 83K requests over 5,000 Zipf customers
//   day_x   a day customer × endpoint block: 12,000 pairs, 2M requests
//   day_c   a day customer block: 2M requests over 5,000 Zipf customers
// Counters: raw_B and enc_B (payload bytes per series, uncompressed and as
// stored with header), buckets (non-empty histogram buckets per series), and
// per_series (time per series: decode ns per series is the reader's figure).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "sink/block.h"
#include "sink/block_codec.h"
#include "sink/block_merge.h"
#include "tests/sink/block_test_util.h"

namespace apimeter {
namespace {

struct Shape {
  BlockGroup group;
  block_test::RandomSeries series;
  std::vector<KeyedRollup> Refs() const { return series.Refs(); }
};

// Zipf(s = 1.1) over n items by inverse CDF.
class Zipf {
 public:
  explicit Zipf(size_t n) : cdf_(n) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i)
      cdf_[i] = (sum += 1.0 / std::pow(static_cast<double>(i + 1), 1.1));
  }
  uint32_t operator()(std::mt19937_64& rng) const {
    std::uniform_real_distribution<double> u(0, cdf_.back());
    return static_cast<uint32_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u(rng)) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

constexpr int kStatuses[] = {200, 200, 200, 200, 200, 200, 200, 200, 201, 204, 304, 400, 404, 500};

void AddOne(Rollup& r, std::mt19937_64& rng, double median_us, double sigma) {
  std::lognormal_distribution<double> latency(std::log(median_us), sigma);
  r.AddRequest(kStatuses[rng() % std::size(kStatuses)], 200 + rng() % 800, 500 + rng() % 20000,
               static_cast<int64_t>(latency(rng)));
}

// `requests` requests over `universe` Zipf keys (registry ids are handed out
// in first-seen order, so popular keys have scattered ids: permute).
Shape Traffic(BlockGroup group, size_t requests, size_t universe, double sigma, uint64_t seed,
              bool pairs = false) {
  std::mt19937_64 rng(seed);
  const Zipf zipf(universe);
  std::vector<uint32_t> id_of(universe);
  for (size_t i = 0; i < universe; ++i) id_of[i] = static_cast<uint32_t>(i + 2);
  std::shuffle(id_of.begin(), id_of.end(), std::mt19937_64(99));
  std::vector<double> median(universe);
  std::lognormal_distribution<double> medians(std::log(30000.0), 1.0);
  for (auto& m : median) m = medians(rng);
  const Zipf endpoint_zipf(300);
  std::map<SeriesKey, Rollup> sum;
  for (size_t n = 0; n < requests; ++n) {
    const uint32_t k = zipf(rng);
    SeriesKey key = id_of[k];
    double m = median[k];
    if (pairs) {
      const uint32_t e = endpoint_zipf(rng) % 12;  // a customer uses a few endpoints
      key = PairKey(id_of[k], 2 + (k * 7 + e * 13) % 300);
      m = median[(k + e) % universe];
    }
    AddOne(sum[key], rng, m, sigma);
  }
  Shape s{group, {}};
  for (auto& [key, r] : sum) {
    s.series.keys.push_back(key);
    s.series.rollups.push_back(std::move(r));
  }
  return s;
}

// 700 customers (of 5,000 ids) with 1–3 requests each.
Shape MinuteCustomers(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint32_t> ids(5000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<uint32_t>(i + 2);
  std::shuffle(ids.begin(), ids.end(), rng);
  Shape s{{BlockKind::kCustomer, Tier::kMinute, 29400000, 0}, {}};
  for (size_t i = 0; i < 700; ++i) {
    s.series.keys.push_back(ids[i]);
    s.series.rollups.emplace_back();
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int j = 0; j < n; ++j) AddOne(s.series.rollups.back(), rng, 30000, 1.2);
  }
  return s;
}

Shape MakeShape(int which, uint64_t seed) {
  switch (which) {
    case 0:
      return MinuteCustomers(seed);
    case 1:
      return Traffic({BlockKind::kEndpoint, Tier::kMinute, 29400000, 0}, 1389, 300, 0.5, seed);
    case 2:
      return Traffic({BlockKind::kEndpoint, Tier::kHour, 490000, 0}, 83000, 300, 0.5, seed);
    case 3:
      return Traffic({BlockKind::kCustomer, Tier::kHour, 490000, 0}, 83000, 5000, 0.8, seed);
    case 4: {
      Shape s = Traffic({BlockKind::kCustomerEndpoint, Tier::kDay, 20400, 0}, 2000000, 5000, 0.5,
                        seed, true);
      // The first 12,000 pairs by key (ids are shuffled, so a random sample).
      s.series.keys.resize(std::min<size_t>(s.series.keys.size(), 12000));
      s.series.rollups.resize(s.series.keys.size());
      return s;
    }
    default:
      return Traffic({BlockKind::kCustomer, Tier::kDay, 20400, 0}, 2000000, 5000, 0.8, seed);
  }
}
const char* const kShapeNames[] = {"min_c", "min_e", "hour_e", "hour_c", "day_x", "day_c"};
constexpr int kShapes = 6;

struct Prepared {
  Shape shape;
  DecodedBlock block;
  std::string delta, base;
  size_t raw_bytes = 0;
};

const Prepared& Get(int which) {
  static std::map<int, Prepared> cache;
  auto it = cache.find(which);
  if (it != cache.end()) return it->second;
  Prepared p;
  p.shape = MakeShape(which, 1);
  auto refs = p.shape.Refs();
  if (!BuildBlock(p.shape.group, false, refs, &p.block).ok()) std::abort();
  p.delta = *EncodeBlock(p.block);
  DecodedBlock base = p.block;
  base.set_base(true);
  p.base = *EncodeBlock(base);
  p.raw_bytes = ParseBlockHeader(p.delta)->raw_payload_bytes;
  return cache.emplace(which, std::move(p)).first->second;
}

void SetCounters(benchmark::State& state, const Prepared& p, const std::string& stored) {
  const double n = static_cast<double>(p.block.size());
  state.SetLabel(kShapeNames[state.range(0)]);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * p.block.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * p.raw_bytes));
  state.counters["series"] = n;
  state.counters["raw_B"] = static_cast<double>(p.raw_bytes) / n;
  state.counters["enc_B"] = static_cast<double>(stored.size()) / n;
  state.counters["buckets"] = static_cast<double>(p.block.total_buckets()) / n;
  state.counters["per_series"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * n,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_Build(benchmark::State& state) {
  const Prepared& p = Get(static_cast<int>(state.range(0)));
  auto refs = p.shape.Refs();
  DecodedBlock out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(BuildBlock(p.shape.group, false, refs, &out));
  }
  SetCounters(state, p, p.delta);
}

void BM_EncodeDelta(benchmark::State& state) {
  const Prepared& p = Get(static_cast<int>(state.range(0)));
  BlockEncoder encoder;
  for (auto _ : state) benchmark::DoNotOptimize(encoder.Encode(p.block));
  SetCounters(state, p, p.delta);
}

void BM_EncodeBase(benchmark::State& state) {
  const Prepared& p = Get(static_cast<int>(state.range(0)));
  DecodedBlock base = p.block;
  base.set_base(true);
  BlockEncoder encoder;
  for (auto _ : state) benchmark::DoNotOptimize(encoder.Encode(base));
  SetCounters(state, p, p.base);
}

void BM_Decode(benchmark::State& state) {
  const Prepared& p = Get(static_cast<int>(state.range(0)));
  BlockDecoder decoder;
  DecodedBlock out;
  for (auto _ : state) {
    if (!decoder.Decode(p.base, &out).ok()) std::abort();
    benchmark::DoNotOptimize(out.requests().data());
  }
  SetCounters(state, p, p.base);
}

// What a top-N read does per block: decode, then sum the requests column.
void BM_DecodeSumRequests(benchmark::State& state) {
  const Prepared& p = Get(static_cast<int>(state.range(0)));
  BlockDecoder decoder;
  DecodedBlock out;
  uint64_t total = 0;
  for (auto _ : state) {
    if (!decoder.Decode(p.delta, &out).ok()) std::abort();
    for (uint64_t r : out.requests()) total += r;
  }
  benchmark::DoNotOptimize(total);
  SetCounters(state, p, p.delta);
}

// Compaction's core: 8 blocks of the shape (different traffic, same ids).
void BM_Merge8(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const Prepared& p = Get(which);
  std::vector<DecodedBlock> blocks(8);
  std::vector<Shape> shapes;
  for (int j = 0; j < 8; ++j) shapes.push_back(MakeShape(which, 100 + j));
  std::vector<const DecodedBlock*> ptrs;
  for (int j = 0; j < 8; ++j) {
    auto refs = shapes[j].Refs();
    if (!BuildBlock(p.shape.group, false, refs, &blocks[j]).ok()) std::abort();
    ptrs.push_back(&blocks[j]);
  }
  BlockMerger merger;
  DecodedBlock out;
  for (auto _ : state) {
    if (!merger.Merge(ptrs, &out).ok()) std::abort();
  }
  SetCounters(state, p, p.base);
  size_t in = 0;
  for (const auto& b : blocks) in += b.size();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * in));
  state.counters["per_series"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(in),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["merged"] = static_cast<double>(out.size());
}

void Shapes(benchmark::internal::Benchmark* b) {
  for (int i = 0; i < kShapes; ++i) b->Arg(i);
}
BENCHMARK(BM_Build)->Apply(Shapes);
BENCHMARK(BM_EncodeDelta)->Apply(Shapes);
BENCHMARK(BM_EncodeBase)->Apply(Shapes);
BENCHMARK(BM_Decode)->Apply(Shapes);
BENCHMARK(BM_DecodeSumRequests)->Apply(Shapes);
BENCHMARK(BM_Merge8)->Apply(Shapes);

}  // namespace
}  // namespace apimeter

BENCHMARK_MAIN();
