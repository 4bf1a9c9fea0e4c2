import SockscopeFilter
import SockscopeModel
import SockscopeSystem
import Synchronization

/// A socket the kernel reported destroyed (sock_diag destroy multicast), with when it was heard.
public struct DestroyedSocket: Sendable {
    public var record: SocketRecord
    /// Wall-clock seconds since the epoch when the message arrived.
    public var time: Double
}

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
    private let finished = Semaphore(value: 0)

    /// Joins the destroy groups for these protocols and families. Throws when the kernel refuses
    /// (EPERM without CAP_NET_ADMIN): the caller then falls back to diffing snapshots.
    public init(protocols: Set<TransportProtocol>, families: Set<AddressFamily>) throws(SystemError) {
        var list: [(SockDiagSocket, TransportProtocol)] = []
        for proto in TransportProtocol.allCases where protocols.contains(proto) {
            let s = try SockDiagSocket()
            for family in AddressFamily.allCases where families.contains(family) {
                // SKNLGRP_INET_TCP_DESTROY 1, INET_UDP 2, INET6_TCP 3, INET6_UDP 4.
                let group: UInt32 = (family == .inet ? 1 : 3) + (proto == .tcp ? 0 : 1)
                try s.join(group: group)
            }
            list.append((s, proto))
        }
        sockets = list
        let this = UncheckedBox(self)
        guard Threads.start({ this.value.run() }) else {
            throw SystemError("pthread_create", errno: .resourceTemporarilyUnavailable)
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
