// The aggregator's client kinds (issue 18 part 2): day deltas of kinds
// client, client x endpoint and customer x client that sum exactly, the cap
// on client names and pair cells (overflow "other", sums per endpoint and
// customer kept), no client series for a line without a client, and
// deterministic (tier, bucket, kind, name) order.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>

#include "aggregator/aggregator.h"

namespace apimeter {
namespace {

constexpr int64_t kDayUs = int64_t{86400} * 1000000;

LogRecord Rec(int64_t time_us, int status = 200, int64_t latency_us = 1000) {
  LogRecord r;
  r.time_us = time_us;
  r.status = status;
  r.bytes_in = 10;
  r.bytes_out = 100;
  r.latency_us = latency_us;
  return r;
}

void AddWithClient(Aggregator& a, const LogRecord& r, std::string_view ep, std::string_view cu,
                   std::string_view client) {
  a.Add(r, ep, cu, &client);
}

std::map<std::tuple<int64_t, SeriesKind, std::string>, uint64_t> ClientRequests(
    const FlushBatch& b) {
  std::map<std::tuple<int64_t, SeriesKind, std::string>, uint64_t> out;
  for (const SeriesDelta& d : b.series) {
    if (!IsClientKind(d.kind)) continue;
    EXPECT_EQ(d.tier, Tier::kDay);
    out[{d.bucket, d.kind, d.name}] += d.rollup.requests;
  }
  return out;
}

const std::string kSep(1, kNameSeparator);

TEST(ClientCellsTest, ThreeKindsPerDaySumExactly) {
  Aggregator a(AggregatorOptions{.host = "web1"});
  const int64_t t0 = 20000 * kDayUs + 3600 * int64_t{1000000};
  AddWithClient(a, Rec(t0), "GET /a", "acme", "acme-python/2.3");
  AddWithClient(a, Rec(t0 + 1, 404), "GET /a", "acme", "acme-python/2.3");
  AddWithClient(a, Rec(t0 + 2, 500), "GET /b", "beta", "curl/8");
  AddWithClient(a, Rec(t0 + kDayUs), "GET /a", "beta", "none");
  a.Add(Rec(t0 + 3), "GET /a", "acme");  // a source without $http_user_agent
  const FlushBatch b = a.TakeBatch();
  const auto got = ClientRequests(b);
  const std::map<std::tuple<int64_t, SeriesKind, std::string>, uint64_t> want = {
      {{20000, SeriesKind::kClient, "acme-python/2.3"}, 2},
      {{20000, SeriesKind::kClient, "curl/8"}, 1},
      {{20000, SeriesKind::kClientEndpoint, "acme-python/2.3" + kSep + "GET /a"}, 2},
      {{20000, SeriesKind::kClientEndpoint, "curl/8" + kSep + "GET /b"}, 1},
      {{20000, SeriesKind::kCustomerClient, "acme" + kSep + "acme-python/2.3"}, 2},
      {{20000, SeriesKind::kCustomerClient, "beta" + kSep + "curl/8"}, 1},
      {{20001, SeriesKind::kClient, "none"}, 1},
      {{20001, SeriesKind::kClientEndpoint, "none" + kSep + "GET /a"}, 1},
      {{20001, SeriesKind::kCustomerClient, "beta" + kSep + "none"}, 1},
  };
  EXPECT_EQ(got, want);
  // Statuses and latency travel with the counts.
  for (const SeriesDelta& d : b.series) {
    if (d.kind == SeriesKind::kClient && d.name == "acme-python/2.3") {
      EXPECT_EQ(d.rollup.StatusCount(404), 1u);
      EXPECT_EQ(d.rollup.latency_count, 2u);
      EXPECT_EQ(d.rollup.bytes_out, 200u);
    }
  }
  // The batch stays sorted by (tier, bucket, kind, name).
  for (size_t i = 1; i < b.series.size(); ++i) {
    const SeriesDelta &x = b.series[i - 1], &y = b.series[i];
    EXPECT_LT(std::tie(x.tier, x.bucket, x.kind, x.name), std::tie(y.tier, y.bucket, y.kind, y.name))
        << i;
  }
  EXPECT_TRUE(a.Empty());
  EXPECT_TRUE(ClientRequests(a.TakeBatch()).empty());
}

TEST(ClientCellsTest, NoClientNoSeries) {
  Aggregator a(AggregatorOptions{.host = "web1"});
  for (int i = 0; i < 10; ++i) a.Add(Rec(20000 * kDayUs + i), "GET /a", "acme");
  EXPECT_TRUE(ClientRequests(a.TakeBatch()).empty());
}

TEST(ClientCellsTest, CapSendsNewNamesToOtherAndKeepsSums) {
  AggregatorOptions o{.host = "web1"};
  o.max_clients = 3;
  o.max_client_pairs = 1000;
  Aggregator a(o);
  const int64_t t0 = 20000 * kDayUs;
  const std::string bad = std::string("ev\x01l/1.0");
  for (int i = 0; i < 10; ++i) {
    AddWithClient(a, Rec(t0 + i), "GET /a", "acme", "sdk" + std::to_string(i) + "/1.0");
  }
  AddWithClient(a, Rec(t0 + 20), "GET /a", "acme", bad);  // a control byte: never a name
  AddWithClient(a, Rec(t0 + 21), "GET /a", "acme", "sdk0/1.0");  // admitted before: stays
  const auto got = ClientRequests(a.TakeBatch());
  std::map<std::string, uint64_t> clients;
  uint64_t total = 0, pairs = 0;
  for (const auto& [k, n] : got) {
    if (std::get<1>(k) == SeriesKind::kClient) {
      clients[std::get<2>(k)] = n;
      total += n;
    } else {
      pairs += n;
    }
  }
  const std::map<std::string, uint64_t> want = {
      {"sdk0/1.0", 2}, {"sdk1/1.0", 1}, {"sdk2/1.0", 1}, {"other", 8}};
  EXPECT_EQ(clients, want);
  EXPECT_EQ(total, 12u);
  EXPECT_EQ(pairs, 24u);
}

TEST(ClientCellsTest, PairCapSpillsToOtherClientPerEndpointAndCustomer) {
  AggregatorOptions o{.host = "web1"};
  o.max_client_pairs = 4;  // two lines' worth of pair cells
  Aggregator a(o);
  const int64_t t0 = 20000 * kDayUs;
  AddWithClient(a, Rec(t0), "GET /a", "acme", "x/1.0");
  AddWithClient(a, Rec(t0 + 1), "GET /b", "beta", "y/1.0");
  AddWithClient(a, Rec(t0 + 2), "GET /c", "gamma", "z/1.0");  // past the cap
  AddWithClient(a, Rec(t0 + 3), "GET /a", "acme", "x/1.0");   // existing cells: counted
  const auto got = ClientRequests(a.TakeBatch());
  EXPECT_EQ((got.at({20000, SeriesKind::kClient, "z/1.0"})), 1u);  // the client itself is kept
  EXPECT_EQ((got.at({20000, SeriesKind::kClientEndpoint, "other" + kSep + "GET /c"})), 1u);
  EXPECT_EQ((got.at({20000, SeriesKind::kCustomerClient, "gamma" + kSep + "other"})), 1u);
  EXPECT_EQ((got.at({20000, SeriesKind::kClientEndpoint, "x/1.0" + kSep + "GET /a"})), 2u);
  EXPECT_EQ(got.count({20000, SeriesKind::kClientEndpoint, "z/1.0" + kSep + "GET /c"}), 0u);
}

TEST(ClientCellsTest, MemoryIsCountedAndReleased) {
  Aggregator a(AggregatorOptions{.host = "web1"});
  const size_t empty = a.MemoryBytes();
  for (int i = 0; i < 500; ++i) {
    AddWithClient(a, Rec(20000 * kDayUs + i), "GET /a", "acme", "sdk" + std::to_string(i) + "/1");
  }
  EXPECT_GT(a.MemoryBytes(), empty + 500 * 3 * sizeof(Rollup));
  a.TakeBatch();
  EXPECT_EQ(a.MemoryBytes(), empty);
}

}  // namespace
}  // namespace apimeter
