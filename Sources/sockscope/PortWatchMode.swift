import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeRender
import SockscopeSystem

extension Sockscope {
    /// `--watch-port LIST`: a line per port whenever it starts (UP, with its listeners and owners)
    /// or stops (DOWN) listening. `--until-up LIST`: the same, ending with status 0 once every port
    /// listens, or 1 after `--timeout` seconds.
    func runPortWatch(_ ports: PortSpec, until: Bool) -> Int32 {
        StopSignals.install()
        var q = query
        q.states = .listening
        q.ports = PortFilter(source: ports)
        let wanted = ports.ranges.flatMap { Array($0) }
        guard wanted.count <= 1024 else {
            FileOutput.standardError("sockscope: watch at most 1024 ports at a time")
            return 2
        }
        let collector = SocketCollector(options: CollectOptions(source: source, procRoot: procRoot))
        // Waiting for a port to come up should notice it promptly; watching can follow --interval.
        let period = until ? min(interval, 0.2) : interval
        let deadline = Clock.monotonic() + timeout
        let writer = LineWriter()
        var last: [UInt16: Bool] = [:]
        var refreshes = 0
        while true {
            let snapshot: Snapshot
            do {
                snapshot = try collector.collect(q)
            } catch {
                FileOutput.standardError("sockscope: \(error)")
                return 1
            }
            let up = Dictionary(grouping: snapshot.records, by: \.local.port)
            let changed = wanted.filter { last[$0] != (up[$0] != nil) }
            if !changed.isEmpty {
                // Owners are looked up only when something changed: the poll itself stays cheap.
                let owned = changed.contains { up[$0] != nil }
                    ? (try? collector.collect(q, owners: true)).map { Dictionary(grouping: $0.records, by: \.local.port) } ?? up
                    : up
                let stamp = Clock.rfc3339(Clock.now())
                var out: [UInt8] = []
                for p in changed {
                    last[p] = up[p] != nil
                    line(port: p, sockets: owned[p] ?? up[p] ?? [], up: up[p] != nil, time: stamp, to: &out)
                }
                // The reader of --until-up's lines going away is no answer: the status is, so wait on.
                if let status = writer.write(out), !(until && status == 0) { return status }
            }
            if until && wanted.allSatisfy({ last[$0] == true }) { return 0 }
            refreshes += 1
            if let count, refreshes >= count { return until ? 1 : 0 }
            if until && Clock.monotonic() >= deadline {
                let down = wanted.filter { last[$0] != true }.map(String.init).joined(separator: ",")
                FileOutput.standardError("sockscope: timed out after \(timeout)s waiting for port \(down) to listen")
                return 1
            }
            let wait = until ? min(period, max(0, deadline - Clock.monotonic())) : period
            // --watch-port may print nothing for hours: notice its reader gone between polls.
            let keepGoing = { !StopSignals.requested && (until || !writer.out.readerGone) }
            if !Clock.sleep(wait, while: keepGoing) { return until ? 1 : 0 }
        }
    }

    /// `2026-11-21T17:45:01.123Z 8080 UP tcp 127.0.0.1:8080 users:(("python3",pid=1,fd=3))`, or with
    /// `--json` `{"event":"up","time":…,"port":8080,"sockets":[…]}`.
    func line(port: UInt16, sockets: [SocketRecord], up: Bool, time: String, to out: inout [UInt8]) {
        if json {
            out.append(contentsOf: #"{"event":""#.utf8)
            out.append(contentsOf: (up ? "up" : "down").utf8)
            out.append(contentsOf: #"","time":""#.utf8)
            out.append(contentsOf: time.utf8)
            out.append(contentsOf: #"","port":"#.utf8)
            appendDecimal(UInt64(port), to: &out)
            out.append(contentsOf: #","sockets":["#.utf8)
            let renderer = JSONRenderer(ports: socketPortContext)
            for (i, r) in sockets.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                renderer.appendObject(r, to: &out)
            }
            out.append(contentsOf: "]}\n".utf8)
            return
        }
        out.append(contentsOf: "\(time) \(port) \(up ? "UP" : "DOWN")".utf8)
        for r in sockets {
            out.append(contentsOf: " \(r.proto.rawValue) ".utf8)
            if r.local.address.isIPv6 { out.append(UInt8(ascii: "[")) }
            r.local.address.write(to: &out)
            if r.local.address.isIPv6 { out.append(UInt8(ascii: "]")) }
            out.append(contentsOf: ":\(port)".utf8)
            for o in r.processes ?? [] {
                out.append(contentsOf: " \(o.pid)/".utf8)
                Escape.name(o.rawName, to: &out)
            }
        }
        out.append(0x0A)
    }
}
