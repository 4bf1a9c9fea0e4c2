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
