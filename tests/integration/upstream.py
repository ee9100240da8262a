"""A tiny upstream HTTP server for the nginx end-to-end test.

Promise: answers every request with a latency and a status chosen
deterministically from the path and query (a hash, no randomness), so a run is
reproducible and the log carries a realistic mix of latencies, statuses and
body sizes. Threaded (ThreadingHTTPServer): slow answers do not hold up fast
ones. Standard library only.

Usage: upstream.py PORT_FILE   binds 127.0.0.1 on a free port, writes the port
                               to PORT_FILE (atomically) and serves until
                               SIGTERM/SIGINT.
"""
import hashlib
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (path prefix, min latency ms, max latency ms); first match wins.
LATENCY = [
    ("/v1/fast", 0, 5),
    ("/v1/slow", 50, 200),
    ("/api/search", 0, 300),
    ("/v1/orders", 5, 40),
]
# Statuses a request may get, weighted by repetition; the choice is a hash of
# the whole target, so the same URL always gets the same answer.
STATUSES = [200] * 14 + [201, 204, 304, 404, 404, 429, 500, 503]


def _digest(target):
    return int.from_bytes(hashlib.blake2b(target.encode(), digest_size=8).digest(), "big")


def plan(method, target):
    """(status, latency seconds, body size) for one request."""
    d = _digest(method + " " + target)
    path = target.split("?", 1)[0]
    lo, hi = 1, 10
    for prefix, a, b in LATENCY:
        if path.startswith(prefix):
            lo, hi = a, b
            break
    latency_ms = lo + (d >> 8) % (hi - lo + 1)
    status = STATUSES[d % len(STATUSES)]
    if path.startswith("/v1/fast"):
        status = 200  # the fast path never fails: keeps a stable base of 200s
    size = 0 if status in (204, 304) else 20 + (d >> 24) % 4000
    return status, latency_ms / 1000.0, size


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(min(length, 1 << 20))
        status, delay, size = plan(self.command, self.path)
        time.sleep(delay)  # the simulated work of the upstream, not synchronisation
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if size and self.command != "HEAD":
            self.wfile.write(b"x" * size)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, fmt, *args):  # quiet: nginx's log is the record
        pass


def _stop(signum, frame):
    raise KeyboardInterrupt  # leaves serve_forever on the main thread


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 64
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, sys.argv[1])
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
