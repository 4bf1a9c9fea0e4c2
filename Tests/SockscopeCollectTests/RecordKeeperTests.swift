@testable import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import TestSupport
import Testing

/// What `gather` relies on when netlink is refused midway and /proc is read instead: the snapshot
/// takes back what it kept since a mark (and accepts those sockets again), the stream cannot take
/// back rows it handed on.
@Suite struct RecordKeeperTests {
    /// The test's own sockets as the kernel lists them.
    func ownRecords(_ load: OwnLoad) throws -> [SocketRecord] {
        let records = try SocketCollector(options: CollectOptions(source: .netlink))
            .collect(Query(protocols: [.tcp, .udp], states: .all)).records
        return records.filter { load.inodes.contains($0.inode) }
    }

    @Test func snapshotTakesBackWhatItKeptSinceAMark() throws {
        let load = try OwnLoad.standard()
        let records = try ownRecords(load)
        #expect(records.count == load.expected.count && records.count >= 3)
        var kept = SocketCollector.KeptRecords(capacity: 4)
        kept.add(records[0])
        let mark = kept.count
        kept.startDump()
        for r in records { kept.add(r) }
        #expect(kept.count == records.count, "the first one came twice and was kept once")
        let discarded = kept.discard(since: mark)
        #expect(discarded)
        #expect(kept.records == [records[0]])
        // What was taken back is no longer seen: it is kept again; the one before the mark is not.
        for r in records { kept.add(r) }
        #expect(kept.records == records)
        withExtendedLifetime(load) {}
    }

    @Test func streamCannotTakeBackRowsItHandedOn() throws {
        let load = try OwnLoad.standard()
        let records = try ownRecords(load)
        var streamed = StreamedRecords(sink: RecordArray(), capacity: 4)
        for r in records + records { streamed.add(r) }
        #expect(streamed.count == records.count && streamed.sink.records == records)
        let sinceNow = streamed.discard(since: streamed.count), sinceStart = streamed.discard(since: 0)
        #expect(sinceNow, "nothing handed on since the mark")
        #expect(!sinceStart)
        #expect(streamed.sink.records == records)
        withExtendedLifetime(load) {}
    }
}
