"""End to end: a generated log over four full UTC days is backfilled into a
private redis-server; `apimeter report` (json, csv, pdf, --all) must give
counts and bytes exactly equal to truth computed from the log
(tests/integration/harness.py), percentiles within 1%, and GET
/api/v1/report and /api/v1/attribution of `apimeter serve` the same numbers
as the CLI. Bad input must exit non-zero (HTTP 404/400)."""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

DAY = 86400
LINES = 40000
TOKEN = "integration-report-token-0123456789"


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = h.Redis()
        cls.dir = tempfile.mkdtemp(prefix="apimeter-it-report-")
        today = int(time.time()) // DAY * DAY
        cls.frm, cls.to = today - 4 * DAY, today  # four full UTC days
        log = os.path.join(cls.dir, "api.access.log")
        # Starts 20 minutes before the range and ends ~12 hours before its end.
        start = cls.frm - 1200
        h.run([h.LOGGEN, "--lines", str(LINES), "--start", str(start), "--rps", f"{LINES / (3.5 * DAY):.6f}",
               "--seed", "5", "--customers", "40", "--endpoints", "30", "--out", log])
        cls.requests, _ = h.parse_logs([log])
        secret = "integration-test-secret"
        keys = sorted({r.key for r in cls.requests if r.key})
        base = h.config_yaml([log], cls.redis.url, f"itreport{os.getpid()}", secret=secret)
        cls.config = os.path.join(cls.dir, "apimeter.yaml")
        with open(cls.config, "w") as f:
            f.write(base)
        ids = h.run([h.BIN, "customer-id", "--config", cls.config], input="\n".join(keys) + "\n").stdout.split()
        id_of = dict(zip(keys, ids))
        for r in cls.requests:
            r.key = id_of[r.key] if r.key else "anonymous"
        by_customer = Counter(r.key for r in cls.requests if cls.frm <= r.t < cls.to)
        cls.top_id = by_customer.most_common(1)[0][0]
        # The busiest customer gets a display name through the customers file.
        with open(os.path.join(cls.dir, "customers.yaml"), "w") as f:
            f.write(f'customers:\n  "{cls.top_id}": "Acme, Inc."\n')
        token_hash = h.run([h.BIN, "hash-token"], input=TOKEN + "\n").stdout.strip()
        with open(cls.config, "w") as f:
            f.write(base + f'customers_file: customers.yaml\nserver:\n  tokens: ["{token_hash}"]\n')
        for r in cls.requests:
            if r.key == cls.top_id:
                r.key = "Acme, Inc."
        h.run([h.BIN, "backfill", "--config", cls.config, "--no-progress"])

    @classmethod
    def tearDownClass(cls):
        cls.redis.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def report(self, fmt, *args, customer="Acme, Inc.", check=True):
        out = os.path.join(self.dir, f"out.{fmt}")
        r = h.run([h.BIN, "report", "--config", self.config, "--customer", customer,
                   "--from", h.iso(self.frm), "--to", h.iso(self.to), "--format", fmt, "-o", out, *args],
                  check=check)
        return r, out

    def truth(self, customer, frm, to, pred=lambda r: True):
        return h.summarize([r for r in self.requests if r.key == customer and frm <= r.t < to and pred(r)])

    def check_totals(self, totals, want):
        for k in ("requests", "errors_4xx", "errors_5xx", "bytes_in", "bytes_out"):
            self.assertEqual(totals[k], want[k], k)
        for p in (50, 95, 99):
            self.assertTrue(h.within_1pct(totals["latency_ms"][f"p{p}"], want["p"][p]),
                            (p, totals["latency_ms"][f"p{p}"], want["p"][p]))

    def test_json_is_exact_against_the_log(self):
        _, out = self.report("json")
        with open(out) as f:
            rep = json.load(f)
        self.assertEqual(rep["customer"], {"name": "Acme, Inc.", "id": self.top_id, "in_customers_file": True})
        self.assertEqual(rep["period"]["from"], h.iso(self.frm))
        self.assertEqual(rep["period"]["to"], h.iso(self.to))
        want = self.truth("Acme, Inc.", self.frm, self.to)
        self.assertGreater(want["requests"], 1000)
        self.check_totals(rep["totals"], want)
        self.assertEqual(len(rep["daily"]), 4)
        for i, d in enumerate(rep["daily"]):
            dw = self.truth("Acme, Inc.", self.frm + i * DAY, self.frm + (i + 1) * DAY)
            self.assertEqual((d["requests"], d["errors_4xx"], d["errors_5xx"], d["bytes_out"]),
                             (dw["requests"], dw["errors_4xx"], dw["errors_5xx"], dw["bytes_out"]), d["date"])
        days = Counter(h.iso(r.t // DAY * DAY)[:10] for r in self.requests
                       if r.key == "Acme, Inc." and self.frm <= r.t < self.to)
        hours = Counter(r.t // 3600 * 3600 for r in self.requests
                        if r.key == "Acme, Inc." and self.frm <= r.t < self.to)
        self.assertEqual(rep["peak_day"]["requests"], max(days.values()))
        self.assertEqual(days[rep["peak_day"]["date"]], max(days.values()))
        self.assertEqual(rep["peak_hour"]["requests"], max(hours.values()))
        listed = 0
        for row in rep["endpoints"]["rows"]:
            ew = self.truth("Acme, Inc.", self.frm, self.to, lambda r, e=row["endpoint"]: r.endpoint == e)
            self.check_totals(row, ew)
            listed += ew["requests"]
        self.assertEqual(rep["endpoints"]["other_requests"], want["requests"] - listed)

    def test_csv_parses_back_to_the_json_numbers(self):
        _, jout = self.report("json")
        with open(jout) as f:
            rep = json.load(f)
        _, out = self.report("csv")
        with open(out, "rb") as f:
            raw = f.read()
        self.assertTrue(raw.endswith(b"\r\n"))
        self.assertNotIn(b"\n", raw.replace(b"\r\n", b""))  # every record ends with CRLF
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
        total = [r for r in rows if r["record"] == "total"]
        self.assertEqual(len(total), 1)
        self.assertEqual(total[0]["customer"], "Acme, Inc.")  # quoted: holds a comma
        want = self.truth("Acme, Inc.", self.frm, self.to)
        for k in ("requests", "errors_4xx", "errors_5xx", "bytes_in", "bytes_out"):
            self.assertEqual(int(total[0][k]), want[k], k)
        daily = [r for r in rows if r["record"] == "day"]
        self.assertEqual([int(r["requests"]) for r in daily], [d["requests"] for d in rep["daily"]])
        eps = {r["endpoint"]: int(r["requests"]) for r in rows if r["record"] == "endpoint"}
        self.assertEqual(eps, {e["endpoint"]: e["requests"] for e in rep["endpoints"]["rows"]})

    def test_pdf_text_holds_the_numbers(self):
        _, out = self.report("pdf")
        text = h.run(["pdftotext", "-layout", out, "-"]).stdout
        want = self.truth("Acme, Inc.", self.frm, self.to)
        self.assertIn("Acme, Inc.", text)
        self.assertIn(f"{want['requests']:,}", text)
        # Ten endpoints and the rest fill the first page; the log has
        # $http_user_agent, so the clients table starts the second page whole.
        first, second = text.split("\f")[:2]
        self.assertIn("Page 1 of 2", first)
        self.assertIn("Clients", second)
        self.assertIn("Page 2 of 2", second)
        _, jout = self.report("json")
        with open(jout) as f:
            rep = json.load(f)
        self.assertGreater(len(rep["clients"]["rows"]), 0)
        # Every line has a User-Agent: the clients cover all the customer's requests.
        cl = rep["clients"]
        self.assertEqual(cl["total_requests"], want["requests"])
        self.assertEqual(sum(c["requests"] for c in cl["rows"]) + cl["other_requests"], want["requests"])
        for c in rep["clients"]["rows"]:
            self.assertIn(c["client"], second)

    def test_all_writes_one_report_per_active_customer_and_a_summary(self):
        out = os.path.join(self.dir, "all")
        h.run([h.BIN, "report", "--config", self.config, "--all", "--from", h.iso(self.frm),
               "--to", h.iso(self.to), "--format", "json", "-o", out])
        with open(os.path.join(out, "summary.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        active = Counter(r.key for r in self.requests if self.frm <= r.t < self.to)
        self.assertEqual({r["customer"]: int(r["requests"]) for r in rows}, dict(active))
        self.assertEqual([int(r["requests"]) for r in rows], sorted((int(r["requests"]) for r in rows), reverse=True))
        for r in rows:
            with open(os.path.join(out, r["file"])) as f:
                self.assertEqual(json.load(f)["totals"]["requests"], int(r["requests"]))

    def test_bad_input_exits_non_zero_with_a_message(self):
        r, _ = self.report("json", customer="k_ffffffffffff", check=False)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("k_ffffffffffff", r.stderr)
        r = h.run([h.BIN, "report", "--config", self.config, "--customer", "Acme, Inc.",
                   "--from", h.iso(self.to), "--to", h.iso(self.frm)], check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--from must be before --to", r.stderr)
        r = h.run([h.BIN, "report", "--config", self.config, "--customer", "x", "--format", "docx"], check=False)
        self.assertEqual(r.returncode, 2)

    def test_http_routes_match_the_cli(self):
        proc, base = h.start_serve(self.config)
        try:

            def get(path, **params):
                req = urllib.request.Request(base + path + "?" + urllib.parse.urlencode(params),
                                             headers={"Authorization": "Bearer " + TOKEN})
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        return resp.status, resp.headers, resp.read()
                except urllib.error.HTTPError as e:
                    return e.code, e.headers, e.read()

            rng = {"from": h.iso(self.frm), "to": h.iso(self.to)}
            status, _, body = get("/api/v1/report", customer="Acme, Inc.", **rng)
            self.assertEqual(status, 200, body)
            _, out = self.report("json")
            with open(out) as f:
                cli = json.load(f)
            api = json.loads(body)
            for doc in (cli, api):
                doc.pop("generated_at")
            self.assertEqual(api, cli)
            status, headers, body = get("/api/v1/report", customer=self.top_id, format="pdf", **rng)
            self.assertEqual(status, 200)
            self.assertTrue(body.startswith(b"%PDF-"))
            self.assertIn("attachment", headers["Content-Disposition"])
            self.assertEqual(get("/api/v1/report", customer="nobody", **rng)[0], 404)
            self.assertEqual(get("/api/v1/report", customer="Acme, Inc.", **{"from": rng["to"], "to": rng["from"]})[0], 400)
            status, _, body = get("/api/v1/attribution", **rng)
            self.assertEqual(status, 200, body)
            att = json.loads(body)
            active = Counter(r.key for r in self.requests if self.frm <= r.t < self.to)
            self.assertEqual(att["total"]["requests"], sum(active.values()))
            self.assertEqual(att["active_customers"], len(active))
            self.assertEqual({c["customer"]: c["requests"] for c in att["customers"]},
                             dict(active.most_common(100)))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    unittest.main(verbosity=2)
