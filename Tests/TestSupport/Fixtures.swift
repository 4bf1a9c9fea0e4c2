import Foundation
import SockscopeModel

/// A socket as a fixture's `expected.json` describes it (written by the capture script from
/// Python's own view of the sockets, independently of sockscope).
public struct ExpectedSocket: Decodable, Hashable, Sendable {
    public var proto: TransportProtocol
    public var family: AddressFamily
    public var state: String
    public var inode: UInt64
    public var local: Endpoint
    public var remote: Endpoint

    public init(proto: TransportProtocol, family: AddressFamily, state: String, inode: UInt64, local: Endpoint, remote: Endpoint) {
        self.proto = proto; self.family = family; self.state = state; self.inode = inode
        self.local = local; self.remote = remote
    }

    /// True when the record reports exactly this socket.
    public func matches(_ r: SocketRecord) -> Bool {
        r.proto == proto && r.family == family && r.stateName == state && r.inode == inode
            && r.local == local && r.remote == remote
    }
}

public enum FixtureFiles {
    /// Reads a file next to the calling test file, under `Fixtures/`.
    public static func bytes(_ name: String, file: String = #filePath) throws -> [UInt8] {
        let url = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
        return [UInt8](try Data(contentsOf: url))
    }

    public static func expected(file: String = #filePath) throws -> [ExpectedSocket] {
        try JSONDecoder().decode([ExpectedSocket].self, from: Data(try bytes("expected.json", file: file)))
    }
}
