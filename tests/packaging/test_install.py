#!/usr/bin/python3
"""`meson install --destdir` puts every file where it belongs with the right mode, and nothing
else: the binaries (warren in sbin), /etc/warren/warren.conf (the example with data_dir at the
data directory, kept when it exists), warren.service (systemd-analyze verify passes), the
sysusers.d and tmpfiles.d entries, the four manual pages, the documentation and, once mgmt/ui/
exists, the web UI. The installed broker starts with the installed configuration.
Usage: test_install.py BUILD_DIR SOURCE_ROOT"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = SOURCE = None


def option(opts, name):
    return next(o["value"] for o in opts if o["name"] == name)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(BUILD, "meson-info", "intro-buildoptions.json")) as f:
            opts = json.load(f)
        prefix = option(opts, "prefix")
        d = {n: os.path.join(prefix, option(opts, n))
             for n in ("bindir", "sbindir", "sysconfdir", "datadir", "mandir", "localstatedir")}
        cls.dirs = d
        cls.unitdir = option(opts, "systemdsystemunitdir") or os.path.join(prefix, "lib/systemd/system")
        cls.sysusersdir = option(opts, "sysusersdir") or os.path.join(prefix, "lib/sysusers.d")
        cls.tmpfilesdir = option(opts, "tmpfilesdir") or os.path.join(prefix, "lib/tmpfiles.d")
        cls.statedir = os.path.join(d["localstatedir"], "lib", "warren")
        cls.docdir = os.path.join(d["datadir"], "doc", "warren")
        cls.dest = tempfile.mkdtemp(prefix="warren-install-")
        cls.install_output = cls.install()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest)

    @classmethod
    def install(cls, dest=None):
        r = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--destdir",
                            dest or cls.dest], capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("meson install failed:\n" + r.stdout + r.stderr)
        return r.stdout

    def at(self, path):
        return self.dest + path

    def expected(self):
        d = self.dirs
        files = {
            d["sbindir"] + "/warren": 0o755,
            d["bindir"] + "/warrenctl": 0o755,
            d["bindir"] + "/warren-perf": 0o755,
            d["sysconfdir"] + "/warren/warren.conf": 0o644,
            self.unitdir + "/warren.service": 0o644,
            self.sysusersdir + "/warren.conf": 0o644,
            self.tmpfilesdir + "/warren.conf": 0o644,
            d["mandir"] + "/man8/warren.8": 0o644,
            d["mandir"] + "/man5/warren.conf.5": 0o644,
            d["mandir"] + "/man1/warrenctl.1": 0o644,
            d["mandir"] + "/man1/warren-perf.1": 0o644,
        }
        for doc in ("README.md", "warren.conf.example", "architecture.md", "cli.md",
                    "configuration.md", "management-api.md", "operations.md", "queues.md",
                    "security.md", "storage-format.md"):
            files[self.docdir + "/" + doc] = 0o644
        ui = os.path.join(SOURCE, "mgmt", "ui")
        for top, _, names in os.walk(ui):
            for n in names:
                rel = os.path.relpath(os.path.join(top, n), ui)
                files[os.path.join(d["datadir"], "warren", "ui", rel)] = 0o644
        return files

    def test_every_file_is_in_its_place_with_its_mode_and_nothing_else_is_installed(self):
        found = {}
        for top, _, names in os.walk(self.dest):
            for n in names:
                p = os.path.join(top, n)
                found[p[len(self.dest):]] = os.stat(p).st_mode & 0o7777
        want = self.expected()
        self.assertEqual(sorted(set(want) - set(found)), [], "missing")
        self.assertEqual(sorted(set(found) - set(want)), [], "not expected")
        wrong = {p: "%o (want %o)" % (found[p], m) for p, m in want.items() if found[p] != m}
        self.assertEqual(wrong, {})
        # binaries are executable files, not scripts or links
        with open(self.at(self.dirs["sbindir"] + "/warren"), "rb") as f:
            self.assertEqual(f.read(4), b"\x7fELF")

    def test_the_installed_config_is_the_example_with_data_dir_at_the_data_directory(self):
        with open(os.path.join(SOURCE, "warren.conf.example")) as f:
            example = f.read().splitlines()
        with open(self.at(self.dirs["sysconfdir"] + "/warren/warren.conf")) as f:
            installed = f.read().splitlines()
        self.assertEqual(len(example), len(installed))
        diff = [(a, b) for a, b in zip(example, installed) if a != b]
        self.assertEqual(diff, [("data_dir = ./data", "data_dir = " + self.statedir)])

    def test_an_existing_config_is_kept_by_the_next_install(self):
        dest = tempfile.mkdtemp(prefix="warren-reinstall-")
        self.addCleanup(shutil.rmtree, dest)
        self.install(dest)
        conf = dest + self.dirs["sysconfdir"] + "/warren/warren.conf"
        with open(conf, "a") as f:
            f.write("heartbeat = 30   # edited by the administrator\n")
        self.install(dest)
        with open(conf) as f:
            self.assertIn("edited by the administrator", f.read())
        # and an install into a fresh place still writes it
        os.unlink(conf)
        self.install(dest)
        with open(conf) as f:
            self.assertNotIn("edited by the administrator", f.read())

    def test_the_unit_runs_the_installed_broker_with_the_installed_config(self):
        with open(self.at(self.unitdir + "/warren.service")) as f:
            unit = f.read()
        sysconf = self.dirs["sysconfdir"]
        self.assertIn("\nExecStart=%s/warren --config %s/warren/warren.conf\n"
                      % (self.dirs["sbindir"], sysconf), unit)
        self.assertIn("\nType=notify\n", unit)
        self.assertIn("\nWatchdogSec=", unit)
        self.assertIn("\nExecReload=/bin/kill -HUP $MAINPID\n", unit)
        self.assertIn("\nReadWritePaths=%s\n" % self.statedir, unit)
        self.assertIn("\nWorkingDirectory=%s\n" % self.statedir, unit)
        self.assertIn("\nUser=warren\n", unit)
        self.assertNotRegex(unit, r"@[A-Z_]+@")  # every @VAR@ was filled
        with open(self.at(self.sysusersdir + "/warren.conf")) as f:
            self.assertIn('\nu warren - "Warren AMQP broker" %s /usr/sbin/nologin\n' % self.statedir,
                          f.read())
        with open(self.at(self.tmpfilesdir + "/warren.conf")) as f:
            self.assertIn("\nd %s 0750 warren warren -\n" % self.statedir, f.read())

    def test_systemd_analyze_verify_passes(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("no systemd-analyze")
        # verify checks that ExecStart= exists and that Documentation= man pages are found:
        # point both into the destdir
        prefix = os.path.commonpath([self.dirs["sbindir"], self.dirs["mandir"]])
        with open(self.at(self.unitdir + "/warren.service")) as f:
            unit = f.read().replace("=" + prefix + "/", "=" + self.dest + prefix + "/")
        d = tempfile.mkdtemp(prefix="warren-verify-")
        self.addCleanup(shutil.rmtree, d)
        with open(os.path.join(d, "warren.service"), "w") as f:
            f.write(unit)
        r = subprocess.run(["systemd-analyze", "verify", os.path.join(d, "warren.service")],
                           capture_output=True, text=True, cwd=d,
                           env=dict(os.environ, MANPATH=self.at(self.dirs["mandir"])))
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_the_debian_package_has_the_project_version(self):
        with open(os.path.join(BUILD, "meson-info", "intro-projectinfo.json")) as f:
            version = json.load(f)["version"]
        with open(os.path.join(SOURCE, "debian", "changelog")) as f:
            first = f.readline()
        self.assertTrue(first.startswith("warren (%s) " % version) or
                        first.startswith("warren (%s-" % version), first)

    def test_the_installed_broker_starts_with_the_installed_config(self):
        data = tempfile.mkdtemp(prefix="warren-installed-")
        self.addCleanup(shutil.rmtree, data)
        port = free_port()
        p = subprocess.Popen([self.at(self.dirs["sbindir"] + "/warren"), "--config",
                              self.at(self.dirs["sysconfdir"] + "/warren/warren.conf"),
                              "--data-dir", data, "--port", str(port), "--mgmt-port", "0"],
                             stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if p.poll() is not None:
                        self.fail("the broker exited: " + p.communicate()[1])
                    time.sleep(0.05)
            p.terminate()
            err = p.communicate(timeout=10)[1]
            self.assertEqual(p.returncode, 0)
            self.assertIn("ready", err)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    BUILD, SOURCE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    del sys.argv[1:3]
    unittest.main(verbosity=2)
