// At-least-once delivery (docs/alerts.md, "Delivery") against a real
// redis-server: a claimed entry is handed to no one else, leaves only on an
// ack (2xx) or into the dead letters, goes back when its claim expires (the
// deliverer died) and is then delivered again with the same idempotency
// key; a resent commit writes nothing twice. And the Alertmanager and
// PagerDuty payloads, with the repeats that keep an alert active in
// Alertmanager. HTTP is a fake: no sockets.
#include <gtest/gtest.h>

#include <set>

#include "alerts/notifier.h"
#include "alerts/runner.h"
#include "alerts/store.h"
#include "common/time_util.h"
#include "tests/alerts/fake_source.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using testing::FakeSource;
using testing::TestRedis;

constexpr int64_t kT0 = 1'790'020'800 / 3600 * 3600;

AlertEvent Event(const std::string& kind = "firing") {
  AlertEvent e;
  e.kind = kind;
  e.rule = "orders-p99";
  e.severity = "critical";
  e.labels = {{"team", "payments"}, {"on-call.rota", "a"}};
  e.scope = "endpoint";
  e.name = "GET /v1/orders/:id";
  e.metric = "p99";
  e.condition = "above 500ms";
  e.minute_s = kT0 + 600;
  e.since_s = kT0 + 420;
  e.value = 812.4;
  e.limit = 500;
  e.requests = 1234;
  e.window_s = 300;
  return e;
}

AlertsConfig Hooks() {
  AlertsConfig c;
  c.dashboard_url = "https://apimeter.example.com";
  c.webhooks = {WebhookConfig{"ops", "http://127.0.0.1:9/ops", "json", 1000, 1, 10, 1, ""},
                WebhookConfig{"am", "http://127.0.0.1:9093/", "alertmanager", 3000, 0, 10, 2, ""},
                WebhookConfig{"pd", kPagerDutyEventsUrl, "pagerduty", 1000, 0, 10, 3, "RK"}};
  return c;
}

struct Post {
  std::string url;
  nlohmann::json body;
  HttpHeaders headers;
};

class DeliveryTest : public ::testing::Test {
 protected:
  DeliveryTest()
      : prefix_(TestRedis::Get().UniquePrefix("delivery")),
        redis_(TestRedis::Get().endpoint()),
        store_(&redis_, prefix_, "owner-a", 100),
        config_(Hooks()),
        names_(WebhookNames(config_)) {}

  Notifier MakeNotifier(int status) {
    return Notifier(
        config_,
        [this, status](const std::string& url, const std::string& body, const HttpHeaders& h,
                       int64_t) {
          posts_.push_back(Post{url, nlohmann::json::parse(body), h});
          return HttpPostResult{status, ""};
        },
        [](int64_t) { return true; }, &clock_);
  }
  // Commits `events` routed to the webhooks, as the lease holder would.
  void Enqueue(const Notifier& n, const std::vector<AlertEvent>& events, int64_t minute) {
    ASSERT_TRUE(*store_.AcquireLease(10000));
    AlertState st;
    st.last_minute = minute;
    ASSERT_TRUE(store_.Commit(st, events, n.Route(events), 10000).ok());
  }
  AlertStore::Sizes Sizes() { return *store_.OutboxSizes(names_); }

  std::string prefix_;
  RedisClient redis_;
  AlertStore store_;
  AlertsConfig config_;
  std::vector<std::string> names_;
  ManualClock clock_;
  std::vector<Post> posts_;
};

TEST_F(DeliveryTest, TheHeadLeavesOnlyWhenAcknowledgedAndOrderIsKept) {
  Notifier n = MakeNotifier(200);
  Enqueue(n, {Event()}, kT0);
  Enqueue(n, {Event("resolved")}, kT0 + 60);
  EXPECT_EQ(Sizes().queued, 6);
  auto c = store_.Claim("ops", 60000);
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->entry->event.kind, "firing");
  // Another deliverer finds the queue claimed: it neither gets the head nor
  // anything behind it (a resolve must not overtake its trigger).
  AlertStore other(&redis_, prefix_, "owner-b", 100);
  auto none = other.Claim("ops", 60000);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(Sizes().queued, 6);  // claimed is not removed
  EXPECT_EQ(Sizes().claimed, 1);
  ASSERT_TRUE(store_.Ack("ops", (*c)->raw).ok());
  EXPECT_EQ(Sizes().queued, 5);
  ASSERT_TRUE(store_.Ack("ops", (*c)->raw).ok());  // acknowledged twice: no-op
  EXPECT_EQ(Sizes().queued, 5);
  auto r = DrainOutbox(&store_, n, names_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->delivered, 5);
  const AlertStore::Sizes after = Sizes();
  EXPECT_EQ(after.queued + after.claimed + after.dead, 0);
  std::vector<std::string> pd;
  for (const Post& p : posts_) {
    if (p.body.contains("event_action")) pd.push_back(p.body["event_action"]);
  }
  EXPECT_EQ(pd, (std::vector<std::string>{"trigger", "resolve"}));
}

// The deliverer dies after sending (it never acknowledges): once its claim
// expires, the next deliverer sends the same entry, with the same key.
TEST_F(DeliveryTest, AnExpiredClaimIsDeliveredAgainWithTheSameKey) {
  Notifier n = MakeNotifier(200);
  Enqueue(n, {Event()}, kT0);
  auto first = store_.Claim("ops", 1);  // "sent", then the process died
  ASSERT_TRUE(first.ok() && first->has_value());
  AlertStore next(&redis_, prefix_, "owner-b", 100);
  std::optional<ClaimedEntry> again;
  for (int i = 0; i < 100000 && !again; ++i) {  // until Redis expired the 1 ms claim
    auto c = next.Claim("ops", 60000);
    ASSERT_TRUE(c.ok());
    again = *c;
  }
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->raw, (*first)->raw);
  EXPECT_EQ(again->entry->key, (*first)->entry->key);
  EXPECT_EQ(again->entry->key.size(), 32u);
  // The dead deliverer's late ack or renewal changes nothing of the new one's.
  EXPECT_FALSE(*store_.RenewClaim("ops", 60000));
  ASSERT_TRUE(store_.Release("ops").ok());
  EXPECT_EQ(Sizes().claimed, 1);
}

TEST_F(DeliveryTest, FailuresGoToTheDeadLettersAndShutdownLeavesTheHead) {
  Notifier failing = MakeNotifier(500);
  Enqueue(failing, {Event()}, kT0);
  auto r = DrainOutbox(&store_, failing, names_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->dead, 3);
  EXPECT_EQ(posts_.size(), 4u);  // ops: 1 + 1 retry; am, pd: 1
  EXPECT_EQ(Sizes().dead, 3);
  EXPECT_EQ(Sizes().queued, 0);

  Notifier stopping(
      config_,
      [](const std::string&, const std::string&, const HttpHeaders&, int64_t) {
        return HttpPostResult{503, ""};
      },
      [](int64_t) { return false; });
  Enqueue(failing, {Event()}, kT0 + 60);
  r = DrainOutbox(&store_, stopping, names_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->taken, 1);  // ops, stopped during its backoff
  EXPECT_EQ(Sizes().queued, 3);
  EXPECT_EQ(Sizes().claimed, 0);  // released: the next deliverer need not wait
}

// A cluster client resends a command after an I/O error: the same commit
// twice must not queue its notifications twice.
TEST_F(DeliveryTest, AResentCommitWritesNothingTwice) {
  Notifier n = MakeNotifier(200);
  Enqueue(n, {Event()}, kT0);
  Enqueue(n, {Event()}, kT0);
  EXPECT_EQ(store_.History(10)->size(), 1u);
  EXPECT_EQ(Sizes().queued, 3);
}

// Entries an older version left in the single outbox list are moved into
// the webhooks' queues and delivered.
TEST_F(DeliveryTest, TheOldSingleOutboxIsMigrated) {
  Notifier n = MakeNotifier(200);
  for (const OutboxEntry& o : n.Route({Event()})) {
    ASSERT_TRUE(redis_.Command({"RPUSH", store_.LegacyOutboxKey(), EncodeOutboxEntry(o)}).ok());
  }
  OutboxEntry gone{"removed-webhook", Event(), false, "k"};
  ASSERT_TRUE(redis_.Command({"RPUSH", store_.LegacyOutboxKey(), EncodeOutboxEntry(gone)}).ok());
  auto r = DrainOutbox(&store_, n, names_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->delivered, 3);
  EXPECT_EQ(Sizes().dead, 1);
  EXPECT_EQ(redis_.Command({"EXISTS", store_.LegacyOutboxKey()})->integer, 0);
}

TEST_F(DeliveryTest, EveryRequestCarriesTheIdempotencyKey) {
  Notifier n = MakeNotifier(202);
  Enqueue(n, {Event()}, kT0);
  ASSERT_TRUE(DrainOutbox(&store_, n, names_).ok());
  ASSERT_EQ(posts_.size(), 3u);
  std::set<std::string> keys;
  for (const Post& p : posts_) {
    ASSERT_EQ(p.headers.size(), 1u);
    EXPECT_EQ(p.headers[0].first, "Idempotency-Key");
    keys.insert(p.headers[0].second);
  }
  EXPECT_EQ(keys.size(), 3u);  // one per webhook
  EXPECT_EQ(posts_[0].body["idempotency_key"], posts_[0].headers[0].second);
  EXPECT_EQ(posts_[1].url, "http://127.0.0.1:9093/api/v2/alerts");
  EXPECT_EQ(posts_[1].body[0]["annotations"]["idempotency_key"], posts_[1].headers[0].second);
  EXPECT_EQ(posts_[2].url, kPagerDutyEventsUrl);
  EXPECT_EQ(posts_[2].body["payload"]["custom_details"]["idempotency_key"],
            posts_[2].headers[0].second);
  // Deterministic: the same event and webhook give the same key anywhere.
  EXPECT_EQ(IdempotencyKey("ops", Event(), false), n.Route({Event()})[0].key);
  EXPECT_NE(IdempotencyKey("ops", Event(), false), IdempotencyKey("ops", Event("resolved"), false));
}

TEST(AlertmanagerPayload, LabelsAnnotationsAndTimes) {
  const int64_t now = kT0 + 700;
  OutboxEntry firing{"am", Event(), false, "k1"};
  nlohmann::json a = AlertmanagerPayload(firing, "https://apimeter.example.com", now);
  ASSERT_TRUE(a.is_array());
  ASSERT_EQ(a.size(), 1u);
  const nlohmann::json& x = a[0];
  EXPECT_EQ(x["labels"]["alertname"], "orders-p99");
  EXPECT_EQ(x["labels"]["rule"], "orders-p99");
  EXPECT_EQ(x["labels"]["severity"], "critical");
  EXPECT_EQ(x["labels"]["endpoint"], "GET /v1/orders/:id");
  EXPECT_EQ(x["labels"]["team"], "payments");
  EXPECT_EQ(x["labels"]["on_call_rota"], "a");  // a valid Prometheus label name
  EXPECT_EQ(x["annotations"]["value"], "812.4 ms");
  EXPECT_EQ(x["annotations"]["limit"], "500.0 ms");
  EXPECT_NE(x["annotations"]["summary"].get<std::string>().find("orders-p99: p99 = 812.4 ms"),
            std::string::npos);
  EXPECT_EQ(x["startsAt"], FormatIso8601(kT0 + 600));  // the minute it fired
  EXPECT_EQ(x["endsAt"], FormatIso8601(now + kAlertmanagerHoldS));
  EXPECT_EQ(x["generatorURL"].get<std::string>().rfind("https://apimeter.example.com/?range=", 0),
            0u);

  AlertEvent resolved = Event("resolved");
  resolved.minute_s = kT0 + 900;
  resolved.since_s = kT0 + 600;  // when it fired
  const nlohmann::json r = AlertmanagerPayload(OutboxEntry{"am", resolved, false, "k2"}, "", now);
  EXPECT_EQ(r[0]["startsAt"], FormatIso8601(kT0 + 600));
  EXPECT_EQ(r[0]["endsAt"], FormatIso8601(kT0 + 960));
  EXPECT_FALSE(r[0].contains("generatorURL"));
}

TEST(PagerDutyPayload, TriggerAndResolveShareTheDedupKey) {
  const nlohmann::json t = PagerDutyPayload(Event(), "RK", "https://d.example", "k1");
  EXPECT_EQ(t["routing_key"], "RK");
  EXPECT_EQ(t["event_action"], "trigger");
  EXPECT_EQ(t["dedup_key"], "orders-p99/endpoint/GET /v1/orders/:id");
  EXPECT_EQ(t["payload"]["severity"], "critical");
  EXPECT_EQ(t["payload"]["source"], "endpoint GET /v1/orders/:id");
  EXPECT_EQ(t["payload"]["timestamp"], FormatIso8601(kT0 + 660));
  EXPECT_EQ(t["payload"]["custom_details"]["value"], 812.4);
  EXPECT_EQ(t["links"][0]["href"], t["client_url"]);
  const nlohmann::json r = PagerDutyPayload(Event("resolved"), "RK", "", "k2");
  EXPECT_EQ(r, (nlohmann::json{
                   {"routing_key", "RK"}, {"event_action", "resolve"}, {"dedup_key", t["dedup_key"]}}));
  AlertEvent longer = Event();
  longer.name = std::string(300, 'x');
  EXPECT_LE(PagerDutyDedupKey(longer).size(), 255u);
  EXPECT_EQ(PagerDutyDedupKey(longer), PagerDutyDedupKey(longer));
}

// While an alert fires, each pass repeats it to the Alertmanager webhooks
// only (Alertmanager would otherwise let it lapse); the other webhooks get
// the firing once.
TEST(AlertRepeats, FiringAlertsAreRepeatedToAlertmanagerOnly) {
  AlertsConfig c = Hooks();
  AlertRuleConfig r = testing::TestRule("errors", AlertMetric::kErrorRate, "error_rate", 0.05, "5%");
  c.rules.push_back(r);
  c.grace_s = 30;
  c.lease_ttl_ms = 10000;
  FakeSource src;
  for (int m = 0; m < 10; ++m) src.Add(SeriesKind::kAll, "", kT0 + m * 60, 100, m >= 2 ? 500 : 200, 10);
  RedisClient redis(TestRedis::Get().endpoint());
  AlertEngine engine(c, &src);
  AlertStore store(&redis, TestRedis::Get().UniquePrefix("repeat"), "o", 100);
  Notifier notifier(c, nullptr, nullptr);
  ManualClock clock;
  AlertRunner runner(c, &engine, &store, &notifier, &clock);
  auto close = [&](int m) { clock.Set((kT0 + m * 60 + 90) * kMicrosPerSecond); };
  close(1);
  ASSERT_TRUE(runner.Tick().ok());
  close(2);  // fires
  ASSERT_EQ(runner.Tick()->events, 1);
  close(4);  // still firing: one repeat for "am"
  ASSERT_EQ(runner.Tick()->events, 0);
  auto queued = [&](const std::string& w) {
    std::vector<OutboxEntry> out;
    auto r = redis.Command({"LRANGE", store.OutboxKey(w), "0", "-1"});
    for (const RedisReply& e : r->elements) out.push_back(*DecodeOutboxEntry(e.str));
    return out;
  };
  EXPECT_EQ(queued("ops").size(), 1u);  // the firing, once
  EXPECT_EQ(queued("pd").size(), 1u);
  const std::vector<OutboxEntry> am = queued("am");
  ASSERT_EQ(am.size(), 2u);  // the firing, then a repeat
  EXPECT_FALSE(am[0].repeat);
  EXPECT_TRUE(am[1].repeat);
  EXPECT_EQ(am[1].event.minute_s, kT0 + 240);
  EXPECT_EQ(am[1].event.since_s, kT0 + 120);  // fired at minute 2
  EXPECT_NE(am[1].key, am[0].key);
  // Its Alertmanager payload starts when the alert fired, like the firing's.
  EXPECT_EQ(AlertmanagerPayload(am[1], "", kT0)[0]["startsAt"],
            AlertmanagerPayload(am[0], "", kT0)[0]["startsAt"]);
}

}  // namespace
}  // namespace apimeter
