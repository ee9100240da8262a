"""The agent's traffic metrics through a real Prometheus (Debian's
`prometheus`, scraping every second on a private loopback port).

- PrometheusTest: a real agent tails a log of known content; the truth is
  computed from the log by harness.parse_logs (independent of apimeter's C++
  parser). Compared, all exactly:
  * the raw counters at one instant (Prometheus's HTTP API, a query at the
    timestamp of a scrape taken after the agent caught up) against the truth
    of the whole log so far, per endpoint and status class, and bytes;
  * sum by (endpoint, status_class) (increase(apimeter_api_requests_total[w]))
    against the truth of a second batch. increase() extrapolates to the ends
    of its window; the window here starts and ends on scrape timestamps (read
    back from Prometheus), which makes the extrapolation factor exactly 1;
  * histogram_quantile at 0.5, 0.95 and 0.99 lands in the bucket of the true
    (nearest-rank) quantile of each endpoint;
  * every panel expression of the shipped Grafana dashboard
    (packaging/grafana/) returns data, with Grafana's variables substituted;
  * a restart of the agent is a counter reset: resets() sees it and
    increase() over a window spanning the restart equals the lines counted
    after it, exactly (same aligned window).
- CardinalityTest: 60,000 distinct endpoints through the agent: the
  exposition keeps at most prometheus.max_endpoints endpoint labels plus
  "other", the totals stay exact, and the scrape is under 1 MB.

Waits on conditions with deadlines, never on fixed sleeps. ~25 s."""
import json
import os
import random
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

PROMETHEUS = os.environ.get("APIMETER_PROMETHEUS", "prometheus")
DASHBOARD = os.path.join(os.path.dirname(__file__), "..", "..", "packaging", "grafana",
                         "apimeter-api-traffic.json")
BOUNDS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]  # the default buckets

# (method, path, status, latency in seconds): each batch draws from these, so
# every series exists in every batch (increase() needs two samples of it).
SHAPES = [("GET", "/v1/orders/{n}", 200, "0.030"), ("GET", "/v1/orders/{n}", 503, "3.100"),
          ("POST", "/v1/orders", 201, "0.120"), ("POST", "/v1/orders", 422, "0.007"),
          ("GET", "/v1/users/{n}/profile", 200, "0.004"), ("GET", "/health", 204, "0.001"),
          ("GET", "/v1/search", 200, "0.400"), ("GET", "/v1/search", 302, "0.060"),
          ("GET", "/v1/report", 200, "1.700"), ("DELETE", "/v1/orders/{n}", 404, "0.015")]
TIME_FMT = "%d/%b/%Y:%H:%M:%S +0000"


def wait_for(predicate, what, timeout=30, diag=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)  # polling a condition against a deadline
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{diag()}" if diag else ""))


def log_lines(n, seed, weights):
    """n lines of h.API_FORMAT, dated now; the shapes drawn with `weights`."""
    rnd = random.Random(seed)
    t = datetime.now(timezone.utc).strftime(TIME_FMT)
    out = []
    for i in range(n):
        method, path, status, latency = rnd.choices(SHAPES, weights)[0]
        out.append(f'10.0.0.{i % 250} - - [{t}] "{method} {path.format(n=rnd.randint(1, 9999))} '
                   f'HTTP/1.1" {status} {rnd.randint(10, 5000)} "-" "it" {latency} {latency} '
                   f'"key-{i % 7}" {rnd.randint(50, 900)}\n')
    return out


def truth(lines):
    path = tempfile.mktemp(prefix="apimeter-prom-truth-")
    with open(path, "w") as f:
        f.writelines(lines)
    try:
        reqs, rejected = h.parse_logs([path])
    finally:
        os.remove(path)
    return reqs, rejected


def by_class(reqs):
    return Counter((r.endpoint, f"{r.status // 100}xx") for r in reqs)


class Prometheus:
    def __init__(self, dir, targets):
        self.dir = dir
        self.port = h.free_port()
        conf = os.path.join(dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(f"""
global: {{ scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s }}
scrape_configs:
  - job_name: apimeter
    static_configs: [{{ targets: {json.dumps(targets)} }}]
""")
        self.log = open(os.path.join(dir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={conf}", f"--storage.tsdb.path={dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h",
             "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("prometheus exited:\n" + self.output())
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_for(ready, "prometheus ready", 60, self.output)

    def output(self):
        with open(os.path.join(self.dir, "prometheus.log")) as f:
            return f.read()[-3000:]

    def api(self, path, **params):
        url = f"{self.url}/api/v1/{path}?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self.api("query", **params)["result"]

    def last_scrape(self, lines, after):
        """Timestamp (s, ms precision) of the newest scrape, later than
        `after`, in which the agent had read exactly `lines` lines since it
        started; None if there is none yet."""
        r = self.query("apimeter_agent_lines_read_total[10s]")
        if not r:
            return None
        t, v = r[0]["values"][-1]
        return float(t) if float(v) == lines and float(t) > after else None

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


class AgentProcess:
    def __init__(self, dir, config, name="agent"):
        self.log_path = os.path.join(dir, name + ".log")
        self.config = config
        self.proc = None

    def start(self):
        with open(self.log_path, "a") as err:
            self.proc = subprocess.Popen([h.BIN, "agent", "--config", self.config],
                                         stdout=subprocess.DEVNULL, stderr=err)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=30)
        return None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def output(self):
        with open(self.log_path) as f:
            return f.read()[-3000:]


def scrape(port):
    t0 = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        body = r.read()
    return body.decode(), time.monotonic() - t0


def samples(text, name):
    """{labels text: value} of one family's samples."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, value = line.rsplit(" ", 1)
            out[key[len(name):]] = float(value)
    return out


def write_config(path, log, redis, prefix, metrics_port, extra=""):
    with open(path, "w") as f:
        f.write(h.config_yaml([log], redis.url, prefix) + f"""
agent: {{ flush_interval: 500ms, from_start: true, metrics_listen: "127.0.0.1:{metrics_port}" }}
{extra}
""")


class PrometheusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="apimeter-prom-")
        cls.redis = h.Redis()
        cls.log = os.path.join(cls.dir, "api.access.log")
        cls.metrics_port = h.free_port()
        cls.config = os.path.join(cls.dir, "apimeter.yaml")
        write_config(cls.config, cls.log, cls.redis, f"prom{os.getpid()}", cls.metrics_port)
        cls.agent = AgentProcess(cls.dir, cls.config)
        cls.prom = None
        try:
            cls.prom = Prometheus(cls.dir, [f"127.0.0.1:{cls.metrics_port}"])
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.agent.kill()
        if cls.prom:
            cls.prom.close()
        cls.redis.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def diag(self):
        return f"agent:\n{self.agent.output()}\nprometheus:\n{self.prom.output()}"

    def append(self, lines):
        with open(self.log, "a") as f:
            f.writelines(lines)

    def caught_up(self, lines_read, after=0):
        """The timestamp of a scrape later than `after` taken when the agent
        had read lines_read lines since its start."""
        return wait_for(lambda: self.prom.last_scrape(lines_read, after),
                        f"a scrape at {lines_read} lines", 30, self.diag)

    def requests_by_class(self, expr, at):
        got = {}
        for s in self.prom.query(expr, at):
            got[(s["metric"]["endpoint"], s["metric"]["status_class"])] = float(s["value"][1])
        return got

    def test_counts_quantiles_dashboard_and_restart(self):
        # 1. The log so far, read from its start; two malformed lines.
        batch1 = log_lines(3000, 1, [30, 3, 10, 4, 12, 8, 10, 3, 2, 5])
        batch1[100:100] = ["this is not an access log line\n", "neither is this one\n"]
        self.append(batch1)
        reqs1, rejected1 = truth(batch1)
        self.assertEqual(rejected1, 2)
        self.agent.start()
        t1 = self.caught_up(len(batch1))
        got = self.requests_by_class("apimeter_api_requests_total", t1)
        self.assertEqual(got, {k: float(v) for k, v in by_class(reqs1).items()})
        out_bytes = {s["metric"]["endpoint"]: float(s["value"][1]) for s in
                     self.prom.query("apimeter_api_response_bytes_total", t1)}
        want_bytes = defaultdict(float)
        for r in reqs1:
            want_bytes[r.endpoint] += r.bytes_out
        want_bytes["other"] = 0.0
        self.assertEqual(out_bytes, dict(want_bytes))
        rejected = self.prom.query("sum(apimeter_api_rejected_lines_total)", t1)
        self.assertEqual(float(rejected[0]["value"][1]), 2.0)

        # 2. A second batch: increase() over a window aligned on two scrapes
        # (t1 before it, t2 after it) is exact, per endpoint and status class.
        batch2 = log_lines(2000, 2, [20, 2, 8, 3, 9, 6, 8, 2, 2, 4])
        reqs2, _ = truth(batch2)
        self.append(batch2)
        t2 = self.caught_up(len(batch1) + len(batch2), t1)
        window = f"{round((t2 - t1) * 1000)}ms"
        got = self.requests_by_class(
            f"sum by (endpoint, status_class) (increase(apimeter_api_requests_total[{window}]))", t2)
        self.assertEqual(got, {k: float(v) for k, v in by_class(reqs2).items()})

        # 3. histogram_quantile lands in the bucket of the true quantile.
        lat = defaultdict(list)
        for r in reqs1 + reqs2:
            lat[r.endpoint].append(r.latency_ms)
        for q in (0.5, 0.95, 0.99):
            est = {s["metric"]["endpoint"]: float(s["value"][1]) for s in self.prom.query(
                f"histogram_quantile({q}, sum by (endpoint, le) "
                f"(apimeter_api_request_duration_seconds_bucket))", t2)}
            for endpoint, values in lat.items():
                true_ms = h.nearest_rank(sorted(values), q * 100)
                hi = next(b for b in BOUNDS_MS if true_ms <= b)
                lo = ([0] + BOUNDS_MS)[BOUNDS_MS.index(hi)]
                self.assertTrue(lo / 1000 < est[endpoint] <= hi / 1000,
                                f"p{q} of {endpoint}: true {true_ms} ms, histogram_quantile "
                                f"{est[endpoint]} s, outside ({lo}, {hi}] ms")

        # 4. Every panel expression of the shipped dashboard returns data
        # while there is traffic in its window.
        self.check_dashboard(t1, t2)

        # 5. A restart: fewer lines per series after it than before, so the
        # drop is visible to Prometheus as a reset (it would read a counter
        # that restarted and climbed past its old value as a plain increase).
        self.assertEqual(self.agent.stop(), 0, self.agent.output())
        batch3 = log_lines(500, 3, [20, 2, 8, 3, 9, 6, 8, 2, 2, 4])
        reqs3, _ = truth(batch3)
        self.append(batch3)
        self.agent.start()
        t3 = self.caught_up(len(batch3), t2)  # counters restarted: lines since this start
        window = f"{round((t3 - t2) * 1000)}ms"
        resets = self.prom.query(f"resets(apimeter_api_requests_total[{window}])", t3)
        self.assertTrue(resets and all(float(s["value"][1]) == 1 for s in resets), resets)
        got = self.requests_by_class(
            f"sum by (endpoint, status_class) (increase(apimeter_api_requests_total[{window}]))", t3)
        self.assertEqual(got, {k: float(v) for k, v in by_class(reqs3).items()})
        starts = self.prom.query(f"changes(process_start_time_seconds[{window}])", t3)
        self.assertEqual(float(starts[0]["value"][1]), 1.0)

    def check_dashboard(self, t1, t2):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        # Grafana's variables, as Grafana would fill them in for this range.
        subst = {"$instance": ".*", "$endpoint": ".*", "$__rate_interval": "4s",
                 "$__range": f"{max(5, round(t2 - t1 + 5))}s"}
        exprs = []
        for panel in dash["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for k, v in subst.items():
                    expr = expr.replace(k, v)
                self.assertNotIn("$", expr, f"panel {panel['title']!r}: unknown variable")
                exprs.append((panel["title"], expr))
        self.assertGreaterEqual(len(exprs), 10)
        for title, expr in exprs:
            data = self.prom.api("query_range", query=expr, start=f"{t1:.3f}", end=f"{t2:.3f}",
                                 step="1")
            values = [float(v) for s in data["result"] for _, v in s["values"]]
            finite = [v for v in values if v == v and abs(v) != float("inf")]
            self.assertTrue(finite, f"panel {title!r}: {expr} returned no data: {data}")


class CardinalityTest(unittest.TestCase):
    """60K distinct endpoints: labels capped, totals exact, scrape < 1 MB."""

    def test_sixty_thousand_endpoints(self):
        d = tempfile.mkdtemp(prefix="apimeter-prom-card-")
        redis = h.Redis()
        agent = None
        try:
            log = os.path.join(d, "api.access.log")
            rnd = random.Random(60)
            t = datetime.now(timezone.utc).strftime(TIME_FMT)
            n = 60000
            # Letters g-z: never taken for an id by the normalizer, so each
            # line is an endpoint of its own.
            with open(log, "w") as f:
                for i in range(n):
                    word = "".join(rnd.choice(string.ascii_lowercase[6:]) for _ in range(12))
                    f.write(f'10.0.0.1 - - [{t}] "GET /api/{word} HTTP/1.1" 200 100 "-" "it" '
                            f'0.010 0.010 "key-{i % 3}" 100\n')
            port = h.free_port()
            config = os.path.join(d, "apimeter.yaml")
            write_config(config, log, redis, f"card{os.getpid()}", port)
            agent = AgentProcess(d, config)
            agent.start()

            def done():
                try:
                    text, _ = scrape(port)
                except OSError:
                    return None
                read = samples(text, "apimeter_agent_lines_read_total")
                return text if read and list(read.values())[0] >= n else None
            text = wait_for(done, "60K lines read", 60, agent.output)
            text, seconds = scrape(port)
            requests = samples(text, "apimeter_api_requests_total")
            endpoints = {k.split('endpoint="')[1].split('"')[0] for k in requests}
            self.assertLessEqual(len(endpoints), 200 + 1)
            self.assertIn("other", endpoints)
            self.assertEqual(sum(requests.values()), n)
            self.assertLess(len(text.encode()), 1 << 20)
            print(f"60K endpoints: {len(endpoints)} endpoint labels, scrape {len(text)} bytes "
                  f"in {seconds * 1000:.1f} ms")
        finally:
            if agent:
                agent.kill()
            redis.close()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + sys.argv[1:])
