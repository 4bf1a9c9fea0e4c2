import SockscopeFilter
import SockscopeModel
import SockscopeSystem

/// Raw netlink dump files, as `ss -D FILE` writes them: the sock_diag reply messages exactly as the
/// kernel sent them, one section per dump request, each ended by `NLMSG_DONE`.
///
/// ss writes only TCP, with one section per address family (or one for both through the legacy
/// interface); a reply does not say its protocol, so sockscope marks its own sections by the request's
/// sequence number, which the kernel copies into every reply: `0x5353_00PP` with PP the IP protocol
/// (6 TCP, 17 UDP). A section with any other sequence number (ss uses 123456) is read as TCP.
public enum DumpFile {
    /// The request sequence number that marks a section's protocol.
    public static func sequence(for proto: TransportProtocol) -> UInt32 { 0x5353_0000 | UInt32((proto.ipProtocol ?? 0) & 0xFF) }

    static func proto(forSequence seq: UInt32) -> TransportProtocol {
        if seq & 0xFFFF_FF00 == 0x5353_0000,
           let p = TransportProtocol.allCases.first(where: { $0.ipProtocol.map(UInt32.init) == seq & 0xFF }) {
            return p
        }
        return .tcp
    }

    /// Why a dump file cannot be read: it is never read in part.
    public struct ReadError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// What the sections held.
    public struct Contents: Sendable {
        public var records: [SocketRecord]
        /// Sections read, per protocol.
        public var sections: [TransportProtocol: Int]
    }

    /// Every socket in every section of `bytes`. A file with no complete section, a section without
    /// its `NLMSG_DONE` (a truncated file), a malformed message, or a section that ended in a kernel
    /// error is an error: nothing partial is returned.
    public static func read(_ bytes: [UInt8], decodeInfo: Bool = true, decodeMemory: Bool = true,
                            decodeTimer: Bool = true) throws(ReadError) -> Contents {
        var records: [SocketRecord] = []
        var sections: [TransportProtocol: Int] = [:]
        var offset = 0
        var index = 0
        guard !bytes.isEmpty else { throw ReadError(description: "the dump file is empty") }
        while offset < bytes.count {
            index += 1
            // The section's protocol is in its first message's sequence number (header offset 8).
            guard bytes.count - offset >= 16 else {
                throw ReadError(description: "section \(index) is truncated: \(bytes.count - offset) bytes, less than a netlink header")
            }
            let seq = bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)) }
            let proto = proto(forSequence: seq)
            var parser = InetDiagParser(proto: proto, sequence: nil, decodeInfo: decodeInfo, decodeMemory: decodeMemory)
            parser.decodeTimer = decodeTimer
            // What a filter may read (fwmark, cgroup), when the dump carries it.
            parser.decodeMark = true
            parser.decodeCgroup = true
            var section: [SocketRecord] = []
            let progress: DumpProgress
            do {
                progress = try bytes.withUnsafeBytes { raw throws(DumpError) in
                    try parser.parse(UnsafeRawBufferPointer(rebasing: raw[offset...])) { section.append($0) }
                }
            } catch {
                switch error as? DumpError {
                case .malformed(let what)?:
                    throw ReadError(description: "section \(index) (at byte \(offset)) is truncated or corrupt: \(what)")
                case .kernel?:
                    throw ReadError(description: "section \(index) (at byte \(offset)) records a failed dump: \(error)")
                case nil:
                    throw ReadError(description: "section \(index) (at byte \(offset)): \(error)")
                }
            }
            guard case .done = progress else {
                throw ReadError(description: "section \(index) (at byte \(offset)) has no NLMSG_DONE: the file is truncated")
            }
            records += section
            sections[proto, default: 0] += 1
            offset += parser.doneOffset
        }
        return Contents(records: records, sections: sections)
    }

    /// The sockets of a dump file that a query selects (states, protocols, families, ports).
    public static func select(_ contents: Contents, _ query: Query) -> [SocketRecord] {
        contents.records.filter { query.matches($0) }
    }
}
