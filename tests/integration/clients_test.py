"""End to end (issue 18 part 2): a log whose format has $http_user_agent
(harness API_FORMAT, written by loggen) is backfilled into a real
redis-server; `apimeter query clients --json`, for all traffic and for one
endpoint, must equal truth computed here from the same file, and a source
whose format has no $http_user_agent must answer "logged": false."""
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
from collections import defaultdict

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

LINES = 30000
AGENT_RE = re.compile(r'HTTP/[\d.]+" \d{3} \d+ "[^"]*" "([^"]*)" ')
# The clients loggen's user agents reduce to (docs/config.md "clients"):
# product/major.minor, curl by major only, every browser "Mozilla".
CLIENT_OF = {
    "python-requests/2.31.0": "python-requests/2.31",
    "Go-http-client/2.0": "Go-http-client/2.0",
    "curl/8.4.0": "curl/8",
    "axios/1.6.2": "axios/1.6",
    "okhttp/4.12.0": "okhttp/4.12",
    "Mozilla/5.0 (X11; Linux x86_64)": "Mozilla",
}


class ClientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = h.Redis()
        cls.dir = tempfile.mkdtemp(prefix="apimeter-clients-")
        now = int(time.time())
        cls.start = now - 2 * 86400
        cls.log = os.path.join(cls.dir, "api.access.log")
        h.run([h.LOGGEN, "--lines", str(LINES), "--start", str(cls.start), "--rps",
               f"{LINES / (2 * 86400 - 3600):.6f}", "--seed", "18", "--out", cls.log])
        cls.prefix = f"itc{os.getpid()}"
        cls.config = os.path.join(cls.dir, "apimeter.yaml")
        with open(cls.config, "w") as f:
            f.write(h.config_yaml([cls.log], cls.redis.url, cls.prefix))
        h.run([h.BIN, "backfill", "--config", cls.config, "--no-progress"])
        cls.from_s = cls.start // 86400 * 86400
        cls.to_s = (now // 86400 + 1) * 86400

    @classmethod
    def tearDownClass(cls):
        cls.redis.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def truth(self, endpoint=None):
        per = defaultdict(lambda: [0, 0, 0])
        for raw in h.read_lines(self.log):
            line = raw.decode("ascii").rstrip("\n")
            m = h.LINE_RE.match(line)
            self.assertIsNotNone(m, line)
            g = m.groups()
            if endpoint is not None and h.normalize(g[11], g[12]) != endpoint:
                continue
            client = CLIENT_OF[AGENT_RE.search(line).group(1)]
            status = int(g[13])
            per[client][0] += 1
            per[client][1] += 400 <= status < 500
            per[client][2] += status >= 500
        return per

    def query(self, config, *args):
        r = h.run([h.BIN, "query", "clients", "--config", config, "--json",
                   "--from", str(self.from_s), "--to", str(self.to_s), *args])
        return json.loads(r.stdout)

    def check(self, got, want):
        total = sum(v[0] for v in want.values())
        self.assertTrue(got["logged"])
        self.assertEqual(got["resolution"], "day")
        self.assertEqual(got["total_requests"], total)
        self.assertEqual(got["client_count"], len(want))
        rows = {r["client"]: r for r in got["clients"]}
        self.assertEqual(set(rows), set(want))
        for name, (n, e4, e5) in want.items():
            r = rows[name]
            self.assertEqual((r["requests"], r["errors_4xx"], r["errors_5xx"]), (n, e4, e5), name)
            self.assertEqual(r["share"], round(n / total, 6), name)
        order = [(-r["requests"], r["client"]) for r in got["clients"]]
        self.assertEqual(order, sorted(order))

    def test_all_clients_equal_the_log(self):
        want = self.truth()
        self.assertEqual(sum(v[0] for v in want.values()), LINES)
        self.check(self.query(self.config), want)

    def test_one_endpoint(self):
        counts = defaultdict(int)
        for raw in h.read_lines(self.log):
            g = h.LINE_RE.match(raw.decode("ascii")).groups()
            counts[h.normalize(g[11], g[12])] += 1
        endpoint = max(counts, key=lambda e: (counts[e], e))
        got = self.query(self.config, "--endpoint", endpoint)
        self.assertEqual(got["filter"], {"endpoint": endpoint})
        self.check(got, self.truth(endpoint))

    def test_limit_and_refusals(self):
        got = self.query(self.config, "--limit", "2")
        self.assertEqual(len(got["clients"]), 2)
        self.assertEqual(got["client_count"], len(self.truth()))
        r = h.run([h.BIN, "query", "clients", "--config", self.config, "--json",
                   "--endpoint", "GET /x", "--customer", "c"], check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_source_without_user_agent_is_not_logged(self):
        fmt = h.API_FORMAT.replace('"$http_referer" "$http_user_agent" ', "")
        log = os.path.join(self.dir, "noagent.log")
        with open(log, "wb") as out:
            for raw in list(h.read_lines(self.log))[:500]:
                out.write(re.sub(rb'"[^"]*" "[^"]*" (\d+\.\d+ )', rb"\1", raw, count=1))
        config = os.path.join(self.dir, "noagent.yaml")
        with open(config, "w") as f:
            f.write(h.config_yaml([log], self.redis.url, self.prefix + "n").replace(
                h.API_FORMAT, fmt))
        h.run([h.BIN, "backfill", "--config", config, "--no-progress"])
        got = self.query(config)
        self.assertFalse(got["logged"])
        self.assertEqual(got["clients"], [])
        self.assertEqual(got["total_requests"], 0)
        self.assertIn("$http_user_agent", got["note"])
        overview = json.loads(h.run([h.BIN, "query", "overview", "--config", config, "--json",
                                     "--from", str(self.from_s), "--to", str(self.to_s)]).stdout)
        self.assertEqual(overview["requests"], 500)


if __name__ == "__main__":
    unittest.main()
