import Dispatch
import SockscopeFilter
import SockscopeModel
import SockscopeSystem
import Synchronization

/// Listens to the sock_diag destroy groups (what `ss -E` uses) on a background thread, so that a
/// connection opened and closed between two refreshes is still seen.
///
/// TCP and UDP groups are joined on separate sockets: the destroy message does not say its
/// protocol, the socket it arrives on does.
///
/// `@unchecked Sendable`: after `init`, the sockets are used only by the listening thread; the
/// shared state (`pending`, the flags) is a `Mutex` and atomics. The thread holds the listener
/// until `stop()`, which must be called to end it.
public final class DestroyListener: @unchecked Sendable {
    private let sockets: [(SockDiagSocket, TransportProtocol)]
    private let pending = Mutex<[DestroyedSocket]>([])
    private let lostEvents = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Joins the destroy groups for these protocols and families. Throws when the kernel refuses
    /// (EPERM without CAP_NET_ADMIN): the caller then falls back to diffing snapshots.
    public init(protocols: Set<TransportProtocol>, families: Set<AddressFamily>) throws(SystemError) {
        var list: [(SockDiagSocket, TransportProtocol)] = []
        for proto in TransportProtocol.allCases where protocols.contains(proto) {
            let groups = proto.families.filter(families.contains).compactMap { DestroyListener.group(proto, $0) }
            if groups.isEmpty { continue }
            let s = try SockDiagSocket()
            for group in groups { try s.join(group: group) }
            list.append((s, proto))
        }
        sockets = list
        let this = UncheckedBox(self)
        DispatchQueue.global().async { this.value.run() }
    }

    /// The sock_diag multicast group that reports destroyed sockets of this kind; nil where the
    /// kernel has none (only TCP and UDP over IPv4 and IPv6 are announced).
    static func group(_ proto: TransportProtocol, _ family: AddressFamily) -> UInt32? {
        switch (proto, family) {
        case (.tcp, .inet): return DestroyGroup.inetTCP
        case (.udp, .inet): return DestroyGroup.inetUDP
        case (.tcp, .inet6): return DestroyGroup.inet6TCP
        case (.udp, .inet6): return DestroyGroup.inet6UDP
        case (.tcp, _), (.udp, _), (.raw, _), (.mptcp, _), (.sctp, _), (.unixStream, _), (.unixDgram, _),
             (.unixSeqpacket, _), (.packetRaw, _), (.packetDgram, _), (.netlink, _):
            return nil
        }
    }

    /// Stops the listening thread and waits for it (at most one poll period).
    public func stop() {
        if stopped.exchange(true, ordering: .acquiringAndReleasing) { return }
        finished.wait()
    }

    /// Takes the sockets destroyed since the last call.
    public func drain() -> [DestroyedSocket] {
        pending.withLock { p in
            let out = p
            p.removeAll(keepingCapacity: true)
            return out
        }
    }

    /// True (once) if the kernel dropped destroy messages because they were not read fast enough.
    public func takeLostEvents() -> Bool { lostEvents.exchange(false, ordering: .relaxed) }

    private func run() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: SockDiagSocket.receiveBufferSize, alignment: 16)
        defer {
            buffer.deallocate()
            finished.signal()
        }
        let all = sockets.map(\.0)
        while !stopped.load(ordering: .acquiring) {
            let ready = SockDiagSocket.waitReadable(all, milliseconds: 100)
            for (i, isReady) in ready.enumerated() where isReady {
                let (socket, proto) = sockets[i]
                let n: Int
                do {
                    n = try socket.receive(into: buffer)
                } catch {
                    // ENOBUFS: the queue overflowed and some messages are gone; keep listening.
                    lostEvents.store(true, ordering: .relaxed)
                    continue
                }
                let now = Clock.now()
                var parser = InetDiagParser(proto: proto)
                var got: [DestroyedSocket] = []
                _ = try? parser.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) {
                    got.append(DestroyedSocket(record: $0, time: now))
                }
                if !got.isEmpty { pending.withLock { $0.append(contentsOf: got) } }
            }
        }
    }
}

/// Lets the listener hand itself to its own thread; the thread is joined in `stop()`.
private struct UncheckedBox<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }
