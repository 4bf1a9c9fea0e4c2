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
        guard var snapshot = collect(q, options, owners: wantsOwners || shape.needsOwners) else { return 1 }
        if shape.isSet { snapshot.records = shape.apply(snapshot.records) }
        if shape.needsTCPInfo && !info { for i in snapshot.records.indices { snapshot.records[i].tcpInfo = nil } }
        if shape.needsOwners && !wantsOwners { for i in snapshot.records.indices { snapshot.records[i].processes = nil } }
        if snapshot.source == .proc && (info || memory) {
            FileOutput.standardError("sockscope: --info and --memory need netlink; /proc does not have them, so they are left out")
        }
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
                try JSONRenderer(includeCookie: extended, ports: socketPortContext,
                             listenerBacklog: snapshot.source == .netlink).renderArray(snapshot.records, into: &out, flush: flush)
            } else {
                let table = TableOptions(header: !noHeader, numeric: numeric, services: numeric ? ServiceTable() : services,
                                         netid: q.protocols.count > 1, extended: extended, processes: wantsOwners,
                                         info: info, memory: memory)
                try TableRenderer(options: table).render(snapshot.records, into: &out, flush: flush)
            }
            try writer.write(out)
        } catch let e as OutputError {
            if e == .closed { return 0 }
            FileOutput.standardError("sockscope: \(e.message)")
            return 1
        } catch {
            FileOutput.standardError("sockscope: \(error)")
            return 1
        }
        return 0
    }
}
