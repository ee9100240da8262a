"""The cost of the agent's traffic metrics (prometheus.traffic): CPU seconds
of `apimeter agent` to read a fixed log from its start (from_start, one flush
per hour so Redis stays out of the measure), with the traffic metrics on and
off, interleaved three times each in the same run; prints the medians, per
line and as the share of a core at 2,000 lines/s. A ratio in one run, not a
timed test: the machine's load moves both sides alike.
Usage: python3 bench/traffic_metrics_cpu.py [LINES]   env: BUILD (default build)"""
import os, subprocess, sys, tempfile, time, shutil, urllib.request, datetime
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness as h  # noqa: E402
BUILD=os.environ.get("BUILD", "build")
BIN=os.path.join(BUILD, "cli", "apimeter"); LG=os.path.join(BUILD, "tools", "apimeter-loggen")
tck=os.sysconf("SC_CLK_TCK"); N=int(sys.argv[1]) if len(sys.argv) > 1 else 300000
def ticks(pid):
    s=open(f"/proc/{pid}/stat").read(); f=s[s.rfind(")")+2:].split(); return int(f[11])+int(f[12])
d=tempfile.mkdtemp(prefix="apimeter-cpu-"); redis=h.Redis(); log=os.path.join(d,"api.log")
start=(datetime.datetime.utcnow()-datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
subprocess.run([LG,"--lines",str(N),"--start",start,"--rps","2000","--seed","7","--endpoints","150","--out",log],check=True)
res={"on":[],"off":[]}
for i,mode in enumerate(["on","off","on","off","on","off"]):
    port=h.free_port(); cfg=os.path.join(d,f"{i}.yaml")
    with open(cfg,"w") as f:
        f.write(h.config_yaml([log], redis.url, f"cpu{i}")+f'agent: {{ from_start: true, flush_interval: 1h, metrics_listen: "127.0.0.1:{port}" }}\nprometheus: {{ traffic: {"true" if mode=="on" else "false"} }}\n')
    p=subprocess.Popen([BIN,"agent","--config",cfg],stderr=subprocess.DEVNULL)
    t=None
    while True:
        try:
            b=urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",timeout=5).read().decode()
            if f"apimeter_agent_lines_read_total {N}\n" in b: t=ticks(p.pid); break
        except OSError: pass
        time.sleep(0.05)  # polling the agent's progress
    res[mode].append(t/tck); p.kill(); p.wait()
for m in ("on","off"):
    v=sorted(res[m]); print(f"traffic {m}: CPU s to read {N} lines: {v} -> median {v[1]:.2f} s = {1e6*v[1]/N:.2f} us/line; at 2000 lines/s = {100*2000*v[1]/N:.2f}% of a core")
redis.close(); shutil.rmtree(d)
