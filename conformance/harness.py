"""Tiny scenario runner shared by the Python clients (pika, py-amqp, kombu).

A scenario is a function registered with @scenario("sentence about behaviour"). Each runs with
its own connection(s) and a per-scenario timeout (SIGALRM). Output, one line per scenario:

    ok - <name>
    FAIL - <name>: <reason>
    skip - <name> (warren-only)

and a closing line "<client>: N passed, M failed" (", K skipped" when some were skipped).

Environment:
    CONFORMANCE_URL      amqp://user:pass@host:port/vhost (default the dev RabbitMQ on 5673)
    CONFORMANCE_TARGET   rabbitmq | warren (scenarios marked warren_only are skipped on rabbitmq)
    CONFORMANCE_FILTER   substring: run only scenarios whose name contains it
    CONFORMANCE_TIMEOUT  seconds per scenario (default 20)
    CONFORMANCE_PROFILE  "" (default) runs the scenarios for a broker with the default settings;
                         "zero-limits" runs only those registered with profile="zero-limits",
                         for a broker with channel_max = 0 and frame_max = 0
"""

import os
import re
import signal
import sys
import time
import traceback
import urllib.parse

URL = os.environ.get("CONFORMANCE_URL", "amqp://guest:guest@127.0.0.1:5673/")
TARGET = os.environ.get("CONFORMANCE_TARGET", "rabbitmq")
FILTER = os.environ.get("CONFORMANCE_FILTER", "")
TIMEOUT = int(os.environ.get("CONFORMANCE_TIMEOUT", "20"))
PROFILE = os.environ.get("CONFORMANCE_PROFILE", "")


def url_parts():
    u = urllib.parse.urlparse(URL)
    vhost = urllib.parse.unquote(u.path[1:]) if len(u.path) > 1 else "/"
    return {
        "host": u.hostname or "127.0.0.1",
        "port": u.port or 5672,
        "user": urllib.parse.unquote(u.username or "guest"),
        "password": urllib.parse.unquote(u.password or "guest"),
        "vhost": vhost,
    }


VHOST = url_parts()["vhost"]
USER = url_parts()["user"]

_scenarios = []
_counter = [0]


def scenario(name, warren_only=False, timeout=None, profile="", requires=None):
    """Register a scenario. warren_only=True: a Warren feature RabbitMQ 3.10 lacks (skipped there).
    profile: the broker configuration it needs ("" the default; see CONFORMANCE_PROFILE).
    requires: a function returning None when the scenario can run, else why not (a plugin the
    broker does not have enabled, no management URL): the scenario is then skipped."""
    def wrap(fn):
        _scenarios.append((name, fn, warren_only, timeout or TIMEOUT, profile, requires))
        return fn
    return wrap


def unique(prefix):
    """A name no other scenario or run uses."""
    _counter[0] += 1
    return "conf.%s.%d.%d.%d" % (prefix, os.getpid(), int(time.time() * 1000) % 100000000,
                                 _counter[0])


class Failure(Exception):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise Failure(msg)


def eq(got, want, what="value"):
    if got != want:
        raise Failure("%s: got %r, want %r" % (what, got, want))


def matches(text, pattern, what="text"):
    if not re.fullmatch(pattern, text or ""):
        raise Failure("%s: %r does not match /%s/" % (what, text, pattern))


class _Timeout(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Timeout()


def run(client):
    signal.signal(signal.SIGALRM, _on_alarm)
    passed = failed = skipped = 0
    for name, fn, warren_only, timeout, profile, requires in _scenarios:
        if profile != PROFILE or (FILTER and FILTER not in name):
            continue
        if warren_only and TARGET == "rabbitmq":
            print("skip - %s (warren-only)" % name, flush=True)
            skipped += 1
            continue
        why = requires() if requires else None
        if why:
            print("skip - %s (%s)" % (name, why), flush=True)
            skipped += 1
            continue
        start = time.monotonic()
        signal.alarm(timeout)
        try:
            fn()
            signal.alarm(0)
            print("ok - %s (%.2fs)" % (name, time.monotonic() - start), flush=True)
            passed += 1
        except _Timeout:
            print("FAIL - %s: timed out after %ds" % (name, timeout), flush=True)
            failed += 1
        except Failure as e:
            signal.alarm(0)
            print("FAIL - %s: %s" % (name, e), flush=True)
            failed += 1
        except Exception as e:  # noqa: BLE001 - any client exception is a scenario failure
            signal.alarm(0)
            tb = traceback.format_exc().strip().splitlines()
            print("FAIL - %s: %s: %s [%s]" % (name, type(e).__name__, e, tb[-3].strip()),
                  flush=True)
            failed += 1
    tail = ", %d skipped" % skipped if skipped else ""
    print("%s: %d passed, %d failed%s" % (client, passed, failed, tail), flush=True)
    return 1 if failed else 0


def main(client):
    sys.exit(run(client))
