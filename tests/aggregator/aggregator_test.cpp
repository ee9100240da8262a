// Aggregator: minute bucketing by the line's own time, the five series (the
// customer × endpoint one per day only), hour/day roll-ups equal to sums of
// minutes, rejected lines, caps with
// overflow to "other", bounded memory, slow top-N per day, TakeBatch empties,
// and a golden dump of a fixed set of records.
#include "aggregator/aggregator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace apimeter {
namespace {

constexpr int64_t kUs = 1000000;
constexpr int64_t kNewYear2026 = 1767225600;  // 2026-01-01T00:00:00Z

LogRecord Rec(int64_t time_us, int status = 200, int64_t latency_us = 1000, uint64_t in = 10,
              uint64_t out = 100) {
  LogRecord r;
  r.time_us = time_us;
  r.status = status;
  r.latency_us = latency_us;
  r.bytes_in = in;
  r.bytes_out = out;
  return r;
}

const char* KindName(SeriesKind k) {
  switch (k) {
    case SeriesKind::kAll:
      return "all";
    case SeriesKind::kHost:
      return "h";
    case SeriesKind::kEndpoint:
      return "e";
    case SeriesKind::kCustomer:
      return "c";
    case SeriesKind::kCustomerEndpoint:
      return "ce";
    case SeriesKind::kClient:
      return "u";
    case SeriesKind::kClientEndpoint:
      return "ue";
    case SeriesKind::kCustomerClient:
      return "cu";
  }
  return "?";
}

std::string Printable(std::string s) {
  std::replace(s.begin(), s.end(), kNameSeparator, '|');
  return s;
}

std::string DumpRollup(const Rollup& r) {
  std::ostringstream o;
  o << "n=" << r.requests;
  auto statuses = r.status_counts;
  std::sort(statuses.begin(), statuses.end());
  for (auto [s, n] : statuses) o << " s" << s << "=" << n;
  o << " bi=" << r.bytes_in << " bo=" << r.bytes_out << " lc=" << r.latency_count
    << " ls=" << r.latency_sum_us << " max=" << r.latency_max_us;
  if (r.rejected) o << " rej=" << r.rejected;
  r.histogram.ForEachBucket([&](int i, uint64_t n) { o << " h" << i << "=" << n; });
  return o.str();
}

// One line per delta, in batch order (which TakeBatch promises is sorted).
std::string Dump(const FlushBatch& b) {
  std::ostringstream o;
  o << "host=" << b.host << " lines=" << b.lines << "\n";
  for (const SeriesDelta& d : b.series) {
    o << TierLetter(d.tier) << d.bucket << " " << KindName(d.kind) << ":" << Printable(d.name)
      << " " << DumpRollup(d.rollup) << "\n";
  }
  for (const SlowRequest& s : b.slow) {
    o << "slow " << s.time_us << " " << s.latency_us << " " << s.status << " " << s.host << " "
      << s.endpoint << " " << s.customer << "\n";
  }
  return o.str();
}

const SeriesDelta* Find(const FlushBatch& b, Tier t, int64_t bucket, SeriesKind k,
                        const std::string& name) {
  for (const auto& d : b.series) {
    if (d.tier == t && d.bucket == bucket && d.kind == k && d.name == name) return &d;
  }
  return nullptr;
}

Aggregator Make(int64_t max_endpoints = 2000, int64_t max_customers = 50000, int64_t slow = 100) {
  AggregatorOptions o;
  o.host = "web1";
  o.max_endpoints = max_endpoints;
  o.max_customers = max_customers;
  o.slow_top_n = slow;
  return Aggregator(o);
}

TEST(AggregatorTest, GoldenDump) {
  Aggregator agg = Make();
  const int64_t t = (kNewYear2026 - 30) * kUs;                              // 2025-12-31T23:59:30Z
  agg.Add(Rec(t + 40 * kUs, 500, -1, 5, 50), "POST /b", "k_0123456789ab");  // next day
  agg.Add(Rec(t, 200, 1000, 10, 100), "GET /a", "acme");
  agg.Add(Rec(t + 1, 404, 2000, 1, 2), "GET /a", "acme");
  agg.AddRejected(t + 5 * kUs);
  const std::string expected =
      "host=web1 lines=4\n"
      "m29453759 all: n=2 s200=1 s404=1 bi=11 bo=102 lc=2 ls=3000 max=2000 rej=1 h346=1 h381=1\n"
      "m29453759 h:web1 n=2 s200=1 s404=1 bi=11 bo=102 lc=2 ls=3000 max=2000 rej=1 h346=1 h381=1\n"
      "m29453759 e:GET /a n=2 s200=1 s404=1 bi=11 bo=102 lc=2 ls=3000 max=2000 h346=1 h381=1\n"
      "m29453759 c:acme n=2 s200=1 s404=1 bi=11 bo=102 lc=2 ls=3000 max=2000 h346=1 h381=1\n"
      "m29453760 all: n=1 s500=1 bi=5 bo=50 lc=0 ls=0 max=-1\n"
      "m29453760 h:web1 n=1 s500=1 bi=5 bo=50 lc=0 ls=0 max=-1\n"
      "m29453760 e:POST /b n=1 s500=1 bi=5 bo=50 lc=0 ls=0 max=-1\n"
      "m29453760 c:k_0123456789ab n=1 s500=1 bi=5 bo=50 lc=0 ls=0 max=-1\n"
      "h490895 all: n=2 s200=1 s404=1 bi=11 bo=102 lc=2 ls=3000 max=2000 rej=1 h346=1 h381=1\n"
      "h490895 h:web1 n=2 s200=1 s404=1 bi=11 bo=102 lc=2 ls=3000 max=2000 rej=1 h346=1 h381=1\n"
      "h490895 e:GET /a n=2 s200=1 s404=1 bi=11 bo=102 lc=2 ls=3000 max=2000 h346=1 h381=1\n"
      "h490895 c:acme n=2 s200=1 s404=1 bi=11 bo=102 lc=2 ls=3000 max=2000 h346=1 h381=1\n"
      "h490896 all: n=1 s500=1 bi=5 bo=50 lc=0 ls=0 max=-1\n"
      "h490896 h:web1 n=1 s500=1 bi=5 bo=50 lc=0 ls=0 max=-1\n"
      "h490896 e:POST /b n=1 s500=1 bi=5 bo=50 lc=0 ls=0 max=-1\n"
      "h490896 c:k_0123456789ab n=1 s500=1 bi=5 bo=50 lc=0 ls=0 max=-1\n"
      "d20453 all: n=2 s200=1 s404=1 bi=11 bo=102 lc=2 ls=3000 max=2000 rej=1 h346=1 h381=1\n"
      "d20453 h:web1 n=2 s200=1 s404=1 bi=11 bo=102 lc=2 ls=3000 max=2000 rej=1 h346=1 h381=1\n"
      "d20453 e:GET /a n=2 s200=1 s404=1 bi=11 bo=102 lc=2 ls=3000 max=2000 h346=1 h381=1\n"
      "d20453 c:acme n=2 s200=1 s404=1 bi=11 bo=102 lc=2 ls=3000 max=2000 h346=1 h381=1\n"
      "d20453 ce:acme|GET /a n=2 s200=1 s404=1 bi=11 bo=102 lc=2 ls=3000 max=2000 h346=1 h381=1\n"
      "d20454 all: n=1 s500=1 bi=5 bo=50 lc=0 ls=0 max=-1\n"
      "d20454 h:web1 n=1 s500=1 bi=5 bo=50 lc=0 ls=0 max=-1\n"
      "d20454 e:POST /b n=1 s500=1 bi=5 bo=50 lc=0 ls=0 max=-1\n"
      "d20454 c:k_0123456789ab n=1 s500=1 bi=5 bo=50 lc=0 ls=0 max=-1\n"
      "d20454 ce:k_0123456789ab|POST /b n=1 s500=1 bi=5 bo=50 lc=0 ls=0 max=-1\n"
      "slow 1767225570000001 2000 404 web1 GET /a acme\n"
      "slow 1767225570000000 1000 200 web1 GET /a acme\n";
  EXPECT_EQ(Dump(agg.TakeBatch()), expected);
}

TEST(AggregatorTest, BucketsByOwnTimestampAcrossBoundariesOutOfOrder) {
  Aggregator agg = Make();
  const int64_t midnight = kNewYear2026 * kUs;
  // Out of order: after, before, exactly at, and one microsecond before midnight.
  for (int64_t t : {midnight + 61 * kUs, midnight - 3600 * kUs, midnight, midnight - 1}) {
    agg.Add(Rec(t), "GET /x", "c1");
  }
  FlushBatch b = agg.TakeBatch();
  const int64_t m0 = kNewYear2026 / 60;
  for (int64_t m : {m0 + 1, m0 - 60, m0, m0 - 1}) {
    const SeriesDelta* d = Find(b, Tier::kMinute, m, SeriesKind::kAll, "");
    ASSERT_NE(d, nullptr) << m;
    EXPECT_EQ(d->rollup.requests, 1u);
  }
  const int64_t h0 = kNewYear2026 / 3600, d0 = kNewYear2026 / 86400;
  EXPECT_EQ(Find(b, Tier::kHour, h0, SeriesKind::kAll, "")->rollup.requests, 2u);
  // 23:00:00 and 23:59:59.999999 share the last hour of the old day.
  EXPECT_EQ(Find(b, Tier::kHour, h0 - 1, SeriesKind::kAll, "")->rollup.requests, 2u);
  EXPECT_EQ(Find(b, Tier::kHour, h0 - 2, SeriesKind::kAll, ""), nullptr);
  EXPECT_EQ(Find(b, Tier::kDay, d0 - 1, SeriesKind::kAll, "")->rollup.requests, 2u);
  EXPECT_EQ(Find(b, Tier::kDay, d0, SeriesKind::kAll, "")->rollup.requests, 2u);
}

TEST(AggregatorTest, NegativeTimesFloorToTheEarlierMinute) {
  Aggregator agg = Make();
  agg.Add(Rec(-1), "GET /x", "c1");
  FlushBatch b = agg.TakeBatch();
  EXPECT_NE(Find(b, Tier::kMinute, -1, SeriesKind::kAll, ""), nullptr);
  EXPECT_NE(Find(b, Tier::kDay, -1, SeriesKind::kAll, ""), nullptr);
}

TEST(AggregatorTest, CountsEachRequestInFiveSeriesWithPairsPerDayOnly) {
  Aggregator agg = Make();
  const int64_t t = kNewYear2026 * kUs;
  agg.Add(Rec(t, 200), "GET /a", "acme");
  agg.Add(Rec(t, 201), "GET /b", "acme");
  agg.Add(Rec(t, 500), "GET /a", "beta");
  FlushBatch b = agg.TakeBatch();
  const int64_t m = kNewYear2026 / 60;
  auto n = [&](SeriesKind k, const std::string& name) {
    const SeriesDelta* d = Find(b, Tier::kMinute, m, k, name);
    return d ? d->rollup.requests : 0;
  };
  EXPECT_EQ(n(SeriesKind::kAll, ""), 3u);
  EXPECT_EQ(n(SeriesKind::kHost, "web1"), 3u);
  EXPECT_EQ(n(SeriesKind::kEndpoint, "GET /a"), 2u);
  EXPECT_EQ(n(SeriesKind::kEndpoint, "GET /b"), 1u);
  EXPECT_EQ(n(SeriesKind::kCustomer, "acme"), 2u);
  EXPECT_EQ(n(SeriesKind::kCustomer, "beta"), 1u);
  auto day = [&](const std::string& name) {
    const SeriesDelta* d =
        Find(b, Tier::kDay, kNewYear2026 / 86400, SeriesKind::kCustomerEndpoint, name);
    return d ? d->rollup.requests : 0;
  };
  EXPECT_EQ(day(std::string("acme\x1fGET /a")), 1u);
  EXPECT_EQ(day(std::string("acme\x1fGET /b")), 1u);
  EXPECT_EQ(day(std::string("beta\x1fGET /a")), 1u);
  // 6 series (all, host, 2 endpoints, 2 customers) in each of three tiers,
  // plus the 3 pairs in the day tier only.
  EXPECT_EQ(b.series.size(), 3u * 6u + 3u);
  for (const auto& d : b.series) {
    if (d.kind == SeriesKind::kCustomerEndpoint) {
      EXPECT_EQ(d.tier, Tier::kDay);
    }
  }
  EXPECT_EQ(b.host, "web1");
  EXPECT_TRUE(b.checkpoints.empty());
}

// Random traffic over three days: every hour and day delta equals the sum of
// its minute deltas, and the all series equals the sum of endpoints.
TEST(AggregatorTest, HourAndDayDeltasAreSumsOfMinutes) {
  Aggregator agg = Make();
  std::mt19937_64 rng(5);
  const int64_t start = kNewYear2026 * kUs;
  uint64_t total = 0;
  for (int i = 0; i < 20000; ++i) {
    const int64_t t = start + static_cast<int64_t>(rng() % (3 * 86400 * kUs));
    const std::string e = "GET /e" + std::to_string(rng() % 7);
    const std::string c = "c" + std::to_string(rng() % 5);
    if (rng() % 50 == 0) {
      agg.AddRejected(t);
    } else {
      agg.Add(Rec(t, 200 + static_cast<int>(rng() % 3), static_cast<int64_t>(rng() % 100000)), e,
              c);
      ++total;
    }
  }
  EXPECT_EQ(agg.lines(), 20000u);
  FlushBatch b = agg.TakeBatch();
  using Key = std::tuple<Tier, int64_t, SeriesKind, std::string>;
  std::map<Key, Rollup> sums;
  std::map<Key, const Rollup*> reported;
  // Customer × endpoint day deltas must add up to the customer's day delta.
  std::map<std::pair<int64_t, std::string>, Rollup> pair_sums;
  for (const auto& d : b.series) {
    if (d.kind == SeriesKind::kCustomerEndpoint) {
      ASSERT_EQ(d.tier, Tier::kDay);
      pair_sums[{d.bucket, d.name.substr(0, d.name.find(kNameSeparator))}].Merge(d.rollup);
      continue;
    }
    reported[{d.tier, d.bucket, d.kind, d.name}] = &d.rollup;
    if (d.tier != Tier::kMinute) continue;
    sums[{Tier::kHour, d.bucket / 60, d.kind, d.name}].Merge(d.rollup);
    sums[{Tier::kDay, d.bucket / 1440, d.kind, d.name}].Merge(d.rollup);
  }
  size_t coarse = 0;
  for (const auto& [key, r] : reported) {
    if (std::get<0>(key) == Tier::kMinute) continue;
    ++coarse;
    const Rollup& s = sums.at(key);
    EXPECT_EQ(r->requests, s.requests);
    EXPECT_EQ(r->rejected, s.rejected);
    EXPECT_EQ(r->bytes_out, s.bytes_out);
    EXPECT_EQ(r->latency_sum_us, s.latency_sum_us);
    EXPECT_EQ(r->latency_max_us, s.latency_max_us);
    EXPECT_EQ(r->StatusCount(201), s.StatusCount(201));
    EXPECT_EQ(r->histogram.Count(), s.histogram.Count());
    EXPECT_EQ(*r->histogram.PercentileMicros(99), *s.histogram.PercentileMicros(99));
  }
  EXPECT_EQ(coarse, sums.size());
  size_t customer_days = 0;
  for (const auto& [key, r] : reported) {
    if (std::get<0>(key) != Tier::kDay || std::get<2>(key) != SeriesKind::kCustomer) continue;
    ++customer_days;
    EXPECT_EQ(DumpRollup(pair_sums.at({std::get<1>(key), std::get<3>(key)})), DumpRollup(*r));
  }
  EXPECT_EQ(customer_days, pair_sums.size());
  EXPECT_EQ(customer_days, 3u * 5u);  // 3 days x 5 customers
  uint64_t all_days = 0, endpoint_days = 0;
  for (const auto& d : b.series) {
    if (d.tier != Tier::kDay) continue;
    if (d.kind == SeriesKind::kAll) all_days += d.rollup.requests;
    if (d.kind == SeriesKind::kEndpoint) endpoint_days += d.rollup.requests;
  }
  EXPECT_EQ(all_days, total);
  EXPECT_EQ(endpoint_days, total);
  EXPECT_TRUE(std::is_sorted(b.series.begin(), b.series.end(), [](const auto& x, const auto& y) {
    return std::tie(x.tier, x.bucket, x.kind, x.name) < std::tie(y.tier, y.bucket, y.kind, y.name);
  }));
}

TEST(AggregatorTest, RejectedLinesCountOnlyInAllAndHost) {
  Aggregator agg = Make();
  const int64_t t = kNewYear2026 * kUs;
  agg.AddRejected(t);
  agg.AddRejected(t + 1);
  EXPECT_FALSE(agg.Empty());
  EXPECT_EQ(agg.lines(), 2u);
  FlushBatch b = agg.TakeBatch();
  ASSERT_EQ(b.series.size(), 6u);  // all + host in three tiers
  for (const auto& d : b.series) {
    EXPECT_TRUE(d.kind == SeriesKind::kAll || d.kind == SeriesKind::kHost);
    EXPECT_EQ(d.rollup.rejected, 2u);
    EXPECT_EQ(d.rollup.requests, 0u);
  }
  EXPECT_EQ(b.lines, 2u);
}

TEST(AggregatorTest, OverflowGoesToOtherAtTheLimits) {
  Aggregator agg = Make(/*max_endpoints=*/2, /*max_customers=*/1);
  const int64_t t = kNewYear2026 * kUs;
  agg.Add(Rec(t), "GET /a", "c1");
  agg.Add(Rec(t), "GET /b", "c2");  // c2 -> other
  agg.Add(Rec(t), "GET /c", "c1");  // /c -> other
  agg.Add(Rec(t), "GET /a", "c3");  // c3 -> other; /a still held
  FlushBatch b = agg.TakeBatch();
  std::set<std::string> endpoints, customers, pairs;
  for (const auto& d : b.series) {
    if (d.tier != Tier::kDay) continue;
    if (d.kind == SeriesKind::kEndpoint) endpoints.insert(d.name);
    if (d.kind == SeriesKind::kCustomer) customers.insert(d.name);
    if (d.kind == SeriesKind::kCustomerEndpoint) pairs.insert(Printable(d.name));
  }
  EXPECT_EQ(endpoints, (std::set<std::string>{"GET /a", "GET /b", "other"}));
  EXPECT_EQ(customers, (std::set<std::string>{"c1", "other"}));
  EXPECT_EQ(pairs,
            (std::set<std::string>{"c1|GET /a", "other|GET /b", "c1|other", "other|GET /a"}));
  EXPECT_EQ(
      Find(b, Tier::kMinute, kNewYear2026 / 60, SeriesKind::kCustomer, "other")->rollup.requests,
      2u);
}

TEST(AggregatorTest, CustomerEndpointPairsAreCapped) {
  AggregatorOptions o;
  o.host = "h";
  o.max_customer_endpoints = 2;
  Aggregator agg(o);
  const int64_t t = kNewYear2026 * kUs;
  agg.Add(Rec(t), "GET /a", "c1");
  agg.Add(Rec(t), "GET /b", "c1");
  agg.Add(Rec(t), "GET /a", "c2");  // third pair -> other × GET /a
  FlushBatch b = agg.TakeBatch();
  const int64_t m = kNewYear2026 / 60, d = kNewYear2026 / 86400;
  EXPECT_NE(Find(b, Tier::kDay, d, SeriesKind::kCustomerEndpoint, "other\x1fGET /a"), nullptr);
  EXPECT_EQ(Find(b, Tier::kDay, d, SeriesKind::kCustomerEndpoint, "c2\x1fGET /a"), nullptr);
  EXPECT_NE(Find(b, Tier::kMinute, m, SeriesKind::kCustomer, "c2"), nullptr);
}

TEST(AggregatorTest, InvalidNamesAreCountedAsOther) {
  Aggregator agg = Make();
  const int64_t t = kNewYear2026 * kUs;
  agg.Add(Rec(t), "", "c1");
  agg.Add(Rec(t), std::string(Aggregator::kMaxNameBytes + 1, 'x'), "c1");
  agg.Add(Rec(t), "GET /a", std::string("bad\x1fname"));
  agg.Add(Rec(t), "GET /\n", "c1");
  FlushBatch b = agg.TakeBatch();
  const int64_t m = kNewYear2026 / 60;
  EXPECT_EQ(Find(b, Tier::kMinute, m, SeriesKind::kEndpoint, "other")->rollup.requests, 3u);
  EXPECT_EQ(Find(b, Tier::kMinute, m, SeriesKind::kCustomer, "other")->rollup.requests, 1u);
}

TEST(AggregatorTest, MemoryStaysBoundedUnderMillionRandomEndpoints) {
  Aggregator agg = Make();
  std::mt19937_64 rng(11);
  const int64_t t = kNewYear2026 * kUs;
  size_t after_warmup = 0;
  for (int i = 0; i < 1000000; ++i) {
    const std::string e = "GET /scan/" + std::to_string(rng());
    agg.Add(Rec(t + (i % 60) * kUs, 404, static_cast<int64_t>(rng() % 1000000)), e, "anonymous");
    if (i == 100000) after_warmup = agg.MemoryBytes();
  }
  const size_t final_bytes = agg.MemoryBytes();
  EXPECT_LT(final_bytes, 8u << 20) << "held: " << final_bytes;
  EXPECT_LT(final_bytes, after_warmup * 2);  // flat after the cap is reached
  FlushBatch b = agg.TakeBatch();
  size_t endpoint_series = 0;
  for (const auto& d : b.series)
    endpoint_series += d.tier == Tier::kMinute && d.kind == SeriesKind::kEndpoint;
  EXPECT_EQ(endpoint_series, 2001u);  // the cap plus "other"
  EXPECT_EQ(Find(b, Tier::kMinute, kNewYear2026 / 60, SeriesKind::kAll, "")->rollup.requests,
            1000000u);
}

TEST(AggregatorTest, SlowTopNPerDayIsTheExactTopAndOrderIndependent) {
  std::mt19937_64 rng(13);
  struct In {
    int64_t t, lat;
    std::string e;
  };
  std::vector<In> in;
  const int64_t start = kNewYear2026 * kUs;
  for (int i = 0; i < 5000; ++i) {
    in.push_back({start + static_cast<int64_t>(rng() % (2 * 86400 * kUs)),
                  static_cast<int64_t>(rng() % 50000), "GET /e" + std::to_string(i % 3)});
  }
  auto run = [&](const std::vector<In>& v) {
    Aggregator agg = Make(2000, 50000, /*slow=*/5);
    for (const In& x : v) agg.Add(Rec(x.t, 200, x.lat), x.e, "c");
    agg.Add(Rec(start, 200, -1), "GET /none", "c");  // no latency: never a candidate
    return agg.TakeBatch().slow;
  };
  std::vector<SlowRequest> a = run(in);
  std::shuffle(in.begin(), in.end(), rng);
  std::vector<SlowRequest> b = run(in);
  ASSERT_EQ(a.size(), 10u);
  for (int day = 0; day < 2; ++day) {
    std::vector<std::pair<int64_t, int64_t>> expect;  // (-latency, time)
    for (const In& x : in) {
      if ((x.t - start) / (86400 * kUs) == day) expect.emplace_back(-x.lat, x.t);
    }
    std::sort(expect.begin(), expect.end());
    for (int k = 0; k < 5; ++k) {
      EXPECT_EQ(a[day * 5 + k].latency_us, -expect[k].first);
      EXPECT_EQ(a[day * 5 + k].time_us, expect[k].second);
      EXPECT_EQ(b[day * 5 + k].time_us, a[day * 5 + k].time_us);
      EXPECT_EQ(b[day * 5 + k].endpoint, a[day * 5 + k].endpoint);
    }
  }
  EXPECT_EQ(a[0].host, "web1");
}

TEST(AggregatorTest, SlowTopNZeroKeepsNothing) {
  Aggregator agg = Make(2000, 50000, 0);
  agg.Add(Rec(kNewYear2026 * kUs, 200, 99999), "GET /a", "c");
  EXPECT_TRUE(agg.TakeBatch().slow.empty());
}

TEST(AggregatorTest, TakeBatchEmptiesAndReleasesMemory) {
  Aggregator agg = Make();
  const size_t empty_bytes = agg.MemoryBytes();
  EXPECT_TRUE(agg.Empty());
  for (int i = 0; i < 10000; ++i) {
    agg.Add(Rec(kNewYear2026 * kUs + i * kUs, 200, i), "GET /e" + std::to_string(i % 50),
            "c" + std::to_string(i % 300));
  }
  EXPECT_GT(agg.MemoryBytes(), empty_bytes + 100000);
  FlushBatch first = agg.TakeBatch();
  EXPECT_FALSE(first.Empty());
  EXPECT_EQ(first.lines, 10000u);
  EXPECT_TRUE(agg.Empty());
  EXPECT_EQ(agg.lines(), 0u);
  EXPECT_EQ(agg.MemoryBytes(), empty_bytes);
  FlushBatch second = agg.TakeBatch();
  EXPECT_TRUE(second.Empty());
  EXPECT_EQ(second.lines, 0u);
  // Names held before the flush do not count against the caps afterwards.
  agg.Add(Rec(0), "GET /new", "new");
  EXPECT_NE(Find(agg.TakeBatch(), Tier::kMinute, 0, SeriesKind::kEndpoint, "GET /new"), nullptr);
}

// A plain model: every series of every tier built with Rollup::AddRequest.
class Model {
 public:
  void Add(const LogRecord& r, const std::string& e, const std::string& c) {
    for (Tier t : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
      const int64_t b = FloorDiv(r.time_us, TierSeconds(t) * kUs);
      for (auto [kind, name] : {std::pair{SeriesKind::kAll, std::string()},
                                {SeriesKind::kHost, std::string("web1")},
                                {SeriesKind::kEndpoint, e},
                                {SeriesKind::kCustomer, c}}) {
        series_[{t, b, kind, name}].AddRequest(r.status, r.bytes_in, r.bytes_out, r.latency_us);
      }
    }
    const int64_t day = FloorDiv(r.time_us, 86400 * kUs);
    series_[{Tier::kDay, day, SeriesKind::kCustomerEndpoint, c + kNameSeparator + e}].AddRequest(
        r.status, r.bytes_in, r.bytes_out, r.latency_us);
  }
  void AddRejected(int64_t time_us) {
    for (Tier t : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
      const int64_t b = FloorDiv(time_us, TierSeconds(t) * kUs);
      ++series_[{t, b, SeriesKind::kAll, ""}].rejected;
      ++series_[{t, b, SeriesKind::kHost, "web1"}].rejected;
    }
  }
  // Same format as Dump(), in (tier, bucket, kind, name) order.
  std::string Dump() const {
    std::ostringstream o;
    for (const auto& [key, r] : series_) {
      const auto& [t, b, kind, name] = key;
      o << TierLetter(t) << b << " " << KindName(kind) << ":" << Printable(name) << " "
        << DumpRollup(r) << "\n";
    }
    return o.str();
  }

 private:
  static int64_t FloorDiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && a < 0); }
  std::map<std::tuple<Tier, int64_t, SeriesKind, std::string>, Rollup> series_;
};

std::string DumpSeries(const FlushBatch& b) {
  std::string all = Dump(b);
  all.erase(0, all.find('\n') + 1);  // the header line
  std::string out;
  std::istringstream in(all);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("slow ", 0) != 0) out += line + "\n";
  }
  return out;
}

// The per-name caches and inline cells must never mix up series: compare
// every delta of every tier with the plain model, on out-of-order minutes
// across a day boundary, odd statuses (outside 100..599 too), missing
// latencies and rejected lines.
TEST(AggregatorTest, MatchesSimpleModelOnManyCombinations) {
  Aggregator agg = Make();
  Model model;
  std::mt19937_64 rng(17);
  const int statuses[] = {200, 200, 200, 201, 204, 301, 304, 400,   401,
                          403, 404, 429, 500, 503, 0,   999, 70000, -3};
  const int64_t first_minute = kNewYear2026 / 60 - 15;
  for (int i = 0; i < 200000; ++i) {
    const int64_t minute = first_minute + static_cast<int64_t>(rng() % 30);
    const int64_t t = minute * 60 * kUs + static_cast<int64_t>(rng() % (60 * kUs));
    if (rng() % 100 == 0) {
      agg.AddRejected(t);
      model.AddRejected(t);
      continue;
    }
    const std::string e = "e" + std::to_string(rng() % 40);
    const std::string c = "c" + std::to_string(rng() % 60);
    const int64_t latency = rng() % 10 == 0 ? -1 : static_cast<int64_t>(rng() % 3000000);
    const LogRecord r =
        Rec(t, statuses[rng() % std::size(statuses)], latency, rng() % 1000, rng() % 100000);
    agg.Add(r, e, c);
    model.Add(r, e, c);
  }
  EXPECT_EQ(DumpSeries(agg.TakeBatch()), model.Dump());
}

// Add applies a line some calls later (a prefetch pipeline); TakeBatch must
// apply what is still in flight, for every number of lines in flight.
TEST(AggregatorTest, TakeBatchAppliesLinesStillInThePipeline) {
  Aggregator agg = Make();
  for (int n = 0; n <= 70; ++n) {
    Model model;
    const int64_t t = kNewYear2026 * kUs;
    for (int i = 0; i < n; ++i) {
      const LogRecord r = Rec(t + i * 7 * kUs, 200 + i % 3, i * 997);
      if (i % 11 == 5) {
        agg.AddRejected(r.time_us);
        model.AddRejected(r.time_us);
        continue;
      }
      const std::string e = "e" + std::to_string(i % 4), c = "c" + std::to_string(i % 5);
      agg.Add(r, e, c);
      model.Add(r, e, c);
    }
    EXPECT_EQ(agg.lines(), static_cast<uint64_t>(n));
    EXPECT_EQ(DumpSeries(agg.TakeBatch()), model.Dump()) << n << " lines";
  }
}

// With the pipeline in flight, the pair cap still admits the first pairs in
// line order.
TEST(AggregatorTest, PairCapAdmitsTheFirstPairsInLineOrder) {
  AggregatorOptions o;
  o.host = "h";
  o.max_customer_endpoints = 25;
  Aggregator agg(o);
  const int64_t t = kNewYear2026 * kUs;
  for (int i = 0; i < 60; ++i) agg.Add(Rec(t + i), "GET /e" + std::to_string(i), "c");
  std::set<std::string> pairs;
  for (const auto& d : agg.TakeBatch().series) {
    if (d.kind == SeriesKind::kCustomerEndpoint) pairs.insert(Printable(d.name));
  }
  ASSERT_EQ(pairs.size(), 60u);
  for (int i = 0; i < 60; ++i) {
    const std::string e = "GET /e" + std::to_string(i);
    EXPECT_EQ(pairs.count((i < 25 ? "c|" : "other|") + e), 1u) << e;
  }
}

// Inline counters are 16 bits: far more requests of one status and one
// latency bucket in one series must still count exactly.
TEST(AggregatorTest, ExactBeyondInlineCounterLimits) {
  Aggregator agg = Make();
  Model model;
  const int64_t t = kNewYear2026 * kUs;
  for (int i = 0; i < 150000; ++i) {
    const LogRecord r = Rec(t + i, i % 1000 == 0 ? 500 : 200, i % 3 == 0 ? 1000 : 2000);
    agg.Add(r, "GET /a", "acme");
    model.Add(r, "GET /a", "acme");
  }
  const FlushBatch b = agg.TakeBatch();
  EXPECT_EQ(DumpSeries(b), model.Dump());
  const SeriesDelta* d = Find(b, Tier::kDay, kNewYear2026 / 86400, SeriesKind::kCustomerEndpoint,
                              std::string("acme\x1fGET /a"));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->rollup.StatusCount(200), 149850u);
  EXPECT_EQ(d->rollup.histogram.Count(), 150000u);
}

// "other" (from an invalid name, or the literal name) does not use up a cap.
TEST(AggregatorTest, OtherDoesNotUseUpTheCap) {
  Aggregator agg = Make(/*max_endpoints=*/1, /*max_customers=*/1);
  const int64_t t = kNewYear2026 * kUs;
  agg.Add(Rec(t), "", std::string("bad\nname"));  // both -> other
  agg.Add(Rec(t), "other", "other");
  agg.Add(Rec(t), "GET /a", "c1");  // still admitted: the caps hold one real name each
  agg.Add(Rec(t), "GET /b", "c2");  // over the caps
  FlushBatch b = agg.TakeBatch();
  const int64_t m = kNewYear2026 / 60, d = kNewYear2026 / 86400;
  EXPECT_EQ(Find(b, Tier::kMinute, m, SeriesKind::kEndpoint, "GET /a")->rollup.requests, 1u);
  EXPECT_EQ(Find(b, Tier::kMinute, m, SeriesKind::kEndpoint, "other")->rollup.requests, 3u);
  EXPECT_EQ(Find(b, Tier::kMinute, m, SeriesKind::kCustomer, "c1")->rollup.requests, 1u);
  EXPECT_EQ(Find(b, Tier::kMinute, m, SeriesKind::kCustomer, "other")->rollup.requests, 3u);
  EXPECT_EQ(
      Find(b, Tier::kDay, d, SeriesKind::kCustomerEndpoint, "other\x1fother")->rollup.requests, 3u);
  EXPECT_EQ(Find(b, Tier::kDay, d, SeriesKind::kCustomerEndpoint, "c1\x1fGET /a")->rollup.requests,
            1u);
}

// The pair cap counts (day, customer, endpoint) series: the same pair on two
// days is two series.
TEST(AggregatorTest, PairCapCountsDaySeries) {
  AggregatorOptions o;
  o.host = "h";
  o.max_customer_endpoints = 2;
  Aggregator agg(o);
  const int64_t t = kNewYear2026 * kUs;
  agg.Add(Rec(t - 1), "GET /a", "c1");  // day d-1
  agg.Add(Rec(t), "GET /a", "c1");      // day d
  agg.Add(Rec(t), "GET /b", "c1");      // third series -> other × GET /b
  FlushBatch b = agg.TakeBatch();
  const int64_t d = kNewYear2026 / 86400;
  EXPECT_NE(Find(b, Tier::kDay, d - 1, SeriesKind::kCustomerEndpoint, "c1\x1fGET /a"), nullptr);
  EXPECT_NE(Find(b, Tier::kDay, d, SeriesKind::kCustomerEndpoint, "c1\x1fGET /a"), nullptr);
  EXPECT_NE(Find(b, Tier::kDay, d, SeriesKind::kCustomerEndpoint, "other\x1fGET /b"), nullptr);
  EXPECT_EQ(Find(b, Tier::kDay, d, SeriesKind::kCustomerEndpoint, "c1\x1fGET /b"), nullptr);
}

// Times at the ends of the int64 range neither crash nor share a minute.
TEST(AggregatorTest, ExtremeTimestamps) {
  Aggregator agg = Make();
  agg.Add(Rec(INT64_MIN), "GET /a", "c");
  agg.Add(Rec(INT64_MAX), "GET /a", "c");
  agg.Add(Rec(INT64_MIN + 1), "GET /a", "c");
  FlushBatch b = agg.TakeBatch();
  const int64_t lo = INT64_MIN / (60 * kUs) - 1, hi = INT64_MAX / (60 * kUs);
  EXPECT_EQ(Find(b, Tier::kMinute, lo, SeriesKind::kAll, "")->rollup.requests, 2u);
  EXPECT_EQ(Find(b, Tier::kMinute, hi, SeriesKind::kAll, "")->rollup.requests, 1u);
}

// Spilled histograms are part of MemoryBytes, and released by TakeBatch.
TEST(AggregatorTest, MemoryBytesCountsSpilledHistograms) {
  Aggregator agg = Make();
  const size_t empty_bytes = agg.MemoryBytes();
  agg.Add(Rec(kNewYear2026 * kUs, 200, 1), "GET /a", "c");
  const size_t one_line = agg.MemoryBytes();
  // 1 ms .. 1 s spread: every one of the five histograms goes dense (~345 buckets).
  for (int64_t i = 0; i < 5000; ++i) {
    agg.Add(Rec(kNewYear2026 * kUs, 200, 1000 + i * 200), "GET /a", "c");
  }
  EXPECT_GE(agg.MemoryBytes(), one_line + 5 * 300 * sizeof(uint64_t));
  EXPECT_LT(agg.MemoryBytes(), one_line + 5 * 2000 * sizeof(uint64_t) + 100000);
  agg.TakeBatch();
  EXPECT_EQ(agg.MemoryBytes(), empty_bytes);
}

}  // namespace
}  // namespace apimeter
