#!/usr/bin/env python3
"""Captures the fixtures in this folder from a real kernel (run as root, in a fresh netns):

    unshare -n sh -c 'ip link set lo up && python3 capture.py'

It opens known loopback sockets, then saves /proc/net/{tcp,tcp6,udp,udp6} verbatim, the raw
bytes of netlink sock_diag dumps (every recv buffer, concatenated), one genuine NLMSG_ERROR reply,
and expected.json: what Python itself knows of each socket (from getsockname/fstat), which the
parser tests check the fixtures against.
"""
import json, os, socket, struct

NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY = 4, 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
here = os.path.dirname(os.path.abspath(__file__))
keep, expected = [], []


def rec(proto, fam, state, s, local, remote):
    expected.append({"proto": proto, "family": fam, "state": state, "inode": os.fstat(s.fileno()).st_ino,
                     "local": {"address": local[0], "port": local[1]},
                     "remote": {"address": remote[0], "port": remote[1]}})


def listener(af, host, fam, pairs, v6only=None):
    l = socket.socket(af, socket.SOCK_STREAM); keep.append(l)
    if v6only is not None:
        l.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    l.bind((host, 0)); l.listen(16)
    port = l.getsockname()[1]
    rec("tcp", fam, "LISTEN", l, (host, port), ("0.0.0.0" if af == socket.AF_INET else "::", 0))
    return l, port


def pairs(l, port, caf, chost, cfam, sfam, shost_seen, n):
    for _ in range(n):
        c = socket.socket(caf, socket.SOCK_STREAM); keep.append(c)
        c.connect((chost, port)); a, _ = l.accept(); keep.append(a)
        cport = c.getsockname()[1]
        rec("tcp", cfam, "ESTABLISHED", c, (chost, cport), (chost, port))
        rec("tcp", sfam, "ESTABLISHED", a, (shost_seen, port), (shost_seen, cport))


l4, p4 = listener(socket.AF_INET, "127.0.0.1", "inet", 3)
pairs(l4, p4, socket.AF_INET, "127.0.0.1", "inet", "inet", "127.0.0.1", 3)
l6, p6 = listener(socket.AF_INET6, "::1", "inet6", 2, v6only=1)
pairs(l6, p6, socket.AF_INET6, "::1", "inet6", "inet6", "::1", 2)
ld, pd = listener(socket.AF_INET6, "::", "inet6", 2, v6only=0)
pairs(ld, pd, socket.AF_INET, "127.0.0.1", "inet", "inet6", "::ffff:127.0.0.1", 2)
for af, host, fam, wild in ((socket.AF_INET, "127.0.0.1", "inet", "0.0.0.0"), (socket.AF_INET6, "::1", "inet6", "::")):
    u = socket.socket(af, socket.SOCK_DGRAM); keep.append(u); u.bind((host, 0))
    rec("udp", fam, "UNCONN", u, (host, u.getsockname()[1]), (wild, 0))
    v = socket.socket(af, socket.SOCK_DGRAM); keep.append(v); v.bind((host, 0)); v.connect((host, u.getsockname()[1]))
    rec("udp", fam, "ESTABLISHED", v, (host, v.getsockname()[1]), (host, u.getsockname()[1]))

for name in ("tcp", "tcp6", "udp", "udp6"):
    with open(f"/proc/net/{name}", "rb") as f, open(os.path.join(here, f"proc-net-{name}.txt"), "wb") as out:
        out.write(f.read())


def dump(family, proto, ext=0, states=0xFFF & ~(1 << 0), bytecode=None):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    req = struct.pack("=BBBBI", family, proto, ext, 0, states) + bytes(48)
    if bytecode is not None:
        req += struct.pack("=HH", 4 + len(bytecode), 1) + bytecode  # INET_DIAG_REQ_BYTECODE
    s.send(struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 7, 0) + req)
    chunks = []
    while True:
        data = s.recv(65536)
        chunks.append(data)
        off, done = 0, False
        while off + 16 <= len(data):
            ln, typ = struct.unpack_from("=IH", data, off)
            if typ in (2, 3):
                done = True
            off += (ln + 3) & ~3
        if done:
            break
    s.close()
    return b"".join(chunks)


for fam, af in (("4", socket.AF_INET), ("6", socket.AF_INET6)):
    open(os.path.join(here, f"netlink-tcp{fam}.bin"), "wb").write(dump(af, socket.IPPROTO_TCP))
    open(os.path.join(here, f"netlink-udp{fam}.bin"), "wb").write(dump(af, socket.IPPROTO_UDP))
# With INET_DIAG_INFO (bit 1), INET_DIAG_CONG (bit 3) and INET_DIAG_SKMEMINFO (bit 6).
open(os.path.join(here, "netlink-tcp4-info.bin"), "wb").write(dump(socket.AF_INET, socket.IPPROTO_TCP, ext=(1 << 1) | (1 << 3) | (1 << 6)))
# A bytecode op the kernel refuses (code 200): the reply is a real NLMSG_ERROR carrying -EINVAL.
open(os.path.join(here, "netlink-error-einval.bin"), "wb").write(dump(socket.AF_INET, socket.IPPROTO_TCP, bytecode=bytes([200, 4, 8, 0])))
json.dump(expected, open(os.path.join(here, "expected.json"), "w"), indent=1)
print(f"captured {len(expected)} sockets")
