import SockscopeAnalysis
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeRender
import SockscopeSystem

extension Sockscope {
    /// `-w --json`: the NDJSON event stream. One `snapshot` line per socket present at start, then
    /// per refresh `open`, `close` and `state` lines. Closes also come from the kernel's destroy
    /// notifications, so a connection opened and closed between two refreshes is still reported.
    func runStream() -> Int32 {
        StopSignals.install()
        var options = CollectOptions(source: source, procRoot: procRoot, tcpInfo: info, memory: memory)
        options.timers = timers
        let q = query
        // A destroyed socket has no state or owner left to select by: its protocol, family and ports do.
        var stream = EventStream(refreshInterval: interval, selects: { r in
            q.protocols.contains(r.proto) && q.families.contains(r.family) && q.matchesPredicate(r)
        })
        let listener = source == .proc ? nil : openDestroyListener(q)
        defer { listener?.stop() }
        var renderer = EventRenderer(socket: JSONRenderer(includeCookie: extended, ports: socketPortContext))
        let writer = LineWriter()
        var warned = Set<String>()
        for refresh in 1... {
            guard let snapshot = collect(q, options, owners: wantsOwners, quietlyRepeating: &warned) else { return 1 }
            // A listener's send_q is its backlog only when netlink said so.
            renderer.socket.listenerBacklog = snapshot.source == .netlink
            let stamp = Clock.rfc3339(Clock.now())
            for e in stream.refresh(snapshot, at: Clock.monotonic()) {
                var out: [UInt8] = []
                switch e.kind {
                case .snapshot: renderer.append(event: "snapshot", time: stamp, record: e.record, to: &out)
                case .open: renderer.append(event: "open", time: stamp, record: e.record, to: &out)
                case .close: renderer.append(event: "close", time: stamp, record: e.record, to: &out)
                case .state(let from):
                    renderer.append(event: "state", time: stamp, record: e.record, from: from.kernelName(for: e.record.proto), to: &out)
                }
                // One write per line: a reader sees each event as soon as it is known.
                if let status = writer.write(out) { return status }
            }
            if let listener {
                if listener.takeLostEvents() {
                    FileOutput.standardError("sockscope: some destroy notifications were lost (the kernel queue overflowed)")
                }
                renderer.socket.listenerBacklog = true  // destroy notifications are netlink messages
                for d in stream.unseen(listener.drain()) {
                    var out: [UInt8] = []
                    let when = Clock.rfc3339(d.time)
                    renderer.append(event: "open", time: when, record: d.record, via: "destroy", to: &out)
                    renderer.append(event: "close", time: when, record: d.record, via: "destroy", to: &out)
                    if let status = writer.write(out) { return status }
                }
            }
            if let count, refresh >= count { return 0 }
            // An idle stream writes nothing for long: notice a reader gone between refreshes too.
            if !Clock.sleep(interval, while: { !StopSignals.requested && !writer.out.readerGone }) { return 0 }
        }
        return 0
    }

    /// The kernel's destroy notifications, or nil with a notice of what may be missed.
    func openDestroyListener(_ q: Query) -> DestroyListener? {
        do {
            return try DestroyListener(protocols: q.protocols, families: q.families)
        } catch {
            FileOutput.standardError("sockscope: destroy notifications are unavailable (\(error)); "
                + "a socket opened and closed between two refreshes may be missed")
            return nil
        }
    }
}
