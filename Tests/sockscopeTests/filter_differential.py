#!/usr/bin/env python3
"""Differential test of the filter language: sockscope against ss on the same live sockets.

Run as root inside a private network namespace (`unshare -n`), with the sockscope binary as the
first argument, the number of random expressions second and a seed third. It builds listeners and
established pairs over several 127.0.0.x addresses, ::1 and a ULA on lo, v4-mapped peers of a
dual-stack listener, sockets bound to lo (SO_BINDTODEVICE), marked (SO_MARK) and created in a test
cgroup; then it runs hundreds of random fully parenthesised expressions through
`ss -tanHe EXPR` and `sockscope -tan --json EXPR` (one in four with -u over UDP sockets) and
compares the inode sets.

Prints one JSON object: {"expressions": N, "compared": N, "mismatches": [...], "nonempty": N}.
Exits 0 when the two tools agree on every expression.
"""
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys

SOCKSCOPE, COUNT, SEED = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
signal.alarm(900)  # bounded, whatever happens
rng = random.Random(SEED)
SO_MARK = 36
SO_BINDTODEVICE = 25
MARK = 0x15


def sh(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


sh("ip", "link", "set", "lo", "up")
sh("ip", "-6", "addr", "add", "fd12:3456::1/64", "dev", "lo", "nodad")
sh("ip", "-6", "addr", "add", "fd12:3456::2/64", "dev", "lo", "nodad")

# A cgroup v2 of our own, when cgroup2 is mounted and writable.
cgroup_rel = None
cgroup_mount = None
with open("/proc/self/mounts") as f:
    for line in f:
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "cgroup2":
            cgroup_mount = parts[1]
            break
home_cgroup = None
if cgroup_mount:
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                home_cgroup = line.strip()[3:]
    rel = "sockscope-filter-diff-%d" % os.getpid()
    try:
        os.mkdir(os.path.join(cgroup_mount, rel))
        cgroup_rel = "/" + rel
    except OSError:
        cgroup_rel = None


def enter_cgroup(rel):
    with open(os.path.join(cgroup_mount, rel.lstrip("/"), "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


keep = []
listeners = []


def listener(family, addr, port, mark=None, dev=None, v6only=None):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    if mark is not None:
        s.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
    if dev is not None:
        s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, dev.encode())
    s.bind((addr, port))
    s.listen(64)
    keep.append(s)
    listeners.append((family, addr, port))
    return s


def connect(family, dst, port, src=None, sport=0, mark=None, dev=None, server=None):
    c = socket.socket(family, socket.SOCK_STREAM)
    if mark is not None:
        c.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
    if dev is not None:
        c.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, dev.encode())
    if src is not None or sport:
        c.bind((src or ("0.0.0.0" if family == socket.AF_INET else "::"), sport))
    c.connect((dst, port))
    keep.append(c)
    if server is not None:
        a, _ = server.accept()
        keep.append(a)


# Explicit ports lie outside the ephemeral range, so `autobound` means the same to ss (kernel flag
# and userspace range) and to sockscope (kernel flag).
A4, A6 = socket.AF_INET, socket.AF_INET6
l1 = listener(A4, "127.0.0.1", 20001)
l2 = listener(A4, "127.0.0.2", 20002)
l3 = listener(A6, "::1", 20003)
l4 = listener(A6, "fd12:3456::1", 20004)
l5 = listener(A6, "::", 20005, v6only=0)          # dual-stack: v4 peers appear v4-mapped
l6 = listener(A4, "0.0.0.0", 20006)
l7 = listener(A4, "127.0.0.3", 20007, dev="lo")
l8 = listener(A4, "127.0.0.4", 20008, mark=MARK)
for i in range(3):
    connect(A4, "127.0.0.1", 20001, src="127.0.0.%d" % (5 + i), server=l1)
    connect(A4, "127.0.0.2", 20002, src="127.0.0.6", sport=21000 + i, server=l2)
    connect(A6, "::1", 20003, server=l3)
    connect(A6, "fd12:3456::1", 20004, src="fd12:3456::2", sport=21010 + i, server=l4)
    connect(A4, "127.0.0.1", 20005, src="127.0.0.7", server=l5)       # mapped on the server side
    connect(A6, "::1", 20005, server=l5)
    connect(A4, "127.0.0.9", 20006, server=l6)
    connect(A4, "127.0.0.3", 20007, dev="lo", server=l7)
    connect(A4, "127.0.0.4", 20008, mark=0x10 + i, server=l8)
if cgroup_rel:
    enter_cgroup(cgroup_rel)
    l9 = listener(A4, "127.0.0.8", 20009)
    for i in range(2):
        connect(A4, "127.0.0.8", 20009, server=l9)
    enter_cgroup(home_cgroup or "/")

# UDP: bound (UNCONN) and connected, v4, v6 and a dual-stack one with a v4-mapped peer.
for addr, fam, port in [("127.0.0.1", A4, 20101), ("127.0.0.2", A4, 20102), ("::1", A6, 20103), ("::", A6, 20104)]:
    u = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == A6 and addr == "::":
        u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    u.bind((addr, port))
    keep.append(u)
for dst, fam, port in [("127.0.0.1", A4, 20101), ("::1", A6, 20103), ("::ffff:127.0.0.1", A6, 20101)]:
    u = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == A6:
        u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    u.connect((dst, port))
    keep.append(u)

V4 = ["127.0.0.%d" % i for i in range(1, 10)] + ["127.0.0.0", "127.0.1.0"]
PORTS = [20001, 20002, 20003, 20004, 20005, 20006, 20007, 20008, 20009, 21000, 21001, 21011, 32768, 60999, 1, 65535,
         20101, 20103]


def host():
    k = rng.randrange(9)
    port = (":%d" % rng.choice(PORTS)) if rng.random() < 0.3 else ""
    if k <= 3:
        a = rng.choice(V4)
        plen = rng.choice([None, None, 32, 30, 24, 16, 8])
        return a + ("" if plen is None else "/%d" % plen) + port
    if k == 4:
        return "127.0.0/24" + port                     # ss's short form
    if k == 5:
        return rng.choice(["[::1]", "[fd12:3456::1]", "[fd12:3456::2]", "[::ffff:127.0.0.1]", "[::ffff:127.0.0.7]"]) + port
    if k == 6:
        return rng.choice(["fd12:3456::/64", "fd12::/16", "::ffff:127.0.0.0/104", "fd12:3456::/127"]) + port
    if k == 7:
        return "*:%d" % rng.choice(PORTS)
    return "*"


def leaf(positive):
    k = rng.randrange(12)
    if k <= 3:
        return "%s %s" % (rng.choice(["src", "dst"]), host())
    if k <= 7:
        op = rng.choice(["=", "==", "eq", "!=", "ne", "neq", "<", "lt", ">", "gt", "<=", "le", "leq", ">=", "ge", "geq"])
        return "%s %s :%d" % (rng.choice(["sport", "dport"]), op, rng.choice(PORTS))
    if k == 8:
        return rng.choice(["dev lo", "dev = lo", "dev != lo", "dev 1"])
    if k == 9:
        return rng.choice(["fwmark = 0x15", "fwmark = 0x10/0xf0", "fwmark != 0x15", "fwmark 0x11"])
    if k == 10 and cgroup_rel:
        return rng.choice(["cgroup %s" % cgroup_rel, "cgroup != %s" % cgroup_rel])
    # ss's `not autobound` is "explicitly bound and outside the range": only the positive form compares.
    return "autobound" if positive else "sport >= :20000"


def expr(depth, positive=True):
    if depth == 0 or rng.random() < 0.3:
        return leaf(positive)
    k = rng.randrange(3)
    if k == 0:
        return "( %s and %s )" % (expr(depth - 1, positive), expr(depth - 1, positive))
    if k == 1:
        return "( %s or %s )" % (expr(depth - 1, positive), expr(depth - 1, positive))
    return "not ( %s )" % expr(depth - 1, not positive)


def ss_inodes(words, proto):
    out = subprocess.run(["ss", "-%sanHe" % proto] + words, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        return None, out.stderr.strip()
    return {int(m) for m in re.findall(r"\bino:(\d+)", out.stdout) if m != "0"}, None


def sockscope_inodes(words, proto):
    out = subprocess.run([SOCKSCOPE, "-%san" % proto, "--json"] + words, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        return None, out.stderr.strip()
    return {s["inode"] for s in json.loads(out.stdout) if s["inode"] != 0}, None


report = {"expressions": 0, "compared": 0, "nonempty": 0, "mismatches": [], "cgroup": cgroup_rel is not None}
try:
    for _ in range(COUNT):
        e = expr(4)
        words = e.split()
        report["expressions"] += 1
        # One in four runs over UDP (kernel bytecode there too), the rest over TCP.
        proto = "u" if report["expressions"] % 4 == 0 else "t"
        want, err1 = ss_inodes(words, proto)
        got, err2 = sockscope_inodes(words, proto)
        if want is None or got is None:
            report["mismatches"].append({"expression": e, "ss_error": err1, "sockscope_error": err2})
            continue
        report["compared"] += 1
        if want:
            report["nonempty"] += 1
        if want != got:
            report["mismatches"].append({"expression": e, "proto": proto, "only_ss": sorted(want - got)[:8], "only_sockscope": sorted(got - want)[:8]})
finally:
    for s in keep:
        s.close()
    if cgroup_rel:
        try:
            os.rmdir(os.path.join(cgroup_mount, cgroup_rel.lstrip("/")))
        except OSError:
            pass

print(json.dumps(report))
sys.exit(0 if not report["mismatches"] else 1)
