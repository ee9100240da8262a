"""End to end on a real Redis Cluster (3 masters, 3 replicas, started by
tests/integration/cluster.py): backfill and live agents give the same answers
as a single Redis and exact counts against truth computed from the log files;
three agents with different host names merge exactly; a master killed while
agents write (its replica promoted) and slots moved while agents write lose
and double-count nothing; a cluster whose port was taken at start is started
again on other ports. Run one class: cluster_test.py <ClassName>. With
APIMETER_TEST_KEEP_LOGS=<dir>, the agent tests copy every agent's and node's
whole log there."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import cluster  # noqa: E402
import harness as h  # noqa: E402
from cluster import RedisCluster, wait_for  # noqa: E402

HOSTS = ("web-a", "web-b", "web-c")


def write_config(path, logs_glob, host, redis_yaml, prefix, agent_yaml=""):
    with open(path, "w") as f:
        f.write(f"""
sources:
  - paths: ["{logs_glob}"]
    log_format: '{h.API_FORMAT}'
    customer: $http_x_api_key
    latency: $request_time
    host: {host}
customer_id_secret: "integration-test-secret"
redis:
{redis_yaml}
  prefix: "{prefix}"
{agent_yaml}
""")


def cluster_yaml(cluster):
    return "  cluster: [" + ", ".join(f'"{s}"' for s in cluster.seeds()) + "]"


def query(config, kind, *args):
    r = h.run([h.BIN, "query", kind, "--config", config, "--json", *args])
    return json.loads(r.stdout)


def generate(path, lines, start, span, seed):
    h.run([h.LOGGEN, "--lines", str(lines), "--start", str(start), "--rps",
           f"{lines / span:.6f}", "--seed", str(seed), "--bad-ratio", "0.002", "--out", path])


class ClusterBackfillTest(unittest.TestCase):
    """Backfill into a single Redis and into the cluster: identical answers."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="apimeter-cit-")
        cls.redis = h.Redis()
        try:
            cls.cluster = RedisCluster(masters=3, replicas=1)
        except BaseException:
            cls.redis.close()
            raise
        cls.end = int(time.time()) - 7200
        logs = os.path.join(cls.dir, "logs")
        os.makedirs(logs)
        # Two days and a half: the oldest part is past the 48 h minute retention.
        generate(os.path.join(logs, "api.access.log"), 60000, cls.end - 60 * 3600, 60 * 3600, 11)
        cls.files = [os.path.join(logs, "api.access.log")]
        cls.requests, _ = h.parse_logs(cls.files)
        prefix = f"cit{os.getpid()}"
        cls.single = os.path.join(cls.dir, "single.yaml")
        cls.multi = os.path.join(cls.dir, "cluster.yaml")
        write_config(cls.single, f"{logs}/api.access.log", "it-host",
                     f'  url: "{cls.redis.url}"', prefix)
        write_config(cls.multi, f"{logs}/api.access.log", "it-host", cluster_yaml(cls.cluster),
                     prefix)
        h.run([h.BIN, "backfill", "--config", cls.single, "--no-progress"])
        cls.out = h.run([h.BIN, "backfill", "--config", cls.multi, "--no-progress"]).stdout

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()
        cls.redis.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_same_answers_as_single_redis(self):
        day = 86400
        asks = [
            ("overview", "--from", h.iso(self.end - 3 * day), "--to", h.iso(self.end + 3600)),
            ("overview", "--from", h.iso(self.end - 6 * 3600), "--to", h.iso(self.end)),
            ("endpoints", "--from", h.iso(self.end - day), "--to", h.iso(self.end), "--limit", "25"),
            ("customers", "--from", h.iso(self.end - day), "--to", h.iso(self.end), "--limit", "25"),
            ("timeseries", "--from", h.iso(self.end - 6 * 3600), "--to", h.iso(self.end), "--step", "1h"),
            ("slow", "--from", h.iso(self.end - 2 * day), "--to", h.iso(self.end), "--limit", "20"),
            ("overview", "--from", h.iso(self.end - day), "--to", h.iso(self.end), "--host", "it-host"),
            # The client kinds (u, v, w) through the cluster flush as well.
            ("clients", "--from", h.iso(self.end - 2 * day), "--to", h.iso(self.end)),
        ]
        for ask in asks:
            with self.subTest(ask=" ".join(ask)):
                self.assertEqual(query(self.multi, *ask), query(self.single, *ask))
        clients = query(self.multi, *asks[-1])
        self.assertTrue(clients["logged"], clients)  # compared on real client rows
        self.assertGreater(len(clients["clients"]), 1, clients)

    def test_exact_against_truth(self):
        frm, to = self.end - 70 * 3600, self.end + 3600
        got = query(self.multi, "overview", "--from", h.iso(frm), "--to", h.iso(to))
        want = h.summarize([r for r in self.requests if frm <= r.t < to])
        self.assertEqual(got["requests"], want["requests"])
        self.assertEqual(got["status"], want["status"])
        self.assertEqual(got["bytes_out"], want["bytes_out"])
        self.assertEqual(got["requests"], len(self.requests))

    def test_no_script_call_skipped(self):
        """A backfill without failures applies every series script call: none
        is found already applied (issue 14.1: calls past a group's first 200
        series were skipped that way, silently)."""
        self.assertEqual(cluster_summary(self.out, "groups found already applied"), 0, self.out)

    def test_second_backfill_adds_nothing(self):
        self.assertIn("redis cluster:    3 masters", self.out)
        # A fixed range: a relative one ("7d") ends at now, which moves while
        # the second backfill runs.
        week = ("--from", h.iso(self.end - 7 * 86400), "--to", h.iso(self.end + 3600))
        before = query(self.multi, "overview", *week)
        again = h.run([h.BIN, "backfill", "--config", self.multi, "--no-progress"])
        self.assertIn("lines:            0 ", again.stdout)
        self.assertEqual(query(self.multi, "overview", *week), before)

    def test_keys_spread_over_every_master(self):
        sizes = [int(self.cluster.cli(int(a.split(":")[1]), "DBSIZE").strip())
                 for _, a in self.cluster.masters()]
        self.assertEqual(len(sizes), 3)
        mean = sum(sizes) / len(sizes)
        self.assertLess(max(sizes), 1.5 * mean, sizes)


def cluster_summary(summary, what):
    """N from backfill's "redis cluster: ..., N <what>, ..." line (0 if absent)."""
    for line in summary.splitlines():
        if line.strip().startswith("redis cluster:"):
            for part in line.split(","):
                if part.strip().endswith(what):
                    return int(part.split()[-len(what.split()) - 1])
    return 0


def journals_recovered(summary):
    return cluster_summary(summary, "journals recovered")


class ClusterCrashTest(unittest.TestCase):
    """kill -9 backfill at many moments (between the commits of two slots
    among them), run it again each time: the final counts are exact."""

    def test_killed_backfills_resume_exactly(self):
        d = tempfile.mkdtemp(prefix="apimeter-cit-")
        cluster = RedisCluster(masters=3, replicas=1)
        try:
            logs = os.path.join(d, "logs")
            os.makedirs(logs)
            end = int(time.time()) - 600
            log = os.path.join(logs, "api.access.log")
            generate(log, 60000, end - 20 * 3600, 20 * 3600, 21)
            reqs, _ = h.parse_logs([log])
            cfg = os.path.join(d, "c.yaml")
            # memory_mb 1: a flush every few thousand lines, so kills land mid-flush.
            write_config(cfg, f"{logs}/api.access.log", "crash-host", cluster_yaml(cluster),
                         f"ccr{os.getpid()}", "limits: { memory_mb: 1 }")
            recovered = 0
            for delay in (0.3, 0.5, 0.7, 0.9, 1.1, 1.3):
                p = subprocess.Popen([h.BIN, "backfill", "--config", cfg, "--no-progress"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                try:
                    p.wait(timeout=delay)  # let it run this long, then kill it
                except subprocess.TimeoutExpired:
                    p.kill()
                recovered += journals_recovered(p.communicate()[0])
            final = h.run([h.BIN, "backfill", "--config", cfg, "--no-progress"]).stdout
            recovered += journals_recovered(final)
            got = query(cfg, "overview", "--from", h.iso(end - 21 * 3600), "--to", h.iso(end + 60))
            want = h.summarize(reqs)
            self.assertEqual(got["requests"], want["requests"], f"{final}\nanswer: {got}")
            self.assertEqual(got["status"], want["status"])
            self.assertEqual(got["bytes_out"], want["bytes_out"])
            print(f"journals recovered after kills: {recovered}", file=sys.stderr)
        finally:
            cluster.close()
            shutil.rmtree(d, ignore_errors=True)


class Feeder:
    """Appends pre-generated lines to the agents' logs in small chunks while
    the test does something to the cluster, then finishes the files."""

    def __init__(self, sources, chunks=60, pause=0.05, gate_at=None):
        self.sources, self.chunks, self.pause = sources, chunks, pause
        self.thread = threading.Thread(target=self.run)
        self.done = threading.Event()
        # With gate_at, the writer stops before that chunk until gate is set,
        # so the rest of the lines arrive only after the test's disruption.
        self.gate_at, self.gate = gate_at, threading.Event()

    def run(self):
        data = {}
        for src, dst in self.sources:
            with open(src, "rb") as f:
                data[dst] = f.readlines()
        for i in range(self.chunks):
            if i == self.gate_at and not self.gate.wait(timeout=120):
                raise RuntimeError("feeder gate never opened")
            for dst, lines in data.items():
                n = len(lines)
                part = lines[i * n // self.chunks:(i + 1) * n // self.chunks]
                with open(dst, "ab") as f:
                    f.write(b"".join(part))
            time.sleep(self.pause)  # pacing the writer, not synchronisation
        self.done.set()


class AgentsBase(unittest.TestCase):
    """Three live agents (hosts web-a, web-b, web-c) on one cluster."""

    LINES = 12000

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="apimeter-cit-")
        self.cluster = RedisCluster(masters=3, replicas=1)
        self.agents = []
        self.prefix = f"cag{os.getpid()}"
        start = int(time.time()) - 3600
        self.sources, self.configs, self.metrics = [], [], []
        for i, host in enumerate(HOSTS):
            logs = os.path.join(self.dir, host)
            os.makedirs(logs)
            src = os.path.join(self.dir, f"{host}.src.log")
            generate(src, self.LINES, start, 3000, 100 + i)
            live = os.path.join(logs, "api.access.log")
            open(live, "wb").close()
            self.sources.append((src, live))
            port = h.free_port()
            self.metrics.append(port)
            cfg = os.path.join(self.dir, f"{host}.yaml")
            write_config(cfg, f"{logs}/api.access.log", host, cluster_yaml(self.cluster),
                         self.prefix,
                         f'agent: {{ flush_interval: 100ms, from_start: true, '
                         f'metrics_listen: "127.0.0.1:{port}" }}')
            self.configs.append(cfg)
        self.truth, _ = h.parse_logs([s for s, _ in self.sources])

    def tearDown(self):
        for a in self.agents:
            if a.poll() is None:
                a.kill()
                a.wait()
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and any(e for _, e in getattr(outcome.result, "errors", [])[-1:]) \
                or outcome is not None and getattr(outcome.result, "failures", []):
            for i in range(len(self.agents)):  # the agents' logs, to see why
                with open(os.path.join(self.dir, f"agent{i}.log")) as f:
                    print(f"--- agent{i}.log (last lines)\n" + "".join(f.readlines()[-15:]),
                          file=sys.stderr)
        keep = os.environ.get("APIMETER_TEST_KEEP_LOGS")
        if keep:  # investigating: keep the agents' and the nodes' whole logs
            dst = os.path.join(keep, f"{self.id()}-{os.getpid()}")
            os.makedirs(dst, exist_ok=True)
            for i in range(len(self.agents)):
                shutil.copy(os.path.join(self.dir, f"agent{i}.log"), dst)
            for p in self.cluster.ports:
                shutil.copy(self.cluster.log_path(p), os.path.join(dst, f"node{p}.log"))
        self.cluster.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_agents(self):
        for i, cfg in enumerate(self.configs):
            with open(os.path.join(self.dir, f"agent{i}.log"), "w") as log:
                self.agents.append(subprocess.Popen([h.BIN, "agent", "--config", cfg],
                                                    stdout=log, stderr=log))

    def overview(self):
        return query(self.configs[0], "overview", "--from", "3h")

    def requests_seen(self):
        """The cluster's request count; fails at once if an agent has exited
        (a dead agent would otherwise show up only as a timeout)."""
        for i, a in enumerate(self.agents):
            if a.poll() is not None:
                raise AssertionError(f"agent{i} ({HOSTS[i]}) exited with {a.returncode} "
                                     "while the test was waiting for it")
        try:
            return self.overview()["requests"]
        except AssertionError:
            return -1  # the cluster may be failing over right now

    def metric(self, port, name):
        """A counter of one agent; None while the agent is busy in a flush."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                for line in r.read().decode().splitlines():
                    if line.startswith(name + " ") or line.startswith(name + "{"):
                        return float(line.split()[-1])
        except OSError:
            return None
        return None

    def finish_and_check(self, timeout=45):
        total = len(self.truth)
        try:
            wait_for(lambda: self.requests_seen() >= total, f"{total} requests counted", timeout)
        except AssertionError:
            for i, port in enumerate(self.metrics):  # where each agent stands, to see why
                got = {k: self.metric(port, f"apimeter_agent_{k}") for k in
                       ("lines_read_total", "flushes_total", "flush_failures_total", "redis_up",
                        "redis_cluster_topology_reloads_total")}
                print(f"agent{i} ({HOSTS[i]}): {got}", file=sys.stderr)
            raise
        for a in self.agents:
            a.send_signal(signal.SIGTERM)
        for a in self.agents:
            self.assertEqual(a.wait(timeout=30), 0)
        got = self.overview()
        want = h.summarize(self.truth)
        self.assertEqual(got["requests"], want["requests"])
        self.assertEqual(got["status"], want["status"])
        self.assertEqual(got["bytes_in"], want["bytes_in"])
        self.assertEqual(got["bytes_out"], want["bytes_out"])
        for i, host in enumerate(HOSTS):
            mine = h.parse_logs([self.sources[i][0]])[0]
            per = query(self.configs[0], "overview", "--from", "3h", "--host", host)
            self.assertEqual(per["requests"], len(mine), host)


class ClusterAgentsTest(AgentsBase):
    def test_three_agents_merge_exactly(self):
        self.start_agents()
        feeder = Feeder(self.sources, chunks=20)
        feeder.thread.start()
        feeder.thread.join()
        self.finish_and_check()


class ClusterFailoverTest(AgentsBase):
    def test_master_killed_mid_flush_counts_stay_exact(self):
        self.start_agents()
        feeder = Feeder(self.sources, gate_at=30)
        feeder.thread.start()
        wait_for(lambda: self.requests_seen() > 0, "first flushes", 30)
        # kill -9 a master while the agents flush every 100 ms; its replica
        # is promoted after cluster-node-timeout. The second half of the lines
        # is written only now, so the agents flush while it is down.
        victim = int(self.cluster.masters()[0][1].split(":")[1])
        self.cluster.kill(victim)
        feeder.gate.set()
        wait_for(lambda: len(self.cluster.masters()) == 3 and self.cluster.healthy(),
                 "a replica promoted", 30)
        # Each agent loaded the topology once at start; more means it met the
        # dead master and reloaded.
        wait_for(lambda: sum(self.metric(p, "apimeter_agent_redis_cluster_topology_reloads_total")
                             or 0 for p in self.metrics) > len(HOSTS),
                 "an agent to meet the dead master", 30)
        feeder.thread.join()
        self.finish_and_check()


class ClusterReshardTest(AgentsBase):
    def test_slots_moved_while_agents_write(self):
        self.start_agents()
        # The first half of the lines is written while the slots move; the
        # second half only once they have moved (gate), so the agents flush
        # with stale slot maps however fast they and the reshard are (with
        # an ungated feeder, agents that had caught up flushed nothing after
        # the move: no redirect, seen once under ASan).
        feeder = Feeder(self.sources, chunks=200, gate_at=100)
        feeder.thread.start()
        wait_for(lambda: self.requests_seen() > 0, "first flushes", 30)
        masters = self.cluster.masters()
        port = int(masters[0][1].split(":")[1])
        r = h.run(["redis-cli", "--cluster", "reshard", f"127.0.0.1:{port}",
                   "--cluster-from", masters[0][0], "--cluster-to", masters[1][0],
                   "--cluster-slots", "2500", "--cluster-yes", "--cluster-pipeline", "20"],
                  timeout=60)
        self.assertIn("Moving slot", r.stdout)
        feeder.gate.set()

        def redirects():
            return [sum(self.metric(p, f"apimeter_agent_redis_cluster_{k}_total") or 0
                        for p in self.metrics) for k in ("moved", "ask")]
        # The agents' stale slot maps meet the moved slots.
        wait_for(lambda: sum(redirects()) > 0, "a MOVED or ASK redirect", 20)
        feeder.thread.join()
        moved, ask = redirects()
        print(f"redirects followed: {moved:.0f} MOVED, {ask:.0f} ASK", file=sys.stderr)
        self.finish_and_check()


class ClusterPortsTest(unittest.TestCase):
    """A node whose bus port is taken between the free-port check and its
    bind exits with "Address already in use"; the start tries other ports."""

    def test_taken_port_is_retried_on_other_ports(self):
        held = []
        real = cluster._free_cluster_ports

        def then_taken(n, rng, avoid=()):
            ports = real(n, rng, avoid)
            if not held:  # first attempt: someone binds a bus port after the check
                s = socket.socket()
                s.bind(("127.0.0.1", ports[1] + cluster.BUS_OFFSET))
                s.listen()
                held.append(s)
            return ports

        cluster._free_cluster_ports = then_taken
        try:
            c = RedisCluster(masters=3, replicas=0)
        finally:
            cluster._free_cluster_ports = real
        try:
            self.assertEqual(c.port_retries, 1)
            self.assertNotIn(held[0].getsockname()[1] - cluster.BUS_OFFSET, c.ports)
            self.assertTrue(c.healthy())
        finally:
            c.close()
            held[0].close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
