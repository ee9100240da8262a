"""End to end: generated nginx logs (plain and gzip-rotated) are backfilled
into a real redis-server, then `apimeter query` must agree with exact truth
computed independently (tests/integration/harness.py) from the same files."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

LINES = 120000


class BackfillQueryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = h.Redis()
        cls.dir = tempfile.mkdtemp(prefix="apimeter-it-")
        now = int(time.time())
        # Three days of traffic ending two hours ago, written in +05:30 local
        # time: the oldest part is past the 48 h minute retention.
        cls.end = now - 7200
        span = 3 * 86400
        start = cls.end - span
        rps = LINES / span
        raw = os.path.join(cls.dir, "all.log")
        h.run([h.LOGGEN, "--lines", str(LINES), "--start", str(start), "--rps", f"{rps:.6f}",
               "--seed", "7", "--bad-ratio", "0.003", "--tz-minutes", "330", "--out", raw])
        with open(raw, "rb") as f:
            lines = f.readlines()
        third = len(lines) // 3
        cls.logs = os.path.join(cls.dir, "logs")
        os.makedirs(cls.logs)
        h.write_gzip(os.path.join(cls.logs, "api.access.log.2.gz"), b"".join(lines[:third]))
        with open(os.path.join(cls.logs, "api.access.log.1"), "wb") as f:
            f.write(b"".join(lines[third:2 * third]))
        with open(os.path.join(cls.logs, "api.access.log"), "wb") as f:
            f.write(b"".join(lines[2 * third:]))
        cls.prefix = f"it{os.getpid()}"
        cls.config = os.path.join(cls.dir, "apimeter.yaml")
        with open(cls.config, "w") as f:
            f.write(h.config_yaml([f"{cls.logs}/api.access.log"], cls.redis.url, cls.prefix))
        cls.files = [os.path.join(cls.logs, n) for n in
                     ("api.access.log.2.gz", "api.access.log.1", "api.access.log")]
        cls.requests, cls.rejected = h.parse_logs(cls.files)
        cls.first = h.run([h.BIN, "backfill", "--config", cls.config, "--no-progress"])

    @classmethod
    def tearDownClass(cls):
        cls.redis.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def query(self, kind, *args):
        r = h.run([h.BIN, "query", kind, "--config", self.config, "--json", *args])
        return json.loads(r.stdout)

    def truth(self, frm, to, pred=lambda r: True):
        return [r for r in self.requests if frm <= r.t < to and pred(r)]

    def check_overview(self, got, reqs):
        want = h.summarize(reqs)
        self.assertEqual(got["requests"], want["requests"])
        self.assertEqual(got["errors_4xx"], want["errors_4xx"])
        self.assertEqual(got["errors_5xx"], want["errors_5xx"])
        self.assertEqual(got["status"], want["status"])
        self.assertEqual(got["bytes_in"], want["bytes_in"])
        self.assertEqual(got["bytes_out"], want["bytes_out"])
        for p in (50, 90, 95, 99):
            self.assertTrue(h.within_1pct(got["latency_ms"][f"p{p}"], want["p"][p]),
                            f"p{p}: got {got['latency_ms'][f'p{p}']} want {want['p'][p]}")
        self.assertAlmostEqual(got["latency_ms"]["max"], want["max"], places=3)

    @staticmethod
    def epoch(iso_text):
        from datetime import datetime
        return int(datetime.strptime(iso_text, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=__import__("datetime").timezone.utc).timestamp())

    def test_summary_counts_every_line(self):
        out = self.first.stdout
        self.assertIn(f"parsed:           {len(self.requests)}\n", out)
        self.assertIn(f"rejected:         {self.rejected} ", out)
        self.assertIn(f"lines:            {len(self.requests) + self.rejected} ", out)

    def test_overview_matches_truth_on_ranges_across_tiers(self):
        day = 86400
        ranges = [
            (self.end - 3 * day - 3600, self.end + 3600),  # everything, minute tier partly expired
            (self.end - 6 * 3600, self.end),                # recent: minute tier
            ((self.end // day - 1) * day, (self.end // day) * day),  # one whole UTC day
            (self.end - 30 * 3600 + 17 * 60, self.end - 29 * 3600 + 43 * 60),  # odd minutes
        ]
        for frm, to in ranges:
            with self.subTest(frm=h.iso(frm), to=h.iso(to)):
                got = self.query("overview", "--from", h.iso(frm), "--to", h.iso(to))
                # The answer states the exact range it covers; truth uses that range.
                efrom, eto = self.epoch(got["from"]), self.epoch(got["to"])
                self.assertLessEqual(abs(efrom - frm), 3600)
                self.check_overview(got, self.truth(efrom, eto))

    def test_endpoints_and_shares(self):
        frm, to = self.end - 86400, self.end
        got = self.query("endpoints", "--from", h.iso(frm), "--to", h.iso(to), "--limit", "15")
        reqs = self.truth(self.epoch(got["from"]), self.epoch(got["to"]))
        counts = {}
        for r in reqs:
            counts[r.endpoint] = counts.get(r.endpoint, 0) + 1
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:15]
        self.assertEqual([(e["endpoint"], e["requests"]) for e in got["endpoints"]], top)
        for e in got["endpoints"]:
            self.assertAlmostEqual(e["share"], counts[e["endpoint"]] / len(reqs), places=6)
            mine = [r for r in reqs if r.endpoint == e["endpoint"]]
            want = h.summarize(mine)
            self.assertEqual(e["errors_5xx"], want["errors_5xx"])
            self.assertEqual(e["bytes_out"], want["bytes_out"])
            self.assertTrue(h.within_1pct(e["latency_ms"]["p99"], want["p"][99]))

    def test_customers_match_keys_through_their_ids(self):
        frm, to = self.end - 86400, self.end
        got = self.query("customers", "--from", h.iso(frm), "--to", h.iso(to), "--limit", "10")
        reqs = self.truth(self.epoch(got["from"]), self.epoch(got["to"]))
        keys = sorted({r.key for r in reqs if r.key})
        ids = h.run([h.BIN, "customer-id", "--config", self.config],
                    input="\n".join(keys) + "\n").stdout.split()
        id_of = dict(zip(keys, ids))
        counts = {}
        for r in reqs:
            name = id_of[r.key] if r.key else "anonymous"
            counts[name] = counts.get(name, 0) + 1
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        self.assertEqual([(c["customer"], c["requests"]) for c in got["customers"]], top)
        for c in got["customers"]:
            self.assertTrue(c["customer"] == "anonymous" or c["customer"].startswith("k_"))
        raw_keys = " ".join(keys[:50])
        self.assertNotIn(keys[0], json.dumps(got))
        self.assertTrue(raw_keys)

    def test_timeseries_points_are_exact(self):
        frm, to = self.end - 6 * 3600, self.end
        frm -= frm % 3600
        got = self.query("timeseries", "--from", h.iso(frm), "--to", h.iso(to), "--step", "1h")
        self.assertEqual(got["step_s"], 3600)
        for p in got["points"]:
            t = self.epoch(p["t"])
            want = h.summarize(self.truth(t, min(t + 3600, self.epoch(got["to"]))))
            self.assertEqual(p["requests"], want["requests"], p["t"])
            self.assertEqual(p["errors_5xx"], want["errors_5xx"], p["t"])
            self.assertTrue(h.within_1pct(p["p95"], want["p"][95]), p)

    def test_slowest_requests(self):
        frm, to = self.end - 2 * 86400, self.end
        got = self.query("slow", "--from", h.iso(frm), "--to", h.iso(to), "--limit", "10")
        reqs = self.truth(frm, to)
        want = sorted((r.latency_ms for r in reqs), reverse=True)[:10]
        self.assertEqual([round(r["latency_ms"]) for r in got["requests"]], want)

    def test_test_format_never_shows_raw_keys(self):
        r = h.run([h.BIN, "test-format", "--config", self.config, "--lines", "40",
                   os.path.join(self.logs, "api.access.log.1")], check=False)
        self.assertIn(r.returncode, (0, 3))  # 3: some sampled lines are malformed on purpose
        self.assertIn("<customer k_", r.stdout)
        keys = {req.key for req in self.requests if req.key}
        leaked = [k for k in keys if k in r.stdout]
        self.assertEqual(leaked, [])

    def test_second_run_adds_nothing_and_gzip_of_counted_file_is_known(self):
        before = self.query("overview", "--from", h.iso(self.end - 4 * 86400), "--to", "now")
        # With two lanes (--jobs 2): the checkpoints are the lanes' too.
        again = h.run([h.BIN, "backfill", "--config", self.config, "--no-progress", "--jobs", "2"])
        self.assertIn("lines:            0 ", again.stdout)
        # logrotate compresses .1 into .1.gz: same content, same checkpoint.
        src = os.path.join(self.logs, "api.access.log.1")
        with open(src, "rb") as f:
            data = f.read()
        gz = os.path.join(self.dir, "copy.log.1.gz")
        h.write_gzip(gz, data)
        third = h.run([h.BIN, "backfill", "--config", self.config, "--no-progress", gz])
        self.assertIn("lines:            0 ", third.stdout)
        after = self.query("overview", "--from", h.iso(self.end - 4 * 86400), "--to", "now")
        self.assertEqual(before["requests"], after["requests"])
        self.assertEqual(before["status"], after["status"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
