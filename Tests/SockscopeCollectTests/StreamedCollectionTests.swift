import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import TestSupport
import Testing

/// `SocketCollector.stream` hands over what `collect` returns, each socket once, in its order.
@Suite struct StreamedCollectionTests {
    @Test(arguments: [SourceChoice.netlink, .proc])
    func streamedEqualsCollected(_ source: SourceChoice) throws {
        let load = try OwnLoad.standard()
        let collector = SocketCollector(options: CollectOptions(source: source))
        let query = Query(protocols: [.tcp, .udp], states: .all)
        // Both read the live tables: compare the test's own sockets, which do not change meanwhile.
        let collected = try collector.collect(query).records.filter { load.inodes.contains($0.inode) }
        let (sink, outcome) = try collector.stream(query, into: RecordArray())
        let streamed = sink.records.filter { load.inodes.contains($0.inode) }
        #expect(outcome.source == (source == .proc ? .proc : .netlink))
        #expect(outcome.count == sink.records.count)
        #expect(streamed.count == load.expected.count)
        #expect(streamed == collected)
        #expect(Set(sink.records.map(\.inode).filter { $0 != 0 }).count == sink.records.filter { $0.inode != 0 }.count)
        withExtendedLifetime(load) {}
    }

    @Test func streamedFilterAndFamilies() throws {
        let load = try OwnLoad.standard()
        let listener = load.sockets.first { $0.proto == .tcp && $0.family == .inet }!
        let collector = SocketCollector(options: CollectOptions(source: .netlink))
        var query = Query(protocols: [.tcp], states: .all)
        query.expression = .port(.source, .equal, listener.local.port)
        let (sink, _) = try collector.stream(query, into: RecordArray())
        // The listener and the accepted sockets share its port.
        #expect(Set(sink.records.map(\.inode)) == Set(load.expected.filter {
            $0.proto == .tcp && $0.family == .inet && $0.local.port == listener.local.port }.map(\.inode)))
        withExtendedLifetime(load) {}
    }
}
