"""API keys are never shown raw by the CLI (issue 13, item 4): test-format,
the rejected samples of backfill and the rejected lines in the agent's log
show each key as its customer id (or <masked> where a line did not parse far
enough to say where the key is); --show-raw-lines shows them, with a
warning. Keys sit in accepted lines, in lines rejected after the key was
matched (bad status), in lines rejected before it (no match), in the query
string, and in a line dated years ahead (future_time)."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

SECRET = "secrets-test-secret-0123456789"
LONG_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
SHORT_KEY = "acme-7Q2"
KEYS = [LONG_KEY, SHORT_KEY, "pk_test_TYooMQauvdEDq54NiTphI7jx", "tok-9f8e7d6c5b4a"]


def line(t, status, key, path="/v1/orders/42"):
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
    return (f'10.0.0.1 - - [{stamp}] "GET {path} HTTP/1.1" {status} 512 "-" "curl/8" '
            f'0.004 0.003 "{key}" 300\n')


def write_log(path, now):
    with open(path, "w") as f:
        f.write(line(now - 120, "200", LONG_KEY))                            # accepted
        f.write(line(now - 110, "200", SHORT_KEY, f"/v1/x?api_key={SHORT_KEY}"))  # and in the query
        f.write(line(now - 100, "000", KEYS[2]))                             # bad_status
        f.write(line(now - 90, "2x0", KEYS[3]))                              # no_match before the key
        f.write(line(now - 80, "2x0", SHORT_KEY))                            # short, unparsed
        f.write(line(now + 5 * 365 * 86400, "200", LONG_KEY))                # future_time
        f.write(f"garbage {LONG_KEY} and \"{SHORT_KEY}\"\n")                  # nothing parses
        f.write(f"more garbage: {KEYS[3]}\n")


class SecretsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = h.Redis()
        cls.dir = tempfile.mkdtemp(prefix="apimeter-it-secrets-")
        cls.log = os.path.join(cls.dir, "api.access.log")
        cls.now = int(time.time())
        write_log(cls.log, cls.now)
        cls.config = os.path.join(cls.dir, "apimeter.yaml")
        with open(cls.config, "w") as f:
            f.write(h.config_yaml([cls.log], cls.redis.url, f"itsecrets{os.getpid()}",
                                  secret=SECRET))
            f.write(f'agent: {{ flush_interval: 200ms, metrics_listen: "127.0.0.1:{h.free_port()}" }}\n')
        ids = h.run([h.BIN, "customer-id", "--config", cls.config],
                    input="\n".join(KEYS) + "\n").stdout.split()
        cls.ids = dict(zip(KEYS, ids))

    @classmethod
    def tearDownClass(cls):
        cls.redis.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def assertNoKey(self, text):
        leaked = [k for k in KEYS if k in text]
        self.assertEqual(leaked, [], text)

    def test_test_format_masks_keys_in_accepted_and_rejected_lines(self):
        r = h.run([h.BIN, "test-format", "--config", self.config, self.log], check=False)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)  # some lines are rejected
        self.assertNoKey(r.stdout + r.stderr)
        self.assertIn(f'$http_x_api_key = "<customer {self.ids[LONG_KEY]}>"', r.stdout)
        self.assertIn(f"?api_key=<customer {self.ids[SHORT_KEY]}>", r.stdout)
        self.assertIn("rejected: future_time", r.stdout)
        self.assertIn("2 of 8 lines parsed, 6 rejected", r.stdout)

        raw = h.run([h.BIN, "test-format", "--show-raw-lines", "--config", self.config, self.log],
                    check=False)
        self.assertIn(f'$http_x_api_key = "{LONG_KEY}"', raw.stdout)
        self.assertIn("--show-raw-lines: log lines are shown as logged, API keys", raw.stderr)

    def test_backfill_rejected_samples_mask_keys(self):
        r = h.run([h.BIN, "backfill", "--config", self.config, "--no-progress", self.log])
        self.assertIn("future_time=1", r.stdout)
        self.assertIn("rejected samples", r.stdout)
        self.assertNoKey(r.stdout + r.stderr)
        self.assertIn(f'"<customer {self.ids[KEYS[2]]}>"', r.stdout)  # bad_status: position known
        self.assertIn('"<masked>"', r.stdout)                         # no_match: guessed

    def test_backfill_show_raw_lines_shows_them_with_a_warning(self):
        # Another prefix: the lines are new to it, so they are read (and sampled) again.
        config = os.path.join(self.dir, "raw.yaml")
        with open(config, "w") as f:
            f.write(h.config_yaml([self.log], self.redis.url, f"itsecretsraw{os.getpid()}",
                                  secret=SECRET))
        r = h.run([h.BIN, "backfill", "--show-raw-lines", "--config", config, "--no-progress",
                   self.log])
        self.assertIn(KEYS[3], r.stdout)
        self.assertIn("--show-raw-lines", r.stderr)

    def test_agent_log_masks_keys_in_rejected_lines(self):
        log = os.path.join(self.dir, "agent.log")
        agent_config = os.path.join(self.dir, "agent.yaml")
        with open(agent_config, "w") as f:
            f.write(h.config_yaml([self.log], self.redis.url, f"itsecretsagent{os.getpid()}",
                                  secret=SECRET))
            f.write(f'agent: {{ flush_interval: 200ms, metrics_listen: "127.0.0.1:{h.free_port()}" }}\n')
        with open(log, "w") as err:
            agent = subprocess.Popen([h.BIN, "agent", "--from-start", "--config", agent_config],
                                     stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with open(log) as f:
                    text = f.read()
                if text.count("rejected line (") >= 5:
                    break
                time.sleep(0.05)  # polling the agent's log against a deadline
            agent.send_signal(signal.SIGTERM)
            self.assertEqual(agent.wait(timeout=30), 0)
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
        with open(log) as f:
            text = f.read()
        self.assertEqual(text.count("rejected line ("), 5, text)  # at most 5 per interval ...
        self.assertIn("1 more rejected lines in the last interval were not logged", text)
        self.assertNoKey(text)
        self.assertIn(f'"<customer {self.ids[KEYS[2]]}>"', text)
        self.assertIn("rejected line (future_time)", text)
        self.assertIn(f'"<customer {self.ids[LONG_KEY]}>"', text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
