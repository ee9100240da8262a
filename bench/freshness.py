#!/usr/bin/env python3
"""Freshness of the live agent: how long after nginx writes a line can
`apimeter query` see it?

Setup (all private, in a temp dir): a redis-server on a free port, a log fed
at a steady rate by `apimeter-loggen --follow`, and `apimeter agent` on it
with its default flush interval (2 s) unless --flush is given. Then, SAMPLES
times: append one marker line whose endpoint is unique and alphabetic
(`/v1/fresh<letters>`: numeric segments would be normalised to :id), and poll
`apimeter query overview --endpoint "GET /v1/fresh<letters>" --json` until it
counts the line. The delay from the write to the first answer that counts it
is one sample; p50/p95/max are printed. Samples are spaced by a random pause
(0..flush interval) so they fall at every phase of the flush cycle.

The marker is written just after loggen's 100 ms tick has written its lines
(the file grew, then 10 ms), so the two writers' bytes do not interleave; a
marker that never shows up (e.g. it did interleave) is reported as missed.

Usage: bench/freshness.py [--samples 40] [--rps 2000] [--flush 2s]
Env: APIMETER_BINARY, APIMETER_LOGGEN (default build/cli/apimeter,
build/tools/apimeter-loggen). Python 3 standard library only.
"""
import argparse
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("APIMETER_BINARY", os.path.join(ROOT, "build/cli/apimeter"))
LOGGEN = os.environ.get("APIMETER_LOGGEN", os.path.join(ROOT, "build/tools/apimeter-loggen"))
API_FORMAT = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
              '"$http_referer" "$http_user_agent" $request_time $upstream_response_time '
              '"$http_x_api_key" $request_length')


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")


def letters(n, width=5):
    s = ""
    for _ in range(width):
        s = chr(ord("a") + n % 26) + s
        n //= 26
    return s


def marker_line(endpoint_path):
    now = datetime.now(timezone.utc)
    stamp = now.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return (f'127.0.0.1 - - [{stamp}] "GET {endpoint_path} HTTP/1.1" 200 321 "-" "freshness/1.0" '
            f'0.004 0.004 "fresh-key" 120\n').encode()


def percentile(sorted_values, p):
    k = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(k, len(sorted_values)) - 1]


def stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--rps", type=float, default=2000)
    ap.add_argument("--flush", default="", help="agent.flush_interval (default: the agent's, 2s)")
    ap.add_argument("--timeout", type=float, default=30, help="seconds before a marker counts as missed")
    args = ap.parse_args()
    samples = max(1, min(args.samples, 1000))  # bounded

    work = tempfile.mkdtemp(prefix="apimeter-fresh-")
    redis = loggen = agent = None
    try:
        port, mport = free_port(), free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", work,
                                  "--save", "", "--appendonly", "no", "--loglevel", "warning"],
                                 stdout=subprocess.DEVNULL)
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True,
                                        text=True).stdout.strip() == "PONG", 10, "redis")
        log = os.path.join(work, "api.access.log")
        open(log, "wb").close()
        config = os.path.join(work, "apimeter.yaml")
        flush = f"\n  flush_interval: {args.flush}" if args.flush else ""
        with open(config, "w") as f:
            f.write(f"""sources:
  - paths: ["{log}"]
    log_format: '{API_FORMAT}'
    customer: $http_x_api_key
    latency: $request_time
    host: fresh
customer_id_secret: "freshness-bench-secret"
redis: {{ url: "redis://127.0.0.1:{port}/0", prefix: "fresh" }}
agent:
  from_start: true
  metrics_listen: "127.0.0.1:{mport}"{flush}
""")
        loggen = subprocess.Popen([LOGGEN, "--follow", "--rps", str(args.rps), "--seed", "3", "--out", log])
        agent_out = open(os.path.join(work, "agent.out"), "w")
        agent = subprocess.Popen([BIN, "agent", "--config", config], stdout=agent_out, stderr=subprocess.STDOUT)
        agent_out.close()

        def flushes():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=2) as r:
                    for line in r.read().decode().splitlines():
                        if line.startswith("apimeter_agent_flushes_total"):
                            return float(line.split()[-1])
            except OSError:
                return None
            return None

        wait_for(lambda: (flushes() or 0) >= 1, 30, "the agent's first flush")
        flush_s = 2.0
        if args.flush:
            unit = args.flush.lstrip("0123456789")
            flush_s = int(args.flush[:len(args.flush) - len(unit)]) * {"ms": 0.001, "s": 1, "m": 60}[unit]

        def visible(endpoint):
            try:
                r = subprocess.run([BIN, "query", "overview", "--config", config, "--json", "--from", "10m",
                                    "--to", "now", "--endpoint", endpoint], capture_output=True, text=True)
                return r.returncode == 0 and json.loads(r.stdout).get("requests", 0) >= 1
            except (OSError, ValueError):  # binary being rebuilt, odd output: not visible yet
                return False

        rng = random.Random(7)
        tag = letters(rng.randrange(26 ** 4), 4)
        delays, missed = [], 0
        for n in range(samples):
            time.sleep(rng.uniform(0, flush_s))  # spreads samples over the flush cycle
            size = os.path.getsize(log)
            wait_for(lambda: os.path.getsize(log) != size, 5, "loggen's next tick", interval=0.002)
            time.sleep(0.01)  # let loggen's tick finish writing before ours
            path = f"/v1/fresh{tag}{letters(n)}"
            with open(log, "ab") as f:
                f.write(marker_line(path))
            t0 = time.monotonic()
            try:
                wait_for(lambda: visible("GET " + path), args.timeout, path, interval=0.05)
                delays.append(time.monotonic() - t0)
                result = f"{delays[-1]:.2f} s"
            except RuntimeError:
                missed += 1
                result = "missed"
            print(f"sample {n + 1}/{samples}: {result}", file=sys.stderr)
        if not delays:
            print("no marker became visible")
            return 1
        delays.sort()
        print(f"freshness (write → visible in `apimeter query`), {len(delays)} samples, "
              f"{missed} missed, loggen {args.rps:g} lines/s, flush {args.flush or '2s (default)'}:")
        print(f"  p50 {percentile(delays, 50):.2f} s   p95 {percentile(delays, 95):.2f} s   "
              f"min {delays[0]:.2f} s   max {delays[-1]:.2f} s")
        return 0 if missed == 0 else 1
    finally:
        stop(agent)
        stop(loggen)
        stop(redis)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
