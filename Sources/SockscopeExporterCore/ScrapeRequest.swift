import FoundationEssentials

/// What the exporter reads from a scrape request's headers, beyond what the HTTP library parses:
/// every value here comes from the network and is checked, never trusted.
public enum ScrapeRequest {
    /// Seconds a scrape may wait: Prometheus' own timeout (`X-Prometheus-Scrape-Timeout-Seconds`)
    /// less a margin for sending the answer, never more than `limit` (`--web.scrape-timeout`).
    /// A missing, unparsable, zero, negative or non-finite header leaves `limit`.
    public static func deadline(header: String?, limit: Double) -> Double {
        guard let h = header, let t = Double(h), t > 0, t.isFinite else { return limit }
        return min(limit, max(0.05, t - min(0.5, t * 0.1)))
    }

    /// The longest `Authorization` value looked at: a basic credential is a few dozen bytes.
    public static let maxAuthorizationBytes = 4096

    /// The user and password of an HTTP basic `Authorization` value (`Basic base64(user:password)`,
    /// the scheme case-insensitive), nil for anything else: another scheme, bad base64, a decoded
    /// value that is not UTF-8 or has no colon, or a value longer than `maxAuthorizationBytes`.
    /// The user never contains a colon (the first one ends it, as RFC 7617 says).
    public static func basicCredentials(authorization: String?) -> (user: String, password: String)? {
        guard let authorization else { return nil }
        let bytes = Array(authorization.utf8)
        // The scheme is matched on bytes: a case mapping of the whole value could change its length.
        guard bytes.count < maxAuthorizationBytes, bytes.count >= 6,
              String(decoding: bytes[0..<5], as: UTF8.self).lowercased() == "basic", bytes[5] == 0x20 else { return nil }
        var token = bytes[6...]
        while let f = token.first, f == 0x20 || f == 0x09 { token = token.dropFirst() }
        while let l = token.last, l == 0x20 || l == 0x09 { token = token.dropLast() }
        guard let data = Data(base64Encoded: Data(token)),
              let pair = String(validating: Array(data), as: UTF8.self),
              let colon = pair.utf8.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        return (String(pair[..<colon]), String(pair[pair.utf8.index(after: colon)...]))
    }
}
