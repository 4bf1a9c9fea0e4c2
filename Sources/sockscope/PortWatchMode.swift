import SockscopeAnalysis
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeRender
import SockscopeSystem

/// What `--until-up` / `--until-down` wait for.
enum PortGoal { case up, down }

extension Sockscope {
    /// `--watch-port LIST`: a line per target whenever it starts (UP, with its listeners and owners)
    /// or stops (DOWN) listening, until interrupted. `--until-up` / `--until-down LIST`: the same,
    /// ending with status 0 once every target listens (or none does), or 1 after `--timeout` seconds.
    func runPortWatch(_ targets: ListenTargets, until goal: PortGoal?) -> Int32 {
        StopSignals.install()
        var watch = PortWatch(targets.targets)
        var q = query
        q.states = .listening
        q.ports = PortFilter(source: targets.ports)
        let options = CollectOptions(source: source, procRoot: procRoot)
        // Waiting for a change should notice it promptly; watching can follow --interval.
        let period = goal != nil ? min(interval, 0.2) : interval
        let deadline = Clock.monotonic() + timeout
        var renderer = PortWatchRenderer(json: json ? JSONRenderer(ports: socketPortContext) : nil)
        let writer = LineWriter()
        var warned = Set<String>()
        for refresh in 1... {
            guard let snapshot = collect(q, options, owners: false, quietlyRepeating: &warned) else { return 1 }
            var changes = watch.update(snapshot.records)
            // A listener's send_q is its backlog only when netlink said so.
            renderer.json?.listenerBacklog = snapshot.source == .netlink
            if changes.contains(where: \.up), let owned = collect(q, options, owners: true, quietlyRepeating: &warned) {
                changes = PortWatch.enrich(changes, from: owned.records)
            }
            let stamp = Clock.rfc3339(Clock.now())
            var out: [UInt8] = []
            for c in changes {
                renderer.append(port: c.target.port, address: c.target.address, up: c.up, sockets: c.sockets, time: stamp, to: &out)
            }
            if !out.isEmpty, let status = writer.write(out) { return status }
            if (goal == .up && watch.allUp) || (goal == .down && watch.allDown) { return 0 }
            if let count, refresh >= count { return goal != nil ? 1 : 0 }
            if let goal, Clock.monotonic() >= deadline {
                let pending = (goal == .up ? watch.notUp : watch.stillUp).map(\.description).joined(separator: ",")
                FileOutput.standardError("sockscope: timed out after \(timeout)s waiting for port \(pending) to "
                    + (goal == .up ? "listen" : "stop listening"))
                return 1
            }
            let wait = goal != nil ? min(period, max(0, deadline - Clock.monotonic())) : period
            if !Clock.sleep(wait, while: { !StopSignals.requested }) { return goal != nil ? 1 : 0 }
        }
        return 0
    }
}
