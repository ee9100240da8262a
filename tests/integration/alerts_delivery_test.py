"""End to end: alert destinations and at-least-once delivery (docs/alerts.md,
"Notifications"), over the backfilled log of alerts_test.py (a latency
incident on GET /v1/orders/:id, minutes 20-27, and a 5xx burst on
POST /v1/payments, minutes 40-44), evaluated with `apimeter alerts --once
--at T` or the daemon:

- AlertmanagerTest: a real Alertmanager (Debian's prometheus-alertmanager)
  lists the alert active (GET /api/v2/alerts), keeps it active through a
  repeat, and resolves it; its own webhook receiver gets firing then resolved.
- PagerDutyTest: a local Events API v2 receiver checks every documented field
  and sees trigger then resolve with one dedup_key per incident.
- RedeliveryTest: kill -9 of `apimeter alerts` while the receiver holds the
  request (sent, not acknowledged): the next deliverer sends it again with the
  same idempotency key, before the resolve that was queued behind it.
- ClusterAlertsTest: the evaluator, the deliverer and GET /api/v1/alerts
  against a Redis Cluster.
No sleeps as synchronisation: receivers signal events, and readiness is
polled against deadlines."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402
from alerts_test import MINUTES, write_log  # noqa: E402
from cluster import RedisCluster, wait_for  # noqa: E402

TOKEN = "integration-alerts-delivery-token-0123"
ORDERS_RULE = """  rules:
    - name: orders-p95
      severity: critical
      labels: {team: orders}
      metric: p95
      endpoint: GET /v1/orders/:id
      above: 500ms
      for: 3m
      min_requests: 10
"""
PAYMENTS_RULE = """    - name: payments-5xx
      metric: error_rate
      status: 5xx
      endpoint_match: '^POST /v1/pay'
      above: 10%
      for: 2m
      min_requests: 10
"""


class Receiver:
    """A local HTTP receiver recording (path, headers, JSON body) of every
    POST and answering `status`. With hold_first, the first request is
    recorded, signalled (got_first) and then held unanswered until release."""

    def __init__(self, status=200, reply=b"", hold_first=False):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.posts = []
        self.got_first = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.posts.append((self.path, dict(self.headers), json.loads(body)))
                    first = len(receiver.posts) == 1
                    receiver.changed.notify_all()
                if first and hold_first:
                    receiver.got_first.set()
                    receiver.release.wait(60)  # held: the sender is killed meanwhile
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass  # the sender is gone

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_posts(self, n, timeout=60):
        """Blocks until at least n requests arrived; returns them."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.posts) >= n, timeout):
                raise AssertionError(f"got {len(self.posts)} requests, expected {n}: {self.posts}")
            return list(self.posts)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class AlertsFixture(unittest.TestCase):
    """A private Redis (or cluster), the incident log backfilled into it, and
    a config with the test's webhooks and rules."""
    cluster = None

    @classmethod
    def make(cls, webhooks_yaml, rules_yaml, redis_yaml=None):
        cls.dir = tempfile.mkdtemp(prefix="apimeter-it-delivery-")
        cls.redis = None if redis_yaml else h.Redis()
        cls.prefix = f"itdel{os.getpid()}"
        cls.start = (int(time.time()) // 3600 - 3) * 3600
        log = os.path.join(cls.dir, "api.access.log")
        write_log(log, cls.start)
        cls.config = os.path.join(cls.dir, "apimeter.yaml")
        token_hash = h.run([h.BIN, "hash-token"], input=TOKEN + "\n").stdout.strip()
        url = cls.redis.url if cls.redis else "redis://unused"
        base = h.config_yaml([log], url, cls.prefix)
        if redis_yaml:
            base = base.replace(f'  url: "{url}"', redis_yaml)
        with open(cls.config, "w") as f:
            f.write(base + f"""server:
  tokens: ["{token_hash}"]
alerts:
  catch_up: 4h
  dashboard_url: http://dash.example
  webhooks:
{webhooks_yaml}{rules_yaml}""")
        h.run([h.BIN, "backfill", "--config", cls.config, "--no-progress"])

    @classmethod
    def tearDownClass(cls):
        if cls.redis:
            cls.redis.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def minute(self, m):
        return self.start + m * 60

    def once(self, m):
        """One pass as if now were 30 s after minute m ended (minute m closed)."""
        return h.run([h.BIN, "alerts", "--once", "--at", str(self.minute(m + 1) + 30),
                      "--config", self.config])

    def cli(self, *args):
        return self.redis.cli(*args).strip()


def parse_iso(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class AlertmanagerTest(AlertsFixture):
    @classmethod
    def setUpClass(cls):
        cls.am_receiver = Receiver()
        cls.am_dir = tempfile.mkdtemp(prefix="apimeter-it-am-")
        cls.am_port = h.free_port()
        am_config = os.path.join(cls.am_dir, "alertmanager.yml")
        with open(am_config, "w") as f:
            f.write(f"""route:
  receiver: hook
  group_by: [alertname, endpoint]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:{cls.am_receiver.port}/am
        send_resolved: true
""")
        cls.am = subprocess.Popen(
            [os.environ.get("APIMETER_ALERTMANAGER", "prometheus-alertmanager"), f"--config.file={am_config}",
             f"--storage.path={cls.am_dir}", f"--web.listen-address=127.0.0.1:{cls.am_port}",
             "--cluster.listen-address=", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        cls.am_url = f"http://127.0.0.1:{cls.am_port}"

        def ready():
            if cls.am.poll() is not None:
                raise AssertionError("alertmanager exited: " + cls.am.stderr.read())
            try:
                with urllib.request.urlopen(cls.am_url + "/-/ready", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_for(ready, "alertmanager ready", 30)
        cls.make(f"""    - name: am
      url: {cls.am_url}/
      format: alertmanager
""", ORDERS_RULE)

    @classmethod
    def tearDownClass(cls):
        cls.am.terminate()
        cls.am.communicate(timeout=30)
        cls.am_receiver.close()
        shutil.rmtree(cls.am_dir, ignore_errors=True)
        super().tearDownClass()

    def am_alerts(self):
        with urllib.request.urlopen(self.am_url + "/api/v2/alerts", timeout=10) as r:
            return [a for a in json.loads(r.read()) if a["labels"].get("rule") == "orders-p95"]

    def test_fires_repeats_and_resolves_in_a_real_alertmanager(self):
        self.once(0)
        out = self.once(24).stdout  # minutes 1..24: fires at minute 22
        self.assertIn("1 notifications delivered", out)
        wait_for(lambda: [a["status"]["state"] for a in self.am_alerts()] == ["active"],
                 "the alert active in Alertmanager", 30)
        alert = self.am_alerts()[0]
        self.assertEqual(alert["labels"], {
            "alertname": "orders-p95", "rule": "orders-p95", "severity": "critical",
            "endpoint": "GET /v1/orders/:id", "team": "orders"})
        self.assertEqual(parse_iso(alert["startsAt"]), self.minute(22))
        self.assertGreater(parse_iso(alert["endsAt"]), time.time())  # active, not lapsing
        self.assertTrue(alert["generatorURL"].startswith("http://dash.example/?range=custom"))
        self.assertIn("p95 = ", alert["annotations"]["summary"])
        self.assertEqual(len(alert["annotations"]["idempotency_key"]), 32)
        # Alertmanager's own receiver is notified: apimeter's alert is routable.
        posts = self.am_receiver.wait_posts(1)
        self.assertEqual(posts[0][2]["status"], "firing")
        self.assertEqual(posts[0][2]["alerts"][0]["labels"]["alertname"], "orders-p95")

        # Still firing at minute 25: a repeat (accepted by Alertmanager with a
        # 2xx) keeps it active, with the same start.
        self.assertIn("1 notifications delivered", self.once(25).stdout)
        again = self.am_alerts()
        self.assertEqual([a["status"]["state"] for a in again], ["active"])
        self.assertEqual(parse_iso(again[0]["startsAt"]), self.minute(22))
        self.assertGreaterEqual(parse_iso(again[0]["endsAt"]), parse_iso(alert["endsAt"]))

        # Resolved at minute 28: endsAt in the past, Alertmanager drops it from
        # the active list and tells its receiver.
        self.assertIn("1 notifications delivered", self.once(35).stdout)
        wait_for(lambda: self.am_alerts() == [], "the alert resolved in Alertmanager", 30)
        wait_for(lambda: any(p[2]["status"] == "resolved" for p in self.am_receiver.posts),
                 "Alertmanager's resolved notification", 30)
        resolved = [p for p in self.am_receiver.posts if p[2]["status"] == "resolved"][0][2]
        self.assertEqual(parse_iso(resolved["alerts"][0]["endsAt"]), self.minute(29))
        self.assertEqual(self.cli("LLEN", f"{self.prefix}:{{alerts}}:dead"), "0")


PD_KEYS = {"routing_key", "event_action", "dedup_key", "payload", "images", "links", "client",
           "client_url"}
PD_PAYLOAD_KEYS = {"summary", "source", "severity", "timestamp", "component", "group", "class",
                   "custom_details"}


class PagerDutyTest(AlertsFixture):
    ROUTING_KEY = "R0123456789abcdef0123456789abcde"

    @classmethod
    def setUpClass(cls):
        cls.pd = Receiver(status=202, reply=b'{"status":"success","message":"Event processed"}')
        cls.make(f"""    - name: pd
      url: http://127.0.0.1:{cls.pd.port}/v2/enqueue
      format: pagerduty
      routing_key: {cls.ROUTING_KEY}
""", ORDERS_RULE + PAYMENTS_RULE)

    @classmethod
    def tearDownClass(cls):
        cls.pd.close()
        super().tearDownClass()

    def check_event(self, headers, e):
        """The Events API v2 fields (developer.pagerduty.com, "Send an Alert Event")."""
        self.assertLessEqual(set(e), PD_KEYS)
        self.assertEqual(e["routing_key"], self.ROUTING_KEY)
        self.assertIn(e["event_action"], ("trigger", "resolve"))
        self.assertIsInstance(e["dedup_key"], str)
        self.assertLessEqual(len(e["dedup_key"].encode()), 255)
        self.assertEqual(len(headers["Idempotency-Key"]), 32)
        self.assertEqual(headers["Content-Type"], "application/json")
        if e["event_action"] == "resolve":
            self.assertEqual(set(e), {"routing_key", "event_action", "dedup_key"})
            return
        p = e["payload"]
        self.assertLessEqual(set(p), PD_PAYLOAD_KEYS)
        for k in ("summary", "source", "severity"):  # required
            self.assertTrue(p[k], k)
        self.assertLessEqual(len(p["summary"].encode()), 1024)
        self.assertIn(p["severity"], ("critical", "error", "warning", "info"))
        parse_iso(p["timestamp"])
        for k in ("component", "group", "class"):
            self.assertIsInstance(p[k], str)
        self.assertIsInstance(p["custom_details"], dict)
        self.assertEqual(p["custom_details"]["idempotency_key"], headers["Idempotency-Key"])
        self.assertEqual(e["client"], "apimeter")
        self.assertEqual(e["links"], [{"href": e["client_url"], "text": "apimeter at the alert's time"}])

    def test_trigger_then_resolve_with_one_dedup_key(self):
        self.once(0)
        self.assertIn("4 notifications delivered", self.once(MINUTES).stdout)
        posts = self.pd.wait_posts(4)
        self.assertEqual(len(posts), 4)
        for path, headers, e in posts:
            self.assertEqual(path, "/v2/enqueue")
            self.check_event(headers, e)
        got = [(e["event_action"], e["dedup_key"]) for _, _, e in posts]
        self.assertEqual(got, [("trigger", "orders-p95/endpoint/GET /v1/orders/:id"),
                               ("resolve", "orders-p95/endpoint/GET /v1/orders/:id"),
                               ("trigger", "payments-5xx/endpoint/POST /v1/payments"),
                               ("resolve", "payments-5xx/endpoint/POST /v1/payments")])
        trigger = posts[0][2]["payload"]
        self.assertEqual(trigger["severity"], "critical")
        self.assertEqual(trigger["source"], "endpoint GET /v1/orders/:id")
        self.assertEqual(trigger["component"], "GET /v1/orders/:id")
        self.assertEqual(trigger["group"], "orders-p95")
        self.assertEqual(trigger["class"], "p95")
        self.assertEqual(parse_iso(trigger["timestamp"]), self.minute(23))
        self.assertEqual(posts[2][2]["payload"]["severity"], "warning")  # the rule's default
        self.assertEqual(len({hd["Idempotency-Key"] for _, hd, _ in posts}), 4)
        # The routing key is a secret: masked by check-config.
        shown = h.run([h.BIN, "check-config", "--config", self.config]).stdout
        self.assertNotIn(self.ROUTING_KEY, shown)


class RedeliveryTest(AlertsFixture):
    @classmethod
    def setUpClass(cls):
        cls.hook = Receiver(hold_first=True)
        cls.make(f"""    - name: hold
      url: http://127.0.0.1:{cls.hook.port}/hook
      timeout: 3s
      retries: 0
""", ORDERS_RULE)

    @classmethod
    def tearDownClass(cls):
        cls.hook.close()
        super().tearDownClass()

    def test_kill_9_between_send_and_ack_redelivers_with_the_same_key(self):
        self.once(0)
        first = subprocess.Popen([h.BIN, "alerts", "--once", "--at", str(self.minute(31) + 30),
                                  "--config", self.config], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            self.assertTrue(self.hook.got_first.wait(60), "the firing was not sent")
            first.kill()  # kill -9 while the receiver holds the request: sent, never acknowledged
            first.communicate(timeout=30)
        finally:
            self.hook.release.set()
        queue = f"{self.prefix}:{{alerts}}:outbox:hold"
        self.assertEqual(self.cli("LLEN", queue), "2")  # the firing is still there, then the resolve
        self.assertEqual(self.cli("EXISTS", f"{self.prefix}:{{alerts}}:claim:hold"), "1")

        # The daemon (a new deliverer) sends it again once the dead one's claim
        # expires (timeout 3 s + 2 s), then the resolve behind it.
        began = time.monotonic()
        daemon = subprocess.Popen([h.BIN, "alerts", "--config", self.config],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            posts = self.hook.wait_posts(3, timeout=60)
        finally:
            daemon.send_signal(signal.SIGTERM)
            _, err = daemon.communicate(timeout=30)
        self.assertEqual(daemon.returncode, 0, err)
        redelivery_s = time.monotonic() - began
        kinds = [(b["kind"], hd["Idempotency-Key"]) for _, hd, b in posts]
        self.assertEqual([k for k, _ in kinds], ["firing", "firing", "resolved"])
        self.assertEqual(kinds[0][1], kinds[1][1])  # the same idempotency key
        self.assertEqual(posts[0][2], posts[1][2])  # the same notification
        self.assertEqual(posts[1][2]["idempotency_key"], kinds[1][1])
        self.assertNotEqual(kinds[2][1], kinds[0][1])
        self.assertEqual(self.cli("LLEN", queue), "0")
        self.assertLess(redelivery_s, 30)
        print(f"redelivered after {redelivery_s:.1f} s", file=sys.stderr)


class ClusterAlertsTest(AlertsFixture):
    @classmethod
    def setUpClass(cls):
        cls.hook = Receiver()
        cls.cluster = RedisCluster(masters=3, replicas=0)
        try:
            seeds = ", ".join(f'"{s}"' for s in cls.cluster.seeds())
            cls.make(f"""    - name: ok
      url: http://127.0.0.1:{cls.hook.port}/ok
""", ORDERS_RULE, redis_yaml=f"  cluster: [{seeds}]")
        except BaseException:
            cls.cluster.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.hook.close()
        cls.cluster.close()
        super().tearDownClass()

    def test_evaluates_delivers_and_serves_from_a_cluster(self):
        self.assertIn("evaluated 1 minutes", self.once(0).stdout)
        self.assertIn("2 notifications delivered", self.once(MINUTES).stdout)
        posts = self.hook.wait_posts(2)
        self.assertEqual([(b["kind"], b["minute"]) for _, _, b in posts],
                         [("firing", self.minute(22)), ("resolved", self.minute(28))])
        # The alert keys share one slot: all on one master.
        holders = [a for _, a in self.cluster.masters()
                   if self.cluster.cli(int(a.split(":")[1]), "EXISTS",
                                       f"{self.prefix}:{{alerts}}:state").strip() == "1"]
        self.assertEqual(len(holders), 1)
        proc, base = h.start_serve(self.config)
        try:
            req = urllib.request.Request(base + "/api/v1/alerts",
                                         headers={"Authorization": "Bearer " + TOKEN})
            with urllib.request.urlopen(req, timeout=30) as r:
                body = json.loads(r.read())
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
        self.assertEqual([(e["kind"], e["minute"]) for e in body["history"]],
                         [("resolved", self.minute(28)), ("firing", self.minute(22))])
        self.assertEqual(body["evaluated_minute"], h.iso(self.minute(MINUTES)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
