import ArgumentParser
import SockscopeAnalysis
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeSystem
import SockscopeTUI
import SockscopeTerminal
#if canImport(Glibc)
import Glibc
#endif

extension Sockscope {
    /// The live view (`-w`): the command-line filters set the initial view, the TUI does the rest.
    func runWatch() -> Int32 {
        for (fd, name) in [(Int32(1), "stdout"), (Int32(0), "stdin")] where !ProcessSetup.isTerminal(fd) {
            FileOutput.standardError("sockscope: -w needs a terminal (\(name) is not a tty); use --json for a stream")
            return 2
        }
        let q = query
        var settings = WatchSettings(host: Self.hostName(), interval: interval, protocols: q.protocols,
                                     families: q.families, states: q.states, ports: q.ports, services: services,
                                     numeric: numeric, showOwners: true)
        // Owners are scanned from /proc while the owner column is shown (`p` hides it and stops the scan).
        // Collect every state and leave --port to the view: `l`/`e`/`a` and `/` change them live.
        // --sport/--dport stay fixed for the session, so the kernel can filter on them.
        // The expression is the initial `/` filter, so the view can change it, unless it reads what
        // only the kernel knows (marks, cgroups, bind locks): then it stays a fixed kernel filter.
        var collectQuery = q
        let e = q.expression
        if !(e.usesMark || e.usesCgroup || e.usesAutobound) {
            settings.expression = e
            collectQuery.expression = .all
        }
        collectQuery.states = .all
        collectQuery.ports = PortFilter(source: sport, destination: dport)
        let collector = SocketCollector(options: WatchCollection.options(source: source, procRoot: procRoot))
        var environment: [String: String] = [:]
        for name in ["TERM", "NO_COLOR"] {
            if let v = getenv(name) { environment[name] = String(cString: v) }
        }
        settings.resolveNames = resolve
        settings.namespace = netns
        // Names are looked up in the background and shown as they arrive (each one wakes the
        // screen); the view never waits for one.
        let resolver = NameResolver(timeout: resolveTimeout, onResult: { SignalPipe.wake() })
        // Each refresh reads the descriptors only of the processes that ran since the last one.
        let ownerMemory = OwnerScanMemory()
        do {
            try WatchLoop.run(settings: settings, style: TerminalStyle.from(environment: environment),
                                     hostName: { resolver.name(of: $0) }, kill: Self.closeOne) {
                [collectQuery] owners, names in
                let snapshot = try collector.collect(collectQuery, owners: owners, memory: ownerMemory)
                if names {
                    var addresses = Set<IPAddress>()
                    for r in snapshot.records {
                        if let a = r.local.inet?.address { addresses.insert(a) }
                        if let a = r.remote.inet?.address { addresses.insert(a) }
                    }
                    resolver.request(addresses)
                }
                return snapshot
            }
        } catch {
            FileOutput.standardError("sockscope: \(error)")
            return 1
        }
    }

    /// The live view's `K`, once confirmed: SOCK_DESTROY for one socket, and a line saying how it went.
    @Sendable static func closeOne(_ r: SocketRecord) -> String {
        let what = ViewModel.describe(r)
        do {
            let outcomes = try SocketKiller.kill([r])
            guard let o = outcomes.first else { return "not closed: " + what + " is gone" }
            if let e = o.refusal { return "not closed: " + what + ": " + SocketKiller.explain(e) }
            return "closed " + what
        } catch {
            return "not closed: " + what + ": \(error)"
        }
    }

    static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The shortest `--interval`: every refresh is a full dump (and with owners a /proc scan), so a
/// shorter one is a busy loop rather than a faster view.
let minimumInterval = 0.05

/// `--interval`: seconds, at least `minimumInterval` and at most an hour.
func parseInterval(_ text: String) throws -> Double {
    let v = try parseSeconds(text, option: "--interval")
    guard v >= minimumInterval else {
        throw ValidationError("--interval must be a number of seconds, at least \(minimumInterval) and at most 3600 (got '\(text)')")
    }
    return v
}

/// `--timeout`: seconds, more than 0 and at most an hour.
func parseTimeout(_ text: String) throws -> Double {
    try parseSeconds(text, option: "--timeout")
}

func parseSeconds(_ text: String, option: String) throws -> Double {
    guard let v = Double(text), v.isFinite, v > 0, v <= 3600 else {
        throw ValidationError("\(option) must be a number of seconds, more than 0 and at most 3600 (got '\(text)')")
    }
    return v
}
