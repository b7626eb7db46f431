/*
 * tumult-netem: userspace emulation of Linux netem (sch_netem.c) on top of
 * NFQUEUE, for kernels built without sch_netem.
 *
 * Per packet it makes netem_enqueue()'s decisions in netem_enqueue()'s order
 * (duplicate, loss, re-enqueue of the duplicate, corrupt, limit,
 * reorder/delay) with netem's correlated random generator (get_crandom) and
 * netem's uniform jitter (tabledist without a distribution table).
 *
 * The delayed path. A packet sent by a local socket (OUTPUT hook) and held for
 * a delay is "stolen": copied out of the netlink message, dropped in the
 * kernel at once and re-sent when due. Holding it by NFQUEUE id instead would
 * keep the skb charged to the sending socket (sk_wmem_alloc) for the whole
 * delay, and TCP Small Queues allow only ~1 ms of pacing rate below the
 * socket: measured, holding gives full speed at 1 ms but 0.6 Gbit/s at 2 ms
 * and nothing at 5 ms. The early drop frees that memory like netem's
 * skb_orphan_partial. The copy is re-sent whole through an AF_PACKET socket
 * with PACKET_VNET_HDR: a GSO super-packet keeps its gso_type/gso_size and
 * asks for checksum offload, so one sendmsg costs about what the original
 * skb's trip would have (the next hop's MAC comes from rtnetlink, cached for
 * a second). Where that cannot be used (not Ethernet, neighbour unresolved,
 * NAT possibly at work on the connection, corrupt, --resend ip) it goes
 * through a raw IP socket, segmented to the MTU in userspace. Packets seen
 * on INPUT, and those that can be re-sent neither way, are held by NFQUEUE
 * id and get their NF_ACCEPT verdict when due (no copy unless modified).
 * Re-sent packets and duplicates carry SO_MARK=--mark so the iptables rule
 * that queued the original skips them.
 *
 * One thread: ppoll() on the nfqueue socket and a signalfd, with a timeout to
 * the earliest due packet (or the next once-a-second housekeeping: stats
 * file, NAT check).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <net/if.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/virtio_net.h>
#include <net/if_arp.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <libnetfilter_queue/linux_nfnetlink_queue.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_NO_ENOBUFS
#define NETLINK_NO_ENOBUFS 5
#endif
#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif
#ifndef NFQA_SKB_CSUMNOTREADY
#define NFQA_SKB_CSUMNOTREADY (1 << 0)
#endif
#ifndef NFQA_SKB_GSO
#define NFQA_SKB_GSO (1 << 1)
#endif

#define DEFAULT_MARK 0x746d74u
#define RECV_BUF_SIZE (65536 + 8192)
#define MAX_READS_PER_ROUND 256

/* ------------------------------------------------------------------ */
/* configuration                                                        */

struct config {
    int queue;
    uint64_t latency_ns;     /* netem q->latency */
    uint64_t jitter_ns;      /* netem q->jitter, clamped to INT_MAX like netem */
    uint32_t loss, duplicate, corrupt, reorder; /* netem u32 probabilities */
    uint32_t delay_rho, loss_rho, dup_rho, corrupt_rho, reorder_rho;
    uint32_t gap;
    uint32_t limit;
    uint32_t mark;
    uint64_t seed;
    bool seed_set;
    bool die_with_parent;
    bool resend_ip;          /* --resend ip: never the packet socket */
    const char *stats_file;
};

static struct config cfg = {
    .queue = -1,
    .limit = 1000,
    .mark = DEFAULT_MARK,
};

/* ------------------------------------------------------------------ */
/* random: splitmix64 stream + netem's correlated generator             */

static uint64_t prng_state;

static inline uint32_t prng_u32(void)
{
    uint64_t z = (prng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (uint32_t)(z >> 32);
}

struct crndstate {
    uint32_t last;
    uint32_t rho;
};

/* netem init_crandom */
static void init_crandom(struct crndstate *s, uint32_t rho)
{
    s->rho = rho;
    s->last = prng_u32();
}

/* netem get_crandom */
static inline uint32_t get_crandom(struct crndstate *s)
{
    uint64_t value, rho;
    if (s->rho == 0)
        return prng_u32();
    value = prng_u32();
    rho = (uint64_t)s->rho + 1;
    value = (value * ((1ull << 32) - rho) + (uint64_t)s->last * rho) >> 32;
    s->last = (uint32_t)value;
    return (uint32_t)value;
}

static inline uint32_t random_below(uint32_t n)
{
    return (uint32_t)(((uint64_t)prng_u32() * n) >> 32);
}

static struct crndstate delay_cor, loss_cor, dup_cor, corrupt_cor, reorder_cor;
static uint32_t reorder_counter; /* netem q->counter */

/* netem tabledist() without a distribution table (uniform) */
static inline int64_t tabledist(void)
{
    if (cfg.jitter_ns == 0)
        return (int64_t)cfg.latency_ns;
    uint32_t sigma = (uint32_t)cfg.jitter_ns;
    uint32_t rnd = get_crandom(&delay_cor);
    return ((int64_t)(rnd % (2 * sigma)) + (int64_t)cfg.latency_ns) - (int64_t)sigma;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* stats                                                                */

/* delayed: packets held for a delay instead of passing at once. */
static struct {
    uint64_t received, accepted, dropped, duplicated, corrupted, reordered, overlimit, delayed;
} st;

/* With --stats-file, the counters are written once a second (and on
 * SIGUSR1 and at exit), so that a metrics scrape reads them without
 * signalling the engine. */
#define STATS_INTERVAL_NS 1000000000ull

/* ------------------------------------------------------------------ */
/* held packets: FIFO ring (no jitter: due times are monotonic) or heap */

/* K_ORIG: held by nfqueue id; K_ORIG_MOD: same, replacement payload in data;
 * K_STOLEN: original already dropped in the kernel, data re-sent when due;
 * K_COPY: duplicate, data sent when due. */
enum { K_ORIG = 0, K_ORIG_MOD = 1, K_COPY = 2, K_STOLEN = 3 };

struct entry {
    uint64_t due;
    uint64_t seq;
    uint8_t *data;     /* K_ORIG_MOD: replacement payload, K_COPY: bytes to send */
    uint32_t id;       /* nfqueue packet id (originals) */
    uint32_t len;
    uint32_t ifindex;  /* K_COPY: output interface (IPv6 scope) */
    uint8_t kind;
    uint8_t corrupt;   /* K_COPY/K_STOLEN: flip a bit after checksumming */
    uint8_t direct;    /* K_COPY/K_STOLEN: may go out through the packet socket */
};

static struct entry *q_arr;
static size_t q_cap, q_len, q_head; /* q_head used in FIFO mode only */
static bool fifo_mode;
static uint64_t seq_counter;
static size_t held_orig; /* originals held (pending a verdict from us) */

static void q_grow(void)
{
    size_t ncap = q_cap ? q_cap * 2 : 1024;
    struct entry *n = malloc(ncap * sizeof *n);
    if (!n) {
        fprintf(stderr, "tumult-netem: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < q_len; i++)
        n[i] = q_arr[fifo_mode ? (q_head + i) % q_cap : i];
    free(q_arr);
    q_arr = n;
    q_cap = ncap;
    q_head = 0;
}

static inline bool ent_less(const struct entry *a, const struct entry *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void q_push(struct entry e)
{
    if (q_len == q_cap)
        q_grow();
    e.seq = seq_counter++;
    if (e.kind == K_ORIG || e.kind == K_ORIG_MOD)
        held_orig++;
    if (fifo_mode) {
        q_arr[(q_head + q_len) % q_cap] = e;
        q_len++;
        return;
    }
    size_t i = q_len++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ent_less(&e, &q_arr[p]))
            break;
        q_arr[i] = q_arr[p];
        i = p;
    }
    q_arr[i] = e;
}

static inline const struct entry *q_top(void)
{
    return q_len ? &q_arr[fifo_mode ? q_head : 0] : NULL;
}

static struct entry q_pop(void)
{
    struct entry top;
    if (fifo_mode) {
        top = q_arr[q_head];
        q_head = (q_head + 1) % q_cap;
        q_len--;
    } else {
        top = q_arr[0];
        struct entry last = q_arr[--q_len];
        size_t i = 0;
        for (;;) {
            size_t l = 2 * i + 1, r = l + 1, m = i;
            const struct entry *mv = &last;
            if (l < q_len && ent_less(&q_arr[l], mv)) {
                m = l;
                mv = &q_arr[l];
            }
            if (r < q_len && ent_less(&q_arr[r], mv))
                m = r;
            if (m == i)
                break;
            q_arr[i] = q_arr[m];
            i = m;
        }
        if (q_len)
            q_arr[i] = last;
    }
    if (top.kind == K_ORIG || top.kind == K_ORIG_MOD)
        held_orig--;
    return top;
}

/* ------------------------------------------------------------------ */
/* verdicts                                                             */

static struct nfq_handle *h;
static struct nfq_q_handle *qh;
static int raw4 = -1, raw6 = -1;

/* Deferred NF_ACCEPT for every pending id <= batch_hi. Only used while all
 * kernel-pending ids up to batch_hi are to be accepted unmodified. */
static bool batch_pending;
static uint32_t batch_hi, batch_verdict;

static void flush_batch(void)
{
    if (batch_pending) {
        nfq_set_verdict_batch(qh, batch_hi, batch_verdict);
        batch_pending = false;
    }
}

/* Caller guarantees every kernel-pending id below `id` gets the same verdict
 * (no original is held by id below it). */
static inline void defer_verdict(uint32_t id, uint32_t verdict)
{
    if (batch_pending && batch_verdict != verdict)
        flush_batch();
    batch_hi = id;
    batch_verdict = verdict;
    batch_pending = true;
}

static inline void defer_accept(uint32_t id)
{
    defer_verdict(id, NF_ACCEPT);
    st.accepted++;
}

static void verdict_now(uint32_t id, uint32_t verdict, uint32_t len, const uint8_t *data)
{
    flush_batch();
    nfq_set_verdict(qh, id, verdict, len, data);
    if (verdict == NF_ACCEPT)
        st.accepted++;
}

/* ------------------------------------------------------------------ */
/* packet helpers                                                       */

/* One's complement sum of big-endian 16-bit words (an odd tail byte is
 * padded), accumulated in 64 bits. */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
    while (len >= 8) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + 4, 4);
        sum += ntohl(a);
        sum += ntohl(b);
        p += 8;
        len -= 8;
    }
    while (len > 1) {
        sum += ((uint32_t)p[0] << 8) | p[1];
        p += 2;
        len -= 2;
    }
    if (len)
        sum += (uint32_t)p[0] << 8;
    return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Is the payload the whole packet (not truncated by the copy range)? */
static bool whole_packet(const uint8_t *p, uint32_t len)
{
    if (len < 20)
        return false;
    if ((p[0] >> 4) == 4)
        return (((uint32_t)p[2] << 8) | p[3]) == len;
    if ((p[0] >> 4) == 6 && len >= 40)
        return (((uint32_t)p[4] << 8) | p[5]) + 40 == len;
    return false;
}

/* Complete a TCP/UDP checksum left partial by checksum offload, so a copy sent
 * through a raw socket (no offload) is valid for the receiver. */
static void complete_l4_csum(uint8_t *p, uint32_t len)
{
    uint32_t l4off;
    uint64_t sum = 0;
    uint8_t proto;
    if ((p[0] >> 4) == 4) {
        l4off = (uint32_t)(p[0] & 0xf) * 4;
        if (l4off < 20 || l4off > len)
            return;
        if (((p[6] & 0x3f) | p[7]) != 0) /* fragment */
            return;
        proto = p[9];
        sum = csum_add(sum, p + 12, 8);
    } else {
        l4off = 40;
        proto = p[6]; /* extension headers: not handled */
        sum = csum_add(sum, p + 8, 32);
    }
    uint32_t l4len = len - l4off;
    uint32_t coff;
    if (proto == IPPROTO_TCP)
        coff = 16;
    else if (proto == IPPROTO_UDP)
        coff = 6;
    else
        return;
    if (l4len < coff + 2)
        return;
    sum += proto;
    sum += l4len >> 16;
    sum += l4len & 0xffff;
    uint8_t *l4 = p + l4off;
    l4[coff] = l4[coff + 1] = 0;
    sum = csum_add(sum, l4, l4len);
    uint16_t c = csum_fold(sum);
    if (proto == IPPROTO_UDP && c == 0)
        c = 0xffff;
    l4[coff] = (uint8_t)(c >> 8);
    l4[coff + 1] = (uint8_t)c;
}

/* Flip one random bit. IPv4: in the IP header (receiver's header checksum
 * fails; the L4 checksum of GSO packets is computed after us, so flipping
 * payload bits would deliver garbled data). IPv6 (no header checksum) or
 * l4_only: in the first 40 bytes after the IP header. Returns false if the
 * packet cannot be corrupted. */
static bool corrupt_packet(uint8_t *p, uint32_t len, bool l4_only)
{
    uint32_t off, span;
    if ((p[0] >> 4) == 4) {
        uint32_t ihl = (uint32_t)(p[0] & 0xf) * 4;
        if (ihl < 20 || ihl > len)
            return false;
        if (l4_only) {
            off = ihl;
            span = len - ihl;
        } else {
            off = 0;
            span = ihl;
        }
    } else {
        off = 40;
        span = len > 40 ? len - 40 : 0;
    }
    if (span > 40)
        span = 40;
    if (span == 0)
        return false;
    p[off + random_below(span)] ^= (uint8_t)(1u << random_below(8));
    return true;
}

/* ------------------------------------------------------------------ */
/* re-sending packets through the raw sockets                           */

static int mtu_cache[1024];

static int mtu_of(uint32_t ifindex)
{
    if (ifindex < 1024 && mtu_cache[ifindex])
        return mtu_cache[ifindex];
    int mtu = 1500;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    int s = raw4 >= 0 ? raw4 : raw6;
    if (ifindex && s >= 0 && if_indextoname(ifindex, ifr.ifr_name) &&
        ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu >= 68)
        mtu = ifr.ifr_mtu;
    if (ifindex < 1024)
        mtu_cache[ifindex] = mtu;
    return mtu;
}

struct pkt_info {
    uint32_t hl;     /* IP header length */
    uint32_t thl;    /* TCP header length (TCP only) */
    uint8_t proto;   /* L4 protocol right after the fixed/option IP header */
    bool v6;
    bool fragment;
};

static bool parse_pkt(const uint8_t *p, uint32_t len, struct pkt_info *pi)
{
    memset(pi, 0, sizeof *pi);
    if (!whole_packet(p, len))
        return false;
    if ((p[0] >> 4) == 4) {
        pi->hl = (uint32_t)(p[0] & 0xf) * 4;
        if (pi->hl < 20 || pi->hl > len)
            return false;
        pi->proto = p[9];
        pi->fragment = ((p[6] & 0x3f) | p[7]) != 0;
    } else {
        pi->v6 = true;
        pi->hl = 40;
        pi->proto = p[6]; /* extension headers are not walked */
    }
    if (pi->proto == IPPROTO_TCP && !pi->fragment && len >= pi->hl + 20) {
        pi->thl = (uint32_t)(p[pi->hl + 12] >> 4) * 4;
        if (pi->thl < 20 || pi->hl + pi->thl > len)
            return false;
    }
    return true;
}

/* Can this packet be sent through a raw socket (whole, or TCP that we can
 * segment to the output MTU)? */
static bool can_xmit(const uint8_t *p, uint32_t len, uint32_t ifindex)
{
    struct pkt_info pi;
    if (!p || !parse_pkt(p, len, &pi))
        return false;
    if ((pi.v6 ? raw6 : raw4) < 0)
        return false;
    uint32_t mtu = (uint32_t)mtu_of(ifindex);
    if (len <= mtu)
        return true;
    return pi.proto == IPPROTO_TCP && pi.thl && mtu > pi.hl + pi.thl + 8;
}

#define MAX_SEGS 64

/* Send a full IP packet through the raw socket of its family. TCP packets
 * larger than the MTU (GSO) are segmented like the kernel's TSO/GSO would.
 * L4 checksums are recomputed (they may be partial: offload). With corrupt,
 * one bit in the first 40 bytes after the IP header of the first segment is
 * flipped after checksumming. Returns the number of IP packets sent. */
static int xmit(uint8_t *p, uint32_t len, uint32_t ifindex, bool corrupt)
{
    struct pkt_info pi;
    if (!parse_pkt(p, len, &pi))
        return 0;
    int fd = pi.v6 ? raw6 : raw4;
    if (fd < 0)
        return 0;
    struct sockaddr_storage ss;
    socklen_t slen;
    memset(&ss, 0, sizeof ss);
    if (pi.v6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, p + 24, 16);
        if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) || IN6_IS_ADDR_MC_LINKLOCAL(&sin6->sin6_addr))
            sin6->sin6_scope_id = ifindex;
        slen = sizeof *sin6;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, p + 16, 4);
        slen = sizeof *sin;
    }
    uint32_t mtu = (uint32_t)mtu_of(ifindex);

    if (len <= mtu) {
        if (!pi.fragment)
            complete_l4_csum(p, len);
        if (corrupt)
            corrupt_packet(p, len, true);
        ssize_t rv = sendto(fd, p, len, MSG_DONTWAIT, (struct sockaddr *)&ss, slen);
        return rv == (ssize_t)len ? 1 : 0;
    }
    if (pi.proto != IPPROTO_TCP || !pi.thl)
        return 0;

    /* Software segmentation of a TCP super-packet. */
    uint32_t hdrs = pi.hl + pi.thl;
    if (mtu <= hdrs + 8)
        return 0;
    uint32_t mss = mtu - hdrs;
    const uint8_t *payload = p + hdrs;
    uint32_t plen = len - hdrs;
    uint32_t seq0;
    memcpy(&seq0, p + pi.hl + 4, 4);
    seq0 = ntohl(seq0);
    uint16_t id0 = (uint16_t)((p[4] << 8) | p[5]);
    uint8_t flags0 = p[pi.hl + 13];
    /* pseudo header addresses + protocol */
    uint64_t pseudo = pi.v6 ? csum_add(0, p + 8, 32) : csum_add(0, p + 12, 8);
    pseudo += IPPROTO_TCP;

    static uint8_t hbuf[MAX_SEGS][128];
    static uint8_t cbuf[MAX_SEGS][48]; /* corrupted copy of a segment's first payload bytes */
    struct mmsghdr msgs[MAX_SEGS];
    struct iovec iov[MAX_SEGS][3];
    int sent = 0;
    uint32_t nseg = (plen + mss - 1) / mss;
    uint32_t seg = 0;
    while (seg < nseg) {
        int n = 0;
        for (; n < MAX_SEGS && seg < nseg; n++, seg++) {
            uint32_t off = seg * mss;
            uint32_t dlen = plen - off < mss ? plen - off : mss;
            uint8_t *hb = hbuf[n];
            memcpy(hb, p, hdrs);
            uint8_t *th = hb + pi.hl;
            if (pi.v6) {
                uint32_t pl6 = pi.thl + dlen;
                hb[4] = (uint8_t)(pl6 >> 8);
                hb[5] = (uint8_t)pl6;
            } else {
                uint32_t tot = hdrs + dlen;
                uint16_t id = (uint16_t)(id0 + seg);
                hb[2] = (uint8_t)(tot >> 8);
                hb[3] = (uint8_t)tot;
                hb[4] = (uint8_t)(id >> 8);
                hb[5] = (uint8_t)id;
                hb[10] = hb[11] = 0; /* recomputed by the kernel (IP_HDRINCL) */
            }
            uint32_t seq = htonl(seq0 + off);
            memcpy(th + 4, &seq, 4);
            uint8_t fl = flags0;
            if (seg + 1 < nseg)
                fl &= (uint8_t)~0x09; /* FIN, PSH only on the last segment */
            if (seg > 0)
                fl &= (uint8_t)~0x80; /* CWR only on the first */
            th[13] = fl;
            th[16] = th[17] = 0;
            uint32_t l4len = pi.thl + dlen;
            uint64_t sum = pseudo + (l4len >> 16) + (l4len & 0xffff);
            sum = csum_add(sum, th, pi.thl);
            sum = csum_add(sum, payload + off, dlen);
            uint16_t c = csum_fold(sum);
            th[16] = (uint8_t)(c >> 8);
            th[17] = (uint8_t)c;
            iov[n][0].iov_base = hb;
            iov[n][0].iov_len = hdrs;
            iov[n][1].iov_base = (void *)(payload + off);
            iov[n][1].iov_len = dlen;
            size_t niov = 2;
            if (corrupt && seg == 0) {
                /* flip within the first 40 bytes after the IP header */
                uint32_t span = pi.thl + (dlen < 40 ? dlen : 40);
                if (span > 40)
                    span = 40;
                uint32_t at = random_below(span);
                uint8_t bit = (uint8_t)(1u << random_below(8));
                if (at < pi.thl) {
                    th[at] ^= bit;
                } else {
                    uint32_t k = dlen < 40 ? dlen : 40;
                    memcpy(cbuf[n], payload + off, k);
                    cbuf[n][at - pi.thl] ^= bit;
                    iov[n][1].iov_base = cbuf[n];
                    iov[n][1].iov_len = k;
                    iov[n][2].iov_base = (void *)(payload + off + k);
                    iov[n][2].iov_len = dlen - k;
                    niov = 3;
                }
            }
            memset(&msgs[n], 0, sizeof msgs[n]);
            msgs[n].msg_hdr.msg_name = &ss;
            msgs[n].msg_hdr.msg_namelen = slen;
            msgs[n].msg_hdr.msg_iov = iov[n];
            msgs[n].msg_hdr.msg_iovlen = niov;
        }
        int done = 0;
        while (done < n) {
            int r = sendmmsg(fd, msgs + done, (unsigned)(n - done), MSG_DONTWAIT);
            if (r <= 0) {
                if (r < 0 && errno == EINTR)
                    continue;
                if (r < 0 && (errno == ENOBUFS || errno == EAGAIN)) {
                    /* socket buffer full: wait briefly once */
                    struct pollfd pf = {.fd = fd, .events = POLLOUT};
                    if (poll(&pf, 1, 5) > 0)
                        continue;
                }
                break;
            }
            done += r;
        }
        sent += done;
        if (done < n)
            break;
    }
    return sent;
}

/* ------------------------------------------------------------------ */
/* re-sending packets whole through a packet socket                     */

/* A raw IP socket takes one MTU-sized packet per sendto, so a GSO
 * super-packet costs a userspace segmentation, a checksum pass and ~45 trips
 * through the IP stack and the receiver. An AF_PACKET socket with
 * PACKET_VNET_HDR takes it whole: the virtio_net_hdr carries gso_type and
 * gso_size and asks for checksum offload, so the device (or the kernel's
 * GSO) segments and checksums it like the original skb. It needs the
 * Ethernet header the neighbour layer would have written: the destination
 * MAC of the route's next hop, looked up over rtnetlink and cached. It skips
 * the hooks after OUTPUT (nat, POSTROUTING), so packets of connections that
 * conntrack translates keep the raw IP path. */

static int pkt_fd = -1;  /* AF_PACKET, SOCK_RAW, PACKET_VNET_HDR */
static int rtnl_fd = -1; /* NETLINK_ROUTE, for route and neighbour lookups */
static uint32_t rtnl_seq;

#define L2_SLOTS 256
#define L2_TTL_NS 1000000000ull    /* re-read route and neighbour once a second */
#define L2_NEG_TTL_NS 100000000ull /* unresolved: raw path, ask again after 100 ms */

struct l2_entry {
    uint64_t expires;
    uint32_t ifindex;
    uint8_t family;  /* 0: empty slot */
    uint8_t ok;      /* hdr is usable */
    uint8_t poke;    /* neighbour STALE: next packet takes the IP stack */
    uint8_t addr[16];
    uint8_t hdr[ETH_HLEN];
};
static struct l2_entry l2_cache[L2_SLOTS];

/* One request, one answer of type `want` copied into ans. */
static int rtnl_query(void *req, uint32_t len, uint16_t want, uint8_t *ans, size_t anslen)
{
    struct nlmsghdr *rq = req;
    rq->nlmsg_len = len;
    rq->nlmsg_flags = NLM_F_REQUEST;
    rq->nlmsg_seq = ++rtnl_seq;
    if (send(rtnl_fd, req, len, 0) != (ssize_t)len)
        return -1;
    for (;;) {
        ssize_t n = recv(rtnl_fd, ans, anslen, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        for (struct nlmsghdr *nh = (struct nlmsghdr *)ans; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
            if (nh->nlmsg_seq != rtnl_seq)
                continue;
            if (nh->nlmsg_type == want)
                return (int)nh->nlmsg_len;
            return -1; /* NLMSG_ERROR: no route, no neighbour */
        }
    }
}

static void add_attr(struct nlmsghdr *nh, uint16_t type, const void *data, uint16_t dlen)
{
    struct rtattr *rta = (struct rtattr *)((uint8_t *)nh + NLMSG_ALIGN(nh->nlmsg_len));
    rta->rta_type = type;
    rta->rta_len = (uint16_t)RTA_LENGTH(dlen);
    memcpy(RTA_DATA(rta), data, dlen);
    nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Fill e: route dst out of ifindex, its next hop's MAC, the device's MAC. */
static void l2_resolve(struct l2_entry *e, const uint8_t *dst, uint64_t now)
{
    int alen = e->family == AF_INET ? 4 : 16;
    uint8_t ans[4096] __attribute__((aligned(8)));
    e->ok = 0;
    e->poke = 0;
    e->expires = now + L2_NEG_TTL_NS;

    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (!if_indextoname(e->ifindex, ifr.ifr_name) || ioctl(pkt_fd, SIOCGIFHWADDR, &ifr) != 0 ||
        ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
        return; /* not Ethernet (loopback, tun, wireguard): raw IP path */

    struct {
        struct nlmsghdr nh;
        struct rtmsg rt;
        uint8_t attrs[64];
    } rreq;
    memset(&rreq, 0, sizeof rreq);
    rreq.nh.nlmsg_type = RTM_GETROUTE;
    rreq.nh.nlmsg_len = NLMSG_LENGTH(sizeof rreq.rt);
    rreq.rt.rtm_family = e->family;
    rreq.rt.rtm_dst_len = (uint8_t)(alen * 8);
    uint32_t oif = e->ifindex;
    add_attr(&rreq.nh, RTA_DST, dst, (uint16_t)alen);
    add_attr(&rreq.nh, RTA_OIF, &oif, 4);
    int n = rtnl_query(&rreq, rreq.nh.nlmsg_len, RTM_NEWROUTE, ans, sizeof ans);
    if (n < 0)
        return;
    struct rtmsg *rt = NLMSG_DATA((struct nlmsghdr *)ans);
    if (rt->rtm_type != RTN_UNICAST)
        return;
    uint8_t hop[16];
    memcpy(hop, dst, (size_t)alen);
    int rlen = (int)RTM_PAYLOAD((struct nlmsghdr *)ans);
    for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, rlen); a = RTA_NEXT(a, rlen)) {
        if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == (unsigned)alen)
            memcpy(hop, RTA_DATA(a), (size_t)alen);
        else if (a->rta_type == RTA_VIA || a->rta_type == RTA_MULTIPATH)
            return;
        else if (a->rta_type == RTA_OIF && *(uint32_t *)RTA_DATA(a) != e->ifindex)
            return;
    }

    struct {
        struct nlmsghdr nh;
        struct ndmsg nd;
        uint8_t attrs[32];
    } nreq;
    memset(&nreq, 0, sizeof nreq);
    nreq.nh.nlmsg_type = RTM_GETNEIGH;
    nreq.nh.nlmsg_len = NLMSG_LENGTH(sizeof nreq.nd);
    nreq.nd.ndm_family = e->family;
    nreq.nd.ndm_ifindex = (int)e->ifindex;
    add_attr(&nreq.nh, NDA_DST, hop, (uint16_t)alen);
    n = rtnl_query(&nreq, nreq.nh.nlmsg_len, RTM_NEWNEIGH, ans, sizeof ans);
    if (n < 0)
        return;
    struct ndmsg *nd = NLMSG_DATA((struct nlmsghdr *)ans);
    if (!(nd->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT)))
        return; /* incomplete or failed: the IP stack resolves it */
    int nlen = (int)(((struct nlmsghdr *)ans)->nlmsg_len - NLMSG_LENGTH(sizeof *nd));
    for (struct rtattr *a = (struct rtattr *)((uint8_t *)nd + NLMSG_ALIGN(sizeof *nd)); RTA_OK(a, nlen);
         a = RTA_NEXT(a, nlen)) {
        if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == ETH_ALEN) {
            memcpy(e->hdr, RTA_DATA(a), ETH_ALEN);
            memcpy(e->hdr + ETH_ALEN, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
            uint16_t proto = htons(e->family == AF_INET ? ETH_P_IP : ETH_P_IPV6);
            memcpy(e->hdr + 2 * ETH_ALEN, &proto, 2);
            e->ok = 1;
            /* Packets sent here never pass the neighbour layer, which would
             * re-validate a STALE entry on use: let one through the IP stack. */
            e->poke = (nd->ndm_state & NUD_STALE) != 0;
            e->expires = now + L2_TTL_NS;
            return;
        }
    }
}

/* The Ethernet header for dst out of ifindex, or NULL: use the raw IP path. */
static const uint8_t *l2_header(int family, const uint8_t *dst, uint32_t ifindex, uint64_t now)
{
    int alen = family == AF_INET ? 4 : 16;
    uint32_t hsh = ifindex * 0x9e3779b1u;
    for (int i = 0; i < alen; i++)
        hsh = (hsh ^ dst[i]) * 0x01000193u;
    struct l2_entry *e = &l2_cache[hsh % L2_SLOTS];
    if (e->family != family || e->ifindex != ifindex || memcmp(e->addr, dst, (size_t)alen) != 0 ||
        now >= e->expires) {
        e->family = (uint8_t)family;
        e->ifindex = ifindex;
        memcpy(e->addr, dst, (size_t)alen);
        l2_resolve(e, dst, now);
    }
    if (!e->ok)
        return NULL;
    if (e->poke) {
        e->poke = 0;
        return NULL;
    }
    return e->hdr;
}

/* Send a whole IP packet (GSO or not) through the packet socket. Returns 1 if
 * sent, 0 if the caller should use the raw IP path. The L4 checksum field is
 * rewritten to the pseudo-header sum that checksum offload expects. */
static int xmit_direct(uint8_t *p, uint32_t len, uint32_t ifindex)
{
    struct pkt_info pi;
    if (pkt_fd < 0 || !parse_pkt(p, len, &pi))
        return 0;
    const uint8_t *hdr = l2_header(pi.v6 ? AF_INET6 : AF_INET, p + (pi.v6 ? 24 : 16), ifindex, now_ns());
    if (!hdr)
        return 0;
    uint32_t mtu = (uint32_t)mtu_of(ifindex);
    struct virtio_net_hdr vh;
    memset(&vh, 0, sizeof vh);
    uint32_t coff = 0;
    if (!pi.fragment && pi.proto == IPPROTO_TCP && pi.thl)
        coff = 16;
    else if (!pi.fragment && pi.proto == IPPROTO_UDP && len <= mtu)
        coff = 6;
    if (len > mtu) {
        if (coff != 16 || mtu <= pi.hl + pi.thl + 8)
            return 0;
        vh.gso_type = pi.v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
        if (p[pi.hl + 13] & 0x80) /* CWR: the kernel clears it after the first segment */
            vh.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
        vh.gso_size = (uint16_t)(mtu - pi.hl - pi.thl);
        vh.hdr_len = (uint16_t)(ETH_HLEN + pi.hl + pi.thl);
    }
    if (coff) {
        uint32_t l4len = len - pi.hl;
        if (l4len < coff + 2)
            return 0;
        uint64_t sum = pi.v6 ? csum_add(0, p + 8, 32) : csum_add(0, p + 12, 8);
        sum += pi.proto + (l4len >> 16) + (l4len & 0xffff);
        uint16_t c = (uint16_t)~csum_fold(sum);
        p[pi.hl + coff] = (uint8_t)(c >> 8);
        p[pi.hl + coff + 1] = (uint8_t)c;
        vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        vh.csum_start = (uint16_t)(ETH_HLEN + pi.hl);
        vh.csum_offset = (uint16_t)coff;
    }
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = (int)ifindex;
    sll.sll_protocol = htons(pi.v6 ? ETH_P_IPV6 : ETH_P_IP);
    struct iovec iov[3] = {{&vh, sizeof vh}, {(void *)hdr, ETH_HLEN}, {p, len}};
    struct msghdr mh = {.msg_name = &sll, .msg_namelen = sizeof sll, .msg_iov = iov, .msg_iovlen = 3};
    for (int tries = 0; tries < 2; tries++) {
        ssize_t rv = sendmsg(pkt_fd, &mh, MSG_DONTWAIT);
        if (rv >= 0)
            return 1;
        if (errno == EINTR) {
            tries--;
            continue;
        }
        if (errno != ENOBUFS && errno != EAGAIN)
            break;
        struct pollfd pf = {.fd = pkt_fd, .events = POLLOUT};
        poll(&pf, 1, 5);
    }
    return 0; /* e.g. EMSGSIZE, ENETDOWN: the raw IP path decides */
}

/* ------------------------------------------------------------------ */
/* netem_enqueue                                                        */

/* The reorder/delay tail of netem_enqueue. Returns the due time; *reordered
 * when the packet goes out at once (netem: head of the queue). */
static uint64_t reorder_or_delay(uint64_t now, bool *reordered)
{
    *reordered = false;
    if (cfg.gap == 0 || reorder_counter < cfg.gap - 1 ||
        cfg.reorder < get_crandom(&reorder_cor)) {
        int64_t delay = tabledist();
        reorder_counter++;
        if (delay < 0)
            delay = 0;
        return now + (uint64_t)delay;
    }
    reorder_counter = 0;
    *reordered = true;
    return now;
}

static bool steal_mode; /* delayed packets are dropped in the kernel at once and re-sent when due */

static void send_entry(struct entry *e)
{
    int n = 0;
    if (e->direct && !e->corrupt)
        n = xmit_direct(e->data, e->len, e->ifindex);
    if (n == 0)
        n = xmit(e->data, e->len, e->ifindex, e->corrupt);
    if (e->kind == K_COPY) {
        if (n > 0)
            st.duplicated++;
    } else if (n > 0) {
        st.accepted++;
    } else {
        st.dropped++; /* could not be re-sent */
    }
}

static bool ct_flag;  /* NFQA_CFG_F_CONNTRACK accepted: NFQA_CT tells NAT */
static bool ct_blind; /* no NFQA_CT, and NAT may be at work in this namespace */

/* Without NFQA_CT (nf_conntrack_netlink not loaded), NAT is ruled out when
 * nf_nat is not in the kernel or this namespace tracks no connection.
 * Checked at start and once a second. */
static void check_nat(void)
{
    if (ct_flag || pkt_fd < 0)
        return;
    bool nat = access("/sys/module/nf_nat", F_OK) == 0;
    if (nat) {
        FILE *f = fopen("/proc/sys/net/netfilter/nf_conntrack_count", "r");
        unsigned long n = 0;
        if (f) {
            if (fscanf(f, "%lu", &n) != 1)
                n = 1;
            fclose(f);
        }
        nat = n > 0;
    }
    ct_blind = nat;
}

/* May a copy of this packet skip the hooks after OUTPUT (packet socket)? Not
 * if conntrack translates its connection (the raw IP path re-enters nat) or
 * may still do so (connection not confirmed yet). */
static bool may_bypass_hooks(struct nfq_data *nfa)
{
    if (ct_blind)
        return false;
    if (!ct_flag)
        return true;
    /* libnetfilter_queue's struct nfq_data is { struct nfattr **data; },
     * indexed by attribute type - 1; it has no getter for NFQA_CT. */
    struct nfattr **tb = *(struct nfattr ***)nfa;
    struct nfattr *ct = tb[NFQA_CT - 1];
    if (!ct)
        return true; /* untracked */
    int len = (int)NFA_PAYLOAD(ct);
    for (struct nfattr *a = NFA_DATA(ct); NFA_OK(a, len); a = NFA_NEXT(a, len)) {
        if (NFA_TYPE(a) == CTA_STATUS && NFA_PAYLOAD(a) >= 4) {
            uint32_t status;
            memcpy(&status, NFA_DATA(a), 4);
            status = ntohl(status);
            return (status & IPS_CONFIRMED) && !(status & IPS_NAT_MASK);
        }
    }
    return false;
}

/* The duplicate re-enters netem with q->duplicate == 0. */
static void enqueue_copy(const uint8_t *pl, uint32_t plen, uint32_t ifindex, bool direct, uint64_t now)
{
    if (cfg.loss && cfg.loss >= get_crandom(&loss_cor)) {
        st.dropped++;
        return;
    }
    bool corrupt = cfg.corrupt && cfg.corrupt >= get_crandom(&corrupt_cor);
    if (q_len >= cfg.limit) {
        st.overlimit++;
        return;
    }
    bool reordered;
    uint64_t due = reorder_or_delay(now, &reordered);
    if (reordered)
        st.reordered++;

    /* Copies that cannot go through a raw socket are skipped, not counted. */
    if (!can_xmit(pl, plen, ifindex))
        return;
    struct entry e = {.kind = K_COPY, .len = plen, .ifindex = ifindex, .due = due,
                      .corrupt = corrupt, .direct = direct};
    if (corrupt)
        st.corrupted++;
    e.data = malloc(plen);
    if (!e.data)
        return;
    memcpy(e.data, pl, plen);
    if (due <= now && q_len == 0) {
        flush_batch();
        send_entry(&e);
        free(e.data);
        return;
    }
    q_push(e);
}

static int on_packet(struct nfq_q_handle *qh_, struct nfgenmsg *m, struct nfq_data *nfa, void *d)
{
    (void)qh_;
    (void)m;
    (void)d;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    if (!ph)
        return 0;
    uint32_t id = ntohl(ph->packet_id);
    uint64_t now = now_ns();
    st.received++;

    /* Random duplication */
    int count = 1;
    if (cfg.duplicate && cfg.duplicate >= get_crandom(&dup_cor))
        count++;
    /* Drop packet? */
    if (cfg.loss && cfg.loss >= get_crandom(&loss_cor))
        count--;
    if (count == 0) {
        if (held_orig == 0)
            defer_verdict(id, NF_DROP);
        else
            verdict_now(id, NF_DROP, 0, NULL);
        st.dropped++;
        return 0;
    }

    unsigned char *pl = NULL;
    int plen = 0;
    uint32_t ifindex = 0;
    if (count > 1 || cfg.corrupt || steal_mode) {
        plen = nfq_get_payload(nfa, &pl);
        if (plen < 0) {
            plen = 0;
            pl = NULL;
        }
        ifindex = nfq_get_outdev(nfa);
    }
    bool direct = (count > 1 || steal_mode) && may_bypass_hooks(nfa);
    if (count > 1)
        enqueue_copy(pl, (uint32_t)plen, ifindex, direct, now);

    /* Randomized packet corruption (the bit is flipped below) */
    bool corrupt = false;
    if (cfg.corrupt && cfg.corrupt >= get_crandom(&corrupt_cor))
        corrupt = pl && whole_packet(pl, (uint32_t)plen);

    if (q_len >= cfg.limit) {
        if (held_orig == 0)
            defer_verdict(id, NF_DROP);
        else
            verdict_now(id, NF_DROP, 0, NULL);
        st.overlimit++;
        return 0;
    }

    bool reordered;
    uint64_t due = reorder_or_delay(now, &reordered);
    if (reordered)
        st.reordered++;
    bool immediate = reordered || (due <= now && q_len == 0);

    /* netem segments a GSO packet it corrupts and corrupts one segment:
     * corrupted super-packets take the re-send path too. */
    bool big = corrupt && (uint32_t)plen > (uint32_t)mtu_of(ifindex);
    /* Only locally sent packets are charged to a local socket; a received
     * one is cheaper to hold by id. */
    bool steal = steal_mode && ph->hook == NF_INET_LOCAL_OUT;
    if (((!immediate && steal) || big) && can_xmit(pl, (uint32_t)plen, ifindex)) {
        /* Drop it in the kernel now (this frees the sender's socket memory,
         * as netem's skb_orphan_partial does) and re-send a copy when due. */
        struct entry e = {.due = due, .kind = K_STOLEN, .len = (uint32_t)plen,
                          .ifindex = ifindex, .corrupt = corrupt, .direct = direct};
        e.data = malloc((size_t)plen);
        if (e.data) {
            memcpy(e.data, pl, (size_t)plen);
            if (corrupt)
                st.corrupted++;
            if (held_orig == 0)
                defer_verdict(id, NF_DROP);
            else
                verdict_now(id, NF_DROP, 0, NULL);
            if (immediate) {
                flush_batch();
                send_entry(&e);
                free(e.data);
            } else {
                st.delayed++;
                q_push(e);
            }
            return 0;
        }
    }

    uint8_t *mod = NULL;
    if (corrupt && (mod = malloc((size_t)plen)) != NULL) {
        memcpy(mod, pl, (size_t)plen);
        if (corrupt_packet(mod, (uint32_t)plen, false)) {
            st.corrupted++;
        } else {
            free(mod);
            mod = NULL;
        }
    }
    if (immediate) {
        if (mod) {
            verdict_now(id, NF_ACCEPT, (uint32_t)plen, mod);
            free(mod);
        } else if (held_orig == 0) {
            defer_accept(id);
        } else {
            verdict_now(id, NF_ACCEPT, 0, NULL);
        }
        return 0;
    }
    struct entry e = {.due = due, .id = id, .kind = mod ? K_ORIG_MOD : K_ORIG,
                      .data = mod, .len = mod ? (uint32_t)plen : 0};
    st.delayed++;
    q_push(e);
    return 0;
}

/* Release every held packet due at `now` (all of them if release_all). */
static void release_due(uint64_t now, bool release_all)
{
    const struct entry *t;
    while ((t = q_top()) != NULL && (release_all || t->due <= now)) {
        struct entry e = q_pop();
        switch (e.kind) {
        case K_ORIG:
            /* In FIFO mode ids leave in increasing order and every lower
             * pending id is either released here or already deferred, so
             * one batch verdict covers the run. */
            if (fifo_mode)
                defer_accept(e.id);
            else
                verdict_now(e.id, NF_ACCEPT, 0, NULL);
            break;
        case K_ORIG_MOD:
            verdict_now(e.id, NF_ACCEPT, e.len, e.data);
            free(e.data);
            break;
        case K_COPY:
        case K_STOLEN:
            flush_batch();
            send_entry(&e);
            free(e.data);
            break;
        }
    }
    flush_batch();
}

/* ------------------------------------------------------------------ */
/* stats file                                                           */

static void write_stats(void)
{
    if (!cfg.stats_file)
        return;
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", cfg.stats_file, (int)getpid()) >= (int)sizeof tmp)
        return;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "tumult-netem: cannot write %s: %s\n", tmp, strerror(errno));
        return;
    }
    fprintf(f,
            "{\"received\":%" PRIu64 ",\"accepted\":%" PRIu64 ",\"dropped\":%" PRIu64
            ",\"duplicated\":%" PRIu64 ",\"corrupted\":%" PRIu64 ",\"reordered\":%" PRIu64
            ",\"overlimit\":%" PRIu64 ",\"delayed\":%" PRIu64 ",\"held\":%zu}\n",
            st.received, st.accepted, st.dropped, st.duplicated, st.corrupted, st.reordered,
            st.overlimit, st.delayed, q_len);
    if (fclose(f) != 0 || rename(tmp, cfg.stats_file) != 0) {
        fprintf(stderr, "tumult-netem: cannot write %s: %s\n", cfg.stats_file, strerror(errno));
        unlink(tmp);
    }
}

/* ------------------------------------------------------------------ */
/* arguments                                                            */

static void usage(void)
{
    fprintf(stderr,
            "usage: tumult-netem --queue N [--delay-us U] [--jitter-us U] [--delay-correlation P]\n"
            "  [--loss P] [--loss-correlation P] [--duplicate P] [--duplicate-correlation P]\n"
            "  [--corrupt P] [--corrupt-correlation P] [--reorder P] [--reorder-correlation P]\n"
            "  [--gap N] [--limit N] [--mark M] [--seed S] [--die-with-parent] [--stats-file PATH]\n"
            "  [--resend packet|ip]\n"
            "P: percent 0-100 (decimal). U: microseconds.\n"
            "--resend: how delayed packets go out: whole through a packet socket where\n"
            "  possible (default), or always through the IP stack (raw socket, segmented).\n");
}

static void bad_arg(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "tumult-netem: invalid value '%s' for %s: %s\n", val ? val : "", opt, why);
    usage();
    exit(2);
}

static uint32_t parse_percent(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v))
        bad_arg(opt, s, "expected a number");
    if (v < 0 || v > 100)
        bad_arg(opt, s, "expected a percentage between 0 and 100");
    /* tc: rint(fraction * UINT32_MAX) */
    return (uint32_t)rint(v / 100.0 * (double)UINT32_MAX);
}

static uint64_t parse_uint(const char *opt, const char *s, uint64_t max, int base)
{
    char *end;
    if (s[0] == '-' || s[0] == '+' || s[0] == ' ' || s[0] == '\0')
        bad_arg(opt, s, "expected a non-negative integer");
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno || *end != '\0')
        bad_arg(opt, s, "expected a non-negative integer");
    if (v > max)
        bad_arg(opt, s, "out of range");
    return v;
}

static void parse_args(int argc, char **argv)
{
    bool reorder_set = false, gap_set = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *given = argv[i];
        if (strcmp(a, "--die-with-parent") == 0) {
            cfg.die_with_parent = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            exit(0);
        }
        const char *v = NULL;
        char namebuf[64];
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && eq && (size_t)(eq - a) < sizeof namebuf) {
            memcpy(namebuf, a, (size_t)(eq - a));
            namebuf[eq - a] = '\0';
            a = namebuf;
            v = eq + 1;
        } else if (i + 1 < argc) {
            v = argv[++i];
        }
#define OPT(name) (strcmp(a, name) == 0)
        if (!OPT("--queue") && !OPT("--delay-us") && !OPT("--jitter-us") &&
            !OPT("--delay-correlation") && !OPT("--loss") && !OPT("--loss-correlation") &&
            !OPT("--duplicate") && !OPT("--duplicate-correlation") && !OPT("--corrupt") &&
            !OPT("--corrupt-correlation") && !OPT("--reorder") && !OPT("--reorder-correlation") &&
            !OPT("--gap") && !OPT("--limit") && !OPT("--mark") && !OPT("--seed") &&
            !OPT("--stats-file") && !OPT("--resend")) {
            fprintf(stderr, "tumult-netem: unknown argument '%s'\n", given);
            usage();
            exit(2);
        }
        if (!v)
            bad_arg(a, NULL, "missing value");
        if (OPT("--queue"))
            cfg.queue = (int)parse_uint(a, v, 65535, 10);
        else if (OPT("--delay-us"))
            cfg.latency_ns = parse_uint(a, v, UINT64_MAX / 1000, 10) * 1000;
        else if (OPT("--jitter-us")) {
            uint64_t j = parse_uint(a, v, UINT64_MAX / 1000, 10) * 1000;
            cfg.jitter_ns = j > INT_MAX ? INT_MAX : j; /* netem: min(jitter, INT_MAX) */
        } else if (OPT("--delay-correlation"))
            cfg.delay_rho = parse_percent(a, v);
        else if (OPT("--loss"))
            cfg.loss = parse_percent(a, v);
        else if (OPT("--loss-correlation"))
            cfg.loss_rho = parse_percent(a, v);
        else if (OPT("--duplicate"))
            cfg.duplicate = parse_percent(a, v);
        else if (OPT("--duplicate-correlation"))
            cfg.dup_rho = parse_percent(a, v);
        else if (OPT("--corrupt"))
            cfg.corrupt = parse_percent(a, v);
        else if (OPT("--corrupt-correlation"))
            cfg.corrupt_rho = parse_percent(a, v);
        else if (OPT("--reorder")) {
            cfg.reorder = parse_percent(a, v);
            reorder_set = true;
        } else if (OPT("--reorder-correlation"))
            cfg.reorder_rho = parse_percent(a, v);
        else if (OPT("--gap")) {
            cfg.gap = (uint32_t)parse_uint(a, v, UINT32_MAX, 10);
            gap_set = true;
        } else if (OPT("--limit"))
            cfg.limit = (uint32_t)parse_uint(a, v, UINT32_MAX, 10);
        else if (OPT("--mark"))
            cfg.mark = (uint32_t)parse_uint(a, v, UINT32_MAX, 0);
        else if (OPT("--seed")) {
            cfg.seed = parse_uint(a, v, UINT64_MAX, 0);
            cfg.seed_set = true;
        } else if (OPT("--resend")) {
            if (strcmp(v, "ip") == 0)
                cfg.resend_ip = true;
            else if (strcmp(v, "packet") != 0)
                bad_arg(a, v, "expected packet or ip");
        } else if (OPT("--stats-file")) {
            if (!*v)
                bad_arg(a, v, "empty path");
            cfg.stats_file = v;
        }
#undef OPT
    }
    if (cfg.queue < 0) {
        fprintf(stderr, "tumult-netem: --queue N is required\n");
        usage();
        exit(2);
    }
    /* tc's netem front end: reorder needs a delay; reorder without gap means
     * gap 1; gap without reorder is rejected. The kernel then sets
     * reorder = ~0 when gap is set and no reorder probability is given
     * (netem_change), which tc never lets happen. */
    if (reorder_set && cfg.reorder) {
        if (cfg.latency_ns == 0) {
            fprintf(stderr, "tumult-netem: reordering not possible without specifying some delay\n");
            exit(2);
        }
        if (cfg.gap == 0)
            cfg.gap = 1;
    } else if (gap_set && cfg.gap > 0) {
        fprintf(stderr, "tumult-netem: gap specified without reorder probability\n");
        exit(2);
    }
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    /* Held packets are malloc'd and freed at a high rate: keep the heap
     * instead of returning it to the kernel and faulting it in again. */
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 1 << 20);

    /* Signals go through a signalfd: block them first. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGHUP);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        perror("tumult-netem: signalfd");
        return 1;
    }

    if (cfg.die_with_parent) {
        pid_t parent = getppid();
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
            perror("tumult-netem: prctl(PR_SET_PDEATHSIG)");
            return 1;
        }
        if (getppid() != parent || parent == 0) {
            fprintf(stderr, "tumult-netem: parent already gone\n");
            return 1;
        }
    }
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* precise wakeups */

    if (!cfg.seed_set)
        cfg.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ now_ns();
    prng_state = cfg.seed;
    init_crandom(&delay_cor, cfg.delay_rho);
    init_crandom(&loss_cor, cfg.loss_rho);
    init_crandom(&dup_cor, cfg.dup_rho);
    init_crandom(&reorder_cor, cfg.reorder_rho);
    init_crandom(&corrupt_cor, cfg.corrupt_rho);

    fifo_mode = cfg.jitter_ns == 0; /* constant delay keeps due times in order */
    steal_mode = cfg.latency_ns || cfg.jitter_ns;

    if (cfg.duplicate || steal_mode) {
        int one = 1;
        if (!cfg.resend_ip)
            pkt_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: sends only */
        int vnet = 1;
        if (pkt_fd >= 0 && (setsockopt(pkt_fd, SOL_PACKET, PACKET_VNET_HDR, &vnet, sizeof vnet) != 0 ||
                            setsockopt(pkt_fd, SOL_SOCKET, SO_MARK, &cfg.mark, sizeof cfg.mark) != 0)) {
            close(pkt_fd);
            pkt_fd = -1;
        }
        if (pkt_fd >= 0) {
            int sb = 32 << 20;
            if (setsockopt(pkt_fd, SOL_SOCKET, SO_SNDBUFFORCE, &sb, sizeof sb) != 0)
                setsockopt(pkt_fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
            rtnl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
            struct timeval tv = {.tv_sec = 0, .tv_usec = 100000}; /* a lookup never stalls the loop long */
            if (rtnl_fd >= 0)
                setsockopt(rtnl_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            if (rtnl_fd < 0) {
                close(pkt_fd);
                pkt_fd = -1; /* raw IP path only */
            }
        }
        raw4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
        if (raw4 < 0) {
            perror("tumult-netem: raw socket");
            return 1;
        }
        setsockopt(raw4, IPPROTO_IP, IP_HDRINCL, &one, sizeof one);
        if (setsockopt(raw4, SOL_SOCKET, SO_MARK, &cfg.mark, sizeof cfg.mark) != 0) {
            perror("tumult-netem: SO_MARK");
            return 1;
        }
        int sb = 32 << 20;
        if (setsockopt(raw4, SOL_SOCKET, SO_SNDBUFFORCE, &sb, sizeof sb) != 0)
            setsockopt(raw4, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
        raw6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
        if (raw6 >= 0 && (setsockopt(raw6, IPPROTO_IPV6, IPV6_HDRINCL, &one, sizeof one) != 0 ||
                          setsockopt(raw6, SOL_SOCKET, SO_MARK, &cfg.mark, sizeof cfg.mark) != 0)) {
            close(raw6);
            raw6 = -1; /* no IPv6 duplicates / re-sending */
        }
        if (raw6 >= 0) {
            int sb = 32 << 20;
            if (setsockopt(raw6, SOL_SOCKET, SO_SNDBUFFORCE, &sb, sizeof sb) != 0)
                setsockopt(raw6, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
        }
    }

    h = nfq_open();
    if (!h) {
        fprintf(stderr, "tumult-netem: nfq_open failed: %s\n", strerror(errno));
        return 1;
    }
    /* The rtnetlink socket binds only now, after the queue's: the kernel
     * gives the first netlink socket bound the process's pid as its port,
     * which is how Tumult's liveness check tells the engine still holds its
     * queue (/proc/net/netfilter/nfnetlink_queue); bound, it is also listed
     * in /proc/net/netlink as the engine's own. */
    if (rtnl_fd >= 0) {
        struct sockaddr_nl local = {.nl_family = AF_NETLINK};
        (void)bind(rtnl_fd, (struct sockaddr *)&local, sizeof local);
    }
    qh = nfq_create_queue(h, (uint16_t)cfg.queue, &on_packet, NULL);
    if (!qh) {
        fprintf(stderr, "tumult-netem: cannot bind queue %d: %s\n", cfg.queue,
                errno ? strerror(errno) : "already in use?");
        nfq_close(h);
        return 1;
    }
    bool need_payload = cfg.corrupt || cfg.duplicate || steal_mode;
    if (nfq_set_mode(qh, need_payload ? NFQNL_COPY_PACKET : NFQNL_COPY_META, 0xffff) < 0) {
        fprintf(stderr, "tumult-netem: cannot set copy mode on queue %d: %s\n", cfg.queue, strerror(errno));
        goto fail;
    }
    uint32_t maxlen = cfg.limit > 2048 ? (cfg.limit > UINT32_MAX / 2 ? UINT32_MAX : cfg.limit * 2) : 4096;
    if (nfq_set_queue_maxlen(qh, maxlen) < 0)
        fprintf(stderr, "tumult-netem: warning: cannot set queue maxlen %u\n", maxlen);
    if (nfq_set_queue_flags(qh, NFQA_CFG_F_GSO, NFQA_CFG_F_GSO) < 0)
        fprintf(stderr, "tumult-netem: warning: kernel does not accept NFQA_CFG_F_GSO\n");
    if (pkt_fd >= 0) {
        /* The conntrack status tells which packets may skip nat. Without it,
         * the packet socket is used only if conntrack is not loaded. */
        ct_flag = nfq_set_queue_flags(qh, NFQA_CFG_F_CONNTRACK, NFQA_CFG_F_CONNTRACK) == 0;
        check_nat();
    }

    int fd = nfq_fd(h);
    {
        int one = 1, sz = 64 << 20;
        setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
        sz = 4 << 20;
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) != 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    }

    write_stats();
    uint64_t next_stats = now_ns() + STATS_INTERVAL_NS;
    printf("ready queue=%d\n", cfg.queue);
    fflush(stdout);

    static char buf[RECV_BUF_SIZE] __attribute__((aligned(16)));
    struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    bool running = true;
    int exit_code = 0;
    while (running) {
        int reads = 0;
        while (reads < MAX_READS_PER_ROUND) {
            ssize_t rv = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (rv < 0) {
                if (errno == EINTR || errno == ENOBUFS)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                fprintf(stderr, "tumult-netem: recv: %s\n", strerror(errno));
                running = false;
                exit_code = 1;
                break;
            }
            nfq_handle_packet(h, buf, (int)rv);
            reads++;
        }
        uint64_t now = now_ns();
        release_due(now, false);
        if (!running)
            break;
        if (now >= next_stats) {
            write_stats();
            check_nat();
            next_stats = now + STATS_INTERVAL_NS;
        }

        struct timespec ts, *tsp = NULL;
        if (reads >= MAX_READS_PER_ROUND) {
            ts.tv_sec = 0;
            ts.tv_nsec = 0;
            tsp = &ts;
        } else if (q_len || cfg.stats_file || pkt_fd >= 0) {
            uint64_t due = q_len ? q_top()->due : next_stats;
            if (next_stats < due)
                due = next_stats;
            uint64_t wait = due > now ? due - now : 0;
            ts.tv_sec = (time_t)(wait / 1000000000ull);
            ts.tv_nsec = (long)(wait % 1000000000ull);
            tsp = &ts;
        }
        int pr = ppoll(pfd, 2, tsp, NULL);
        if (pr < 0 && errno != EINTR) {
            perror("tumult-netem: ppoll");
            exit_code = 1;
            break;
        }
        if (pr > 0 && (pfd[1].revents & POLLIN)) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGUSR1)
                    write_stats();
                else
                    running = false; /* SIGTERM, SIGINT, SIGHUP */
            }
        }
        if (pr > 0 && (pfd[0].revents & (POLLERR | POLLNVAL)) && !(pfd[0].revents & POLLIN)) {
            /* POLLERR on netlink usually means ENOBUFS; recv clears it */
            ssize_t rv = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (rv > 0)
                nfq_handle_packet(h, buf, (int)rv);
        }
    }

    /* Release every held packet at once, then unbind. */
    release_due(now_ns(), true);
    nfq_destroy_queue(qh);
    nfq_close(h);
    write_stats();
    return exit_code;

fail:
    nfq_destroy_queue(qh);
    nfq_close(h);
    return 1;
}
