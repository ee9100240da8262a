"""scripts/demo.sh ends on SIGTERM and SIGINT: it stops what it started
(redis-server, the log generator, the agent, serve) and exits (143, 130)
instead of going on printing empty answers in its loop. The script runs for
real with the already-built binaries, a tiny backfill and a 1 s loop
(APIMETER_DEMO_* variables), so each run takes a few seconds."""
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import shutil
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEMO = os.path.join(ROOT, "scripts", "demo.sh")


def children(pid):
    """Pids whose parent is `pid` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry))
    return out


def alive(pid):
    """True while `pid` runs (a zombie waiting for its parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class DemoScriptTest(unittest.TestCase):
    def run_and_signal(self, sig, want_code):
        tmp = tempfile.mkdtemp(prefix="apimeter-it-demo-")
        self.addCleanup(shutil.rmtree, tmp, True)
        env = dict(os.environ,
                   APIMETER_DEMO_APIMETER=os.path.abspath(h.BIN),
                   APIMETER_DEMO_LOGGEN=os.path.abspath(h.LOGGEN),
                   APIMETER_DEMO_DIR=os.path.join(tmp, "demo"),
                   APIMETER_DEMO_LINES="300",
                   APIMETER_DEMO_INTERVAL="1",
                   APIMETER_DEMO_REDIS_PORT=str(h.free_port()),
                   APIMETER_DEMO_METRICS_PORT=str(h.free_port()),
                   APIMETER_DEMO_WEB_PORT=str(h.free_port()))
        # A session of its own: the signal goes to the script alone, as with
        # `kill PID` or `timeout`, and a failed test can still stop the group.
        proc = subprocess.Popen(["bash", DEMO], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.addCleanup(self.stop_group, proc)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout] + [lines.put(None)],
                         daemon=True).start()
        output = []

        def read_until(marker, deadline):
            while time.monotonic() < deadline:
                try:
                    line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if line is None:
                    break
                output.append(line)
                if marker in line:
                    return True
            return False

        # One round of the loop has printed: everything is running.
        self.assertTrue(read_until("== top endpoints", time.monotonic() + 120), "".join(output))
        started = children(proc.pid)
        with open(os.path.join(tmp, "demo", "redis.pid")) as f:
            started.append(int(f.read().strip()))
        self.addCleanup(lambda: [os.kill(p, signal.SIGKILL) for p in started if alive(p)])
        self.assertGreaterEqual(len(started), 4, started)  # generator, agent, serve, redis (+ sleep)

        proc.send_signal(sig)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.fail(f"demo.sh still running 30 s after signal {sig}:\n" + "".join(output))
        read_until("\0never", time.monotonic() + 5)  # the rest of its output, up to EOF
        self.assertEqual(code, want_code, "".join(output))
        text = "".join(output)
        self.assertIn("demo: stopping", text)
        self.assertNotIn("== ", text.split("demo: stopping", 1)[1])  # the loop did not go on
        deadline = time.monotonic() + 10
        while any(alive(p) for p in started) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling process exit against a deadline
        self.assertEqual([p for p in started if alive(p)], [], "children left running")

    @staticmethod
    def stop_group(proc):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()

    def test_sigterm_stops_everything_and_exits(self):
        self.run_and_signal(signal.SIGTERM, 143)

    def test_sigint_stops_everything_and_exits(self):
        self.run_and_signal(signal.SIGINT, 130)


if __name__ == "__main__":
    unittest.main(verbosity=2)
