// Customer usage reports and attribution against a real redis-server: data
// written by RedisSink (the real writer), reports built from QueryEngine
// answers, and every number checked against values computed directly from
// the same requests. The CSV is parsed back, the PDF's text is extracted
// with pdftotext and the PDF is rendered to PNG (pdftoppm) into the build's
// artifacts directory for a person to look at.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include <gtest/gtest.h>

#include "report/csv.h"

#include "aggregator/aggregator.h"
#include "common/time_util.h"
#include "report/attribution.h"
#include "report/report_model.h"
#include "report/report_render.h"
#include "report/report_routes.h"
#include "sink/block_keys.h"
#include "sink/block_sink.h"
#include "sink/redis_sink.h"
#include "sink/standalone_flush.h"
#include "tests/query/test_data.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using nlohmann::json;
using testing::Compute;
using testing::Expected;
using testing::TestRedis;
using testing::TestRequest;

constexpr int64_t kHour = 3600, kDay = 86400;

// RFC 4180 reader for the tests: quoted fields, doubled quotes, CRLF records.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field);
      field.clear();
      was_quoted = false;
    } else if (c == '\r') {
      EXPECT_TRUE(i + 1 < text.size() && text[i + 1] == '\n') << "CR without LF at " << i;
    } else if (c == '\n') {
      EXPECT_TRUE(i > 0 && text[i - 1] == '\r') << "LF without CR at " << i;
      rows.back().push_back(field);
      field.clear();
      was_quoted = false;
      rows.emplace_back();
    } else {
      field += c;
    }
  }
  EXPECT_TRUE(rows.back().empty() && field.empty()) << "last record must end with CRLF";
  rows.pop_back();
  return rows;
}

std::string Shell(const std::string& command) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe.get())) > 0) out.append(buf.data(), n);
  return out;
}

std::string ArtifactPath(const std::string& name) {
  std::filesystem::create_directories(APIMETER_ARTIFACTS_DIR);
  return std::string(APIMETER_ARTIFACTS_DIR) + "/" + name;
}

void ExpectPercentile(const json& ms, const Expected& e, double p) {
  ASSERT_TRUE(ms.is_number()) << "p" << p;
  const double exact_ms = e.Percentile(p) / 1000.0;
  EXPECT_NEAR(ms.get<double>(), exact_ms, exact_ms * 0.01 + 0.0005 + 1e-9) << "p" << p;
}

class ReportTest : public ::testing::Test {
 protected:
  ReportTest()
      : client_(TestRedis::Get().endpoint()),
        clock_((day_ + 1) * kDay * 1000000 + 12 * kHour * 1000000LL),
        engine_(&client_, *schema_, RetentionSeconds{}, &clock_),
        customers_(std::map<std::string, std::string>{{"k_0123456789ab", "Initech"},
                                                      {"k_aaaaaaaaaaaa", "Quiet Corp"}}) {}

  // The data is written once for the suite (the tests only read it).
  static void SetUpTestSuite() {
    day_ = FloorDiv(SystemClock().NowSeconds(), kDay) - 1;
    schema_ = std::make_unique<KeySchema>(TestRedis::Get().UniquePrefix("report"));
    // Three full days before today plus this morning; the busiest day is the middle one.
    requests_ = testing::MixedRequests(From(), From() + kDay, 3000, 11);
    auto more = testing::MixedRequests(From() + kDay, From() + 2 * kDay, 6000, 12);
    requests_.insert(requests_.end(), more.begin(), more.end());
    more = testing::MixedRequests(From() + 2 * kDay, To() + 11 * kHour, 4000, 13);
    requests_.insert(requests_.end(), more.begin(), more.end());
    // The customers file maps k_0123456789ab to "Initech": store it by name.
    for (TestRequest& r : requests_) {
      if (r.customer == "k_0123456789ab") r.customer = "Initech";
    }
    // One v1 flush of 13,000 requests over three days: its scripts take
    // seconds on a loaded 2-core machine (CI), beyond the 5 s default that
    // made this seed time out. The seed is set-up, not what is tested.
    RedisEndpoint seed_endpoint = TestRedis::Get().endpoint();
    seed_endpoint.command_timeout = std::chrono::seconds(60);
    RedisClient client(seed_endpoint);
    ManualClock clock((day_ + 1) * kDay * 1000000);
    ASSERT_TRUE(client.Connect().ok());
    RedisSink sink(&client, *schema_, SinkOptions{}, &clock);
    Status st = sink.Flush(testing::BatchFor(requests_, false));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  void SetUp() override { ASSERT_TRUE(client_.Connect().ok()); }

  static int64_t From() { return (day_ - 2) * kDay; }
  static int64_t To() { return (day_ + 1) * kDay; }  // today 00:00 UTC, exclusive

  json Report(const std::string& customer, int64_t from, int64_t to, int64_t top = 10) {
    ReportRequest req{customer, from, to, top};
    Result<json> r = BuildCustomerReport(engine_, customers_, req, clock_.NowSeconds());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : json();
  }

  template <typename Keep>
  Expected Truth(int64_t from, int64_t to, Keep keep) const {
    return Compute(requests_, from, to, keep);
  }
  Expected TruthFor(const std::string& customer, int64_t from, int64_t to) const {
    return Truth(from, to, [&](const TestRequest& r) { return r.customer == customer; });
  }

  static inline int64_t day_ = 0;
  static inline std::unique_ptr<KeySchema> schema_;
  static inline std::vector<TestRequest> requests_;
  RedisClient client_;
  ManualClock clock_;
  QueryEngine engine_;
  CustomerDirectory customers_;
};

TEST_F(ReportTest, NumbersAreExactAgainstTheRequests) {
  const json r = Report("acme", From(), To());
  const Expected e = TruthFor("acme", From(), To());
  ASSERT_GT(e.requests, 3000u);
  EXPECT_EQ(r["customer"]["name"], "acme");
  EXPECT_EQ(r["customer"]["id"], nullptr);
  EXPECT_EQ(r["period"]["from"], FormatIso8601(From()));
  EXPECT_EQ(r["period"]["to"], FormatIso8601(To()));
  EXPECT_EQ(r["period"]["days"], 3);
  EXPECT_EQ(r["period"]["adjusted"], false);
  EXPECT_EQ(r["generated_at"], FormatIso8601(clock_.NowSeconds()));
  const json& t = r["totals"];
  EXPECT_EQ(t["requests"], e.requests);
  EXPECT_EQ(t["errors_4xx"], e.e4);
  EXPECT_EQ(t["errors_5xx"], e.e5);
  EXPECT_EQ(t["bytes_in"], e.bytes_in);
  EXPECT_EQ(t["bytes_out"], e.bytes_out);
  EXPECT_NEAR(t["rate_4xx"].get<double>(), double(e.e4) / double(e.requests), 1e-6);
  EXPECT_NEAR(t["rate_5xx"].get<double>(), double(e.e5) / double(e.requests), 1e-6);
  for (double p : {50.0, 95.0, 99.0}) {
    ExpectPercentile(t["latency_ms"]["p" + std::to_string(int(p))], e, p);
  }
  // Days: exact per day; the peak is the middle day.
  ASSERT_EQ(r["daily"].size(), 3u);
  uint64_t best = 0;
  std::string best_day;
  for (int d = 0; d < 3; ++d) {
    const Expected de = TruthFor("acme", From() + d * kDay, From() + (d + 1) * kDay);
    EXPECT_EQ(r["daily"][d]["date"], FormatDate(From() + d * kDay));
    EXPECT_EQ(r["daily"][d]["requests"], de.requests);
    EXPECT_EQ(r["daily"][d]["errors_5xx"], de.e5);
    EXPECT_EQ(r["daily"][d]["bytes_out"], de.bytes_out);
    if (de.requests > best) best = de.requests, best_day = FormatDate(From() + d * kDay);
  }
  EXPECT_EQ(r["peak_day"]["date"], best_day);
  EXPECT_EQ(r["peak_day"]["requests"], best);
  EXPECT_EQ(r["peak_day"]["date"], FormatDate(From() + kDay));
  // Peak hour: the busiest hour of the period, earliest on ties.
  uint64_t best_hour_n = 0;
  int64_t best_hour = 0;
  for (int64_t h = From(); h < To(); h += kHour) {
    const uint64_t n = TruthFor("acme", h, h + kHour).requests;
    if (n > best_hour_n) best_hour_n = n, best_hour = h;
  }
  EXPECT_EQ(r["peak_hour"]["hour"], FormatIso8601(best_hour));
  EXPECT_EQ(r["peak_hour"]["requests"], best_hour_n);
  // Endpoints: each row exact, the rest by difference.
  const json& eps = r["endpoints"];
  ASSERT_EQ(eps["rows"].size(), 4u);
  uint64_t listed = 0;
  for (const json& row : eps["rows"]) {
    const std::string name = row["endpoint"];
    const Expected ee = Truth(From(), To(), [&](const TestRequest& q) {
      return q.customer == "acme" && q.endpoint == name;
    });
    EXPECT_EQ(row["requests"], ee.requests) << name;
    EXPECT_EQ(row["errors_4xx"], ee.e4) << name;
    EXPECT_EQ(row["bytes_out"], ee.bytes_out) << name;
    EXPECT_NEAR(row["share"].get<double>(), double(ee.requests) / double(e.requests), 1e-6);
    ExpectPercentile(row["latency_ms"]["p95"], ee, 95);
    listed += ee.requests;
  }
  EXPECT_EQ(eps["other_requests"], 0);
  EXPECT_EQ(listed, e.requests);
  // The suite's requests carry no User-Agent: the one note is that clients
  // were not logged (ClientsNotLoggedAreNullWithANote).
  EXPECT_EQ(r["notes"], json::array({"clients not logged: " + std::string(kClientsNotLogged)}));
}

// Requests written without $http_user_agent: the clients section is null
// and a note says why, in every format; never a table of zeros.
TEST_F(ReportTest, ClientsNotLoggedAreNullWithANote) {
  const json r = Report("acme", From(), To());
  ASSERT_TRUE(r.contains("clients"));
  EXPECT_TRUE(r["clients"].is_null()) << r["clients"];
  const std::string note = "clients not logged: " + std::string(kClientsNotLogged);
  EXPECT_EQ(r["notes"].back(), note);
  const std::string csv_body = *RenderReport(r, ReportFormat::kCsv);
  EXPECT_NE(csv_body.find("\r\nclients_not_logged,acme,"), std::string::npos) << csv_body;
  EXPECT_EQ(csv_body.find("\r\nclient,"), std::string::npos);
  const std::string html = *RenderReport(r, ReportFormat::kHtml);
  EXPECT_NE(html.find("Not logged: " + std::string(kClientsNotLogged)), std::string::npos);
}

TEST_F(ReportTest, TopLimitsEndpointsAndTheRestIsExactByDifference) {
  const json r = Report("acme", From(), To(), 2);
  const json& eps = r["endpoints"];
  ASSERT_EQ(eps["rows"].size(), 2u);
  const uint64_t total = r["totals"]["requests"];
  const uint64_t listed =
      eps["rows"][0]["requests"].get<uint64_t>() + eps["rows"][1]["requests"].get<uint64_t>();
  EXPECT_EQ(eps["other_requests"], total - listed);
  EXPECT_GT(eps["other_requests"].get<uint64_t>(), 0u);
}

TEST_F(ReportTest, CustomerIsFoundByNameOrIdAndUnknownIsNotFound) {
  const json by_id = Report("k_0123456789ab", From(), To());
  EXPECT_EQ(by_id["customer"]["name"], "Initech");
  EXPECT_EQ(by_id["customer"]["id"], "k_0123456789ab");
  EXPECT_EQ(by_id["totals"]["requests"], TruthFor("Initech", From(), To()).requests);
  EXPECT_EQ(Report("Initech", From(), To())["totals"], by_id["totals"]);

  ReportRequest req{"nobody", From(), To(), 10};
  Result<json> r = BuildCustomerReport(engine_, customers_, req, clock_.NowSeconds());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("nobody"), std::string::npos);

  // Listed but silent: a report of zeros, and null where nothing can be computed.
  const json quiet = Report("Quiet Corp", From(), To());
  EXPECT_EQ(quiet["totals"]["requests"], 0);
  EXPECT_EQ(quiet["totals"]["rate_4xx"], nullptr);
  EXPECT_EQ(quiet["totals"]["latency_ms"]["p95"], nullptr);
  EXPECT_EQ(quiet["peak_day"], nullptr);
  EXPECT_EQ(quiet["peak_hour"], nullptr);
  EXPECT_EQ(quiet["daily"].size(), 3u);
}

TEST_F(ReportTest, EmptyOrInvertedRangeIsInvalidAndPartialDaysAreWidened) {
  for (auto [from, to] : {std::pair{To(), To()}, std::pair{To(), From()}}) {
    ReportRequest req{"acme", from, to, 10};
    Result<json> r = BuildCustomerReport(engine_, customers_, req, clock_.NowSeconds());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind("from must be before to", 0), 0u) << r.status().message();
  }
  const json r = Report("acme", From() + 5 * kHour + 17, To() - kDay - 3 * kHour);
  EXPECT_EQ(r["period"]["from"], FormatIso8601(From()));
  EXPECT_EQ(r["period"]["to"], FormatIso8601(To() - kDay));
  EXPECT_EQ(r["period"]["adjusted"], true);
  EXPECT_EQ(r["totals"]["requests"], TruthFor("acme", From(), To() - kDay).requests);
}

TEST_F(ReportTest, CsvParsesBackToTheSameNumbers) {
  const json r = Report("acme", From(), To());
  const std::string text = *ReportCsv(r);
  const auto rows = ParseCsv(text);
  ASSERT_GE(rows.size(), 1u + 1 + 3 + 4 + 1 + 2);
  const auto& head = rows[0];
  EXPECT_EQ(head[0], "record");
  auto col = [&](const std::string& name) {
    return static_cast<size_t>(std::find(head.begin(), head.end(), name) - head.begin());
  };
  for (const auto& row : rows) ASSERT_EQ(row.size(), head.size());
  std::map<std::string, int> kinds;
  for (size_t i = 1; i < rows.size(); ++i) ++kinds[rows[i][0]];
  EXPECT_EQ(kinds["total"], 1);
  EXPECT_EQ(kinds["day"], 3);
  EXPECT_EQ(kinds["endpoint"], 4);
  EXPECT_EQ(kinds["peak_day"], 1);
  EXPECT_EQ(kinds["peak_hour"], 1);
  const auto& total = rows[1];
  EXPECT_EQ(total[0], "total");
  EXPECT_EQ(total[col("customer")], "acme");
  EXPECT_EQ(total[col("requests")], r["totals"]["requests"].dump());
  EXPECT_EQ(total[col("bytes_in")], r["totals"]["bytes_in"].dump());
  EXPECT_EQ(total[col("bytes_out")], r["totals"]["bytes_out"].dump());
  EXPECT_DOUBLE_EQ(std::stod(total[col("latency_p99_ms")]),
                   r["totals"]["latency_ms"]["p99"].get<double>());
  uint64_t day_sum = 0;
  for (const auto& row : rows) {
    if (row[0] == "day") {
      day_sum += std::stoull(row[col("requests")]);
      EXPECT_EQ(row[col("bytes_in")], "");  // not in the daily series: empty, never 0
    }
  }
  EXPECT_EQ(day_sum, r["totals"]["requests"].get<uint64_t>());
}

TEST(ReportCsvTest, QuotesFieldsAsRfc4180Says) {
  json r = {
      {"customer", {{"name", "Acme, \"Inc\""}, {"id", nullptr}}},
      {"period", {{"from", "2026-11-01T00:00:00Z"}, {"to", "2026-11-02T00:00:00Z"}}},
      {"totals",
       {{"requests", 3}, {"latency_ms", {{"avg", 1.5}, {"p50", nullptr}, {"p95", 2}, {"p99", 2}}}}},
      {"daily", json::array()},
      {"endpoints",
       {{"rows", {{{"endpoint", "GET /a,b\r\nc"}, {"requests", 3}}}},
        {"other_requests", 0},
        {"other_share", 0}}},
      {"peak_day", nullptr},
      {"peak_hour", nullptr}};
  const std::string text = *ReportCsv(r);
  EXPECT_NE(text.find("\"Acme, \"\"Inc\"\"\""), std::string::npos) << text;
  const auto rows = ParseCsv(text);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1][1], "Acme, \"Inc\"");
  EXPECT_EQ(rows[2][5], "GET /a,b\r\nc");
  EXPECT_EQ(rows[1][14], "1.5");
  EXPECT_EQ(rows[1][15], "");  // null p50
  EXPECT_FALSE(ReportCsv(json{{"x", 1}}).ok());
}

TEST(ReportCsvTest, NamesThatLookLikeFormulasStayText) {
  // Endpoint and customer names come from logs: a spreadsheet must not run them.
  for (const char* name : {"=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"}) {
    EXPECT_EQ(csv::Value(json(name)), std::string("'") + name) << name;
  }
  EXPECT_EQ(csv::Value(json("GET /a=b")), "GET /a=b");
  EXPECT_EQ(csv::Value(json(-5)), "-5");  // numbers are numbers
  EXPECT_EQ(csv::Value(json("")), "");
}

TEST_F(ReportTest, PdfHasTheNumbersAndRendersToPng) {
  const json r = Report("k_0123456789ab", From(), To());
  Result<std::string> pdf = ReportPdf(r);
  ASSERT_TRUE(pdf.ok()) << pdf.status().ToString();
  ASSERT_EQ(pdf->rfind("%PDF-", 0), 0u);
  const std::string path = ArtifactPath("report_initech.pdf");
  std::ofstream(path, std::ios::binary) << *pdf;
  const std::string text = Shell(std::string(APIMETER_PDFTOTEXT) + " -layout " + path + " -");
  EXPECT_NE(text.find("API USAGE REPORT"), std::string::npos) << text;
  EXPECT_NE(text.find("Initech"), std::string::npos);
  EXPECT_NE(text.find("k_0123456789ab"), std::string::npos);
  EXPECT_NE(text.find(FormatDate(From()) + " – " + FormatDate(To() - 1) + " (3 days)"),
            std::string::npos)
      << text;
  const Expected e = TruthFor("Initech", From(), To());
  std::string count = std::to_string(e.requests);  // 4 digits: "1,234"
  if (count.size() > 3) count.insert(count.size() - 3, ",");
  EXPECT_NE(text.find(count), std::string::npos) << count << "\n" << text;
  for (const char* ep : {"GET /v1/orders/:id", "POST /v1/orders", "GET /v1/users"}) {
    EXPECT_NE(text.find(ep), std::string::npos) << ep;
  }
  EXPECT_NE(text.find("Peak day"), std::string::npos);
  EXPECT_NE(text.find(r["peak_day"]["date"].get<std::string>()), std::string::npos);
  EXPECT_NE(text.find("Page 1 of 1"), std::string::npos);
  const std::string png = ArtifactPath("report_initech");
  Shell(std::string(APIMETER_PDFTOPPM) + " -png -r 100 -singlefile " + path + " " + png);
  EXPECT_GT(std::filesystem::file_size(png + ".png"), 20000u);
}

TEST_F(ReportTest, LongEndpointTablesContinueOnAnotherPage) {
  json r = Report("acme", From(), To());
  json rows = json::array();
  for (int i = 0; i < 40; ++i) {
    json row = r["endpoints"]["rows"][0];
    row["endpoint"] = "GET /v1/endpoint-" + std::to_string(i) +
                      "/with/a/long/path/of/more/segments/than/fit/in/the/column";
    rows.push_back(row);
  }
  r["endpoints"]["rows"] = rows;
  const std::string path = ArtifactPath("report_long.pdf");
  std::ofstream(path, std::ios::binary) << *ReportPdf(r);
  const std::string text = Shell(std::string(APIMETER_PDFTOTEXT) + " " + path + " -");
  EXPECT_NE(text.find("Page 2 of 2"), std::string::npos) << text;
  EXPECT_NE(text.find("GET /v1/endpoint-39/"), std::string::npos);
  EXPECT_NE(text.find("…"), std::string::npos);  // names cut to fit the column
}

TEST_F(ReportTest, HtmlIsSelfContainedAndEscaped) {
  json r = Report("acme", From(), To());
  r["customer"]["name"] = "<b>acme</b>";
  const std::string html = *ReportHtml(r);
  EXPECT_NE(html.find("&lt;b&gt;acme&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<b>acme"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  std::ofstream(ArtifactPath("report_acme.html")) << html;
}

TEST_F(ReportTest, AttributionSharesCurveAndMatrixAreExact) {
  AttributionRequest req;
  req.from_s = From();
  req.to_s = To();
  req.limit = 2;
  Result<json> a = BuildAttribution(engine_, req, clock_.NowSeconds());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  const Expected all = Truth(From(), To(), [](const TestRequest&) { return true; });
  EXPECT_EQ((*a)["total"]["requests"], all.requests);
  EXPECT_EQ((*a)["active_customers"], 4);
  ASSERT_EQ((*a)["customers"].size(), 2u);
  EXPECT_EQ((*a)["customers"][0]["customer"], "acme");
  uint64_t cum = 0;
  for (const json& c : (*a)["customers"]) {
    const Expected ce = TruthFor(c["customer"], From(), To());
    cum += ce.requests;
    EXPECT_EQ(c["requests"], ce.requests);
    EXPECT_EQ(c["bytes"], ce.bytes_in + ce.bytes_out);
    EXPECT_NEAR(c["share_bytes"].get<double>(),
                double(ce.bytes_in + ce.bytes_out) / double(all.bytes_in + all.bytes_out), 1e-6);
    EXPECT_NEAR(c["cumulative_share_calls"].get<double>(), double(cum) / double(all.requests),
                1e-6);
  }
  EXPECT_EQ((*a)["others"]["customers"], 2);
  EXPECT_EQ((*a)["others"]["requests"], all.requests - cum);
  ASSERT_EQ((*a)["curve"].size(), 3u);
  EXPECT_EQ((*a)["curve"][2]["customers"], 4);
  EXPECT_EQ((*a)["curve"][2]["share_calls"], 1.0);
  const json& m = (*a)["matrix"];
  ASSERT_EQ(m["customers"].size(), 2u);
  ASSERT_EQ(m["endpoints"].size(), 4u);
  for (size_t i = 0; i < 2; ++i) {
    for (size_t j = 0; j < 4; ++j) {
      const std::string c = m["customers"][i], e = m["endpoints"][j];
      const uint64_t want = Truth(From(), To(), [&](const TestRequest& q) {
                              return q.customer == c && q.endpoint == e;
                            }).requests;
      EXPECT_EQ(m["cells"][i][j], want) << c << " " << e;
    }
    EXPECT_EQ(m["other_endpoints"][i], 0);
  }
  const auto rows = ParseCsv(*AttributionCsv(*a, "matrix"));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].back(), "total");
  EXPECT_EQ(rows[1][0], "acme");
  EXPECT_EQ(ParseCsv(*AttributionCsv(*a, "curve")).size(), 4u);

  // Fewer columns than the customers' endpoints: the rest is exact too.
  req.matrix_endpoints = 2;
  Result<json> narrow = BuildAttribution(engine_, req, clock_.NowSeconds());
  ASSERT_TRUE(narrow.ok()) << narrow.status().ToString();
  const json& nm = (*narrow)["matrix"];
  ASSERT_EQ(nm["endpoints"].size(), 2u);
  for (size_t i = 0; i < nm["customers"].size(); ++i) {
    const std::string c = nm["customers"][i];
    const std::string e0 = nm["endpoints"][0], e1 = nm["endpoints"][1];
    const uint64_t elsewhere = Truth(From(), To(), [&](const TestRequest& q) {
                                 return q.customer == c && q.endpoint != e0 && q.endpoint != e1;
                               }).requests;
    EXPECT_EQ(nm["other_endpoints"][i], elsewhere) << c;
    EXPECT_GT(elsewhere, 0u) << c;  // the test data gives each customer more endpoints
  }
  EXPECT_FALSE(AttributionCsv(*a, "bogus").ok());
}

TEST_F(ReportTest, RoutesAnswerWithTheModelAndClearErrors) {
  ReportRoutes routes(&engine_, customers_);
  const std::string from = std::to_string(From()), to = std::to_string(To());
  auto get = [&](const std::string& path, FormParams q) {
    std::optional<HttpResponse> r = routes.Route(path, q, clock_);
    EXPECT_TRUE(r.has_value()) << path;
    return r.value_or(HttpResponse{});
  };
  HttpResponse ok = get("/api/v1/report", {{"customer", "acme"}, {"from", from}, {"to", to}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["totals"], Report("acme", From(), To())["totals"]);

  HttpResponse csv = get("/api/v1/report",
                         {{"customer", "Initech"}, {"from", from}, {"to", to}, {"format", "csv"}});
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.headers["Content-Type"].rfind("text/csv", 0), 0u);
  EXPECT_EQ(csv.headers["Content-Disposition"], "attachment; filename=\"apimeter-Initech-" +
                                                    FormatDate(From()) + "_" +
                                                    FormatDate(To() - 1) + ".csv\"");
  HttpResponse pdf = get("/api/v1/report", {{"customer", "acme"}, {"format", "pdf"}});
  ASSERT_EQ(pdf.status, 200);
  EXPECT_EQ(pdf.body.rfind("%PDF-", 0), 0u);

  EXPECT_EQ(get("/api/v1/report", {{"customer", "nobody"}}).status, 404);
  EXPECT_EQ(get("/api/v1/report", {{"customer", "acme"}, {"from", to}, {"to", from}}).status, 400);
  EXPECT_EQ(get("/api/v1/report", {{"customer", "acme"}, {"from", to}, {"to", to}}).status, 400);
  EXPECT_EQ(get("/api/v1/report", {{"from", from}}).status, 400);
  EXPECT_EQ(get("/api/v1/report", {{"customer", "acme"}, {"format", "docx"}}).status, 400);
  HttpResponse unknown = get("/api/v1/report", {{"customer", "acme"}, {"form", "7d"}});
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(json::parse(unknown.body)["error"]["parameter"], "form");

  HttpResponse a = get("/api/v1/attribution", {{"from", from}, {"to", to}});
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(json::parse(a.body)["total"]["requests"],
            Truth(From(), To(), [](const TestRequest&) { return true; }).requests);
  HttpResponse acsv = get("/api/v1/attribution", {{"format", "csv"}, {"section", "customers"}});
  ASSERT_EQ(acsv.status, 200);
  EXPECT_EQ(ParseCsv(acsv.body)[0][0], "rank");
  EXPECT_EQ(get("/api/v1/attribution", {{"limit", "0"}}).status, 400);
  EXPECT_FALSE(routes.Route("/api/v1/overview", {}, clock_).has_value());
}

// Before the fix top=0 was reported as parameter "to" (a prefix of "top")
// and matrix_customers=-5 named no parameter at all.
TEST_F(ReportTest, OutOfRangeIntegersNameTheirParameter) {
  ReportRoutes routes(&engine_, customers_);
  struct Case {
    std::string path, name, value;
  };
  for (const Case& c : std::vector<Case>{{"/api/v1/report", "top", "0"},
                                         {"/api/v1/report", "top", "51"},
                                         {"/api/v1/report", "top", "x"},
                                         {"/api/v1/attribution", "matrix_customers", "-5"},
                                         {"/api/v1/attribution", "matrix_customers", "51"},
                                         {"/api/v1/attribution", "matrix_endpoints", "0"},
                                         {"/api/v1/attribution", "limit", "0"},
                                         {"/api/v1/attribution", "limit", "1001"}}) {
    FormParams q{{c.name, c.value}};
    if (c.path == "/api/v1/report") q["customer"] = "acme";
    std::optional<HttpResponse> r = routes.Route(c.path, q, clock_);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 400) << c.name << "=" << c.value << ": " << r->body;
    const json err = json::parse(r->body)["error"];
    EXPECT_EQ(err.value("parameter", ""), c.name) << c.name << "=" << c.value << ": " << r->body;
    EXPECT_EQ(err["message"].get<std::string>().rfind(c.name + " must be", 0), 0u) << r->body;
  }
}

// Storage v2 leaves a damaged block out of an answer and marks it partial;
// a report built from such answers must say so in every format, not look
// whole with numbers that are too low.
TEST(ReportPartialTest, ADamagedBlockMakesTheReportSayPartialInEveryFormat) {
  RedisClient client(testing::PatientEndpoint());
  ASSERT_TRUE(client.Connect().ok());
  const BlockKeys keys(TestRedis::Get().UniquePrefix("report-v2"));
  const int64_t day = FloorDiv(SystemClock().NowSeconds(), kDay) - 1;
  ManualClock clock((day + 1) * kDay * 1000000 + 12 * kHour * 1000000LL);
  const std::vector<TestRequest> requests =
      testing::MixedRequests(day * kDay + 9 * kHour, day * kDay + 12 * kHour, 2000, 31);
  {
    StandaloneFlush protocol(&client, keys);
    BlockSink sink(&client, &protocol, keys, SinkOptions{}, &clock);
    FlushBatch batch = testing::BatchFor(requests);
    batch.id = keys.prefix() + "-1";
    ASSERT_TRUE(sink.Flush(batch).ok());
  }
  auto cache = std::make_shared<BlockCache>(kDefaultBlockCacheBytes);
  QueryEngine engine(MakeV2SeriesStore(&client, keys, cache, V2StoreOptions{}),
                     RetentionSeconds{}, &clock);
  const CustomerDirectory none(std::map<std::string, std::string>{});
  const ReportRequest req{"acme", day * kDay, (day + 1) * kDay, 10};
  auto whole = BuildCustomerReport(engine, none, req, clock.NowSeconds());
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_FALSE(whole->contains("partial"));
  ASSERT_GT(whole->at("totals").at("requests").get<uint64_t>(), 0u);

  // The customer's day-tier block, which the whole-day report reads: its
  // only block, so the report has no requests left, and must not call the
  // customer unknown (NotFound) on that.
  const std::string key = keys.ListKey({BlockKind::kCustomer, Tier::kDay, day,
                                        BlockKeys::ShardOfName(Tier::kDay, "acme")});
  auto set = client.Command({"LSET", key, "0", "not a block at all"});
  ASSERT_TRUE(set.ok() && !set->is_error()) << key;
  auto r = BuildCustomerReport(engine, none, req, clock.NowSeconds());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->value("partial", false), true);
  EXPECT_EQ(r->at("damaged"), json::array({key}));
  EXPECT_EQ(r->at("totals").at("requests").get<uint64_t>(), 0u);
  const std::string note = r->at("notes").at(0).get<std::string>();
  EXPECT_EQ(note.rfind("PARTIAL DATA", 0), 0u) << note;
  EXPECT_NE(note.find(key), std::string::npos);
  auto csv_body = RenderReport(*r, ReportFormat::kCsv);
  ASSERT_TRUE(csv_body.ok());
  EXPECT_NE(csv_body->find("partial_damaged_block"), std::string::npos);
  EXPECT_NE(csv_body->find(key), std::string::npos);
  auto html = RenderReport(*r, ReportFormat::kHtml);
  ASSERT_TRUE(html.ok());
  EXPECT_NE(html->find("PARTIAL DATA"), std::string::npos);
}

// The clients section from logged user agents (storage v2, day-tier
// customer x client series written by the real aggregator and block sink):
// the customer's top 10 clients exact against the requests, the rest by
// difference, another customer's clients absent, and a note for the
// customer's requests that carried no client (a source without
// $http_user_agent). Every format shows the section.
TEST(ReportClientsTest, TheCustomersClientsAreExactInEveryFormat) {
  RedisClient client(testing::PatientEndpoint());
  ASSERT_TRUE(client.Connect().ok());
  const BlockKeys keys(TestRedis::Get().UniquePrefix("report-clients"));
  const int64_t day = FloorDiv(SystemClock().NowSeconds(), kDay) - 1;
  ManualClock clock((day + 1) * kDay * 1000000 + 12 * kHour * 1000000LL);
  struct Want {
    uint64_t requests = 0, e4 = 0, e5 = 0;
  };
  std::map<std::string, Want> want;  // acme's clients
  uint64_t acme_requests = 0;
  Aggregator agg(AggregatorOptions{.host = "web1"});
  // 12 clients for acme with 12, 13, ... 23 requests each (client-00 the
  // fewest), 4xx on every 5th request and 5xx on every 7th; globex has its
  // own client; 9 of acme's requests come from a source without the agent.
  int64_t t = day * kDay + 9 * kHour;
  for (int c = 0; c < 12; ++c) {
    const std::string name = "sdk-" + std::string(c < 10 ? "0" : "") + std::to_string(c) + "/1.0";
    for (int i = 0; i < 12 + c; ++i, t += 7) {
      LogRecord rec;
      rec.time_us = t * 1000000;
      rec.status = i % 5 == 4 ? 404 : i % 7 == 6 ? 503 : 200;
      rec.bytes_out = 100;
      rec.latency_us = 1000 * (1 + i);
      const std::string_view view = name;
      agg.Add(rec, "GET /v1/x", "acme", &view);
      Want& w = want[name];
      ++w.requests;
      w.e4 += rec.status == 404;
      w.e5 += rec.status == 503;
      ++acme_requests;
    }
  }
  for (int i = 0; i < 50; ++i, t += 7) {
    LogRecord rec;
    rec.time_us = t * 1000000;
    rec.status = 200;
    const std::string_view view = "globex-cli/2.0";
    agg.Add(rec, "GET /v1/x", "globex", &view);
  }
  for (int i = 0; i < 9; ++i, t += 7) {
    LogRecord rec;
    rec.time_us = t * 1000000;
    rec.status = 200;
    agg.Add(rec, "GET /v1/x", "acme");  // no $http_user_agent in this source
    ++acme_requests;
  }
  {
    StandaloneFlush protocol(&client, keys);
    BlockSink sink(&client, &protocol, keys, SinkOptions{}, &clock);
    FlushBatch batch = agg.TakeBatch();
    batch.id = keys.prefix() + "-1";
    Status st = sink.Flush(batch);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  auto cache = std::make_shared<BlockCache>(kDefaultBlockCacheBytes);
  QueryEngine engine(MakeV2SeriesStore(&client, keys, cache, V2StoreOptions{}), RetentionSeconds{},
                     &clock);
  const CustomerDirectory none(std::map<std::string, std::string>{});
  auto built = BuildCustomerReport(engine, none, {"acme", day * kDay, (day + 1) * kDay, 10},
                                   clock.NowSeconds());
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  const json& r = *built;
  ASSERT_EQ(r["totals"]["requests"], acme_requests);
  const json& c = r["clients"];
  ASSERT_TRUE(c.is_object()) << c;
  uint64_t with_client = 0;
  for (const auto& [name, w] : want) with_client += w.requests;
  EXPECT_EQ(c["limit"], kReportTopClients);
  EXPECT_EQ(c["client_count"], 12);
  EXPECT_EQ(c["total_requests"], with_client);
  ASSERT_EQ(c["rows"].size(), 10u);
  uint64_t listed = 0;
  for (size_t i = 0; i < 10; ++i) {
    const json& row = c["rows"][i];
    const std::string name = "sdk-" + std::string(11 - i < 10 ? "0" : "") + std::to_string(11 - i) +
                             "/1.0";  // most requests first
    ASSERT_EQ(row["client"], name) << i;
    const Want& w = want[name];
    EXPECT_EQ(row["requests"], w.requests) << name;
    EXPECT_EQ(row["errors_4xx"], w.e4) << name;
    EXPECT_EQ(row["errors_5xx"], w.e5) << name;
    EXPECT_NEAR(row["share"].get<double>(), double(w.requests) / double(with_client), 1e-6);
    EXPECT_NEAR(row["rate_4xx"].get<double>(), double(w.e4) / double(w.requests), 1e-6);
    EXPECT_EQ(row["bytes_out"], w.requests * 100);
    EXPECT_TRUE(row["latency_ms"]["p95"].is_number());
    listed += w.requests;
  }
  EXPECT_EQ(c["other_requests"], with_client - listed);  // sdk-00 and sdk-01: 12 + 13
  EXPECT_EQ(with_client - listed, 25u);
  EXPECT_EQ(r.dump().find("globex-cli"), std::string::npos);
  EXPECT_EQ(r["notes"], json::array({"clients cover " + std::to_string(with_client) +
                                     " of the customer's " + std::to_string(acme_requests) +
                                     " requests in the period: the others were logged without "
                                     "$http_user_agent"}));

  const auto rows = ParseCsv(*ReportCsv(r));
  const auto& head = rows[0];
  const size_t client_col = head.size() - 1;
  ASSERT_EQ(head[client_col], "client");
  std::vector<std::string> csv_clients;
  for (const auto& row : rows) {
    if (row[0] == "client") csv_clients.push_back(row[client_col]);
    if (row[0] == "other_clients") EXPECT_EQ(row[6], "25");  // requests
  }
  ASSERT_EQ(csv_clients.size(), 10u);
  EXPECT_EQ(csv_clients.front(), "sdk-11/1.0");
  EXPECT_EQ(head[6], "requests");
  const std::string html = *ReportHtml(r);
  EXPECT_NE(html.find("<h2>Clients</h2>"), std::string::npos);
  EXPECT_NE(html.find("sdk-11/1.0"), std::string::npos);
  EXPECT_NE(html.find("All other clients"), std::string::npos);
  const std::string path = ArtifactPath("report_clients_acme.pdf");
  std::ofstream(path, std::ios::binary) << *ReportPdf(r);
  const std::string text = Shell(std::string(APIMETER_PDFTOTEXT) + " -layout " + path + " -");
  EXPECT_NE(text.find("sdk-11/1.0"), std::string::npos) << text;
  EXPECT_NE(text.find("All other clients"), std::string::npos);
  Shell(std::string(APIMETER_PDFTOPPM) + " -png -r 80 " + path + " " +
        ArtifactPath("report_clients_acme"));
}

TEST(CustomerDirectoryTest, ResolvesIdsAndNames) {
  CustomerDirectory d(std::map<std::string, std::string>{{"k_0123456789ab", "Initech"}});
  EXPECT_EQ(d.Resolve("k_0123456789ab").name, "Initech");
  EXPECT_TRUE(d.Resolve("Initech").listed);
  EXPECT_EQ(d.Resolve("Initech").id, "k_0123456789ab");
  EXPECT_EQ(d.Resolve("k_ffffffffffff").id, "k_ffffffffffff");
  EXPECT_FALSE(d.Resolve("k_ffffffffffff").listed);
  EXPECT_EQ(d.Resolve("anonymous").id, "");
  EXPECT_EQ(ReportFileStem("../a b/c"), "_.._a_b_c");
  EXPECT_EQ(ReportFileStem(""), "_");
}

}  // namespace
}  // namespace apimeter
