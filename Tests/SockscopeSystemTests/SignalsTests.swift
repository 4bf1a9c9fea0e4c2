import Glibc
import SockscopeSystem
import Synchronization
import Testing

@Suite(.serialized) struct SignalsTests {
    @Test func signalAndWakeArriveOnThePipeThenItIsGone() throws {
        let fd = try SignalPipe.install([SIGUSR2])
        raise(SIGUSR2)
        #expect(SignalPipe.wait(fd, milliseconds: 5000) == [UInt8(SIGUSR2)])
        SignalPipe.wake()
        #expect(SignalPipe.wait(fd, milliseconds: 5000) == [0])
        #expect(SignalPipe.wait(fd, milliseconds: 0) == [], "nothing more")
        SignalPipe.uninstall()
        #expect(fcntl(fd, F_GETFD) == -1, "the pipe is closed")
        SignalPipe.wake()  // a late wake-up after uninstall writes nowhere
    }

    @Test func joinedThreadHasFinishedWhenJoinReturns() throws {
        let done = Atomic<Int>(0)
        let t = try JoinedThread {
            var ts = timespec(tv_sec: 0, tv_nsec: 20_000_000)
            nanosleep(&ts, nil)  // the body is still running when join is called
            done.store(1, ordering: .releasing)
        }
        t.join()
        #expect(done.load(ordering: .acquiring) == 1)
        t.join()  // a second join returns at once
    }
}
