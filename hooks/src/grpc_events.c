/* grpc_events.c - the Events stream of the gRPC provider: notifications, batched, at-least-once
 * (hooks.proto, "Events"). The bounded spool (events.c) keeps the batches; this file filters
 * events by the server's EVENTS registrations into the spool (the provider's `event` op, any
 * thread) and moves batches over one Events stream per server, opened on a ready endpoint by
 * the home-loop tick: a batch is sent per credit the server granted (EventAck.credits), acked
 * sequences are forgotten, retry_sequences resent after the spool's backoff, and a broken
 * stream rewinds the spool (unacknowledged batches go out again on the next stream).
 */
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc_int.h"
#include "util/log.h"

#define REOPEN_DELAY_MS 200

struct estream {
    gtag_t start_tag, send_tag, recv_tag, status_tag;
    hmq_grpc_server_t *s;
    grpc_call *call;
    int refs; /* the server's + one per batch in flight */
    bool broken, sending, first_recv, attached;
    uint32_t credits;
    grpc_byte_buffer *send_bb, *recv_bb;
    grpc_metadata_array md_in, trailers;
    grpc_status_code status;
    grpc_slice details;
    grpc_metadata md;
};

static void es_unref(estream_t *es)
{
    if (--es->refs > 0) return;
    if (es->send_bb) grpc_byte_buffer_destroy(es->send_bb);
    if (es->recv_bb) grpc_byte_buffer_destroy(es->recv_bb);
    grpc_metadata_array_destroy(&es->md_in);
    grpc_metadata_array_destroy(&es->trailers);
    grpc_slice_unref(es->details);
    if (es->call) grpc_call_unref(es->call);
    free(es);
}

static void break_locked(estream_t *es)
{
    if (es->broken) return;
    es->broken = true;
    hmq_grpc_server_t *s = es->s;
    if (es->call) grpc_call_cancel(es->call, NULL);
    if (es->attached) {
        es->attached = false;
        s->es = NULL;
        s->es_retry_ms = hmq_hooks_now_ms() + REOPEN_DELAY_MS;
        hmq_events_spool_rewind(s->spool);
        es_unref(es);
    }
}

static void kick_locked(estream_t *es)
{
    hmq_grpc_server_t *s = es->s;
    if (es->broken || es->sending || !es->credits || s->closing) return;
    uint8_t *buf;
    size_t len;
    uint64_t seq;
    if (hmq_events_spool_next(s->spool, &buf, &len, &seq) != 0) return;
    grpc_slice sl = grpc_slice_new(buf, len, free);
    es->send_bb = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    es->credits--;
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = es->send_bb;
    es->sending = true;
    es->refs++;
    if (grpc_call_start_batch(es->call, &op, 1, &es->send_tag, NULL) != GRPC_CALL_OK) {
        es->sending = false;
        es->refs--;
        break_locked(es);
    }
}

static void arm_recv_locked(estream_t *es)
{
    grpc_op ops[2];
    memset(ops, 0, sizeof(ops));
    size_t n = 0;
    if (es->first_recv) {
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n++].data.recv_initial_metadata.recv_initial_metadata = &es->md_in;
        es->first_recv = false;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &es->recv_bb;
    es->refs++;
    if (grpc_call_start_batch(es->call, ops, n, &es->recv_tag, NULL) != GRPC_CALL_OK) {
        es->refs--;
        break_locked(es);
    }
}

static void on_start(gtag_t *t, bool ok)
{
    estream_t *es = (estream_t *)((char *)t - offsetof(estream_t, start_tag));
    hmq_grpc_server_t *s = es->s;
    uv_mutex_lock(&s->smu);
    if (!ok) break_locked(es);
    es_unref(es);
    uv_mutex_unlock(&s->smu);
}

static void on_send(gtag_t *t, bool ok)
{
    estream_t *es = (estream_t *)((char *)t - offsetof(estream_t, send_tag));
    hmq_grpc_server_t *s = es->s;
    uv_mutex_lock(&s->smu);
    grpc_byte_buffer_destroy(es->send_bb);
    es->send_bb = NULL;
    es->sending = false;
    if (!ok)
        break_locked(es);
    else
        kick_locked(es);
    es_unref(es);
    uv_mutex_unlock(&s->smu);
}

static void on_recv(gtag_t *t, bool ok)
{
    estream_t *es = (estream_t *)((char *)t - offsetof(estream_t, recv_tag));
    hmq_grpc_server_t *s = es->s;
    bool ended = !ok || !es->recv_bb;
    Hookmq__V1__EventAck *ack = NULL;
    if (!ended) {
        size_t len = 0;
        uint8_t *buf = hmq_grpc_recv_bytes(es->recv_bb, &len);
        grpc_byte_buffer_destroy(es->recv_bb);
        es->recv_bb = NULL;
        if (buf) ack = hookmq__v1__event_ack__unpack(NULL, len, buf);
        gpr_free(buf);
    }
    uv_mutex_lock(&s->smu);
    if (!ended && !ack) break_locked(es);
    if (ack && !es->broken) {
        for (size_t i = 0; i < ack->n_sequences; i++)
            hmq_events_spool_ack(s->spool, ack->sequences[i]);
        for (size_t i = 0; i < ack->n_retry_sequences; i++)
            hmq_events_spool_retry(s->spool, ack->retry_sequences[i]);
        es->credits += ack->credits;
        kick_locked(es);
    }
    if (!ended && !es->broken) arm_recv_locked(es);
    es_unref(es);
    uv_mutex_unlock(&s->smu);
    if (ack) hookmq__v1__event_ack__free_unpacked(ack, NULL);
}

static void on_status(gtag_t *t, bool ok)
{
    (void)ok;
    estream_t *es = (estream_t *)((char *)t - offsetof(estream_t, status_tag));
    hmq_grpc_server_t *s = es->s;
    uv_mutex_lock(&s->smu);
    if (!es->broken) {
        char *details = grpc_slice_to_c_string(es->details);
        LOG_WARN("hook_stream_closed", "server=%s stream=events status=%d details=\"%s\"", s->name,
                 (int)es->status, details);
        gpr_free(details);
    }
    break_locked(es);
    es_unref(es);
    uv_mutex_unlock(&s->smu);
}

/* Under smu: a new stream on ep. */
static void open_locked(hmq_grpc_server_t *s, endpoint_t *ep)
{
    hmq_grpc_t *g = s->g;
    estream_t *es = calloc(1, sizeof(*es));
    if (!es) return;
    es->start_tag.cb = on_start;
    es->send_tag.cb = on_send;
    es->recv_tag.cb = on_recv;
    es->status_tag.cb = on_status;
    es->s = s;
    es->first_recv = true;
    grpc_metadata_array_init(&es->md_in);
    grpc_metadata_array_init(&es->trailers);
    es->details = grpc_empty_slice();
    es->md.key = grpc_slice_from_static_string("hookmq-node");
    es->md.value = grpc_slice_from_static_string(g->node);
    es->call = grpc_channel_create_call(ep->ch, NULL, GRPC_PROPAGATE_DEFAULTS, g->cq,
                                        grpc_slice_from_static_string(HMQ_GRPC_METHOD("Events")),
                                        NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    es->refs = 1;
    es->attached = true;
    s->es = es;
    if (!es->call) {
        break_locked(es);
        return;
    }
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    op.data.send_initial_metadata.count = 1;
    op.data.send_initial_metadata.metadata = &es->md;
    es->refs++;
    grpc_call_error e1 = grpc_call_start_batch(es->call, &op, 1, &es->start_tag, NULL);
    if (e1 != GRPC_CALL_OK) es->refs--;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.status = &es->status;
    op.data.recv_status_on_client.status_details = &es->details;
    op.data.recv_status_on_client.trailing_metadata = &es->trailers;
    es->refs++;
    grpc_call_error e2 = grpc_call_start_batch(es->call, &op, 1, &es->status_tag, NULL);
    if (e2 != GRPC_CALL_OK) es->refs--;
    if (e1 != GRPC_CALL_OK || e2 != GRPC_CALL_OK)
        break_locked(es);
    else
        arm_recv_locked(es);
    LOG_DEBUG("hook_stream_open", "server=%s endpoint=%s stream=events", s->name, ep->target);
}

/* ---- provider side -------------------------------------------------------------------------- */

/* Events became sendable. This runs on the worker that pushed one: it only wakes the home loop
 * (coalesced: an atomic exchange when a wake-up is already queued), which builds and sends the
 * batch. The client path never takes the stream lock nor touches gRPC. */
static void on_notify(void *arg)
{
    hmq_grpc_server_t *s = arg;
    hmq_grpc_kick_home(s->g);
}

int hmq_grpc_events_init(hmq_grpc_server_t *s, const hmq_hooks_server_config_t *cfg)
{
    char source[256];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(source, sizeof(source), "%s/%lld", s->g->node,
             (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    s->spool = hmq_events_spool_new(source, cfg->events_max_bytes, cfg->events_max_batch);
    if (!s->spool) return -1;
    hmq_events_spool_set_notify(s->spool, on_notify, s);
    return 0;
}

bool hmq_grpc_event(void *self, const hmq_hooks_event_t *ev)
{
    hmq_grpc_server_t *s = self;
    decl_t *d = hmq_grpc_decl(s);
    if (!d || (unsigned)ev->type >= 32 || !(d->event_mask & (1u << ev->type))) {
        hmq_grpc_decl_unref(d);
        return true; /* not wanted: not a drop */
    }
    const char *topic = NULL;
    int mode = TOPIC_NAME;
    if ((ev->type == HMQ_EVENT_SUBSCRIBED || ev->type == HMQ_EVENT_UNSUBSCRIBED) &&
        ev->subscription) {
        topic = ev->subscription->filter;
        mode = TOPIC_FILTER;
    } else if (ev->message) {
        topic = ev->message->topic;
    }
    uint32_t ids[64];
    bool want_payload = false;
    size_t n = hmq_grpc_match(d, HOOKMQ__V1__HOOK_TYPE__HOOK_TYPE_EVENTS, ev->client, topic, mode,
                              0, (int)ev->type, ids, 64, &want_payload, NULL);
    hmq_grpc_decl_unref(d);
    if (!n) return true;
    return hmq_events_spool_push(s->spool, ev, ids, n > 64 ? 64 : n, want_payload, s->g->node);
}

void hmq_grpc_events_tick(hmq_grpc_server_t *s, uint64_t now_ms)
{
    decl_t *d = hmq_grpc_decl(s);
    bool want = d && d->event_mask;
    hmq_grpc_decl_unref(d);
    if (!want) return;
    uv_mutex_lock(&s->smu);
    if (!s->es && !s->closing && now_ms >= s->es_retry_ms) {
        for (size_t i = 0; i < s->n_eps; i++)
            if (atomic_load(&s->eps[i].ready) && s->eps[i].ch) {
                open_locked(s, &s->eps[i]);
                break;
            }
    }
    if (s->es) kick_locked(s->es); /* retried batches whose backoff passed */
    uv_mutex_unlock(&s->smu);
}

void hmq_grpc_events_close(hmq_grpc_server_t *s)
{
    uv_mutex_lock(&s->smu);
    s->closing = true;
    if (s->es) break_locked(s->es);
    uv_mutex_unlock(&s->smu);
}

void hmq_grpc_events_free(hmq_grpc_server_t *s)
{
    if (s->es) {
        s->es->refs = 1;
        es_unref(s->es);
        s->es = NULL;
    }
    hmq_events_spool_free(s->spool);
    s->spool = NULL;
}
