// `sockscope-bench json-writer [--records N]`: the `--json` writer against Foundation's
// JSONEncoder on the same records (N synthetic TCP sockets, default 100,000), median of 5 each:
// the figure behind writing JSON by hand (see JSONWriter).
import Foundation
import Glibc
import SockscopeModel
import SockscopeRender

enum JSONWriterCost {
    static func main(_ args: [String]) -> Never {
        var n = 100_000
        var it = args.makeIterator()
        while let a = it.next() {
            switch a {
            case "--records": n = Int(it.next() ?? "") ?? -1
            default:
                FileHandle.standardError.write("usage: sockscope-bench json-writer [--records N]\n".data(using: .utf8)!)
                exit(2)
            }
        }
        guard (1...1_000_000).contains(n) else {
            FileHandle.standardError.write("sockscope-bench: --records must be 1 to 1000000\n".data(using: .utf8)!)
            exit(2)
        }
        var records: [SocketRecord] = []
        records.reserveCapacity(n)
        for i in 0..<n {
            let peer = Endpoint(address: IPAddress(ipv4: 0x7F00_0002 + UInt32(i % 250)), port: UInt16(32768 + i % 28000))
            records.append(SocketRecord(proto: .tcp, family: .inet, state: .established,
                                        local: Endpoint(address: IPAddress(ipv4: 0x7F00_0001), port: 8080), remote: peer,
                                        recvQueue: 0, sendQueue: UInt32(i % 7), uid: 1000, inode: UInt64(100_000 + i),
                                        cookie: UInt64(i + 1)))
        }
        func timed(_ body: () -> Int) -> (Double, Int) {
            var samples: [Double] = [], size = 0
            for _ in 0..<5 {
                let t0 = monotonic()
                size = body()
                samples.append(monotonic() - t0)
            }
            return (median(samples), size)
        }
        let (writer, a): (Double, Int) = timed {
            var out: [UInt8] = []
            out.reserveCapacity(n * 200)
            JSONRenderer().renderArray(records, into: &out, flush: { _ in })
            return out.count
        }
        let (encoder, b): (Double, Int) = timed { (try? JSONEncoder().encode(records))?.count ?? 0 }
        print(String(format: "json-writer: %d records: JSONWriter %.3f s (%d bytes), JSONEncoder %.3f s (%d bytes), ratio %.1f",
                     n, writer, a, encoder, b, encoder / writer))
        exit(0)
    }
}
