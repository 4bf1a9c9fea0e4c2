import ArgumentParser

extension Sockscope {
    /// Owners are scanned and shown for `-p`, for `--pid`/`--process`, which imply it, and for the
    /// `:PORT` shorthand.
    var wantsOwners: Bool { processes || threads || pid != nil || processName != nil || (portShorthand && mode == .list) }
}

/// `--pid N`: a positive process id.
func parsePID(_ text: String) throws -> Int32 {
    guard let v = Int32(text), v > 0 else { throw ValidationError("invalid process id '\(text)': expected a positive number") }
    return v
}
