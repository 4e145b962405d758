/* load.c - what hmq-bench's publishers send and what its subscribers check.
 *
 * Publishers (pump, every loop turn) send PUBLISH packets whose payload starts with the run token,
 * publisher index, sequence number and send time (CLOCK_MONOTONIC ns): at max rate limited by the
 * QoS 1/2 window, the socket and the backlog (messages not yet seen by every subscriber), or
 * paced to a fixed rate. QoS 1 completes on PUBACK, QoS 2 on PUBREC -> PUBREL -> PUBCOMP.
 * Subscribers acknowledge (PUBACK, or PUBREC then PUBCOMP on PUBREL), record the latency, and
 * keep per publisher a bitmap of the sequence numbers seen: duplicates, reordering, and at the end
 * (main.c) losses. Called by conn.c (packets) and thread.c (pump, tick, counters).
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HB_BATCH ((size_t)64 * 1024) /* bytes a publisher may have queued before it waits */

void hb_load_topic(const hb_opts_t *o, uint32_t pub, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%u", o->prefix, pub);
}

bool hb_load_wants(const hb_opts_t *o, uint32_t sub, uint32_t pub)
{
    return o->sub_mode != HB_SUB_PAIRS || sub % o->pubs == pub;
}

uint32_t hb_load_subs_of(const hb_opts_t *o, uint32_t pub)
{
    if (o->sub_mode != HB_SUB_PAIRS) return o->subs;
    return o->subs / o->pubs + (pub < o->subs % o->pubs ? 1 : 0);
}

const char *hb_load_submode_name(hb_submode_t m)
{
    return m == HB_SUB_WILDCARD ? "wildcard" : m == HB_SUB_PAIRS ? "pairs" : "topics";
}

static int setup_pub(hb_conn_t *c, const hb_opts_t *o, uint32_t index)
{
    hb_pub_t *p = calloc(1, sizeof(*p));
    if (!p) return -1;
    if (o->qos > 0 && !(p->idstate = calloc(65536, 1))) {
        free(p);
        return -1;
    }
    p->conn = c;
    p->index = index;
    p->window = o->window;
    p->next_id = 1;
    if (o->by_count) {
        uint64_t share = o->count / o->pubs + (index < o->count % o->pubs ? 1 : 0);
        p->limit = share > UINT32_MAX ? UINT32_MAX : (uint32_t)share;
    } else {
        p->limit = UINT32_MAX;
    }
    hb_load_topic(o, index, p->topic, sizeof(p->topic));
    p->topic_len = (uint16_t)strlen(p->topic);
    c->pub = p;
    c->th->run->pubs[index] = p;
    c->th->pubs[c->th->npubs++] = p;
    return 0;
}

static int setup_sub(hb_conn_t *c, const hb_opts_t *o)
{
    hb_sub_t *s = calloc(1, sizeof(*s));
    if (!s) return -1;
    s->track = calloc(o->pubs ? o->pubs : 1, sizeof(*s->track));
    if (o->qos == 2) s->rel_wait = calloc(65536 / 64, sizeof(uint64_t));
    c->sub = s;
    if (!s->track || (o->qos == 2 && !s->rel_wait)) return -1;
    return 0;
}

int hb_load_conn_setup(hb_conn_t *c, const hb_opts_t *o, uint32_t role_index)
{
    if (c->role == HB_ROLE_PUB) return setup_pub(c, o, role_index);
    if (c->role == HB_ROLE_SUB) return setup_sub(c, o);
    return 0;
}

void hb_load_conn_closed(hb_conn_t *c)
{
    hb_pub_t *p = c->pub;
    if (!p || p->done) return;
    p->stopped = p->done = true;
    atomic_fetch_add(&c->th->run->pubs_done, 1);
}

void hb_load_conn_free(hb_conn_t *c)
{
    if (c->pub) {
        free(c->pub->idstate);
        free(c->pub);
        c->pub = NULL;
    }
    if (c->sub) {
        uint32_t n = c->th->run->opts->pubs;
        for (uint32_t i = 0; c->sub->track && i < n; i++)
            free(c->sub->track[i].seen);
        free(c->sub->track);
        free(c->sub->rel_wait);
        free(c->sub);
        c->sub = NULL;
    }
}

/* One SUBSCRIBE: every publisher's topic, one wildcard over all of them, or its pair's topic. */
int hb_load_subscribe(hb_conn_t *c)
{
    const hb_opts_t *o = c->th->run->opts;
    uint32_t n = o->sub_mode == HB_SUB_TOPICS ? o->pubs : 1;
    uint8_t *raw = malloc((size_t)n * (HB_TOPIC_MAX + 3));
    if (!raw) return -1;
    size_t len = 0;
    for (uint32_t i = 0; i < n; i++) {
        char f[HB_TOPIC_MAX];
        if (o->sub_mode == HB_SUB_WILDCARD)
            snprintf(f, sizeof(f), "%s/+", o->prefix);
        else if (o->sub_mode == HB_SUB_PAIRS)
            hb_load_topic(o, c->id % o->pubs, f, sizeof(f));
        else
            hb_load_topic(o, i, f, sizeof(f));
        hmq_subopts_t so = {.qos = o->qos};
        hmq_bytes_t filter = {(const uint8_t *)f, (uint32_t)strlen(f)};
        len += hmq_mqtt_sub_entry_write(filter, &so, c->version, raw + len, HB_TOPIC_MAX + 3);
    }
    hmq_packet_t p;
    memset(&p, 0, sizeof(p));
    p.type = HMQ_SUBSCRIBE;
    p.flags = 0x2;
    p.subscribe.packet_id = 1;
    p.subscribe.entries = (hmq_bytes_t){raw, (uint32_t)len};
    p.subscribe.count = n;
    int rc = hb_conn_send(c, &p);
    free(raw);
    return rc;
}

static void send_ack(hb_conn_t *c, uint8_t type, uint16_t id)
{
    hmq_packet_t p;
    memset(&p, 0, sizeof(p));
    p.type = type;
    p.flags = type == HMQ_PUBREL ? 0x2 : 0;
    p.ack.packet_id = id;
    if (hb_conn_send(c, &p) < 0) c->th->stats.protocol_errors++;
}

/* Record sequence `seq`; returns true the first time it is seen. */
static bool track_seen(hb_track_t *t, uint32_t seq)
{
    uint32_t w = seq >> 6;
    if (w >= t->words) {
        uint32_t words = t->words ? t->words : 64;
        while (words <= w)
            words *= 2;
        uint64_t *seen = realloc(t->seen, (size_t)words * sizeof(uint64_t));
        if (!seen) return false;
        memset(seen + t->words, 0, (size_t)(words - t->words) * sizeof(uint64_t));
        t->seen = seen;
        t->words = words;
    }
    uint64_t bit = 1ull << (seq & 63);
    if (t->seen[w] & bit) {
        t->dups++;
        return false;
    }
    t->seen[w] |= bit;
    t->unique++;
    if (seq + 1 < t->next)
        t->reordered++;
    else
        t->next = seq + 1;
    return true;
}

static void on_publish(hb_conn_t *c, const hmq_publish_t *m, uint64_t now_ns)
{
    hb_thread_t *th = c->th;
    const hb_opts_t *o = th->run->opts;
    hb_sub_t *s = c->sub;
    if (m->qos == 2) {
        if (!s || !s->rel_wait) { /* QoS 2 we did not subscribe at: still complete the flow */
            send_ack(c, HMQ_PUBREC, m->packet_id);
            th->stats.foreign++;
            return;
        }
        uint64_t bit = 1ull << (m->packet_id & 63);
        uint64_t *word = &s->rel_wait[m->packet_id >> 6];
        send_ack(c, HMQ_PUBREC, m->packet_id);
        if (*word & bit) return; /* re-sent before our PUBREC arrived: delivered once already */
        *word |= bit;
    } else if (m->qos == 1) {
        send_ack(c, HMQ_PUBACK, m->packet_id);
    }
    uint32_t token, pub, seq;
    uint64_t sent_ns;
    if (!s || m->payload.len < HB_PAYLOAD_HDR) {
        th->stats.foreign++;
        return;
    }
    memcpy(&token, m->payload.p, 4);
    memcpy(&pub, m->payload.p + 4, 4);
    memcpy(&seq, m->payload.p + 8, 4);
    memcpy(&sent_ns, m->payload.p + 12, 8);
    if (token != o->token || pub >= o->pubs) {
        th->stats.foreign++;
        return;
    }
    th->delivered_local++;
    th->last_delivery_local = now_ns;
    if (track_seen(&s->track[pub], seq))
        hb_hist_record(&th->stats.lat, now_ns > sent_ns ? now_ns - sent_ns : 0);
}

static void complete(hb_pub_t *p, uint16_t id)
{
    p->idstate[id] = 0;
    p->inflight--;
    p->acked++;
}

static void on_ack(hb_conn_t *c, uint8_t type, const hmq_ack_t *a)
{
    hb_pub_t *p = c->pub;
    if (!p || !p->idstate) {
        c->th->stats.protocol_errors++;
        return;
    }
    uint8_t st = p->idstate[a->packet_id];
    if (type == HMQ_PUBACK && st == 1) {
        complete(p, a->packet_id);
        if (a->code >= 0x80) p->ack_errors++;
    } else if (type == HMQ_PUBREC && st == 1 && a->code >= 0x80) {
        complete(p, a->packet_id); /* refused: the flow ends without PUBREL */
        p->ack_errors++;
    } else if (type == HMQ_PUBREC && (st == 1 || st == 2)) {
        p->idstate[a->packet_id] = 2;
        send_ack(c, HMQ_PUBREL, a->packet_id);
    } else if (type == HMQ_PUBCOMP && st == 2) {
        complete(p, a->packet_id);
    } else {
        p->ack_errors++;
    }
}

void hb_load_on_packet(hb_conn_t *c, const uint8_t *pkt, size_t len, uint64_t now_ns)
{
    hmq_packet_t p;
    int rc = hmq_mqtt_decode(pkt, len, c->version, &p);
    if (rc < 0) {
        c->th->stats.protocol_errors++;
        return;
    }
    switch (p.type) {
    case HMQ_PUBLISH:
        on_publish(c, &p.publish, now_ns);
        break;
    case HMQ_PUBREL:
        if (c->sub && c->sub->rel_wait)
            c->sub->rel_wait[p.ack.packet_id >> 6] &= ~(1ull << (p.ack.packet_id & 63));
        send_ack(c, HMQ_PUBCOMP, p.ack.packet_id);
        break;
    default:
        on_ack(c, p.type, &p.ack);
    }
}

static uint16_t alloc_id(hb_pub_t *p)
{
    for (uint32_t i = 0; i < 65535; i++) {
        uint16_t id = p->next_id;
        if (++p->next_id == 0) p->next_id = 1;
        if (!p->idstate[id]) return id;
    }
    return 0;
}

static int publish_one(hb_conn_t *c, hb_pub_t *p, const hb_opts_t *o, uint64_t seq)
{
    hmq_publish_t m;
    memset(&m, 0, sizeof(m));
    m.qos = o->qos;
    m.topic = (hmq_bytes_t){(const uint8_t *)p->topic, p->topic_len};
    if (o->qos > 0 && (m.packet_id = alloc_id(p)) == 0) return -1;
    size_t room = 16 + p->topic_len + o->payload;
    uint8_t *w = hb_conn_reserve(c, room);
    if (!w) return -1;
    room = c->out.cap - c->out.len;
    size_t head = hmq_mqtt_encode_publish_head(&m, c->version, o->payload, w, room);
    if (head == 0 || head + o->payload > room) return -1;
    uint8_t *pl = w + head;
    uint32_t seq32 = (uint32_t)seq;
    uint64_t now = hb_now_ns();
    memcpy(pl, &o->token, 4);
    memcpy(pl + 4, &p->index, 4);
    memcpy(pl + 8, &seq32, 4);
    memcpy(pl + 12, &now, 8);
    memset(pl + HB_PAYLOAD_HDR, 'x', o->payload - HB_PAYLOAD_HDR);
    hb_conn_commit(c, head + o->payload);
    if (m.packet_id) {
        p->idstate[m.packet_id] = 1;
        p->inflight++;
    }
    atomic_store_explicit(&p->sent, seq + 1, memory_order_relaxed);
    return 0;
}

/* Fixed rate: publisher i of P sends message k at t0 + (k + i/P) / (rate/P) seconds. */
static double sched_s(const hb_opts_t *o, const hb_pub_t *p, uint64_t k)
{
    double r = o->rate / o->pubs;
    return ((double)k + (double)p->index / o->pubs) / r;
}

static uint64_t rate_due(const hb_opts_t *o, const hb_pub_t *p, uint64_t elapsed_ns)
{
    double x = (double)elapsed_ns * 1e-9 * (o->rate / o->pubs) - (double)p->index / o->pubs;
    return x < 0 ? 0 : (uint64_t)x + 1;
}

/* Lowest "highest sequence + 1" any subscriber has reported for publisher i. */
static uint64_t backlog_floor(const hb_run_t *run, uint32_t i)
{
    uint64_t floor = UINT64_MAX;
    for (uint32_t t = 0; t < run->nthreads; t++) {
        uint64_t f = atomic_load_explicit(&run->threads[t].pub_floor[i], memory_order_relaxed);
        if (f < floor) floor = f;
    }
    return floor;
}

static uint64_t budget_of(hb_run_t *run, hb_pub_t *p, uint64_t sent, uint64_t now)
{
    const hb_opts_t *o = run->opts;
    uint64_t budget = p->limit - sent;
    if (o->rate > 0) {
        uint64_t due = rate_due(o, p, now - atomic_load(&run->t_start_ns));
        uint64_t late = due > sent ? due - sent : 0;
        return late < budget ? late : budget;
    }
    if (o->max_backlog) {
        uint64_t floor = backlog_floor(run, p->index);
        uint64_t ahead = sent > floor ? sent - floor : 0;
        if (ahead >= o->max_backlog) return 0;
        if (o->max_backlog - ahead < budget) budget = o->max_backlog - ahead;
    }
    return budget;
}

static void pump_pub(hb_thread_t *th, hb_pub_t *p, uint64_t now)
{
    hb_run_t *run = th->run;
    const hb_opts_t *o = run->opts;
    hb_conn_t *c = p->conn;
    uint64_t sent = atomic_load_explicit(&p->sent, memory_order_relaxed);
    uint64_t t0 = atomic_load(&run->t_start_ns);
    if (!p->stopped && (atomic_load(&run->phase) != HB_PH_RUN || sent >= p->limit ||
                        (!o->by_count && now >= t0 + (uint64_t)(o->duration_s * 1e9))))
        p->stopped = true;
    if (c->recv_max && c->recv_max < p->window) p->window = c->recv_max;
    if (!p->stopped && c->state == HB_C_READY && !c->closing) {
        uint64_t budget = budget_of(run, p, sent, now);
        if (budget > 0 && o->rate > 0) {
            double late = (double)(now - t0) * 1e-9 - sched_s(o, p, sent);
            if (late > 0 && (uint64_t)(late * 1e9) > p->max_lag_ns)
                p->max_lag_ns = (uint64_t)(late * 1e9);
        }
        while (budget > 0 && (o->qos == 0 || p->inflight < p->window) &&
               hb_conn_pending(c) < HB_BATCH) {
            if (publish_one(c, p, o, sent) < 0) break;
            sent++;
            budget--;
        }
    }
    if (p->stopped && (p->inflight == 0 || c->closing) && !p->done) {
        p->done = true;
        atomic_fetch_add(&run->pubs_done, 1);
    }
}

void hb_load_pump(hb_thread_t *th)
{
    uint64_t now = hb_now_ns();
    for (uint32_t i = 0; i < th->npubs; i++)
        pump_pub(th, th->pubs[i], now);
}

void hb_load_tick(hb_thread_t *th)
{
    uint32_t npubs = th->run->opts->pubs;
    for (uint32_t i = 0; i < npubs; i++) {
        uint64_t floor = UINT64_MAX;
        for (uint32_t k = 0; k < th->nconns; k++) {
            hb_sub_t *s = th->conns[k].sub;
            if (s && !th->conns[k].closing && hb_load_wants(th->run->opts, th->conns[k].id, i) &&
                s->track[i].next < floor)
                floor = s->track[i].next;
        }
        atomic_store_explicit(&th->pub_floor[i], floor, memory_order_relaxed);
    }
}

void hb_load_flush_counts(hb_thread_t *th)
{
    if (atomic_load_explicit(&th->stats.delivered, memory_order_relaxed) == th->delivered_local)
        return;
    atomic_store_explicit(&th->stats.last_delivery_ns, th->last_delivery_local,
                          memory_order_relaxed);
    atomic_store_explicit(&th->stats.delivered, th->delivered_local, memory_order_release);
}
