import Foundation
import SockscopeModel
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The repository's top directory (this file is Tests/sockscopeTests/SchemaTests.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Validates output with Python's `jsonschema` against `schema/sockscope.schema.json`
/// (through `Tests/Schema/validate.py`).
enum SchemaCheck {
    static let jsonschema = Requirement.python("jsonschema")
    static var schema: String { repositoryRoot.appendingPathComponent("schema/sockscope.schema.json").path }

    /// Validates `output` as the schema's `definition` (`listing`, `summary`, `listeners`, `map`,
    /// `event`, `port_event`); fails the test with the validator's messages.
    static func validate(_ output: [UInt8], as definition: String, _ label: String,
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        try jsonschema.check()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-schema-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(output).write(to: file)
        let r = try Binary.run("/bin/sh", ["-c", "exec python3 \"$0\" \"$1\" \"$2\" < \"$3\"",
                                          repositoryRoot.appendingPathComponent("Tests/Schema/validate.py").path,
                                          schema, definition, file.path], timeout: 60)
        #expect(r.status == 0, "\(label): \(r.stdoutText)\(r.stderrText)", sourceLocation: sourceLocation)
    }
}

/// Real sockets of every kind this host can make on loopback, and every JSON mode's real output
/// validated against the schema; `backlog` is checked against the listener's real backlog.
@Suite(.serialized, .requires(SchemaCheck.jsonschema)) struct SchemaTests {
    /// A listener with backlog 7 and two connections, an IPv6 listener with one, a socket in
    /// TIME_WAIT, UDP bound and connected, and a named child process holding a listener.
    final class Load {
        let listener: TestSocket, listener6: TestSocket
        var keep: [TestSocket] = []
        let child: MapChild, client: MapChild

        init() throws {
            listener = try Loopback.tcpListener("127.0.0.1", backlog: 7)
            listener6 = try Loopback.tcpListener("::1", backlog: 5)
            for _ in 0..<2 { let (c, s) = try Loopback.tcpPair(listener); keep += [c, s] }
            let (c6, s6) = try Loopback.tcpPair(listener6)
            keep += [c6, s6]
            try Loopback.send(c6, Array("hello".utf8))
            // The end that closes first holds TIME_WAIT: a socket without inode or tcp_info.
            do { let (c, s) = try Loopback.tcpPair(listener); _ = c; _ = s }
            let u = try Loopback.udp("127.0.0.1")
            keep += [u, try Loopback.udp("127.0.0.1", connectTo: u.local)]
            child = try MapChild(name: "sscSchema", arguments: ["server"])
            client = try MapChild(name: "sscSchemaC", arguments: ["client", String(child.port), "2"])
        }

        var ports: String { "\(listener.local.port),\(listener6.local.port),\(child.port)" }

        deinit { client.stop(); child.stop() }
    }

    func output(_ args: [String]) throws -> [UInt8] {
        let r = try Binary.sockscope(args)
        try #require(r.status == 0, "sockscope \(args.joined(separator: " ")): exit \(r.status): \(r.stderrText)")
        return Array(r.stdout)
    }

    @Test func listingOfEveryKindValidates() throws {
        let load = try Load()
        for args in [["-tuapie", "--json"], ["-a", "--json"], ["-a", "--json", "-e", "-p", "-i", "-m"],
                     ["-a", "--json", "-e", "-p", "-n"], ["-a", "--json", "--source", "proc", "-e", "-p"],
                     ["-l", "--json", "--port", load.ports], ["-a", "--format", "json", "-4", "--sort", "state,-recv-q"],
                     // Every other family: UNIX (with both ends' owners), raw, packet, MPTCP, netlink.
                     ["-xa", "--json", "-p", "-e"], ["-A", "all", "-a", "--json"], ["-xa", "--json", "--source", "proc"]] {
            try SchemaCheck.validate(try output(args), as: "listing", args.joined(separator: " "))
        }
    }

    /// `backlog` is the listener's real backlog from netlink, equal to `send_q`; /proc has none.
    @Test func listenerBacklogIsExplicit() throws {
        let load = try Load()
        func row(_ source: String) throws -> [String: Any] {
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(try output(
                ["-tl", "--json", "--source", source, "--sport", String(load.listener.local.port)]))) as? [[String: Any]])
            try #require(rows.count == 1, "\(rows)")
            return rows[0]
        }
        let netlink = try row("netlink")
        #expect(netlink["backlog"] as? Int == 7 && netlink["send_q"] as? Int == 7, "\(netlink)")
        let proc = try row("proc")
        #expect(proc["backlog"] == nil && proc["send_q"] as? Int == 0, "\(proc)")
        // Only listeners carry it.
        let all = try #require(try JSONSerialization.jsonObject(with: Data(try output(
            ["-ta", "--json", "--port", String(load.listener.local.port)]))) as? [[String: Any]])
        #expect(all.count >= 5)
        #expect(all.allSatisfy { ($0["backlog"] != nil) == ($0["state"] as? String == "LISTEN") }, "\(all)")
    }

    @Test func summaryListenersAndMapValidate() throws {
        let load = try Load()
        try SchemaCheck.validate(try output(["-s", "--json"]), as: "summary", "-s --json")
        try SchemaCheck.validate(try output(["-s", "--json", "-t", "--source", "proc"]), as: "summary", "-s --json proc")
        try SchemaCheck.validate(try output(["--listeners", "--json"]), as: "listeners", "--listeners --json")
        try SchemaCheck.validate(try output(["--listeners", "--json", "--source", "proc"]), as: "listeners", "--listeners proc")
        let map = try output(["--map", "--json", "-i", "--port", load.ports])
        #expect(String(decoding: map, as: UTF8.self).contains("sscSchemaC"))
        try SchemaCheck.validate(map, as: "map", "--map --json -i")
        try SchemaCheck.validate(try output(["--map", "--json", "-n"]), as: "map", "--map --json -n")
    }

    /// The event stream sees a snapshot, then an open, a state change or close as this test makes them.
    @Test func eventStreamLinesValidate() throws {
        let load = try Load()
        let snapshot = try output(["-w", "--json", "-a", "-e", "-p", "-i", "-m", "--count", "1"])
        #expect(String(decoding: snapshot, as: UTF8.self).contains(#""event":"snapshot""#))
        try SchemaCheck.validate(snapshot, as: "event", "-w --json snapshot")
        // Changes between refreshes: a new connection opens while the stream runs, an old one closes.
        let port = String(load.listener.local.port)
        let stream = Process()
        stream.executableURL = URL(fileURLWithPath: Binary.sockscope)
        stream.arguments = ["-w", "--json", "-t", "-a", "--port", port, "--interval", "0.2", "--count", "30"]
        let out = Pipe()
        stream.standardOutput = out
        stream.standardError = FileHandle.nullDevice
        try stream.run()
        let first = out.readFirstLine()
        #expect(!first.isEmpty)
        let (c, s) = try Loopback.tcpPair(load.listener)
        load.keep.removeFirst(2)  // an established pair closes (close / state events)
        _ = (c, s)
        stream.waitUntilExit()
        let rest = Array(first) + [0x0A] + Array(out.fileHandleForReading.readDataToEndOfFile())
        let text = String(decoding: rest, as: UTF8.self)
        #expect(text.contains(#""event":"open""#) && text.contains(#""event":"close""#) || text.contains(#""event":"state""#), "\(text)")
        try SchemaCheck.validate(rest, as: "event", "-w --json changes")
    }

    @Test func portWatchLinesValidate() throws {
        let load = try Load()
        let up = try output(["--until-up", String(load.listener.local.port), "--json", "--timeout", "10"])
        #expect(String(decoding: up, as: UTF8.self).contains(#""event":"up""#))
        try SchemaCheck.validate(up, as: "port_event", "--until-up --json")
        let down = try Binary.sockscope(["--watch-port", "1", "--json", "--count", "1"])
        #expect(down.status == 0)
        try SchemaCheck.validate(Array(down.stdout), as: "port_event", "--watch-port --json")
    }
}
