"""The .deb as built: its file list and modes (dpkg-deb --contents), its
control fields and scripts (dpkg-deb --info), the binary inside (stripped,
--version, accepts the packaged config), and lintian."""
import gzip
import json
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkg  # noqa: E402

DOC = "./usr/share/doc/apimeter/"
# path -> (mode, owner)
EXPECTED_FILES = {
    "./usr/bin/apimeter": ("-rwxr-xr-x", "root/root"),
    "./lib/systemd/system/apimeter-agent.service": ("-rw-r--r--", "root/root"),
    "./lib/systemd/system/apimeter-serve.service": ("-rw-r--r--", "root/root"),
    "./lib/systemd/system/apimeter-alerts.service": ("-rw-r--r--", "root/root"),
    "./etc/apimeter/apimeter.yaml": ("-rw-r--r--", "root/root"),
    DOC + "copyright": ("-rw-r--r--", "root/root"),
    DOC + "changelog.Debian.gz": ("-rw-r--r--", "root/root"),
    DOC + "operations.md": ("-rw-r--r--", "root/root"),
    DOC + "config.md": ("-rw-r--r--", "root/root"),
    DOC + "cli.md": ("-rw-r--r--", "root/root"),
    DOC + "log-formats.md": ("-rw-r--r--", "root/root"),
    DOC + "alerts.md": ("-rw-r--r--", "root/root"),
    DOC + "examples/apimeter.example.yaml": ("-rw-r--r--", "root/root"),
    "./usr/share/man/man1/apimeter.1.gz": ("-rw-r--r--", "root/root"),
    "./usr/share/lintian/overrides/apimeter": ("-rw-r--r--", "root/root"),
    "./usr/share/apimeter/grafana/apimeter-api-traffic.json": ("-rw-r--r--", "root/root"),
}


class DebTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.deb = pkg.deb_path()
        cls.dir = tempfile.mkdtemp(prefix="apimeter-deb-test-")
        cls.root = pkg.extract(cls.deb, os.path.join(cls.dir, "root"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_contents_lists_exactly_the_expected_files(self):
        out = pkg.run(["dpkg-deb", "--contents", self.deb]).stdout
        files, dirs = {}, set()
        for line in out.splitlines():
            mode, owner, _size, _date, _time, path = line.split(None, 5)
            if mode.startswith("d"):
                dirs.add(path)
                self.assertEqual((mode, owner), ("drwxr-xr-x", "root/root"), path)
            else:
                files[path] = (mode, owner)
        self.assertEqual(files, EXPECTED_FILES)
        # Every directory is one a file needs (no stray CMake layout).
        needed = {"./"} | {p[: i + 1] for p in EXPECTED_FILES for i, c in enumerate(p) if c == "/"}
        self.assertEqual(dirs - needed, set())

    def test_control_fields(self):
        info = pkg.run(["dpkg-deb", "--info", self.deb]).stdout
        fields = dict(re.findall(r"^ ([A-Z][A-Za-z-]+): (.*)$", info, re.M))
        self.assertEqual(fields["Package"], "apimeter")
        self.assertEqual(fields["Version"], pkg.VERSION)
        self.assertEqual(fields["Architecture"], pkg.arch())
        self.assertEqual(fields["Section"], "admin")
        self.assertEqual(fields["Priority"], "optional")
        self.assertRegex(fields["Maintainer"], r"^[^<>]+ <[^@<>\s]+@[^@<>\s]+>$")
        self.assertGreater(int(fields["Installed-Size"]), 100)  # KiB
        depends = [d.strip().split(" ")[0] for d in fields["Depends"].split(",")]
        for need in ("adduser", "libc6", "libhiredis0.14", "libre2-9", "libyaml-cpp0.7"):
            self.assertIn(need, depends)
        self.assertIn("redis-server", fields["Recommends"])
        self.assertEqual(fields["Description"], "API usage analytics from nginx access logs")
        self.assertIn("hardened systemd service", info)  # the extended description
        for script in ("postinst", "prerm", "postrm", "conffiles", "md5sums"):
            self.assertRegex(info, rf"\n +\d+ bytes, +\d+ lines +\*? *{script}\b")

    def test_conffiles_and_scripts(self):
        ctl = os.path.join(self.dir, "control")
        pkg.run(["dpkg-deb", "-e", self.deb, ctl])
        with open(os.path.join(ctl, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/apimeter/apimeter.yaml"])
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(ctl, script)
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o755, script)
            pkg.run(["sh", "-n", path])  # parses as POSIX sh

    def test_packaged_config_is_the_source_one_and_valid(self):
        packaged = os.path.join(self.root, "etc/apimeter/apimeter.yaml")
        with open(packaged) as f, open(os.path.join(pkg.SOURCE, "packaging/apimeter.yaml")) as g:
            self.assertEqual(f.read(), g.read())
        binary = os.path.join(self.root, "usr/bin/apimeter")
        # It names the secret postinst makes (install_test.py checks that
        # part); here a stand-in file takes its place.
        with open(packaged) as f:
            text = f.read()
        secret_line = "customer_id_secret_file: /etc/apimeter/customer_id_secret\n"
        self.assertEqual(text.count(secret_line), 1)
        secret = os.path.join(self.dir, "customer_id_secret")
        with open(secret, "w") as f:
            f.write("0123456789abcdef" * 4 + "\n")
        config = os.path.join(self.dir, "apimeter.yaml")
        with open(config, "w") as f:
            f.write(text.replace(secret_line, f"customer_id_secret_file: {secret}\n"))
        r = pkg.run([binary, "check-config", "--config", config])
        self.assertRegex(r.stdout, r"\n    log_format: '?combined'?\n")
        self.assertIn("/var/log/nginx/access.log*", r.stdout)
        self.assertNotIn("default secret", r.stdout + r.stderr)

    def test_grafana_dashboard_is_valid_json_on_the_agents_metrics(self):
        path = os.path.join(self.root, "usr/share/apimeter/grafana/apimeter-api-traffic.json")
        with open(path) as f:
            dash = json.load(f)
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        self.assertGreaterEqual(len(exprs), 8)
        for e in exprs:
            self.assertIn("apimeter_", e)

    def test_binary_is_stripped_and_reports_its_version(self):
        binary = os.path.join(self.root, "usr/bin/apimeter")
        sections = pkg.run(["readelf", "-S", "-W", binary]).stdout
        self.assertNotIn(".debug_info", sections)
        self.assertNotIn(".symtab", sections)
        version = pkg.run([binary, "--version"]).stdout.strip()
        upstream = pkg.VERSION.rsplit("-", 1)[0]
        self.assertRegex(version, rf"^apimeter {re.escape(upstream)} \(commit ([0-9a-f]{{12}}|unknown)\)$")

    def test_lintian_is_clean_and_every_override_explained(self):
        # (--show-overrides would make lintian exit 2 on overridden tags.)
        r = pkg.run(["lintian", "--fail-on", "error,warning", "--display-info", self.deb], check=False)
        print(r.stdout + r.stderr)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for line in r.stdout.splitlines():
            self.assertFalse(line.startswith(("E:", "W:")), line)
        with open(os.path.join(self.root, "usr/share/lintian/overrides/apimeter")) as f:
            lines = [ln.rstrip("\n") for ln in f]
        for i, line in enumerate(lines):
            if line and not line.startswith("#"):
                self.assertTrue(i > 0 and lines[i - 1].startswith("#"),
                                f"override without a comment explaining it: {line}")

    def test_copyright_is_machine_readable_apache_2_with_uplot_mit(self):
        with open(os.path.join(self.root, "usr/share/doc/apimeter/copyright")) as f:
            text = f.read()
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        fields = []
        for p in paragraphs:
            d = {}
            for line in p.splitlines():
                if not line.startswith((" ", "\t")):
                    key, _, value = line.partition(":")
                    d[key] = value.strip()
            fields.append(d)
        self.assertEqual(fields[0]["Format"],
                         "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/")
        files = {d["Files"]: d for d in fields if "Files" in d}
        self.assertEqual(files["*"]["License"], "Apache-2.0")
        self.assertEqual(files["web/vendor/uplot/*"]["License"], "MIT")
        # Every license named has its text (a standalone License paragraph).
        standalone = {d["License"] for d in fields if "License" in d and "Files" not in d}
        self.assertEqual(standalone, {"Apache-2.0", "MIT"})
        self.assertNotIn("all rights reserved", text.lower())
        # The vendored files exist where the copyright says, with their MIT text.
        with open(os.path.join(pkg.SOURCE, "web/vendor/uplot/LICENSE")) as f:
            self.assertIn("Permission is hereby granted, free of charge", f.read())
        with open(os.path.join(pkg.SOURCE, "LICENSE")) as f:
            self.assertIn("Apache License\n                           Version 2.0", f.read())

    def test_man_page_documents_every_subcommand(self):
        binary = os.path.join(self.root, "usr/bin/apimeter")
        help_text = pkg.run([binary, "--help"]).stdout
        listed = help_text.split("Subcommands:\n")[1].split("\n\n")[0]
        commands = re.findall(r"^  (\S+)\s", listed, re.M)
        self.assertIn("alerts", commands)
        self.assertIn("report", commands)
        with gzip.open(os.path.join(self.root, "usr/share/man/man1/apimeter.1.gz"), "rt") as f:
            man = f.read()
        for c in commands:
            self.assertRegex(man, r"(?m)^\.B[IR]? " + re.escape(c.replace("-", "\\-")) + r"\b", c)


if __name__ == "__main__":
    unittest.main(verbosity=2)
