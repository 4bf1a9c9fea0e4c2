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
        let q = query
        let collector = SocketCollector(options: CollectOptions(source: source, procRoot: procRoot, tcpInfo: info,
                                                                memory: memory))
        var listener: DestroyListener?
        if source != .proc {
            do {
                listener = try DestroyListener(protocols: q.protocols, families: q.families)
            } catch {
                FileOutput.standardError("sockscope: destroy notifications are unavailable (\(error)); "
                    + "a socket opened and closed between two refreshes may be missed")
            }
        }
        defer { listener?.stop() }
        // Keep closed sockets long enough that a late destroy message for one is recognised as known.
        var tracker = ChangeTracker(closedRetention: max(2 * interval, 2))
        let renderer = EventRenderer(socket: JSONRenderer(includeCookie: extended, ports: socketPortContext))
        let writer = LineWriter()
        var refreshes = 0
        var warnedNotices = Set<String>()
        while true {
            let snapshot: Snapshot
            do {
                snapshot = try collector.collect(q, owners: wantsOwners)
            } catch {
                FileOutput.standardError("sockscope: \(error)")
                return 1
            }
            for n in snapshot.notices where warnedNotices.insert(n).inserted { FileOutput.standardError("sockscope: \(n)") }
            let time = Clock.now()
            let events = tracker.update(snapshot, at: Clock.monotonic())
            let stamp = Clock.rfc3339(time)
            var out: [UInt8] = []
            for e in events {
                switch e.kind {
                case .snapshot: renderer.append(event: "snapshot", time: stamp, record: e.record, to: &out)
                case .open: renderer.append(event: "open", time: stamp, record: e.record, to: &out)
                case .close: renderer.append(event: "close", time: stamp, record: e.record, to: &out)
                case .state(let from):
                    renderer.append(event: "state", time: stamp, record: e.record, from: from.kernelName(for: e.record.proto), to: &out)
                }
                // One write per line: a reader sees each event as soon as it is known.
                if let status = writer.write(out) { return status }
                out.removeAll(keepingCapacity: true)
            }
            if let listener {
                if listener.takeLostEvents() {
                    FileOutput.standardError("sockscope: some destroy notifications were lost (the kernel queue overflowed)")
                }
                let destroyed = listener.drain()
                // Only sockets no snapshot ever showed: the others get their close from the comparison.
                let known = destroyed.isEmpty ? [] : Set(tracker.sockets.map(\.key))
                for d in destroyed {
                    guard !known.contains(SocketKey(d.record)),
                          q.protocols.contains(d.record.proto), q.families.contains(d.record.family),
                          q.ports.matches(localPort: d.record.local.port, remotePort: d.record.remote.port),
                          d.record.local.port != 0 else { continue }
                    let when = Clock.rfc3339(d.time)
                    renderer.append(event: "open", time: when, record: d.record, via: "destroy", to: &out)
                    renderer.append(event: "close", time: when, record: d.record, via: "destroy", to: &out)
                    if let status = writer.write(out) { return status }
                    out.removeAll(keepingCapacity: true)
                }
            }
            refreshes += 1
            if let count, refreshes >= count { return 0 }
            // An idle stream writes nothing for long: notice a reader gone between refreshes too.
            if !Clock.sleep(interval, while: { !StopSignals.requested && !writer.out.readerGone }) { return 0 }
        }
    }
}
