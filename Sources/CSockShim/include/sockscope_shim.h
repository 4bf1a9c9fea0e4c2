#ifndef SOCKSCOPE_SHIM_H
#define SOCKSCOPE_SHIM_H
// What Swift cannot import directly from the kernel headers. <linux/tcp.h> is included
// only in shim.c: in a header it clashes with Glibc's own `struct tcp_info`.
#include <stddef.h>
#include <stdint.h>
// No linux/ headers here: CMnl owns them, and a header included by two Clang modules would
// give Swift two copies of each type.

/// A flat copy of the `struct tcp_info` fields sockscope reports. `present_len` is how many
/// bytes the kernel actually sent: a field lying beyond it is absent, not zero.
struct sockscope_tcp_info {
    uint32_t present_len;
    uint8_t state, ca_state, retransmits, probes, backoff, options;
    uint8_t snd_wscale, rcv_wscale;
    uint32_t rto, ato, snd_mss, rcv_mss;
    uint32_t unacked, sacked, lost, retrans, fackets;
    uint32_t last_data_sent, last_ack_sent, last_data_recv, last_ack_recv;
    uint32_t pmtu, rcv_ssthresh, rtt, rttvar, snd_ssthresh, snd_cwnd, advmss, reordering;
    uint32_t rcv_rtt, rcv_space, total_retrans;
    uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
    uint32_t segs_out, segs_in, notsent_bytes, min_rtt, data_segs_in, data_segs_out;
    uint64_t delivery_rate, busy_time, rwnd_limited, sndbuf_limited;
    uint32_t delivered, delivered_ce;
    uint64_t bytes_sent, bytes_retrans;
    uint32_t dsack_dups, reord_seen, rcv_ooopack, snd_wnd;
    /// Bit fields of the kernel's struct, widened.
    uint8_t delivery_rate_app_limited, fastopen_client_fail;
    /// Fields newer than this system's <linux/tcp.h> (read by their kernel offset, after snd_wnd).
    uint32_t rcv_wnd, rehash;
};

/// Offsets of fields within `struct tcp_info`, so a caller can tell whether `present_len` covers them.
enum sockscope_tcp_info_field {
    SOCKSCOPE_TI_PACING_RATE, SOCKSCOPE_TI_BYTES_ACKED, SOCKSCOPE_TI_BYTES_RECEIVED,
    SOCKSCOPE_TI_DELIVERY_RATE, SOCKSCOPE_TI_BYTES_SENT, SOCKSCOPE_TI_MIN_RTT, SOCKSCOPE_TI_SEGS_OUT,
    SOCKSCOPE_TI_DELIVERED, SOCKSCOPE_TI_SND_WND,
    SOCKSCOPE_TI_SEGS_IN, SOCKSCOPE_TI_DATA_SEGS_OUT, SOCKSCOPE_TI_BUSY_TIME, SOCKSCOPE_TI_SNDBUF_LIMITED,
    SOCKSCOPE_TI_DELIVERED_CE, SOCKSCOPE_TI_BYTES_RETRANS, SOCKSCOPE_TI_REORD_SEEN, SOCKSCOPE_TI_RCV_OOOPACK,
    SOCKSCOPE_TI_RCV_WND, SOCKSCOPE_TI_REHASH, SOCKSCOPE_TI_MAX_PACING_RATE, SOCKSCOPE_TI_NOTSENT_BYTES,
};

/// Copies at most sizeof(struct tcp_info) bytes of `data` (the kernel's may be shorter or longer),
/// zero-filling the rest. Never reads past `len`.
void sockscope_tcp_info_decode(const void *data, size_t len, struct sockscope_tcp_info *out);

/// `tcpi_rtt` (microseconds) of a kernel `struct tcp_info` of `len` bytes; 0 when it is too short
/// to hold it. For a reader that needs one field per socket (decoding the whole struct was most
/// of the exporter's RTT cost in user space).
uint32_t sockscope_tcp_info_rtt(const void *data, size_t len);

/// End offset (offset + size) of a field of `struct tcp_info`: present when present_len >= this.
size_t sockscope_tcp_info_field_end(enum sockscope_tcp_info_field field);

/// Layout probes: the Swift parser reads `inet_diag_msg` by offset; tests compare with these.
size_t sockscope_inet_diag_msg_size(void);
size_t sockscope_inet_diag_msg_offset_rqueue(void);
size_t sockscope_inet_diag_msg_offset_inode(void);
size_t sockscope_inet_diag_msg_offset_cookie(void);
size_t sockscope_inet_diag_req_v2_size(void);

/// `NDIAG_PROTO_ALL` (a cast expression Swift cannot import): the netlink_diag request's
/// protocol byte meaning every netlink protocol.
uint8_t sockscope_ndiag_proto_all(void);

/// Layout probes for the other sock_diag families' reply headers, for tests of the Swift parsers.
size_t sockscope_unix_diag_msg_size(void);
size_t sockscope_packet_diag_msg_size(void);
size_t sockscope_netlink_diag_msg_size(void);

/// kcmp(pid1, pid2, KCMP_FILES): 0 when the two tasks share one fd table, 1 or 2 when not,
/// -1 with errno set when the kernel cannot say (no kcmp, EPERM, ESRCH).
int sockscope_kcmp_files(int pid1, int pid2);

/// setns(fd, CLONE_NEWNET), for --netns: glibc declares setns only under _GNU_SOURCE, which
/// Swift's Glibc module does not import. Returns 0, or -1 with errno set.
int sockscope_setns_net(int fd);

/// Installs handlers for `signals` (at most 8) that write the signal number as one byte to a
/// non-blocking, close-on-exec self-pipe, and unblocks them; returns the pipe's read end, or -1
/// with errno set. The same pipe carries `sockscope_signals_wake` bytes (0) from other threads.
int sockscope_signals_install(const int *signals, int count);
/// Restores the dispositions saved by `sockscope_signals_install` and closes the pipe.
void sockscope_signals_uninstall(void);
/// Wakes whoever waits on the pipe (a byte 0). Safe from any thread; a no-op once uninstalled.
void sockscope_signals_wake(void);
/// Stops the process as SIGTSTP would (default action), then, once continued, re-arms the handler.
void sockscope_signals_stop_self(void);

#endif
