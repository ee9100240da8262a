// Notifier: payload contents, routing to webhooks, retries with doubling
// backoff, and the URL never appearing in full in logs. The HTTP call and
// the sleep are fakes: no sockets, no waiting.
#include "alerts/notifier.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace apimeter {
namespace {

AlertEvent Event() {
  AlertEvent e;
  e.kind = "firing";
  e.rule = "orders-p99";
  e.severity = "critical";
  e.labels = {{"team", "payments"}};
  e.scope = "endpoint";
  e.name = "GET /v1/orders/:id";
  e.metric = "p99";
  e.condition = "above 500ms";
  e.minute_s = 1'790'000'040;
  e.since_s = 1'790'000'040 - 240;
  e.value = 812.4;
  e.limit = 500;
  e.requests = 1234;
  e.window_s = 300;
  return e;
}

AlertsConfig TwoWebhooks() {
  AlertsConfig c;
  c.dashboard_url = "https://apimeter.example.com";
  WebhookConfig slack{
      "ops", "https://hooks.example.com/services/T000/SECRET", "slack", 2000, 2, 100, 1};
  WebhookConfig json{"pager", "http://127.0.0.1:9/hook?token=SECRET", "json", 2000, 0, 100, 2};
  c.webhooks = {slack, json};
  return c;
}

TEST(AlertNotifier, GenericPayloadCarriesRuleValuesAndLink) {
  const nlohmann::json j = GenericPayload(Event(), "https://apimeter.example.com");
  EXPECT_EQ(j["status"], "firing");
  EXPECT_EQ(j["rule"], "orders-p99");
  EXPECT_EQ(j["severity"], "critical");
  EXPECT_EQ(j["labels"]["team"], "payments");
  EXPECT_DOUBLE_EQ(j["value"].get<double>(), 812.4);
  EXPECT_DOUBLE_EQ(j["limit"].get<double>(), 500);
  EXPECT_TRUE(j["baseline"].is_null());
  // An hour around the alert, filtered to the endpoint.
  EXPECT_EQ(j["dashboard_url"],
            "https://apimeter.example.com/?range=custom&from=1789998000&to=1790001900"
            "&endpoint=GET%20%2Fv1%2Forders%2F%3Aid");
  EXPECT_TRUE(GenericPayload(Event(), "")["dashboard_url"].is_null());
}

TEST(AlertNotifier, SlackPayloadIsOneTextField) {
  const nlohmann::json j = SlackPayload(Event(), "https://apimeter.example.com");
  ASSERT_TRUE(j["text"].is_string());
  const std::string t = j["text"];
  EXPECT_NE(t.find("FIRING [critical] orders-p99"), std::string::npos) << t;
  EXPECT_NE(t.find("p99 = 812.4 ms (above 500ms, limit 500.0 ms)"), std::string::npos) << t;
  EXPECT_NE(t.find("<https://apimeter.example.com/?range=custom"), std::string::npos) << t;
}

TEST(AlertNotifier, RoutesToTheRulesWebhooksOrAll) {
  const AlertsConfig c = TwoWebhooks();
  Notifier n(c, nullptr, nullptr);
  AlertEvent e = Event();
  EXPECT_EQ(n.Route({e}).size(), 2u);
  e.webhooks = {"pager"};
  auto only = n.Route({e});
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0].webhook, "pager");
}

TEST(AlertNotifier, RetriesWithDoublingBackoffThenLogsWithoutTheUrl) {
  const AlertsConfig c = TwoWebhooks();
  std::vector<int64_t> sleeps;
  int calls = 0;
  Notifier n(
      c,
      [&](const std::string& url, const std::string& body, const HttpHeaders&, int64_t timeout_ms) {
        ++calls;
        EXPECT_EQ(url, c.webhooks[0].url);
        EXPECT_EQ(timeout_ms, 2000);
        EXPECT_TRUE(nlohmann::json::parse(body).contains("text"));
        return HttpPostResult{500, ""};
      },
      [&](int64_t ms) {
        sleeps.push_back(ms);
        return true;
      });
  std::ostringstream log;
  auto logger = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  const DeliveryOutcome out = n.Deliver(OutboxEntry{"ops", Event()});
  spdlog::set_default_logger(previous);
  EXPECT_EQ(out, DeliveryOutcome::kFailed);
  EXPECT_EQ(calls, 3);  // 1 + retries: 2
  EXPECT_EQ(sleeps, (std::vector<int64_t>{100, 200}));
  const std::string text = log.str();
  EXPECT_NE(text.find("giving up on orders-p99 firing after 3 attempts: HTTP 500"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("https://hooks.example.com"), std::string::npos);
  EXPECT_EQ(text.find("SECRET"), std::string::npos) << text;
}

TEST(AlertNotifier, SucceedsOnARetry) {
  const AlertsConfig c = TwoWebhooks();
  int calls = 0;
  Notifier n(
      c,
      [&](const std::string&, const std::string&, const HttpHeaders&, int64_t) {
        return ++calls == 1 ? HttpPostResult{0, "timed out after 2000 ms"}
                            : HttpPostResult{204, ""};
      },
      [](int64_t) { return true; });
  EXPECT_EQ(n.Deliver(OutboxEntry{"ops", Event()}), DeliveryOutcome::kDelivered);
  EXPECT_EQ(calls, 2);
}

TEST(AlertNotifier, ShutdownDuringBackoffStopsRetrying) {
  const AlertsConfig c = TwoWebhooks();
  int calls = 0;
  Notifier n(
      c,
      [&](const std::string&, const std::string&, const HttpHeaders&, int64_t) {
        ++calls;
        return HttpPostResult{503, ""};
      },
      [](int64_t) { return false; });
  EXPECT_EQ(n.Deliver(OutboxEntry{"ops", Event()}), DeliveryOutcome::kStopped);
  EXPECT_EQ(calls, 1);
}

TEST(AlertNotifier, MaskWebhookUrlKeepsSchemeAndHostOnly) {
  EXPECT_EQ(MaskWebhookUrl("https://hooks.slack.com/services/T/B/XYZ"), "https://hooks.slack.com");
  EXPECT_EQ(MaskWebhookUrl("http://user:pw@10.0.0.1:8080/x?token=1"), "http://10.0.0.1:8080");
  EXPECT_EQ(MaskWebhookUrl("nonsense"), "(invalid url)");
}

}  // namespace
}  // namespace apimeter
