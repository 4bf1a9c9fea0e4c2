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
        var options = CollectOptions(source: source, procRoot: procRoot, tcpInfo: info, memory: memory)
        options.unixIdentity = json || extended
        guard let snapshot = collect(q, options, owners: wantsOwners) else { return 1 }
        if snapshot.source == .proc && (info || memory) {
            FileOutput.standardError("sockscope: --info and --memory need netlink; /proc does not have them, so they are left out")
        }
        var out: [UInt8] = []
        out.reserveCapacity(1 << 17)
        let writer = FileOutput()
        do {
            let flush = { (buf: inout [UInt8]) throws in try writer.write(buf); buf.removeAll(keepingCapacity: true) }
            if json {
                try JSONRenderer(includeCookie: extended, ports: socketPortContext).renderArray(snapshot.records, into: &out, flush: flush)
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
