// The query API's JSON writer: each typed answer (query/answers.h) becomes
// exactly the JSON of docs/api.md. Compared as dumped text, so a count that
// turned into a float ("12.0"), a missing null or an extra key fails.
#include "server/answer_json.h"

#include <gtest/gtest.h>

namespace apimeter {
namespace {

using nlohmann::json;

// 2026-11-26T10:00:00Z and friends.
constexpr int64_t kT0 = 1795687200;
constexpr int64_t kHour = 3600;

// The expected text, normalised (sorted keys, no spaces) without touching
// number types: "12" stays an integer and "12.0" a float.
std::string Canonical(const char* text) { return json::parse(text).dump(); }

AnswerRange Range() {
  AnswerRange r;
  r.from_s = kT0;
  r.to_s = kT0 + kHour;
  r.requested_from_s = kT0 + 7;
  r.requested_to_s = kT0 + kHour;
  r.adjusted = true;
  r.plan = {BucketRun{Tier::kMinute, kT0 / 60, kT0 / 60 + 60}};
  return r;
}

TEST(AnswerJsonTest, OverviewWritesEveryFieldAndNullsForNoData) {
  OverviewAnswer a;
  a.range = Range();
  a.filter.customer = "acme";
  a.requests = 10;
  a.errors_4xx = 2;
  a.errors_5xx = 1;
  a.error_rate = 0.3;
  a.status = {{200, 7}, {404, 2}, {503, 1}};
  a.status_class = {0, 7, 0, 2, 1};
  a.latency_ms.avg = 12.5;
  a.latency_ms.p50 = 10.0;
  a.latency_ms.max = 99.001;  // p90/p95/p99 left empty: null
  a.latency_count = 10;
  a.bytes_in = 100;
  a.bytes_out = 2000;
  a.rejected = 3;
  a.rps = 0.003;
  a.rps_seconds = 3600;
  EXPECT_EQ(ToJson(a).dump(), Canonical(R"({
    "from": "2026-11-26T10:00:00Z", "to": "2026-11-26T11:00:00Z",
    "requested_from": "2026-11-26T10:00:07Z", "requested_to": "2026-11-26T11:00:00Z",
    "adjusted": true,
    "plan": [{"tier": "minute", "from": "2026-11-26T10:00:00Z",
              "to": "2026-11-26T11:00:00Z", "buckets": 60}],
    "filter": {"customer": "acme"},
    "requests": 10, "errors_4xx": 2, "errors_5xx": 1, "error_rate": 0.3,
    "status": {"200": 7, "404": 2, "503": 1},
    "status_class": {"1xx": 0, "2xx": 7, "3xx": 0, "4xx": 2, "5xx": 1},
    "latency_ms": {"avg": 12.5, "p50": 10.0, "p90": null, "p95": null, "p99": null,
                   "max": 99.001},
    "latency_count": 10, "bytes_in": 100, "bytes_out": 2000, "rejected": 3,
    "rps": 0.003, "rps_seconds": 3600})"));

  // No data: every ratio and latency is null, never a 0 that looks measured.
  OverviewAnswer empty;
  empty.range = Range();
  EXPECT_TRUE(empty.no_data());
  const json j = ToJson(empty);
  EXPECT_EQ(j["requests"], 0);
  EXPECT_TRUE(j["error_rate"].is_null());
  EXPECT_TRUE(j["rps"].is_null());
  for (const char* k : {"avg", "p50", "p90", "p95", "p99", "max"}) {
    EXPECT_TRUE(j["latency_ms"][k].is_null()) << k;
  }
  EXPECT_EQ(j["status"], json::object());
  EXPECT_FALSE(j.contains("partial"));
  EXPECT_FALSE(j.contains("resolution"));
}

TEST(AnswerJsonTest, DayResolutionAndDamageAreSaid) {
  OverviewAnswer a;
  a.range = Range();
  a.quality.resolution = Tier::kDay;
  a.quality.damaged = {"am:B:d:20000:0", "am:B:d:20001:3"};
  EXPECT_TRUE(a.quality.partial());
  const json j = ToJson(a);
  EXPECT_EQ(j["resolution"], "day");
  EXPECT_EQ(j["note"],
            "customer \u00d7 endpoint series are stored per UTC day only: the answer covers whole "
            "UTC days");
  EXPECT_EQ(j["partial"], true);
  EXPECT_EQ(j["damaged"].dump(), R"(["am:B:d:20000:0","am:B:d:20001:3"])");
}

TEST(AnswerJsonTest, TopListNamesItsListAndRowKeyByKind) {
  TopListAnswer a;
  a.of = TopListAnswer::Of::kCustomers;
  a.range = Range();
  a.total_requests = 40;
  a.limit = 5;
  TopRow row;
  row.name = "glob\xffx";  // invalid UTF-8 from a log line
  row.requests = 10;
  row.share = 0.25;
  row.errors_4xx = 1;
  row.error_rate = 0.1;
  row.bytes_in = 5;
  row.bytes_out = 6;
  a.rows = {row};
  EXPECT_EQ(ToJson(a).dump(), Canonical(R"({
    "from": "2026-11-26T10:00:00Z", "to": "2026-11-26T11:00:00Z",
    "requested_from": "2026-11-26T10:00:07Z", "requested_to": "2026-11-26T11:00:00Z",
    "adjusted": true,
    "plan": [{"tier": "minute", "from": "2026-11-26T10:00:00Z",
              "to": "2026-11-26T11:00:00Z", "buckets": 60}],
    "filter": {},
    "total_requests": 40, "limit": 5,
    "customers": [{"customer": "glob\ufffdx", "requests": 10, "share": 0.25,
                   "errors_4xx": 1, "errors_5xx": 0, "error_rate": 0.1,
                   "latency_ms": {"avg": null, "p50": null, "p90": null, "p95": null,
                                  "p99": null, "max": null},
                   "bytes_in": 5, "bytes_out": 6}]})"));
  a.of = TopListAnswer::Of::kEndpoints;
  a.rows.clear();
  const json j = ToJson(a);
  EXPECT_EQ(j["endpoints"], json::array());
  EXPECT_FALSE(j.contains("customers"));
}

// Issue 18 part 2: the clients answer's shape, and a range without client
// series says why ("logged": false and a note naming $http_user_agent).
TEST(AnswerJsonTest, ClientsWriteEveryFieldAndSayWhenNotLogged) {
  ClientsAnswer a;
  a.range = Range();
  a.filter.endpoint = "GET /v1/legacy";
  a.logged = true;
  a.total_requests = 40;
  a.client_count = 3;
  a.limit = 1;
  ClientRow row;
  row.client = "acme-python/2.3";
  row.requests = 30;
  row.share = 0.75;
  row.errors_5xx = 3;
  row.error_rate = 0.1;
  row.bytes_out = 6;
  a.rows = {row};
  a.quality.resolution = Tier::kDay;
  a.quality.damaged = {"P:{d20000.1}:v"};
  json j = ToJson(a);
  ASSERT_TRUE(j.contains("note"));
  j.erase("note");
  EXPECT_EQ(j.dump(), Canonical(R"({
    "from": "2026-11-26T10:00:00Z", "to": "2026-11-26T11:00:00Z",
    "requested_from": "2026-11-26T10:00:07Z", "requested_to": "2026-11-26T11:00:00Z",
    "adjusted": true,
    "plan": [{"tier": "minute", "from": "2026-11-26T10:00:00Z",
              "to": "2026-11-26T11:00:00Z", "buckets": 60}],
    "filter": {"endpoint": "GET /v1/legacy"},
    "logged": true, "total_requests": 40, "client_count": 3, "limit": 1,
    "clients": [{"client": "acme-python/2.3", "requests": 30, "share": 0.75,
                 "errors_4xx": 0, "errors_5xx": 3, "error_rate": 0.1,
                 "latency_ms": {"avg": null, "p50": null, "p90": null, "p95": null,
                                "p99": null, "max": null},
                 "bytes_in": 0, "bytes_out": 6}],
    "resolution": "day", "partial": true, "damaged": ["P:{d20000.1}:v"]})"));
  ClientsAnswer none;
  none.range = Range();
  none.quality.resolution = Tier::kDay;
  const json n = ToJson(none);
  EXPECT_EQ(n["logged"], false);
  EXPECT_EQ(n["clients"], json::array());
  EXPECT_NE(n["note"].get<std::string>().find("$http_user_agent is not in the log_format"),
            std::string::npos);
}

TEST(AnswerJsonTest, SeriesPointsKeepEmptyPercentilesNull) {
  SeriesAnswer a;
  a.from_s = kT0;
  a.to_s = kT0 + 120;
  a.requested_from_s = kT0;
  a.requested_to_s = kT0 + 120;
  a.step_s = 60;
  a.step_chosen = true;
  a.filter.endpoint = "GET /v1/users";
  a.points = {{kT0, 3, 1, 0, 300, 1.5, 2.0, 2.5}, {kT0 + 60, 0, 0, 0, 0, {}, {}, {}}};
  EXPECT_FALSE(a.no_data());
  EXPECT_EQ(ToJson(a).dump(), Canonical(R"({
    "from": "2026-11-26T10:00:00Z", "to": "2026-11-26T10:02:00Z",
    "requested_from": "2026-11-26T10:00:00Z", "requested_to": "2026-11-26T10:02:00Z",
    "step_s": 60, "step_chosen": true, "filter": {"endpoint": "GET /v1/users"},
    "points": [
      {"t": "2026-11-26T10:00:00Z", "requests": 3, "errors_4xx": 1, "errors_5xx": 0,
       "bytes_out": 300, "p50": 1.5, "p95": 2.0, "p99": 2.5},
      {"t": "2026-11-26T10:01:00Z", "requests": 0, "errors_4xx": 0, "errors_5xx": 0,
       "bytes_out": 0, "p50": null, "p95": null, "p99": null}]})"));
  a.points.erase(a.points.begin());
  EXPECT_TRUE(a.no_data());
}

TEST(AnswerJsonTest, SlowWritesTimesAndMilliseconds) {
  SlowAnswer a;
  a.from_s = kT0;
  a.to_s = kT0 + kHour;
  a.limit = 20;
  a.malformed = 1;
  SlowRequest s;
  s.time_us = kT0 * 1000000 + 1500000;  // 1.5 s into the hour
  s.latency_us = 2500400;
  s.status = 504;
  s.host = "web1";
  s.endpoint = "POST /v1/orders";
  s.customer = "acme";
  a.requests = {s};
  EXPECT_EQ(ToJson(a).dump(), Canonical(R"({
    "from": "2026-11-26T10:00:00Z", "to": "2026-11-26T11:00:00Z", "filter": {},
    "limit": 20, "malformed": 1,
    "requests": [{"time": "2026-11-26T10:00:01Z", "time_us": 1795687201500000,
                  "endpoint": "POST /v1/orders", "customer": "acme", "status": 504,
                  "latency_ms": 2500.4, "host": "web1"}]})"));
}

TEST(AnswerJsonTest, HeatmapCountsStayIntegersAndEmptyCellsNull) {
  HeatmapAnswer a;
  a.from_s = kT0;
  a.to_s = kT0 + 2 * kHour;
  a.requested_from_s = kT0;
  a.requested_to_s = kT0 + 2 * kHour;
  a.step_s = kHour;
  a.metric = HeatmapMetric::kRequests;
  a.limit = 10;
  a.endpoints = {"GET /a", "GET /b"};
  a.times = {kT0, kT0 + kHour};
  a.cells = {{12.0, std::nullopt}, {std::nullopt, 3.0}};
  EXPECT_EQ(ToJson(a).dump(), Canonical(R"({
    "from": "2026-11-26T10:00:00Z", "to": "2026-11-26T12:00:00Z",
    "requested_from": "2026-11-26T10:00:00Z", "requested_to": "2026-11-26T12:00:00Z",
    "step_s": 3600, "metric": "requests", "limit": 10,
    "endpoints": ["GET /a", "GET /b"],
    "times": ["2026-11-26T10:00:00Z", "2026-11-26T11:00:00Z"],
    "cells": [[12, null], [null, 3]]})"));
  a.metric = HeatmapMetric::kP99;
  a.cells = {{12.0, std::nullopt}, {std::nullopt, 3.25}};
  const json j = ToJson(a);
  EXPECT_EQ(j["metric"], "p99");
  EXPECT_EQ(j["cells"].dump(), "[[12.0,null],[null,3.25]]");
}

TEST(AnswerJsonTest, AnErrorStaysTheSameError) {
  const Result<OverviewAnswer> bad = Status::InvalidArgument("from must be before to");
  const Result<json> j = ToJson(bad);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(j.status().message(), "from must be before to");
}

}  // namespace
}  // namespace apimeter
