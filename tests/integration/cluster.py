"""A private Redis Cluster for end-to-end tests: N masters (and optionally one
replica each) as redis-server processes on free loopback ports, each with its
own directory and log, created with `redis-cli --cluster create`. Readiness is
awaited by polling against deadlines; close() stops every process it started.

Ports: a node needs its port p and its cluster bus port p+10000. Both are
taken below Linux's ephemeral range (32768+), where other tests' free_port()
and outgoing connections live, and checked free by binding; a port can still
be taken between that check and redis-server's bind (another test's cluster),
so a node that exits with "Address already in use" makes the start try again
on other ports, at most START_ATTEMPTS times."""
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

# Base ports 20000..22699, bus ports 30000..32699: both below 32768.
PORT_LOW, PORT_COUNT, BUS_OFFSET = 20000, 2700, 10000
START_ATTEMPTS = 5


def _port_free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _free_cluster_ports(n, rng, avoid=()):
    """n distinct ports p, not in `avoid`, with p and p+10000 both free now."""
    ports = []
    for _ in range(100 * n):
        p = PORT_LOW + rng.randrange(PORT_COUNT)
        if p not in ports and p not in avoid and _port_free(p) and _port_free(p + BUS_OFFSET):
            ports.append(p)
            if len(ports) == n:
                return ports
    raise RuntimeError(f"no {n} free cluster ports in {PORT_LOW}..{PORT_LOW + PORT_COUNT}")


def wait_for(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)  # polling a condition against a deadline
    raise AssertionError(f"timed out waiting for {what}")


class PortTaken(Exception):
    """A node could not bind its port or bus port: try other ports."""


class RedisCluster:
    def __init__(self, masters=3, replicas=1, node_timeout_ms=1000):
        self.dir = tempfile.mkdtemp(prefix="apimeter-cluster-")
        self.procs = {}
        self.port_retries = 0  # starts retried because a port was taken
        try:
            self.ports = self._start_nodes(masters * (1 + replicas), node_timeout_ms)
            r = subprocess.run(
                ["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
                 "--cluster-replicas", str(replicas), "--cluster-yes"],
                capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise RuntimeError("redis-cli --cluster create failed: " + r.stdout + r.stderr)
            wait_for(self.healthy, "cluster_state:ok on every node", 30)
            if replicas:
                wait_for(self.replicas_synced, "replicas in sync", 30)
                wait_for(self.slots_list_replicas, "every node's CLUSTER SLOTS to list replicas", 30)
        except BaseException:
            self.close()
            raise

    def _start_nodes(self, n, node_timeout_ms):
        rng = random.Random(os.getpid() ^ time.monotonic_ns())
        tried = set()
        for _ in range(START_ATTEMPTS):
            ports = _free_cluster_ports(n, rng, tried)
            tried.update(ports)
            try:
                for p in ports:
                    self.start_node(p, node_timeout_ms)
                for p in ports:
                    self._wait_node_up(p)
                return ports
            except PortTaken:
                self.port_retries += 1
                for p in ports:
                    self._stop_node(p)
        raise RuntimeError(f"cluster nodes found their ports taken {START_ATTEMPTS} times")

    def log_path(self, port):
        return os.path.join(self.dir, str(port), "redis.log")

    def log_text(self, port):
        try:
            with open(self.log_path(port), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _wait_node_up(self, port, timeout=10):
        """Returns once the node answers PING; PortTaken if it exited because
        its port or bus port was in use; any other exit or the deadline is an
        error naming the node's log."""
        state = {}

        def up_or_exited():
            if self.procs[port].poll() is not None:
                state["exited"] = True
                return True
            return self.cli(port, "PING").strip() == "PONG"

        try:
            wait_for(up_or_exited, f"node {port}", timeout)
        except AssertionError as e:
            raise AssertionError(f"{e}; its log:\n{self.log_text(port)[-2000:]}") from None
        if state.get("exited"):
            log = self.log_text(port)
            if "Address already in use" in log:
                raise PortTaken(port)
            raise RuntimeError(f"redis-server on port {port} exited; its log:\n{log[-2000:]}")

    def _stop_node(self, port):
        proc = self.procs.pop(port, None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(os.path.join(self.dir, str(port)), ignore_errors=True)

    def start_node(self, port, node_timeout_ms=1000):
        d = os.path.join(self.dir, str(port))
        os.makedirs(d, exist_ok=True)
        self.procs[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", str(node_timeout_ms), "--save", "", "--appendonly", "no",
             "--repl-diskless-sync-delay", "0",
             "--loglevel", "notice", "--logfile", self.log_path(port)],
            stdout=subprocess.DEVNULL)

    def cli(self, port, *args):
        r = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                           timeout=30)
        return r.stdout

    def info(self, port, section):
        out = {}
        for line in self.cli(port, section[0], *section[1:]).splitlines():
            if ":" in line:
                k, v = line.strip().split(":", 1)
                out[k] = v
        return out

    def alive_ports(self):
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def healthy(self):
        for p in self.alive_ports():
            i = self.info(p, ["CLUSTER", "INFO"])
            if i.get("cluster_state") != "ok" or i.get("cluster_slots_ok") != "16384":
                return False
        return True

    def nodes(self, port=None):
        """[(id, host:port, flags, slots_text)] as a live node sees them."""
        port = port or self.alive_ports()[0]
        out = []
        for line in self.cli(port, "CLUSTER", "NODES").splitlines():
            parts = line.split()
            if len(parts) >= 8:
                out.append((parts[0], parts[1].split("@")[0], parts[2], " ".join(parts[8:])))
        return out

    def masters(self):
        return [(nid, addr) for nid, addr, flags, slots in self.nodes()
                if "master" in flags and "fail" not in flags and slots]

    def replicas_synced(self):
        for nid, addr, flags, _ in self.nodes():
            if "slave" in flags:
                port = int(addr.split(":")[1])
                if self.info(port, ["INFO", "replication"]).get("master_link_status") != "up":
                    return False
        return True

    def slots_list_replicas(self):
        """Every node reports a replica for every slot range (gossip has converged)."""
        for p in self.alive_ports():
            out = subprocess.run(["redis-cli", "-p", str(p), "--json", "CLUSTER", "SLOTS"],
                                 capture_output=True, text=True, timeout=30).stdout
            try:
                ranges = json.loads(out)
            except ValueError:
                return False
            if not ranges or any(len(r) < 4 for r in ranges):
                return False
        return True

    def seeds(self):
        return [f"127.0.0.1:{p}" for p in self.ports]

    def kill(self, port):
        """kill -9 one node (a master dies mid-write)."""
        proc = self.procs[port]
        proc.kill()
        proc.wait()

    def dbsize(self):
        return sum(int(self.cli(int(a.split(":")[1]), "DBSIZE").strip() or 0)
                   for _, a in self.masters())

    def close(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
