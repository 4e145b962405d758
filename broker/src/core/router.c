/* router.c - from an accepted message to its sessions: index match, per-session merge of
 * overlapping subscriptions (one delivery with the highest QoS and every subscription id,
 * [MQTT-3.3.4-2/3]), no-local, then local delivery or a batched post to the owning worker.
 */
#include "core/router.h"

#include <stdlib.h>
#include <string.h>

#include "core/session.h"

typedef struct {
    uint64_t uid;
    uint32_t worker;
    uint32_t sub_id;
    uint32_t cookie;
    uint8_t qos;
    bool rap;
    bool shared;
} match_t;

typedef struct {
    match_t *items;
    uint32_t count, cap;
} scratch_t;

typedef struct {
    scratch_t *sc;
    const hmq_msg_t *msg;
    hmq_subscriber_t *congested;
    bool oom;
} match_ctx_t;

static void on_match(void *ctx, const hmq_sub_entry_t *e, const char *group, size_t group_len)
{
    match_ctx_t *m = ctx;
    /* [MQTT-3.8.3-3] no local: not to the publisher's own non-shared subscriptions */
    if (!group && e->no_local && e->sub->uid == m->msg->origin_uid) return;
    scratch_t *sc = m->sc;
    if (sc->count == sc->cap) {
        uint32_t cap = sc->cap ? sc->cap * 2 : 64;
        match_t *items = realloc(sc->items, cap * sizeof *items);
        if (!items) {
            m->oom = true;
            return;
        }
        sc->items = items;
        sc->cap = cap;
    }
    match_t *r = &sc->items[sc->count++];
    r->uid = e->sub->uid;
    r->worker = e->sub->worker;
    r->sub_id = e->sub_id;
    r->cookie = group ? e->cookie : 0;
    r->qos = m->msg->qos < e->qos ? m->msg->qos : e->qos;
    r->rap = e->retain_as_published;
    r->shared = group != NULL;
    if (!m->congested && atomic_load_explicit(&e->sub->congested, memory_order_relaxed))
        m->congested = hmq_subscriber_ref(e->sub);
}

static int cmp_match(const void *a, const void *b)
{
    const match_t *x = a, *y = b;
    if (x->uid != y->uid) return x->uid < y->uid ? -1 : 1;
    return (int)x->shared - (int)y->shared;
}

/* Two subscriptions of one session may carry the same identifier: send it once. */
static bool has_id(const uint32_t *ids, uint16_t n, uint32_t id)
{
    for (uint16_t i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

void hmq_route_send(hmq_worker_t *w, uint32_t target, const hmq_delivery_t *d)
{
    if (target == w->id)
        hmq_route_deliver_batch(w, d, 1);
    else
        hmq_worker_post_delivery(w, target, d);
}

uint32_t hmq_route(hmq_worker_t *w, hmq_msg_t *msg, hmq_subscriber_t **congested)
{
    scratch_t *sc = w->match_scratch;
    if (!sc && !(sc = w->match_scratch = calloc(1, sizeof *sc))) return 0;
    sc->count = 0;
    match_ctx_t ctx = {.sc = sc, .msg = msg};
    hmq_topic_index_match(w->broker->index, msg->topic, msg->topic_len, on_match, &ctx);
    if (congested)
        *congested = ctx.congested;
    else if (ctx.congested)
        hmq_subscriber_unref(ctx.congested);
    if (sc->count > 1) qsort(sc->items, sc->count, sizeof *sc->items, cmp_match);

    uint32_t sessions = 0;
    for (uint32_t i = 0; i < sc->count;) {
        match_t *first = &sc->items[i];
        uint32_t j = i + 1;
        uint8_t qos = first->qos;
        bool rap = first->rap;
        if (!first->shared) /* merge this session's other non-shared matches */
            for (; j < sc->count && sc->items[j].uid == first->uid && !sc->items[j].shared; j++) {
                if (sc->items[j].qos > qos) qos = sc->items[j].qos;
                rap |= sc->items[j].rap;
            }
        hmq_delivery_t d = {
            .msg = hmq_msg_ref(msg), .uid = first->uid, .qos = qos, .cookie = first->cookie};
        d.flags = rap && msg->retain ? HMQ_DLV_RETAIN : 0;
        /* first record carries the message, further ids follow as MORE_ID records */
        uint32_t k = i;
        while (k < j && !sc->items[k].sub_id)
            k++;
        d.sub_id = k < j ? sc->items[k].sub_id : 0;
        if (first->worker == w->id) {
            uint32_t ids[HMQ_MAX_SUB_IDS];
            uint16_t n = 0;
            for (uint32_t x = i; x < j && n < HMQ_MAX_SUB_IDS; x++)
                if (sc->items[x].sub_id && !has_id(ids, n, sc->items[x].sub_id))
                    ids[n++] = sc->items[x].sub_id;
            hmq_session_t *s = hmq_map_get_u64(&w->sessions_uid, d.uid);
            if (s)
                hmq_session_deliver(s, d.msg, d.qos, d.flags, ids, n, d.cookie);
            else
                hmq_msg_unref(d.msg);
        } else {
            hmq_worker_post_delivery(w, first->worker, &d);
            for (uint32_t x = k + 1; x < j; x++) {
                if (!sc->items[x].sub_id || sc->items[x].sub_id == d.sub_id) continue;
                hmq_delivery_t more = {
                    .uid = d.uid, .sub_id = sc->items[x].sub_id, .flags = HMQ_DLV_MORE_ID};
                hmq_worker_post_delivery(w, first->worker, &more);
            }
        }
        sessions++;
        i = j;
    }
    return sessions;
}

void hmq_route_deliver_batch(hmq_worker_t *w, const hmq_delivery_t *items, uint32_t n)
{
    for (uint32_t i = 0; i < n;) {
        const hmq_delivery_t *d = &items[i++];
        uint32_t ids[HMQ_MAX_SUB_IDS];
        uint16_t nids = 0;
        if (d->sub_id) ids[nids++] = d->sub_id;
        while (i < n && (items[i].flags & HMQ_DLV_MORE_ID)) {
            if (nids < HMQ_MAX_SUB_IDS && !has_id(ids, nids, items[i].sub_id))
                ids[nids++] = items[i].sub_id;
            i++;
        }
        if (d->flags & HMQ_DLV_MORE_ID) continue; /* orphan: cannot happen, be safe */
        hmq_session_t *s = hmq_map_get_u64(&w->sessions_uid, d->uid);
        if (s)
            hmq_session_deliver(s, d->msg, d->qos, d->flags, ids, nids, d->cookie);
        else
            hmq_msg_unref(d->msg);
    }
}

typedef struct {
    hmq_msg_t **msgs;
    uint32_t count, cap;
} retained_list_t;

static void collect_retained(void *ctx, hmq_msg_t *msg)
{
    retained_list_t *l = ctx;
    if (l->count == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 16;
        hmq_msg_t **a = realloc(l->msgs, cap * sizeof *a);
        if (!a) return;
        l->msgs = a;
        l->cap = cap;
    }
    l->msgs[l->count++] = hmq_msg_ref(msg);
}

void hmq_route_retained(hmq_session_t *s, const hmq_sub_rec_t *rec)
{
    retained_list_t l = {0};
    hmq_retained_match(s->w->broker->retained, rec->filter, rec->len, hmq_wall_ms(),
                       collect_retained, &l);
    for (uint32_t i = 0; i < l.count; i++) {
        hmq_msg_t *m = l.msgs[i];
        uint8_t qos = m->qos < rec->opts.qos ? m->qos : rec->opts.qos;
        uint32_t id = rec->sub_id;
        hmq_session_deliver(s, m, qos, HMQ_DLV_RETAIN, &id, id ? 1 : 0, 0);
    }
    free(l.msgs);
}

void hmq_router_scratch_free(hmq_worker_t *w)
{
    scratch_t *sc = w->match_scratch;
    if (sc) free(sc->items);
    free(sc);
    w->match_scratch = NULL;
}
