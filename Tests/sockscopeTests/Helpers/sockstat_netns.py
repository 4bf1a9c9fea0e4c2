#!/usr/bin/env python3
"""Run inside a fresh network namespace (unshare -n) by the -s test: opens known sockets of several
kinds, then reads /proc/net/sockstat, sockstat6 and snmp, runs `sockscope -s --json`, and reads them
again. TCP's `alloc` is machine-wide (other processes move it), and a closed socket leaves the
namespace's `used` count only once freed, so the run is repeated (at most 50 times) until the
counters read before and after agree. Prints one JSON object: the files' text before and after,
the attempts it took, and sockscope's output."""
import json, re, socket, subprocess, sys

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
keep = []
def s(*a):
    x = socket.socket(*a); keep.append(x); return x

l = s(socket.AF_INET, socket.SOCK_STREAM); l.bind(("127.0.0.1", 0)); l.listen(8)
for _ in range(3):
    c = s(socket.AF_INET, socket.SOCK_STREAM); c.connect(l.getsockname()); keep.append(l.accept()[0])
l6 = s(socket.AF_INET6, socket.SOCK_STREAM); l6.bind(("::1", 0)); l6.listen(8)
s(socket.AF_INET, socket.SOCK_STREAM)  # allocated, in no table: ss's "closed"
s(socket.AF_INET, socket.SOCK_DGRAM).bind(("127.0.0.1", 0))
s(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))
s(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
for _ in range(4):
    keep += list(socket.socketpair())

def read():
    return {n: open(f"/proc/net/{n}").read() for n in ("sockstat", "sockstat6", "snmp")}

def counters(files):
    # "mem" moves with traffic, not with sockets opening or closing.
    return {k: re.sub(r"\b(mem|memory) \d+", "", v) for k, v in files.items() if k != "snmp"}

for attempt in range(1, 51):
    before = read()
    out = subprocess.run([sys.argv[1], "-s", "--json"], capture_output=True, text=True)
    text = subprocess.run([sys.argv[1], "-s"], capture_output=True, text=True).stdout
    ss = subprocess.run(["ss", "-s"], capture_output=True, text=True).stdout
    after = read()
    if counters(before) == counters(after):
        break
print(json.dumps({"before": before, "after": after, "attempts": attempt, "status": out.returncode,
                  "stdout": out.stdout, "stderr": out.stderr, "text": text, "ss": ss}))
