#!/usr/bin/python3
"""warrenctl end to end, stdlib only.

usage: test_cli.py WARRENCTL [WARREN] [--rabbitmq http://127.0.0.1:15673] [--docs docs/cli.md]

Starts WARREN on free ports (unless --rabbitmq is given), runs every warrenctl subcommand
against its management API, including the error exits (2 usage, 1 HTTP error, 3 unreachable)
and the ```sh blocks of docs/cli.md marked `# example`, then stops the broker. Everything
happens inside a uniquely named vhost that is deleted at the end. Exits 77 (skipped) when the
broker does not serve the management API yet.
"""
import argparse
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

ARGS = None
HOST = "127.0.0.1"
PORT = None
AMQP_PORT = None
VHOST = None
RESULTS = {"passed": 0, "failed": 0}


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def api(method, path, body=None):
    req = urllib.request.Request("http://%s:%d/api%s" % (HOST, PORT, path), method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Authorization", "Basic Z3Vlc3Q6Z3Vlc3Q=")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        data = r.read()
        return json.loads(data) if data else None


def ctl(*argv, stdin=None, env=None, vhost=True):
    """Runs warrenctl against the target; returns (rc, stdout, stderr)."""
    cmd = [ARGS.warrenctl, "-H", HOST, "-P", str(PORT)]
    if vhost:
        cmd += ["-V", VHOST]
    cmd += list(argv)
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60,
                       env=env if env is not None else clean_env())
    return p.returncode, p.stdout, p.stderr


def clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARRENCTL_")}
    env["HOME"] = ARGS.home  # no ~/.warrenctl.conf of the developer's
    return env


def ok(*argv, **kw):
    rc, out, err = ctl(*argv, **kw)
    assert rc == 0, "warrenctl %s -> rc %d, stderr %r" % (" ".join(argv), rc, err)
    return out


def fails(code, *argv, **kw):
    rc, out, err = ctl(*argv, **kw)
    assert rc == code, "warrenctl %s -> rc %d, wanted %d (stderr %r)" % (
        " ".join(argv), rc, code, err)
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, "wanted one error line, got %r" % err
    assert lines[0].startswith("warrenctl: "), lines[0]
    return err


def eventually(fn, timeout=12.0):
    """The management API's stats lag (RabbitMQ emits them every 5 s): retry until fn passes."""
    deadline = time.time() + timeout
    while True:
        try:
            return fn()
        except AssertionError:
            if time.time() > deadline:
                raise
            time.sleep(0.3)


def get_all(queue, ackmode="ack_requeue_true"):
    return json.loads(ok("-f", "raw_json", "get", "queue=" + queue, "count=100",
                         "ackmode=" + ackmode))


def test(fn):
    name = fn.__name__.replace("_", " ")
    try:
        fn()
        RESULTS["passed"] += 1
        print("ok   %s" % name)
    except Exception:  # noqa: BLE001 - every failure is reported and counted
        RESULTS["failed"] += 1
        print("FAIL %s" % name)
        traceback.print_exc(file=sys.stdout)
    sys.stdout.flush()
    return fn


# ---- tests, named as sentences ----

def help_is_available_for_every_subcommand():
    rc, out, _ = ctl("--help", vhost=False)
    assert rc == 0 and "--vhost" in out and "Exit status" in out
    out = ok("help", "subcommands", vhost=False)
    for word in ("declare queue", "delete binding", "list queues", "show overview", "publish",
                 "get queue", "close connection", "purge queue", "export", "import", "dlq",
                 "stream read"):
        assert word in out, word
    for topic in ("list", "show", "declare", "delete", "close", "purge", "publish", "get",
                  "export", "import", "dlq", "stream", "shovel", "config", "help"):
        assert ok("help", topic, vhost=False).strip(), topic
        assert ok(topic, "--help", vhost=False).strip(), topic
    assert ok("--version", vhost=False).startswith("warrenctl ")


def usage_errors_exit_2_with_one_line():
    fails(2, vhost=False)
    fails(2, "frobnicate")
    fails(2, "declare")
    fails(2, "declare", "queue")
    fails(2, "declare", "queue", "name")
    fails(2, "declare", "queue", "name=x", "colour=red")
    fails(2, "declare", "queue", "name=x", "durable=maybe")
    fails(2, "declare", "queue", "name=x", "arguments={bad")
    fails(2, "declare", "user", "name=u", "tags=")
    fails(2, "declare", "binding", "source=a", "destination=b", "destination_type=topic")
    fails(2, "list", "bogus")
    fails(2, "show", "bogus")
    fails(2, "-f", "yaml", "list", "queues")
    fails(2, "--no-such-option", "list", "queues")
    fails(2, "list", "queues", "-P")
    fails(2, "get")
    fails(2, "export")
    fails(2, "dlq")
    fails(2, "dlq", "inspect")
    fails(2, "dlq", "frob", "q")
    fails(2, "help", "nosuchtopic")
    fails(2, "-c", "/nonexistent/warrenctl.conf", "list", "queues")


def an_unreachable_server_exits_3():
    port = free_port()
    p = subprocess.run([ARGS.warrenctl, "-P", str(port), "show", "overview"],
                       capture_output=True, text=True, timeout=30, env=clean_env())
    assert p.returncode == 3 and "cannot reach" in p.stderr and str(port) in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def a_missing_object_exits_1_with_the_status():
    err = fails(1, "delete", "queue", "name=wctl-missing")
    assert "404" in err, err
    err = fails(1, "purge", "queue", "name=wctl-missing")
    assert "404" in err
    err = fails(1, "get", "queue=wctl-missing")
    assert "404" in err
    fails(1, "dlq", "inspect", "wctl-missing")
    fails(1, "dlq", "replay", "wctl-missing")
    fails(1, "close", "connection", "name=no such connection")


def queues_are_declared_listed_and_deleted():
    assert ok("declare", "queue", "name=wq1", "durable=false",
              'arguments={"x-max-length":5}').strip() == "queue declared"
    ok("declare", "queue", "name=wq2")

    def listed():
        rows = json.loads(ok("-f", "json", "list", "queues", "name", "durable", "arguments"))
        by_name = {r["name"]: r for r in rows}
        assert by_name["wq1"]["durable"] is False, rows
        assert by_name["wq1"]["arguments"] == {"x-max-length": 5}, rows
        assert by_name["wq2"]["durable"] is True, rows
    eventually(listed)
    table = ok("list", "queues")
    assert re.search(r"^\|\s+name\s+\|\s+messages\s+\|$", table.splitlines()[1]), table
    assert table.splitlines()[0].startswith("+--"), table
    assert any(l.startswith("| wq1 ") for l in table.splitlines()), table
    tsv = ok("-f", "tsv", "list", "queues", "name", "durable")
    assert tsv.splitlines()[0] == "name\tdurable", tsv
    assert "wq1\tFalse" in tsv.splitlines(), tsv
    assert "wq1" not in ok("-q", "-f", "tsv", "list", "queues", "name").splitlines()[0:0]
    kvp = ok("-f", "kvp", "list", "queues", "name", "durable")
    assert 'name="wq1" durable="False"' in kvp.splitlines(), kvp
    long_out = ok("-f", "long", "list", "queues", "name", "durable")
    assert "   name: wq1" in long_out and "-" * 80 in long_out, long_out
    assert "wq1" in ok("-f", "bash", "list", "queues").split()
    raw = json.loads(ok("-f", "raw_json", "list", "queues"))
    assert any(q["name"] == "wq1" for q in raw)
    pretty = ok("-f", "pretty_json", "list", "queues")
    assert json.loads(pretty) and '\n  {\n    "' in pretty, pretty[:200]
    # Redeclaring with other arguments is the API's 400, printed with its reason.
    err = fails(1, "declare", "queue", "name=wq1", "durable=true")
    assert "400" in err and "inequivalent" in err.lower() or "durable" in err.lower(), err
    assert ok("delete", "queue", "name=wq2").strip() == "queue deleted"


def exchanges_and_bindings_round_trip():
    ok("declare", "exchange", "name=wx", "type=topic")
    ok("declare", "exchange", "name=wx2", "type=fanout", "durable=false")
    assert ok("declare", "binding", "source=wx", "destination=wq1",
              "routing_key=a.#").strip() == "binding declared"
    ok("declare", "binding", "source=wx", "destination=wx2", "destination_type=exchange",
       "routing_key=b")

    def bound():
        rows = json.loads(ok("-f", "json", "list", "bindings", "source", "destination",
                             "routing_key"))
        assert {"source": "wx", "destination": "wq1", "routing_key": "a.#"} in rows, rows
        assert {"source": "wx", "destination": "wx2", "routing_key": "b"} in rows, rows
    eventually(bound)
    rows = json.loads(ok("-f", "json", "list", "exchanges", "name", "type"))
    assert {"name": "wx", "type": "topic"} in rows, rows
    # Without properties_key warrenctl finds the binding by routing key.
    assert ok("delete", "binding", "source=wx", "destination=wx2",
              "destination_type=exchange").strip() == "binding deleted"
    rows = json.loads(ok("-f", "json", "list", "bindings", "source", "destination"))
    assert {"source": "wx", "destination": "wx2"} not in rows, rows
    ok("delete", "exchange", "name=wx2")


def publish_and_get_move_messages():
    assert ok("publish", "exchange=wx", "routing_key=a.b",
              "payload=hello").strip() == "Message published"
    assert ok("publish", "routing_key=wq1", 'properties={"headers":{"h":"v"}}',
              stdin="from stdin\n").strip() == "Message published"
    assert "NOT routed" in ok("publish", "exchange=wx", "routing_key=zzz", "payload=x")
    msgs = get_all("wq1")
    assert [m["payload"] for m in msgs] == ["hello", "from stdin\n"], msgs
    assert msgs[1]["properties"]["headers"] == {"h": "v"}, msgs
    table = ok("get", "queue=wq1", "count=2")
    lines = table.splitlines()
    header = [c.strip() for c in lines[1].strip("|").split("|")]
    assert header[:4] == ["routing_key", "exchange", "message_count", "payload"], header
    assert "payload_bytes" in header and "redelivered" in header, header
    path = os.path.join(ARGS.home, "payload.bin")
    ok("get", "queue=wq1", "payload_file=" + path)
    with open(path, "rb") as f:
        assert f.read() == b"hello"
    fails(2, "get", "queue=wq1", "count=2", "payload_file=" + path)
    assert ok("purge", "queue", "name=wq1").strip() == "queue purged"
    assert get_all("wq1") == []


def a_stream_is_read_from_an_offset_without_a_consumer():
    if ARGS.rabbitmq:
        return  # Warren's: RabbitMQ 3.10 refuses a get on a stream
    ok("declare", "queue", "name=wstream", "durable=true",
       'arguments={"x-queue-type": "stream"}')
    for i in range(4):
        ok("publish", "routing_key=wstream", "payload=e%d" % i)
    rows = json.loads(ok("-f", "raw_json", "stream", "read", "name=wstream", "offset=first",
                         "count=10"))
    assert [(r["offset"], r["payload"]) for r in rows] == [(i, "e%d" % i) for i in range(4)], rows
    rows = json.loads(ok("-f", "raw_json", "stream", "read", "name=wstream", "offset=2",
                         "count=1"))
    assert [r["payload"] for r in rows] == ["e2"], rows
    table = ok("stream", "read", "name=wstream", "offset=10m", "count=2")
    header = [c.strip() for c in table.splitlines()[1].strip("|").split("|")]
    assert header == ["offset", "timestamp", "routing_key", "payload"], header
    assert len(json.loads(ok("-f", "raw_json", "stream", "read", "name=wstream"))) == 4
    fails(1, "stream", "read", "name=wstream", "offset=bogus")
    fails(2, "stream", "write", "name=wstream")
    ok("delete", "queue", "name=wstream")


def users_permissions_vhosts_and_policies_are_managed():
    user = "wctl-user-%d" % os.getpid()
    assert ok("declare", "user", "name=" + user, "password=pw",
              "tags=monitoring").strip() == "user declared"
    ok("declare", "permission", "vhost=" + VHOST, "user=" + user, "configure=^w",
       "write=.*", "read=.*")
    rows = json.loads(ok("-f", "json", "list", "permissions"))
    assert any(r["user"] == user and r["configure"] == "^w" for r in rows), rows
    users = ok("-f", "tsv", "list", "users", "name", "tags")
    assert "%s\tmonitoring" % user in users.splitlines(), users
    ok("delete", "permission", "vhost=" + VHOST, "user=" + user)
    ok("delete", "user", "name=" + user)
    assert user not in ok("-f", "bash", "list", "users")
    ok("declare", "policy", "name=wp", "pattern=^wq", "apply_to=queues",
       'definition={"max-length":10}', "priority=1")
    rows = json.loads(ok("-f", "json", "list", "policies", "name", "definition", "priority"))
    assert {"name": "wp", "definition": {"max-length": 10}, "priority": 1} in rows, rows
    table = ok("list", "policies")
    assert '{"max-length": 10}' in table, table  # definition shown as JSON, as rabbitmqadmin
    ok("delete", "policy", "name=wp")
    assert VHOST in ok("-f", "bash", "list", "vhosts").split()


def overview_and_other_listings_answer():
    table = ok("show", "overview")
    assert "rabbitmq_version" in table.splitlines()[1], table
    rows = json.loads(ok("-f", "json", "show", "overview"))
    assert len(rows) == 1 and isinstance(rows[0], dict)
    for what in ("connections", "channels", "consumers", "nodes", "vhosts", "permissions",
                 "users", "exchanges"):
        ok("list", what)
        json.loads(ok("-f", "raw_json", "list", what))
    rows = json.loads(ok("-f", "json", "-S", "name", "-R", "list", "exchanges", "name"))
    names = [r["name"] for r in rows]
    assert names == sorted(names, reverse=True), names


def definitions_export_and_import_round_trip():
    path = os.path.join(ARGS.home, "defs.json")
    ok("declare", "queue", "name=wq-def")
    assert "Exported" in ok("export", path)
    with open(path) as f:
        defs = json.load(f)
    assert any(q["name"] == "wq-def" for q in defs["queues"]), defs
    ok("delete", "queue", "name=wq-def")
    assert "Imported" in ok("import", path)
    eventually(lambda: (json.loads(ok("-f", "json", "list", "queues", "name")).index(
        {"name": "wq-def"}) >= 0) or True)
    ok("delete", "queue", "name=wq-def")
    with open(path, "w") as f:
        f.write("{not json")
    fails(2, "import", path)


def amqp_open(port):
    """A bare AMQP 0-9-1 connection (PLAIN guest/guest) opened on VHOST, stdlib only."""
    s = socket.create_connection((HOST, port), timeout=10)
    s.sendall(b"AMQP\x00\x00\x09\x01")

    def read_frame():
        head = b""
        while len(head) < 7:
            head += s.recv(7 - len(head))
        ftype, chan, size = struct.unpack(">BHI", head)
        payload = b""
        while len(payload) < size + 1:
            payload += s.recv(size + 1 - len(payload))
        return ftype, payload[:-1]

    def send_method(cls, meth, args):
        payload = struct.pack(">HH", cls, meth) + args
        s.sendall(struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce")

    def shortstr(v):
        return struct.pack(">B", len(v)) + v

    def longstr(v):
        return struct.pack(">I", len(v)) + v

    read_frame()  # connection.start
    props = shortstr(b"connection_name") + b"S" + longstr(b"warrenctl-test")
    send_method(10, 11, longstr(props) + shortstr(b"PLAIN") + longstr(b"\x00guest\x00guest")
                + shortstr(b"en_US"))
    _, tune = read_frame()
    channel_max, frame_max, _ = struct.unpack(">HIH", tune[4:12])
    send_method(10, 31, struct.pack(">HIH", channel_max, frame_max, 0))
    send_method(10, 40, shortstr(VHOST.encode()) + shortstr(b"") + b"\x00")
    _, opened = read_frame()
    assert opened[:4] == struct.pack(">HH", 10, 41), opened
    return s, read_frame


def connections_are_listed_and_closed():
    sock, read_frame = amqp_open(AMQP_PORT)
    local = "%s:%d" % sock.getsockname()[:2]
    try:
        def listed():
            rows = json.loads(ok("-f", "json", "list", "connections", "name"))
            names = [r["name"] for r in rows if r["name"].startswith(local + " ")]
            assert names, rows
            return names[0]
        name = eventually(listed, timeout=15)
        assert ok("close", "connection", "name=" + name).strip() == "connection closed"
        ftype, payload = read_frame()
        assert ftype == 1 and payload[:4] == struct.pack(">HH", 10, 50), payload
    finally:
        sock.close()


def dead_letters_are_inspected_and_replayed_once():
    ok("declare", "queue", "name=wdlq", "durable=false")
    ok("declare", "exchange", "name=worders", "type=direct", "durable=false")
    ok("declare", "queue", "name=wwork", "durable=false",
       'arguments={"x-dead-letter-exchange":"","x-dead-letter-routing-key":"wdlq",'
       '"x-message-ttl":1}')
    ok("declare", "binding", "source=worders", "destination=wwork", "routing_key=new")
    for i in range(3):
        ok("-q", "publish", "exchange=worders", "routing_key=new", "payload=m%d" % i)
    ok("-q", "publish", "routing_key=wdlq", "payload=no-death")

    def inspected():
        rows = json.loads(ok("-f", "json", "dlq", "inspect", "wdlq"))
        assert len(rows) == 1 and rows[0]["messages"] == 3, rows
        return rows[0]
    row = eventually(inspected)
    assert row["queue"] == "wwork" and row["reason"] == "expired", row
    assert row["exchange"] == "worders" and row["routing_keys"] == "new", row
    assert row["deaths"] == 3 and row["first_death"] and row["last_death"], row
    table = ok("dlq", "inspect", "wdlq")
    assert "expired" in table and "4 messages inspected" in table, table
    assert len(get_all("wdlq")) == 4  # inspect removed nothing
    # The work queue loses its TTL so replayed messages stay there.
    ok("delete", "queue", "name=wwork")
    ok("declare", "queue", "name=wwork", "durable=false")
    ok("declare", "binding", "source=worders", "destination=wwork", "routing_key=new")
    out = ok("dlq", "replay", "wdlq", "--limit", "1")
    assert "moved 1 message " in out, out
    out = ok("dlq", "replay", "wdlq", "--to-original")
    assert "moved 2 messages" in out and "1 message without x-death" in out, out
    work = get_all("wwork", "ack_requeue_false")
    assert sorted(m["payload"] for m in work) == ["m0", "m1", "m2"], work
    left = get_all("wdlq")
    assert [m["payload"] for m in left] == ["no-death"], left
    report = json.loads(ok("-f", "json", "dlq", "replay", "wdlq"))
    assert report["moved"] == 0 and report["kept"] == 1, report
    for q in ("wdlq", "wwork"):
        ok("delete", "queue", "name=" + q)
    ok("delete", "exchange", "name=worders")


def shovels_are_declared_listed_restarted_and_deleted():
    try:
        api("GET", "/shovels")
    except urllib.error.HTTPError:
        print("     (no /api/shovels on this broker: the shovel plugin is not enabled)")
        return
    ok("declare", "queue", "name=wsh-src", "durable=false")
    ok("declare", "queue", "name=wsh-dst", "durable=false")
    vuri = "amqp:///" + urllib.parse.quote(VHOST, safe="")
    ok("shovel", "declare", "name=wsh", "src-uri=" + vuri, "src-queue=wsh-src",
       "dest-uri=" + vuri, "dest-queue=wsh-dst", "prefetch-count=10",
       "add-forward-headers=true")
    value = api("GET", "/parameters/shovel/%s/wsh" % urllib.parse.quote(VHOST, safe=""))["value"]
    assert value["prefetch-count"] == 10 and value["add-forward-headers"] is True, value

    def running():
        rows = json.loads(ok("-f", "json", "shovel", "list"))
        assert [(r["name"], r["state"]) for r in rows] == [("wsh", "running")], rows
    eventually(running)
    assert "wsh" in ok("list", "shovels")
    ok("-q", "publish", "routing_key=wsh-src", "payload=moved")

    def moved():
        assert [m["payload"] for m in get_all("wsh-dst")] == ["moved"]
    eventually(moved)
    ok("shovel", "restart", "name=wsh")
    eventually(running)
    assert "running" in ok("shovel", "status", "name=wsh")
    err = fails(1, "shovel", "declare", "name=wbad", "src-uri=" + vuri, "src-queue=q",
                "dest-uri=" + vuri, "ack-mode=sometimes")
    assert "ack-mode should be one of" in err, err
    fails(2, "shovel", "frob", "name=wsh")
    fails(2, "shovel", "delete")
    ok("shovel", "delete", "name=wsh")
    fails(1, "shovel", "delete", "name=wsh")
    assert json.loads(ok("-f", "json", "shovel", "list")) == []
    for q in ("wsh-src", "wsh-dst"):
        ok("delete", "queue", "name=" + q)


def settings_come_from_config_file_environment_and_flags():
    conf = os.path.join(ARGS.home, "wctl.conf")
    with open(conf, "w") as f:
        f.write("[default]\nhostname = %s\nport = %d\nusername = guest\npassword = guest\n"
                "\n[elsewhere]\nhostname = %s\nport = %d  # a closed port\n"
                % (HOST, PORT, HOST, free_port()))
    env = clean_env()
    base = [ARGS.warrenctl, "-V", VHOST]
    run = lambda argv, e=env: subprocess.run(base + argv, capture_output=True, text=True,
                                             timeout=30, env=e)
    assert run(["-c", conf, "list", "vhosts"]).returncode == 0
    assert run(["-c", conf, "-N", "elsewhere", "list", "vhosts"]).returncode == 3
    assert run(["-c", conf, "-N", "nosection", "list", "vhosts"]).returncode == 2
    shutil.copy(conf, os.path.join(ARGS.home, ".warrenctl.conf"))
    assert run(["list", "vhosts"]).returncode == 0  # ~/.warrenctl.conf
    os.unlink(os.path.join(ARGS.home, ".warrenctl.conf"))
    e = dict(env, WARRENCTL_HOST=HOST, WARRENCTL_PORT=str(PORT), WARRENCTL_VHOST=VHOST)
    assert run(["list", "queues"], e).returncode == 0
    assert run(["-P", str(free_port()), "list", "queues"], e).returncode == 3  # flag wins
    e["WARRENCTL_PASSWORD"] = "wrong"
    p = run(["list", "queues"], e)
    assert p.returncode == 1 and "401" in p.stderr, p.stderr
    assert run(["--password=guest", "list", "queues"], e).returncode == 0


def documented_examples_still_work():
    with open(ARGS.docs) as f:
        text = f.read()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    examples = [b for b in blocks if b.lstrip().startswith("# example")]
    assert len(examples) >= 5, "only %d examples found in %s" % (len(examples), ARGS.docs)
    env = clean_env()
    env.update(WARRENCTL_HOST=HOST, WARRENCTL_PORT=str(PORT), WARRENCTL_VHOST=VHOST,
               PATH=os.path.dirname(os.path.abspath(ARGS.warrenctl)) + ":" + env["PATH"])
    failures = []
    for block in examples:
        p = subprocess.run(["bash", "-euo", "pipefail", "-c", block], capture_output=True,
                           text=True, timeout=60, env=env, cwd=ARGS.home)
        if p.returncode != 0:
            failures.append("%s\n-> rc %d: %s%s" % (block, p.returncode, p.stdout, p.stderr))
    assert not failures, "\n".join(failures)


TESTS = [
    help_is_available_for_every_subcommand,
    usage_errors_exit_2_with_one_line,
    an_unreachable_server_exits_3,
    a_missing_object_exits_1_with_the_status,
    queues_are_declared_listed_and_deleted,
    exchanges_and_bindings_round_trip,
    publish_and_get_move_messages,
    a_stream_is_read_from_an_offset_without_a_consumer,
    users_permissions_vhosts_and_policies_are_managed,
    overview_and_other_listings_answer,
    definitions_export_and_import_round_trip,
    connections_are_listed_and_closed,
    dead_letters_are_inspected_and_replayed_once,
    shovels_are_declared_listed_restarted_and_deleted,
    settings_come_from_config_file_environment_and_flags,
    documented_examples_still_work,
]


def start_warren(data_dir):
    global PORT, AMQP_PORT
    AMQP_PORT, PORT = free_port(), free_port()
    log = open(os.path.join(data_dir, "warren.log"), "w+")
    proc = subprocess.Popen([ARGS.warren, "--port", str(AMQP_PORT), "--mgmt-port", str(PORT),
                             "--data-dir", os.path.join(data_dir, "data")],
                            stdout=log, stderr=log)
    deadline = time.time() + 20
    while time.time() < deadline:
        log.seek(0)
        if "ready" in log.read():
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    log.seek(0)
    print("warren did not become ready:\n" + log.read())
    proc.kill()
    sys.exit(1)


def main():
    global ARGS, HOST, PORT, AMQP_PORT, VHOST
    ap = argparse.ArgumentParser()
    ap.add_argument("warrenctl")
    ap.add_argument("warren", nargs="?")
    ap.add_argument("--rabbitmq", help="management URL of a running RabbitMQ")
    ap.add_argument("--amqp-port", type=int, default=5673, help="its AMQP port")
    ap.add_argument("--docs", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                   "docs", "cli.md"))
    ARGS = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="warrenctl-test-")
    ARGS.home = tmp
    proc = None
    try:
        if ARGS.rabbitmq:
            u = urllib.parse.urlparse(ARGS.rabbitmq)
            HOST, PORT, AMQP_PORT = u.hostname, u.port or 15672, ARGS.amqp_port
        else:
            if not ARGS.warren:
                ap.error("give WARREN or --rabbitmq")
            proc = start_warren(tmp)
        try:
            api("GET", "/overview")
        except (urllib.error.URLError, OSError) as e:
            if proc is None:
                raise
            print("SKIP: warren does not serve the management API yet (%s)" % e)
            print("0 passed, 0 failed")
            return 77
        VHOST = "wctl-test-%d-%d" % (os.getpid(), random.randrange(1 << 30))
        api("PUT", "/vhosts/" + urllib.parse.quote(VHOST, safe=""))
        api("PUT", "/permissions/%s/guest" % urllib.parse.quote(VHOST, safe=""),
            {"configure": ".*", "write": ".*", "read": ".*"})
        try:
            for fn in TESTS:
                test(fn)
        finally:
            try:
                api("DELETE", "/vhosts/" + urllib.parse.quote(VHOST, safe=""))
            except (urllib.error.URLError, OSError) as e:
                print("could not delete vhost %s: %s" % (VHOST, e))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
