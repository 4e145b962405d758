/* main.c - hmq-bench: the command line, the phases of a run, and the results.
 *
 *   hmq-bench idle   [options]  open N connections, report the connect rate and the broker's
 *                               RSS per connection, hold them for --hold s or until SIGINT/TERM
 *   hmq-bench pubsub [options]  P publishers -> S subscribers, QoS 0/1/2, max or fixed rate
 *   hmq-bench fanout [options]  1 publisher -> N subscribers on one topic
 *   hmq-bench connect [options] N connections, each closed at its CONNACK (--connect-concurrency
 *                               at once): connect rate and CONNECT -> CONNACK latency
 *
 * The main thread owns no connections: it sets up the threads (thread.c), moves the run through
 * its phases (connect, run, drain, stop) by setting hb_run_t.phase and waking the loops, polls
 * atomic counters in between (10 ms naps that also catch SIGINT/SIGTERM, which are blocked in
 * every thread and taken with sigtimedwait), then joins the threads and adds up what they saw.
 * See docs/benchmarks.md for how bench/compare.sh uses it.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static sigset_t g_sigs;
static int g_signal; /* first SIGINT/SIGTERM received, 0 if none */

static const char usage[] =
    "usage: hmq-bench idle|pubsub|fanout|connect [options]\n"
    "common:\n"
    "  --host IPV4 (127.0.0.1)  --port N (1883)  --src-addrs K (4): bind to 127.0.0.1..K\n"
    "  --threads N (1)  --protocol 4|5 (4 = MQTT 3.1.1)  --keepalive S (600)\n"
    "  --connect-concurrency N (64)  --connect-timeout S (60)\n"
    "  --broker-pid PID: sample its CPU time and RSS  --json: also print one JSON line\n"
    "  --label TEXT: copied into the JSON line\n"
    "  --username U --password P: sent in every CONNECT (default none)\n"
    "  --tls: MQTT over TLS  --cafile PEM: verify the broker (implies --tls)\n"
    "  --cert PEM --key PEM: client certificate  --servername NAME: SNI (default none)\n"
    "idle:\n"
    "  --connections N (1000)  --settle S (2): wait before sampling RSS\n"
    "  --hold S: keep the connections S seconds after reporting (default: until SIGINT/TERM)\n"
    "connect:\n"
    "  --connections N (1000): connect N times, closing each connection at its CONNACK (with a\n"
    "      DISCONNECT); --connect-concurrency of them in progress at once; reports connects/s,\n"
    "      CONNECT -> CONNACK latency and, with --broker-pid, the broker's CPU per connect\n"
    "pubsub / fanout:\n"
    "  --pubs P (10; fanout: 1)  --subs S (10; fanout: 1000)\n"
    "  --sub-mode topics|wildcard|pairs (topics): every subscriber subscribes to each publisher's\n"
    "      topic, or to one wildcard over them; pairs: subscriber s only to publisher s % P\n"
    "  --qos 0|1|2 (0)  --payload BYTES (64, >= 20)  --window W (100): QoS 1/2 in flight per pub\n"
    "  --rate MSG_PER_S: fixed offered rate, all publishers together (default: max rate)\n"
    "  --duration S (10)  --count N: total messages instead of a duration (0: connect only)\n"
    "  --max-backlog N (pubsub 1000, fanout 20; 0 = off): at max rate a publisher waits while N\n"
    "      of its messages are not yet seen by every subscriber\n"
    "  --drain S (10): longest wait for deliveries after publishing  --drain-idle S (1)\n"
    "  --topic-prefix P: topics P/<publisher> (default hmqb/<pid>)\n";

static void die_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "hmq-bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    exit(2);
}

static double num(const char *s, double lo, double hi, const char *name)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi) die_usage("bad value for --%s", name);
    return v;
}

static void defaults(hb_opts_t *o, hb_mode_t mode)
{
    memset(o, 0, sizeof(*o));
    o->mode = mode;
    o->host = "127.0.0.1";
    o->port = 1883;
    o->src_addrs = 4;
    o->threads = 1;
    o->version = HMQ_MQTT_V311;
    o->keepalive = 600;
    o->connections = 1000;
    o->connect_concurrency = 64;
    o->connect_timeout_s = 60;
    o->hold_s = -1;
    o->settle_s = 2;
    o->pubs = 10;
    o->subs = mode == HB_MODE_FANOUT ? 1000 : 10;
    o->payload = 64;
    o->window = 100;
    o->duration_s = 10;
    o->max_backlog = mode == HB_MODE_FANOUT ? 20 : 1000;
    o->drain_s = 10;
    o->drain_idle_s = 1;
    o->label = "";
}

/* The long options: where each value goes and which values are valid. */
typedef enum { T_U8, T_U16, T_U32, T_U64, T_INT, T_DBL, T_STR, T_FLAG, T_SUBMODE } opt_type_t;
typedef struct {
    const char *name;
    opt_type_t type;
    size_t off;
    double lo, hi;
} opt_t;

#define OPT(name, type, field, lo, hi)                                                             \
    {                                                                                              \
        name, type, offsetof(hb_opts_t, field), lo, hi                                             \
    }
static const opt_t options[] = {
    OPT("host", T_STR, host, 0, 0),
    OPT("port", T_U16, port, 1, 65535),
    OPT("src-addrs", T_U32, src_addrs, 1, 254),
    OPT("threads", T_U32, threads, 1, 256),
    OPT("protocol", T_U8, version, 4, 5),
    OPT("keepalive", T_U16, keepalive, 0, 65535),
    OPT("connections", T_U32, connections, 1, 1e7),
    OPT("connect-concurrency", T_U32, connect_concurrency, 1, 1e6),
    OPT("connect-timeout", T_DBL, connect_timeout_s, 0.1, 86400),
    OPT("hold", T_DBL, hold_s, -1, 1e9),
    OPT("settle", T_DBL, settle_s, 0, 3600),
    OPT("pubs", T_U32, pubs, 1, HB_MAX_PUBS),
    OPT("subs", T_U32, subs, 0, 1e6),
    OPT("sub-mode", T_SUBMODE, sub_mode, 0, 0),
    OPT("qos", T_U8, qos, 0, 2),
    OPT("payload", T_U32, payload, HB_PAYLOAD_HDR, 16 << 20),
    OPT("window", T_U32, window, 1, 65535),
    OPT("rate", T_DBL, rate, 0, 1e9),
    OPT("duration", T_DBL, duration_s, 0.001, 1e6),
    OPT("count", T_U64, count, 0, 1e12),
    OPT("max-backlog", T_U32, max_backlog, 0, 1e9),
    OPT("drain", T_DBL, drain_s, 0, 3600),
    OPT("drain-idle", T_DBL, drain_idle_s, 0.01, 3600),
    OPT("broker-pid", T_INT, broker_pid, 1, 1 << 30),
    OPT("json", T_FLAG, json, 0, 0),
    OPT("label", T_STR, label, 0, 0),
    OPT("tls", T_FLAG, tls, 0, 0),
    OPT("cafile", T_STR, tls_cafile, 0, 0),
    OPT("cert", T_STR, tls_cert, 0, 0),
    OPT("key", T_STR, tls_key, 0, 0),
    OPT("servername", T_STR, tls_servername, 0, 0),
    OPT("username", T_STR, username, 0, 0),
    OPT("password", T_STR, password, 0, 0),
    OPT("topic-prefix", T_STR, topic_prefix, 0, 0),
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))
#define OPT_BASE 256 /* getopt_long value of options[i]: OPT_BASE + i */

static void set_submode(hb_opts_t *o, const char *a)
{
    if (!strcmp(a, "topics"))
        o->sub_mode = HB_SUB_TOPICS;
    else if (!strcmp(a, "wildcard"))
        o->sub_mode = HB_SUB_WILDCARD;
    else if (!strcmp(a, "pairs"))
        o->sub_mode = HB_SUB_PAIRS;
    else
        die_usage("bad --sub-mode %s", a);
}

static void set_opt(hb_opts_t *o, const opt_t *d, const char *a)
{
    char *f = (char *)o + d->off;
    double v = d->type <= T_DBL ? num(a, d->lo, d->hi, d->name) : 0;
    switch (d->type) {
    case T_U8:
        *(uint8_t *)f = (uint8_t)v;
        break;
    case T_U16:
        *(uint16_t *)f = (uint16_t)v;
        break;
    case T_U32:
        *(uint32_t *)f = (uint32_t)v;
        break;
    case T_U64:
        *(uint64_t *)f = (uint64_t)v;
        break;
    case T_INT:
        *(int *)f = (int)v;
        break;
    case T_DBL:
        *(double *)f = v;
        break;
    case T_STR:
        *(const char **)f = a;
        break;
    case T_FLAG:
        *(bool *)f = true;
        break;
    case T_SUBMODE:
        set_submode(o, a);
        break;
    }
    if (d->off == offsetof(hb_opts_t, count)) o->by_count = true;
}

static void parse(hb_opts_t *o, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        exit(argc < 2 ? 2 : 0);
    }
    hb_mode_t mode;
    bool churn = !strcmp(argv[1], "connect"); /* idle connections that do not stay */
    if (!strcmp(argv[1], "idle") || churn)
        mode = HB_MODE_IDLE;
    else if (!strcmp(argv[1], "pubsub"))
        mode = HB_MODE_PUBSUB;
    else if (!strcmp(argv[1], "fanout"))
        mode = HB_MODE_FANOUT;
    else
        die_usage("unknown mode %s", argv[1]);
    defaults(o, mode);
    o->churn = churn;
    static struct option longopts[NOPTIONS + 2];
    for (size_t i = 0; i < NOPTIONS; i++)
        longopts[i] = (struct option){options[i].name, options[i].type == T_FLAG ? 0 : 1, NULL,
                                      OPT_BASE + (int)i};
    longopts[NOPTIONS] = (struct option){"help", 0, NULL, 'h'};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c < OPT_BASE) {
            fputs(usage, c == 'h' ? stdout : stderr);
            exit(c == 'h' ? 0 : 2);
        }
        set_opt(o, &options[c - OPT_BASE], optarg);
    }
    if (optind < argc) die_usage("unexpected argument %s", argv[optind]);
    if (mode == HB_MODE_FANOUT) o->pubs = 1;
    if (mode == HB_MODE_IDLE) o->pubs = o->subs = 0;
    if (o->topic_prefix && strlen(o->topic_prefix) + 1 >= sizeof(o->prefix))
        die_usage("--topic-prefix %s is too long", o->topic_prefix);
    if (o->topic_prefix)
        snprintf(o->prefix, sizeof(o->prefix), "%s", o->topic_prefix);
    else
        snprintf(o->prefix, sizeof(o->prefix), "hmqb/%u", (unsigned)getpid());
    o->token = (uint32_t)getpid() * 2654435761u ^ (uint32_t)hb_now_ns();
}

/* Sleep up to `seconds`; true if SIGINT/SIGTERM arrived. */
static bool nap(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    int sig = sigtimedwait(&g_sigs, NULL, &ts);
    if (sig > 0) {
        if (!g_signal) g_signal = sig;
        return true;
    }
    return false;
}

static double cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Connection g: subscribers first, then publishers; spread round-robin over the threads. */
static int setup(hb_run_t *run, uint32_t total)
{
    const hb_opts_t *o = run->opts;
    uint32_t T = o->threads;
    run->nthreads = T;
    run->threads = calloc(T, sizeof(hb_thread_t));
    run->pubs = calloc(o->pubs ? o->pubs : 1, sizeof(hb_pub_t *));
    if (!run->threads || !run->pubs) return -1;
    for (uint32_t t = 0; t < T; t++) {
        hb_thread_t *th = &run->threads[t];
        th->index = t;
        th->run = run;
        th->nconns = total / T + (t < total % T ? 1 : 0);
        th->conns = calloc(th->nconns ? th->nconns : 1, sizeof(hb_conn_t));
        th->pubs = calloc(o->pubs ? o->pubs : 1, sizeof(hb_pub_t *));
        th->pub_floor = calloc(o->pubs ? o->pubs : 1, sizeof(*th->pub_floor));
        th->handshake_limit = o->connect_concurrency / T ? o->connect_concurrency / T : 1;
        hb_hist_init(&th->stats.lat);
        if (!th->conns || !th->pubs || !th->pub_floor) return -1;
    }
    for (uint32_t g = 0; g < total; g++) {
        hb_thread_t *th = &run->threads[g % T];
        hb_role_t role = o->mode == HB_MODE_IDLE ? HB_ROLE_IDLE
                         : g < o->subs           ? HB_ROLE_SUB
                                                 : HB_ROLE_PUB;
        hb_conn_t *c = &th->conns[g / T];
        hb_conn_init(c, th, g, role);
        if (hb_load_conn_setup(c, o, role == HB_ROLE_PUB ? g - o->subs : g) < 0) return -1;
    }
    for (uint32_t t = 0; t < T; t++) { /* a thread without subscribers never limits a backlog */
        hb_thread_t *th = &run->threads[t];
        bool subs = false;
        for (uint32_t k = 0; k < th->nconns && !subs; k++)
            subs = th->conns[k].sub != NULL;
        for (uint32_t i = 0; i < o->pubs; i++)
            atomic_init(&th->pub_floor[i], subs ? 0 : UINT64_MAX);
    }
    return 0;
}

static void set_phase(hb_run_t *run, int phase)
{
    atomic_store(&run->phase, phase);
    for (uint32_t t = 0; t < run->nthreads; t++)
        hb_thread_wake(&run->threads[t]);
}

static void stop(hb_run_t *run)
{
    set_phase(run, HB_PH_STOP);
    for (uint32_t t = 0; t < run->nthreads; t++)
        hb_thread_join(&run->threads[t]);
}

/* Wait until every connection is ready or has failed. */
static void wait_connected(hb_run_t *run, uint32_t total, hb_result_t *r)
{
    uint64_t t0 = hb_now_ns();
    uint64_t deadline = t0 + (uint64_t)(run->opts->connect_timeout_s * 1e9);
    while (atomic_load(&run->ready) + atomic_load(&run->failed) < total && !g_signal &&
           hb_now_ns() < deadline)
        nap(0.01);
    r->connections = total;
    r->connected = atomic_load(&run->ready);
    r->failed = total - r->connected;
    uint64_t last = atomic_load(&run->t_last_connected_ns);
    r->connect_s = last > t0 ? (double)(last - t0) / 1e9 : 0;
}

static uint64_t delivered_now(const hb_run_t *run)
{
    uint64_t n = 0;
    for (uint32_t t = 0; t < run->nthreads; t++)
        n += atomic_load_explicit(&run->threads[t].stats.delivered, memory_order_acquire);
    return n;
}

static uint64_t expected_now(const hb_run_t *run)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < run->opts->pubs; i++)
        n += atomic_load_explicit(&run->pubs[i]->sent, memory_order_relaxed) *
             hb_load_subs_of(run->opts, i);
    return n;
}

/* After publishing: wait until everything expected arrived, nothing arrived for drain_idle, or
 * drain seconds passed. */
static void drain(const hb_run_t *run)
{
    const hb_opts_t *o = run->opts;
    uint64_t start = hb_now_ns(), progress = start, last = delivered_now(run);
    for (;;) {
        uint64_t now = hb_now_ns(), d = delivered_now(run);
        if (d >= expected_now(run)) break;
        if (d != last) {
            last = d;
            progress = now;
        }
        if (now - progress > (uint64_t)(o->drain_idle_s * 1e9)) break;
        if (now - start > (uint64_t)(o->drain_s * 1e9)) break;
        if (nap(0.01) && g_signal) break;
    }
}

static void collect_subs(const hb_run_t *run, const hb_thread_t *th, hb_result_t *r)
{
    const hb_opts_t *o = run->opts;
    for (uint32_t k = 0; k < th->nconns; k++) {
        const hb_sub_t *s = th->conns[k].sub;
        for (uint32_t i = 0; s && i < o->pubs; i++) {
            if (!hb_load_wants(o, th->conns[k].id, i)) continue;
            const hb_track_t *tr = &s->track[i];
            uint64_t sent = atomic_load(&run->pubs[i]->sent);
            r->unique += tr->unique;
            r->dups += tr->dups;
            r->reordered += tr->reordered;
            if (sent > tr->unique) r->lost += sent - tr->unique;
        }
    }
}

static void collect(const hb_run_t *run, hb_result_t *r)
{
    const hb_opts_t *o = run->opts;
    uint64_t t0 = atomic_load(&run->t_start_ns), last = 0;
    hb_hist_init(&r->lat);
    for (uint32_t i = 0; i < o->pubs; i++) {
        const hb_pub_t *p = run->pubs[i];
        r->sent += atomic_load(&p->sent);
        r->acked += p->acked;
        r->ack_errors += p->ack_errors;
        r->unacked += p->inflight;
        if ((double)p->max_lag_ns / 1e6 > r->max_lag_ms)
            r->max_lag_ms = (double)p->max_lag_ns / 1e6;
    }
    for (uint32_t t = 0; t < run->nthreads; t++) {
        const hb_thread_t *th = &run->threads[t];
        hb_hist_merge(&r->lat, &th->stats.lat);
        r->delivered += th->delivered_local;
        r->foreign += th->stats.foreign;
        r->protocol_errors += th->stats.protocol_errors;
        if (th->last_delivery_local > last) last = th->last_delivery_local;
        collect_subs(run, th, r);
    }
    r->expected = expected_now(run);
    r->run_s = last > t0 ? (double)(last - t0) / 1e9 : 0;
    r->dropped = atomic_load(&run->dropped);
}

static void sample_broker(const hb_opts_t *o, hb_result_t *r, double *cpu, uint64_t *rss)
{
    if (!o->broker_pid) return;
    if (cpu && hb_proc_cpu(o->broker_pid, cpu) < 0) return;
    if (rss && hb_proc_rss_kb(o->broker_pid, rss) < 0) return;
    r->have_broker = true;
}

static void report(const hb_opts_t *o, const hb_result_t *r)
{
    hb_report_text(o, r);
    if (o->json) hb_report_json(o, r);
}

static int run_idle(hb_run_t *run, hb_result_t *r)
{
    const hb_opts_t *o = run->opts;
    double cpu0 = cpu_self();
    sample_broker(o, r, NULL, &r->rss_before_kb);
    (void)hb_proc_meminfo_kb("Slab", &r->slab_before_kb);
    for (uint32_t t = 0; t < run->nthreads; t++)
        if (hb_thread_start(&run->threads[t]) < 0) return -1;
    wait_connected(run, o->connections, r);
    if (!g_signal) nap(o->settle_s);
    sample_broker(o, r, NULL, &r->rss_after_kb);
    (void)hb_proc_meminfo_kb("Slab", &r->slab_after_kb);
    r->dropped = atomic_load(&run->dropped);
    r->bench_cpu_s = cpu_self() - cpu0;
    r->signalled = g_signal;
    report(o, r);
    uint64_t held = hb_now_ns();
    if (o->hold_s < 0)
        while (!g_signal)
            nap(1);
    else if (!g_signal)
        nap(o->hold_s);
    if (o->hold_s != 0)
        printf("  held         %.1f s, %u connections dropped meanwhile\n",
               (double)(hb_now_ns() - held) / 1e9, atomic_load(&run->dropped) - r->dropped);
    stop(run);
    return r->failed ? 1 : 0;
}

/* Connect mode: every connection is closed at its CONNACK (thread.c), so only
 * --connect-concurrency are open at a time. Rate = connections / (first connect .. last CONNACK);
 * latency = CONNECT queued .. CONNACK read; CPU from before the first connect to after the last. */
static int run_connect(hb_run_t *run, hb_result_t *r)
{
    const hb_opts_t *o = run->opts;
    double cpu0 = cpu_self(), b0 = 0, b1 = 0, m0 = 0, m1 = 0;
    if (o->broker_pid) (void)hb_proc_cpu(o->broker_pid, &b0);
    (void)hb_proc_machine_busy(&m0);
    uint64_t t0 = hb_now_ns();
    for (uint32_t t = 0; t < run->nthreads; t++)
        if (hb_thread_start(&run->threads[t]) < 0) return -1;
    wait_connected(run, o->connections, r);
    nap(0.05); /* the broker handles the last DISCONNECTs */
    r->window_s = (double)(hb_now_ns() - t0) / 1e9;
    if (o->broker_pid && hb_proc_cpu(o->broker_pid, &b1) == 0) r->have_broker = true;
    (void)hb_proc_machine_busy(&m1);
    stop(run);
    r->bench_cpu_s = cpu_self() - cpu0;
    r->broker_cpu_s = b1 - b0;
    r->other_cpu_s = m1 - m0 - r->bench_cpu_s - r->broker_cpu_s;
    if (r->other_cpu_s < 0) r->other_cpu_s = 0;
    hb_hist_init(&r->lat);
    for (uint32_t t = 0; t < run->nthreads; t++)
        hb_hist_merge(&r->lat, &run->threads[t].stats.lat);
    r->signalled = g_signal;
    const hb_hist_t *h = &r->lat;
    double rate = r->connect_s > 0 ? r->connected / r->connect_s : 0;
    double cpu_us = r->connected ? r->broker_cpu_s * 1e6 / r->connected : 0;
    printf("hmq-bench connect: %u connections, %u at once, %u threads\n", o->connections,
           o->connect_concurrency, o->threads);
    printf("  connect      %u of %u in %.3f s (%.0f/s), %u failed\n", r->connected, r->connections,
           r->connect_s, rate, r->failed);
    printf("  CONNACK      p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f us\n",
           hb_hist_quantile(h, 0.5) / 1e3, hb_hist_quantile(h, 0.9) / 1e3,
           hb_hist_quantile(h, 0.99) / 1e3, hb_hist_quantile(h, 0.999) / 1e3, h->max / 1e3,
           hb_hist_mean(h) / 1e3);
    if (r->have_broker)
        printf("  broker       pid %d: %.3f CPU s, %.1f us per connect\n", o->broker_pid,
               r->broker_cpu_s, cpu_us);
    printf("  bench        %.2f CPU s; other processes used %.2f CPU s of the machine in %.2f s\n",
           r->bench_cpu_s, r->other_cpu_s, r->window_s);
    if (o->json)
        printf("{\"mode\":\"connect\",\"label\":\"%s\",\"version\":%u,\"connections\":%u,"
               "\"connected\":%u,\"connect_failed\":%u,\"concurrency\":%u,\"connect_s\":%.4f,"
               "\"connect_rate\":%.1f,\"lat_p50_us\":%.2f,\"lat_p90_us\":%.2f,"
               "\"lat_p99_us\":%.2f,\"lat_p999_us\":%.2f,\"lat_max_us\":%.2f,"
               "\"lat_mean_us\":%.2f,\"broker_cpu_s\":%.4f,\"broker_cpu_us_per_connect\":%.2f,"
               "\"bench_cpu_s\":%.3f,\"window_s\":%.3f,\"other_cpu_s\":%.3f,\"signalled\":%s}\n",
               o->label, o->version, r->connections, r->connected, r->failed,
               o->connect_concurrency, r->connect_s, rate, hb_hist_quantile(h, 0.5) / 1e3,
               hb_hist_quantile(h, 0.9) / 1e3, hb_hist_quantile(h, 0.99) / 1e3,
               hb_hist_quantile(h, 0.999) / 1e3, h->max / 1e3, hb_hist_mean(h) / 1e3,
               r->broker_cpu_s, cpu_us, r->bench_cpu_s, r->window_s, r->other_cpu_s,
               r->signalled ? "true" : "false");
    fflush(stdout);
    return r->failed ? 1 : 0;
}

/* CPU use over the measured window: the broker's, ours, and everybody else's on the machine. */
typedef struct {
    uint64_t t;
    double broker, self, machine;
} sample_t;

static void take(const hb_opts_t *o, sample_t *s)
{
    s->t = hb_now_ns();
    s->self = cpu_self();
    if (o->broker_pid) (void)hb_proc_cpu(o->broker_pid, &s->broker);
    (void)hb_proc_machine_busy(&s->machine);
}

static void account(const hb_opts_t *o, const sample_t *a, const sample_t *b, hb_result_t *r)
{
    r->window_s = (double)(b->t - a->t) / 1e9;
    r->bench_cpu_s = b->self - a->self;
    r->broker_cpu_s = b->broker - a->broker;
    r->other_cpu_s = b->machine - a->machine - r->bench_cpu_s - r->broker_cpu_s;
    if (r->other_cpu_s < 0) r->other_cpu_s = 0;
    sample_broker(o, r, NULL, &r->rss_after_kb);
}

static int run_load(hb_run_t *run, hb_result_t *r)
{
    const hb_opts_t *o = run->opts;
    uint32_t total = o->pubs + o->subs;
    for (uint32_t t = 0; t < run->nthreads; t++)
        if (hb_thread_start(&run->threads[t]) < 0) return -1;
    wait_connected(run, total, r);
    if (r->failed || g_signal) {
        stop(run);
        collect(run, r);
        r->signalled = g_signal;
        report(o, r);
        return 1;
    }
    sample_t s0, s1;
    take(o, &s0);
    atomic_store(&run->t_start_ns, s0.t);
    set_phase(run, HB_PH_RUN);
    /* Publishers stop by themselves (duration or count); QoS 1/2 ones once all is acknowledged. */
    double limit = (o->by_count ? 1e9 : o->duration_s) + o->drain_s + 5;
    while (atomic_load(&run->pubs_done) < o->pubs && hb_now_ns() - s0.t < (uint64_t)(limit * 1e9)) {
        if (nap(0.01) && atomic_load(&run->phase) == HB_PH_RUN) {
            set_phase(run, HB_PH_STOP_PUB);
            limit = (double)(hb_now_ns() - s0.t) / 1e9 + o->drain_s;
        }
    }
    r->pub_s = (double)(hb_now_ns() - s0.t) / 1e9;
    drain(run);
    take(o, &s1);
    account(o, &s0, &s1, r);
    stop(run);
    collect(run, r);
    r->signalled = g_signal;
    report(o, r);
    return 0;
}

static void cleanup(hb_run_t *run)
{
    for (uint32_t t = 0; run->threads && t < run->nthreads; t++)
        hb_thread_free(&run->threads[t]);
    free(run->threads);
    free(run->pubs);
}

int main(int argc, char **argv)
{
    static hb_opts_t opts;
    static hb_run_t run;
    static hb_result_t res;
    parse(&opts, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_DFL); /* a background job of a script starts with SIGINT ignored */
    signal(SIGTERM, SIG_DFL);
    sigemptyset(&g_sigs);
    sigaddset(&g_sigs, SIGINT);
    sigaddset(&g_sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &g_sigs, NULL); /* inherited by the threads; taken by nap() */

    uint64_t nofile = 0;
    if (hb_raise_nofile(&nofile) < 0) perror("hmq-bench: setrlimit");
    uint32_t total = opts.mode == HB_MODE_IDLE ? opts.connections : opts.pubs + opts.subs;
    uint32_t open_max =
        opts.churn && opts.connect_concurrency < total ? opts.connect_concurrency : total;
    uint64_t need = (uint64_t)open_max + 8 * (uint64_t)opts.threads + 16;
    if (nofile && need > nofile) {
        fprintf(stderr,
                "hmq-bench: %u connections need about %llu descriptors, the limit is %llu\n", total,
                (unsigned long long)need, (unsigned long long)nofile);
        return 2;
    }
    if (opts.threads > total) opts.threads = total ? total : 1;

    if (opts.tls_cafile || opts.tls_cert) opts.tls = true;
    if (opts.tls && hb_tls_ctx_new(&opts) < 0) return 2;
    run.opts = &opts;
    atomic_init(&run.phase, HB_PH_CONNECT);
    if (setup(&run, total) < 0) {
        fprintf(stderr, "hmq-bench: out of memory\n");
        return 1;
    }
    int rc = opts.churn                  ? run_connect(&run, &res)
             : opts.mode == HB_MODE_IDLE ? run_idle(&run, &res)
                                         : run_load(&run, &res);
    if (rc < 0) fprintf(stderr, "hmq-bench: cannot start the threads\n");
    cleanup(&run);
    hb_tls_ctx_free(&opts);
    return rc < 0 ? 1 : rc;
}
