#include "sockscope_shim.h"
#include <string.h>
#include <linux/tcp.h>
#include <linux/inet_diag.h>
#include <linux/unix_diag.h>
#include <linux/packet_diag.h>
#include <linux/netlink_diag.h>

// Kernel fields this system's header does not declare yet, in the kernel's order after tcpi_snd_wnd
// (include/uapi/linux/tcp.h: tcpi_rcv_wnd, tcpi_rehash).
#define SNDWND_END (offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof(uint32_t))
#define RCVWND_END (SNDWND_END + 4)
#define REHASH_END (SNDWND_END + 8)

uint32_t sockscope_tcp_info_rtt(const void *data, size_t len) {
    size_t at = offsetof(struct tcp_info, tcpi_rtt);
    uint32_t rtt = 0;
    if (data && len >= at + sizeof rtt) memcpy(&rtt, (const unsigned char *)data + at, sizeof rtt);
    return rtt;
}

void sockscope_tcp_info_decode(const void *data, size_t len, struct sockscope_tcp_info *out) {
    union { struct tcp_info ti; unsigned char bytes[REHASH_END + 16]; } u;
    memset(&u, 0, sizeof u);
    memset(out, 0, sizeof *out);
    size_t n = len < REHASH_END ? len : REHASH_END;
    if (data && n) memcpy(u.bytes, data, n);
    struct tcp_info ti = u.ti;
    out->present_len = (uint32_t)n;
    out->delivery_rate_app_limited = ti.tcpi_delivery_rate_app_limited;
    out->fastopen_client_fail = ti.tcpi_fastopen_client_fail;
    memcpy(&out->rcv_wnd, u.bytes + SNDWND_END, 4);
    memcpy(&out->rehash, u.bytes + RCVWND_END, 4);
    out->state = ti.tcpi_state; out->ca_state = ti.tcpi_ca_state; out->retransmits = ti.tcpi_retransmits;
    out->probes = ti.tcpi_probes; out->backoff = ti.tcpi_backoff; out->options = ti.tcpi_options;
    out->snd_wscale = ti.tcpi_snd_wscale; out->rcv_wscale = ti.tcpi_rcv_wscale;
    out->rto = ti.tcpi_rto; out->ato = ti.tcpi_ato; out->snd_mss = ti.tcpi_snd_mss; out->rcv_mss = ti.tcpi_rcv_mss;
    out->unacked = ti.tcpi_unacked; out->sacked = ti.tcpi_sacked; out->lost = ti.tcpi_lost;
    out->retrans = ti.tcpi_retrans; out->fackets = ti.tcpi_fackets;
    out->last_data_sent = ti.tcpi_last_data_sent; out->last_ack_sent = ti.tcpi_last_ack_sent;
    out->last_data_recv = ti.tcpi_last_data_recv; out->last_ack_recv = ti.tcpi_last_ack_recv;
    out->pmtu = ti.tcpi_pmtu; out->rcv_ssthresh = ti.tcpi_rcv_ssthresh; out->rtt = ti.tcpi_rtt;
    out->rttvar = ti.tcpi_rttvar; out->snd_ssthresh = ti.tcpi_snd_ssthresh; out->snd_cwnd = ti.tcpi_snd_cwnd;
    out->advmss = ti.tcpi_advmss; out->reordering = ti.tcpi_reordering;
    out->rcv_rtt = ti.tcpi_rcv_rtt; out->rcv_space = ti.tcpi_rcv_space; out->total_retrans = ti.tcpi_total_retrans;
    out->pacing_rate = ti.tcpi_pacing_rate; out->max_pacing_rate = ti.tcpi_max_pacing_rate;
    out->bytes_acked = ti.tcpi_bytes_acked; out->bytes_received = ti.tcpi_bytes_received;
    out->segs_out = ti.tcpi_segs_out; out->segs_in = ti.tcpi_segs_in; out->notsent_bytes = ti.tcpi_notsent_bytes;
    out->min_rtt = ti.tcpi_min_rtt; out->data_segs_in = ti.tcpi_data_segs_in; out->data_segs_out = ti.tcpi_data_segs_out;
    out->delivery_rate = ti.tcpi_delivery_rate; out->busy_time = ti.tcpi_busy_time;
    out->rwnd_limited = ti.tcpi_rwnd_limited; out->sndbuf_limited = ti.tcpi_sndbuf_limited;
    out->delivered = ti.tcpi_delivered; out->delivered_ce = ti.tcpi_delivered_ce;
    out->bytes_sent = ti.tcpi_bytes_sent; out->bytes_retrans = ti.tcpi_bytes_retrans;
    out->dsack_dups = ti.tcpi_dsack_dups; out->reord_seen = ti.tcpi_reord_seen;
    out->rcv_ooopack = ti.tcpi_rcv_ooopack; out->snd_wnd = ti.tcpi_snd_wnd;
}

#define END(f) (offsetof(struct tcp_info, f) + sizeof(((struct tcp_info *)0)->f))
size_t sockscope_tcp_info_field_end(enum sockscope_tcp_info_field field) {
    switch (field) {
    case SOCKSCOPE_TI_PACING_RATE: return END(tcpi_pacing_rate);
    case SOCKSCOPE_TI_BYTES_ACKED: return END(tcpi_bytes_acked);
    case SOCKSCOPE_TI_BYTES_RECEIVED: return END(tcpi_bytes_received);
    case SOCKSCOPE_TI_DELIVERY_RATE: return END(tcpi_delivery_rate);
    case SOCKSCOPE_TI_BYTES_SENT: return END(tcpi_bytes_sent);
    case SOCKSCOPE_TI_MIN_RTT: return END(tcpi_min_rtt);
    case SOCKSCOPE_TI_SEGS_OUT: return END(tcpi_segs_out);
    case SOCKSCOPE_TI_DELIVERED: return END(tcpi_delivered);
    case SOCKSCOPE_TI_SND_WND: return END(tcpi_snd_wnd);
    case SOCKSCOPE_TI_SEGS_IN: return END(tcpi_segs_in);
    case SOCKSCOPE_TI_DATA_SEGS_OUT: return END(tcpi_data_segs_out);
    case SOCKSCOPE_TI_BUSY_TIME: return END(tcpi_busy_time);
    case SOCKSCOPE_TI_SNDBUF_LIMITED: return END(tcpi_sndbuf_limited);
    case SOCKSCOPE_TI_DELIVERED_CE: return END(tcpi_delivered_ce);
    case SOCKSCOPE_TI_BYTES_RETRANS: return END(tcpi_bytes_retrans);
    case SOCKSCOPE_TI_REORD_SEEN: return END(tcpi_reord_seen);
    case SOCKSCOPE_TI_RCV_OOOPACK: return END(tcpi_rcv_ooopack);
    case SOCKSCOPE_TI_RCV_WND: return RCVWND_END;
    case SOCKSCOPE_TI_REHASH: return REHASH_END;
    case SOCKSCOPE_TI_MAX_PACING_RATE: return END(tcpi_max_pacing_rate);
    case SOCKSCOPE_TI_NOTSENT_BYTES: return END(tcpi_notsent_bytes);
    }
    return (size_t)-1;
}

size_t sockscope_inet_diag_msg_size(void) { return sizeof(struct inet_diag_msg); }
size_t sockscope_inet_diag_msg_offset_rqueue(void) { return offsetof(struct inet_diag_msg, idiag_rqueue); }
size_t sockscope_inet_diag_msg_offset_inode(void) { return offsetof(struct inet_diag_msg, idiag_inode); }
size_t sockscope_inet_diag_msg_offset_cookie(void) { return offsetof(struct inet_diag_msg, id.idiag_cookie); }
size_t sockscope_inet_diag_req_v2_size(void) { return sizeof(struct inet_diag_req_v2); }

uint8_t sockscope_ndiag_proto_all(void) { return NDIAG_PROTO_ALL; }
size_t sockscope_unix_diag_msg_size(void) { return sizeof(struct unix_diag_msg); }
size_t sockscope_packet_diag_msg_size(void) { return sizeof(struct packet_diag_msg); }
size_t sockscope_netlink_diag_msg_size(void) { return sizeof(struct netlink_diag_msg); }
