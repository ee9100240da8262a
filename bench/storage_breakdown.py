#!/usr/bin/env python3
# Redis memory and blocks per key kind (storage v2 and v1 key names), for
# bench/storage.sh: keys, MEMORY USAGE, list elements and their bytes.
# Usage: storage_breakdown.py PORT   (a tiny RESP client: no python3-redis needed).
# SCAN here is fine: a benchmark, not a query path.
import socket, sys, re, collections
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rb")
def enc(*a):
    out = b"*%d\r\n" % len(a)
    for x in a:
        x = x if isinstance(x, bytes) else str(x).encode()
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out
def rd():
    l = f.readline(); t, r = l[:1], l[1:-2]
    if t == b"+": return r.decode()
    if t == b"-": return Exception(r.decode())
    if t == b":": return int(r)
    if t == b"$":
        n = int(r)
        if n < 0: return None
        d = f.read(n + 2); return d[:-2]
    if t == b"*":
        n = int(r); return None if n < 0 else [rd() for _ in range(n)]
def cmds(cs):
    s.sendall(b"".join(enc(*c) for c in cs)); return [rd() for _ in cs]
keys, cur = [], "0"
while True:
    cur, ks = cmds([["SCAN", cur, "COUNT", 1000]])[0]; keys += ks; cur = cur.decode()
    if cur == "0": break
def kind(k):
    k = k.decode()
    m = re.match(r"\w+:\{([mhd])-?\d+\.\d+\}:(\w+)", k)
    if m: return "%s-tier %s" % (m.group(1), m.group(2))
    m = re.match(r"\w+:\{reg\d+\}:(\w+)", k)
    if m: return "registry " + m.group(1)
    if re.match(r"\w+:\{d\d+\}:slow", k): return "slow (zset)"
    return re.sub(r"[0-9a-f]{8,}|\d+", "N", k)
kinds = collections.defaultdict(lambda: [0, 0, 0, 0])
for i in range(0, len(keys), 200):
    ch = keys[i:i+200]
    r = cmds([c for k in ch for c in (["MEMORY", "USAGE", k, "SAMPLES", "0"], ["TYPE", k])])
    lists = [k for j, k in enumerate(ch) if r[2*j+1] == "list"]
    lr = dict(zip(lists, cmds([["LRANGE", k, 0, -1] for k in lists]))) if lists else {}
    for j, k in enumerate(ch):
        e = kinds[kind(k)]; e[0] += 1; e[1] += r[2*j] or 0
        if k in lr: e[2] += len(lr[k]); e[3] += sum(len(x) for x in lr[k])
tot = sum(v[1] for v in kinds.values())
print("%-20s %6s %11s %7s %11s" % ("key kind", "keys", "MEMORY MB", "blocks", "block MB"))
for k, v in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
    print("%-20s %6d %11.2f %7d %11.2f" % (k, v[0], v[1]/1048576, v[2], v[3]/1048576))
info = cmds([["INFO", "memory"]])[0].decode()
um = int(re.search(r"used_memory:(\d+)", info).group(1)); st = int(re.search(r"used_memory_startup:(\d+)", info).group(1))
print("sum of MEMORY USAGE %.2f MB; used_memory %.2f MB (startup %.2f MB)" % (tot/1048576, um/1048576, st/1048576))
