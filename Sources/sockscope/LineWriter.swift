import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeSystem

/// Line-by-line output for the live modes: each write goes out at once (a script reading the
/// stream sees every event as it happens). Returns the exit status to end with, or nil to go on.
struct LineWriter {
    let out = FileOutput()

    /// nil on success; 0 when the reader went away (a quiet end); 1 after reporting a write error.
    func write(_ bytes: [UInt8]) -> Int32? {
        do {
            try out.write(bytes)
            return nil
        } catch {
            if error == .closed { return 0 }
            FileOutput.standardError("sockscope: \(error.message)")
            return 1
        }
    }
}

extension Sockscope {
    /// One collection for a mode: the notices go to stderr; a failure is reported there and returns
    /// nil (the mode then ends with status 1: nothing partial is printed).
    func collect(_ query: Query, _ options: CollectOptions, owners: Bool = false) -> Snapshot? {
        var everyTime = Set<String>()
        return collect(query, options, owners: owners, quietlyRepeating: &everyTime, repeatNotices: true)
    }

    /// The same for a mode that collects again and again: each notice is shown once (`shown` keeps them).
    func collect(_ query: Query, _ options: CollectOptions, owners: Bool, quietlyRepeating shown: inout Set<String>,
                 repeatNotices: Bool = false) -> Snapshot? {
        let snapshot: Snapshot
        do {
            snapshot = try SocketCollector(options: options).collect(query, owners: owners)
        } catch {
            FileOutput.standardError("sockscope: \(error)")
            return nil
        }
        for n in snapshot.notices where !quiet && (repeatNotices || shown.insert(n).inserted) {
            FileOutput.standardError("sockscope: \(n)")
        }
        return snapshot
    }
}
