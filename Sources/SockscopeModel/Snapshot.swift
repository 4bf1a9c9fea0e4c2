/// The interface a snapshot was actually read from.
public enum SourceKind: String, Sendable, Codable {
    case netlink, proc
}

/// One consistent read of the socket tables.
public struct Snapshot: Sendable {
    public var records: [SocketRecord]
    public var source: SourceKind
    /// Things the user should know that did not stop the listing (fallbacks, skipped lines).
    public var notices: [String]
    /// The raw netlink replies, when the collector was asked to record them (`-D`).
    public var rawDump: [UInt8] = []

    public init(records: [SocketRecord], source: SourceKind, notices: [String] = []) {
        self.records = records; self.source = source; self.notices = notices
    }
}
