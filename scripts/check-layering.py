#!/usr/bin/python3
"""Fails when an #include crosses a layer the wrong way, or when folders include each other in a
cycle. The layers, lowest first, and what each may include (docs/architecture.md draws them):

    amqp/, storage/                 nothing of the project but amqp/ (storage/ uses amqp/ only)
    broker/core/                    amqp/
    broker/auth/                    core
    broker/vhost/                   auth, core
    broker/queue/ (+ its kinds)     vhost, auth, core, storage/
    broker/exchange/                queue and below
    broker/net/                     exchange and below
    broker/handlers/                net and below
    broker/admin/                   handlers and below
    broker/shovel/                  admin and below (a shovel is a client of the broker: it
                                    runs as a runtime parameter admin/ stores, and reaches this
                                    broker through net/'s connections like any client)
    broker/server.c                 shovel and below (the broker's lifecycle, listeners, tick)
    broker/cluster/                 server and below (etcd, election, replication, forwarding)
    mgmt/api/                       cluster and below
    broker/main.c, systemd.c        everything (the program: wires broker, storage and mgmt)
    mgmt/warrenctl/                 nothing of broker/ or mgmt/api/ (a client of the HTTP API)

A file may include files of its own layer (a cycle inside one folder is allowed where two files
are one concept) and of any layer below it.

Includes alone can hide an upward call: a function declared in a lower layer's header but defined
above it. With --objects BUILDDIR the script also reads the compiled objects (compile_commands.json
names each one's source, nm their symbols) and fails when code of one layer references a symbol
that only a higher layer defines; calls that must go up (net/ reaching the method handlers, a
queue reaching its consumers) go through function pointers the higher layer installs.

Usage: check-layering.py [--objects BUILDDIR] [ROOT] (ROOT defaults to the repository holding
this script). Prints each offence and exits 1, or prints a summary and exits 0."""
import json
import os
import re
import subprocess
import sys

# (layer name, path prefixes, rank). A deeper prefix wins (broker/main.c over broker/).
LAYERS = [
    ("amqp", ["amqp/"], 0),
    ("storage", ["storage/"], 1),
    ("core", ["broker/core/"], 2),
    ("auth", ["broker/auth/"], 3),
    ("vhost", ["broker/vhost/"], 4),
    ("queue", ["broker/queue/"], 5),
    ("exchange", ["broker/exchange/"], 6),
    ("net", ["broker/net/"], 7),
    ("handlers", ["broker/handlers/"], 8),
    ("admin", ["broker/admin/"], 9),
    # A shovel is a client of the broker: its definition is a runtime parameter (admin/), its
    # connections to this broker are net/ connections; the server installs it, mgmt shows it.
    ("shovel", ["broker/shovel/"], 10),
    ("server", ["broker/server."], 11),
    ("cluster", ["broker/cluster/"], 12),
    ("mgmt", ["mgmt/api/"], 13),
    ("program", ["broker/main.c", "broker/systemd."], 14),
]
# Layers that stand apart: they may include only their own files and system headers.
APART = {"warrenctl": ["mgmt/warrenctl/"]}
# storage/ sits beside the broker, not on top of amqp/'s rank order: it may use amqp/ only.
MAY_ALSO_NOT = {"storage": {"core", "auth", "vhost", "queue", "exchange", "net", "handlers",
                            "admin", "shovel", "server", "cluster", "mgmt", "program"}}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(path):
    best = None
    for name, prefixes, rank in LAYERS:
        for p in prefixes:
            if path.startswith(p) and (best is None or len(p) > best[2]):
                best = (name, rank, len(p))
    for name, prefixes in APART.items():
        for p in prefixes:
            if path.startswith(p) and (best is None or len(p) > best[2]):
                best = (name, None, len(p))
    return (best[0], best[1]) if best else (None, None)


def sources(root):
    for top in ("amqp", "storage", "broker", "mgmt"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = [d for d in dirnames if d not in ("codegen", "ui")]
            for f in filenames:
                if f.endswith((".c", ".h")):
                    full = os.path.join(dirpath, f)
                    yield os.path.relpath(full, root)


def check_objects(root, build):
    """Symbol references from a layer to a symbol defined only above it."""
    db = json.load(open(os.path.join(build, "compile_commands.json")))
    objs = {}  # object path -> source path relative to root
    for e in db:
        src = os.path.relpath(os.path.normpath(os.path.join(e["directory"], e["file"])), root)
        out = e.get("output")
        if not out:
            m = re.search(r"-o (\S+)", e.get("command", ""))
            out = m.group(1) if m else None
        if out and layer_of(src)[0] and not src.startswith(("tests/", "mgmt/warrenctl/")):
            objs[os.path.join(e["directory"], out)] = src
    defined, undefined = {}, {}
    present = [o for o in objs if os.path.exists(o)]
    # One nm for all objects: "OBJECT: [VALUE] TYPE NAME" per symbol.
    text = subprocess.run(["nm", "-A", "-g"] + present, capture_output=True, text=True).stdout
    for line in text.splitlines():
        m = re.match(r"^(.*?\.o):\s*(.*)$", line)
        if not m:
            continue
        obj, parts = m.group(1), m.group(2).split()
        if obj not in objs or len(parts) < 2:
            continue
        src, kind, sym = objs[obj], parts[-2], parts[-1]
        if kind == "U":
            undefined.setdefault(src, set()).add(sym)
        else:
            defined.setdefault(sym, set()).add(src)
    bad = []
    for src, syms in sorted(undefined.items()):
        src_layer, src_rank = layer_of(src)
        for sym in sorted(syms):
            for dst in sorted(defined.get(sym, ())):
                dst_layer, dst_rank = layer_of(dst)
                if dst_layer == src_layer or src_rank is None or dst_rank is None:
                    continue
                if dst_rank > src_rank or dst_layer in MAY_ALSO_NOT.get(src_layer, ()):
                    bad.append("%s uses %s, defined in %s: %s is above %s" %
                               (src, sym, dst, dst_layer, src_layer))
    return bad, len(objs)


def main():
    args = sys.argv[1:]
    build = None
    if len(args) >= 2 and args[0] == "--objects":
        build = args[1]
        args = args[2:]
    root = args[0] if args else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bad = []
    edges = {}
    files = 0
    for path in sorted(sources(root)):
        files += 1
        src_layer, src_rank = layer_of(path)
        if src_layer is None:
            bad.append("%s: belongs to no layer (add it to scripts/check-layering.py)" % path)
            continue
        text = open(os.path.join(root, path), encoding="utf-8", errors="replace").read()
        here = os.path.dirname(path)
        for inc in INCLUDE.findall(text):
            target = inc if os.path.exists(os.path.join(root, inc)) else os.path.normpath(
                os.path.join(here, inc))
            if not os.path.exists(os.path.join(root, target)):
                continue  # a system or generated header
            dst_layer, dst_rank = layer_of(target)
            if dst_layer == src_layer:
                continue
            edges.setdefault(src_layer, set()).add(dst_layer)
            if src_rank is None or dst_rank is None:
                bad.append("%s includes %s: %s stands apart and shares nothing with %s" %
                           (path, inc, src_layer if src_rank is None else dst_layer,
                            dst_layer if src_rank is None else src_layer))
            elif dst_layer in MAY_ALSO_NOT.get(src_layer, ()):
                bad.append("%s includes %s: %s must not depend on %s" %
                           (path, inc, src_layer, dst_layer))
            elif dst_rank > src_rank:
                bad.append("%s includes %s: %s is above %s (layers run %s)" %
                           (path, inc, dst_layer, src_layer,
                            " < ".join(n for n, _, _ in LAYERS)))
    nobj = 0
    if build:
        obad, nobj = check_objects(root, build)
        bad += obad
    for line in bad:
        print("check-layering:", line)
    if bad:
        print("check-layering: %d references cross a layer the wrong way" % len(bad))
        return 1
    print("check-layering: %d files, %d layer-to-layer dependencies, all downward, no cycles%s" %
          (files, sum(len(v) for v in edges.values()),
           "; %d objects' symbol references too" % nobj if build else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
