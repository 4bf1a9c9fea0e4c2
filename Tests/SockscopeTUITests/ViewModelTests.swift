import SockscopeAnalysis
import SockscopeFilter
import SockscopeModel
@testable import SockscopeTUI
import Testing

extension ViewModel {
    /// The visible rows' local and remote ports, in order.
    var rowPorts: [(UInt16, UInt16)] { rows.map { (sockets[$0].record.local.port, sockets[$0].record.remote.port) } }
    var rowCookies: [UInt64] { rows.map { sockets[$0].record.cookie ?? 0 } }

    mutating func type(_ text: String) { for c in text { handle(.char(c)) } }
}

@Suite struct FilteringTests {
    @Test func statePresets() {
        var m = Synthetic.model(states: .connected)
        // 16 is now TIME-WAIT; 17 is closed and kept with its last state, ESTAB.
        #expect(Set(m.rowCookies) == [10, 11, 12, 13, 14, 15, 17, 21])
        m.handle(.char("l"))
        #expect(Set(m.rowCookies) == [1, 2, 3, 20])
        m.handle(.char("e"))
        #expect(Set(m.rowCookies) == [10, 11, 12, 13, 14, 15, 17, 21])
        m.handle(.char("a"))
        #expect(m.rows.count == m.sockets.count)
    }

    @Test func connectedShowsTheClosedSocketAndHidesTimeWait() {
        let m = Synthetic.model(states: .connected)
        #expect(Set(m.rowCookies) == [10, 11, 12, 13, 14, 15, 17, 21])
    }

    @Test func promptFiltersAsYouType() {
        var m = Synthetic.model()
        m.handle(.char("/"))
        m.type("4")
        // "4" is a valid port: nothing uses it.
        #expect(m.rows.isEmpty)
        m.type("43")
        #expect(Set(m.rowCookies) == [2, 11, 12, 13, 16])
        m.handle(.enter)
        #expect(m.prompt == nil && m.portFilter == PortSpec(ranges: [443...443]))
        #expect(m.filterDescription.contains("sport = :443 or dport = :443"), "the header shows the filter in ss syntax")
    }

    /// A path or `@name` at the prompt is a UNIX name glob on either end; `unix:` rules in the
    /// language read the record's names as the listing does.
    @Test func aBarePathMatchesEitherEndOfAUnixSocket() throws {
        var server = SocketRecord(proto: .unixStream, family: .unix, state: .established,
                                  local: .unix(UnixEndpoint(kind: .path, inode: 5)), remote: .unix(UnixEndpoint(kind: .unnamed, inode: 6)), inode: 5)
        server.unixName = Array("/run/app.sock".utf8)
        var client = SocketRecord(proto: .unixStream, family: .unix, state: .established,
                                  local: .unix(UnixEndpoint(kind: .unnamed, inode: 6)), remote: .unix(UnixEndpoint(kind: .path, inode: 5)), inode: 6)
        client.peerUnixName = Array("/run/app.sock".utf8)
        let other = SocketRecord(proto: .tcp, family: .inet, state: .established,
                                 local: Endpoint(address: IPAddress("127.0.0.1")!, port: 1), remote: Endpoint(address: IPAddress("127.0.0.1")!, port: 2))
        let bare = try LiveFilter.parse("/run/*.sock", services: ServiceTable()).get()
        let e = try #require(bare.expression)
        #expect(e.evaluate(server) && e.evaluate(client) && !e.evaluate(other))
        let abstract = try #require(try LiveFilter.parse("@app*", services: ServiceTable()).get().expression)
        #expect(!abstract.evaluate(server))
        let language = try #require(try LiveFilter.parse("dst unix:/run/app.sock", services: ServiceTable()).get().expression)
        #expect(language.evaluate(client) && !language.evaluate(server))
    }

    @Test func listsRangesAndServiceNames() {
        var m = Synthetic.model()
        m.handle(.char("/"))
        m.type("22,53")
        #expect(Set(m.rowCookies) == [1, 10, 20, 21])
        for _ in 0..<5 { m.handle(.backspace) }
        m.type("5000-6000")
        #expect(Set(m.rowCookies) == [3, 14, 15])
        for _ in 0..<9 { m.handle(.backspace) }
        m.type("https")
        #expect(Set(m.rowCookies) == [2, 11, 12, 13, 16])
    }

    @Test func anInvalidPrefixKeepsTheLastValidFilterAndEscClears() {
        var m = Synthetic.model()
        m.handle(.char("/"))
        m.type("5432-")
        #expect(m.prompt?.error != nil)
        #expect(Set(m.rowCookies) == [3, 14, 15])
        m.handle(.enter)   // keeps the last valid filter
        #expect(m.portFilter == PortSpec(ranges: [5432...5432]))
        m.handle(.char("/"))
        #expect(m.prompt?.text == "5432", "the prompt opens with the filter in force, for editing")
        #expect(m.portFilter == PortSpec(ranges: [5432...5432]))
        m.handle(.escape)
        #expect(m.portFilter == nil && m.prompt == nil)
        #expect(m.rows.count == m.sockets.count)
    }

    @Test func promptTakesTheFullLanguage() {
        var m = Synthetic.model()
        m.handle(.char("/"))
        m.type("( sport = :443 and dport >= :40002 ) or dst 127.0.0.1:5432")
        #expect(m.prompt?.error == nil)
        #expect(Set(m.rowCookies) == [12, 13, 15])
        #expect(m.filterDescription.contains("( sport = :443 and dport >= :40002 ) or dst 127.0.0.1:5432"))
        m.handle(.enter)
        // A partial expression shows its error and keeps the last valid filter.
        m.handle(.char("/"))
        m.type(" and sport =")
        #expect(m.prompt?.error == "expected a port after 'sport =' (at the end)")
        #expect(Set(m.rowCookies) == [12, 13, 15])
    }

    @Test func promptRefusesRulesOnlyTheKernelCanJudge() {
        var m = Synthetic.model()
        m.handle(.char("/"))
        m.type("fwmark = 0x1")
        #expect(m.prompt?.error?.contains("give them on the command line") == true)
        // While typing, "fwmark" alone was a valid process-name shortcut: that stays in force.
        #expect(m.processFilter == "fwmark" && m.expressionFilter == nil)
    }

    @Test func promptShortcutsAddressCIDRAndProcessName() {
        var m = Synthetic.model()
        m.handle(.char("/"))
        m.type("203.0.113.7")
        #expect(Set(m.rowCookies) == [10], "a bare address matches either end")
        for _ in 0..<11 { m.handle(.backspace) }
        m.type("127.0.0.0/8")
        #expect(Set(m.rowCookies) == [3, 14, 15])
        for _ in 0..<11 { m.handle(.backspace) }
        m.type("[2001:db8::42]")
        #expect(Set(m.rowCookies) == [13])
        for _ in 0..<14 { m.handle(.backspace) }
        m.type("nginx")
        #expect(Set(m.rowCookies) == [2, 11, 12, 13], "a process name matches the owners")
        #expect(m.filterDescription.contains("process=nginx"))
        m.handle(.enter)
        m.handle(.escape)
        #expect(m.rows.count == m.sockets.count, "Esc in the table clears the filter")
        #expect(m.filterText.isEmpty)
    }

    @Test func commandLineExpressionIsTheInitialFilter() throws {
        var settings = Synthetic.settings()
        settings.expression = try FilterParser.parse(["dst", "93.184.216.34"]).expression
        var m = ViewModel(settings: settings)
        m.ingest(Synthetic.tracker().sockets, source: .netlink, at: 102)
        #expect(Set(m.rowCookies) == [16, 17])
        m.handle(.char("/"))
        #expect(m.prompt?.text == "dst 93.184.216.34")
    }

    @Test func commandLinePortIsTheInitialFilterAndSportStays() throws {
        var settings = Synthetic.settings()
        settings.ports = PortFilter(source: try PortSpec(parsing: "443"), either: try PortSpec(parsing: "40001,40002"))
        var m = ViewModel(settings: settings)
        m.ingest(Synthetic.tracker().sockets, source: .netlink, at: 102)
        #expect(Set(m.rowCookies) == [11, 12])
        m.handle(.char("/"))
        m.handle(.escape)
        #expect(Set(m.rowCookies) == [2, 11, 12, 13])   // --sport 443 still applies
    }

    @Test func ignoresKeysThePromptCannotUse() {
        var m = Synthetic.model()
        m.handle(.char("/"))
        m.handle(.char("\u{1b}"))
        m.handle(.char("\u{7}"))
        m.handle(.up)
        #expect(m.prompt?.text == "")
        #expect(m.quitRequested == false)
    }
}

@Suite struct SortingTests {
    @Test func cyclesColumnsAndReverses() {
        var m = Synthetic.model()
        #expect(m.sort == .local)
        let locals = m.rows.map { m.sockets[$0].record.local }
        #expect(locals == locals.sorted())
        m.handle(.char("s"))
        #expect(m.sort == .remote)
        let remotes = m.rows.map { m.sockets[$0].record.remote }
        #expect(remotes == remotes.sorted())
        m.handle(.char("r"))
        let reversed = m.rows.map { m.sockets[$0].record.remote }
        #expect(reversed == remotes.sorted().reversed())
    }

    @Test func numbersSortBiggestFirst() {
        var m = Synthetic.model()
        while m.sort != .rateOut { m.handle(.char("s")) }
        let first = m.sockets[m.rows[0]]
        #expect(first.record.cookie == 11)   // 8 MB acked over 2 s
        let rates = m.rows.map { m.sockets[$0].throughput?.outBytesPerSecond ?? -1 }
        #expect(rates == rates.sorted(by: >))
    }

    @Test func sortCyclesWrapAndTheListenersViewHasItsOwn() {
        var m = Synthetic.model()
        for _ in 0..<SortColumn.connections.count { m.handle(.char("s")) }
        #expect(m.sort == .local)
        m.handle(.char("L"))
        #expect(m.mode == .listeners)
        m.handle(.char("s"))
        #expect(m.sort == .acceptQueue)
        #expect(m.sockets[m.rows[0]].record.local.port == 443)   // 3 waiting
        m.handle(.char("s"))
        #expect(m.sort == .established)
        #expect(m.listenerRows.map(\.established) == m.listenerRows.map(\.established).sorted(by: >))
    }
}

@Suite struct ChangeTrackingViewTests {
    @Test func newRowsAreHighlightedAndClosedRowsDimmed() {
        var m = Synthetic.model()
        let frame = m.render(width: 120, height: 30)
        func line(containing s: String) -> Int? { (0..<frame.height).first { frame.text($0).contains(s) } }
        let newLine = line(containing: ":40003")
        let closedLine = line(containing: "93.184.216.34:80")
        #expect(newLine != nil && closedLine != nil)
        if let newLine { #expect(frame.lines[newLine][2].attribute == .new) }
        if let closedLine { #expect(frame.lines[closedLine][2].attribute == .dim) }
        let stateChanged = m.sockets.first { $0.record.cookie == 16 }
        #expect(stateChanged?.previousState == .established)
        #expect(m.isNew(stateChanged!) == false)
    }

    @Test func highlightAndClosedRowsExpire() {
        var t = Synthetic.tracker()
        var m = ViewModel(settings: Synthetic.settings())
        m.ingest(t.sockets, source: .netlink, at: 102)
        #expect(m.rowCookies.contains(17))
        _ = t.update(Snapshot(records: Synthetic.records(second: true), source: .netlink), at: 104)
        m.ingest(t.sockets, source: .netlink, at: 104)
        let opened = m.sockets.first { $0.record.cookie == 13 }!
        #expect(m.isNew(opened))   // 2 s old, highlighted for 3 s
        _ = t.update(Snapshot(records: Synthetic.records(second: true), source: .netlink), at: 108)
        m.ingest(t.sockets, source: .netlink, at: 108)
        #expect(!m.rowCookies.contains(17))    // closed at 102, kept 5 s
        #expect(!m.isNew(m.sockets.first { $0.record.cookie == 13 }!))
    }

    @Test func throughputAndAgeAreShown() {
        var m = Synthetic.model()
        let frame = m.render(width: 160, height: 30)
        let ssh = (0..<frame.height).map(frame.text).first { $0.contains(":51234") } ?? ""
        // 4000 B received and 60000 B acked over 2 s.
        #expect(ssh.contains(" 2.0K ") && ssh.contains(" 30K "))
        #expect(ssh.contains("23.4ms"))
        // Open when the view started: more than 2 s old, by how much unknown.
        #expect(ssh.split(separator: " ").last == ">2s")
        // Opened at the second refresh: its true age.
        let opened = (0..<frame.height).map(frame.text).first { $0.contains(":40003") } ?? ""
        #expect(opened.split(separator: " ").last == "0s", "\(opened)")
    }

    /// A closed socket's age stops when it closed.
    @Test func closedAgeStops() {
        let t = Synthetic.tracker()
        let closed = try! #require(t.sockets.first { $0.isClosed })
        #expect(closed.age(at: 500) == closed.age(at: 102))
    }
}

@Suite struct ListenerAggregationTests {
    @Test func countsEstablishedConnectionsAndDistinctPeersPerListener() {
        let t = Synthetic.tracker()
        let summaries = Listeners.aggregate(t.sockets)
        var byPort: [UInt16: ListenerSummary] = [:]
        for s in summaries { byPort[t.sockets[s.index].record.local.port] = s }
        #expect(summaries.count == 3)
        #expect(byPort[443]?.established == 3 && byPort[443]?.peers == 2)
        #expect(byPort[22]?.established == 1 && byPort[22]?.peers == 1)
        // The server side of the loopback pair counts; the client side (local port 39000) does not.
        #expect(byPort[5432]?.established == 1 && byPort[5432]?.peers == 1)
    }

    @Test func anExactBindingWinsOverTheWildcardAndFamiliesStaySeparate() {
        func s(_ r: SocketRecord) -> Snapshot { Snapshot(records: [r], source: .netlink) }
        let records = [
            Synthetic.tcp(.listen, Synthetic.v4("0.0.0.0", 8080), Synthetic.any4, cookie: 1),
            Synthetic.tcp(.listen, Synthetic.v4("127.0.0.1", 8080), Synthetic.any4, cookie: 2),
            Synthetic.tcp(.listen, Endpoint(address: .anyIPv6, port: 8080), Synthetic.any6, cookie: 3),
            Synthetic.tcp(.established, Synthetic.v4("127.0.0.1", 8080), Synthetic.v4("127.0.0.1", 50000), cookie: 4),
            Synthetic.tcp(.established, Synthetic.v4("10.1.1.1", 8080), Synthetic.v4("10.9.9.9", 50001), cookie: 5),
            Synthetic.tcp(.established, Synthetic.v4("10.1.1.1", 8080), Synthetic.v4("10.9.9.9", 50002), cookie: 6),
            Synthetic.tcp(.established, Synthetic.v6("::1", 8080), Synthetic.v6("::1", 50003), cookie: 7),
            Synthetic.tcp(.closeWait, Synthetic.v4("10.1.1.1", 8080), Synthetic.v4("10.9.9.8", 50004), cookie: 8),
        ]
        var t = ChangeTracker()
        _ = t.update(Snapshot(records: records, source: .netlink), at: 0)
        let out = Listeners.aggregate(t.sockets).map { ($0.established, $0.peers) }
        #expect(out.map(\.0) == [2, 1, 1])
        #expect(out.map(\.1) == [1, 1, 1])
    }

    @Test func listenersViewShowsAcceptQueueAndCounts() {
        var m = Synthetic.model()
        m.handle(.char("L"))
        let frame = m.render(width: 120, height: 30)
        let row = (0..<frame.height).map(frame.text).first { $0.contains("[::]:443") } ?? ""
        #expect(row.contains("3/511"))
        #expect(row.contains("1200/nginx+1"))
        #expect(m.rows.count == 3)
    }
}

@Suite struct NavigationTests {
    @Test func selectionFollowsTheSocketAcrossRefreshes() {
        var m = Synthetic.model()
        m.handle(.down); m.handle(.down)
        let key = m.selectedSocket?.key
        // A refresh in another order: the same socket stays selected.
        m.ingest(m.sockets.reversed(), source: .netlink, at: 102)
        #expect(m.selectedSocket?.key == key && m.selected == 2)
        m.handle(.down)
        let moved = m.selectedSocket?.key
        m.ingest(m.sockets.reversed(), source: .netlink, at: 104)
        #expect(m.selectedSocket?.key == moved)
    }

    /// A sort change shows the top of the new order; S opens a menu with a key per column.
    @Test func sortChangesGoToTheTopAndTheMenuSortsInOneKey() {
        var m = Synthetic.model(states: .connected)
        for _ in 0..<4 { m.handle(.down) }
        m.handle(.char("s"))
        #expect(m.selected == 0 && m.sort == .remote)
        for _ in 0..<3 { m.handle(.down) }
        m.handle(.char("S"))
        #expect(m.sortMenuOpen)
        let bottom = m.render(width: 160, height: 30).text(29)
        #expect(bottom.hasPrefix("sort by: 1 local  2 remote  3 state  4 proto  5 recv-q  6 send-q  7 rtt  8 in  9 out  0 age  o owner"),
                "\(bottom)")
        m.handle(.char("9"))   // busiest sender first
        #expect(!m.sortMenuOpen && m.sort == .rateOut && m.descending && m.selected == 0)
        #expect(m.selectedSocket?.record.cookie == 11, "8 MB acked over 2 s is the fastest sender")
        m.handle(.char("S")); m.handle(.char("9"))   // the same key again reverses
        #expect(m.sort == .rateOut && !m.descending)
        m.handle(.char("S")); m.handle(.escape)      // any other key cancels
        #expect(!m.sortMenuOpen && m.sort == .rateOut && !m.descending)
    }

    @Test func movesClampAndPageWithTheScreen() {
        var m = Synthetic.model()
        _ = m.render(width: 80, height: 8)   // title, totals, heading, 4 rows, key line
        #expect(m.pageSize == 4)
        m.handle(.char("k"))
        #expect(m.selected == 0)
        m.handle(.pageDown)
        #expect(m.selected == 4)
        m.handle(.char("G"))
        #expect(m.selected == m.rows.count - 1)
        // The last row scrolled into view, on the last table line, selected.
        let frame = m.render(width: 80, height: 8)
        let last = m.sockets[m.rows.last!]
        #expect(frame.text(6).contains(":\(last.record.remote.port)"))
        #expect(frame.lines[6][1].attribute == .selected)
        #expect(frame.lines[5][1].attribute != .selected)
        m.handle(.home)
        #expect(m.selected == 0)
        m.handle(.end); m.handle(.char("g"))
        #expect(m.selected == 0)
    }

    @Test func keysForModesAndTheLoop() {
        var m = Synthetic.model()
        m.handle(.char(" "))
        #expect(m.paused)
        m.handle(.char("+"))
        #expect(m.interval == 2)
        m.handle(.char("-")); m.handle(.char("-"))
        #expect(m.interval == 0.5)
        for _ in 0..<20 { m.handle(.char("-")) }
        #expect(m.interval == 0.1)
        m.handle(.char("p"))
        #expect(!m.showOwners)
        m.handle(.enter)
        #expect(m.detailOpen)
        m.handle(.char("?"))
        #expect(m.helpOpen)
        m.handle(.char("x"))
        #expect(!m.helpOpen && !m.quitRequested)
        m.handle(.char("q"))
        #expect(m.quitRequested)
    }
}

@Suite struct RenderSafetyTests {
    @Test func untrustedNamesAreEscaped() {
        var m = Synthetic.model()
        while m.selectedSocket?.record.cookie != 14 && m.selected < m.rows.count - 1 { m.handle(.down) }
        m.handle(.enter)
        let frame = m.render(width: 120, height: 30)
        let lines = (0..<frame.height).map(frame.text)
        for line in lines {
            #expect(!line.unicodeScalars.contains { $0.value < 0x20 || ($0.value >= 0x7F && $0.value < 0xA0) })
        }
        #expect(lines.contains { $0.contains("evil\\x1b]0;pwned\\x07") })
        let udp = m.sockets.first { $0.record.cookie == 20 }!
        #expect(Format.endpoint(udp.record, local: true) == "0.0.0.0%eth0\\x1b[31m:53")
    }

    @Test func everySizeDownToNothingRendersWithoutTrapping() {
        var m = Synthetic.model()
        m.handle(.enter)
        for w in 0...24 {
            for h in 0...7 {
                let f = m.render(width: w, height: h)
                #expect(f.lines.count == h && f.lines.allSatisfy { $0.count == w })
            }
        }
        m.handle(.char("?"))
        let help = m.render(width: 10, height: 3)
        #expect(help.lines.count == 3)
    }

    @Test func wideCharactersTakeTwoCellsAndAreNeverSplit() {
        var f = Frame(width: 5, height: 1)
        let end = f.put("a漢b漢", y: 0, x: 0, .normal)
        #expect(end == 6)
        #expect(f.text(0) == "a漢b ")
        #expect(TextWidth.truncate("abcdef", to: 4) == "abc~")
        #expect(TextWidth.pad("ab", to: 4, right: true) == "  ab")
    }

    @Test func formats() {
        #expect(Format.rate(nil) == "-")
        #expect(Format.rate(999) == "999")
        #expect(Format.rate(1_234) == "1.2K")
        #expect(Format.rate(56_789) == "57K")
        #expect(Format.rate(4_000_000_000) == "4.0G")
        #expect(Format.rtt(52) == "0.052ms")
        #expect(Format.rtt(1_234) == "1.23ms")
        #expect(Format.rtt(95_000) == "95.0ms")
        #expect(Format.rtt(2_500_000) == "2.5s")
        #expect(Format.age(59) == "59s")
        #expect(Format.age(725) == "12m05s")
        #expect(Format.age(3 * 3600 + 7 * 60) == "3h07m")
        #expect(Format.age(.infinity) == "-")
        #expect(Format.interval(0.5) == "0.5s")
        #expect(Format.interval(120) == "2m")
    }

    @Test func styleFollowsTheEnvironment() {
        let plain = TerminalStyle.from(environment: ["TERM": "xterm-256color"])
        #expect(plain.colors && plain.attributes)
        let noColor = TerminalStyle.from(environment: ["TERM": "xterm", "NO_COLOR": "1"])
        #expect(!noColor.colors && noColor.attributes)
        let dumb = TerminalStyle.from(environment: ["TERM": "dumb"])
        #expect(!dumb.colors && !dumb.attributes)
    }
}

/// `K` asks before it closes anything, and only `y` confirms; `n` shows host names from the
/// resolver the live loop gives it.
@Suite struct KillAndNamesKeyTests {
    @Test func killAsksAndOnlyYConfirms() {
        var m = Synthetic.model(states: .connected)
        let target = try! #require(m.rows.firstIndex { m.sockets[$0].record.cookie == 10 })
        m.handle(.home)
        for _ in 0..<target { m.handle(.down) }
        let selected = try! #require(m.selectedSocket).record
        #expect(selected.cookie == 10)
        m.handle(.char("K"))
        #expect(m.killCandidate == selected)
        #expect(m.status?.hasPrefix("close tcp ") == true && m.status?.hasSuffix("? y closes it, any other key keeps it") == true,
                "\(m.status ?? "-")")
        // Any other key keeps the socket: nothing to carry out, and the key does not act.
        let row = m.selected
        m.handle(.char("j"))
        #expect(m.killCandidate == nil && m.takeKillRequest() == nil && m.status == "not closed" && m.selected == row)
        m.handle(.char("K"))
        m.handle(.char("y"))
        #expect(m.killCandidate == nil)
        #expect(m.takeKillRequest() == selected)
        #expect(m.takeKillRequest() == nil, "a request is carried out once")
    }

    @Test func killRefusesAClosedSocket() {
        var m = Synthetic.model(states: .connected)
        let closed = try! #require(m.rows.firstIndex { m.sockets[$0].isClosed })
        m.handle(.home)
        for _ in 0..<closed { m.handle(.down) }
        m.handle(.char("K"))
        #expect(m.killCandidate == nil && m.status == "that socket is already closed")
    }

    @Test func namesReplaceAddressesWhenOnAndKnown() {
        var m = Synthetic.model(states: .connected)
        m.handle(.char("n"))
        #expect(m.status == "host names are not available here" && !m.showNames)
        m.hostName = { $0 == IPAddress("203.0.113.7")! ? "pe\u{1b}er" : nil }
        m.handle(.char("n"))
        #expect(m.showNames)
        let screen = (0..<30).map { m.render(width: 120, height: 30).text($0) }.joined(separator: "\n")
        // The name is escaped (it comes from DNS); unnamed addresses stay numeric.
        #expect(screen.contains("pe\\x1ber:51234"), "\(screen)")
        #expect(!screen.contains("203.0.113.7"))
        #expect(screen.contains("10.0.0.5:22"))
        m.handle(.char("n"))
        let numeric = (0..<30).map { m.render(width: 120, height: 30).text($0) }.joined(separator: "\n")
        #expect(numeric.contains("203.0.113.7:51234") && !numeric.contains("pe\\x1ber"))
    }
}

/// The title names the namespace; a listener's detail pane shows its health, not tcp_info.
@Suite struct HeaderAndListenerDetailTests {
    @Test func titleNamesTheNamespace() {
        var settings = Synthetic.settings()
        settings.namespace = "blue\u{1b}ns"
        var m = ViewModel(settings: settings)
        m.ingest(Synthetic.tracker().sockets, source: .netlink, at: 102)
        #expect(m.render(width: 120, height: 30).text(0).hasPrefix(" sockscope @ testhost  netns blue\\x1bns  netlink"))
    }

    @Test func listenerDetailShowsItsHealth() {
        var m = Synthetic.model()
        let i = try! #require(m.rows.firstIndex { m.sockets[$0].record.cookie == 2 })   // [::]:443, 3/511
        m.handle(.home)
        for _ in 0..<i { m.handle(.down) }
        m.handle(.enter)
        let frame = m.render(width: 120, height: 40)
        let text = (0..<frame.height).map(frame.text)
        let health = try! #require(text.first { $0.contains("listener") })
        // At t = 102 three connections are established to [2001:db8::1]:443 (ports 40001,
        // 40002, 40003), from two peers (2001:db8::99 and 2001:db8::42).
        #expect(health.contains("accept queue 3/511 (1%)"), "\(health)")
        #expect(health.contains("connections 3") && health.contains("peers 2"), "\(health)")
        #expect(!text.contains { $0.contains("tcp_info") })
    }
}
