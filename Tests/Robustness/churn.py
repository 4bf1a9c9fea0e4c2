#!/usr/bin/env python3
"""Churn consistency check: sockscope's snapshots of a TCP table that changes under the dump.

In a private network namespace whose TCP established-hash table has only 128 buckets (set with
net.ipv4.tcp_child_ehash_entries in an intermediate namespace, so the host's setting is never
touched), it holds STABLE established connections (2 sockets each) while a churner process opens
connections and resets them (SO_LINGER 0) as fast as it can. Every bucket's chain then moves
under the kernel's dump cursor, which resumes by (bucket, position): a plain dump repeats and
skips sockets. Snapshots are taken with `sockscope --json -t` (and, for the report, `ss -tanH`)
until the time is up.

Requirement: no sockscope snapshot lists a socket twice, and every stable socket is in at least
99.9 % of sockscope's snapshots (counted per snapshot: a snapshot missing any one fails).
Prints one JSON summary line; exit status 1 when the requirement does not hold.

    python3 Tests/Robustness/churn.py --bin .build/debug/sockscope --seconds 20
"""
import argparse, json, os, resource, signal, socket, struct, subprocess, sys, time

def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--stable", type=int, default=1500, help="stable connections (2 sockets each)")
    p.add_argument("--buckets", type=int, default=128)
    p.add_argument("--churners", type=int, default=1)
    p.add_argument("--no-ss", action="store_true")
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args()

def outside(args):
    """Re-runs this script two namespaces down: A sets the child hash size, B gets the small table."""
    if os.geteuid() != 0:
        print(json.dumps({"skipped": "needs root (unshare -n, sysctl)"}))
        return 0
    me = [sys.executable, os.path.abspath(__file__), "--inside"] + sys.argv[1:]
    inner = " ".join("'%s'" % a.replace("'", "'\\''") for a in me)
    script = ("sysctl -q -w net.ipv4.tcp_child_ehash_entries=%d && exec unshare -n %s" % (args.buckets, inner))
    # The namespaces die with their last process: nothing to clean up on the host.
    return subprocess.call(["unshare", "-n", "sh", "-c", script], timeout=args.seconds + 120)

def churn(port, stop_at):
    """Opens a batch of connections, then resets them all; until stop_at."""
    lst = socket.socket(); lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", port)); lst.listen(1024)
    linger = struct.pack("ii", 1, 0)
    n = 0
    while time.monotonic() < stop_at:
        batch = []
        for _ in range(32):
            c = socket.socket()
            try:
                c.connect(("127.0.0.1", port))
            except OSError:
                c.close(); continue
            s, _ = lst.accept()
            batch.append((c, s))
        for c, s in batch:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            c.close()  # RST: both ends leave the table at once (no TIME_WAIT)
            s.close()
        n += len(batch)
    os._exit(0 if n > 0 else 1)

def endpoints(text):
    a, _, p = text.rpartition(":")
    # ss prints port 0 as "*" (a socket caught mid-reset can show it).
    return a.strip("[]"), 0 if p == "*" else int(p)

def inside(args):
    subprocess.check_call(["ip", "link", "set", "lo", "up"])
    with open("/proc/sys/net/ipv4/tcp_ehash_entries") as f:
        buckets = int(f.read())
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    lst = socket.socket(); lst.bind(("127.0.0.1", 5000)); lst.listen(4096)
    stable, keep = set(), []
    for _ in range(args.stable):
        c = socket.create_connection(("127.0.0.1", 5000))
        s, _ = lst.accept()
        cl, sl = c.getsockname(), s.getsockname()
        stable.add(("127.0.0.1", cl[1], "127.0.0.1", 5000))
        stable.add(("127.0.0.1", 5000, "127.0.0.1", cl[1]))
        keep += [c, s]
    deadline = time.monotonic() + args.seconds
    kids = []
    for i in range(args.churners):
        pid = os.fork()
        if pid == 0:
            lst.close()
            churn(6000 + i, deadline + 1)
        kids.append(pid)
    time.sleep(0.3)  # let the churn start

    tools = {"sockscope": {"snapshots": 0, "with_duplicates": 0, "missing_stable": 0, "failed": 0,
                           "max_missing": 0, "max_duplicates": 0, "seconds": 0.0},
             "ss": {"snapshots": 0, "with_duplicates": 0, "missing_stable": 0, "failed": 0,
                    "max_missing": 0, "max_duplicates": 0, "seconds": 0.0}}
    examples = []
    turn = 0
    while time.monotonic() < deadline:
        name = "ss" if (not args.no_ss and turn % 4 == 3) else "sockscope"  # ss only for comparison
        turn += 1
        t0 = time.monotonic()
        if name == "sockscope":
            r = subprocess.run([args.bin, "--json", "-t"], capture_output=True)
            if r.returncode != 0:
                tools[name]["failed"] += 1
                if len(examples) < 3: examples.append(r.stderr.decode(errors="replace")[:300])
                continue
            rows = [(o["local"]["address"], o["local"]["port"], o["remote"]["address"], o["remote"]["port"], o["inode"])
                    for o in json.loads(r.stdout)]
        else:
            r = subprocess.run(["ss", "-tanH"], capture_output=True, text=True)
            rows = []
            for line in r.stdout.splitlines():
                f = line.split()
                if len(f) >= 5 and f[0] == "ESTAB":
                    la, lp = endpoints(f[3]); ra, rp = endpoints(f[4])
                    rows.append((la, lp, ra, rp, 0))
        t = tools[name]
        t["seconds"] += time.monotonic() - t0
        t["snapshots"] += 1
        keys = [row[:4] for row in rows]
        dup = len(keys) - len(set(keys))
        missing = len(stable - set(keys))
        if dup: t["with_duplicates"] += 1; t["max_duplicates"] = max(t["max_duplicates"], dup)
        if missing: t["missing_stable"] += 1; t["max_missing"] = max(t["max_missing"], missing)
    for pid in kids:
        _, status = os.waitpid(pid, 0)
    for t in tools.values():
        t["ms_per_snapshot"] = round(1000 * t["seconds"] / max(t["snapshots"], 1), 1)
        del t["seconds"]
    s = tools["sockscope"]
    ok = (s["snapshots"] >= 20 and s["failed"] == 0 and s["with_duplicates"] == 0
          and s["missing_stable"] <= s["snapshots"] * 0.001)
    print(json.dumps({"ok": ok, "buckets": buckets, "stable_sockets": len(stable), "tools": tools,
                      "errors": examples}))
    sys.stdout.flush()
    return 0 if ok else 1

if __name__ == "__main__":
    a = parse_args()
    sys.exit(inside(a) if a.inside else outside(a))
