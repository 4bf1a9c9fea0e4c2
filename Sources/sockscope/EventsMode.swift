import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeRender
import SockscopeSystem

extension Sockscope {
    /// `-E`: ss's events mode. Every socket the kernel destroys (the sock_diag destroy groups) is
    /// printed as a table row as it goes, until interrupted or `--count` rows. Unlike `-w --json`,
    /// which reports opens, state changes and closes by comparing snapshots (and adds the destroy
    /// messages to its closes), this shows destructions only, with the socket as it was at the end.
    func runEvents() -> Int32 {
        StopSignals.install()
        let q = query
        let listener: DestroyListener
        do {
            listener = try DestroyListener(protocols: q.protocols, families: q.families)
        } catch {
            FileOutput.standardError("sockscope: -E needs the kernel's destroy notifications, which it refused: \(error)"
                + (error.errno == .notPermitted ? " (CAP_NET_ADMIN is required)" : ""))
            return 1
        }
        defer { listener.stop() }
        let numericNames = numeric ? ServiceTable() : services
        let options = TableOptions(header: false, numeric: numeric, services: numericNames, netid: q.protocols.count > 1,
                                   extended: extended)
        let renderer = TableRenderer(options: options)
        let writer = LineWriter()
        if !noHeader {
            let header = TableRenderer(options: TableOptions(header: true, numeric: numeric, services: numericNames,
                                                             netid: q.protocols.count > 1, extended: extended))
            var out: [UInt8] = []
            header.render([], into: &out, flush: { _ in })
            if writer.write(out) != nil { return 0 }
        }
        var printed = 0
        while !StopSignals.requested {
            if listener.takeLostEvents() {
                FileOutput.standardError("sockscope: the kernel dropped destroy notifications (not read fast enough): some are missing")
            }
            for d in listener.drain() {
                let r = d.record
                // A destroyed socket is selected by what it still has: protocol, family, the filter
                // expression and ports, and the state it ended in when one was asked for.
                guard q.protocols.contains(r.proto), q.families.contains(r.family),
                      q.matchesPredicate(r),
                      statesGiven == nil || q.states.restricted(to: r.proto).contains(r.state) else { continue }
                var out: [UInt8] = []
                renderer.render([r], into: &out, flush: { _ in })
                if let status = writer.write(out) { return status }
                printed += 1
                if let count, printed >= count { return 0 }
            }
            _ = Clock.sleep(0.05, while: { !StopSignals.requested })
        }
        return 0
    }

    /// The states the user asked for (`--state`, `-a`, `-l`), nil when none: -E shows every
    /// destroyed socket by default, as ss does.
    var statesGiven: StateSet? { state ?? (all ? .all : listening ? .listening : nil) }
}
