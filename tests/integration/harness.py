"""Shared helpers for apimeter's end-to-end tests: a real redis-server,
the apimeter binary, the log generator, and exact truth computed from log
files by an implementation independent of apimeter's C++ parser."""
import gzip
import math
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone

BIN = os.environ.get("APIMETER_BINARY", "build/cli/apimeter")
LOGGEN = os.environ.get("APIMETER_LOGGEN", "build/tools/apimeter-loggen")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Redis:
    """The server named by APIMETER_TEST_REDIS_URL, or a private one."""

    def __init__(self):
        self.proc = None
        self.dir = None
        url = os.environ.get("APIMETER_TEST_REDIS_URL")
        if url:
            self.url = url
            self.port = int(url.split(":")[2].split("/")[0])
            return
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="apimeter-it-redis-")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.cli("PING").strip() == "PONG":
                return
            time.sleep(0.02)  # polling readiness against a deadline
        raise RuntimeError("redis-server did not start")

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True)
        return r.stdout

    def close(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait()
            shutil.rmtree(self.dir, ignore_errors=True)


API_FORMAT = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
              '"$http_referer" "$http_user_agent" $request_time $upstream_response_time '
              '"$http_x_api_key" $request_length')

LINE_RE = re.compile(
    r'^(\S+) - (\S+) \[(\d\d)/(\w{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\] '
    r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3}) (\d+) "[^"]*" "[^"]*" (\d+\.\d+) (\S+(?:, \S+)*) '
    r'"([^"]*)" (\d+)$')
MONTHS = {m: i + 1 for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])}
ID_SEGMENT = re.compile(
    r'^(\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'
    r'|[0-9a-fA-F]{16,}|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$')


def normalize(method, target):
    """The endpoint name for the generator's paths (ids are digits, UUIDs, long hex, IPv4)."""
    path = target.split("?", 1)[0]
    segs = [(":id" if ID_SEGMENT.match(s) else s) for s in path.split("/") if s]
    return f"{method} /" + "/".join(segs)


class Request:
    __slots__ = ("t", "endpoint", "status", "bytes_out", "bytes_in", "latency_ms", "key")


def read_lines(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        for raw in f:
            yield raw


def parse_logs(paths):
    """Returns (requests, rejected_line_count). Only complete lines count."""
    requests, rejected = [], 0
    for p in paths:
        for raw in read_lines(p):
            if not raw.endswith(b"\n"):
                continue  # a partial last line is not counted (nor by apimeter)
            try:
                line = raw[:-1].decode("ascii")
            except UnicodeDecodeError:
                rejected += 1
                continue
            m = LINE_RE.match(line)
            if not m:
                rejected += 1
                continue
            g = m.groups()
            offset = (int(g[9]) * 60 + int(g[10])) * 60 * (1 if g[8] == "+" else -1)
            local = datetime(int(g[4]), MONTHS[g[3]], int(g[2]), int(g[5]), int(g[6]), int(g[7]),
                             tzinfo=timezone.utc)
            r = Request()
            r.t = int(local.timestamp()) - offset
            r.endpoint = normalize(g[11], g[12])
            r.status = int(g[13])
            r.bytes_out = int(g[14])
            r.latency_ms = round(float(g[15]) * 1000)
            r.key = g[17] if g[17] not in ("", "-") else None
            r.bytes_in = int(g[18])
            requests.append(r)
    return requests, rejected


def nearest_rank(sorted_values, p):
    if not sorted_values:
        return None
    k = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(k, len(sorted_values)) - 1]


def summarize(reqs):
    lat = sorted(r.latency_ms for r in reqs)
    status = Counter(r.status for r in reqs)
    return {
        "requests": len(reqs),
        "errors_4xx": sum(n for s, n in status.items() if 400 <= s < 500),
        "errors_5xx": sum(n for s, n in status.items() if 500 <= s < 600),
        "status": {str(s): n for s, n in status.items()},
        "bytes_in": sum(r.bytes_in for r in reqs),
        "bytes_out": sum(r.bytes_out for r in reqs),
        "p": {p: nearest_rank(lat, p) for p in (50, 90, 95, 99)},
        "max": lat[-1] if lat else None,
    }


def run(args, check=True, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{args} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


def iso(t):
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def within_1pct(got, want):
    if want is None:
        return got is None
    if want == 0:
        return got is not None and abs(got) <= 0.01
    return got is not None and abs(got - want) <= 0.01 * abs(want) + 1e-9


def write_gzip(path, data):
    with gzip.open(path, "wb") as f:
        f.write(data)


def start_serve(config):
    """`apimeter serve --config config` on a free loopback port: (process,
    base URL) once it prints that it is listening; raises if it exits first."""
    proc = subprocess.Popen([BIN, "serve", "--config", config, "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # blocks until listening (or exit: empty line)
    if not line.startswith("serving on http://"):
        proc.kill()
        raise RuntimeError("serve did not start: " + line + proc.stderr.read())
    return proc, line.split("serving on ")[1].strip()


def config_yaml(log_paths, redis_url, prefix, host="it-host", secret="integration-test-secret"):
    """An integration test's config: one source of log_paths in API_FORMAT
    (customer from $http_x_api_key, latency from $request_time), its Redis
    and key prefix. Tests append their own sections (server:, alerts:, ...)."""
    paths = ", ".join(f'"{p}"' for p in log_paths)
    return f"""
sources:
  - paths: [{paths}]
    log_format: '{API_FORMAT}'
    customer: $http_x_api_key
    latency: $request_time
    host: {host}
customer_id_secret: "{secret}"
redis:
  url: "{redis_url}"
  prefix: "{prefix}"
"""
