import SockscopeSystem

import Glibc

extension Sockscope {
    /// Says what would otherwise pass in silence: a `--proc-root` that cannot be opened is an
    /// error naming it (status 1: every answer would be wrong or empty), and a `--pid` that is not
    /// running gets a notice on stderr (the empty answer is still correct, so the status stays 0).
    /// Returns the status to stop with, or nil to go on.
    func preflight() -> Int32? {
        do {
            _ = try Directory(path: procRoot)
        } catch {
            FileOutput.standardError("sockscope: --proc-root '\(procRoot)': \(error)")
            return 1
        }
        if let pid, !quiet, access("\(procRoot)/\(pid)", F_OK) != 0 {
            FileOutput.standardError("sockscope: no process with pid \(pid) (nothing in \(procRoot)/\(pid)); no socket can match --pid")
        }
        return nil
    }
}
