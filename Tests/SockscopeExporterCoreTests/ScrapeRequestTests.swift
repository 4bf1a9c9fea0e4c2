import SockscopeExporterCore
import Testing

/// The request headers the exporter reads itself (the HTTP library parses the rest).
@Suite struct ScrapeRequestTests {
    @Test func deadlineFollowsPrometheusHeaderWithinTheLimit() {
        #expect(ScrapeRequest.deadline(header: nil, limit: 10) == 10)
        #expect(ScrapeRequest.deadline(header: "10", limit: 30) == 9.5)
        #expect(ScrapeRequest.deadline(header: "2", limit: 30) == 1.8)
        #expect(ScrapeRequest.deadline(header: "60", limit: 30) == 30)
        #expect(ScrapeRequest.deadline(header: "0.01", limit: 30) == 0.05)
        for bad in ["", "0", "-1", "nan", "inf", "1e400", "ten", "1e-400"] {
            #expect(ScrapeRequest.deadline(header: bad, limit: 7) == 7, "\(bad)")
        }
    }

    @Test func basicCredentialsAreDecodedOrRefused() {
        func pair(_ v: String?) -> [String]? { ScrapeRequest.basicCredentials(authorization: v).map { [$0.user, $0.password] } }
        #expect(pair("Basic dXNlcjpwYXNz") == ["user", "pass"])
        #expect(pair("bAsIc   dXNlcjpwYXNz \t") == ["user", "pass"], "the scheme in any case, blanks around the token")
        #expect(pair("Basic YTpiOmM=") == ["a", "b:c"], "the first colon ends the user")
        #expect(pair("Basic Og==") == ["", ""])
        #expect(pair("Basic w7bDpDrDvA==") == ["öä", "ü"])
        for bad in [nil, "", "Basic", "Basic ", "Bearer dXNlcjpwYXNz", "Basicx dXNlcjpwYXNz", "Basic dXNlcnBhc3M=",
                    "Basic !!!!", "Basic //79", "Basic " + String(repeating: "A", count: 4096)] as [String?] {
            #expect(pair(bad) == nil, "\(bad ?? "nil")")
        }
    }
}
