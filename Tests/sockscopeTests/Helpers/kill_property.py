#!/usr/bin/env python3
"""Property test of -K: it never closes a socket that the same filter does not list.

Run as root, with the sockscope binary, the number of rounds and a seed as arguments. Each round
enters a fresh network namespace of its own (unshare(CLONE_NEWNET): no socket of anyone else, no
TIME_WAIT left by an earlier round), builds TCP listeners, established pairs and half-closed pairs
(FIN_WAIT2 / CLOSE_WAIT) over 127.0.0.x and ::1, and bound and connected UDP sockets; then, for
one random filter expression:

  listed  = sockscope -tuan --json EXPR                 (inodes)
  dry     = sockscope -K --dry-run -tuan --json EXPR    must list the same, and close nothing
  killed  = sockscope -K -tuan --json EXPR              must list the same
  and, asked of each socket itself: every one in `killed` has SO_ERROR ECONNABORTED; every one not
  in it (and whose peer was not killed: a killed connection resets its peer) still has no error
  and the TCP state it had.

Prints one JSON object: {"rounds": N, "nonempty": N, "killed": N, "violations": [...]}; exits 0
when there is no violation.
"""
import ctypes
import errno
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time

SOCKSCOPE, ROUNDS, SEED = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
signal.alarm(600)  # bounded, whatever happens
rng = random.Random(SEED)
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
A4, A6 = socket.AF_INET, socket.AF_INET6
V4 = ["127.0.0.%d" % i for i in range(1, 6)]
TCP_STATES = {1: "ESTAB", 7: "CLOSE", 8: "CLOSE-WAIT", 5: "FIN-WAIT-2", 10: "LISTEN"}


def fresh_namespace():
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


class Sock:
    """One socket we hold, with what a check needs: its inode, kind and peer."""

    def __init__(self, s, kind):
        self.s, self.kind, self.peer = s, kind, None
        self.inode = os.fstat(s.fileno()).st_ino

    def error(self):
        return self.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)

    def tcp_state(self):
        if self.kind == "udp":
            return None
        return self.s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def build():
    held, ports = [], []
    for i in range(rng.randrange(2, 5)):
        fam = A6 if i == 3 else A4
        addr = "::1" if fam == A6 else rng.choice(V4)
        l = socket.socket(fam, socket.SOCK_STREAM)
        l.bind((addr, 20000 + i))
        l.listen(16)
        held.append(Sock(l, "listener"))
        ports.append(20000 + i)
        for j in range(rng.randrange(1, 4)):
            c = socket.socket(fam, socket.SOCK_STREAM)
            if fam == A4:
                c.bind((rng.choice(V4), 0 if rng.random() < 0.5 else 21000 + 10 * i + j))
            c.connect((addr, 20000 + i))
            a, _ = l.accept()
            cs, as_ = Sock(c, "tcp"), Sock(a, "tcp")
            cs.peer, as_.peer = as_, cs
            held += [cs, as_]
            ports.append(c.getsockname()[1])
            if rng.random() < 0.3:
                c.shutdown(socket.SHUT_WR)  # client FIN-WAIT-2, server CLOSE-WAIT
    for i in range(rng.randrange(1, 3)):
        u = socket.socket(A4, socket.SOCK_DGRAM)
        u.bind((rng.choice(V4), 20100 + i))
        held.append(Sock(u, "udp"))
        ports.append(20100 + i)
        if rng.random() < 0.5:
            v = socket.socket(A4, socket.SOCK_DGRAM)
            v.connect(u.getsockname())
            held.append(Sock(v, "udp"))
            ports.append(v.getsockname()[1])
    # Wait for the half-closes to reach their states (loopback: at once, but asked, not assumed).
    for _ in range(100):
        if all(h.tcp_state() in (1, 5, 8, 10, None) for h in held):
            break
        time.sleep(0.01)
    return held, ports


def leaf(ports):
    k = rng.randrange(10)
    if k <= 2:
        a = rng.choice(V4 + ["127.0.0.0/30", "127.0.0.4/31", "[::1]", "127.0.0.0/8"])
        port = (":%d" % rng.choice(ports)) if rng.random() < 0.3 else ""
        return "%s %s%s" % (rng.choice(["src", "dst"]), a, port)
    if k <= 7:
        op = rng.choice(["=", "!=", "<", ">", "<=", ">=", "eq", "ne", "lt", "gt", "le", "ge"])
        p = rng.choice(ports) + rng.choice([0, 0, 0, -1, 1])
        return "%s %s :%d" % (rng.choice(["sport", "dport"]), op, max(1, min(65535, p)))
    if k == 8:
        return rng.choice(["dev lo", "dev != lo", "autobound"])
    return "%s *:%d" % (rng.choice(["src", "dst"]), rng.choice(ports))


def expr(ports, depth):
    if depth == 0 or rng.random() < 0.3:
        return leaf(ports)
    k = rng.randrange(3)
    if k == 0:
        return "( %s and %s )" % (expr(ports, depth - 1), expr(ports, depth - 1))
    if k == 1:
        return "( %s or %s )" % (expr(ports, depth - 1), expr(ports, depth - 1))
    return "not ( %s )" % expr(ports, depth - 1)


def states():
    return rng.choice([[], [], ["state", "established"], ["state", "listening"], ["exclude", "listening"],
                       ["state", "connected"], ["state", "close-wait", "state", "fin-wait-2"]])


def run(args):
    out = subprocess.run([SOCKSCOPE] + args, capture_output=True, text=True, timeout=30)
    rows = json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else []
    return out.returncode, {r["inode"] for r in rows}, out.stderr.strip()


report = {"rounds": 0, "nonempty": 0, "killed": 0, "violations": []}
for n in range(ROUNDS):
    fresh_namespace()
    held, ports = build()
    words = states() + expr(ports, 3).split()
    report["rounds"] += 1
    before = {h.inode: (h.tcp_state(), h.error()) for h in held}
    st, listed, err = run(["-tuan", "--json"] + words)
    st_dry, dry, err_dry = run(["-K", "--dry-run", "-tuan", "--json"] + words)
    after_dry = {h.inode: (h.tcp_state(), h.error()) for h in held}
    st_kill, killed, err_kill = run(["-K", "-tuan", "--json"] + words)
    v = {"expression": " ".join(words)}
    if st != 0 or st_dry != 0 or st_kill != 0:
        v.update(status=[st, st_dry, st_kill], stderr=[err, err_dry, err_kill])
    if dry != listed:
        v.update(dry_only=sorted(dry - listed), listed_not_dry=sorted(listed - dry))
    if after_dry != before:
        v.update(dry_run_changed=[i for i in before if before[i] != after_dry[i]])
    if not killed <= listed:
        v.update(killed_not_listed=sorted(killed - listed))
    if killed != listed:
        v.update(listed_not_killed=sorted(listed - killed))
    if listed:
        report["nonempty"] += 1
    report["killed"] += len(killed)
    ours = {h.inode for h in held}
    if not listed <= ours:
        v.update(foreign=sorted(listed - ours))
    for h in held:
        if h.inode in killed:
            if h.error() != errno.ECONNABORTED and h.tcp_state() not in (7, None):
                v.setdefault("killed_but_alive", []).append([h.kind, h.inode, h.tcp_state()])
        elif h.peer is None or h.peer.inode not in killed:
            now = (h.tcp_state(), h.error())
            if now != before[h.inode]:
                v.setdefault("unlisted_but_changed", []).append([h.kind, h.inode, before[h.inode], now])
    if len(v) > 1:
        report["violations"].append(v)
    for h in held:
        h.s.close()

print(json.dumps(report))
sys.exit(0 if not report["violations"] else 1)
