import SockscopeAnalysis
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeRender
import SockscopeSystem

extension Sockscope {
    /// The plain listing: collect once, render as a table or JSON, write.
    func runListing() -> Int32 {
        let q = query
        // A sort key may need what is not shown (rtt, owner): collected for sorting, left out of the output.
        var options = CollectOptions(source: source, procRoot: procRoot, tcpInfo: info || shape.needsTCPInfo, memory: memory)
        // uid and bound file: JSON, CSV and -e show them; a plain table does not.
        options.unixIdentity = json || extended || (format.map { $0 != .table } ?? false)
        options.timers = timers
        options.recordDump = diagFile != nil
        options.cgroups = cgroup
        options.threads = threads
        options.packetFilters = bpf
        if streamsListing { return streamListing(q, options) }
        var snapshot: Snapshot
        if let fromDump {
            guard let s = readDump(fromDump, q) else { return 1 }
            snapshot = s
        } else {
            guard let s = collect(q, options, owners: wantsOwners || shape.needsOwners) else { return 1 }
            snapshot = s
        }
        if let diagFile {
            do {
                if diagFile == "-" {
                    try FileOutput().write(snapshot.rawDump)
                    return 0
                }
                try Files.writeAll(diagFile, snapshot.rawDump)
            } catch let e as OutputError {
                if e != .closed { FileOutput.standardError("sockscope: \(e.message)") }
                return e == .closed ? 0 : 1
            } catch {
                FileOutput.standardError("sockscope: -D: \(error)")
                return 1
            }
        }
        if shape.isSet { snapshot.records = shape.apply(snapshot.records) }
        if shape.needsTCPInfo && !info { for i in snapshot.records.indices { snapshot.records[i].tcpInfo = nil } }
        if shape.needsOwners && !wantsOwners { for i in snapshot.records.indices { snapshot.records[i].processes = nil } }
        var failed = 0
        if kill {
            guard let outcome = killSelected(snapshot.records) else { return 1 }
            snapshot.records = outcome.closed
            failed = outcome.failed
        }
        if snapshot.source == .proc && (info || memory || timers) && !quiet {
            FileOutput.standardError("sockscope: --info, --memory and --options need netlink; /proc does not have them, so they are left out")
        }
        let hostNames = resolve ? Self.hostNames(snapshot.records, timeout: resolveTimeout) : nil
        var out: [UInt8] = []
        out.reserveCapacity(1 << 17)
        let writer = FileOutput()
        do {
            let flush = { (buf: inout [UInt8]) throws in try writer.write(buf); buf.removeAll(keepingCapacity: true) }
            let format = self.format ?? (json ? .json : .table)
            if format == .csv {
                try CSVRenderer(header: !noHeader, extended: extended, processes: wantsOwners, info: info, memory: memory,
                                listenerBacklog: snapshot.source == .netlink).render(snapshot.records, into: &out, flush: flush)
            } else if format == .json {
                var renderer = JSONRenderer(includeCookie: extended, ports: socketPortContext,
                                            listenerBacklog: snapshot.source == .netlink)
                renderer.cgroupPaths = cgroup ? Lookup.cgroupPaths() : nil
                renderer.hostNames = hostNames
                try renderer.renderArray(snapshot.records, into: &out, flush: flush)
            } else {
                var table = tableOptions(q, processes: wantsOwners)
                table.hostNames = hostNames
                try TableRenderer(options: table).render(snapshot.records, into: &out, flush: flush)
            }
            try writer.write(out)
            if failed > 0 { return 1 }
        } catch {
            return Self.listingFailed(error)
        }
        return 0
    }

    /// A listing that stopped: a closed stdout is a quiet end (`| head`), anything else one line
    /// on stderr and status 1.
    static func listingFailed(_ error: any Error) -> Int32 {
        if let e = error as? OutputError {
            if e == .closed { return 0 }
            FileOutput.standardError("sockscope: \(e.message)")
        } else {
            FileOutput.standardError("sockscope: \(error)")
        }
        return 1
    }

    /// The table's options from the command line.
    func tableOptions(_ q: Query, processes: Bool) -> TableOptions {
        var table = TableOptions(header: !noHeader, numeric: numeric, services: numeric ? ServiceTable() : services,
                                 netid: q.protocols.count > 1, extended: extended, processes: processes,
                                 info: info, memory: memory)
        table.timers = timers
        table.oneLine = oneLine
        table.bpf = bpf
        if cgroup { table.cgroupPaths = Lookup.cgroupPaths() }
        return table
    }

    /// Whether the listing can be made as the dump arrives, holding no records: nothing in it
    /// needs every row first (a sort or limit, `-K`, `-r`'s lookups, owners, a dump file, CSV).
    var streamsListing: Bool {
        fromDump == nil && diagFile == nil && !shape.isSet && !kill && !resolve && !wantsOwners && !query.needsOwners
            && format != .csv
    }

    /// The listing streamed (see `SocketCollector.stream`): JSON is written as the rows come, a
    /// table keeps each row's formatted cells (its widths are known only at the end). At 100k
    /// TCP sockets this holds ~6 MB of cells where the records took ~25 MB.
    func streamListing(_ q: Query, _ options: CollectOptions) -> Int32 {
        let collector = SocketCollector(options: options)
        let writer = FileOutput()
        let outcome: SocketCollector.StreamOutcome
        var out: [UInt8] = []
        do {
            if json || format == .json {
                var renderer = JSONRenderer(includeCookie: extended, ports: socketPortContext, listenerBacklog: true)
                renderer.cgroupPaths = cgroup ? Lookup.cgroupPaths() : nil
                var sink = JSONSink(array: JSONArrayWriter(renderer), writer: writer)
                (sink, outcome) = try collector.stream(q, into: sink)
                if let e = sink.failure { throw e }
                out = sink.array.finish()
            } else {
                let table = tableOptions(q, processes: false)
                // Sockstat's count sizes both the cells and the cookie set: read once.
                let rows = collector.estimate(q)
                let sink: TableSink
                (sink, outcome) = try collector.stream(q, into: TableSink(table: TableBuilder(TableRenderer(options: table), rows: rows)),
                                                       estimate: rows)
                try sink.table.write(into: &out) { buf in try writer.write(buf); buf.removeAll(keepingCapacity: true) }
            }
        } catch {
            return Self.listingFailed(error)
        }
        for n in outcome.notices where !quiet { FileOutput.standardError("sockscope: \(n)") }
        if outcome.source == .proc && (info || memory || timers) && !quiet {
            FileOutput.standardError("sockscope: --info, --memory and --options need netlink; /proc does not have them, so they are left out")
        }
        return LineWriter().write(out) ?? 0
    }

    /// `-r`: the names of every distinct address in the listing, looked up in parallel; an
    /// address without a name (or whose lookup outlived `timeout`) stays numeric.
    static func hostNames(_ records: [SocketRecord], timeout: Double) -> [IPAddress: String] {
        var addresses = Set<IPAddress>()
        for r in records {
            if let a = r.local.inet?.address { addresses.insert(a) }
            if let a = r.remote.inet?.address { addresses.insert(a) }
        }
        return NameResolver(timeout: timeout).resolve(addresses)
    }

    /// `--from-dump FILE`: every section of the file, selected by the query like a kernel dump.
    func readDump(_ path: String, _ q: Query) -> Snapshot? {
        do {
            // A regular file only (robust against FIFOs and devices); a dump of a busy host is tens of MiB.
            let bytes = try Files.read(path, limit: ReadLimit(bytes: 1 << 30, sizeHint: 1 << 20))
            let contents = try DumpFile.read(bytes, decodeInfo: info, decodeMemory: memory, decodeTimer: timers)
            var records = DumpFile.select(contents, q)
            // Interface indexes are named by this machine's interfaces, as ss names them.
            var names: [UInt32: String?] = [:]
            for i in records.indices where records[i].interfaceIndex != 0 {
                let index = records[i].interfaceIndex
                if names[index] == nil { names[index] = .some(Interfaces.name(index: index)) }
                records[i].interface = names[index] ?? nil
            }
            return Snapshot(records: records, source: .netlink)
        } catch let e as DumpFile.ReadError {
            FileOutput.standardError("sockscope: --from-dump \(path): \(e)")
        } catch {
            FileOutput.standardError("sockscope: --from-dump: \(error)")
        }
        return nil
    }

    /// `-K`: closes the selected sockets (or, with `--dry-run`, none); returns the ones closed (or
    /// that would be) and how many the kernel refused, each refusal reported on stderr.
    func killSelected(_ records: [SocketRecord]) -> (closed: [SocketRecord], failed: Int)? {
        if dryRun {
            FileOutput.standardError("sockscope: --dry-run: \(records.count) socket\(records.count == 1 ? "" : "s") would be closed; none was")
            return (records, 0)
        }
        let outcomes: [SocketKiller.Outcome]
        do {
            outcomes = try SocketKiller.kill(records)
        } catch {
            FileOutput.standardError("sockscope: -K: \(error)")
            return nil
        }
        var closed: [SocketRecord] = [], failed = 0
        for o in outcomes {
            // ENOENT: gone before its turn, most often reset by its peer closed just before (a
            // filter that selects both ends of a connection); it is closed, as asked.
            guard let e = o.refusal, e != .noSuchFileOrDirectory else { closed.append(o.record); continue }
            failed += 1
            FileOutput.standardError("sockscope: not closed: \(SSText.name(o.record)): \(SocketKiller.explain(e))")
        }
        return (closed, failed)
    }
}

/// Table rows as they are collected.
struct TableSink: RecordSink {
    var table: TableBuilder
    mutating func take(_ record: SocketRecord) { table.add(record) }
}

/// JSON objects written to the output as they are collected; after a write error (a closed
/// pipe) the rest is dropped and the error reported once the dump is done.
struct JSONSink: RecordSink {
    var array: JSONArrayWriter
    let writer: FileOutput
    var failure: OutputError?

    /// A listener's send queue is its backlog only in netlink's answer.
    mutating func inetSource(_ source: SourceKind) { array.listenerBacklog = source == .netlink }

    mutating func take(_ record: SocketRecord) {
        guard failure == nil else { return }
        let writer = self.writer
        do {
            try array.add(record) { buf throws(OutputError) in
                try writer.write(buf)
                buf.removeAll(keepingCapacity: true)
            }
        } catch {
            failure = error as? OutputError ?? .closed
        }
    }
}
