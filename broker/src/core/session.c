/* session.c - session life cycle, the outbound queue / in-flight window and QoS 1/2 state
 * machines, inbound QoS 2 ids, subscriptions records, wills and expiry (see session.h).
 */
#include "core/hook_events.h"
#include "core/session.h"

#include <stdlib.h>
#include <string.h>
#include <urcu/urcu-memb.h>

#include "core/conn.h"
#include "core/router.h"
#include "util/log.h"

/* ---- rings ---------------------------------------------------------------------------------- */

static hmq_qitem_t *ring_at(hmq_ring_t *r, uint32_t i)
{
    return &r->items[(r->head + i) % r->cap];
}

static bool ring_push(hmq_ring_t *r, const hmq_qitem_t *it)
{
    if (r->count == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 8;
        hmq_qitem_t *items = malloc(cap * sizeof *items);
        if (!items) return false;
        for (uint32_t i = 0; i < r->count; i++)
            items[i] = *ring_at(r, i);
        free(r->items);
        r->items = items;
        r->head = 0;
        r->cap = cap;
    }
    *ring_at(r, r->count++) = *it;
    return true;
}

static void ring_pop(hmq_ring_t *r)
{
    r->head = (r->head + 1) % r->cap;
    r->count--;
}

/* Remove item i, keeping order. */
static void ring_remove(hmq_ring_t *r, uint32_t i)
{
    for (uint32_t j = i; j + 1 < r->count; j++)
        *ring_at(r, j) = *ring_at(r, j + 1);
    r->count--;
}

static void item_release(hmq_qitem_t *it)
{
    hmq_msg_unref(it->msg);
    free(it->more_ids);
    it->msg = NULL;
    it->more_ids = NULL;
}

static void ring_clear(hmq_ring_t *r)
{
    for (uint32_t i = 0; i < r->count; i++)
        item_release(ring_at(r, i));
    free(r->items);
    memset(r, 0, sizeof *r);
}

/* Shrink a drained ring that grew large (a burst must not pin memory forever). */
static void ring_trim(hmq_ring_t *r)
{
    if (r->count == 0 && r->cap > 64) {
        free(r->items);
        memset(r, 0, sizeof *r);
    }
}

static void set_congested(hmq_session_t *s, bool on)
{
    atomic_store_explicit(&s->handle->congested, on, memory_order_relaxed);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

hmq_session_t *hmq_session_new(hmq_worker_t *w, const char *client_id, size_t len)
{
    hmq_session_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->client_id = malloc(len + 1);
    s->uid = hmq_broker_new_uid(w->broker);
    s->handle = hmq_subscriber_new(s->uid, w->id);
    if (!s->client_id || !s->handle) goto fail;
    memcpy(s->client_id, client_id, len);
    s->client_id[len] = 0;
    s->id_len = (uint16_t)len;
    s->w = w;
    s->next_pid = 1;
    s->next_cookie = 1;
    if (hmq_map_put(&w->sessions, s->client_id, len, s) < 0) goto fail;
    if (hmq_map_put_u64(&w->sessions_uid, s->uid, s) < 0) {
        hmq_map_del(&w->sessions, s->client_id, len);
        goto fail;
    }
    return s;
fail:
    if (s->handle) hmq_subscriber_unref(s->handle);
    free(s->client_id);
    free(s);
    return NULL;
}

static void sweep_add(hmq_session_t *s)
{
    if (s->on_sweep) return;
    s->on_sweep = true;
    s->sweep_prev = NULL;
    s->sweep_next = s->w->offline;
    if (s->w->offline) s->w->offline->sweep_prev = s;
    s->w->offline = s;
}

static void sweep_del(hmq_session_t *s)
{
    if (!s->on_sweep) return;
    s->on_sweep = false;
    if (s->sweep_prev)
        s->sweep_prev->sweep_next = s->sweep_next;
    else
        s->w->offline = s->sweep_next;
    if (s->sweep_next) s->sweep_next->sweep_prev = s->sweep_prev;
    s->sweep_prev = s->sweep_next = NULL;
}

/* Free everything; no routing side effects. */
static void session_free(hmq_session_t *s, bool unsubscribe)
{
    hmq_worker_t *w = s->w;
    sweep_del(s);
    hmq_map_del(&w->sessions, s->client_id, s->id_len);
    hmq_map_del_u64(&w->sessions_uid, s->uid);
    for (uint32_t i = 0; i < s->nsubs; i++) {
        if (unsubscribe)
            hmq_topic_index_remove(w->broker->index, s->subs[i].filter, s->subs[i].len, s->handle);
        free(s->subs[i].filter);
        free(s->subs[i].asked);
    }
    free(s->subs);
    ring_clear(&s->queue);
    ring_clear(&s->inflight);
    free(s->rx_qos2);
    hmq_msg_unref(s->will);
    atomic_store(&s->handle->online, false);
    set_congested(s, false);
    hmq_subscriber_unref(s->handle);
    free(s->client_id);
    free(s);
}

/* A shared-subscription message this session holds goes to another online member of its group.
 * Returns true if it was handed over (the item's message reference moved with it). */
static bool hand_to_other_member(hmq_session_t *s, hmq_qitem_t *it)
{
    if (!it->cookie || !it->msg) return false;
    hmq_sub_rec_t *rec = hmq_session_sub_by_cookie(s, it->cookie);
    if (!rec) return false;
    hmq_sub_entry_t e;
    hmq_delivery_t d = {0};
    uint32_t target = 0;
    bool ok = false;
    urcu_memb_read_lock();
    if (hmq_topic_index_pick_shared(s->w->broker->index, rec->filter, rec->len, s->handle, &e) &&
        atomic_load(&e.sub->online)) {
        d.uid = e.sub->uid;
        target = e.sub->worker;
        d.qos = it->msg->qos < e.qos ? it->msg->qos : e.qos;
        d.sub_id = e.sub_id;
        d.cookie = e.cookie;
        ok = true;
    }
    urcu_memb_read_unlock();
    if (!ok) return false;
    d.msg = it->msg;
    it->msg = NULL;
    hmq_route_send(s->w, target, &d);
    return true;
}

static void hand_over_shared(hmq_session_t *s)
{
    for (int pass = 0; pass < 2; pass++) {
        hmq_ring_t *r = pass == 0 ? &s->inflight : &s->queue;
        for (uint32_t i = 0; i < r->count;) {
            hmq_qitem_t *it = ring_at(r, i);
            if (!(it->flags & HMQ_QI_PUBREL) && hand_to_other_member(s, it)) {
                item_release(it);
                ring_remove(r, i);
            } else {
                i++;
            }
        }
    }
}

void hmq_session_end(hmq_session_t *s)
{
    if (s->ending) return;
    s->ending = true;
    hand_over_shared(s);
    if (s->will && s->will_at) hmq_session_publish_will(s); /* the delay ends with the session */
    LOG_DEBUG("session_ended", "client_id=%s", s->client_id);
    session_free(s, true);
}

void hmq_session_attach(hmq_session_t *s, hmq_conn_t *c)
{
    s->conn = c;
    c->session = s;
    sweep_del(s);
    s->expire_at = 0;
    atomic_store(&s->handle->online, true);
}

void hmq_session_detach(hmq_session_t *s, bool publish_will)
{
    uint64_t now = hmq_worker_now(s->w);
    s->conn = NULL;
    atomic_store(&s->handle->online, false);
    set_congested(s, false);
    hand_over_shared(s);
    if (s->will) {
        if (!publish_will) {
            hmq_msg_unref(s->will);
            s->will = NULL;
        } else if (s->will_delay_s == 0 || s->clean) {
            hmq_session_publish_will(s);
        } else {
            s->will_at = now + (uint64_t)s->will_delay_s * 1000;
        }
    }
    if (s->clean) {
        hmq_session_end(s);
        return;
    }
    s->expire_at = s->expiry_s == UINT32_MAX ? 0 : now + (uint64_t)s->expiry_s * 1000;
    if (s->expire_at || s->will_at) sweep_add(s);
    /* Outbound QoS 2 in PUBREL state carries no message; keep everything else for resume. */
}

void hmq_session_publish_will(hmq_session_t *s)
{
    hmq_msg_t *m = s->will;
    s->will = NULL;
    s->will_at = 0;
    if (!m) return;
    m->origin_uid = s->uid;
    if (m->retain) hmq_retained_set(s->w->broker->retained, m->topic, m->topic_len, m);
    hmq_route(s->w, m, NULL);
    hmq_msg_unref(m);
}

void hmq_session_sweep_all(hmq_worker_t *w, uint64_t now)
{
    hmq_session_t *s = w->offline;
    while (s) {
        hmq_session_t *next = s->sweep_next;
        if (s->will_at && now >= s->will_at) hmq_session_publish_will(s);
        if (s->expire_at && now >= s->expire_at) {
            LOG_DEBUG("session_expired", "client_id=%s", s->client_id);
            hmq_session_end(s);
        } else if (!s->expire_at && !s->will_at) {
            sweep_del(s);
        }
        s = next;
    }
}

void hmq_session_free_all(hmq_worker_t *w)
{
    for (size_t i = 0; i < w->sessions.nbuckets; i++) {
        while (w->sessions.buckets && w->sessions.buckets[i])
            session_free(w->sessions.buckets[i]->value, true);
    }
}

/* ---- sending -------------------------------------------------------------------------------- */

static uint16_t window(const hmq_session_t *s)
{
    uint16_t w = s->w->cfg->max_inflight;
    return s->conn->client_receive_max < w ? s->conn->client_receive_max : w;
}

/* Distance from packet id a forward to b in the cycle 1..65535. */
static uint32_t pid_dist(uint16_t a, uint16_t b)
{
    return (uint32_t)(b - a + 65535) % 65535;
}

/* Packet ids are handed out in sequence and the in-flight ring is in send order, so the ids in
 * use lie on the arc from the oldest (head) to the newest (tail) in-flight id: a new id beyond
 * the tail is free unless the arc covers the whole cycle. Only then do we scan. */
static uint16_t next_pid(hmq_session_t *s)
{
    for (;;) {
        uint16_t pid = s->next_pid++;
        if (s->next_pid == 0) s->next_pid = 1;
        if (s->inflight.count == 0) return pid;
        uint16_t head = ring_at(&s->inflight, 0)->pid;
        uint16_t tail = ring_at(&s->inflight, s->inflight.count - 1)->pid;
        if (pid != head && pid_dist(head, pid) > pid_dist(head, tail)) return pid;
        bool used = false;
        for (uint32_t i = 0; i < s->inflight.count && !used; i++)
            used = ring_at(&s->inflight, i)->pid == pid;
        if (!used) return pid;
    }
}

/* Encode one PUBLISH for the attached connection. Returns false if the client's Maximum Packet
 * Size forbids it (the message is then discarded for this client [MQTT-3.1.2-25]). */
static bool send_publish(hmq_session_t *s, const hmq_qitem_t *it, bool dup)
{
    hmq_conn_t *c = s->conn;
    const hmq_msg_t *m = it->msg;
    hmq_publish_t pub = {0};
    pub.dup = dup;
    pub.qos = it->qos;
    pub.retain = (it->flags & HMQ_QI_RETAIN) != 0;
    pub.packet_id = it->pid;
    pub.topic.p = (const uint8_t *)m->topic;
    pub.topic.len = m->topic_len;
    uint32_t ids[HMQ_MAX_SUB_IDS];
    if (c->version == HMQ_MQTT_V5) {
        hmq_props_t *p = &pub.props;
        if (m->expiry_at_ms) {
            p->present |= HMQ_PROP_BIT(HMQ_PROP_MESSAGE_EXPIRY);
            uint32_t rem = hmq_msg_remaining_s(m, hmq_wall_ms());
            p->message_expiry = rem ? rem : 1;
        }
        uint32_t n = 0;
        if (it->sub_id) ids[n++] = it->sub_id;
        for (uint16_t i = 0; i < it->n_more && n < HMQ_MAX_SUB_IDS; i++)
            ids[n++] = it->more_ids[i];
        if (n) {
            p->present |= HMQ_PROP_BIT(HMQ_PROP_SUBSCRIPTION_ID);
            p->sub_ids = ids;
            p->sub_id_count = n;
        }
        bool known = false;
        uint16_t alias =
            c->client_alias_max ? hmq_conn_out_alias(c, m->topic, m->topic_len, &known) : 0;
        if (alias) {
            p->present |= HMQ_PROP_BIT(HMQ_PROP_TOPIC_ALIAS);
            p->topic_alias = alias;
            if (known) pub.topic.len = 0;
        }
        p->raw.p = m->props;
        p->raw.len = m->props_len;
    }
    size_t head = hmq_mqtt_encode_publish_head(&pub, c->version, m->payload_len, NULL, 0);
    size_t total = head + m->payload_len;
    if (c->client_max_packet && total > c->client_max_packet) {
        HMQ_STAT_ADD(s->w->stats.dropped_too_large, 1);
        return false;
    }
    uint8_t *o = hmq_conn_reserve(c, total);
    if (!o) return false;
    hmq_mqtt_encode_publish_head(&pub, c->version, m->payload_len, o, head);
    memcpy(o + head, m->payload, m->payload_len);
    hmq_conn_commit(c, total);
    HMQ_STAT_ADD(s->w->stats.msgs_sent, 1);
    return true;
}

static void send_pubrel(hmq_session_t *s, uint16_t pid)
{
    hmq_packet_t p = {.type = HMQ_PUBREL};
    p.ack.packet_id = pid;
    hmq_conn_send_packet(s->conn, &p);
}

/* Send one item now: QoS 0 is done; QoS 1/2 enter the in-flight window. */
static void send_item(hmq_session_t *s, hmq_qitem_t *it)
{
    if (it->qos == 0) {
        if (send_publish(s, it, false) && s->conn->ident)
            hmq_event_message(s->conn, HMQ_EVENT_DELIVERED, it->msg, 0, 0, NULL);
        item_release(it);
        return;
    }
    it->pid = next_pid(s);
    if (!send_publish(s, it, false)) {
        item_release(it);
        return;
    }
    if (s->conn->ident) hmq_event_message(s->conn, HMQ_EVENT_DELIVERED, it->msg, it->pid, 0, NULL);
    it->flags |= HMQ_QI_SENT;
    if (!ring_push(&s->inflight, it)) item_release(it);
}

static bool can_send(hmq_session_t *s, uint8_t qos)
{
    hmq_conn_t *c = s->conn;
    if (!c || c->state != HMQ_CONN_CONNECTED) return false;
    if (qos == 0) return hmq_conn_pending(c) < s->w->cfg->max_outbuf;
    return s->inflight.count < window(s);
}

void hmq_session_pump(hmq_session_t *s)
{
    uint64_t now = 0;
    while (s->queue.count) {
        hmq_qitem_t *it = ring_at(&s->queue, 0);
        if (it->msg->expiry_at_ms) {
            if (!now) now = hmq_wall_ms();
            if (hmq_msg_expired(it->msg, now)) {
                HMQ_STAT_ADD(s->w->stats.dropped_expired, 1);
                item_release(it);
                ring_pop(&s->queue);
                continue;
            }
        }
        if (!can_send(s, it->qos)) break;
        hmq_qitem_t copy = *it;
        ring_pop(&s->queue);
        send_item(s, &copy);
    }
    if (s->queue.count <= s->w->cfg->max_queued / 4) set_congested(s, false);
    ring_trim(&s->queue);
}

static void enqueue(hmq_session_t *s, hmq_qitem_t *it)
{
    const hmq_config_t *cfg = s->w->cfg;
    /* Backpressure: above half the queue limit, publishers routing here pause (only while
     * the session is online: an offline device must not stall its publishers). */
    if (s->conn && s->queue.count + 1 >= (cfg->max_queued + 1) / 2) set_congested(s, true);
    if (s->queue.count >= cfg->max_queued) {
        HMQ_STAT_ADD(s->w->stats.dropped_queue_full, 1);
        if (cfg->queue_policy == HMQ_QUEUE_DROP_NEWEST || s->queue.count == 0) {
            item_release(it);
            return;
        }
        item_release(ring_at(&s->queue, 0));
        ring_pop(&s->queue);
    }
    if (!ring_push(&s->queue, it)) {
        HMQ_STAT_ADD(s->w->stats.dropped_queue_full, 1);
        item_release(it);
    }
}

void hmq_session_deliver(hmq_session_t *s, hmq_msg_t *msg, uint8_t qos, uint8_t flags,
                         const uint32_t *sub_ids, uint16_t n_ids, uint32_t cookie)
{
    hmq_qitem_t it = {.msg = msg, .qos = qos, .cookie = cookie};
    if (flags & HMQ_DLV_RETAIN) it.flags |= HMQ_QI_RETAIN;
    if (!s->conn && qos == 0) {
        /* QoS 0 is not queued for offline sessions (bounded memory; the spec allows it). */
        HMQ_STAT_ADD(s->w->stats.dropped_offline_qos0, 1);
        hmq_msg_unref(msg);
        return;
    }
    if (n_ids) {
        it.sub_id = sub_ids[0];
        if (n_ids > 1 && (it.more_ids = malloc((n_ids - 1) * sizeof(uint32_t)))) {
            memcpy(it.more_ids, sub_ids + 1, (n_ids - 1) * sizeof(uint32_t));
            it.n_more = n_ids - 1;
        }
    }
    if (s->queue.count == 0 && can_send(s, qos)) {
        send_item(s, &it);
        return;
    }
    if (qos == 0 && s->queue.count == 0) {
        /* Online, but the client does not read fast enough: QoS 0 is dropped, not buffered. */
        HMQ_STAT_ADD(s->w->stats.dropped_slow, 1);
        item_release(&it);
        return;
    }
    enqueue(s, &it);
}

void hmq_session_resume(hmq_session_t *s)
{
    for (uint32_t i = 0; i < s->inflight.count; i++) {
        hmq_qitem_t *it = ring_at(&s->inflight, i);
        if (it->flags & HMQ_QI_PUBREL)
            send_pubrel(s, it->pid);
        else
            send_publish(s, it, true); /* [MQTT-4.4.0-1] resend with DUP */
    }
    hmq_session_pump(s);
}

/* ---- acknowledgements ----------------------------------------------------------------------- */

static int find_inflight(hmq_session_t *s, uint16_t pid)
{
    for (uint32_t i = 0; i < s->inflight.count; i++)
        if (ring_at(&s->inflight, i)->pid == pid) return (int)i;
    return -1;
}

static void complete(hmq_session_t *s, int i)
{
    item_release(ring_at(&s->inflight, (uint32_t)i));
    if (i == 0)
        ring_pop(&s->inflight);
    else
        ring_remove(&s->inflight, (uint32_t)i);
    ring_trim(&s->inflight);
    hmq_session_pump(s);
}

bool hmq_session_on_puback(hmq_session_t *s, uint16_t pid)
{
    int i = find_inflight(s, pid);
    if (i < 0 || ring_at(&s->inflight, (uint32_t)i)->qos != 1) return false;
    if (s->conn && s->conn->ident)
        hmq_event_message(s->conn, HMQ_EVENT_ACKED, ring_at(&s->inflight, (uint32_t)i)->msg, pid, 0,
                          NULL);
    complete(s, i);
    return true;
}

bool hmq_session_on_pubrec(hmq_session_t *s, uint16_t pid, uint8_t code)
{
    int i = find_inflight(s, pid);
    if (i < 0) return false;
    hmq_qitem_t *it = ring_at(&s->inflight, (uint32_t)i);
    if (it->qos != 2) return false;
    if (s->conn && s->conn->ident && it->msg)
        hmq_event_message(s->conn, HMQ_EVENT_ACKED, it->msg, pid, code, NULL);
    if (code >= 0x80) { /* the receiver refused it: the exchange ends here */
        complete(s, i);
        return true;
    }
    if (!(it->flags & HMQ_QI_PUBREL)) {
        it->flags |= HMQ_QI_PUBREL;
        item_release(it); /* delivered: only the packet id remains */
    }
    send_pubrel(s, pid);
    return true;
}

bool hmq_session_on_pubcomp(hmq_session_t *s, uint16_t pid)
{
    int i = find_inflight(s, pid);
    if (i < 0 || !(ring_at(&s->inflight, (uint32_t)i)->flags & HMQ_QI_PUBREL)) return false;
    complete(s, i);
    return true;
}

int hmq_session_rx_qos2_add(hmq_session_t *s, uint16_t pid, uint16_t max)
{
    for (uint16_t i = 0; i < s->n_rx_qos2; i++)
        if (s->rx_qos2[i] == pid) return 0;
    if (s->n_rx_qos2 >= max) return -1;
    if (s->n_rx_qos2 == s->rx_qos2_cap) {
        uint16_t cap = s->rx_qos2_cap ? s->rx_qos2_cap * 2 : 4;
        uint16_t *a = realloc(s->rx_qos2, cap * sizeof *a);
        if (!a) return -1;
        s->rx_qos2 = a;
        s->rx_qos2_cap = cap;
    }
    s->rx_qos2[s->n_rx_qos2++] = pid;
    return 1;
}

bool hmq_session_rx_qos2_del(hmq_session_t *s, uint16_t pid)
{
    for (uint16_t i = 0; i < s->n_rx_qos2; i++) {
        if (s->rx_qos2[i] == pid) {
            s->rx_qos2[i] = s->rx_qos2[--s->n_rx_qos2];
            return true;
        }
    }
    return false;
}

/* ---- subscription records ------------------------------------------------------------------- */

hmq_sub_rec_t *hmq_session_sub_add(hmq_session_t *s, const char *filter, size_t len,
                                   const hmq_subopts_t *opts, uint32_t sub_id, bool *existed)
{
    for (uint32_t i = 0; i < s->nsubs; i++) {
        hmq_sub_rec_t *r = &s->subs[i];
        if (r->len == len && memcmp(r->filter, filter, len) == 0) {
            *existed = true;
            r->opts = *opts;
            r->sub_id = sub_id;
            return r;
        }
    }
    *existed = false;
    if (s->nsubs == s->subs_cap) {
        uint32_t cap = s->subs_cap ? s->subs_cap * 2 : 2;
        hmq_sub_rec_t *a = realloc(s->subs, cap * sizeof *a);
        if (!a) return NULL;
        s->subs = a;
        s->subs_cap = cap;
    }
    hmq_sub_rec_t *r = &s->subs[s->nsubs];
    if (!(r->filter = malloc(len + 1))) return NULL;
    memcpy(r->filter, filter, len);
    r->filter[len] = 0;
    r->len = (uint16_t)len;
    r->opts = *opts;
    r->sub_id = sub_id;
    r->cookie = s->next_cookie++;
    r->shared = len > 7 && memcmp(filter, "$share/", 7) == 0;
    r->asked = NULL;
    s->nsubs++;
    return r;
}

bool hmq_session_sub_del(hmq_session_t *s, const char *filter, size_t len)
{
    for (uint32_t i = 0; i < s->nsubs; i++) {
        hmq_sub_rec_t *r = &s->subs[i];
        if (r->len == len && memcmp(r->filter, filter, len) == 0) {
            free(r->filter);
            free(r->asked);
            s->subs[i] = s->subs[--s->nsubs];
            return true;
        }
    }
    return false;
}

hmq_sub_rec_t *hmq_session_sub_by_asked(hmq_session_t *s, const char *asked, size_t len)
{
    for (uint32_t i = 0; i < s->nsubs; i++) {
        hmq_sub_rec_t *r = &s->subs[i];
        if (r->asked && strlen(r->asked) == len && memcmp(r->asked, asked, len) == 0) return r;
    }
    return NULL;
}

hmq_sub_rec_t *hmq_session_sub_by_cookie(hmq_session_t *s, uint32_t cookie)
{
    for (uint32_t i = 0; i < s->nsubs; i++)
        if (s->subs[i].cookie == cookie) return &s->subs[i];
    return NULL;
}
