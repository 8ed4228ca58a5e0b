"""The crash-state generator of the power-loss test.

It reads the log recorder.c wrote (every change a process made under a directory, with the data,
in order, plus the workload's MARK entries) and builds, for a chosen point k of that log, a
directory as the disk could hold it after a power cut just after entry k-1:

- a file's contents as of its last completed fsync/fdatasync are there; each write, truncate or
  fallocate after it is independently there, missing, or torn at a 512-byte boundary (only its
  first or only its last sectors made it);
- a directory entry (a create, mkdir, rename, link or unlink) is there once the directory that
  holds it was fsynced after it; before that each such change independently did or did not
  happen (applied in log order, a change that no longer makes sense is skipped);
- sync()/syncfs() makes everything durable.

This is stricter than ext4 (which keeps metadata changes in order and commits a file's new
directory entry with its fsync), on purpose: it is what POSIX promises. A crash state is a dict
{relative path: bytes or None for a directory} and materialises into a real directory.
"""
import hashlib
import os
import struct

OPEN, WRITE, TRUNCATE, FALLOCATE, FSYNC, RENAME, UNLINK, LINK, MKDIR, MARK, SYNC = range(1, 12)
NAMES = {OPEN: "open", WRITE: "write", TRUNCATE: "truncate", FALLOCATE: "fallocate",
         FSYNC: "fsync", RENAME: "rename", UNLINK: "unlink", LINK: "link", MKDIR: "mkdir",
         MARK: "mark", SYNC: "sync"}
HEADER = struct.Struct("<IBBHQQQHHI")  # 40 bytes
SECTOR = 512


class Entry:
    __slots__ = ("op", "flags", "ino", "off", "len", "path", "path2", "data")

    def __repr__(self):
        return "%s(%s%s ino=%d off=%d len=%d data=%d)" % (
            NAMES.get(self.op, self.op), self.path, " -> " + self.path2 if self.path2 else "",
            self.ino, self.off, self.len, len(self.data))


def mark_bytes(text):
    """A MARK entry for the workload to append to the log (one write, O_APPEND)."""
    data = text.encode()
    total = HEADER.size + len(data)
    return HEADER.pack(total, MARK, 0, 0, 0, 0, 0, 0, 0, len(data)) + data


def read_log(path):
    with open(path, "rb") as f:
        raw = f.read()
    out, pos = [], 0
    while pos + HEADER.size <= len(raw):
        total, op, flags, _, ino, off, ln, pl, p2l, dl = HEADER.unpack_from(raw, pos)
        if total < HEADER.size or pos + total > len(raw):
            raise ValueError("truncated log entry at byte %d" % pos)
        e = Entry()
        e.op, e.flags, e.ino, e.off, e.len = op, flags, ino, off, ln
        p = pos + HEADER.size
        e.path = raw[p:p + pl].decode()
        e.path2 = raw[p + pl:p + pl + p2l].decode()
        e.data = raw[p + pl + p2l:p + pl + p2l + dl]
        out.append(e)
        pos += total
    if pos != len(raw):
        raise ValueError("trailing bytes in the log")
    return out


def split(path):
    d, _, name = path.rpartition("/")
    return d, name


class Inode:
    """A file or directory. Files: `synced` is what a completed fsync made durable, `pending`
    the data operations since. Directories: `entries` is the durable name -> Inode map."""
    __slots__ = ("kind", "synced", "pending", "entries", "live", "num")

    def __init__(self, kind, num):
        self.kind = kind
        self.num = num
        self.synced = bytearray()
        self.pending = []
        self.entries = {}
        self.live = bytearray()  # the contents the process sees (page cache)


def apply_data(buf, op, rng=None, mode="all"):
    """Applies one data operation to buf. mode: all | head | tail (torn at a sector boundary)."""
    kind = op[0]
    if kind == "write":
        _, off, data = op
        if mode != "all" and len(data) > 0:
            first = (off // SECTOR + 1) * SECTOR  # the first sector boundary inside the write
            cuts = list(range(first, off + len(data), SECTOR))
            if cuts:
                cut = rng.choice(cuts) - off
                if mode == "head":
                    data = data[:cut]
                else:
                    off, data = off + cut, data[cut:]
        end = off + len(data)
        if len(buf) < off:
            buf.extend(b"\0" * (off - len(buf)))
        buf[off:end] = data
    elif kind == "truncate":
        size = op[1]
        if len(buf) > size:
            del buf[size:]
        else:
            buf.extend(b"\0" * (size - len(buf)))
    elif kind == "extend":
        size = op[1]
        if len(buf) < size:
            buf.extend(b"\0" * (size - len(buf)))


class Model:
    """Replays a log up to a point and produces crash states there."""

    def __init__(self, entries):
        self.entries = entries
        self.root = Inode("d", 0)
        self.count = 1
        self.by_ino = {}              # recorder ino -> Inode (the current holder of that number)
        self.names = {"": self.root}  # the namespace the process sees: path -> Inode
        self.meta = []                # directory changes not yet durable, in order
        self.pos = 0

    # -- replay ------------------------------------------------------------------------------

    def _new(self, kind, ino):
        n = Inode(kind, self.count)
        self.count += 1
        if ino:
            self.by_ino[ino] = n
        return n

    def _node(self, ino):
        n = self.by_ino.get(ino)
        if n is None:
            raise ValueError("entry %d: inode %d was never created under the root"
                             % (self.pos, ino))
        return n

    def _where(self, path):
        """(directory inode, name) of path in the process's view."""
        d, name = split(path)
        dn = self.names.get(d)
        if dn is None:
            raise ValueError("entry %d: %s is in no known directory" % (self.pos, path))
        return dn, name

    def advance(self, k):
        """Replays entries[pos:k]."""
        while self.pos < k:
            self._step(self.entries[self.pos])
            self.pos += 1

    def _step(self, e):
        op = e.op
        if op in (OPEN, MKDIR):
            if op == MKDIR or e.flags & 1:  # created
                n = self._new("d" if op == MKDIR or e.flags & 4 else "f", e.ino)
                dn, name = self._where(e.path)
                self.meta.append(("create", dn, name, n))
                self.names[e.path] = n
            else:
                n = self.names.get(e.path) or self._node(e.ino)
                self.by_ino[e.ino] = n
            if op == OPEN and e.flags & 2:  # O_TRUNC of an existing file
                self._data(n, ("truncate", 0))
        elif op == WRITE:
            self._data(self._node(e.ino), ("write", e.off, bytes(e.data)))
        elif op == TRUNCATE:
            self._data(self._node(e.ino), ("truncate", e.len))
        elif op == FALLOCATE:
            if not e.flags & 1:
                self._data(self._node(e.ino), ("extend", e.off + e.len))
        elif op == FSYNC:
            if e.flags == 2:
                return  # sync_file_range: no durability promise
            n = self._node(e.ino)
            if n.kind == "f":
                n.synced = bytearray(n.live)
                n.pending = []
            else:
                keep, done = [], []
                for m in self.meta:
                    (done if n in self._dirs(m) else keep).append(m)
                for m in done:
                    self._apply(m, None)
                self.meta = keep
        elif op == SYNC:
            for n in self._inodes():
                if n.kind == "f":
                    n.synced = bytearray(n.live)
                    n.pending = []
            for m in self.meta:
                self._apply(m, None)
            self.meta = []
        elif op == RENAME:
            n = self.names.get(e.path)
            if n is None:
                raise ValueError("entry %d: rename of unknown %s" % (self.pos, e.path))
            sd, sname = self._where(e.path)
            dd, dname = self._where(e.path2)
            self.meta.append(("rename", sd, sname, dd, dname, n))
            for p in [p for p in self.names if p == e.path2 or p.startswith(e.path2 + "/")]:
                del self.names[p]
            for p in [p for p in self.names if p.startswith(e.path + "/")]:
                self.names[e.path2 + p[len(e.path):]] = self.names.pop(p)
            del self.names[e.path]
            self.names[e.path2] = n
        elif op == LINK:
            n = self.names[e.path]
            dn, name = self._where(e.path2)
            self.meta.append(("link", dn, name, n))
            self.names[e.path2] = n
        elif op == UNLINK:
            dn, name = self._where(e.path)
            self.meta.append(("unlink", dn, name))
            for p in [p for p in self.names if p == e.path or p.startswith(e.path + "/")]:
                del self.names[p]

    def _inodes(self):
        seen, todo = {}, list(self.by_ino.values()) + list(self.names.values()) + [self.root]
        while todo:
            n = todo.pop()
            if n.num in seen:
                continue
            seen[n.num] = n
            todo.extend(n.entries.values())
        return list(seen.values())

    @staticmethod
    def _dirs(m):
        return (m[1], m[3]) if m[0] == "rename" else (m[1],)

    @staticmethod
    def _data(n, o):
        n.pending.append(o)
        apply_data(n.live, o)

    @staticmethod
    def _apply(m, view):
        """Applies a directory change to `view` ({dir num: {name: Inode}}, copied on write from
        the durable entries), or to the durable entries themselves when view is None."""
        def ents(d):
            if view is None:
                return d.entries
            if d.num not in view:
                view[d.num] = dict(d.entries)
            return view[d.num]
        kind = m[0]
        if kind in ("create", "link"):
            ents(m[1])[m[2]] = m[3]
        elif kind == "unlink":
            ents(m[1]).pop(m[2], None)
        elif kind == "rename":
            src = ents(m[1])
            if src.get(m[2]) is m[5]:  # else this rename no longer makes sense: skipped
                del src[m[2]]
                ents(m[3])[m[4]] = m[5]

    # -- crash states ------------------------------------------------------------------------

    def state(self, rng, choice="random"):
        """A crash state at the current point. choice: random | none (only what is durable) |
        all (every pending change made it, as after a process crash)."""
        view = {}
        for m in self.meta:
            if choice == "all" or (choice == "random" and rng.random() < 0.5):
                self._apply(m, view)
        out, contents, todo, seen = {}, {}, [("", self.root)], set()
        while todo:
            path, d = todo.pop()
            if d.num in seen:
                continue  # a directory linked twice (cannot happen on Linux) is walked once
            seen.add(d.num)
            for name, n in (view.get(d.num) or d.entries).items():
                p = path + "/" + name if path else name
                if n.kind == "d":
                    out[p] = None
                    todo.append((p, n))
                    continue
                if n.num not in contents:  # hard links share one inode, so one outcome
                    contents[n.num] = self._contents(n, rng, choice)
                out[p] = contents[n.num]
        return out

    @staticmethod
    def _contents(n, rng, choice):
        buf = bytearray(n.synced)
        for o in n.pending:
            if choice == "all":
                apply_data(buf, o)
            elif choice == "random":
                r = rng.random()
                if r < 0.35:
                    continue
                if o[0] == "write" and r < 0.55:
                    apply_data(buf, o, rng, "head")
                elif o[0] == "write" and r < 0.7:
                    apply_data(buf, o, rng, "tail")
                else:
                    apply_data(buf, o)
        return bytes(buf)


def digest(state):
    h = hashlib.sha1()
    for p in sorted(state):
        v = state[p]
        h.update(p.encode() + b"\0" + (b"D" if v is None else b"F" + hashlib.sha1(v).digest()))
    return h.hexdigest()


def materialise(state, root):
    """Writes a crash state under root (which must exist and be empty)."""
    for p in sorted(state):
        full = os.path.join(root, p)
        if state[p] is None:
            os.makedirs(full, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(state[p])


def sync_points(entries):
    return [i for i, e in enumerate(entries) if e.op in (FSYNC, SYNC) and e.flags != 2]


if __name__ == "__main__":
    import sys
    for i, e in enumerate(read_log(sys.argv[1])):
        print(i, e if e.op != MARK else "mark " + e.data.decode())
