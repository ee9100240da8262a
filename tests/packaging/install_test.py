"""Installs the .deb on THIS machine with dpkg, checks what postinst did, runs
the units' ExecStart (and ExecReload) lines by hand as user apimeter against
a real nginx writing a `combined` log and a private redis-server, checks the
counts in Redis equal the requests sent, then purges and checks purge
removed what the package owns.

It changes the machine (a package, a system user), so it runs only as root
and only when CI=true or APIMETER_PACKAGE_INSTALL_TEST=1; otherwise it exits
77, which ctest reports as skipped. It refuses to touch a machine where
apimeter is already installed or /etc/apimeter or /var/lib/apimeter exist,
holds a lock so it never runs beside itself, and purges (and removes the user
it created) even when a check fails.

Phase 1 installs over a config that does not load (as config management
might drop one first): postinst must say why and not enable the agent.
Phase 2 is a clean install."""
import fcntl
import grp
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import pkg  # noqa: E402
from harness import free_port  # noqa: E402
from nginx_agent_test import PrivateRedis, parse_metrics, stop_process, wait_for  # noqa: E402

SKIP = 77
LOCK = "/run/lock/apimeter-package-install-test.lock"
CONFIG = "/etc/apimeter/apimeter.yaml"
STATE = "/var/lib/apimeter"
SECRET = "/etc/apimeter/customer_id_secret"
WANTS = "/etc/systemd/system/multi-user.target.wants/"
REQUESTS = 240
# (path, status nginx answers): the expected endpoint counts follow from these.
ROUTES = [("/v1/orders/{n}", 200), ("/v1/users/{n}/profile", 200), ("/health", 204),
          ("/nope/{n}", 404), ("/v1/fail", 503)]


def http_get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError):
        return None, ""


def installed():
    r = pkg.run(["dpkg-query", "-W", "-f=${Status}", "apimeter"], check=False)
    return r.returncode == 0 and "installed" in r.stdout.split()


def dpkg(*args):
    return pkg.run(["dpkg", *args], stdin=subprocess.DEVNULL,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), check=False)


def exec_line(unit, key):
    """The argv of `key=` (ExecStart, ExecReload) in an installed unit."""
    with open(f"/lib/systemd/system/{unit}") as f:
        lines = [ln[len(key) + 1:] for ln in f.read().splitlines() if ln.startswith(key + "=")]
    assert len(lines) == 1, f"{unit}: {key}= lines: {lines}"
    return shlex.split(lines[0])


def as_apimeter(argv):
    """argv run as apimeter the way the unit runs it: its groups (adm), no new
    privileges, no capabilities, a journald-like environment. setpriv execs
    in place, so the child's pid is the service's $MAINPID."""
    return ["setpriv", "--reuid=apimeter", "--regid=apimeter", "--init-groups", "--no-new-privs",
            "--inh-caps=-all", "--bounding-set=-all", "--", *argv]


def service_env():
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
            "INVOCATION_ID": secrets.token_hex(16)}


def replace_once(text, old, new):
    assert text.count(old) == 1, f"packaged config changed shape: {old!r} not found once"
    return text.replace(old, new)


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.deb = pkg.deb_path()
        cls.dir = tempfile.mkdtemp(prefix="apimeter-install-test-")
        os.chmod(cls.dir, 0o755)  # apimeter and nginx's workers traverse it
        cls.procs = []
        cls.user_existed = True
        try:
            pwd.getpwnam("apimeter")
        except KeyError:
            cls.user_existed = False

    @classmethod
    def tearDownClass(cls):
        for p in reversed(cls.procs):
            stop_process(p)
        if installed() or os.path.exists("/var/lib/dpkg/info/apimeter.list"):
            dpkg("--purge", "apimeter")
        if not cls.user_existed:
            subprocess.run(["userdel", "apimeter"], capture_output=True)
            subprocess.run(["groupdel", "apimeter"], capture_output=True)
        # main() refused to start unless both were absent: they are the test's.
        shutil.rmtree("/etc/apimeter", ignore_errors=True)
        shutil.rmtree(STATE, ignore_errors=True)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def spawn(self, argv, log, **kw):
        f = open(os.path.join(self.dir, log), "wb")
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        f.close()
        self.procs.append(p)
        return p

    def read(self, log):
        with open(os.path.join(self.dir, log), errors="replace") as f:
            return f.read()

    def test_install_run_purge(self):
        self.phase1_invalid_config_is_not_started()
        self.phase2_install()
        self.start_redis_and_nginx()
        self.configure_for_test()
        self.run_agent_and_count()
        self.run_serve()
        self.reinstall_keeps_config()
        self.purge()

    def phase1_invalid_config_is_not_started(self):
        os.makedirs("/etc/apimeter")
        with open(CONFIG, "w") as f:
            f.write("sources:\n  - paths: [\"/var/log/nginx/access.log\"]\n    log_fromat: combined\n")
        r = dpkg("-i", "--force-confold", self.deb)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out)
        self.assertIn(f"{CONFIG} is not valid", out)
        self.assertRegex(out, re.escape(CONFIG) + r":3:")  # the loader's file:line
        self.assertIn("not starting apimeter-agent", out)
        self.assertFalse(os.path.lexists(WANTS + "apimeter-agent.service"), out)
        self.assertFalse(os.path.lexists(WANTS + "apimeter-serve.service"), out)
        r = dpkg("--purge", "apimeter")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(os.path.exists(CONFIG))

    def phase2_install(self):
        r = dpkg("-i", self.deb)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out)
        self.assertNotIn("not valid", out)
        self.assertTrue(installed())
        # The valid packaged config: agent enabled, serve (no token yet) not.
        self.assertEqual(os.readlink(WANTS + "apimeter-agent.service"),
                         "/lib/systemd/system/apimeter-agent.service")
        self.assertFalse(os.path.lexists(WANTS + "apimeter-serve.service"))
        user = pwd.getpwnam("apimeter")
        self.assertEqual((user.pw_dir, user.pw_shell), (STATE, "/usr/sbin/nologin"))
        self.assertLess(user.pw_uid, 1000)  # a system user
        groups = pkg.run(["id", "-nG", "apimeter"]).stdout.split()
        self.assertIn("adm", groups)
        for path, owner, group, mode in [(STATE, "apimeter", "apimeter", 0o750),
                                         (STATE + "/session.key", "apimeter", "apimeter", 0o600),
                                         ("/etc/apimeter", "root", "apimeter", 0o750),
                                         (CONFIG, "root", "apimeter", 0o640),
                                         (SECRET, "root", "apimeter", 0o640)]:
            st = os.stat(path)
            self.assertEqual((pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
                              stat.S_IMODE(st.st_mode)), (owner, group, mode), path)
        conffiles = pkg.run(["dpkg-query", "-W", "-f=${Conffiles}", "apimeter"]).stdout
        self.assertIn(CONFIG, conffiles)
        # A fresh install's own customer id secret, never the built-in default;
        # not a file of the package (dpkg must never replace it).
        with open(SECRET) as f:
            self.secret = f.read()
        self.assertRegex(self.secret, r"^[0-9a-f]{64}\n$")
        self.assertNotIn(SECRET, conffiles)
        files = pkg.run(["dpkg-query", "-L", "apimeter"]).stdout.split()
        self.assertNotIn(SECRET, files)
        check = pkg.run(as_apimeter(["/usr/bin/apimeter", "check-config", "--config", CONFIG]))
        self.assertNotIn("default secret", check.stdout + check.stderr)
        version = pkg.run(["/usr/bin/apimeter", "--version"]).stdout
        self.assertTrue(version.startswith("apimeter " + pkg.VERSION.rsplit("-", 1)[0]), version)

    def start_redis_and_nginx(self):
        redis = PrivateRedis(self.dir)
        redis.start()
        self.procs.append(redis.proc)
        self.redis_port = redis.port
        self.redis_cli = ["redis-cli", "-p", str(self.redis_port)]

        # Like Debian's /var/log/nginx: root:adm, files 0640, readable via adm only.
        self.logs = os.path.join(self.dir, "log-nginx")
        os.makedirs(self.logs)
        shutil.chown(self.logs, "root", "adm")
        os.chmod(self.logs, 0o750)
        self.log = os.path.join(self.logs, "access.log")
        open(self.log, "w").close()
        shutil.chown(self.log, "root", "adm")
        os.chmod(self.log, 0o640)
        self.nginx_port = free_port()
        ndir = os.path.join(self.dir, "nginx")
        os.makedirs(os.path.join(ndir, "temp"))
        conf = os.path.join(ndir, "nginx.conf")
        # Everything nginx writes stays under ndir; the access log is nginx's
        # default format (combined), as the packaged config expects.
        temp_paths = "".join(f"  {k}_temp_path {ndir}/temp/{k};\n"
                             for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(conf, "w") as f:
            f.write(f"""
worker_processes 1; pid {ndir}/nginx.pid; error_log {ndir}/error.log warn;
events {{ worker_connections 64; }}
http {{
{temp_paths}  access_log {self.log};
  server {{
    listen 127.0.0.1:{self.nginx_port};
    location /v1/orders/ {{ return 200 "order\\n"; }}
    location /v1/users/ {{ return 200 "user\\n"; }}
    location = /health {{ return 204; }}
    location = /v1/fail {{ return 503; }}
    location / {{ return 404; }}
  }}
}}
""")
        self.spawn(["nginx", "-p", ndir, "-c", conf, "-e", os.path.join(ndir, "error.log"),
                    "-g", "daemon off;"], "nginx.out")
        self.nginx = f"http://127.0.0.1:{self.nginx_port}"
        wait_for(lambda: os.path.exists(os.path.join(ndir, "nginx.pid")) and
                 http_get(self.nginx + "/startup-probe")[0] == 404, 15, "nginx",
                 lambda: self.read("nginx.out"))
        # nginx writes a request's log line after it sends the response: wait
        # for the probes' lines so none lands after the agent opens the log.
        wait_for(lambda: self.log_lines() >= 1, 15, "nginx to log its readiness probe",
                 lambda: self.read("nginx.out"))

    def log_lines(self):
        with open(self.log) as f:
            return sum(1 for _ in f)

    def configure_for_test(self):
        """The packaged config, changed only where this machine differs: the
        log path, the Redis URL and free ports for metrics and serve."""
        with open(CONFIG) as f:
            text = f.read()
        self.metrics_port = free_port()
        self.serve_port = free_port()
        text = replace_once(text, '["/var/log/nginx/access.log*"]', json.dumps([self.log + "*"]))
        text = replace_once(text, '"redis://127.0.0.1:6379/0"',
                            f'"redis://127.0.0.1:{self.redis_port}/0"')
        text = replace_once(text, "metrics_listen: 127.0.0.1:9465",
                            f"metrics_listen: 127.0.0.1:{self.metrics_port}")
        text = replace_once(text, 'listen: "127.0.0.1:8080"', f'listen: "127.0.0.1:{self.serve_port}"')
        with open(CONFIG, "w") as f:  # in place: keeps root:apimeter 0640
            f.write(text)
        self.config_text = text
        pkg.run(as_apimeter(["/usr/bin/apimeter", "check-config", "--config", CONFIG]))

    def metrics(self):
        code, body = http_get(f"http://127.0.0.1:{self.metrics_port}/metrics")
        return parse_metrics(body) if code == 200 else None

    def overview(self):
        r = pkg.run(as_apimeter(["/usr/bin/apimeter", "query", "overview", "--config", CONFIG,
                                 "--from", "1h", "--json"]), check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def run_agent_and_count(self):
        argv = exec_line("apimeter-agent.service", "ExecStart")
        agent = self.spawn(as_apimeter(argv), "agent.out", cwd=STATE, env=service_env())
        diag = lambda: self.read("agent.out")[-3000:]  # noqa: E731
        # Started and following the log (at its end: first start, from_start false).
        wait_for(lambda: (self.metrics() or {}).get("apimeter_agent_files_open", 0) >= 1, 30,
                 "the agent to open the nginx log", diag)
        self.assertIsNone(agent.poll(), diag())

        # Lines logged before the agent's first start (nginx's readiness probe)
        # are not counted: it starts at the end of files (from_start: false).
        before = self.log_lines()
        self.assertGreater(before, 0)
        expected = {}
        for i in range(REQUESTS):
            path, status = ROUTES[i % len(ROUTES)]
            code, _ = http_get(self.nginx + path.format(n=1000 + i))
            self.assertEqual(code, status, path)
            expected[status] = expected.get(status, 0) + 1
        # nginx logged each request (its log line follows the response).
        wait_for(lambda: self.log_lines() >= before + REQUESTS, 15,
                 f"nginx to log {REQUESTS} requests", lambda: f"{self.log_lines() - before} logged")
        self.assertEqual(self.log_lines(), before + REQUESTS)

        ov = wait_for(lambda: (lambda o: o if o and o["requests"] >= REQUESTS else None)(self.overview()),
                      30, f"{REQUESTS} requests in Redis", lambda: f"{self.overview()}\n{diag()}")
        self.assertEqual(ov["requests"], REQUESTS)
        self.assertEqual(ov["status"], {str(k): v for k, v in expected.items()})
        self.assertEqual(ov["rejected"], 0)
        m = self.metrics()
        self.assertEqual(m["apimeter_agent_lines_parsed_total"], REQUESTS)
        self.assertEqual(m["apimeter_api_rejected_lines_total"], 0)
        self.assertEqual(m["apimeter_agent_redis_up"], 1)

        # ExecReload, with $MAINPID = the agent (setpriv exec'd it in place).
        reload_argv = [a.replace("$MAINPID", str(agent.pid)) for a in
                       exec_line("apimeter-agent.service", "ExecReload")]
        pkg.run(reload_argv)
        wait_for(lambda: (self.metrics() or {}).get("apimeter_agent_reloads_total") == 1, 15,
                 "the agent to reload on SIGHUP", diag)

        self.assertEqual(stop_process(agent), 0, diag())
        out = self.read("agent.out")
        self.assertIn("SIGTERM", out)
        # Under systemd (INVOCATION_ID set) journald stamps lines: no own timestamps.
        for line in out.splitlines():
            self.assertNotRegex(line, r"^\d{4}-\d\d-\d\dT", "timestamp under systemd")
        self.assertEqual(self.overview()["requests"], REQUESTS)  # nothing counted twice

    def run_serve(self):
        argv = exec_line("apimeter-serve.service", "ExecStart")
        # As packaged: no token, so serve refuses with the config exit code.
        r = pkg.run(as_apimeter(argv), check=False, env=service_env(), cwd=STATE, timeout=30)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("server.tokens", r.stderr)

        token = secrets.token_hex(32)
        digest = pkg.run(["/usr/bin/apimeter", "hash-token"], input=token + "\n").stdout.strip()
        text = replace_once(self.config_text,
                            '  # tokens: ["sha256:<64 hex digits from apimeter hash-token>"]',
                            f'  tokens: ["{digest}"]')
        with open(CONFIG, "w") as f:
            f.write(text)
        serve = self.spawn(as_apimeter(argv), "serve.out", cwd=STATE, env=service_env())
        url = f"http://127.0.0.1:{self.serve_port}/api/v1/overview?from=1h"
        auth = {"Authorization": f"Bearer {token}"}
        code, body = wait_for(lambda: (lambda c: c if c[0] is not None else None)(http_get(url, auth)),
                              30, "serve to answer", lambda: self.read("serve.out"))
        self.assertEqual(code, 200, body)
        self.assertEqual(json.loads(body)["requests"], REQUESTS)
        self.assertEqual(http_get(url)[0], 401)
        self.assertEqual(stop_process(serve), 0, self.read("serve.out"))
        # Sessions are signed with the key postinst made (never one derived from the tokens).
        self.assertIn("signed with " + STATE + "/session.key", self.read("serve.out"))

    def reinstall_keeps_config(self):
        """The upgrade path of postinst (its $2 set): the edited conffile, its
        mode and the agent's enablement survive."""
        with open(CONFIG) as f:
            edited = f.read()
        r = dpkg("-i", self.deb)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("not valid", r.stdout + r.stderr)
        with open(CONFIG) as f:
            self.assertEqual(f.read(), edited)
        st = os.stat(CONFIG)
        self.assertEqual((grp.getgrgid(st.st_gid).gr_name, stat.S_IMODE(st.st_mode)), ("apimeter", 0o640))
        self.assertTrue(os.path.lexists(WANTS + "apimeter-agent.service"))
        # The secret survives the upgrade byte for byte (customer ids stay).
        with open(SECRET) as f:
            self.assertEqual(f.read(), self.secret)
        # An upgrade from a version without the file (simulated by removing
        # it): the default those versions used, so ids do not change, said.
        os.remove(SECRET)
        r = dpkg("-i", self.deb)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("holds the built-in default secret", r.stdout + r.stderr)
        with open(SECRET) as f:
            self.assertEqual(f.read(), "apimeter-default-customer-id-secret\n")
        st = os.stat(SECRET)
        self.assertEqual((pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
                          stat.S_IMODE(st.st_mode)), ("root", "apimeter", 0o640))

    def purge(self):
        r = dpkg("--purge", "apimeter")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(installed())
        for path in ["/usr/bin/apimeter", "/etc/apimeter", STATE,
                     "/lib/systemd/system/apimeter-agent.service", WANTS + "apimeter-agent.service"]:
            self.assertFalse(os.path.lexists(path), path)
        overrides = pkg.run(["dpkg-statoverride", "--list"]).stdout
        self.assertNotIn("/etc/apimeter", overrides)
        # The aggregates in Redis are the operator's: purge leaves them.
        keys = pkg.run(self.redis_cli + ["DBSIZE"]).stdout.strip()
        self.assertGreater(int(keys), 0)


def main():
    if os.environ.get("CI") != "true" and os.environ.get("APIMETER_PACKAGE_INSTALL_TEST") != "1":
        print("skipped: installs a package on this machine; set CI=true or "
              "APIMETER_PACKAGE_INSTALL_TEST=1 to run it")
        return SKIP
    if os.geteuid() != 0:
        print("skipped: dpkg -i needs root")
        return SKIP
    with open(LOCK, "w") as lock:
        deadline = time.monotonic() + 240
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    print(f"another install test holds {LOCK}")
                    return 1
                time.sleep(0.2)  # polling a lock against a deadline
        for path in ["/etc/apimeter", STATE]:
            if os.path.exists(path) or installed():
                print(f"refusing to run: apimeter is installed or {path} exists on this machine")
                return 1
        prog = unittest.main(exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
