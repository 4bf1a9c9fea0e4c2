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
        guard var watch = PortWatch(ports: ports.ranges.flatMap { Array($0) }) else {
            FileOutput.standardError("sockscope: watch at most \(PortWatch.maximumPorts) ports at a time")
            return 2
        }
        StopSignals.install()
        var q = query
        q.states = .listening
        q.ports = PortFilter(source: ports)
        let options = CollectOptions(source: source, procRoot: procRoot)
        // Waiting for a port to come up should notice it promptly; watching can follow --interval.
        let period = until ? min(interval, 0.2) : interval
        let deadline = Clock.monotonic() + timeout
        let renderer = PortWatchRenderer(json: json ? JSONRenderer(ports: socketPortContext) : nil)
        let writer = LineWriter()
        var warned = Set<String>()
        for refresh in 1... {
            guard let snapshot = collect(q, options, owners: false, quietlyRepeating: &warned) else { return 1 }
            var changes = watch.update(snapshot.records)
            if changes.contains(where: \.up), let owned = collect(q, options, owners: true, quietlyRepeating: &warned) {
                changes = PortWatch.enrich(changes, from: owned.records)
            }
            let stamp = Clock.rfc3339(Clock.now())
            var out: [UInt8] = []
            for c in changes { renderer.append(port: c.port, up: c.up, sockets: c.sockets, time: stamp, to: &out) }
            if !out.isEmpty, let status = writer.write(out) { return status }
            if until && watch.allUp { return 0 }
            if let count, refresh >= count { return until ? 1 : 0 }
            if until && Clock.monotonic() >= deadline {
                let down = watch.notUp.map(String.init).joined(separator: ",")
                FileOutput.standardError("sockscope: timed out after \(timeout)s waiting for port \(down) to listen")
                return 1
            }
            let wait = until ? min(period, max(0, deadline - Clock.monotonic())) : period
            if !Clock.sleep(wait, while: { !StopSignals.requested }) { return until ? 1 : 0 }
        }
        return 0
    }
}
