// The clients dimension end to end below the API (issue 18 part 2), on a
// real redis-server: generated nginx lines with user agents (many SDK
// versions, browsers, curl, a missing UA "-", a hostile UA with escaped
// control bytes) go through the real parser, reducer, aggregators (three
// hosts, several flushes) and v2 writer; QueryEngine::Clients for all
// traffic, one endpoint and one customer must equal an independent count,
// before and after compaction of the client blocks (kinds u, v, w). A
// source whose log_format has no $http_user_agent writes no client series:
// `logged` is false. Filters that cannot be answered are refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "aggregator/aggregator.h"
#include "common/time_util.h"
#include "parsers/client_agent.h"
#include "parsers/line_parser.h"
#include "query/query_engine.h"
#include "server/answer_json.h"
#include "sink/block_compactor.h"
#include "sink/block_sink.h"
#include "sink/standalone_flush.h"
#include "tests/query/test_data.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using testing::TestRedis;

constexpr int64_t kDay = 86400;
const char* kFormat =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\" $request_time \"$http_x_customer\"";
const char* kFormatNoAgent =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "$request_time \"$http_x_customer\"";

struct Line {
  std::string host, text, endpoint, customer, user_agent;
  int status = 200;
};

struct Want {
  uint64_t requests = 0, e4 = 0, e5 = 0;
};

class ClientsTest : public ::testing::Test {
 protected:
  ClientsTest()
      : client_(testing::PatientEndpoint()),
        prefix_(TestRedis::Get().UniquePrefix("clients")),
        keys_(prefix_),
        day_(FloorDiv(SystemClock().NowSeconds(), kDay) - 1),
        clock_((day_ + 1) * kDay * 1000000 + 12 * 3600 * 1000000LL),
        cache_(std::make_shared<BlockCache>(kDefaultBlockCacheBytes)) {}

  void SetUp() override { ASSERT_TRUE(client_.Connect().ok()); }

  std::unique_ptr<QueryEngine> Engine() {
    return std::make_unique<QueryEngine>(MakeV2SeriesStore(&client_, keys_, cache_),
                                         RetentionSeconds{}, &clock_);
  }

  void Flush(FlushBatch batch) {
    StandaloneFlush protocol(&client_, keys_);
    BlockSink sink(&client_, &protocol, keys_, SinkOptions{}, &clock_);
    batch.id = prefix_ + "-" + std::to_string(++batches_);
    Status st = sink.Flush(batch);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Generated lines over three UTC days.
  std::vector<Line> Traffic(size_t n, uint64_t seed, bool with_agent) const {
    std::mt19937_64 rng(seed);
    static const char* kPaths[][2] = {{"GET", "/v1/orders"}, {"POST", "/v1/orders"},
                                      {"GET", "/v1/legacy-export"}};
    static const int kStatus[] = {200, 200, 200, 201, 404, 429, 500, 503};
    std::vector<Line> out;
    for (size_t i = 0; i < n; ++i) {
      Line l;
      const int64_t t = (day_ - 2) * kDay + static_cast<int64_t>(rng() % (3 * kDay));
      l.host = "web" + std::to_string(1 + rng() % 3);
      const auto& p = kPaths[rng() % 3];
      l.endpoint = std::string(p[0]) + " " + p[1];
      l.customer = "cust" + std::to_string(rng() % 12);
      l.status = kStatus[rng() % std::size(kStatus)];
      switch (rng() % 8) {
        case 0: case 1: case 2:  // many SDK versions
          l.user_agent = "acme-python/" + std::to_string(1 + rng() % 3) + "." +
                         std::to_string(rng() % 12) + "." + std::to_string(rng() % 5) +
                         " CPython/3.11";
          break;
        case 3:
          l.user_agent = "okhttp/4." + std::to_string(rng() % 13) + ".0";
          break;
        case 4:
          l.user_agent =
              "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36";
          break;
        case 5: l.user_agent = "curl/8." + std::to_string(rng() % 6) + ".1"; break;
        case 6: l.user_agent = "-"; break;
        default:  // as nginx logs control bytes and quotes: escaped
          l.user_agent = "\\x1B[31mevil\\x00\\x22; DROP TABLE";
          break;
      }
      char time_local[64];
      FormatNginxTime(t, time_local);
      const std::string latency = std::to_string(rng() % 900) + "." +
                                  std::to_string(100 + rng() % 900);
      l.text = "10.0.0.1 - - [" + std::string(time_local) + "] \"" + p[0] + " " + p[1] +
               "?x=1 HTTP/1.1\" " + std::to_string(l.status) + " 512 ";
      if (with_agent) l.text += "\"-\" \"" + l.user_agent + "\" ";
      l.text += latency + " \"" + l.customer + "\"";
      out.push_back(std::move(l));
    }
    return out;
  }

  static void FormatNginxTime(int64_t t, char* out) {
    static const char* kMon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const time_t tt = static_cast<time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    std::snprintf(out, 64, "%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday, kMon[tm.tm_mon],
                  tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }

  // The lines through parser, reducer and one aggregator per host.
  void Write(const std::vector<Line>& lines, const char* format, size_t every) {
    FormatSpec spec;
    spec.log_format = format;
    spec.customer_var = "http_x_customer";
    spec.latency_var = "request_time";
    auto parser = LineParser::Compile(spec);
    ASSERT_TRUE(parser.ok()) << parser.status().ToString();
    const ClientReducer reducer;
    std::map<std::string, std::unique_ptr<Aggregator>> aggs;
    std::map<std::string, size_t> pending;
    for (const Line& l : lines) {
      LogRecord rec;
      ParseError err{};
      ASSERT_TRUE(parser->Parse(l.text, &rec, &err)) << l.text;
      auto& agg = aggs[l.host];
      if (!agg) agg = std::make_unique<Aggregator>(AggregatorOptions{.host = l.host});
      if (rec.user_agent_logged) {
        const std::string client = reducer.Reduce(rec.user_agent);
        const std::string_view view = client;
        agg->Add(rec, l.endpoint, l.customer, &view);
      } else {
        agg->Add(rec, l.endpoint, l.customer);
      }
      if (++pending[l.host] % every == 0) Flush(agg->TakeBatch());
    }
    for (auto& [host, agg] : aggs) {
      if (!agg->Empty()) Flush(agg->TakeBatch());
    }
  }

  // Truth: the user agent as generated (not as parsed) through the reducer.
  static std::map<std::string, Want> Count(const std::vector<Line>& lines,
                                           const std::string& endpoint,
                                           const std::string& customer) {
    const ClientReducer reducer;
    std::map<std::string, Want> out;
    for (const Line& l : lines) {
      if (!endpoint.empty() && l.endpoint != endpoint) continue;
      if (!customer.empty() && l.customer != customer) continue;
      Want& w = out[reducer.Reduce(l.user_agent)];
      ++w.requests;
      w.e4 += l.status >= 400 && l.status < 500;
      w.e5 += l.status >= 500;
    }
    return out;
  }

  QueryParams Params(const std::string& endpoint = "", const std::string& customer = "",
                     int64_t limit = 1000) const {
    QueryParams p;
    p.from_s = (day_ - 2) * kDay;
    p.to_s = (day_ + 1) * kDay;
    p.filter.endpoint = endpoint;
    p.filter.customer = customer;
    p.limit = limit;
    return p;
  }

  static void ExpectExact(const ClientsAnswer& a, const std::map<std::string, Want>& want) {
    EXPECT_TRUE(a.logged);
    EXPECT_EQ(a.quality.resolution, Tier::kDay);
    EXPECT_FALSE(a.quality.partial());
    ASSERT_EQ(a.rows.size(), want.size());
    EXPECT_EQ(a.client_count, want.size());
    uint64_t total = 0;
    for (const auto& [name, w] : want) total += w.requests;
    EXPECT_EQ(a.total_requests, total);
    for (size_t i = 0; i < a.rows.size(); ++i) {
      const ClientRow& row = a.rows[i];
      SCOPED_TRACE(row.client);
      if (i > 0) {
        const ClientRow& prev = a.rows[i - 1];
        EXPECT_TRUE(prev.requests > row.requests ||
                    (prev.requests == row.requests && prev.client < row.client));
      }
      ASSERT_TRUE(want.count(row.client));
      const Want& w = want.at(row.client);
      EXPECT_EQ(row.requests, w.requests);
      EXPECT_EQ(row.errors_4xx, w.e4);
      EXPECT_EQ(row.errors_5xx, w.e5);
      ASSERT_TRUE(row.share.has_value());
      EXPECT_DOUBLE_EQ(*row.share, std::round(static_cast<double>(w.requests) /
                                              static_cast<double>(total) * 1e6) / 1e6);
      EXPECT_TRUE(row.latency_ms.p95.has_value());
    }
  }

  size_t CompactClientBlocks() {
    std::vector<BlockGroup> groups;
    for (int64_t d = day_ - 2; d <= day_; ++d) {
      for (BlockKind k : {BlockKind::kClient, BlockKind::kClientEndpoint,
                          BlockKind::kCustomerClient}) {
        for (uint16_t s = 0; s < BlockShards(Tier::kDay); ++s) groups.push_back({k, Tier::kDay, d, s});
      }
    }
    BlockCompactor compactor(&client_, keys_, SinkOptions{});
    auto r = compactor.Compact(groups);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return compactor.stats().compacted;
  }

  RedisClient client_;
  std::string prefix_;
  BlockKeys keys_;
  int64_t day_;
  ManualClock clock_;
  std::shared_ptr<BlockCache> cache_;
  int batches_ = 0;
};

TEST_F(ClientsTest, AllEndpointAndCustomerEqualTheLinesBeforeAndAfterCompaction) {
  const std::vector<Line> lines = Traffic(5000, 182, /*with_agent=*/true);
  Write(lines, kFormat, 600);
  const auto all = Count(lines, "", "");
  ASSERT_GT(all.size(), 20u);  // many SDK versions
  ASSERT_TRUE(all.count("none"));
  ASSERT_TRUE(all.count("other"));  // the hostile user agent
  ASSERT_TRUE(all.count("Mozilla"));
  const std::string endpoint = "GET /v1/legacy-export", customer = "cust7";

  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass == 0 ? "before compaction" : "after compaction");
    auto engine = Engine();
    auto a = engine->Clients(Params());
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ExpectExact(*a, all);
    auto e = engine->Clients(Params(endpoint));
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    ExpectExact(*e, Count(lines, endpoint, ""));
    auto c = engine->Clients(Params("", customer));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    ExpectExact(*c, Count(lines, "", customer));
    // The limit keeps the first rows; total and count stay those of all clients.
    auto top = engine->Clients(Params("", "", 3));
    ASSERT_TRUE(top.ok());
    ASSERT_EQ(top->rows.size(), 3u);
    EXPECT_EQ(top->client_count, all.size());
    EXPECT_EQ(top->rows[0].client, a->rows[0].client);
    const nlohmann::json j = ToJson(*a);
    EXPECT_EQ(j["logged"], true);
    EXPECT_EQ(j["resolution"], "day");
    EXPECT_EQ(j["clients"].size(), all.size());
    if (pass == 0) {
      ASSERT_GT(CompactClientBlocks(), 0u);
    }
  }
}

TEST_F(ClientsTest, SourceWithoutUserAgentLogsNoClients) {
  const std::vector<Line> lines = Traffic(800, 7, /*with_agent=*/false);
  Write(lines, kFormatNoAgent, 300);
  auto engine = Engine();
  for (const QueryParams& p : {Params(), Params("GET /v1/orders"), Params("", "cust1")}) {
    auto a = engine->Clients(p);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_FALSE(a->logged);
    EXPECT_TRUE(a->rows.empty());
    EXPECT_EQ(a->total_requests, 0u);
    const nlohmann::json j = ToJson(*a);
    EXPECT_EQ(j["logged"], false);
    EXPECT_NE(j["note"].get<std::string>().find("$http_user_agent"), std::string::npos);
  }
  // The endpoint series are there: the lines were counted.
  auto top = engine->Endpoints(Params("", "", 10));
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->total_requests, lines.size());
}

TEST_F(ClientsTest, RefusesHostAndBothFilters) {
  auto engine = Engine();
  QueryParams both = Params("GET /v1/orders", "cust1");
  EXPECT_EQ(engine->Clients(both).status().code(), StatusCode::kInvalidArgument);
  QueryParams host = Params();
  host.filter.host = "web1";
  EXPECT_EQ(engine->Clients(host).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->Clients(Params("", "", 0)).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ClientsTest, DamagedClientBlockIsReported) {
  const std::vector<Line> lines = Traffic(300, 9, /*with_agent=*/true);
  Write(lines, kFormat, 1000);
  // Damage every stored kind-u block of the middle day.
  int damaged = 0;
  for (uint16_t s = 0; s < BlockShards(Tier::kDay); ++s) {
    const std::string key = keys_.ListKey({BlockKind::kClient, Tier::kDay, day_ - 1, s});
    auto n = client_.Command({"LLEN", key});
    ASSERT_TRUE(n.ok());
    if (n->integer == 0) continue;
    ASSERT_TRUE(client_.Command({"LSET", key, "0", "not a block"}).ok());
    ++damaged;
  }
  ASSERT_GT(damaged, 0);
  auto a = Engine()->Clients(Params());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->quality.partial());
  EXPECT_EQ(ToJson(*a)["partial"], true);
  uint64_t total = 0;
  for (const auto& [n, w] : Count(lines, "", "")) total += w.requests;
  EXPECT_LT(a->total_requests, total);
}

}  // namespace
}  // namespace apimeter
