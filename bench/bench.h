/* bench.h - hmq-bench internals: options, the shared run state, threads and client connections.
 *
 * hmq-bench is the MQTT load generator of bench/ (docs/benchmarks.md). main.c parses options
 * and drives the phases (connect, run, drain, stop) from the main thread; thread.c runs one libuv
 * loop per thread; conn.c is the MQTT client connection (connect, framing, batched writes);
 * load.c is the publisher/subscriber logic; hist.c the latency histogram; report.c the summary
 * and JSON line; proc.c reads a broker's CPU time and RSS, the machine's CPU time and kernel
 * memory from /proc.
 *
 * Ownership: every connection belongs to exactly one thread and is touched only by it while the
 * loops run. Cross-thread state is either atomic (counters the main thread polls) or read by the
 * main thread after the threads have been joined.
 */
#ifndef HB_BENCH_H
#define HB_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>
#include <uv.h>

#include "hist.h"
#include "mqtt/mqtt.h"

typedef enum { HB_MODE_IDLE, HB_MODE_PUBSUB, HB_MODE_FANOUT } hb_mode_t;
/* How subscribers subscribe: every publisher's topic (one filter each), one wildcard over all of
 * them, or pairs: subscriber s takes only publisher s % P (delivered rate = published rate). */
typedef enum { HB_SUB_TOPICS, HB_SUB_WILDCARD, HB_SUB_PAIRS } hb_submode_t;

/* Payload header every published message starts with (host byte order: same machine). */
#define HB_PAYLOAD_HDR 20 /* u32 run token, u32 publisher, u32 sequence, u64 send time (ns) */
#define HB_MAX_PUBS 10000
#define HB_TOPIC_MAX 96

typedef struct {
    hb_mode_t mode;
    const char *host;
    uint16_t port;
    uint32_t src_addrs; /* bind to 127.0.0.1 .. 127.0.0.K (loopback sources) */
    uint32_t threads;
    uint8_t version;              /* 4 (3.1.1) or 5 */
    uint16_t keepalive;           /* seconds; PINGREQ every keepalive/2 */
    uint32_t connections;         /* idle mode */
    uint32_t connect_concurrency; /* handshakes in progress, all threads together */
    double connect_timeout_s;
    double hold_s;   /* idle mode: < 0 = until SIGINT/SIGTERM */
    double settle_s; /* idle mode: wait before sampling the broker's RSS */
    uint32_t pubs, subs;
    hb_submode_t sub_mode;
    uint8_t qos;
    uint32_t payload;     /* bytes, >= HB_PAYLOAD_HDR */
    uint32_t window;      /* QoS 1/2: messages in flight per publisher */
    double rate;          /* offered msg/s, all publishers together; 0 = max rate */
    double duration_s;    /* publishing time, unless by_count */
    bool by_count;        /* --count given: send `count` messages, ignore duration */
    uint64_t count;       /* messages, all publishers together (may be 0: connect only) */
    uint32_t max_backlog; /* max rate: per publisher, not yet delivered to all subs */
    double drain_s;       /* longest wait for deliveries after publishing stops */
    double drain_idle_s;  /* ... or this long without any delivery */
    int broker_pid;       /* 0 = do not sample a broker */
    bool json;
    const char *label;
    bool tls;                   /* --tls: TLS to the broker (tls.c) */
    const char *tls_cafile;     /* verify the broker's certificate (implies --tls) */
    const char *tls_cert;       /* client certificate (mTLS) */
    const char *tls_key;        /* its key (default: in tls_cert) */
    const char *tls_servername; /* SNI; none by default */
    struct ssl_ctx_st *tls_ctx; /* set by main.c when tls */
    bool churn;                 /* connect mode: idle connections closed at their CONNACK */
    const char *username;       /* CONNECT username / password (none by default) */
    const char *password;
    const char *topic_prefix; /* --topic-prefix: topics <prefix>/<publisher> */
    char prefix[48];          /* topic prefix, unique per run: hmqb/<pid> */
    uint32_t token;           /* run token in every payload */
} hb_opts_t;

enum { HB_PH_CONNECT = 1, HB_PH_RUN, HB_PH_STOP_PUB, HB_PH_STOP };

/* State shared by all threads; written by main (phase, t_start) or atomically by threads. */
typedef struct {
    const hb_opts_t *opts;
    atomic_int phase;
    atomic_uint_fast64_t t_start_ns; /* CLOCK_MONOTONIC when publishing started */
    atomic_uint ready;               /* connections CONNACKed (and SUBACKed for subscribers) */
    atomic_uint failed;              /* connections that never became ready */
    atomic_uint dropped;             /* ready connections the broker closed */
    atomic_uint pubs_done;           /* publishers stopped with nothing left in flight */
    atomic_uint_fast64_t t_last_connected_ns;
    struct hb_pub **pubs; /* [opts->pubs], owned by their threads */
    struct hb_thread *threads;
    uint32_t nthreads;
} hb_run_t;

typedef struct {
    uint8_t *p;
    size_t len, cap;
} hb_buf_t;

typedef enum { HB_ROLE_IDLE, HB_ROLE_PUB, HB_ROLE_SUB } hb_role_t;
typedef enum {
    HB_C_NEW,
    HB_C_TCP,       /* TCP connect in progress */
    HB_C_CONNECT,   /* CONNECT sent */
    HB_C_SUBSCRIBE, /* SUBSCRIBE sent */
    HB_C_READY,
    HB_C_CLOSED,
} hb_cstate_t;

typedef struct hb_thread hb_thread_t;
typedef struct hb_conn hb_conn_t;

/* A publisher: sequence numbers, QoS 1/2 in-flight window, pacing. */
typedef struct hb_pub {
    struct hb_conn *conn;
    uint32_t index;
    uint32_t limit; /* messages to send (count mode), UINT32_MAX otherwise */
    uint32_t inflight;
    uint32_t window; /* min(opts window, broker Receive Maximum) */
    uint16_t next_id;
    uint8_t *idstate; /* [65536]: 0 free, 1 awaiting PUBACK/PUBREC, 2 PUBCOMP */
    bool stopped, done;
    uint16_t topic_len;
    char topic[HB_TOPIC_MAX];
    uint64_t max_lag_ns;       /* fixed rate: furthest behind schedule */
    uint64_t acked;            /* QoS 1/2 flows completed */
    uint64_t ack_errors;       /* v5 reason codes >= 0x80, unknown packet ids */
    atomic_uint_fast64_t sent; /* = next sequence number */
} hb_pub_t;

/* What one subscriber saw of one publisher. */
typedef struct {
    uint64_t *seen; /* bitmap of sequence numbers */
    uint32_t words;
    uint32_t next; /* highest sequence seen + 1 */
    uint64_t unique, dups, reordered;
} hb_track_t;

typedef struct {
    hb_track_t *track;  /* [opts->pubs] */
    uint64_t *rel_wait; /* QoS 2: bitmap of packet ids awaiting PUBREL */
} hb_sub_t;

struct hb_conn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    hb_thread_t *th;
    hb_conn_t *next_dirty;
    hb_buf_t in;   /* partial packet carried over between reads */
    hb_buf_t out;  /* packets queued this loop turn */
    hb_buf_t wbuf; /* packets being written */
    hb_buf_t cout; /* TLS: records not yet written */
    struct ssl_st *ssl;
    struct bio_st *rbio, *wbio;
    uint32_t id; /* global connection number */
    uint8_t role, state, version;
    bool inited, writing, dirty, closing;
    uint16_t recv_max;     /* broker's Receive Maximum (v5), 0 = none */
    uint64_t t_connect_ns; /* when CONNECT was queued (connect mode: CONNACK latency) */
    hb_pub_t *pub;
    hb_sub_t *sub;
};

/* Per-thread results, read by main after join (delivered/last_ns also while running). */
typedef struct {
    hb_hist_t lat;
    uint64_t unique, dups, reordered, foreign;
    uint64_t protocol_errors;
    atomic_uint_fast64_t delivered;
    atomic_uint_fast64_t last_delivery_ns;
} hb_tstats_t;

struct hb_thread {
    uint32_t index;
    pthread_t tid;
    hb_run_t *run;
    uv_loop_t loop;
    uv_async_t wake;
    uv_prepare_t flush;
    uv_timer_t tick; /* 1 ms while publishing: pacing and backlog checks */
    uv_timer_t ping;
    int phase; /* last phase acted on */
    hb_conn_t *conns;
    uint32_t nconns;
    uint32_t next_connect, handshakes, handshake_limit;
    hb_pub_t **pubs; /* publishers owned by this thread */
    uint32_t npubs;
    hb_conn_t *dirty;
    /* [opts->pubs]: lowest "highest sequence + 1" any of this thread's subscribers has seen of
     * each publisher (UINT64_MAX without subscribers); refreshed every tick, read by the
     * publishers' threads to bound the backlog. */
    atomic_uint_fast64_t *pub_floor;
    struct sockaddr_in dst;
    uint64_t delivered_local;
    uint64_t last_delivery_local;
    hb_tstats_t stats;
    uint8_t rbuf[256 * 1024];
};

/* What a run measured; filled by main.c, printed by report.c. */
typedef struct {
    uint32_t connections, connected, failed, dropped;
    double connect_s; /* first connect to last CONNACK/SUBACK */
    uint64_t sent, acked, ack_errors, unacked;
    uint64_t delivered, expected, unique, lost, dups, reordered, foreign, protocol_errors;
    double pub_s;      /* start of publishing until every publisher was done */
    double run_s;      /* start of publishing until the last delivery */
    double max_lag_ms; /* fixed rate: furthest a publisher fell behind schedule */
    hb_hist_t lat;
    bool have_broker;
    double broker_cpu_s;
    uint64_t rss_before_kb, rss_after_kb;
    uint64_t slab_before_kb, slab_after_kb; /* idle: kernel slab memory, whole machine */
    double bench_cpu_s;
    double window_s;    /* wall time between the start and end samples */
    double other_cpu_s; /* CPU time used on the machine by neither broker nor bench */
    int signalled;
} hb_result_t;

/* report.c */
void hb_report_text(const hb_opts_t *o, const hb_result_t *r);
void hb_report_json(const hb_opts_t *o, const hb_result_t *r);

/* clock */
uint64_t hb_now_ns(void);

/* buf */
int hb_buf_reserve(hb_buf_t *b, size_t extra);
void hb_buf_free(hb_buf_t *b);

/* conn.c */
void hb_conn_init(hb_conn_t *c, hb_thread_t *th, uint32_t id, hb_role_t role);
int hb_conn_start(hb_conn_t *c);
void hb_conn_close(hb_conn_t *c);
/* Append one encoded packet to the connection's output (flushed at the end of the loop turn). */
int hb_conn_send(hb_conn_t *c, const hmq_packet_t *packet);
uint8_t *hb_conn_reserve(hb_conn_t *c, size_t n);
void hb_conn_commit(hb_conn_t *c, size_t n);
void hb_conn_flush(hb_conn_t *c);
size_t hb_conn_pending(const hb_conn_t *c);

/* Plaintext MQTT bytes read from the broker (directly, or decrypted by tls.c). */
void hb_conn_plaintext(hb_conn_t *c, const uint8_t *data, size_t len, uint64_t now_ns);

/* tls.c */
int hb_tls_ctx_new(hb_opts_t *o);
void hb_tls_ctx_free(hb_opts_t *o);
int hb_tls_start(hb_conn_t *c);
void hb_tls_free(hb_conn_t *c);
/* Ciphertext read from the socket; plaintext goes to hb_conn_plaintext. 0, or -1 with *why. */
int hb_tls_input(hb_conn_t *c, const uint8_t *in, size_t len, uint8_t *plain, size_t cap,
                 uint64_t now_ns, const char **why);
/* Encrypt c->out (once the handshake is done) and move all pending records to cipher. */
int hb_tls_seal(hb_conn_t *c, hb_buf_t *cipher, const char **why);
bool hb_tls_pending(const hb_conn_t *c);

/* thread.c */
int hb_thread_start(hb_thread_t *th);
void hb_thread_join(hb_thread_t *th);
void hb_thread_free(hb_thread_t *th);
void hb_thread_wake(hb_thread_t *th);
void hb_thread_conn_ready(hb_thread_t *th, hb_conn_t *c);
void hb_thread_conn_failed(hb_thread_t *th, hb_conn_t *c, const char *why);

/* load.c: roles */
int hb_load_conn_setup(hb_conn_t *c, const hb_opts_t *o, uint32_t role_index);
void hb_load_conn_closed(hb_conn_t *c); /* a publisher that lost its connection is done */
void hb_load_conn_free(hb_conn_t *c);
int hb_load_subscribe(hb_conn_t *c);
void hb_load_on_packet(hb_conn_t *c, const uint8_t *pkt, size_t len, uint64_t now_ns);
void hb_load_pump(hb_thread_t *th);
void hb_load_tick(hb_thread_t *th);
void hb_load_flush_counts(hb_thread_t *th);
void hb_load_topic(const hb_opts_t *o, uint32_t pub, char *out, size_t cap);
bool hb_load_wants(const hb_opts_t *o, uint32_t sub, uint32_t pub);
uint32_t hb_load_subs_of(const hb_opts_t *o, uint32_t pub);
const char *hb_load_submode_name(hb_submode_t m);

/* proc.c */
int hb_proc_cpu(int pid, double *seconds);
int hb_proc_rss_kb(int pid, uint64_t *kb);
int hb_proc_machine_busy(double *seconds);
int hb_proc_meminfo_kb(const char *key, uint64_t *kb);
int hb_raise_nofile(uint64_t *limit);

#endif
