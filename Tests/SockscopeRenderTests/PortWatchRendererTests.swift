import SockscopeModel
import SockscopeRender
import Testing

@Suite struct PortWatchRendererTests {
    private func listener() -> SocketRecord {
        var r = SocketRecord(proto: .tcp, family: .inet6, state: .listen, local: Endpoint(address: .anyIPv6, port: 8080),
                             remote: Endpoint(address: .anyIPv6, port: 0), inode: 77)
        r.processes = [SocketOwner(pid: 12, rawName: Array("we\u{1b}ird".utf8), uid: 0, fd: 3)]
        return r
    }

    @Test func textLinesNameThePortTheStateTheListenersAndEscapedOwners() {
        var out: [UInt8] = []
        let r = PortWatchRenderer(json: nil)
        r.append(port: 8080, up: true, sockets: [listener()], time: "2026-12-01T00:00:00.000Z", to: &out)
        r.append(port: 8081, up: false, sockets: [], time: "2026-12-01T00:00:01.000Z", to: &out)
        r.append(port: 8082, address: IPAddress("::1"), up: false, sockets: [], time: "2026-12-01T00:00:02.000Z", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == """
            2026-12-01T00:00:00.000Z 8080 UP tcp [::]:8080 12/we\\x1bird
            2026-12-01T00:00:01.000Z 8081 DOWN
            2026-12-01T00:00:02.000Z [::1]:8082 DOWN

            """)
    }

    @Test func jsonLinesCarryTheSocketObjects() {
        var out: [UInt8] = []
        PortWatchRenderer(json: JSONRenderer()).append(port: 8081, up: false, sockets: [], time: "T", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"{"event":"down","time":"T","port":8081,"sockets":[]}"# + "\n")
        out = []
        PortWatchRenderer(json: JSONRenderer()).append(port: 8081, address: IPAddress("127.0.0.1"), up: false, sockets: [], time: "T", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"{"event":"down","time":"T","port":8081,"address":"127.0.0.1","sockets":[]}"# + "\n")
        out = []
        PortWatchRenderer(json: JSONRenderer()).append(port: 8080, up: true, sockets: [listener()], time: "T", to: &out)
        var socket: [UInt8] = []
        JSONRenderer().appendObject(listener(), to: &socket)
        #expect(out == Array(#"{"event":"up","time":"T","port":8080,"sockets":["#.utf8) + socket + Array("]}\n".utf8))
    }
}
