#!/usr/bin/python3
"""Real clusters for the tests of tests/cluster/: etcd and Warren nodes as processes, each on
its own address.

Where the process may create network namespaces (CI runs as root), every etcd member and every
Warren node lives in a namespace of its own, joined to a bridge by a veth pair; the test process
stays in the root namespace, on the bridge's address, and partitions a node by taking the host
side of its veth down. Without namespaces every process gets its own loopback address
(127.0.N.x: the whole 127/8 is on lo) and partitions are not available (the tests that need one
say so and skip).

Everything created is removed again: processes, namespaces, links, the bridge and the data
directories (unless keep=True), also when the test fails or is killed with SIGTERM (meson's
timeout). Every wait is bounded.
"""
import atexit
import base64
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ETCD_BIN = shutil.which("etcd") or "/usr/bin/etcd"


class HarnessError(Exception):
    pass


def run(*args, check=True):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise HarnessError("%s: %s" % (" ".join(args), r.stderr.strip()))
    return r


def namespaces_available():
    if os.geteuid() != 0 or not shutil.which("ip"):
        return False
    name = "wcprobe%d" % os.getpid()
    r = run("ip", "netns", "add", name, check=False)
    if r.returncode != 0:
        return False
    # adding one is not enough: entering it needs mount rights that a container may lack
    # ("mount --make-rslave /" failed), and every process of a test enters one
    r = run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up", check=False)
    run("ip", "netns", "del", name, check=False)
    return r.returncode == 0


def wait_port(host, port, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Host:
    """One address: a namespace with a veth (netns mode) or a loopback address."""

    def __init__(self, net, name, index):
        self.net, self.name, self.index = net, name, index
        self.ip = net.ip(index)
        self.ns = None
        self.veth = None
        if net.netns:
            self.ns = "%s-%s" % (net.tag, name)
            self.veth = "%s%dh" % (net.tag, index)
            peer = "%s%dn" % (net.tag, index)
            run("ip", "netns", "add", self.ns)
            net.namespaces.append(self.ns)
            run("ip", "link", "add", self.veth, "type", "veth", "peer", "name", peer)
            run("ip", "link", "set", peer, "netns", self.ns)
            run("ip", "link", "set", self.veth, "master", net.bridge, "up")
            run("ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up")
            run("ip", "netns", "exec", self.ns, "ip", "addr", "add", self.ip + "/24", "dev", peer)
            run("ip", "netns", "exec", self.ns, "ip", "link", "set", peer, "up")

    def cmd(self, argv):
        return (["ip", "netns", "exec", self.ns] + argv) if self.ns else argv

    def link(self, up):
        if not self.veth:
            raise HarnessError("partitions need network namespaces")
        run("ip", "link", "set", self.veth, "up" if up else "down")


class Net:
    def __init__(self, netns):
        self.netns = netns
        self.tag = "wc%04x" % random.randrange(0x10000)
        self.subnet = random.randrange(100, 250)
        self.namespaces = []
        self.bridge = None
        if netns:
            self.bridge = self.tag + "br"
            run("ip", "link", "add", self.bridge, "type", "bridge")
            run("ip", "addr", "add", "10.%d.%d.1/24" % (self.subnet >> 4, self.subnet), "dev",
                self.bridge)
            run("ip", "link", "set", self.bridge, "up")

    def ip(self, index):
        if self.netns:
            return "10.%d.%d.%d" % (self.subnet >> 4, self.subnet, index)
        return "127.%d.%d.%d" % (self.subnet >> 4, self.subnet, index)

    def close(self):
        for ns in self.namespaces:
            run("ip", "netns", "del", ns, check=False)
        self.namespaces = []
        if self.bridge:
            run("ip", "link", "del", self.bridge, check=False)
            self.bridge = None


class Proc:
    def __init__(self, host, argv, log_path, env=None):
        self.host, self.argv, self.log_path = host, argv, log_path
        self.log = open(log_path, "ab")
        self.p = subprocess.Popen(host.cmd(argv), stdout=self.log, stderr=subprocess.STDOUT,
                                  env=env, start_new_session=True)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            try:
                os.kill(self.p.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=10):
        self.signal(signal.SIGTERM)
        if self.wait(timeout) is None:
            self.signal(signal.SIGKILL)
            self.wait(5)
        self.log.close()

    def kill(self):
        self.signal(signal.SIGKILL)
        self.wait(5)
        self.log.close()


class Cluster:
    """etcd (1 or 3 members) and n Warren nodes. Node i (0-based) is named n<i+1>."""

    def __init__(self, warren, nodes=3, etcd_members=1, lease_ttl=5, min_insync="auto",
                 netns=None, keep=False, extra=None, password="s3cret"):
        self.warren = warren
        self.netns = namespaces_available() if netns is None else netns
        self.dir = tempfile.mkdtemp(prefix="warren-cluster-")
        self.keep = keep
        self.lease_ttl = lease_ttl
        self.min_insync = min_insync
        self.password = password
        self.extra = extra or []
        self.net = Net(self.netns)
        self.etcd_hosts, self.etcd = [], []
        self.hosts, self.nodes = [], []
        self.node_count = nodes
        self.closed = False
        self.cleanups = []  # run at close, after the processes are gone
        _live.append(self)
        try:
            for i in range(etcd_members):
                self.etcd_hosts.append(Host(self.net, "etcd%d" % i, 20 + i))
            for i in range(nodes):
                self.hosts.append(Host(self.net, "n%d" % (i + 1), 11 + i))
                self.nodes.append(None)
            self.start_etcd()
        except BaseException:
            self.close()
            raise

    # ---- etcd ----

    def etcd_endpoints(self):
        return ",".join("http://%s:2379" % h.ip for h in self.etcd_hosts)

    def start_etcd(self):
        cluster = ",".join("e%d=http://%s:2380" % (i, h.ip) for i, h in enumerate(self.etcd_hosts))
        for i, h in enumerate(self.etcd_hosts):
            argv = [ETCD_BIN, "--name", "e%d" % i, "--data-dir",
                    os.path.join(self.dir, "etcd%d" % i),
                    "--listen-client-urls", "http://%s:2379" % h.ip,
                    "--advertise-client-urls", "http://%s:2379" % h.ip,
                    "--listen-peer-urls", "http://%s:2380" % h.ip,
                    "--initial-advertise-peer-urls", "http://%s:2380" % h.ip,
                    "--initial-cluster", cluster, "--initial-cluster-state", "new",
                    "--heartbeat-interval", "100", "--election-timeout", "1000"]
            p = Proc(h, argv, os.path.join(self.dir, "etcd%d.log" % i))
            if len(self.etcd) > i:
                self.etcd[i] = p
            else:
                self.etcd.append(p)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                self.etcd_range("warren/")
                return
            except Exception:
                time.sleep(0.1)
        raise HarnessError("etcd did not start (see %s)" % self.dir)

    def etcd_call(self, path, body, timeout=2):
        last = None
        for h in self.etcd_hosts:
            try:
                req = urllib.request.Request("http://%s:2379%s" % (h.ip, path),
                                             data=json.dumps(body).encode(), method="POST")
                with urllib.request.urlopen(req, timeout=timeout) as r:
                    return json.loads(r.read())
            except Exception as e:  # noqa: BLE001 - any member that answers will do
                last = e
        raise HarnessError("etcd: %s" % last)

    def etcd_range(self, prefix):
        b64 = lambda s: base64.b64encode(s.encode()).decode()
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        r = self.etcd_call("/v3/kv/range", {"key": b64(prefix), "range_end": b64(end)})
        out = {}
        for kv in r.get("kvs", []):
            out[base64.b64decode(kv["key"]).decode()] = (
                base64.b64decode(kv.get("value", "")).decode(), kv)
        return out

    def etcd_leader(self):
        """The leader etcd names: (node index, create_revision), or (None, None)."""
        try:
            kv = self.etcd_range("warren/").get("warren/leader")
        except HarnessError:
            return None, None
        if not kv:
            return None, None
        name = json.loads(kv[0])["name"]
        return int(name[1:]) - 1, int(kv[1]["create_revision"])

    def insync(self):
        kv = self.etcd_range("warren/").get("warren/insync")
        return json.loads(kv[0])["nodes"] if kv else []

    # ---- nodes ----

    def ip(self, i):
        return self.hosts[i].ip

    def addresses(self):
        return [(h.ip, 5672) for h in self.hosts]

    def log_path(self, i):
        return os.path.join(self.dir, "n%d.log" % (i + 1))

    def data_dir(self, i):
        return os.path.join(self.dir, "n%d" % (i + 1))

    def start(self, i, extra=None):
        h = self.hosts[i]
        argv = [self.warren, "--data-dir", self.data_dir(i), "--bind", h.ip, "--port", "5672",
                "--mgmt-port", "15672",
                "--set", "management.tcp.ip=%s" % h.ip,
                "--set", "loopback_users.guest=false",
                "--set", "heartbeat=5",
                "--set", "clustering.enabled=true",
                "--set", "clustering.etcd_endpoints=%s" % self.etcd_endpoints(),
                "--set", "clustering.node_name=n%d" % (i + 1),
                "--set", "clustering.bind=%s" % h.ip,
                "--set", "clustering.lease_ttl=%d" % self.lease_ttl,
                "--set", "clustering.min_insync_replicas=%s" % self.min_insync]
        if self.password:
            argv += ["--set", "clustering.password=%s" % self.password]
        if os.environ.get("WARREN_CLUSTER_DEBUG"):
            argv += ["--set", "log.console.level=debug"]
        for kv in self.extra + (extra or []):
            argv += ["--set", kv]
        self.nodes[i] = Proc(h, argv, self.log_path(i))
        return self.nodes[i]

    def start_single(self, i, extra=None):
        """Node i as a single broker (no clustering), for comparisons."""
        h = self.hosts[i]
        argv = [self.warren, "--data-dir", self.data_dir(i), "--bind", h.ip, "--port", "5672",
                "--mgmt-port", "0", "--set", "loopback_users.guest=false"]
        for kv in extra or []:
            argv += ["--set", kv]
        self.nodes[i] = Proc(h, argv, self.log_path(i))
        return self.nodes[i]

    def start_all(self, settle=True):
        for i in range(self.node_count):
            self.start(i)
            time.sleep(0.2)
        if settle:
            self.wait_settled(30)

    def kill(self, i):
        if self.nodes[i]:
            self.nodes[i].kill()

    def stop(self, i, timeout=15):
        if self.nodes[i]:
            self.nodes[i].stop(timeout)

    def running(self, i):
        return self.nodes[i] is not None and self.nodes[i].alive()

    def wait_leader(self, timeout, exclude=None, min_revision=None):
        """Waits until etcd names a leader (not `exclude`, newer than min_revision) whose AMQP
        port answers. Returns its index."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            i, rev = self.etcd_leader()
            if i is not None and i != exclude and (min_revision is None or rev > min_revision) \
                    and self.running(i) and wait_port(self.ip(i), 5672, 0.2) \
                    and self.serves_itself(i):
                return i
            time.sleep(0.05)
        raise HarnessError("no leader within %.0f s (logs in %s)" % (timeout, self.dir))

    def serves_itself(self, i):
        """Node i's own broker answers (not a follower's forwarding to an old leader)."""
        try:
            return self.api(i, "/api/overview", timeout=1).get("cluster_leader") == \
                "warren@n%d" % (i + 1)
        except Exception:  # noqa: BLE001 - not serving yet
            return False

    def api(self, i, path, method="GET", timeout=3):
        req = urllib.request.Request("http://%s:15672%s" % (self.ip(i), path), method=method)
        req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
            return json.loads(body) if body else None

    def nodes_api(self, i=None):
        """GET /api/nodes through node i (any running node: followers forward it)."""
        order = [i] if i is not None else [k for k in range(self.node_count) if self.running(k)]
        last = None
        for k in order:
            try:
                return self.api(k, "/api/nodes")
            except Exception as e:  # noqa: BLE001
                last = e
        raise HarnessError("GET /api/nodes: %s" % last)

    def wait_in_sync(self, names, timeout):
        deadline = time.time() + timeout
        have = None
        while time.time() < deadline:
            try:
                have = set(self.insync())
                if set(names) <= have:
                    return
            except HarnessError:
                pass
            time.sleep(0.1)
        raise HarnessError("in-sync set %s, waiting for %s (logs in %s)" % (have, names, self.dir))

    def wait_settled(self, timeout):
        """Every running node in the in-sync set."""
        names = ["n%d" % (i + 1) for i in range(self.node_count) if self.running(i)]
        self.wait_leader(timeout)
        self.wait_in_sync(names, timeout)

    def partition(self, i):
        self.hosts[i].link(False)

    def heal(self, i):
        self.hosts[i].link(True)

    def log_lines(self, i):
        try:
            with open(self.log_path(i), errors="replace") as f:
                return f.read().splitlines()
        except OSError:
            return []

    def sanitizer_reports(self):
        """Lines of ASan, LSan or UBSan reports in any node's log (a sanitizer build)."""
        out = []
        for i in range(self.node_count):
            out += [line for line in self.log_lines(i)
                    if "Sanitizer" in line or "runtime error:" in line]
        return out

    def close(self):
        if self.closed:
            return
        self.closed = True
        for p in self.nodes:
            if p:
                p.kill()
        for p in self.etcd:
            p.kill()
        for fn in self.cleanups:
            fn()
        self.net.close()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        if self in _live:
            _live.remove(self)


_live = []


def _cleanup(*_):
    for c in list(_live):
        c.close()


def _on_term(sig, frame):
    _cleanup()
    sys.exit(128 + sig)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_term)


def log_time(line):
    """The UTC timestamp of a Warren log line, in seconds since the epoch."""
    import calendar
    stamp = line[:23]
    t = time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S")
    return calendar.timegm(t) + int(stamp[20:23]) / 1000.0


def serving_intervals(lines):
    """[start, end) of each time the node accepted publishes, from its log: from "accepting
    publishes" to "steps down", or to the last line of a process that was killed (the next
    process's first line follows), or None (still serving at the end of the log)."""
    out, start, last = [], None, None
    for line in lines:
        if "clustering: node" in line and "replicates on" in line and start is not None:
            # a new process: the one before died (kill -9) some time after its last line
            out.append((start, last))
            start = None
        if line[:4].isdigit():
            last = log_time(line)
        if "accepting publishes" in line:
            start = log_time(line)
        elif "steps down" in line and start is not None:
            out.append((start, log_time(line)))
            start = None
    if start is not None:
        out.append((start, None))
    return out
