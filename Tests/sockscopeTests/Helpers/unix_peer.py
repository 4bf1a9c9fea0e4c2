#!/usr/bin/env python3
"""A second process for the UNIX tests: connects to the stream socket at argv[1] (a path, or
@name for an abstract one), prints its pid and its socket's inode, and holds the connection until
its stdin closes."""
import os, socket, sys

name = sys.argv[1]
addr = b"\0" + name[1:].encode() if name.startswith("@") else name
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(addr)
print(os.getpid(), os.fstat(s.fileno()).st_ino, flush=True)
sys.stdin.read()
