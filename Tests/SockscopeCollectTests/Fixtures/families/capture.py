#!/usr/bin/env python3
"""Captures the socket-family fixtures in this folder from a real kernel (as root, in a fresh netns):

    unshare -n sh -c 'ip link set lo up && python3 capture.py'

It opens known sockets of every family — UNIX (stream, dgram, seqpacket; bound to a path, to an
abstract name, unnamed; a listener with queued connections; hostile names), AF_PACKET, netlink,
raw ICMP and a loopback MPTCP connection — then saves the raw bytes of the kernel's sock_diag dumps
(every recv buffer, concatenated), /proc/net/{unix,packet,netlink,raw,raw6,sockstat,sockstat6,snmp}
verbatim, and expected.json: what Python itself knows of each socket (fstat, getsockname, what it
bound and connected), which the parser tests check the fixtures against.
"""
import json, os, socket, struct

NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY = 4, 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
here = os.path.dirname(os.path.abspath(__file__))
keep, unix, packet, netlink, raw, mptcp = [], [], [], [], [], []
base = "/tmp/sockscope-fixture"
os.makedirs(base, exist_ok=True)
for f in os.listdir(base):
    os.unlink(os.path.join(base, f))


def ino(s):
    return os.fstat(s.fileno()).st_ino


def name_obj(kind, b):
    return {"kind": kind, "hex": b.hex()}


def u(s, typ, state, kind="unnamed", name=b"", peer=None, rq=None, wq=None, icons=None, path=None):
    e = {"type": typ, "state": state, "inode": ino(s), "name": name_obj(kind, name),
         "peer": ino(peer) if peer is not None else 0, "uid": os.getuid()}
    if rq is not None: e["rq"] = rq
    if wq is not None: e["wq"] = wq
    if icons is not None: e["icons"] = sorted(ino(x) for x in icons)
    if path is not None:
        st = os.stat(path)
        e["vfs"] = {"dev": st.st_dev, "ino": st.st_ino}
    unix.append(e)


def sock(*a):
    s = socket.socket(*a); keep.append(s); return s


# A stream listener on a path: two accepted connections (one with 5 unread bytes), one still queued.
srv_path = os.path.join(base, "srv.sock")
L = sock(socket.AF_UNIX, socket.SOCK_STREAM); L.bind(srv_path); L.listen(4)
clients, accepted = [], []
for i in range(3):
    c = sock(socket.AF_UNIX, socket.SOCK_STREAM); c.connect(srv_path); clients.append(c)
for i in range(2):
    a, _ = L.accept(); keep.append(a); accepted.append(a)
clients[0].send(b"hello")
# The queued connection's server end exists only inside the kernel: the listener's icons name it.
u(L, "stream", "LISTEN", "path", srv_path.encode(), rq=1, wq=4, icons=[clients[2]], path=srv_path)
# Accepted sockets carry the listener's name, and the kernel reports its file for them too.
u(accepted[0], "stream", "ESTABLISHED", "path", srv_path.encode(), peer=clients[0], rq=5, path=srv_path)
u(accepted[1], "stream", "ESTABLISHED", "path", srv_path.encode(), peer=clients[1], rq=0, path=srv_path)
u(clients[0], "stream", "ESTABLISHED", peer=accepted[0], rq=0)
u(clients[1], "stream", "ESTABLISHED", peer=accepted[1], rq=0, wq=0)
u(clients[2], "stream", "ESTABLISHED", rq=0, wq=0)

# seqpacket on an abstract name.
abs_seq = b"sockscope-fixture-seq"
S = sock(socket.AF_UNIX, socket.SOCK_SEQPACKET); S.bind(b"\0" + abs_seq); S.listen(2)
sc = sock(socket.AF_UNIX, socket.SOCK_SEQPACKET); sc.connect(b"\0" + abs_seq)
sa, _ = S.accept(); keep.append(sa)
u(S, "seqpacket", "LISTEN", "abstract", abs_seq, rq=0, wq=2, icons=[])
u(sa, "seqpacket", "ESTABLISHED", "abstract", abs_seq, peer=sc, rq=0, wq=0)
u(sc, "seqpacket", "ESTABLISHED", peer=sa, rq=0, wq=0)

# dgram: a server on a path, a client bound to a hostile abstract name (NUL, newline, ESC) connected to it.
dg_path = os.path.join(base, "dg.sock")
D = sock(socket.AF_UNIX, socket.SOCK_DGRAM); D.bind(dg_path)
hostile_abs = b"ab\0c\nd\x1b[1m\xff"
dc = sock(socket.AF_UNIX, socket.SOCK_DGRAM); dc.bind(b"\0" + hostile_abs); dc.connect(dg_path)
# The kernel marks the server established too once a client connects to it (both /proc/net/unix and
# unix_diag say so on 6.18), though the server itself has no peer.
u(D, "dgram", "ESTABLISHED", "path", dg_path.encode(), rq=0, wq=0, path=dg_path)
u(dc, "dgram", "ESTABLISHED", "abstract", hostile_abs, peer=D, rq=0, wq=0)
# An unbound, unconnected dgram socket.
du = sock(socket.AF_UNIX, socket.SOCK_DGRAM)
u(du, "dgram", "UNCONN", rq=0, wq=0)

# socketpairs: both ends unnamed, each the other's peer.
for typ, t in ((socket.SOCK_STREAM, "stream"), (socket.SOCK_DGRAM, "dgram"), (socket.SOCK_SEQPACKET, "seqpacket")):
    x, y = socket.socketpair(socket.AF_UNIX, typ); keep += [x, y]
    u(x, t, "ESTABLISHED", peer=y, rq=0, wq=0)
    u(y, t, "ESTABLISHED", peer=x, rq=0, wq=0)

# A hostile path: ESC, newline, invalid UTF-8, a quote and a backslash.
hostile_path = os.path.join(base.encode(), b"e\x1b[31m\nx\xff\"\\.sock")
H = sock(socket.AF_UNIX, socket.SOCK_STREAM); H.bind(hostile_path); H.listen(1)
u(H, "stream", "LISTEN", "path", hostile_path, rq=0, wq=1, icons=[], path=hostile_path)

# AF_PACKET: raw on lo for every protocol (ETH_P_ALL), cooked for IPv4 on no interface.
lo = socket.if_nametoindex("lo")
p1 = sock(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003)); p1.bind(("lo", 0x0003))
p2 = sock(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
packet.append({"type": "raw", "protocol": 0x0003, "ifindex": lo, "inode": ino(p1)})
packet.append({"type": "dgram", "protocol": 0x0800, "ifindex": 0, "inode": ino(p2)})

# netlink: a NETLINK_ROUTE socket joined to RTMGRP_LINK|RTMGRP_IPV4_IFADDR, and a NETLINK_GENERIC one
# bound to a port the kernel picks. (A netlink socket never bound is in no table: neither
# netlink_diag nor /proc/net/netlink lists it.)
n1 = sock(socket.AF_NETLINK, socket.SOCK_RAW, 0); n1.bind((0, 0x1 | 0x10))
n2 = sock(socket.AF_NETLINK, socket.SOCK_DGRAM, 16); n2.bind((0, 0))
netlink.append({"protocol": 0, "portid": n1.getsockname()[0], "groups": 0x11, "inode": ino(n1)})
netlink.append({"protocol": 16, "portid": n2.getsockname()[0], "groups": 0, "inode": ino(n2)})

# raw ICMP (v4 bound to 127.0.0.1) and ICMPv6.
r4 = sock(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); r4.bind(("127.0.0.1", 0))
r6 = sock(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
raw.append({"family": "inet", "protocol": 1, "local": "127.0.0.1", "inode": ino(r4)})
raw.append({"family": "inet6", "protocol": 58, "local": "::", "inode": ino(r6)})

# MPTCP over loopback: a listener and one connection.
IPPROTO_MPTCP = 262
ml = sock(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP); ml.bind(("127.0.0.1", 0)); ml.listen(4)
mport = ml.getsockname()[1]
mc = sock(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP); mc.connect(("127.0.0.1", mport))
ma, _ = ml.accept(); keep.append(ma)
cport = mc.getsockname()[1]
mptcp.append({"state": "LISTEN", "local": ["127.0.0.1", mport], "remote": ["0.0.0.0", 0], "inode": ino(ml)})
mptcp.append({"state": "ESTABLISHED", "local": ["127.0.0.1", cport], "remote": ["127.0.0.1", mport], "inode": ino(mc)})
mptcp.append({"state": "ESTABLISHED", "local": ["127.0.0.1", mport], "remote": ["127.0.0.1", cport], "inode": ino(ma)})


def dump(body, attrs=b""):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    req = body + attrs
    s.send(struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 9, 0) + req)
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


def save(name, data):
    open(os.path.join(here, name), "wb").write(data)


# unix_diag_req: family, protocol, pad, states, ino, show (NAME|VFS|PEER|ICONS|RQLEN|MEMINFO|UID), cookie.
save("unix-diag.bin", dump(struct.pack("=BBHIII8s", socket.AF_UNIX, 0, 0, 0xFFFFFFFF, 0, 0x7F, b"\xff" * 8)))
# packet_diag_req: family, protocol, pad, ino, show (INFO|MEMINFO), cookie.
save("packet-diag.bin", dump(struct.pack("=BBHII8s", socket.AF_PACKET, 0, 0, 0, 0x1 | 0x10, b"\xff" * 8)))
# netlink_diag_req: family, protocol (NDIAG_PROTO_ALL), pad, ino, show (MEMINFO|GROUPS), cookie.
save("netlink-diag.bin", dump(struct.pack("=BBHII8s", socket.AF_NETLINK, 0xFF, 0, 0, 0x1 | 0x2, b"\xff" * 8)))
# inet_diag_req_v2 for raw sockets: on a kernel without raw_diag the reply is NLMSG_DONE carrying -ENOENT.
inet_req = lambda fam, proto: struct.pack("=BBBBI", fam, proto, 0, 0, 0xFFF) + bytes(48)
save("raw-diag-inet.bin", dump(inet_req(socket.AF_INET, 255)))
# MPTCP: 262 does not fit sdiag_protocol; it travels in INET_DIAG_REQ_PROTOCOL (3), with the byte
# saying IPPROTO_TCP as ss sends it (6.18 answers a 0 byte with -ENOENT when no MPTCP socket exists).
save("mptcp-diag.bin", dump(inet_req(socket.AF_INET, 6), struct.pack("=HHI", 8, 3, IPPROTO_MPTCP)))

for name in ("unix", "packet", "netlink", "raw", "raw6", "sockstat", "sockstat6", "snmp"):
    with open(f"/proc/net/{name}", "rb") as f:
        save(f"proc-net-{name}.txt", f.read())
json.dump({"unix": unix, "packet": packet, "netlink": netlink, "raw": raw, "mptcp": mptcp, "uid": os.getuid()},
          open(os.path.join(here, "expected.json"), "w"), indent=1)
print(f"captured {len(unix)} unix, {len(packet)} packet, {len(netlink)} netlink, {len(raw)} raw, {len(mptcp)} mptcp sockets")
