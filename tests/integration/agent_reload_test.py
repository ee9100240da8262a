"""The live agent's signals: SIGHUP with a bad config is refused and the
agent keeps counting on the old one; SIGHUP with a good config (a new route)
applies it without losing or double-counting a line; SIGTERM commits and
exits 0. Waits on conditions with deadlines, never on fixed sleeps."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

LINE = ('10.0.0.1 - - [{t}] "GET {path} HTTP/1.1" 200 100 "-" "curl" 0.010 0.009 "key-1" 200\n')


def wait_for(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)  # polling a condition against a deadline
    raise AssertionError(f"timed out waiting for {what}")


class AgentReloadTest(unittest.TestCase):
    def setUp(self):
        self.redis = h.Redis()
        self.dir = tempfile.mkdtemp(prefix="apimeter-reload-")
        self.log = os.path.join(self.dir, "api.access.log")
        open(self.log, "w").close()
        self.metrics_port = h.free_port()
        self.config = os.path.join(self.dir, "apimeter.yaml")
        self.prefix = f"reload{os.getpid()}"
        self.write_config(routes="")
        # Queries read a copy: the agent's file is about to be made invalid.
        self.query_config = os.path.join(self.dir, "query.yaml")
        shutil.copy(self.config, self.query_config)
        self.agent = subprocess.Popen([h.BIN, "agent", "--config", self.config],
                                      stdout=subprocess.DEVNULL, stderr=open(
                                          os.path.join(self.dir, "agent.log"), "w"))

    def tearDown(self):
        if self.agent.poll() is None:
            self.agent.kill()
            self.agent.wait()
        self.redis.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_config(self, routes, extra=""):
        with open(self.config, "w") as f:
            f.write(f"""
sources:
  - paths: ["{self.log}"]
    log_format: '{h.API_FORMAT}'
    customer: $http_x_api_key
    latency: $request_time
    host: reload-host
customer_id_secret: "reload-test-secret-0123456789"
{routes}
redis: {{ url: "{self.redis.url}", prefix: "{self.prefix}" }}
agent: {{ flush_interval: 200ms, metrics_listen: "127.0.0.1:{self.metrics_port}" }}
{extra}
""")

    def metric(self, name):
        try:
            body = urllib.request.urlopen(
                f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2).read().decode()
        except OSError:
            return None
        for line in body.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        return None

    def append(self, paths):
        now = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
        with open(self.log, "a") as f:
            for p in paths:
                f.write(LINE.format(t=now, path=p))

    def endpoints(self):
        r = h.run([h.BIN, "query", "endpoints", "--config", self.query_config, "--json",
                   "--from", "1h", "--limit", "50"])
        return {e["endpoint"]: e["requests"] for e in json.loads(r.stdout)["endpoints"]}

    def test_bad_config_is_refused_then_good_config_applies(self):
        wait_for(lambda: self.metric("apimeter_agent_files_open") == 1, "the agent to open the log")
        self.append(["/v2/geo/ip/alpha"] * 3)
        wait_for(lambda: self.endpoints().get("GET /v2/geo/ip/alpha") == 3, "first lines counted")

        # A bad config: refused, the agent keeps running on the old one.
        self.write_config(routes="routes:\n  - { match: '^/v2/geo/ip/(', name: '/broken' }")
        self.agent.send_signal(signal.SIGHUP)
        wait_for(lambda: self.metric("apimeter_agent_reload_failures_total") == 1, "reload refused")
        self.assertIsNone(self.agent.poll())
        self.append(["/v2/geo/ip/beta"] * 2)
        wait_for(lambda: self.endpoints().get("GET /v2/geo/ip/beta") == 2, "counting on old config")

        # A good config with a route: applied; no line lost or counted twice.
        self.write_config(routes="routes:\n  - { match: '^/v2/geo/ip/[^/]+$', name: '/v2/geo/ip/:ip' }")
        self.agent.send_signal(signal.SIGHUP)
        wait_for(lambda: self.metric("apimeter_agent_reloads_total") == 1, "reload applied")
        self.append(["/v2/geo/ip/gamma"] * 4)
        wait_for(lambda: self.endpoints().get("GET /v2/geo/ip/:ip") == 4, "new route in use")
        got = self.endpoints()
        self.assertEqual(got.get("GET /v2/geo/ip/alpha"), 3)
        self.assertEqual(got.get("GET /v2/geo/ip/beta"), 2)
        self.assertEqual(sum(got.values()), 9)

        self.agent.send_signal(signal.SIGTERM)
        self.assertEqual(self.agent.wait(timeout=30), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
