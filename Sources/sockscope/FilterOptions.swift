import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeSystem

#if canImport(Glibc)
import Glibc
#endif

/// The filter of this run: parsed once in `main` (exit 2 on an error), read by every mode through `query`.
nonisolated(unsafe) var activeFilter = ParsedFilter()

extension Sockscope {
    /// What the filter language may look up on this system.
    var filterEnvironment: FilterEnvironment {
        FilterEnvironment(
            services: { services.ports(named: $0) },
            resolveHost: { Lookup.addresses(ofHost: $0, family: $1) },
            interfaceIndex: { Lookup.interfaceIndex(name: $0) },
            cgroupID: { path in Lookup.cgroupID(path: path).mapError { FilterError($0.message) } },
            family: ipv4 != ipv6 ? (ipv4 ? .inet : .inet6) : nil)
            .withBareHosts(tcp || udp || ipv4 || ipv6 ? nil : families.onlyFamily)
    }

    /// Parses the expression (positional words, or `-F FILE`) and `--src`/`--dst` into one filter;
    /// prints its notices. Returns an exit status on a bad filter.
    func prepareFilter() -> Int32? {
        var words = expressionWords
        if portShorthand, let w = words.first { words = ["(", "sport", "=", w, "or", "dport", "=", w, ")"] }
        if let file = filterFile {
            if !words.isEmpty {
                FileOutput.standardError("sockscope: filter: give the expression as words or with -F, not both")
                return 2
            }
            let bytes: [UInt8]
            do {
                // A filter file is a few lines; 16 MiB bounds a wrong file (a device, a log).
                let limit = ReadLimit(bytes: 16 << 20, sizeHint: 4096)
                bytes = try file == "-" ? Files.readAll(fd: 0, path: "standard input", limit: limit) : Files.read(file, limit: limit)
            } catch {
                FileOutput.standardError("sockscope: filter: cannot read \(file == "-" ? "standard input" : file): \(error)")
                return 2
            }
            words = FilterParser.words(ofFile: String(decoding: bytes, as: UTF8.self))
        }
        do {
            let env = filterEnvironment
            var f = try FilterParser.parse(words, environment: env)
            var parts: [FilterExpression] = []
            for h in src { parts.append(try FilterParser.parseHost(h, side: .source, option: "--src", environment: env)) }
            for h in dst { parts.append(try FilterParser.parseHost(h, side: .destination, option: "--dst", environment: env)) }
            f.expression = .conjunction(parts + [f.expression])
            if !quiet { for n in f.notices { FileOutput.standardError("sockscope: \(n)") } }
            activeFilter = f
            return nil
        } catch {
            FileOutput.standardError("sockscope: filter: \(error.message)")
            return 2
        }
    }

    /// Applies the filter to a query: states named in the expression replace -a/-l and the default
    /// (as in ss) and meet `--state`; the expression joins the port options with `and`.
    func applyFilter(to q: inout Query) {
        let f = activeFilter
        if portShorthand && state == nil && !listening { q.states = .all }
        if let s = f.states { q.states = state.map { $0.intersection(s) } ?? s }
        q.expression = f.expression
        // A `unix:`, `link:` or `netlink:` rule lists its family, as in ss, when no table was chosen.
        let familyRules = f.expression.familyRules
        if !familyRules.isEmpty && !tcp && !udp && !families.selectsTables { q.protocols = familyRules }
        if f.expression.usesAutobound { q.ephemeral = EphemeralRangeParser.load(procRoot: procRoot) ?? .linuxDefault }
    }

    /// `sockscope :8080`: a lone `:PORT` word (a number or a service name) asks who uses that port,
    /// either end, in every state (unless -l or --state says otherwise), with owners: the lsof -i
    /// question in few keys. It is `( sport = :PORT or dport = :PORT )`.
    var portShorthand: Bool {
        guard expressionWords.count == 1, filterFile == nil, let w = expressionWords.first, w.first == ":", w.count > 1 else {
            return false
        }
        let rest = w.dropFirst()
        return rest.allSatisfy { $0.isNumber } || rest.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
    }
}
