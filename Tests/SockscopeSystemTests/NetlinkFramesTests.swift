import SockscopeSystem
import SystemPackage
import Testing

/// The one framing walk every diag parser uses, over hand-built message streams.
@Suite struct NetlinkFramesTests {
    /// One `nlmsghdr` (length, type, flags, sequence, port id) and its payload, padded to 4 bytes.
    static func message(type: UInt16, flags: UInt16 = 0x2, seq: UInt32 = 7, payload: [UInt8]) -> [UInt8] {
        var m: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v) { m += $0 } }
        put(UInt32(16 + payload.count)); put(type); put(flags); put(seq); put(UInt32(0))
        m += payload
        while m.count % 4 != 0 { m.append(0) }
        return m
    }

    static func code(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

    func walk(_ bytes: [UInt8], sequence: UInt32? = 7) -> (Result<DumpProgress, DumpError>, [(UInt16, [UInt8])]) {
        var frames = NetlinkDumpFrames(sequence: sequence)
        var seen: [(UInt16, [UInt8])] = []
        let r: Result<DumpProgress, DumpError> = bytes.withUnsafeBytes { raw in
            do throws(DumpError) {
                return .success(try frames.walk(raw) { type, payload throws(DumpError) in seen.append((type, Array(payload))) })
            } catch { return .failure(error) }
        }
        return (r, seen)
    }

    @Test func dataMessagesOfThisRequestPassThroughUntilDone() {
        let bytes = Self.message(type: 20, payload: [1, 2, 3]) + Self.message(type: 1, payload: [])  // NLMSG_NOOP
            + Self.message(type: 20, seq: 8, payload: [9]) + Self.message(type: 20, payload: [4, 5, 6, 7])
            + Self.message(type: 3, payload: Self.code(0))
        let (r, seen) = walk(bytes)
        #expect(r == .success(.done(interrupted: false)))
        #expect(seen.map(\.0) == [20, 20] && seen.map(\.1) == [[1, 2, 3], [4, 5, 6, 7]], "another sequence and NOOP are skipped")
        #expect(walk(bytes, sequence: nil).1.count == 3, "nil sequence accepts any")
        #expect(walk(Self.message(type: 20, payload: [1])).0 == .success(.more))
    }

    @Test func errorsAreTypedErrnos() {
        #expect(walk(Self.message(type: 2, payload: Self.code(-22) + [UInt8](repeating: 0, count: 16))).0
                == .failure(.kernel(.invalidArgument)))
        #expect(walk(Self.message(type: 3, payload: Self.code(-4))).0 == .failure(.kernel(.interrupted)),
                "NLMSG_DONE carrying an error is not an empty success")
        #expect(walk(Self.message(type: 4, payload: [])).0 == .failure(.kernel(.noBufferSpace)), "NLMSG_OVERRUN")
        #expect(walk(Self.message(type: 2, payload: Self.code(0))).0 == .success(.more), "an ACK is no failure")
        #expect(walk(Self.message(type: 2, payload: Self.code(.min))).0 == .failure(.malformed("error code -2147483648")))
    }

    /// A dump file whose last NLMSG_DONE declared 19 bytes (found by fuzzing `--from-dump`): its
    /// error code is cut, so the dump's outcome is unknown; it read as a clean end, and so did the
    /// same file less its last (padding) byte.
    @Test func doneWithACutErrorCodeIsMalformed() {
        for size in 1...3 {
            var bytes = Self.message(type: 3, payload: [UInt8](repeating: 0xFF, count: size))
            #expect(walk(bytes).0 == .failure(.malformed("short NLMSG_DONE")), "\(size) bytes")
            bytes.removeLast(4 - size)  // without the padding the message is still whole
            #expect(walk(bytes).0 == .failure(.malformed("short NLMSG_DONE")), "\(size) bytes, unpadded")
        }
        #expect(walk(Self.message(type: 3, payload: [])).0 == .success(.done(interrupted: false)), "no code at all: a clean end")
    }

    @Test func dumpInterruptedIsRemembered() {
        let bytes = Self.message(type: 20, flags: 0x12, payload: [1]) + Self.message(type: 3, payload: Self.code(0))
        #expect(walk(bytes).0 == .success(.done(interrupted: true)))
    }

    @Test func anyTruncationIsMalformedNotATrap() {
        let bytes = Self.message(type: 20, payload: [1, 2, 3, 4, 5]) + Self.message(type: 3, payload: Self.code(0))
        // 21–24: the first message is whole (its padding need not be there); any other cut splits one.
        for cut in 1..<bytes.count where !(21...24).contains(cut) {
            guard case .failure(.malformed) = walk(Array(bytes.prefix(cut))).0 else {
                Issue.record("cut at \(cut)"); continue
            }
        }
    }

    @Test func inetDiagNumbersAreTheHeaders() {
        #expect(InetDiag.sockDiagByFamily == 20 && InetDiag.tcpDiagGetSock == 18)
        #expect(InetDiag.attrInfo == 2 && InetDiag.attrCong == 4 && InetDiag.attrSkMemInfo == 7)
        #expect(InetDiag.extInfo == 1 << 1 && InetDiag.extCong == 1 << 3 && InetDiag.extSkMemInfo == 1 << 6)
        #expect(InetDiag.messageSize == InetDiagLayout.messageSize)
        let l = InetDiag.layout
        #expect([l.family, l.state, l.sport, l.dport, l.src, l.dst, l.interface, l.cookie, l.rqueue, l.wqueue, l.uid, l.inode]
                == [0, 1, 4, 6, 8, 24, 40, 44, 56, 60, 64, 68], "the C struct's offsets, as C sees them")
        #expect(l.cookie == InetDiagLayout.cookieOffset && l.rqueue == InetDiagLayout.rqueueOffset
                && l.inode == InetDiagLayout.inodeOffset)
    }
}
