"""A private Redis Cluster for end-to-end tests: N masters (and optionally one
replica each) as redis-server processes on free loopback ports, each with its
own directory, created with `redis-cli --cluster create`. Readiness is awaited
by polling against deadlines; close() stops every process it started."""
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time


def _port_free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _free_cluster_ports(n):
    """n ports p such that p and its cluster bus port p+10000 are both free."""
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    ports = []
    while len(ports) < n:
        p = rng.randrange(20000, 40000)
        if p not in ports and _port_free(p) and _port_free(p + 10000):
            ports.append(p)
    return ports


def wait_for(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)  # polling a condition against a deadline
    raise AssertionError(f"timed out waiting for {what}")


class RedisCluster:
    def __init__(self, masters=3, replicas=1, node_timeout_ms=1000):
        self.dir = tempfile.mkdtemp(prefix="apimeter-cluster-")
        self.ports = _free_cluster_ports(masters * (1 + replicas))
        self.procs = {}
        try:
            for p in self.ports:
                self.start_node(p, node_timeout_ms)
            for p in self.ports:
                wait_for(lambda p=p: self.cli(p, "PING").strip() == "PONG", f"node {p}", 10)
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

    def start_node(self, port, node_timeout_ms=1000):
        d = os.path.join(self.dir, str(port))
        os.makedirs(d, exist_ok=True)
        self.procs[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", str(node_timeout_ms), "--save", "", "--appendonly", "no",
             "--loglevel", "warning"],
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
