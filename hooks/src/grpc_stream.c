/* grpc_stream.c - the MessageHooks stream of the gRPC provider: OnPublish and publish Authorize
 * requests, batched, with correlation ids and the server's credits (hooks.proto, "MessageHooks").
 *
 * One stream per endpoint, opened on the home loop after each handshake of a server that
 * registered a per-message hook (and again by the tick after a break). Workers encode their
 * request (without its deadline_ms, appended when sent) and queue it on the stream of the
 * endpoint their client id hashes to, so one connection's items keep their order. Whenever no
 * SEND_MESSAGE is in flight and credits are left, everything pending (up to the batch size and
 * the credits) goes out in one MessageBatch; the CQ thread sends the next batch when a send
 * completes, and matches DecisionBatch answers to items by id. The home-loop tick expires items
 * past their deadline (TIMEOUT; a late answer finds no item and is ignored). A broken stream
 * fails every item it holds (UNAVAILABLE). Everything under the server's smu.
 */
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_int.h"
#include "proto_convert.h"
#include "util/log.h"

#define REOPEN_DELAY_MS 200
/* Adaptive batching: while the server is busy answering (at least HOLD_OUTSTANDING items at
 * it, and an answer came less than LINGER_NS ago), a batch smaller than HOLD_BATCH waits for the
 * next answer (each DecisionBatch sends what is pending) instead of going out at once; it never
 * waits longer than LINGER_NS. Each MessageBatch costs ~100 us in the broker and ~190 us in a
 * Python server whatever its size (bench/hooks.sh, scenario 5), so tiny batches under load are
 * what limits throughput. A server that is not answering (items stuck in a slow hook) holds
 * nothing back: requests of other clients to its fast hooks go out at once. */
#define HOLD_OUTSTANDING 8
#define HOLD_BATCH 32
#define LINGER_NS 1000000u

typedef struct sitem {
    uint8_t pk;                /* PK_STREAM (first: see srv_cancel) */
    struct sitem *prev, *next; /* pending list (not sent yet) */
    struct sitem *done_next;   /* completion list */
    mstream_t *ms;
    uint64_t id;
    uint64_t deadline_ms; /* hmq_hooks_now_ms() time, 0 = none */
    hmq_hooks_call_t *hcall;
    bool authorize, queued, sent;
    uint64_t queued_ns;         /* when it was queued (uv_hrtime, linger) */
    hmq_hooks_call_status_t st; /* when completing */
    uint8_t *buf;               /* the packed request, without deadline_ms */
    size_t len;
} sitem_t;

typedef struct {
    uint64_t deadline_ms, id;
} dl_t;

struct mstream {
    gtag_t start_tag, send_tag, recv_tag, status_tag;
    hmq_grpc_server_t *s;
    endpoint_t *ep; /* NULL once detached (broken) */
    grpc_call *call;
    int refs; /* the endpoint's + one per batch in flight */
    bool broken, sending, first_recv;
    uint32_t credits;
    uint32_t n_pending;   /* queued, not sent */
    uint32_t outstanding; /* sent, not answered (nor expired, nor cancelled) */
    uint64_t answer_ns;   /* when the last answers came (uv_hrtime) */
    sitem_t *head, *tail;
    hmq_map_t items; /* id -> sitem: pending and sent */
    dl_t *heap;      /* deadlines, lazily deleted */
    size_t n_heap, cap_heap;
    grpc_byte_buffer *send_bb, *recv_bb;
    grpc_metadata_array md_in, trailers;
    grpc_status_code status;
    grpc_slice details;
    grpc_metadata md;
    uint64_t sent_batches, sent_items; /* for the logs */
};

/* ---- items ---------------------------------------------------------------------------------- */

static void heap_push(mstream_t *ms, uint64_t dl, uint64_t id)
{
    if (ms->n_heap == ms->cap_heap) {
        size_t cap = ms->cap_heap ? ms->cap_heap * 2 : 256;
        dl_t *h = realloc(ms->heap, cap * sizeof(*h));
        if (!h) return; /* no deadline for this one: the stream or close still ends it */
        ms->heap = h;
        ms->cap_heap = cap;
    }
    size_t i = ms->n_heap++;
    while (i && ms->heap[(i - 1) / 2].deadline_ms > dl) {
        ms->heap[i] = ms->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    ms->heap[i] = (dl_t){dl, id};
}

static void heap_pop(mstream_t *ms)
{
    dl_t last = ms->heap[--ms->n_heap];
    size_t i = 0, n = ms->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && ms->heap[c + 1].deadline_ms < ms->heap[c].deadline_ms) c++;
        if (ms->heap[c].deadline_ms >= last.deadline_ms) break;
        ms->heap[i] = ms->heap[c];
        i = c;
    }
    if (n) ms->heap[i] = last;
}

static void unqueue(mstream_t *ms, sitem_t *it)
{
    if (it->sent) {
        it->sent = false;
        ms->outstanding--;
    }
    if (!it->queued) return;
    ms->n_pending--;
    if (it->prev)
        it->prev->next = it->next;
    else
        ms->head = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        ms->tail = it->prev;
    it->prev = it->next = NULL;
    it->queued = false;
}

/* Takes the item out of the stream (under smu) and links it on *done with status st. */
static void take(mstream_t *ms, sitem_t *it, hmq_hooks_call_status_t st, sitem_t **done)
{
    hmq_map_del_u64(&ms->items, it->id);
    unqueue(ms, it);
    hmq_hooks_call_set_provider_data(it->hcall, NULL);
    it->st = st;
    it->done_next = *done;
    *done = it;
}

static void item_free(sitem_t *it)
{
    free(it->buf);
    free(it);
}

/* Outside the lock: completes taken items without an answer (status != OK). */
static void complete(hmq_grpc_server_t *s, sitem_t *done)
{
    while (done) {
        sitem_t *next = done->done_next;
        hmq_grpc_breaker_result(s, done->st);
        hmq_hooks_call_done(done->hcall, done->st);
        item_free(done);
        done = next;
    }
}

/* ---- the stream ----------------------------------------------------------------------------- */

static void ms_unref(mstream_t *ms)
{
    if (--ms->refs > 0) return;
    hmq_map_free(&ms->items);
    free(ms->heap);
    if (ms->send_bb) grpc_byte_buffer_destroy(ms->send_bb);
    if (ms->recv_bb) grpc_byte_buffer_destroy(ms->recv_bb);
    grpc_metadata_array_destroy(&ms->md_in);
    grpc_metadata_array_destroy(&ms->trailers);
    grpc_slice_unref(ms->details);
    if (ms->call) grpc_call_unref(ms->call);
    free(ms);
}

/* The stream is unusable: every item fails with st, the endpoint forgets it (it reopens). */
static void break_locked(mstream_t *ms, hmq_hooks_call_status_t st, sitem_t **done)
{
    if (ms->broken) return;
    ms->broken = true;
    /* every item (pending or sent) is in the map */
    for (size_t b = 0; b < ms->items.nbuckets; b++) {
        hmq_map_entry_t *e = ms->items.buckets[b];
        while (e) {
            hmq_map_entry_t *next = e->next;
            sitem_t *it = e->value;
            unqueue(ms, it);
            hmq_hooks_call_set_provider_data(it->hcall, NULL);
            it->st = st;
            it->done_next = *done;
            *done = it;
            e = next;
        }
    }
    hmq_map_free(&ms->items);
    hmq_map_init(&ms->items);
    ms->n_heap = 0;
    ms->head = ms->tail = NULL;
    if (ms->call) grpc_call_cancel(ms->call, NULL); /* the status comes; then it is freed */
    endpoint_t *ep = ms->ep;
    if (ep && ep->ms == ms) {
        ep->ms = NULL;
        ep->ms_retry_ms = hmq_hooks_now_ms() + REOPEN_DELAY_MS;
        ms->ep = NULL;
        ms_unref(ms); /* the endpoint's reference */
    }
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Sends the next MessageBatch if nothing is being sent and there are items and credits (and,
 * unless forced, the adaptive batching rule above does not hold it back). */
static void kick_locked(mstream_t *ms, sitem_t **done, bool force)
{
    hmq_grpc_server_t *s = ms->s;
    if (ms->broken || ms->sending || !ms->head || !ms->credits || s->closing) return;
    if (!force && ms->outstanding >= HOLD_OUTSTANDING && ms->n_pending < HOLD_BATCH) {
        uint64_t now = uv_hrtime();
        if (now - ms->answer_ns < LINGER_NS && now - ms->head->queued_ns < LINGER_NS) return;
    }
    uint32_t max = s->max_batch;
    decl_t *d = hmq_grpc_decl(s);
    if (d && d->max_batch && d->max_batch < max) max = d->max_batch;
    hmq_grpc_decl_unref(d);
    if (max > ms->credits) max = ms->credits;
    uint64_t now = hmq_hooks_now_ms();
    /* frame: field tag, length, the item, then deadline_ms (publish: field 2, authorize: 10) */
    size_t total = 0, n = 0;
    for (sitem_t *it = ms->head; it && n < max; it = it->next, n++) {
        uint64_t left = it->deadline_ms ? (it->deadline_ms > now ? it->deadline_ms - now : 1) : 0;
        size_t body = it->len + (left ? 1 + varint_len(left) : 0);
        total += 1 + varint_len(body) + body;
    }
    grpc_slice sl = grpc_slice_malloc(total);
    uint8_t *p = GRPC_SLICE_START_PTR(sl);
    for (size_t i = 0; i < n; i++) {
        sitem_t *it = ms->head;
        uint64_t left = it->deadline_ms ? (it->deadline_ms > now ? it->deadline_ms - now : 1) : 0;
        size_t body = it->len + (left ? 1 + varint_len(left) : 0);
        *p++ = it->authorize ? 0x12 : 0x0a;
        p = put_varint(p, body);
        memcpy(p, it->buf, it->len);
        p += it->len;
        if (left) {
            *p++ = it->authorize ? 0x50 : 0x10;
            p = put_varint(p, left);
        }
        unqueue(ms, it);
        it->sent = true;
        ms->outstanding++;
        free(it->buf);
        it->buf = NULL;
    }
    ms->credits -= (uint32_t)n;
    ms->sent_batches++;
    ms->sent_items += n;
    ms->send_bb = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = ms->send_bb;
    ms->sending = true;
    ms->refs++;
    if (grpc_call_start_batch(ms->call, &op, 1, &ms->send_tag, NULL) != GRPC_CALL_OK) {
        ms->sending = false;
        ms->refs--;
        grpc_byte_buffer_destroy(ms->send_bb);
        ms->send_bb = NULL;
        break_locked(ms, HMQ_CALL_ERROR, done);
    }
}

static void arm_recv_locked(mstream_t *ms, sitem_t **done)
{
    grpc_op ops[2];
    memset(ops, 0, sizeof(ops));
    size_t n = 0;
    if (ms->first_recv) {
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n++].data.recv_initial_metadata.recv_initial_metadata = &ms->md_in;
        ms->first_recv = false;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &ms->recv_bb;
    ms->refs++;
    if (grpc_call_start_batch(ms->call, ops, n, &ms->recv_tag, NULL) != GRPC_CALL_OK) {
        ms->refs--;
        break_locked(ms, HMQ_CALL_ERROR, done);
    }
}

static void on_start(gtag_t *t, bool ok)
{
    mstream_t *ms = (mstream_t *)((char *)t - offsetof(mstream_t, start_tag));
    hmq_grpc_server_t *s = ms->s;
    sitem_t *done = NULL;
    uv_mutex_lock(&s->smu);
    if (!ok) break_locked(ms, HMQ_CALL_UNAVAILABLE, &done);
    ms_unref(ms);
    uv_mutex_unlock(&s->smu);
    complete(s, done);
}

static void on_send(gtag_t *t, bool ok)
{
    mstream_t *ms = (mstream_t *)((char *)t - offsetof(mstream_t, send_tag));
    hmq_grpc_server_t *s = ms->s;
    sitem_t *done = NULL;
    uv_mutex_lock(&s->smu);
    grpc_byte_buffer_destroy(ms->send_bb);
    ms->send_bb = NULL;
    ms->sending = false;
    if (!ok)
        break_locked(ms, HMQ_CALL_UNAVAILABLE, &done);
    else
        kick_locked(ms, &done, false);
    ms_unref(ms);
    uv_mutex_unlock(&s->smu);
    complete(s, done);
}

/* Fills an item's answer from its response (outside the lock: the item is ours). */
static hmq_hooks_call_status_t fill_publish(hmq_hooks_answer_t *a,
                                            const Hookmq__V1__PublishResponse *r)
{
    hmq_pb_result_decode(r->result, a);
    if (a->decision != HMQ_DECISION_CONTINUE && a->decision != HMQ_DECISION_ALLOW)
        return HMQ_CALL_OK; /* DENY drops the message; FAILURE: on_failure */
    if (hmq_pb_changes_decode(r->changes, &a->changed, &a->changes) < 0) {
        LOG_WARN("hook_bad_answer", "hook=on_publish error=\"invalid message change\"");
        return HMQ_CALL_ERROR;
    }
    return HMQ_CALL_OK;
}

/* The item an answer is for (taken out of the stream), or NULL: unknown, timed out, cancelled,
 * or an id of the other list. */
static sitem_t *claim(mstream_t *ms, uint64_t id, bool authorize)
{
    sitem_t *it = hmq_map_get_u64(&ms->items, id);
    if (!it || it->authorize != authorize) return NULL;
    hmq_map_del_u64(&ms->items, id);
    unqueue(ms, it); /* answered before it was sent: a server bug, but not a crash */
    hmq_hooks_call_set_provider_data(it->hcall, NULL);
    return it;
}

static void on_recv(gtag_t *t, bool ok)
{
    mstream_t *ms = (mstream_t *)((char *)t - offsetof(mstream_t, recv_tag));
    hmq_grpc_server_t *s = ms->s;
    Hookmq__V1__DecisionBatch *db = NULL;
    bool ended = !ok || !ms->recv_bb;
    if (!ended) {
        size_t len = 0;
        uint8_t *buf = hmq_grpc_recv_bytes(ms->recv_bb, &len);
        grpc_byte_buffer_destroy(ms->recv_bb);
        ms->recv_bb = NULL;
        if (buf) db = hookmq__v1__decision_batch__unpack(NULL, len, buf);
        gpr_free(buf);
    }
    sitem_t *done = NULL; /* failed items */
    sitem_t *pub[64], *authz[64], **pubv = pub, **authzv = authz;
    size_t np = db ? db->n_publish : 0, na = db ? db->n_authorize : 0;
    if (np > 64 && !(pubv = calloc(np, sizeof(*pubv)))) np = 0;
    if (na > 64 && !(authzv = calloc(na, sizeof(*authzv)))) na = 0;
    uv_mutex_lock(&s->smu);
    if (!ended && !db) {
        LOG_WARN("hook_stream_bad_message", "server=%s", s->name);
        break_locked(ms, HMQ_CALL_ERROR, &done);
    }
    if (db && !ms->broken) {
        ms->credits += db->credits;
        if (np || na) ms->answer_ns = uv_hrtime();
        for (size_t i = 0; i < np; i++)
            pubv[i] = claim(ms, db->publish[i]->id, false);
        for (size_t i = 0; i < na; i++)
            authzv[i] = claim(ms, db->authorize[i]->id, true);
        kick_locked(ms, &done, false);
    } else {
        np = na = 0;
    }
    if (!ended && !ms->broken) arm_recv_locked(ms, &done);
    ms_unref(ms); /* this receive */
    uv_mutex_unlock(&s->smu);
    for (size_t i = 0; i < np; i++) {
        sitem_t *it = pubv[i];
        if (!it) continue; /* unknown, timed out or cancelled: ignored */
        hmq_hooks_call_status_t st = fill_publish(hmq_hooks_call_answer(it->hcall), db->publish[i]);
        hmq_grpc_breaker_result(s, st);
        hmq_hooks_call_done(it->hcall, st);
        item_free(it);
    }
    for (size_t i = 0; i < na; i++) {
        sitem_t *it = authzv[i];
        if (!it) continue;
        hmq_pb_result_decode(db->authorize[i]->result, hmq_hooks_call_answer(it->hcall));
        hmq_grpc_breaker_result(s, HMQ_CALL_OK);
        hmq_hooks_call_done(it->hcall, HMQ_CALL_OK);
        item_free(it);
    }
    if (pubv != pub) free(pubv);
    if (authzv != authz) free(authzv);
    if (db) hookmq__v1__decision_batch__free_unpacked(db, NULL);
    complete(s, done);
}

static void on_status(gtag_t *t, bool ok)
{
    (void)ok;
    mstream_t *ms = (mstream_t *)((char *)t - offsetof(mstream_t, status_tag));
    hmq_grpc_server_t *s = ms->s;
    sitem_t *done = NULL;
    uv_mutex_lock(&s->smu);
    if (!ms->broken) {
        char *details = grpc_slice_to_c_string(ms->details);
        LOG_WARN("hook_stream_closed", "server=%s stream=messages status=%d details=\"%s\"",
                 s->name, (int)ms->status, details);
        gpr_free(details);
    }
    grpc_status_code gs = ms->status;
    break_locked(ms,
                 gs == GRPC_STATUS_OK || gs == GRPC_STATUS_UNAVAILABLE ||
                         gs == GRPC_STATUS_CANCELLED
                     ? HMQ_CALL_UNAVAILABLE
                     : HMQ_CALL_ERROR,
                 &done);
    ms_unref(ms);
    uv_mutex_unlock(&s->smu);
    complete(s, done);
}

void hmq_grpc_stream_open(endpoint_t *ep)
{
    hmq_grpc_server_t *s = ep->s;
    hmq_grpc_t *g = s->g;
    decl_t *d = hmq_grpc_decl(s);
    bool want = d && d->want_stream;
    hmq_grpc_decl_unref(d);
    if (!want || !ep->ch) return;
    uv_mutex_lock(&s->smu);
    if (ep->ms || s->closing || hmq_hooks_now_ms() < ep->ms_retry_ms) {
        uv_mutex_unlock(&s->smu);
        return;
    }
    mstream_t *ms = calloc(1, sizeof(*ms));
    if (!ms) {
        uv_mutex_unlock(&s->smu);
        return;
    }
    ms->start_tag.cb = on_start;
    ms->send_tag.cb = on_send;
    ms->recv_tag.cb = on_recv;
    ms->status_tag.cb = on_status;
    ms->s = s;
    ms->first_recv = true;
    hmq_map_init(&ms->items);
    grpc_metadata_array_init(&ms->md_in);
    grpc_metadata_array_init(&ms->trailers);
    ms->details = grpc_empty_slice();
    ms->md.key = grpc_slice_from_static_string("hookmq-node");
    ms->md.value = grpc_slice_from_static_string(g->node);
    ms->call =
        grpc_channel_create_call(ep->ch, NULL, GRPC_PROPAGATE_DEFAULTS, g->cq,
                                 grpc_slice_from_static_string(HMQ_GRPC_METHOD("MessageHooks")),
                                 NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    ms->refs = 1; /* the endpoint's */
    ep->ms = ms;
    ms->ep = ep;
    sitem_t *done = NULL;
    if (!ms->call) {
        break_locked(ms, HMQ_CALL_ERROR, &done);
        uv_mutex_unlock(&s->smu);
        return;
    }
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    op.data.send_initial_metadata.count = 1;
    op.data.send_initial_metadata.metadata = &ms->md;
    ms->refs++;
    grpc_call_error e1 = grpc_call_start_batch(ms->call, &op, 1, &ms->start_tag, NULL);
    if (e1 != GRPC_CALL_OK) ms->refs--;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.status = &ms->status;
    op.data.recv_status_on_client.status_details = &ms->details;
    op.data.recv_status_on_client.trailing_metadata = &ms->trailers;
    ms->refs++;
    grpc_call_error e2 = grpc_call_start_batch(ms->call, &op, 1, &ms->status_tag, NULL);
    if (e2 != GRPC_CALL_OK) ms->refs--;
    if (e1 != GRPC_CALL_OK || e2 != GRPC_CALL_OK)
        break_locked(ms, HMQ_CALL_ERROR, &done);
    else
        arm_recv_locked(ms, &done);
    LOG_DEBUG("hook_stream_open", "server=%s endpoint=%s stream=messages", s->name, ep->target);
    uv_mutex_unlock(&s->smu);
    complete(s, done);
}

/* ---- requests ------------------------------------------------------------------------------- */

/* The stream for a client: its id's hash picks the endpoint, the next one with a stream if that
 * one has none (under smu). */
static mstream_t *stream_for(hmq_grpc_server_t *s, const char *client_id)
{
    uint64_t h = hmq_hash_bytes(client_id ? client_id : "", client_id ? strlen(client_id) : 0);
    for (size_t i = 0; i < s->n_eps; i++) {
        endpoint_t *ep = &s->eps[(h + i) % s->n_eps];
        if (ep->ms && !ep->ms->broken) return ep->ms;
    }
    return NULL;
}

static int enqueue(hmq_grpc_server_t *s, hmq_hooks_call_t *call, const char *client_id,
                   bool authorize, uint64_t id, uint8_t *buf, size_t len, uint32_t deadline_ms)
{
    sitem_t *it = calloc(1, sizeof(*it));
    if (!it) {
        free(buf);
        return -1;
    }
    it->pk = PK_STREAM;
    it->id = id;
    it->hcall = call;
    it->authorize = authorize;
    it->buf = buf;
    it->len = len;
    it->deadline_ms = deadline_ms ? hmq_hooks_now_ms() + deadline_ms : 0;
    sitem_t *done = NULL;
    uv_mutex_lock(&s->smu);
    mstream_t *ms = s->closing ? NULL : stream_for(s, client_id);
    if (!ms || hmq_map_put_u64(&ms->items, id, it) < 0) {
        uv_mutex_unlock(&s->smu);
        item_free(it);
        if (!ms) { /* no stream: the server is not reachable now */
            hmq_grpc_breaker_result(s, HMQ_CALL_UNAVAILABLE);
            hmq_hooks_call_done(call, HMQ_CALL_UNAVAILABLE);
            return 0;
        }
        return -1;
    }
    it->ms = ms;
    if (it->deadline_ms) heap_push(ms, it->deadline_ms, id);
    it->queued = true;
    it->queued_ns = uv_hrtime();
    ms->n_pending++;
    it->prev = ms->tail;
    if (ms->tail)
        ms->tail->next = it;
    else
        ms->head = it;
    ms->tail = it;
    hmq_hooks_call_set_provider_data(call, it);
    kick_locked(ms, &done, false);
    uv_mutex_unlock(&s->smu);
    complete(s, done);
    return 0;
}

int hmq_grpc_stream_publish(void *self, hmq_hooks_call_t *call, const hmq_hooks_client_t *client,
                            const hmq_hooks_message_t *message, uint32_t deadline_ms)
{
    hmq_grpc_server_t *s = self;
    uint32_t ids[64];
    bool want_payload = false, want_chain = false;
    decl_t *d = hmq_grpc_decl(s);
    size_t n =
        hmq_grpc_match(d, HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_ON_PUBLISH, client, message->topic,
                       TOPIC_NAME, 0, 0, ids, 64, &want_payload, &want_chain);
    hmq_grpc_decl_unref(d);
    if (!n) { /* the declaration changed since route() */
        hmq_hooks_answer_t *a = hmq_hooks_call_answer(call);
        a->decision = HMQ_DECISION_CONTINUE;
        a->reason = strdup("");
        hmq_hooks_call_done(call, HMQ_CALL_OK);
        return 0;
    }
    hmq_pb_message_t pm;
    if (hmq_pb_message_init(&pm, message, want_payload) < 0) return -1;
    uint64_t id = atomic_fetch_add(&s->next_id, 1);
    Hookmq__V1__PublishRequest pr = HOOKMQ__V1__PUBLISH_REQUEST__INIT;
    pr.id = id;
    pr.n_hook_ids = n > 64 ? 64 : n;
    pr.hook_ids = ids;
    pr.message = &pm.m;
    size_t len;
    /* with the connection's identity, encoded once per connection (client_pack.c): field 5 */
    uint8_t *buf =
        hmq_client_pack_message(s->cpack, &pr.base, client, s->g->node, want_chain, 5, &len);
    hmq_pb_message_clear(&pm);
    if (!buf) return -1;
    return enqueue(s, call, client->client_id, false, id, buf, len, deadline_ms);
}

int hmq_grpc_stream_authorize(hmq_grpc_server_t *s, hmq_hooks_call_t *call,
                              const hmq_hooks_authz_req_t *req, const uint32_t *ids, size_t n_ids,
                              bool want_payload, bool want_chain, uint32_t deadline_ms)
{
    hmq_pb_message_t pm;
    if (req->message && hmq_pb_message_init(&pm, req->message, want_payload) < 0) return -1;
    uint64_t id = atomic_fetch_add(&s->next_id, 1);
    Hookmq__V1__AuthorizeRequest ar = HOOKMQ__V1__AUTHORIZE_REQUEST__INIT;
    ar.action = HOOKMQ__V1__ACTION__ACTION_PUBLISH;
    ar.topic = (char *)(req->topic ? req->topic : "");
    ar.qos = req->qos;
    ar.retain = req->retain;
    if (req->message) ar.message = &pm.m;
    ar.n_hook_ids = n_ids;
    ar.hook_ids = (uint32_t *)ids;
    ar.id = id;
    size_t len;
    /* field 1: the connection's identity, encoded once per connection */
    uint8_t *buf =
        hmq_client_pack_message(s->cpack, &ar.base, req->client, s->g->node, want_chain, 1, &len);
    if (req->message) hmq_pb_message_clear(&pm);
    if (!buf) return -1;
    return enqueue(s, call, req->client->client_id, true, id, buf, len, deadline_ms);
}

/* ---- deadlines, cancel, close --------------------------------------------------------------- */

void hmq_grpc_stream_expire(hmq_grpc_server_t *s, uint64_t now_ms)
{
    sitem_t *done = NULL;
    uv_mutex_lock(&s->smu);
    for (size_t i = 0; i < s->n_eps; i++) {
        mstream_t *ms = s->eps[i].ms;
        if (!ms) continue;
        while (ms->n_heap && ms->heap[0].deadline_ms <= now_ms) {
            dl_t top = ms->heap[0];
            heap_pop(ms);
            sitem_t *it = hmq_map_get_u64(&ms->items, top.id);
            if (it && it->deadline_ms == top.deadline_ms) take(ms, it, HMQ_CALL_TIMEOUT, &done);
        }
        kick_locked(ms, &done, true); /* what lingered goes now */
    }
    uv_mutex_unlock(&s->smu);
    complete(s, done);
}

bool hmq_grpc_stream_cancel(hmq_grpc_server_t *s, hmq_hooks_call_t *call)
{
    sitem_t *done = NULL;
    uv_mutex_lock(&s->smu);
    sitem_t *it = hmq_hooks_call_provider_data(call);
    bool mine = it && it->pk == PK_STREAM;
    if (mine) take(it->ms, it, HMQ_CALL_CANCELLED, &done);
    uv_mutex_unlock(&s->smu);
    complete(s, done);
    return mine;
}

void hmq_grpc_stream_close(hmq_grpc_server_t *s)
{
    sitem_t *done = NULL;
    uv_mutex_lock(&s->smu);
    s->closing = true;
    for (size_t i = 0; i < s->n_eps; i++)
        if (s->eps[i].ms) break_locked(s->eps[i].ms, HMQ_CALL_CANCELLED, &done);
    uv_mutex_unlock(&s->smu);
    complete(s, done);
}

void hmq_grpc_stream_free(hmq_grpc_server_t *s)
{
    for (size_t i = 0; i < s->n_eps; i++)
        if (s->eps[i].ms) { /* never happens after close: break_locked detached them */
            s->eps[i].ms->refs = 1;
            ms_unref(s->eps[i].ms);
            s->eps[i].ms = NULL;
        }
}
