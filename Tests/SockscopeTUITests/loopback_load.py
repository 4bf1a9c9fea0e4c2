#!/usr/bin/env python3
"""Bounded loopback load for measuring sockscope's refresh cost.

Opens N established TCP connections on 127.0.0.1 (2N sockets plus one listener), moves a little
data on some of them so tcp_info counters change, prints READY and the listener port, then keeps
them open until stdin closes or --seconds pass, and closes everything. Nothing outlives it.

    python3 loopback_load.py --connections 2000 --seconds 60
    python3 loopback_load.py --connections 9000 --seconds 120 --ignore-stdin &   # in the background
"""
import argparse, resource, select, socket, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--connections", type=int, default=2000)
ap.add_argument("--seconds", type=float, default=60)
ap.add_argument("--ignore-stdin", action="store_true", help="run for --seconds even when stdin closes")
a = ap.parse_args()
n = max(1, min(a.connections, 60000))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * n + 100), hard))

lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(4096)
port = lst.getsockname()[1]
pairs = []
try:
    for i in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        s, _ = lst.accept()
        pairs.append((c, s))
    print("READY", port, len(pairs), flush=True)
    deadline = time.monotonic() + a.seconds
    payload = b"x" * 1024
    while time.monotonic() < deadline:
        if a.ignore_stdin:
            time.sleep(0.2)
        else:
            r, _, _ = select.select([sys.stdin], [], [], 0.2)
            if r and not sys.stdin.readline():
                break
        for c, s in pairs[:50]:  # keep some counters moving
            c.send(payload)
            s.recv(65536)
finally:
    for c, s in pairs:
        c.close(); s.close()
    lst.close()
