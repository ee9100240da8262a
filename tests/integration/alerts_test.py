"""End to end: alert rules over a backfilled log with a latency incident on
one endpoint and a 5xx burst on another. `apimeter alerts test` replays the
rules; two `apimeter alerts --once --at T` evaluators run at the same time
against one Redis and a local webhook receiver, which must get exactly the
expected firing and resolved notifications, each once, at the right minutes.
Webhooks that return 500 or time out are retried, then logged (scheme://host
only), and the others still get everything. GET /api/v1/alerts shows the
history."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

TOKEN = "integration-alerts-token-0123456789"
MINUTES = 60
PER_MINUTE = 20  # requests per endpoint per minute
INCIDENT = range(20, 28)  # minutes with GET /v1/orders/:id at 800+ ms
BURST = range(40, 45)  # minutes with half of POST /v1/payments answering 503


class Receiver:
    """A local webhook receiver: /ok and /slack answer 200, /fail answers 500,
    /slow answers after 2 s (longer than the webhook's timeout)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.posts = []  # (path, body)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.posts.append((self.path.split("?")[0], json.loads(body)))
                if self.path.startswith("/slow"):
                    time.sleep(2)  # a slow peer, not synchronisation
                code = 500 if self.path.startswith("/fail") else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self, path):
        with self.lock:
            return [b for p, b in self.posts if p == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def log_line(t, method, path, status, latency_ms, key):
    stamp = datetime.fromtimestamp(t, tz=timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
    lat = f"{latency_ms / 1000:.3f}"
    return (f'10.0.0.1 - - [{stamp}] "{method} {path} HTTP/1.1" {status} 512 "-" "it" '
            f'{lat} {lat} "{key}" 300\n')


def write_log(path, start):
    """Steady traffic on three endpoints, plus the incident and the burst."""
    with open(path, "w") as f:
        for m in range(MINUTES):
            for i in range(PER_MINUTE):
                t = start + m * 60 + i * 3
                slow = m in INCIDENT
                f.write(log_line(t, "GET", f"/v1/orders/{100 + i}", 200,
                                 800 + i * 5 if slow else 20 + i, "key-a"))
                f.write(log_line(t, "GET", f"/v1/users/{i}", 200, 30 + i, "key-b"))
                failing = m in BURST and i % 2 == 0
                f.write(log_line(t, "POST", "/v1/payments", 503 if failing else 201, 40 + i, "key-a"))


class AlertsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = h.Redis()
        cls.receiver = Receiver()
        cls.dir = tempfile.mkdtemp(prefix="apimeter-it-alerts-")
        cls.start = (int(time.time()) // 3600 - 3) * 3600  # whole hours, inside minute retention
        log = os.path.join(cls.dir, "api.access.log")
        write_log(log, cls.start)
        token_hash = h.run([h.BIN, "hash-token"], input=TOKEN + "\n").stdout.strip()
        hook = f"http://127.0.0.1:{cls.receiver.port}"
        cls.config = os.path.join(cls.dir, "apimeter.yaml")
        with open(cls.config, "w") as f:
            f.write(h.config_yaml([log], cls.redis.url, f"italerts{os.getpid()}") + f"""server:
  tokens: ["{token_hash}"]
alerts:
  catch_up: 2h
  dashboard_url: http://dash.example
  webhooks:
    - name: ok
      url: {hook}/ok?token=SECRET-TOKEN
    - name: slack
      url: {hook}/slack
      format: slack
    - name: broken
      url: {hook}/fail/SECRET-PATH
      retries: 1
      backoff: 50ms
    - name: slow
      url: {hook}/slow
      timeout: 300ms
      retries: 1
      backoff: 50ms
  rules:
    - name: orders-p95
      severity: critical
      labels: {{team: orders}}
      metric: p95
      endpoint: GET /v1/orders/:id
      above: 500ms
      for: 3m
      min_requests: 10
      webhooks: [ok, slack]
    - name: payments-5xx
      metric: error_rate
      status: 5xx
      endpoint_match: '^POST /v1/pay'
      above: 10%
      for: 2m
      min_requests: 10
      webhooks: [ok, slack, broken, slow]
""")
        h.run([h.BIN, "backfill", "--config", cls.config, "--no-progress"])

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()
        cls.redis.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def minute(self, m):
        return self.start + m * 60

    # Firing on the `for:`-th breaching minute, resolved on the first clear one.
    def expected(self):
        return [("firing", "orders-p95", self.minute(22)),
                ("resolved", "orders-p95", self.minute(28)),
                ("firing", "payments-5xx", self.minute(41)),
                ("resolved", "payments-5xx", self.minute(45))]

    def test_1_replay_prints_fired_and_resolved_without_sending(self):
        r = h.run([h.BIN, "alerts", "test", "--config", self.config, "--from", str(self.start),
                   "--to", str(self.minute(MINUTES)), "--json"])
        out = json.loads(r.stdout)
        got = [(e["kind"], e["rule"], e["minute"]) for e in out["events"]]
        self.assertEqual(got, self.expected())
        fired = out["events"][0]
        self.assertEqual(fired["name"], "GET /v1/orders/:id")
        self.assertGreater(fired["value"], 800)  # p95 of 800..895 ms
        self.assertEqual(out["events"][2]["name"], "POST /v1/payments")
        self.assertAlmostEqual(out["events"][2]["value"], 0.5)
        self.assertEqual(out["firing_at_end"], [])
        text = h.run([h.BIN, "alerts", "test", "--config", self.config, "--from",
                      str(self.start), "--to", str(self.minute(MINUTES))]).stdout
        self.assertIn("FIRING    orders-p95  endpoint GET /v1/orders/:id  p95 = ", text)
        self.assertIn("4 events (no notifications sent)", text)
        self.assertEqual(self.receiver.posts, [])

    def test_2_steady_traffic_gives_no_alert(self):
        r = h.run([h.BIN, "alerts", "test", "--config", self.config, "--from", str(self.start),
                   "--to", str(self.minute(20)), "--json"])
        self.assertEqual(json.loads(r.stdout)["events"], [])

    def test_3_two_evaluators_notify_once_and_failing_webhooks_do_not_stop_them(self):
        at0 = self.minute(1) + 30  # minute 0 closed (grace 30 s)
        first = h.run([h.BIN, "alerts", "--once", "--at", str(at0), "--config", self.config])
        self.assertIn("evaluated 1 minutes", first.stdout)
        at = self.minute(MINUTES) + 30
        procs = [subprocess.Popen([h.BIN, "alerts", "--once", "--at", str(at), "--config",
                                   self.config], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
        outs = [p.communicate(timeout=60) for p in procs]
        for p, (out, err) in zip(procs, outs):
            self.assertEqual(p.returncode, 0, out + err)
        evaluated = [o for o, _ in outs if "evaluated 59 minutes" in o]
        self.assertEqual(len(evaluated), 1, outs)  # the other found the lease or nothing left

        ok = self.receiver.bodies("/ok")
        self.assertEqual([(b["status"], b["rule"], b["minute"]) for b in ok], self.expected())
        firing = ok[0]
        self.assertEqual(firing["severity"], "critical")
        self.assertEqual(firing["labels"], {"team": "orders"})
        self.assertEqual(firing["since"], self.minute(20))
        self.assertEqual(firing["limit"], 500)
        self.assertIsNone(firing["baseline"])
        self.assertTrue(firing["dashboard_url"].startswith(
            f"http://dash.example/?range=custom&from={self.minute(20) - 1800}&to="))
        self.assertIn("&endpoint=GET%20%2Fv1%2Forders%2F%3Aid", firing["dashboard_url"])
        # Slack-compatible: one text field per notification, same four.
        slack = self.receiver.bodies("/slack")
        self.assertEqual(len(slack), 4)
        self.assertTrue(slack[0]["text"].startswith(":rotating_light: FIRING [critical] orders-p95"))
        # The failing webhooks only get the payments rule (webhooks: [...]):
        # 2 notifications x (1 + 1 retry) attempts each.
        self.assertEqual(len(self.receiver.bodies("/fail/SECRET-PATH")), 4)
        self.assertEqual(len(self.receiver.bodies("/slow")), 4)
        err = "".join(e for _, e in outs)
        self.assertIn("webhook 'broken' (http://127.0.0.1:", err)
        self.assertIn("giving up on payments-5xx firing after 2 attempts: HTTP 500", err)
        self.assertIn("giving up on payments-5xx resolved after 2 attempts: timed out after 300 ms",
                      err)
        self.assertNotIn("SECRET", err)

        # A later pass finds nothing new: no notification is sent twice.
        again = h.run([h.BIN, "alerts", "--once", "--at", str(at + 120), "--config", self.config])
        self.assertIn("evaluated 2 minutes", again.stdout)
        self.assertEqual(len(self.receiver.bodies("/ok")), 4)

        # The dashboard's API shows the history, newest first, and nothing firing now.
        proc = subprocess.Popen([h.BIN, "serve", "--config", self.config, "--listen", "127.0.0.1:0"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()  # blocks until listening (or exit: empty line)
            if not line.startswith("serving on http://"):
                proc.kill()
                self.fail("serve did not start: " + line + proc.stderr.read())
            base = line.split("serving on ")[1].strip()
            req = urllib.request.Request(base + "/api/v1/alerts?limit=10",
                                         headers={"Authorization": "Bearer " + TOKEN})
            with urllib.request.urlopen(req, timeout=30) as r:
                body = json.loads(r.read())
            self.assertEqual([(e["kind"], e["rule"], e["minute"]) for e in body["history"]],
                             list(reversed(self.expected())))
            self.assertEqual(body["active"], [])
            self.assertEqual(body["evaluated_minute"], h.iso(self.minute(MINUTES + 1)))
        finally:
            proc.terminate()
            proc.communicate(timeout=30)

    def test_4_daemon_takes_the_lease_and_releases_it_on_sigterm(self):
        lease = f"italerts{os.getpid()}:{{alerts}}:lease"
        proc = subprocess.Popen([h.BIN, "alerts", "--config", self.config],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            line = ""
            while "holding the evaluator lease" not in line:
                line = proc.stderr.readline()  # blocks until the next log line (or exit: "")
                self.assertNotEqual(line, "", "alerts exited early")
            self.assertTrue(self.redis.cli("GET", lease).strip())
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(self.redis.cli("EXISTS", lease).strip(), "0")  # released, not left to expire

    def test_5_replay_past_the_minute_tier_is_refused_with_the_date_it_ends(self):
        # The same traffic 3 days ago: past the minute tier's retention (48 h),
        # so backfill writes only its hour and day buckets.
        old_start = self.start - 3 * 86400
        old_log = os.path.join(self.dir, "old.access.log")
        write_log(old_log, old_start)
        r = h.run([h.BIN, "backfill", "--config", self.config, "--no-progress", old_log])
        self.assertIn("deltas older than retention not written", r.stdout)
        hourly = json.loads(h.run([h.BIN, "query", "overview", "--config", self.config, "--json",
                                   "--from", str(old_start), "--to", str(old_start + 3600)]).stdout)
        self.assertEqual(hourly["requests"], MINUTES * PER_MINUTE * 3)  # the data is there, per hour

        r = h.run([h.BIN, "alerts", "test", "--config", self.config, "--from", str(old_start),
                   "--to", str(old_start + 3600)], check=False)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertNotIn("minutes replayed", r.stdout)  # used to be "60 minutes ... 0 events"
        oldest = (int(time.time()) - 48 * 3600) // 60 * 60
        starts = [h.iso(oldest + d) for d in (-60, 0, 60)]  # the clock may tick meanwhile
        self.assertTrue(any(f"now starts at {s}" in r.stderr for s in starts), r.stderr)
        self.assertIn("past the minute tier's retention", r.stderr)

        # Within retention but with no traffic at all: said so, not a bare "0 events".
        quiet_from = self.minute(MINUTES) + 600
        quiet = h.run([h.BIN, "alerts", "test", "--config", self.config, "--from", str(quiet_from),
                       "--to", str(quiet_from + 600)])
        self.assertIn("0 events", quiet.stdout)
        self.assertIn("the rules' windows held no requests at all", quiet.stderr)
        j = json.loads(h.run([h.BIN, "alerts", "test", "--config", self.config, "--json", "--from",
                              str(self.start), "--to", str(self.minute(5))]).stdout)
        self.assertGreater(j["window_requests"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
