/* events.c - notification events: the engine's side (which providers want which events, handing
 * each event to them, drop counts) and the bounded spool a gRPC provider keeps per server
 * (events.h).
 *
 * Called by the broker's workers (hmq_hooks_wants_event, hmq_hooks_event), by providers
 * (hmq_hooks_provider_set_event_mask after a handshake; the spool from their `event` op and
 * their Events stream) and by metrics readers (hmq_hooks_events_dropped).
 *
 * The spool holds events in wire form: each pending event is one element of
 * EventBatch.events, packed once by its producer outside the lock (a one-event EventBatch with
 * no sequence and no source_id packs to exactly that). A batch is then the packed header
 * (sequence, source_id) followed by its events' bytes: concatenated protobuf messages merge,
 * and repeated fields append.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "hooks_int.h"
#include "proto_convert.h"

#define ALL_EVENTS_MASK (((1u << (HMQ_EVENT_SESSION_TERMINATED + 1)) - 1) & ~1u)

static uint32_t type_bit(hmq_hooks_event_type_t t)
{
    return t >= HMQ_EVENT_CONNECTED && t <= HMQ_EVENT_SESSION_TERMINATED ? 1u << t : 0;
}

static uint64_t now_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- engine ---------------------------------------------------------------------------------- */

void hmq_hooks_provider_set_event_mask(hmq_hooks_t *h, const char *name, uint32_t mask)
{
    for (size_t i = 0; i < h->n_added; i++) {
        provider_t *p = h->added[i];
        if (strcmp(p->name, name) != 0) continue;
        /* A provider without an event op never gets events, whatever it declares. */
        mask = p->ops->event ? mask & ALL_EVENTS_MASK : 0;
        atomic_store_explicit(&p->event_mask, mask, memory_order_release);
        return;
    }
}

bool hmq_hooks_wants_event(hmq_hooks_t *h, hmq_hooks_event_type_t type)
{
    uint32_t bit = type_bit(type);
    for (size_t i = 0; bit && i < h->n_chain; i++)
        if (atomic_load_explicit(&h->chain[i]->event_mask, memory_order_acquire) & bit) return true;
    return false;
}

void hmq_hooks_event(hmq_hooks_t *h, const hmq_hooks_event_t *ev)
{
    uint32_t bit = type_bit(ev->type);
    if (!bit) return;
    hmq_hooks_event_t e = *ev; /* one timestamp for every provider */
    if (!e.timestamp_unix_ms) e.timestamp_unix_ms = now_unix_ms();
    for (size_t i = 0; i < h->n_chain; i++) {
        provider_t *p = h->chain[i];
        if (!(atomic_load_explicit(&p->event_mask, memory_order_acquire) & bit)) continue;
        hook_metrics_t *m = &p->metrics[HMQ_HOOK_EVENTS];
        atomic_fetch_add_explicit(&m->calls, 1, memory_order_relaxed);
        if (!p->ops->event(p->self, &e))
            atomic_fetch_add_explicit(&m->failures, 1, memory_order_relaxed);
    }
}

uint64_t hmq_hooks_events_dropped(const hmq_hooks_t *h)
{
    uint64_t n = 0;
    for (size_t i = 0; i < h->n_chain; i++)
        n += atomic_load_explicit(&h->chain[i]->metrics[HMQ_HOOK_EVENTS].failures,
                                  memory_order_relaxed);
    return n;
}

/* ---- encoding -------------------------------------------------------------------------------- */

#define S(x) ((char *)((x) ? (x) : ""))

/* One element of EventBatch.events, in wire form (field tag, length, packed Event). */
typedef struct ev_node {
    struct ev_node *next;
    size_t len;
    uint8_t data[];
} ev_node_t;

/* What an event costs against max_bytes. */
#define NODE_COST(len) (sizeof(ev_node_t) + (len))

/* The detail messages, one of which an event sets. */
typedef struct {
    union {
        Hookmq__V1__ClientConnected connected;
        Hookmq__V1__ClientDisconnected disconnected;
        Hookmq__V1__Subscribed subscribed;
        Hookmq__V1__Unsubscribed unsubscribed;
        Hookmq__V1__MessageDelivered delivered;
        Hookmq__V1__MessageAcked acked;
        Hookmq__V1__MessageDropped dropped;
        Hookmq__V1__SessionCreated session_created;
        Hookmq__V1__SessionTerminated session_terminated;
    } u;
    Hookmq__V1__Subscription sub;
    hmq_pb_message_t pm;
    bool has_pm;
} detail_t;

static void fill_subscription(Hookmq__V1__Subscription *sub, const hmq_hooks_subscription_t *s)
{
    hookmq__v1__subscription__init(sub);
    sub->filter = S(s->filter);
    sub->qos = s->qos;
    sub->share_group = S(s->share_group);
    sub->no_local = s->no_local;
    sub->retain_as_published = s->retain_as_published;
    sub->retain_handling = s->retain_handling;
}

/* The message of a DELIVERED / ACKED / DROPPED event, or NULL. -1 on no memory. */
static int fill_message(detail_t *d, const hmq_hooks_event_t *ev, bool want_payload,
                        Hookmq__V1__PublishMessage **out)
{
    *out = NULL;
    if (!ev->message) return 0;
    if (hmq_pb_message_init(&d->pm, ev->message, want_payload) < 0) return -1;
    d->has_pm = true;
    *out = &d->pm.m;
    return 0;
}

/* Sets e's detail oneof from ev. -1 on an unknown type or no memory. */
static int fill_detail(Hookmq__V1__Event *e, detail_t *d, const hmq_hooks_event_t *ev,
                       bool want_payload)
{
    switch (ev->type) {
    case HMQ_EVENT_CONNECTED:
        hookmq__v1__client_connected__init(&d->u.connected);
        d->u.connected.session_present = ev->session_present;
        d->u.connected.session_expiry_interval = ev->session_expiry_interval;
        e->detail_case = HOOKMQ__V1__EVENT__DETAIL_CONNECTED;
        e->connected = &d->u.connected;
        return 0;
    case HMQ_EVENT_DISCONNECTED:
        hookmq__v1__client_disconnected__init(&d->u.disconnected);
        d->u.disconnected.reason_code = ev->reason_code;
        d->u.disconnected.reason = S(ev->reason);
        d->u.disconnected.will_published = ev->will_published;
        e->detail_case = HOOKMQ__V1__EVENT__DETAIL_DISCONNECTED;
        e->disconnected = &d->u.disconnected;
        return 0;
    case HMQ_EVENT_SUBSCRIBED:
        hookmq__v1__subscribed__init(&d->u.subscribed);
        if (ev->subscription) {
            fill_subscription(&d->sub, ev->subscription);
            d->u.subscribed.subscription = &d->sub;
        }
        d->u.subscribed.granted_qos = ev->granted_qos;
        e->detail_case = HOOKMQ__V1__EVENT__DETAIL_SUBSCRIBED;
        e->subscribed = &d->u.subscribed;
        return 0;
    case HMQ_EVENT_UNSUBSCRIBED:
        hookmq__v1__unsubscribed__init(&d->u.unsubscribed);
        if (ev->subscription) {
            d->u.unsubscribed.filter = S(ev->subscription->filter);
            d->u.unsubscribed.share_group = S(ev->subscription->share_group);
        }
        e->detail_case = HOOKMQ__V1__EVENT__DETAIL_UNSUBSCRIBED;
        e->unsubscribed = &d->u.unsubscribed;
        return 0;
    case HMQ_EVENT_DELIVERED:
        hookmq__v1__message_delivered__init(&d->u.delivered);
        d->u.delivered.from_client_id = S(ev->from_client_id);
        d->u.delivered.packet_id = ev->packet_id;
        e->detail_case = HOOKMQ__V1__EVENT__DETAIL_DELIVERED;
        e->delivered = &d->u.delivered;
        return fill_message(d, ev, want_payload, &d->u.delivered.message);
    case HMQ_EVENT_ACKED:
        hookmq__v1__message_acked__init(&d->u.acked);
        d->u.acked.from_client_id = S(ev->from_client_id);
        d->u.acked.packet_id = ev->packet_id;
        d->u.acked.reason_code = ev->reason_code;
        e->detail_case = HOOKMQ__V1__EVENT__DETAIL_ACKED;
        e->acked = &d->u.acked;
        return fill_message(d, ev, want_payload, &d->u.acked.message);
    case HMQ_EVENT_DROPPED:
        hookmq__v1__message_dropped__init(&d->u.dropped);
        d->u.dropped.from_client_id = S(ev->from_client_id);
        d->u.dropped.reason = S(ev->reason);
        d->u.dropped.reason_code = ev->reason_code;
        e->detail_case = HOOKMQ__V1__EVENT__DETAIL_DROPPED;
        e->dropped = &d->u.dropped;
        return fill_message(d, ev, want_payload, &d->u.dropped.message);
    case HMQ_EVENT_SESSION_CREATED:
        hookmq__v1__session_created__init(&d->u.session_created);
        d->u.session_created.session_expiry_interval = ev->session_expiry_interval;
        e->detail_case = HOOKMQ__V1__EVENT__DETAIL_SESSION_CREATED;
        e->session_created = &d->u.session_created;
        return 0;
    case HMQ_EVENT_SESSION_TERMINATED:
        hookmq__v1__session_terminated__init(&d->u.session_terminated);
        d->u.session_terminated.reason = S(ev->reason);
        e->detail_case = HOOKMQ__V1__EVENT__DETAIL_SESSION_TERMINATED;
        e->session_terminated = &d->u.session_terminated;
        return 0;
    }
    return -1;
}

/* ev packed as one element of EventBatch.events, in a malloc'd node; NULL on an unknown type
 * or no memory. */
static ev_node_t *encode(const hmq_hooks_event_t *ev, const uint32_t *hook_ids, size_t n_ids,
                         bool want_payload, const char *node)
{
    Hookmq__V1__Event e = HOOKMQ__V1__EVENT__INIT;
    detail_t d = {.has_pm = false};
    hmq_pb_client_t pc;
    bool has_pc = false;
    ev_node_t *n = NULL;
    e.type = (Hookmq__V1__EventType)ev->type; /* same values */
    e.timestamp_unix_ms = ev->timestamp_unix_ms ? ev->timestamp_unix_ms : now_unix_ms();
    e.n_hook_ids = n_ids;
    e.hook_ids = (uint32_t *)hook_ids;
    if (ev->client) {
        if (hmq_pb_client_init(&pc, ev->client, node, NULL) < 0) return NULL;
        has_pc = true;
        e.client = &pc.ci;
    }
    if (fill_detail(&e, &d, ev, want_payload) == 0) {
        Hookmq__V1__Event *one = &e;
        Hookmq__V1__EventBatch wrap = HOOKMQ__V1__EVENT_BATCH__INIT;
        wrap.n_events = 1;
        wrap.events = &one;
        size_t len = hookmq__v1__event_batch__get_packed_size(&wrap);
        n = malloc(sizeof(*n) + len);
        if (n) {
            n->next = NULL;
            n->len = hookmq__v1__event_batch__pack(&wrap, n->data);
        }
    }
    if (d.has_pm) hmq_pb_message_clear(&d.pm);
    if (has_pc) hmq_pb_client_clear(&pc);
    return n;
}

/* ---- the spool ------------------------------------------------------------------------------- */

#define DEFAULT_MAX_BYTES ((size_t)16 << 20)
#define DEFAULT_MAX_BATCH 500
#define RETRY_FIRST_MS 100u
#define RETRY_MAX_MS 5000u

/* A batch cut from the pending events, kept until acknowledged. */
typedef struct ev_batch {
    struct ev_batch *next;
    uint64_t seq;
    ev_node_t *events; /* in order, NULL-terminated */
    size_t wire;       /* sum of the events' lengths */
    size_t cost;       /* their NODE_COST, counted in bytes */
    bool resend;       /* due for a resend at due_ms (else: sent, waiting for the ack) */
    uint32_t retries;
    uint64_t due_ms;
} ev_batch_t;

struct hmq_events_spool {
    uv_mutex_t mu;
    char *source_id;
    size_t max_bytes;
    uint32_t max_batch_cfg;
    /* Under mu. */
    uint32_t max_batch;           /* min(max_batch_cfg, the server's) */
    ev_node_t *head, **tail;      /* pending events, FIFO */
    ev_batch_t *batches, **btail; /* unacknowledged, by sequence */
    size_t n_resend;              /* batches with resend set */
    uint64_t next_seq;
    void (*notify)(void *arg);
    void *notify_arg;
    /* Written under mu, read anywhere. */
    atomic_size_t bytes, n_pending, n_unacked;
    atomic_bool full; /* an event was refused: refuse the next ones until an ack frees bytes */
    atomic_uint_fast64_t dropped;
};

hmq_events_spool_t *hmq_events_spool_new(const char *source_id, size_t max_bytes,
                                         uint32_t max_batch)
{
    hmq_events_spool_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    if (!(s->source_id = strdup(source_id ? source_id : "")) || uv_mutex_init(&s->mu) != 0) {
        free(s->source_id);
        free(s);
        return NULL;
    }
    s->max_bytes = max_bytes ? max_bytes : DEFAULT_MAX_BYTES;
    s->max_batch = s->max_batch_cfg = max_batch ? max_batch : DEFAULT_MAX_BATCH;
    s->tail = &s->head;
    s->btail = &s->batches;
    s->next_seq = 1;
    atomic_init(&s->bytes, 0);
    atomic_init(&s->n_pending, 0);
    atomic_init(&s->n_unacked, 0);
    atomic_init(&s->full, false);
    atomic_init(&s->dropped, 0);
    return s;
}

static void free_nodes(ev_node_t *n)
{
    while (n) {
        ev_node_t *next = n->next;
        free(n);
        n = next;
    }
}

void hmq_events_spool_free(hmq_events_spool_t *s)
{
    if (!s) return;
    free_nodes(s->head);
    for (ev_batch_t *b = s->batches, *next; b; b = next) {
        next = b->next;
        free_nodes(b->events);
        free(b);
    }
    uv_mutex_destroy(&s->mu);
    free(s->source_id);
    free(s);
}

static bool drop(hmq_events_spool_t *s)
{
    atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
    return false;
}

bool hmq_events_spool_push(hmq_events_spool_t *s, const hmq_hooks_event_t *ev,
                           const uint32_t *hook_ids, size_t n_ids, bool want_payload,
                           const char *node)
{
    /* Full: drop before paying for the encoding. Costs nothing while a server is down. */
    if (atomic_load_explicit(&s->full, memory_order_relaxed)) return drop(s);
    ev_node_t *n = encode(ev, hook_ids, n_ids, want_payload, node);
    if (!n) return drop(s);
    size_t cost = NODE_COST(n->len);
    uv_mutex_lock(&s->mu);
    size_t bytes = atomic_load_explicit(&s->bytes, memory_order_relaxed);
    if (cost > s->max_bytes - bytes) { /* bytes <= max_bytes always */
        /* Full until an ack (an event too large for an empty spool leaves it open). */
        if (bytes) atomic_store_explicit(&s->full, true, memory_order_relaxed);
        uv_mutex_unlock(&s->mu);
        free(n);
        return drop(s);
    }
    atomic_store_explicit(&s->bytes, bytes + cost, memory_order_relaxed);
    *s->tail = n;
    s->tail = &n->next;
    size_t pending = atomic_load_explicit(&s->n_pending, memory_order_relaxed);
    atomic_store_explicit(&s->n_pending, pending + 1, memory_order_relaxed);
    void (*fn)(void *) = pending == 0 ? s->notify : NULL;
    void *arg = s->notify_arg;
    uv_mutex_unlock(&s->mu);
    if (fn) fn(arg);
    return true;
}

/* Under mu: the lowest batch to resend (due or not), or NULL. */
static ev_batch_t *first_resend(hmq_events_spool_t *s)
{
    if (!s->n_resend) return NULL;
    ev_batch_t *b = s->batches;
    while (!b->resend)
        b = b->next;
    return b;
}

/* Under mu, with events pending: up to max_batch of them become a new batch with the next
 * sequence. */
static ev_batch_t *cut(hmq_events_spool_t *s)
{
    ev_batch_t *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    ev_node_t *last = s->head;
    b->events = last;
    b->wire = last->len;
    b->cost = NODE_COST(last->len);
    size_t k = 1;
    for (; last->next && k < s->max_batch; k++) {
        last = last->next;
        b->wire += last->len;
        b->cost += NODE_COST(last->len);
    }
    s->head = last->next;
    last->next = NULL;
    if (!s->head) s->tail = &s->head;
    atomic_store_explicit(&s->n_pending,
                          atomic_load_explicit(&s->n_pending, memory_order_relaxed) - k,
                          memory_order_relaxed);
    b->seq = s->next_seq++;
    *s->btail = b;
    s->btail = &b->next;
    atomic_fetch_add_explicit(&s->n_unacked, 1, memory_order_relaxed);
    return b;
}

/* Under mu: the packed EventBatch of b (malloc'd), NULL on no memory. */
static uint8_t *serialize(const hmq_events_spool_t *s, const ev_batch_t *b, size_t *len)
{
    Hookmq__V1__EventBatch hdr = HOOKMQ__V1__EVENT_BATCH__INIT;
    hdr.sequence = b->seq;
    hdr.source_id = s->source_id;
    size_t hl = hookmq__v1__event_batch__get_packed_size(&hdr);
    uint8_t *out = malloc(hl + b->wire);
    if (!out) return NULL;
    uint8_t *p = out + hookmq__v1__event_batch__pack(&hdr, out);
    for (const ev_node_t *n = b->events; n; n = n->next) {
        memcpy(p, n->data, n->len);
        p += n->len;
    }
    *len = hl + b->wire;
    return out;
}

int hmq_events_spool_next(hmq_events_spool_t *s, uint8_t **buf, size_t *len, uint64_t *seq)
{
    uv_mutex_lock(&s->mu);
    ev_batch_t *b = first_resend(s);
    if (b && b->due_ms > hmq_hooks_now_ms()) b = NULL; /* later ones wait for it */
    if (b) {
        b->resend = false;
        s->n_resend--;
    } else if (s->head) {
        b = cut(s);
    }
    if (!b) {
        int rc = s->head ? HMQ_HOOKS_ENOMEM : 1; /* events to send, but cut() failed */
        uv_mutex_unlock(&s->mu);
        return rc;
    }
    uint8_t *out = serialize(s, b, len);
    if (!out) { /* offered again by the next call */
        b->resend = true;
        b->due_ms = 0;
        s->n_resend++;
        uv_mutex_unlock(&s->mu);
        return HMQ_HOOKS_ENOMEM;
    }
    *buf = out;
    *seq = b->seq;
    uv_mutex_unlock(&s->mu);
    return 0;
}

/* Under mu: the batch with this sequence, and the link pointing to it. */
static ev_batch_t *find(hmq_events_spool_t *s, uint64_t seq, ev_batch_t ***link)
{
    for (ev_batch_t **l = &s->batches; *l; l = &(*l)->next) {
        if ((*l)->seq == seq) {
            if (link) *link = l;
            return *l;
        }
        if ((*l)->seq > seq) break;
    }
    return NULL;
}

void hmq_events_spool_ack(hmq_events_spool_t *s, uint64_t seq)
{
    ev_batch_t **link;
    uv_mutex_lock(&s->mu);
    ev_batch_t *b = find(s, seq, &link);
    if (b) {
        *link = b->next;
        if (s->btail == &b->next) s->btail = link;
        if (b->resend) s->n_resend--;
        atomic_store_explicit(&s->bytes,
                              atomic_load_explicit(&s->bytes, memory_order_relaxed) - b->cost,
                              memory_order_relaxed);
        atomic_fetch_sub_explicit(&s->n_unacked, 1, memory_order_relaxed);
        atomic_store_explicit(&s->full, false, memory_order_relaxed);
    }
    uv_mutex_unlock(&s->mu);
    if (b) {
        free_nodes(b->events);
        free(b);
    }
}

static void set_resend(hmq_events_spool_t *s, ev_batch_t *b, uint64_t due_ms)
{
    if (!b->resend) s->n_resend++;
    b->resend = true;
    b->due_ms = due_ms;
}

void hmq_events_spool_retry(hmq_events_spool_t *s, uint64_t seq)
{
    uv_mutex_lock(&s->mu);
    ev_batch_t *b = find(s, seq, NULL);
    if (b) {
        uint32_t shift = b->retries < 6 ? b->retries : 6; /* 100 << 6 > RETRY_MAX_MS */
        uint32_t backoff = RETRY_FIRST_MS << shift;
        b->retries++;
        set_resend(s, b, hmq_hooks_now_ms() + (backoff < RETRY_MAX_MS ? backoff : RETRY_MAX_MS));
    }
    uv_mutex_unlock(&s->mu);
}

void hmq_events_spool_rewind(hmq_events_spool_t *s)
{
    uv_mutex_lock(&s->mu);
    for (ev_batch_t *b = s->batches; b; b = b->next)
        set_resend(s, b, 0);
    uv_mutex_unlock(&s->mu);
}

void hmq_events_spool_set_max_batch(hmq_events_spool_t *s, uint32_t n)
{
    uv_mutex_lock(&s->mu);
    s->max_batch = n && n < s->max_batch_cfg ? n : s->max_batch_cfg;
    uv_mutex_unlock(&s->mu);
}

void hmq_events_spool_set_notify(hmq_events_spool_t *s, void (*fn)(void *arg), void *arg)
{
    uv_mutex_lock(&s->mu);
    s->notify = fn;
    s->notify_arg = arg;
    uv_mutex_unlock(&s->mu);
}

uint64_t hmq_events_spool_next_due_ms(hmq_events_spool_t *s)
{
    uv_mutex_lock(&s->mu);
    ev_batch_t *b = first_resend(s);
    uint64_t due = b && b->due_ms > hmq_hooks_now_ms() ? b->due_ms : 0;
    uv_mutex_unlock(&s->mu);
    return due;
}

uint64_t hmq_events_spool_dropped(const hmq_events_spool_t *s)
{
    return atomic_load_explicit(&s->dropped, memory_order_relaxed);
}

size_t hmq_events_spool_bytes(const hmq_events_spool_t *s)
{
    return atomic_load_explicit(&s->bytes, memory_order_relaxed);
}

size_t hmq_events_spool_unacked(const hmq_events_spool_t *s)
{
    return atomic_load_explicit(&s->n_unacked, memory_order_relaxed);
}

size_t hmq_events_spool_pending(const hmq_events_spool_t *s)
{
    return atomic_load_explicit(&s->n_pending, memory_order_relaxed);
}
