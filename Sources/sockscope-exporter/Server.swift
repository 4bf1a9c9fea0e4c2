import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOPosix
import SockscopeExporterCore
import SockscopeRender
import SockscopeSystem
#if canImport(Glibc)
import Glibc
#endif

struct ServerSettings: Sendable {
    var address: ListenAddress
    var telemetryPath: String
    var web: WebConfig
    var maxConnections: Int
    var idleTimeout: Double
    var scrapeTimeout: Double
}

extension WebConfig: @unchecked Sendable {}

/// The HTTP side: hummingbird on one event loop thread (an exporter answers a few scrapes a second;
/// more threads would only add memory), HTTP/1.1 with header limits and an idle timeout, optional
/// TLS and basic auth. All request parsing is the library's.
enum MetricsServer {
    /// Header limits: a scrape's headers are a few hundred bytes; 16 KiB each and in all is generous,
    /// and a client sending more is answered 431 and closed instead of being buffered.
    static let maxHeaderBytes = 16 * 1024
    static let maxHeaderCount = 100

    static func run(settings: ServerSettings, service: ScrapeService) -> Int32 {
        var logger = Logger(label: "sockscope-exporter")
        logger.logLevel = .warning
        let auth = settings.web.users.isEmpty ? nil : BasicAuthChecker(users: settings.web.users)
        let router = Router()
        let path = settings.telemetryPath
        let scrapeTimeout = settings.scrapeTimeout
        router.get(RouterPath(path)) { request, _ -> Response in
            if let auth, !auth.check(authorization: request.headers[.authorization]) {
                return text(.unauthorized, "Unauthorized\n",
                            extra: [.wwwAuthenticate: "Basic realm=\"sockscope-exporter\", charset=\"UTF-8\""])
            }
            let format = ExpositionFormat.negotiate(accept: request.headers[.accept])
            let header = request.headers.first { $0.name.canonicalName == "x-prometheus-scrape-timeout-seconds" }
            let timeout = ScrapeRequest.deadline(header: header?.value, limit: scrapeTimeout)
            switch await service.scrape(timeout: timeout) {
            case .metrics(let m):
                let payload = m.payload(format)
                var buffer = ByteBufferAllocator().buffer(capacity: payload.count)
                buffer.writeBytes(payload)
                return Response(status: .ok, headers: [.contentType: format.contentType], body: .init(byteBuffer: buffer))
            case .unavailable(let reason):
                return text(.serviceUnavailable, reason + "\n")
            }
        }
        router.get("/") { request, _ -> Response in
            if let auth, !auth.check(authorization: request.headers[.authorization]) {
                return text(.unauthorized, "Unauthorized\n",
                            extra: [.wwwAuthenticate: "Basic realm=\"sockscope-exporter\", charset=\"UTF-8\""])
            }
            return text(.ok, "sockscope-exporter \(exporterVersion): metrics at \(path)\n")
        }

        // Descriptors: keep room for the namespace threads' sockets and /proc reads.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let maxConnections = max(1, min(settings.maxConnections, Int(min(limit.rlim_cur, 1 << 20)) - 256))
        if maxConnections < settings.maxConnections {
            FileOutput.standardError("sockscope-exporter: --web.max-connections lowered to \(maxConnections) (open files limit \(limit.rlim_cur))")
        }
        let http1 = HTTPServerBuilder.http1(configuration: .init(
            idleTimeout: .milliseconds(Int64(settings.idleTimeout * 1000)),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: maxHeaderBytes, maxHeaderListSize: maxHeaderBytes,
                                            maxHeaderFieldCount: maxHeaderCount)))
        let server: HTTPServerBuilder
        let scheme: String
        do {
            if let tls = try settings.web.tlsConfiguration() {
                server = try .tls(http1, tlsConfiguration: tls)
                scheme = "https"
            } else {
                server = http1
                scheme = "http"
            }
        } catch {
            FileOutput.standardError("sockscope-exporter: \(error)")
            return 2
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let app = Application(
            router: router, server: server,
            configuration: .init(address: .hostname(settings.address.host, port: settings.address.port),
                                 serverName: nil, backlog: 256,
                                 availableConnectionsDelegate: MaximumAvailableConnections(maxConnections)),
            onServerRunning: { channel in
                // Tests and scripts read the bound port from this line (with port 0 it is chosen here).
                let bound = channel.localAddress.map { a -> String in
                    let host = a.ipAddress ?? settings.address.host
                    return (host.contains(":") ? "[\(host)]" : host) + ":" + String(a.port ?? settings.address.port)
                } ?? "\(settings.address.host):\(settings.address.port)"
                // Start-up is over: its code need not stay mapped (see `ProcessMemory.dropStartupText`).
                ProcessMemory.dropStartupText()
                FileOutput.standardError("sockscope-exporter: listening on \(scheme)://\(bound)\(path)")
            },
            eventLoopGroupProvider: .shared(group), logger: logger)
        let status = RunStatus()
        let done = DispatchSemaphoreBox()
        Task {
            do {
                try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
            } catch {
                FileOutput.standardError("sockscope-exporter: cannot serve on \(settings.address.host):\(settings.address.port): \(error)")
                status.set(1)
            }
            done.signal()
        }
        done.wait()
        service.shutdown()
        try? group.syncShutdownGracefully()
        return status.get()
    }

    static func text(_ status: HTTPResponse.Status, _ body: String, extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

import Dispatch
import Synchronization

final class RunStatus: Sendable {
    private let value = Mutex<Int32>(0)
    func set(_ v: Int32) { value.withLock { $0 = v } }
    func get() -> Int32 { value.withLock { $0 } }
}

final class DispatchSemaphoreBox: Sendable {
    private let s = DispatchSemaphore(value: 0)
    func signal() { s.signal() }
    func wait() { s.wait() }
}
