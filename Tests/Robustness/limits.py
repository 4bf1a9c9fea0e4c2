#!/usr/bin/env python3
"""Limits: a huge argv, many processes' descriptors, and (via sockscope-bench) many sockets.

    python3 Tests/Robustness/limits.py --bin .build/release/sockscope [--procs 500,1000,2000]

1. A listener whose process has a ~1.5 MiB argv (16 arguments of 96 KiB; one argument may be at
   most 128 KiB): `sockscope -tlp --json` must name its owner (the scan reads stat, not cmdline).
2. P processes, each holding 10 UDP sockets, for each P given: wall time and peak RSS of
   `sockscope -uap` (the owner scan reads every /proc/PID/fd): should grow linearly with P.
Run as root inside `unshare -n` for a quiet namespace (it re-executes itself there when root).
200k sockets: `swift run -c release sockscope-bench --sockets 200000 --case tan --case json`.
"""
import argparse, json, os, resource, signal, socket, subprocess, sys, time

def measure(argv):
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        fd = os.open("/dev/null", os.O_WRONLY); os.dup2(fd, 1)
        os.execv(argv[0], argv)
    _, status, ru = os.wait4(pid, 0)
    return time.monotonic() - t0, ru.ru_maxrss, os.waitstatus_to_exitcode(status)

def big_argv(binary):
    lst = socket.socket(); lst.bind(("127.0.0.1", 0)); lst.listen()
    port = lst.getsockname()[1]
    args = ["x" * (96 * 1024)] * 16
    code = "import socket,sys; s=socket.socket(fileno=%d); sys.stdin.read()" % lst.fileno()
    p = subprocess.Popen([sys.executable, "-c", code] + args, stdin=subprocess.PIPE, pass_fds=[lst.fileno()])
    lst.close()
    time.sleep(0.5)
    with open("/proc/%d/cmdline" % p.pid, "rb") as f:
        size = len(f.read())
    r = subprocess.run([binary, "-tlp", "--json"], capture_output=True)
    rows = json.loads(r.stdout) if r.returncode == 0 else []
    owners = [o["pid"] for row in rows if row["local"]["port"] == port for o in row.get("processes", [])]
    p.stdin.close(); p.wait()
    return {"cmdline_bytes": size, "status": r.returncode, "owner_found": p.pid in owners}

def many(binary, count):
    kids = []
    r, w = os.pipe()
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            os.close(w)
            socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(10)]
            for s in socks: s.bind(("127.0.0.1", 0))
            os.read(r, 1)  # until the parent closes the pipe
            os._exit(0)
        kids.append(pid)
    os.close(r)
    time.sleep(1 + count / 1000)
    best = min((measure([binary, "-uap"]) for _ in range(3)), key=lambda m: m[0])
    os.close(w)
    for pid in kids: os.waitpid(pid, 0)
    return {"processes": count, "sockets": count * 10, "seconds": round(best[0], 3), "peak_rss_kib": best[1],
            "status": best[2]}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--procs", default="500,1000,2000")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if os.geteuid() == 0 and not a.inside:
        return subprocess.call(["unshare", "-n", sys.executable, os.path.abspath(__file__), "--inside"] + sys.argv[1:])
    if a.inside:
        subprocess.check_call(["ip", "link", "set", "lo", "up"])
    out = {"big_argv": big_argv(a.bin), "many_processes": [many(a.bin, int(n)) for n in a.procs.split(",")]}
    print(json.dumps(out, indent=1))
    ok = out["big_argv"]["owner_found"] and all(m["status"] == 0 for m in out["many_processes"])
    return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
