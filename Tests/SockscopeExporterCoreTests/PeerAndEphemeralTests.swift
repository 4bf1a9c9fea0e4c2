import Foundation
import SockscopeCollect
import SockscopeExporterCore
import SockscopeModel
import SockscopeRender
import Testing
import TestSupport

/// Listener peers and ephemeral-port series on real loopback sockets from three source addresses:
/// the flat tables behind them must give the exact counts.
@Suite struct PeerAndEphemeralTests {
    @Test func peersAndSourcePortsFromThreeAddresses() throws {
        let listener = try Loopback.tcpListener("127.0.0.1")
        let port = listener.local.port
        var held: [TestSocket] = []
        for (source, n) in [("127.0.0.1", 3), ("127.0.0.2", 2), ("127.0.0.3", 1)] {
            for _ in 0..<n {
                held.append(try Loopback.tcpConnect("127.0.0.1", port, from: source, sourcePort: 0))
                held.append(try Loopback.accept(listener))
            }
        }
        let records = try dump(port: port)
        let range = try #require(EphemeralRangeParser.load(procRoot: "/proc"))
        let clientPorts = held.enumerated().filter { $0.offset % 2 == 0 }.map { $0.element.local.port }
        try #require(clientPorts.allSatisfy { range.contains($0) }, "source ports are drawn from the range")

        let builder = MetricsBuilder(collectors: [.listeners, .ephemeral], owners: false, top: 10)
        let r = NamespaceReading(label: "host", records: records, backlogKnown: true, listenCounters: nil,
                                 ephemeralRange: range, connections: [:])
        let fams = Dictionary(uniqueKeysWithValues: builder.families([r]).map { ($0.name, $0) })
        let l = ["address": "127.0.0.1", "port": String(port)]
        #expect(sample(fams["sockscope_listener_connections"]!, l) == 6)
        #expect(sample(fams["sockscope_listener_peers"]!, l) == 3)
        // One destination (the listener), its busiest source 127.0.0.1 with three ports; the
        // accepted ends (local port: the listener's) are never counted as clients.
        let inUse = fams["sockscope_ephemeral_ports_in_use"]!.samples.filter { !$0.labels.contains(MetricLabel("destination", "other")) }
        #expect(inUse.count == 1)
        #expect(sample(fams["sockscope_ephemeral_ports_in_use"]!, ["destination": "127.0.0.1", "port": String(port)]) == 3)
        #expect(inUse.first?.labels.contains(MetricLabel("source", "127.0.0.1")) == true)
        withExtendedLifetime(held) {}
    }
}
