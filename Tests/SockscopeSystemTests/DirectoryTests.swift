import Foundation
import SockscopeSystem
import Testing

/// The directory wrappers the owner scan is built on, against real directories and /proc.
@Suite struct DirectoryTests {
    @Test func listsEntriesWithoutDotAndDotDot() throws {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("sockscope-dir-\(UUID().uuidString)")
        try fm.createDirectory(at: root.appendingPathComponent("sub"), withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: root) }
        try Data("hello\n".utf8).write(to: root.appendingPathComponent("file"))
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("link").path, withDestinationPath: "socket:[42]")
        // A name that is not UTF-8 is still listed (as bytes).
        let odd = root.path + "/" + String(decoding: [0x61, 0xFF], as: UTF8.self)
        try Data().write(to: URL(fileURLWithPath: odd))

        let dir = try Directory(path: root.path)
        var types: [String: DirectoryEntryType] = [:]
        try dir.forEachEntry { name, type in types[String(decoding: name, as: UTF8.self)] = type }
        #expect(Set(types.keys) == ["sub", "file", "link", String(decoding: [0x61, 0xFF], as: UTF8.self)])
        #expect(types["sub"] == .directory)
        #expect(types["link"] == .symbolicLink)
        #expect(types["file"] == .regular)
        // Listing twice gives the same names (the stream is rewound).
        #expect(Set(try dir.entryNames()) == Set(types.keys))

        #expect(try dir.readLink("link") == Array("socket:[42]".utf8))
        #expect(try dir.readFile("file") == Array("hello\n".utf8))
        #expect(try Directory(at: dir, "sub").entryNames().isEmpty)
        #expect(try dir.ownerUID(of: "file") == getuid())
    }

    @Test func readLinkIntoAShortBufferTruncates() throws {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("sockscope-dir-\(UUID().uuidString)")
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: root) }
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("l").path, withDestinationPath: "0123456789")
        let dir = try Directory(path: root.path)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 1)
        defer { buf.deallocate() }
        let n = try "l".withCString { try dir.readLink($0, into: buf) }
        #expect(n == 4)
        #expect(Array(buf) == Array("0123".utf8))
    }

    @Test func procFDLinksNameOurOwnSocket() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var st = stat()
        try #require(fstat(fd, &st) == 0)
        let dir = try Directory(path: "/proc/self/fd")
        #expect(try dir.readLink(String(fd)) == Array("socket:[\(st.st_ino)]".utf8))
        var names: [String] = []
        try dir.forEachEntry { name, _ in names.append(String(decoding: name, as: UTF8.self)) }
        #expect(names.contains(String(fd)))
    }

    @Test func errorsAreTypedWithErrno() {
        do {
            _ = try Directory(path: "/nonexistent/sockscope")
            Issue.record("opened a missing directory")
        } catch {
            #expect(error.errno == .noSuchFileOrDirectory)
            #expect(error.description.contains("/nonexistent/sockscope"))
        }
        do {
            _ = try Directory(path: "/proc/self/stat")
            Issue.record("opened a file as a directory")
        } catch {
            #expect(error.errno == .notDirectory)
        }
        do {
            let dir = try Directory(path: "/proc/self")
            _ = try dir.readLink("stat")  // not a link
            Issue.record("read a regular file as a link")
        } catch {
            #expect(error.errno == .invalidArgument)
        }
        // A name longer than NAME_MAX.
        do {
            let dir = try Directory(path: "/tmp")
            _ = try Directory(at: dir, String(repeating: "x", count: 300))
            Issue.record("opened an overlong name")
        } catch {
            #expect(error.errno == .fileNameTooLong)
        }
    }

    @Test func userNamesAreLookedUpAndCached() {
        let users = UserNames()
        #expect(users.name(of: 0) == "root")
        #expect(users.name(of: 0) == "root")
        #expect(users.name(of: 4_000_000_000) == nil)
        #expect(users.name(of: 4_000_000_000) == nil)
    }

    @Test func kcmpTellsSharedFileTables() {
        let me = getpid()
        // The main thread shares its own table; kcmp may be missing (nil) on kernels without it.
        let same = Tasks.shareFileTable(me, me)
        #expect(same == true || same == nil)
        // A task that does not exist: the kernel cannot say.
        #expect(Tasks.shareFileTable(me, Int32.max) == nil)
    }

    @Test func backgroundJobReturnsItsValue() {
        let job = BackgroundJob { (1...1000).reduce(0, +) }
        #expect(job.wait() == 500500)
        #expect(job.wait() == 500500)
    }
}
