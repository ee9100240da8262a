"""Log formats written by a REAL nginx (issue 14, sections 3 and 4).

One nginx writes every request to three access logs at once:
  json.log     escape=json, numbers left bare ("status":$status), the upstream
               variables quoted and bare, $upstream_http_x_cache,
               $sent_http_content_type, customer $http_x_api_key;
  ingress.log  ingress-nginx's `upstreaminfo` preset, its $proxy_upstream_name
               and $proxy_alternative_upstream_name made with `set` and $req_id
               with `map`;
  auth.log     the Authorization header, customers from a JWT claim
               (customer_match '^Bearer (.+)$' + customer_jwt_claim sub).
Traffic from 8 threads mixes locations with no upstream (return, redirect,
health check, static file), proxy_pass to a live upstream, and to a group
whose first server is dead (upstream lists "a, b"). Each log is backfilled
into its own key prefix; apimeter must count every line, reject none, and
agree exactly with truth computed here from the JSON log (statuses, bytes,
latency count and sum) and, for auth.log, with customers decoded here from
the tokens. Takes about 10 s.
"""
import base64
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402
from nginx_agent_test import read_bytes, stop_process, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REQUESTS = 1600
THREADS = 8

JSON_FORMAT = (
    '{"time":"$time_iso8601","remote_addr":"$remote_addr","request":"$request",'
    '"status":$status,"body_bytes_sent":$body_bytes_sent,"request_length":$request_length,'
    '"request_time":$request_time,"upstream_addr":"$upstream_addr",'
    '"upstream_status":"$upstream_status","upstream_response_time":"$upstream_response_time",'
    '"upstream_connect_time":$upstream_connect_time,"cache":"$upstream_http_x_cache",'
    '"content_type":"$sent_http_content_type","key":"$http_x_api_key"}')
# ingress-nginx's logFormatUpstream, the text of the `upstreaminfo` preset.
UPSTREAMINFO = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] '
    '[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length '
    '$upstream_response_time $upstream_status $req_id')
AUTH_FORMAT = ('$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_length '
               '"$http_authorization" $request_time')
KEYS = ["fmt-key-alpha", "fmt-key-beta", "fmt-key-gamma"]
CLIENTS = ["client-1", "client-2", "client-3", "client-4"]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims):
    head = b64url(b'{"alg":"RS256","typ":"JWT"}')
    return f"{head}.{b64url(json.dumps(claims).encode())}.{b64url(b'not-verified')}"


def plan(rng, i):
    """(method, target, headers) of request i: about a third never reach an upstream."""
    r = rng.random()
    if r < 0.35:
        target = f"/v1/fast/items/{rng.randrange(1, 10**6)}"
    elif r < 0.50:
        target = f"/v1/orders/{rng.randrange(1, 10**4)}"
    elif r < 0.60:
        target = f"/retry/v1/fast/items/{rng.randrange(1, 10**6)}"  # first server dead
    elif r < 0.68:
        target = f"/nope/{rng.randrange(100)}"  # return 404
    elif r < 0.76:
        target = "/health"  # return 204
    elif r < 0.84:
        target = f"/old/{rng.randrange(100)}"  # return 301
    elif r < 0.92:
        target = "/static/app.js"  # a file
    else:
        target = "/static/missing.js"  # 404 from the file system
    headers = {}
    k = rng.random()
    if k < 0.5:
        headers["X-API-Key"] = rng.choice(KEYS)
    a = rng.random()
    if a < 0.55:
        headers["Authorization"] = "Bearer " + jwt(
            {"sub": rng.choice(CLIENTS), "jti": f"{i}", "exp": 2000000000 + i})
    elif a < 0.65:
        headers["Authorization"] = "Bearer not-a-token." + str(i)
    elif a < 0.72:
        headers["Authorization"] = "Basic dXNlcjpwYXNzd29yZA=="
    if rng.random() < 0.2:
        headers["X-Request-ID"] = f"req-{i:06d}"
    return "GET", target, headers


class NginxFormatsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = cls.nginx = cls.upstream = None
        cls.dir = tempfile.mkdtemp(prefix="apimeter-nginx-formats-")
        try:
            cls._set_up()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _set_up(cls):
        os.chmod(cls.dir, 0o755)
        cls.logs = os.path.join(cls.dir, "logs")
        os.makedirs(cls.logs)
        os.chmod(cls.logs, 0o777)
        www = os.path.join(cls.dir, "www", "static")
        os.makedirs(www)
        with open(os.path.join(www, "app.js"), "w") as f:
            f.write("console.log('static');\n" * 40)
        os.chmod(os.path.join(cls.dir, "www"), 0o755)
        os.chmod(www, 0o755)
        os.chmod(os.path.join(www, "app.js"), 0o644)
        cls.redis = h.Redis()

        port_file = os.path.join(cls.dir, "upstream.port")
        cls.upstream = subprocess.Popen([sys.executable, os.path.join(HERE, "upstream.py"), port_file],
                                        start_new_session=True)
        wait_for(lambda: os.path.exists(port_file), 15, "upstream.py to listen")
        with open(port_file) as f:
            up_port = int(f.read())

        cls.port = h.free_port()
        dead_port = h.free_port()  # nothing listens there: connection refused
        conf = os.path.join(cls.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(cls._nginx_conf(up_port, dead_port))
        os.makedirs(os.path.join(cls.dir, "temp"))
        cls.nginx = subprocess.Popen(
            ["nginx", "-p", cls.dir, "-c", conf, "-e", os.path.join(cls.dir, "error.log"),
             "-g", "daemon off;"], start_new_session=True)
        cls.base = f"http://127.0.0.1:{cls.port}"
        cls.probes = 0
        wait_for(cls._ready, 15, "nginx to answer")
        cls.sent = cls._traffic()
        # Every request answered is logged before nginx has finished with it;
        # a last one whose line we wait for orders the logs after all of them.
        cls._get("/health?last=1", {})
        for name in ("json.log", "ingress.log", "auth.log"):
            path = os.path.join(cls.logs, name)
            wait_for(lambda p=path: b"last=1" in read_bytes(p), 20, f"{name} complete")

    @classmethod
    def _nginx_conf(cls, up_port, dead_port):
        d = cls.dir
        proxy = 'proxy_http_version 1.1; proxy_set_header Connection "";'
        return f"""
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log crit;
events {{ worker_connections 256; }}
http {{
  client_body_temp_path {d}/temp/client_body;
  proxy_temp_path {d}/temp/proxy;
  fastcgi_temp_path {d}/temp/fastcgi;
  uwsgi_temp_path {d}/temp/uwsgi;
  scgi_temp_path {d}/temp/scgi;
  default_type application/octet-stream;
  log_format json_api escape=json '{JSON_FORMAT}';
  log_format upstreaminfo '{UPSTREAMINFO}';
  log_format auth '{AUTH_FORMAT}';
  map $http_x_request_id $req_id {{ default $http_x_request_id; "" $request_id; }}
  upstream backend {{ server 127.0.0.1:{up_port}; keepalive 8; }}
  upstream flaky {{ server 127.0.0.1:{dead_port} max_fails=0; server 127.0.0.1:{up_port} max_fails=0; }}
  server {{
    listen 127.0.0.1:{cls.port};
    root {d}/www;
    set $proxy_upstream_name "default-api-80";
    set $proxy_alternative_upstream_name "";
    access_log {cls.logs}/json.log json_api;
    access_log {cls.logs}/ingress.log upstreaminfo;
    access_log {cls.logs}/auth.log auth;
    location /v1/ {{ proxy_pass http://backend; {proxy} }}
    location /retry/ {{ proxy_pass http://flaky/; {proxy} }}
    location /nope/ {{ return 404; }}
    location = /health {{ return 204; }}
    location /old/ {{ return 301 /v1/fast/items/1; }}
    location /static/ {{ }}
  }}
}}
"""

    @classmethod
    def _ready(cls):
        try:
            with urllib.request.urlopen(cls.base + "/health", timeout=2) as r:
                cls.probes += 1  # answered, so logged
                return r.status == 204
        except OSError:
            return False

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    @classmethod
    def _get(cls, target, headers):
        opener = urllib.request.build_opener(cls._NoRedirect)
        req = urllib.request.Request(cls.base + target, headers=headers)
        try:
            with opener.open(req, timeout=10) as resp:
                resp.read()
        except urllib.error.HTTPError as e:
            e.read()
            e.close()

    @classmethod
    def _traffic(cls):
        counter = iter(range(REQUESTS))
        lock = threading.Lock()
        errors = []

        def run(seed):
            rng = random.Random(seed)
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                method, target, headers = plan(rng, i)
                try:
                    cls._get(target, headers)
                except OSError as e:
                    errors.append(repr(e))

        threads = [threading.Thread(target=run, args=(20261126 + t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        if errors:
            raise AssertionError(f"{len(errors)} transport errors, e.g. {errors[:3]}")
        return REQUESTS

    @classmethod
    def tearDownClass(cls):
        stop_process(cls.nginx)
        stop_process(cls.upstream)
        if cls.redis:
            cls.redis.close()
        if os.environ.get("APIMETER_KEEP_TMP"):
            print(f"kept {cls.dir}")
        else:
            shutil.rmtree(cls.dir, ignore_errors=True)

    # --- helpers ---
    def backfill(self, name, source_keys):
        """Backfills logs/<name> under its own prefix; returns (config, summary text)."""
        config = os.path.join(self.dir, f"{name}.yaml")
        with open(config, "w") as f:
            f.write(f"""
sources:
  - paths: ["{self.logs}/{name}"]
{source_keys}    host: fmt
customer_id_secret: "nginx-formats-test-secret-0123"
redis:
  url: "{self.redis.url}"
  prefix: "fmt{os.getpid()}{name.split('.')[0]}"
""")
        r = h.run([h.BIN, "backfill", "--config", config, "--no-progress"])
        return config, r.stdout

    def query(self, config, kind, *args):
        r = h.run([h.BIN, "query", kind, "--config", config, "--json",
                   "--from", h.iso(int(time.time()) - 3600), "--to", h.iso(int(time.time()) + 120),
                   *args])
        return json.loads(r.stdout)

    @staticmethod
    def summary_count(summary, label):
        m = re.search(rf"^\s*{label}:\s+(\d+)", summary, re.M)
        return int(m.group(1)) if m else None

    def json_truth(self):
        """Independent reading of json.log (the one bare list made a string)."""
        rows = []
        with open(os.path.join(self.logs, "json.log"), "rb") as f:
            for raw in f:
                # The bare $upstream_connect_time is nothing, one number or a list.
                text = re.sub(rb'"upstream_connect_time":(.*?),"cache"',
                              lambda m: b'"upstream_connect_time":"' + m.group(1) + b'","cache"',
                              raw.rstrip(b"\n"))
                rows.append(json.loads(text))
        return rows

    @staticmethod
    def latency_us(v):
        """$upstream_response_time summed in µs, '-' items skipped; None when no number."""
        if not v:
            return None
        items = [x for x in re.split(r", | : ", v) if x != "-"]
        if not items:
            return None
        return sum(int(round(float(x) * 1e6)) for x in items)

    def assert_overview(self, config, rows):
        """apimeter's overview equals the truth of the JSON log's rows, exactly."""
        got = self.query(config, "overview")
        self.assertEqual(got["requests"], len(rows))
        status = {}
        for r in rows:
            status[str(r["status"])] = status.get(str(r["status"]), 0) + 1
        self.assertEqual(got["status"], status)
        self.assertEqual(got["bytes_out"], sum(r["body_bytes_sent"] for r in rows))
        self.assertEqual(got["bytes_in"], sum(r["request_length"] for r in rows))
        lat = [v for v in (self.latency_us(r["upstream_response_time"]) for r in rows)
               if v is not None]
        self.assertLess(len(lat), len(rows))  # empty upstream times carry no latency
        self.assertAlmostEqual(got["latency_ms"]["avg"], sum(lat) / len(lat) / 1000, delta=0.001)
        self.assertAlmostEqual(got["latency_ms"]["max"], max(lat) / 1000, delta=0.001)

    def lines(self, name):
        with open(os.path.join(self.logs, name), "rb") as f:
            return f.read().count(b"\n")

    # --- the tests ---
    def test_logs_hold_the_shapes_under_test(self):
        rows = self.json_truth()
        self.assertEqual(len(rows), self.probes + self.sent + 1)
        no_upstream = [r for r in rows if r["upstream_response_time"] == ""]
        self.assertGreater(len(no_upstream), len(rows) // 5)
        self.assertTrue(any(r["upstream_connect_time"] == "" for r in rows))  # bare, empty
        self.assertTrue(any(", " in r["upstream_addr"] for r in rows), "a retried request")
        with open(os.path.join(self.logs, "ingress.log")) as f:
            text = f.read()
        self.assertIn(" - - - - ", text)  # a request with no upstream in upstreaminfo
        self.assertRegex(text, r" \S+, \S+ \d+, \d+ [\d.]+, [\d.]+ 502, \d{3} ")

    def test_json_format_with_empty_values_counts_every_request(self):
        config, summary = self.backfill(
            "json.log", "    log_format: '" + JSON_FORMAT + "'\n    escape: json\n"
            "    customer: $http_x_api_key\n    latency: $upstream_response_time\n")
        rows = self.json_truth()
        print(f"\njson.log: {len(rows)} lines, "
              f"{sum(r['upstream_response_time'] == '' for r in rows)} without upstream; "
              f"backfill: parsed {self.summary_count(summary, 'parsed')}, "
              f"rejected {self.summary_count(summary, 'rejected')}")
        self.assertEqual(self.summary_count(summary, "rejected"), 0, summary)
        self.assertEqual(self.summary_count(summary, "parsed"), len(rows), summary)
        self.assert_overview(config, rows)
        keys = self.query(config, "customers", "--limit", "10")
        counts = {}
        for r in rows:
            counts[r["key"] or "-"] = counts.get(r["key"] or "-", 0) + 1
        self.assertEqual(sum(c["requests"] for c in keys["customers"]), len(rows))
        anonymous = [c["requests"] for c in keys["customers"] if c["customer"] == "anonymous"]
        self.assertEqual(anonymous, [counts["-"]])

    def test_ingress_upstreaminfo_counts_every_request(self):
        config, summary = self.backfill(
            "ingress.log", "    log_format: upstreaminfo\n    latency: $upstream_response_time\n")
        rows = self.json_truth()
        self.assertEqual(self.lines("ingress.log"), len(rows))
        self.assertEqual(self.summary_count(summary, "rejected"), 0, summary)
        self.assert_overview(config, rows)

    def test_customers_from_jwt_claims(self):
        config, summary = self.backfill(
            "auth.log", "    log_format: '" + AUTH_FORMAT + "'\n"
            "    customer: $http_authorization\n    customer_match: '^Bearer (.+)$'\n"
            "    customer_jwt_claim: sub\n")
        self.assertEqual(self.summary_count(summary, "rejected"), 0, summary)
        want, no_key, anonymous = {}, 0, 0
        with open(os.path.join(self.logs, "auth.log")) as f:
            for line in f:
                auth = line.rsplit('"', 2)[-2]
                m = re.match(r"Bearer ([\w-]+)\.([\w-]+)\.([\w-]*)$", auth)
                if m:
                    payload = m.group(2) + "=" * (-len(m.group(2)) % 4)
                    sub = json.loads(base64.urlsafe_b64decode(payload))["sub"]
                    want[sub] = want.get(sub, 0) + 1
                else:
                    anonymous += 1
                    no_key += auth != "-"
        self.assertEqual(self.summary_count(summary, "no customer key"), no_key, summary)
        ids = h.run([h.BIN, "customer-id", "--config", config],
                    input="\n".join(CLIENTS) + "\n").stdout.split()
        id_of = dict(zip(CLIENTS, ids))
        expected = {id_of[s]: n for s, n in want.items()}
        expected["anonymous"] = anonymous
        got = self.query(config, "customers", "--limit", "10")
        self.assertEqual({c["customer"]: c["requests"] for c in got["customers"]}, expected)
        self.assertNotIn("Bearer", json.dumps(got))
        self.assertNotIn("client-1", summary + json.dumps(got))  # only ids, never the claim


if __name__ == "__main__":
    unittest.main(verbosity=2)
