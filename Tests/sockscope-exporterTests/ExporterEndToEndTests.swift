import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The built exporter, scraped over HTTP on loopback; a real promtool and Prometheus check it.
@Suite(.serialized) struct ExporterEndToEndTests {
    /// A listener of backlog 2 that never accepts, with three clients: its accept queue is full.
    final class FullListener {
        let listener: TestSocket
        let clients: [TestSocket]
        var port: UInt16 { listener.local.port }
        init() throws {
            let l = try Loopback.tcpListener(backlog: 2)
            listener = l
            clients = try (0..<3).map { _ in try Loopback.tcpConnect("127.0.0.1", l.local.port) }
        }
    }

    static let prometheusAccept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
        + "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

    func promtoolCheck(_ payload: String) throws -> RunResult {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-promtool-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("scrape.prom")
        try Data(payload.utf8).write(to: file)
        let input = try FileHandle(forReadingFrom: file)
        defer { try? input.close() }
        return try Binary.run(try Requirement.tool("promtool", package: "prometheus").path(), ["check", "metrics"], stdin: input)
    }

    /// (a) promtool accepts the scrape in the text format (lint included); (b) queue and backlog equal
    /// `sockscope --listeners --json`; the OpenMetrics payload ends in `# EOF`.
    @Test(.requires(.tool("promtool", package: "prometheus")))
    func scrapeMatchesSockscopeAndPassesPromtool() throws {
        let full = try FullListener()
        let exporter = try ExporterProcess(["--min-interval", "0"])
        defer { exporter.stop() }
        let labels = ["netns": "host", "address": "127.0.0.1", "port": String(full.port)]
        var answer = try HTTP.get(exporter.port)
        // The handshakes complete in the kernel: poll (bounded) until all three are queued.
        for _ in 0..<100 where metricValue(answer.body, "sockscope_listener_queue", labels) != 3 {
            usleep(20_000)
            answer = try HTTP.get(exporter.port)
        }
        #expect(answer.status == 200)
        #expect(answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let check = try promtoolCheck(answer.body)
        #expect(check.status == 0, "promtool check metrics: \(check.stdoutText) \(check.stderrText)")

        let listeners = try Binary.sockscope(["--listeners", "--json", "--port", String(full.port)])
        #expect(listeners.status == 0)
        let json = try JSONSerialization.jsonObject(with: listeners.stdout) as? [[String: Any]]
        let entry = try #require(json?.first)
        #expect(metricValue(answer.body, "sockscope_listener_queue", labels) == (entry["accept_queue"] as? Double))
        #expect(metricValue(answer.body, "sockscope_listener_backlog", labels) == (entry["backlog"] as? Double))
        #expect(metricValue(answer.body, "sockscope_listener_backlog", labels) == 2)
        #expect(metricValue(answer.body, "sockscope_listener_connections", labels) == (entry["established"] as? Double))

        let om = try HTTP.get(exporter.port, headers: ["Accept": Self.prometheusAccept])
        #expect(om.status == 200)
        #expect(om.headers["content-type"] == "application/openmetrics-text; version=1.0.0; charset=utf-8")
        #expect(om.body.hasSuffix("# EOF\n"))
        #expect(om.body.contains("# TYPE sockscope_listen_overflows counter\n"))
        #expect(om.body.contains("# UNIT sockscope_scrape_duration_seconds seconds\n"))
        #expect(try HTTP.get(exporter.port, "/nothing").status == 404)
    }

    /// (c) A real Prometheus (temporary data directory, loopback, 1 s scrape interval) scrapes the
    /// exporter, and its query API returns the listener's backlog of 2.
    @Test(.requires(.tool("prometheus")))
    func realPrometheusScrapesTheBacklog() throws {
        let full = try FullListener()
        let exporter = try ExporterProcess([])
        defer { exporter.stop() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-prometheus-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: sockscope
                static_configs:
                  - targets: ['127.0.0.1:\(exporter.port)']
            """
        try Data(config.utf8).write(to: dir.appendingPathComponent("prometheus.yml"))
        // A port for Prometheus: bound and released here (the kernel will not hand it out again at once).
        let promPort = try { () throws -> UInt16 in try Loopback.tcpListener().local.port }()
        let prom = Process()
        prom.executableURL = URL(fileURLWithPath: try Requirement.tool("prometheus").path())
        prom.arguments = ["--config.file", dir.appendingPathComponent("prometheus.yml").path,
                          "--storage.tsdb.path", dir.appendingPathComponent("data").path,
                          "--web.listen-address", "127.0.0.1:\(promPort)"]
        prom.standardOutput = FileHandle.nullDevice
        prom.standardError = FileHandle.nullDevice
        try prom.run()
        defer {
            kill(prom.processIdentifier, SIGTERM)
            let end = Date().addingTimeInterval(10)
            while prom.isRunning && Date() < end { usleep(20_000) }
            if prom.isRunning { kill(prom.processIdentifier, SIGKILL) }
            prom.waitUntilExit()
        }
        let query = "sockscope_listener_backlog{port=\"\(full.port)\",address=\"127.0.0.1\"}"
        let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        var value: String?
        var last = ""
        let end = Date().addingTimeInterval(60)
        while Date() < end && value == nil {
            usleep(250_000)
            guard let a = try? HTTP.get(promPort, "/api/v1/query?query=\(encoded)"), a.status == 200 else { continue }
            last = a.body
            let json = try? JSONSerialization.jsonObject(with: Data(a.body.utf8)) as? [String: Any]
            let result = ((json?["data"] as? [String: Any])?["result"] as? [[String: Any]]) ?? []
            value = (result.first?["value"] as? [Any])?.last as? String
        }
        #expect(value == "2", "Prometheus answered: \(last)")
        // The target is healthy: Prometheus parsed every scrape (OpenMetrics, negotiated).
        let targets = try HTTP.get(promPort, "/api/v1/targets")
        #expect(targets.body.contains("\"health\":\"up\""), "\(targets.body.prefix(2000))")
    }

    /// (d) The shipped alerting rules pass promtool, and their unit tests (alerts fire on the series
    /// this exporter writes) pass too.
    @Test(.requires(.tool("promtool", package: "prometheus")))
    func shippedRules() throws {
        let promtool = try Requirement.tool("promtool", package: "prometheus").path()
        let rules = repositoryRoot.appendingPathComponent("contrib/exporter/sockscope-alerts.yml").path
        let check = try Binary.run(promtool, ["check", "rules", rules])
        #expect(check.status == 0, "\(check.stdoutText) \(check.stderrText)")
        let tests = repositoryRoot.appendingPathComponent("contrib/exporter/sockscope-alerts.test.yml").path
        let run = try Binary.run(promtool, ["test", "rules", tests])
        #expect(run.status == 0, "\(run.stdoutText) \(run.stderrText)")
        let config = try Binary.run(promtool, ["check", "config", repositoryRoot.appendingPathComponent("contrib/exporter/prometheus.yml").path])
        #expect(config.status == 0, "\(config.stdoutText) \(config.stderrText)")
    }

    /// `--all-netns`: a namespace made here (ip netns add) is read by its own thread; its listener
    /// appears under its name only, the host's under `host` only.
    @Test(.requires(.root, .tool("ip", package: "iproute2"), .tool("python3")))
    func everyNamespace() throws {
        let ip = try Requirement.tool("ip", package: "iproute2").path()
        let name = "sockscope-exp-\(getpid())"
        #expect(try Binary.run(ip, ["netns", "add", name]).status == 0)
        defer { _ = try? Binary.run(ip, ["netns", "del", name]) }
        #expect(try Binary.run(ip, ["-n", name, "link", "set", "lo", "up"]).status == 0)
        let host = try FullListener()
        // A listener of backlog 7 inside the namespace, on the same port number as the host's.
        let script = "import socket,sys\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            + "s.bind(('127.0.0.1', \(host.port))); s.listen(7); print('ready', flush=True); sys.stdin.read()"
        let child = Process()
        child.executableURL = URL(fileURLWithPath: ip)
        child.arguments = ["netns", "exec", name, try Requirement.tool("python3").path(), "-c", script]
        let input = Pipe(), output = Pipe()
        child.standardInput = input
        child.standardOutput = output
        child.standardError = FileHandle.nullDevice
        try child.run()
        defer { try? input.fileHandleForWriting.close(); child.waitUntilExit() }
        let ready = output.fileHandleForReading.availableData
        #expect(String(decoding: ready, as: UTF8.self).hasPrefix("ready"))

        let exporter = try ExporterProcess(["--all-netns"])
        defer { exporter.stop() }
        let body = try HTTP.get(exporter.port).body
        let port = String(host.port)
        #expect(metricValue(body, "sockscope_netns_up", ["netns": name]) == 1)
        #expect(metricValue(body, "sockscope_netns_up", ["netns": "host"]) == 1)
        #expect(metricValue(body, "sockscope_listener_backlog", ["netns": name, "port": port]) == 7)
        #expect(metricValue(body, "sockscope_listener_backlog", ["netns": "host", "port": port]) == 2)
        #expect(metricValue(body, "sockscope_listener_queue", ["netns": name, "port": port]) == 0)
        // Per-namespace /proc/sys: the namespace's ephemeral range is its own (the default here).
        #expect(metricValue(body, "sockscope_ephemeral_ports_range", ["netns": name]) != nil)
        // The namespace goes away: the next collection no longer lists it.
        try? input.fileHandleForWriting.close()
        child.waitUntilExit()
        #expect(try Binary.run(ip, ["netns", "del", name]).status == 0)
        var later = ""
        for _ in 0..<50 {
            usleep(100_000)
            later = try HTTP.get(exporter.port).body
            if metricValue(later, "sockscope_netns_up", ["netns": name]) == nil { break }
        }
        #expect(metricValue(later, "sockscope_netns_up", ["netns": name]) == nil)
    }

    /// A scrape whose collection cannot finish by its deadline gets 503 and the reason, not a part
    /// of a payload; the collection goes on and answers the next scrape. No dump of the host's
    /// tables finishes within a microsecond's --web.scrape-timeout. (A FIFO given as a namespace no
    /// longer blocks: it is refused at once, see ScrapeServiceTests.)
    @Test func pastTheDeadlineIs503() throws {
        let exporter = try ExporterProcess(["--min-interval", "60", "--web.scrape-timeout", "0.000001"])
        defer { exporter.stop() }
        let a = try HTTP.get(exporter.port)
        #expect(a.status == 503)
        #expect(a.body.contains("collection still running"), "\(a.body)")
        #expect(!a.body.contains("sockscope_"))
        // The collection ends on its own; within --min-interval it answers every scrape.
        var b = try HTTP.get(exporter.port)
        let deadline = Date().addingTimeInterval(20)
        while b.status != 200 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            b = try HTTP.get(exporter.port)
        }
        #expect(b.status == 200)
        #expect(b.body.contains("sockscope_sockets{"))
    }

    /// Usage errors are one line and status 2.
    @Test func badArguments() throws {
        for args in [["--collector.nonsense"], ["--filter", "sport = :nosuchservice"], ["--web.listen-address", "nowhere"],
                     ["--max-series", "-1"], ["--netns", "sockscope-no-such-ns"], ["--min-interval", "x"]] {
            let r = try Binary.run(exporterBinary, args, timeout: 20)
            #expect(r.status == 2, "\(args): \(r.stderrText)")
            #expect(r.stderrText.hasPrefix("sockscope-exporter: "), "\(args): \(r.stderrText)")
        }
    }

    /// Basic auth from a web config file: 401 without or with wrong credentials, 200 with them.
    @Test func basicAuth() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-webcfg-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // bcrypt("s3cret", cost 4), made with libxcrypt, with the $2y$ prefix htpasswd -B writes.
        let file = dir.appendingPathComponent("web.yml")
        try Data("basic_auth_users:\n  prom: $2y$04$sy.gcACcbTfrtePVxZsGOeemb3AQBcfF4.q56leoxWeI3q2kykYjC\n".utf8).write(to: file)
        let exporter = try ExporterProcess(["--web.config.file", file.path])
        defer { exporter.stop() }
        #expect(try HTTP.get(exporter.port).status == 401)
        let wrong = Data("prom:nope".utf8).base64EncodedString()
        #expect(try HTTP.get(exporter.port, headers: ["Authorization": "Basic \(wrong)"]).status == 401)
        let right = Data("prom:s3cret".utf8).base64EncodedString()
        #expect(try HTTP.get(exporter.port, headers: ["Authorization": "Basic \(right)"]).status == 200)
    }

    /// TLS from the web config (a self-signed certificate made here): curl gets the metrics over
    /// https; plain http on the same port gets no answer it could read as metrics.
    @Test(.requires(.tool("openssl"), .tool("curl")))
    func tls() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-tls-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let made = try Binary.run(try Requirement.tool("openssl").path(), [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", dir.appendingPathComponent("key.pem").path, "-out", dir.appendingPathComponent("cert.pem").path])
        #expect(made.status == 0, "\(made.stderrText)")
        // Relative paths: resolved against the config file's directory.
        try Data("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n".utf8)
            .write(to: dir.appendingPathComponent("web.yml"))
        let exporter = try ExporterProcess(["--web.config.file", dir.appendingPathComponent("web.yml").path])
        defer { exporter.stop() }
        #expect(exporter.stderrLines.withLock { $0.contains { $0.contains("listening on https://") } })
        let curl = try Binary.run(try Requirement.tool("curl").path(), [
            "-sS", "--max-time", "20", "--cacert", dir.appendingPathComponent("cert.pem").path,
            "https://127.0.0.1:\(exporter.port)/metrics"])
        #expect(curl.status == 0, "\(curl.stderrText)")
        #expect(curl.stdoutText.contains("sockscope_build_info{version="))
        let plain = try? HTTP.get(exporter.port)
        #expect(plain?.body.contains("sockscope_build_info") != true)
        // A config key that would do nothing here is refused at start-up.
        try Data("tls_server_config:\n  client_ca_file: ca.pem\n".utf8).write(to: dir.appendingPathComponent("bad.yml"))
        let bad = try Binary.run(exporterBinary, ["--web.config.file", dir.appendingPathComponent("bad.yml").path], timeout: 20)
        #expect(bad.status == 2 && bad.stderrText.contains("client_ca_file is not supported"), "\(bad.stderrText)")
    }

    /// Abuse: headers trickled byte by byte, oversized headers and garbage, while other clients
    /// keep being answered; the exporter stays up.
    @Test func abusiveClients() throws {
        let exporter = try ExporterProcess([])
        defer { exporter.stop() }
        // Trickle a valid request one byte at a time; scrape meanwhile.
        let slow = try HTTP.connect(exporter.port)
        defer { close(slow) }
        let request = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        for (i, b) in request.enumerated() {
            try HTTP.send(slow, [b])
            if i % 16 == 0 { #expect(try HTTP.get(exporter.port).status == 200) }
            usleep(10_000)
        }
        #expect(HTTP.parse(HTTP.readAll(slow))?.status == 200)

        // Oversized headers (past the 16 KiB limit): refused and closed, never buffered without end.
        let big = try HTTP.connect(exporter.port)
        defer { close(big) }
        let huge = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 256 * 1024) + "\r\n\r\n"
        try? HTTP.send(big, Array(huge.utf8))
        let bigAnswer = HTTP.parse(HTTP.readAll(big))
        #expect(bigAnswer?.status == 400 || bigAnswer?.status == 431, "\(String(describing: bigAnswer?.status))")

        // Garbage: not HTTP at all.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            let g = try HTTP.connect(exporter.port)
            try? HTTP.send(g, (0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) })
            let a = HTTP.parse(HTTP.readAll(g))
            #expect(a?.status == 400, "\(String(describing: a?.status))")
            close(g)
        }
        #expect(try HTTP.get(exporter.port).status == 200)
    }

    /// A thousand idle connections held open: another client is still answered, the exporter's
    /// descriptors and memory stay bounded.
    @Test func thousandIdleConnections() throws {
        raiseOpenFiles(to: 4096)
        let exporter = try ExporterProcess([])
        defer { exporter.stop() }
        _ = try HTTP.get(exporter.port)
        let rssBefore = exporter.rssKiB
        var idle: [Int32] = []
        defer { for fd in idle { close(fd) } }
        for i in 0..<1000 {
            idle.append(try HTTP.connect(exporter.port))
            // Half of them send a partial request line and stop.
            if i % 2 == 0 { try HTTP.send(idle.last!, Array("GET /met".utf8)) }
        }
        let answer = try HTTP.get(exporter.port)
        #expect(answer.status == 200)
        #expect(answer.body.contains("sockscope_build_info"))
        let fds = exporter.openFiles
        #expect(fds > 1000 && fds < 1200, "exporter holds \(fds) descriptors")
        let rssAfter = exporter.rssKiB
        #expect(rssAfter - rssBefore < 48 * 1024, "RSS grew from \(rssBefore) to \(rssAfter) KiB")
    }

    /// 64 concurrent scrapes: all answered, from one collection.
    @Test func concurrentScrapesShareOneCollection() throws {
        let full = try FullListener()
        let exporter = try ExporterProcess(["--min-interval", "60"])
        defer { exporter.stop() }
        let results = Mutex64()
        DispatchQueue.concurrentPerform(iterations: 64) { _ in
            let a = try? HTTP.get(exporter.port)
            results.append(a.map { ($0.status, metricValue($0.body, "sockscope_collections_total", [:])) })
        }
        let all = results.values
        #expect(all.count == 64)
        #expect(all.allSatisfy { $0?.0 == 200 })
        #expect(Set(all.map { $0?.1 }) == [1], "collections seen: \(Set(all.map { $0?.1 }))")
        _ = full
    }
}

final class Mutex64: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(Int, Double?)?] = []
    func append(_ v: (Int, Double?)?) { lock.lock(); items.append(v); lock.unlock() }
    var values: [(Int, Double?)?] { lock.lock(); defer { lock.unlock() }; return items }
}
