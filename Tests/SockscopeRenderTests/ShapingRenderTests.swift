import SockscopeModel
import SockscopeRender
import Testing

@Suite struct ShapingRenderTests {
    func record(_ port: UInt16, recvQ: UInt32, state: SocketState = .established, owner: String? = nil) -> SocketRecord {
        var r = SocketRecord(proto: .tcp, family: .inet, state: state,
                             local: Endpoint(address: IPAddress("127.0.0.1")!, port: port),
                             remote: Endpoint(address: IPAddress("127.0.0.1")!, port: 40000), recvQueue: recvQ)
        if let owner { r.processes = [SocketOwner(pid: Int32(port), rawName: Array(owner.utf8), uid: 0, fd: 3)] }
        return r
    }

    @Test func sortKeysParseAndOrder() throws {
        #expect(try SortKey.parse("state,-recv_q,LOCAL") == [SortKey(.state), SortKey(.recvQ, descending: true), SortKey(.local)])
        #expect(throws: ShapeError.self) { try SortKey.parse("state,,port") }
        #expect(throws: ShapeError.self) { try SortKey.parse("nope") }
        let rs = [record(3, recvQ: 5), record(1, recvQ: 9), record(2, recvQ: 5, state: .listen), record(4, recvQ: 9)]
        #expect(SortKey.sort(rs, by: [SortKey(.recvQ, descending: true), SortKey(.port)]).map(\.local.port) == [1, 4, 2, 3])
        #expect(SortKey.sort(rs, by: [SortKey(.state)]).map(\.local.port) == [3, 1, 4, 2], "ties keep their order")
        // No owner sorts last, in either direction.
        let owned = [record(1, recvQ: 0), record(2, recvQ: 0, owner: "b"), record(3, recvQ: 0, owner: "a")]
        #expect(SortKey.sort(owned, by: [SortKey(.owner)]).map(\.local.port) == [3, 2, 1])
        #expect(SortKey.sort(owned, by: [SortKey(.owner, descending: true)]).map(\.local.port) == [2, 3, 1])
    }

    @Test func csvFieldsFollowRFC4180() {
        func field(_ s: String) -> String {
            var out: [UInt8] = []
            CSVRenderer.field(Array(s.utf8), to: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(field("plain") == "plain")
        #expect(field("a,b") == "\"a,b\"")
        #expect(field("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(field("a\r\nb") == "\"a\r\nb\"")
        var out: [UInt8] = []
        CSVRenderer(processes: true, listenerBacklog: true).render(
            [record(80, recvQ: 1, state: .listen, owner: "we,ird\u{1B}")], into: &out, flush: { _ in })
        let text = String(decoding: out, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines.count == 3 && lines[2].isEmpty, "\(text)")
        #expect(lines[1] == #"tcp,inet,LISTEN,127.0.0.1,80,127.0.0.1,40000,1,0,0,0,0,,80,"we,ird\x1b",1"#, "\(lines[1])")
    }
}
