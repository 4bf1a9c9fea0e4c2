import Foundation
import HummingbirdBcrypt
import SockscopeExporterCore
import NIOSSL
import Synchronization
import Yams

/// `--web.config.file`, in the Prometheus exporter-toolkit's format (the same file node_exporter
/// takes). Supported: `tls_server_config` (`cert_file`, `key_file`, `min_version`, `max_version`)
/// and `basic_auth_users` (name → bcrypt hash). Any other key is refused rather than ignored: a
/// setting that silently does nothing (client certificates, say) would be a false sense of safety.
struct WebConfig {
    var certFile: String?
    var keyFile: String?
    var minVersion: TLSVersion?
    var maxVersion: TLSVersion?
    var users: [String: String] = [:]

    struct Invalid: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    static func load(path: String) throws -> WebConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw Invalid("cannot read \(path)") }
        guard let text = String(data: data, encoding: .utf8) else { throw Invalid("\(path) is not UTF-8 text") }
        let base = (path as NSString).deletingLastPathComponent
        return try parse(text, relativeTo: base.isEmpty ? "." : base, name: path)
    }

    /// Paths in the file are relative to the file's directory, as in exporter-toolkit.
    static func parse(_ text: String, relativeTo base: String, name: String) throws -> WebConfig {
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch { throw Invalid("\(name): not valid YAML: \(error)") }
        var c = WebConfig()
        guard let root else { return c }  // an empty file: plain HTTP, no users
        guard let top = root as? [String: Any] else { throw Invalid("\(name): expected a mapping at the top level") }
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : base + "/" + p }
        for (key, value) in top {
            switch key {
            case "tls_server_config":
                guard let tls = value as? [String: Any] else { throw Invalid("\(name): tls_server_config must be a mapping") }
                for (k, v) in tls {
                    guard let s = v as? String else { throw Invalid("\(name): tls_server_config.\(k) must be a string") }
                    switch k {
                    case "cert_file": c.certFile = resolve(s)
                    case "key_file": c.keyFile = resolve(s)
                    case "min_version": c.minVersion = try version(s, name)
                    case "max_version": c.maxVersion = try version(s, name)
                    default: throw Invalid("\(name): tls_server_config.\(k) is not supported by sockscope-exporter")
                    }
                }
                if (c.certFile == nil) != (c.keyFile == nil) {
                    throw Invalid("\(name): tls_server_config needs both cert_file and key_file")
                }
            case "basic_auth_users":
                if value is NSNull { continue }
                guard let users = value as? [String: Any] else { throw Invalid("\(name): basic_auth_users must be a mapping") }
                for (user, hash) in users {
                    guard let h = hash as? String, h.hasPrefix("$2") else {
                        throw Invalid("\(name): basic_auth_users.\(user) must be a bcrypt hash ($2y$..., as htpasswd -B writes)")
                    }
                    c.users[user] = h
                }
            default:
                throw Invalid("\(name): \(key) is not supported by sockscope-exporter")
            }
        }
        return c
    }

    static func version(_ s: String, _ name: String) throws -> TLSVersion {
        switch s {
        case "TLS10": return .tlsv1
        case "TLS11": return .tlsv11
        case "TLS12": return .tlsv12
        case "TLS13": return .tlsv13
        default: throw Invalid("\(name): unknown TLS version \(s) (TLS10, TLS11, TLS12 or TLS13)")
        }
    }

    /// The TLS configuration, nil without `tls_server_config`. Reads the certificate and key now,
    /// so that a bad file is a start-up error.
    func tlsConfiguration() throws -> TLSConfiguration? {
        guard let certFile, let keyFile else { return nil }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(certFile) } catch {
            throw Invalid("cannot load cert_file \(certFile): \(error)")
        }
        do { key = try NIOSSLPrivateKey(file: keyFile, format: .pem) } catch {
            throw Invalid("cannot load key_file \(keyFile): \(error)")
        }
        guard !chain.isEmpty else { throw Invalid("cert_file \(certFile) holds no certificate") }
        var t = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                         privateKey: .privateKey(key))
        t.minimumTLSVersion = minVersion ?? .tlsv12
        if let maxVersion { t.maximumTLSVersion = maxVersion }
        return t
    }
}

/// Checks HTTP basic credentials against bcrypt hashes.
///
/// bcrypt is slow on purpose (about 50–100 ms at cost 10 on this machine's cores): a scrape every
/// second must not pay it each time, so a pair that verified is remembered (at most 64 pairs).
/// An unknown user still costs one verification, against a fixed hash, so response time does not
/// tell which users exist.
final class BasicAuthChecker: Sendable {
    let users: [String: String]
    private let verified = Mutex<Set<String>>([])
    /// A hash of nothing anyone knows, at the cost the configured hashes use.
    private let dummyHash: String

    init(users: [String: String]) {
        self.users = users
        let cost = users.values.first.flatMap { h -> UInt8? in
            let parts = h.split(separator: "$")
            return parts.count >= 2 ? UInt8(parts[1]) : nil
        } ?? 10
        dummyHash = users.isEmpty ? "" : Bcrypt.hash(String(UInt64.random(in: 0...UInt64.max)), cost: min(max(cost, 4), 16))
    }

    /// True for a `user:password` the configuration accepts.
    func check(authorization: String?) -> Bool {
        guard let (user, password) = ScrapeRequest.basicCredentials(authorization: authorization) else { return false }
        guard let hash = users[user] else {
            _ = Bcrypt.verify(password, hash: dummyHash)
            return false
        }
        let key = user + "\u{0}" + password + "\u{0}" + hash
        if verified.withLock({ $0.contains(key) }) { return true }
        // htpasswd writes $2y$, the same algorithm as $2b$, which is what the bcrypt code reads.
        let normalized = hash.hasPrefix("$2y$") ? "$2b$" + hash.dropFirst(4) : hash
        guard Bcrypt.verify(password, hash: normalized) else { return false }
        verified.withLock { v in
            if v.count >= 64 { v.removeAll() }
            v.insert(key)
        }
        return true
    }
}
