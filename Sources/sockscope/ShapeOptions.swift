import ArgumentParser
import SockscopeModel
import SockscopeRender

/// `--sort` and `--limit`: shaping the listing for scripts (with `--format table|json|csv`).
struct ShapeOptions: ParsableArguments {
    @Option(name: .customLong("sort"), help: ArgumentHelp(
        "Sort the listing by these keys, in order: \(SortKey.names.joined(separator: ", ")); "
            + "-KEY (as --sort=-KEY) sorts that key in descending order.", valueName: "keys"),
            completion: .list(SortKey.names), transform: parseSortKeys)
    var sort: [SortKey] = []
    @Option(name: .customLong("limit"), help: ArgumentHelp(
        "Print at most this many sockets of the listing (after sorting).", valueName: "n"), transform: parseLimit)
    var limit: Int?

    var needsTCPInfo: Bool { sort.contains { $0.field.needsTCPInfo } }
    var needsOwners: Bool { sort.contains { $0.field.needsOwners } }
    var isSet: Bool { !sort.isEmpty || limit != nil }

    /// Sorted, then cut to the limit.
    func apply(_ records: [SocketRecord]) -> [SocketRecord] {
        let sorted = SortKey.sort(records, by: sort)
        guard let limit, sorted.count > limit else { return sorted }
        return Array(sorted.prefix(limit))
    }
}

func parseSortKeys(_ text: String) throws -> [SortKey] {
    do {
        return try SortKey.parse(text)
    } catch {
        throw ValidationError(error.message)
    }
}

/// `--limit N`: a positive number.
func parseLimit(_ text: String) throws -> Int {
    guard let v = Int(text), v > 0 else { throw ValidationError("--limit must be a positive number (got '\(text)')") }
    return v
}
