#include <gtest/gtest.h>

#include "query/query_engine.h"

namespace apimeter {
namespace {

using nlohmann::json;

json OverviewJson() {
  return json::parse(R"({
    "from": "2026-11-26T10:00:00Z", "to": "2026-11-26T11:00:00Z",
    "requested_from": "2026-11-26T10:00:00Z", "requested_to": "2026-11-26T11:00:00Z",
    "adjusted": false,
    "plan": [{"tier": "hour", "from": "2026-11-26T10:00:00Z", "to": "2026-11-26T11:00:00Z", "buckets": 1}],
    "filter": {},
    "requests": 1200, "errors_4xx": 12, "errors_5xx": 3, "error_rate": 0.0125,
    "status": {"200": 1185, "404": 12, "503": 3},
    "status_class": {"1xx": 0, "2xx": 1185, "3xx": 0, "4xx": 12, "5xx": 3},
    "latency_ms": {"avg": 12.5, "p50": 10.101, "p90": 20.0, "p95": 30.0, "p99": 99.5, "max": 250.0},
    "latency_count": 1200, "bytes_in": 1000, "bytes_out": 50000, "rejected": 4,
    "rps": 0.333, "rps_seconds": 3600
  })");
}

TEST(RenderTable, Overview) {
  const std::string t = RenderTable("overview", OverviewJson());
  EXPECT_NE(t.find("range       2026-11-26T10:00:00Z .. 2026-11-26T11:00:00Z\n"), std::string::npos)
      << t;
  EXPECT_NE(t.find("requests    1200\n"), std::string::npos) << t;
  EXPECT_NE(t.find("4xx 12  5xx 3  rate 1.25%"), std::string::npos) << t;
  EXPECT_NE(t.find("avg 12.500  p50 10.101  p90 20.000  p95 30.000  p99 99.500  max 250.000"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("status      200=1185  404=12  503=3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("rejected    4\n"), std::string::npos) << t;
  EXPECT_NE(t.find("buckets     1 hour\n"), std::string::npos) << t;
}

TEST(RenderTable, OverviewWithNoDataShowsDashes) {
  json j = OverviewJson();
  j["requests"] = 0;
  j["error_rate"] = nullptr;
  for (const char* k : {"avg", "p50", "p90", "p95", "p99", "max"}) j["latency_ms"][k] = nullptr;
  j["adjusted"] = true;
  j["requested_from"] = "2026-11-26T10:00:30Z";
  const std::string t = RenderTable("overview", j);
  EXPECT_NE(t.find("rate -"), std::string::npos) << t;
  EXPECT_NE(t.find("avg -  p50 -  p90 -  p95 -  p99 -  max -"), std::string::npos) << t;
  EXPECT_NE(t.find("(requested 2026-11-26T10:00:30Z .. 2026-11-26T11:00:00Z)"), std::string::npos)
      << t;
}

TEST(RenderTable, DayResolutionAnswersSayWhyTheRangeIsWholeDays) {
  json j = OverviewJson();
  j["from"] = "2026-11-26T00:00:00Z";
  j["to"] = "2026-11-27T00:00:00Z";
  j["adjusted"] = true;
  j["resolution"] = "day";
  j["note"] = "customer x endpoint series are stored per UTC day only";
  const std::string t = RenderTable("overview", j);
  EXPECT_NE(t.find("2026-11-26T00:00:00Z .. 2026-11-27T00:00:00Z  (requested "
                   "2026-11-26T10:00:00Z .. 2026-11-26T11:00:00Z)  [day resolution]\n"),
            std::string::npos)
      << t;
  EXPECT_EQ(RenderTable("overview", OverviewJson()).find("resolution"), std::string::npos);
}

TEST(RenderTable, EndpointsAlignColumns) {
  json j = OverviewJson();
  j["endpoints"] = json::parse(R"([
    {"endpoint": "GET /v1/orders/:id", "requests": 900, "share": 0.75, "errors_4xx": 1,
     "errors_5xx": 0, "bytes_in": 0, "bytes_out": 123,
     "latency_ms": {"avg": 1.5, "p50": 1.0, "p90": 2.0, "p95": 3.0, "p99": 4.0, "max": 5.0}},
    {"endpoint": "POST /x", "requests": 30, "share": 0.025, "errors_4xx": 0,
     "errors_5xx": 2, "bytes_in": 0, "bytes_out": 7,
     "latency_ms": {"avg": null, "p50": null, "p90": null, "p95": null, "p99": null, "max": null}}
  ])");
  const std::string t = RenderTable("endpoints", j);
  const std::string expected =
      "2026-11-26T10:00:00Z .. 2026-11-26T11:00:00Z\n"
      "#  endpoint            REQUESTS   SHARE  4XX  5XX  AVG_MS  P50_MS  P95_MS  P99_MS  MAX_MS  "
      "BYTES_OUT\n"
      "1  GET /v1/orders/:id       900  75.00%    1    0   1.500   1.000   3.000   4.000   5.000  "
      "      123\n"
      "2  POST /x                   30   2.50%    0    2       -       -       -       -       -  "
      "        7\n";
  EXPECT_EQ(t, expected);
}

TEST(RenderTable, TimeseriesAndSlow) {
  json ts = {{"from", "a"},
             {"to", "b"},
             {"step_s", 60},
             {"points", json::array({{{"t", "2026-11-26T10:00:00Z"},
                                      {"requests", 0},
                                      {"errors_4xx", 0},
                                      {"errors_5xx", 0},
                                      {"p50", nullptr},
                                      {"p95", nullptr},
                                      {"p99", nullptr}}})}};
  EXPECT_EQ(RenderTable("timeseries", ts),
            "a .. b  step 60s\n"
            "TIME                  REQUESTS  4XX  5XX  P50_MS  P95_MS  P99_MS\n"
            "2026-11-26T10:00:00Z         0    0    0       -       -       -\n");
  json slow = {{"from", "a"},
               {"to", "b"},
               {"requests", json::array({{{"time", "2026-11-26T10:00:00Z"},
                                          {"latency_ms", 900.0},
                                          {"status", 200},
                                          {"endpoint", "GET /x"},
                                          {"customer", "acme"},
                                          {"host", "web1"}}})}};
  EXPECT_EQ(RenderTable("slow", slow),
            "a .. b\n"
            "TIME                  LATENCY_MS  STATUS  ENDPOINT  CUSTOMER  HOST\n"
            "2026-11-26T10:00:00Z     900.000     200  GET /x    acme      web1\n");
}

TEST(RenderTable, UnknownKindOrWrongShapeFallsBackToJson) {
  const json j = {{"x", 1}};
  EXPECT_EQ(RenderTable("nope", j), j.dump(2) + "\n");
  // Missing fields must not throw out of RenderTable.
  EXPECT_EQ(RenderTable("overview", j), j.dump(2) + "\n");
  EXPECT_EQ(RenderTable("endpoints", j), j.dump(2) + "\n");
  const json bad_utf8 = {{"x", std::string("\xff")}};
  EXPECT_NO_THROW((void)RenderTable("nope", bad_utf8));
}

}  // namespace
}  // namespace apimeter
