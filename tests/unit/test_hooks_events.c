/* test_hooks_events.c - notification events: the spool's encoding (every event type, checked
 * by unpacking the EventBatch), batching, the byte bound and drop counting, ack / retry / rewind
 * and sequence numbers, the notify callback, producers and a consumer on threads, and the
 * engine's side (hmq_hooks_wants_event, hmq_hooks_event, drop counts) with scripted providers.
 * White-box: includes hooks/src/events.h and the generated hooks.pb-c.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "events.h"
#include "hooks_int.h"
#include "hookmq/v1/hooks.pb-c.h"

static const hmq_hooks_pair_t ups[] = {{"site", "berlin"}};
static const hmq_hooks_client_t client = {.client_id = "pos-1",
                                          .username = "u1",
                                          .protocol_version = 5,
                                          .listener = "tls",
                                          .peer_address = "10.0.0.1",
                                          .peer_port = 50000,
                                          .keepalive = 60,
                                          .clean_start = true,
                                          .user_properties = ups,
                                          .n_user_properties = 1};
static const uint8_t payload[] = "{\"amount\":\"12.50\"}";
static const hmq_hooks_message_t message = {.topic = "pay/pos-1/notify",
                                            .payload = payload,
                                            .payload_len = sizeof(payload) - 1,
                                            .qos = 1,
                                            .retain = true,
                                            .content_type = "application/json"};
static const hmq_hooks_subscription_t subscription = {
    .filter = "pay/+/notify", .share_group = "g1", .qos = 2, .no_local = true};
static const uint32_t ids[] = {7, 9};

static Hookmq__V1__EventBatch *next_batch(hmq_events_spool_t *s, uint64_t *seq)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(hmq_events_spool_next(s, &buf, &len, seq), 0);
    Hookmq__V1__EventBatch *eb = hookmq__v1__event_batch__unpack(NULL, len, buf);
    assert_non_null(eb);
    assert_int_equal(eb->sequence, *seq);
    free(buf);
    return eb;
}

static void assert_nothing(hmq_events_spool_t *s)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t seq = 0;
    assert_int_equal(hmq_events_spool_next(s, &buf, &len, &seq), 1);
    assert_null(buf);
}

/* A CONNECTED event whose session_expiry_interval carries a counter. */
static bool push_n(hmq_events_spool_t *s, const hmq_hooks_client_t *c, uint32_t n)
{
    hmq_hooks_event_t ev = {.type = HMQ_EVENT_CONNECTED, .client = c, .session_expiry_interval = n};
    return hmq_events_spool_push(s, &ev, NULL, 0, false, "node-a");
}

static uint32_t counter(const Hookmq__V1__Event *e)
{
    assert_int_equal(e->detail_case, HOOKMQ__V1__EVENT__DETAIL_CONNECTED);
    return e->connected->session_expiry_interval;
}

/* ---- encoding ------------------------------------------------------------------------------ */

static void push_every_type(hmq_events_spool_t *s, bool want_payload)
{
    hmq_hooks_event_t evs[] = {
        {.type = HMQ_EVENT_CONNECTED, .session_present = true, .session_expiry_interval = 3600},
        {.type = HMQ_EVENT_DISCONNECTED,
         .reason_code = 0x8E,
         .reason = "takeover",
         .will_published = true},
        {.type = HMQ_EVENT_SUBSCRIBED, .subscription = &subscription, .granted_qos = 1},
        {.type = HMQ_EVENT_UNSUBSCRIBED, .subscription = &subscription},
        {.type = HMQ_EVENT_DELIVERED,
         .message = &message,
         .from_client_id = "pub",
         .packet_id = 12},
        {.type = HMQ_EVENT_ACKED,
         .message = &message,
         .from_client_id = "pub",
         .packet_id = 12,
         .reason_code = 0x10},
        {.type = HMQ_EVENT_DROPPED,
         .message = &message,
         .from_client_id = "pub",
         .reason = "queue_full",
         .reason_code = 0x97},
        {.type = HMQ_EVENT_SESSION_CREATED, .session_expiry_interval = 7200},
        {.type = HMQ_EVENT_SESSION_TERMINATED, .reason = "expired"},
    };
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        evs[i].client = &client;
        evs[i].timestamp_unix_ms = 1700000000000ull + i;
        assert_true(hmq_events_spool_push(s, &evs[i], ids, 2, want_payload, "node-a"));
    }
}

static void check_message(const Hookmq__V1__PublishMessage *m, bool want_payload)
{
    assert_non_null(m);
    assert_string_equal(m->topic, "pay/pos-1/notify");
    assert_int_equal(m->payload_size, sizeof(payload) - 1);
    if (want_payload) {
        assert_int_equal(m->payload.len, sizeof(payload) - 1);
        assert_memory_equal(m->payload.data, payload, sizeof(payload) - 1);
    } else {
        assert_int_equal(m->payload.len, 0);
    }
    assert_int_equal(m->qos, 1);
    assert_true(m->retain);
    assert_string_equal(m->content_type, "application/json");
}

static void test_encode_every_type(void **state)
{
    (void)state;
    hmq_events_spool_t *s = hmq_events_spool_new("node-a/1700000000000", 0, 0);
    push_every_type(s, false);
    uint64_t seq;
    Hookmq__V1__EventBatch *eb = next_batch(s, &seq);
    assert_int_equal(seq, 1);
    assert_string_equal(eb->source_id, "node-a/1700000000000");
    assert_int_equal(eb->n_events, 9);
    for (size_t i = 0; i < eb->n_events; i++) {
        const Hookmq__V1__Event *e = eb->events[i];
        assert_int_equal(e->type, (int)i + 1); /* EventType values = hmq_hooks_event_type_t */
        assert_int_equal(e->detail_case, 10 + i);
        assert_int_equal(e->timestamp_unix_ms, 1700000000000ull + i);
        assert_int_equal(e->n_hook_ids, 2);
        assert_int_equal(e->hook_ids[0], 7);
        assert_int_equal(e->hook_ids[1], 9);
        const Hookmq__V1__ClientInfo *ci = e->client;
        assert_non_null(ci);
        assert_string_equal(ci->client_id, "pos-1");
        assert_true(ci->has_username);
        assert_string_equal(ci->username, "u1");
        assert_string_equal(ci->listener, "tls");
        assert_string_equal(ci->peer_address, "10.0.0.1");
        assert_int_equal(ci->peer_port, 50000);
        assert_string_equal(ci->node, "node-a");
        assert_int_equal(ci->n_user_properties, 1);
        assert_string_equal(ci->user_properties[0]->value, "berlin");
    }
    Hookmq__V1__Event **ev = eb->events;
    assert_true(ev[0]->connected->session_present);
    assert_int_equal(ev[0]->connected->session_expiry_interval, 3600);
    assert_int_equal(ev[1]->disconnected->reason_code, 0x8E);
    assert_string_equal(ev[1]->disconnected->reason, "takeover");
    assert_true(ev[1]->disconnected->will_published);
    assert_string_equal(ev[2]->subscribed->subscription->filter, "pay/+/notify");
    assert_string_equal(ev[2]->subscribed->subscription->share_group, "g1");
    assert_int_equal(ev[2]->subscribed->subscription->qos, 2);
    assert_true(ev[2]->subscribed->subscription->no_local);
    assert_int_equal(ev[2]->subscribed->granted_qos, 1);
    assert_string_equal(ev[3]->unsubscribed->filter, "pay/+/notify");
    assert_string_equal(ev[3]->unsubscribed->share_group, "g1");
    check_message(ev[4]->delivered->message, false);
    assert_string_equal(ev[4]->delivered->from_client_id, "pub");
    assert_int_equal(ev[4]->delivered->packet_id, 12);
    check_message(ev[5]->acked->message, false);
    assert_int_equal(ev[5]->acked->reason_code, 0x10);
    assert_int_equal(ev[5]->acked->packet_id, 12);
    check_message(ev[6]->dropped->message, false);
    assert_string_equal(ev[6]->dropped->reason, "queue_full");
    assert_int_equal(ev[6]->dropped->reason_code, 0x97);
    assert_int_equal(ev[7]->session_created->session_expiry_interval, 7200);
    assert_string_equal(ev[8]->session_terminated->reason, "expired");
    hookmq__v1__event_batch__free_unpacked(eb, NULL);

    /* With want_payload the message events carry the payload. */
    push_every_type(s, true);
    eb = next_batch(s, &seq);
    assert_int_equal(seq, 2);
    check_message(eb->events[4]->delivered->message, true);
    check_message(eb->events[5]->acked->message, true);
    check_message(eb->events[6]->dropped->message, true);
    hookmq__v1__event_batch__free_unpacked(eb, NULL);
    assert_nothing(s);
    assert_int_equal(hmq_events_spool_dropped(s), 0);
    hmq_events_spool_free(s);
}

static void test_encode_edges(void **state)
{
    (void)state;
    hmq_events_spool_t *s = hmq_events_spool_new("src", 0, 0);
    /* No client (a message from the API), no username, timestamp 0 = now, unknown type. */
    hmq_hooks_event_t ev = {.type = HMQ_EVENT_DROPPED, .message = &message, .reason = "too_large"};
    uint64_t before = (uint64_t)time(NULL) * 1000u;
    assert_true(hmq_events_spool_push(s, &ev, NULL, 0, false, NULL));
    hmq_hooks_client_t anon = {.client_id = "c"};
    hmq_hooks_event_t ev2 = {.type = HMQ_EVENT_SESSION_CREATED, .client = &anon};
    assert_true(hmq_events_spool_push(s, &ev2, NULL, 0, false, NULL));
    hmq_hooks_event_t bad = {.type = (hmq_hooks_event_type_t)42, .client = &anon};
    assert_false(hmq_events_spool_push(s, &bad, NULL, 0, false, NULL));
    assert_int_equal(hmq_events_spool_dropped(s), 1);
    uint64_t seq;
    Hookmq__V1__EventBatch *eb = next_batch(s, &seq);
    assert_int_equal(eb->n_events, 2);
    assert_null(eb->events[0]->client);
    assert_true(eb->events[0]->timestamp_unix_ms >= before);
    assert_true(eb->events[0]->timestamp_unix_ms < before + 60000);
    assert_string_equal(eb->events[0]->dropped->from_client_id, "");
    assert_false(eb->events[1]->client->has_username);
    assert_int_equal(eb->events[1]->n_hook_ids, 0);
    hookmq__v1__event_batch__free_unpacked(eb, NULL);
    hmq_events_spool_free(s);
}

/* ---- batching, bound, ack, retry, rewind ----------------------------------------------------- */

static void test_batching(void **state)
{
    (void)state;
    hmq_events_spool_t *s = hmq_events_spool_new("src", 0, 3);
    assert_nothing(s);
    for (uint32_t i = 0; i < 10; i++)
        assert_true(push_n(s, &client, i));
    assert_int_equal(hmq_events_spool_pending(s), 10);
    uint32_t expect = 0;
    size_t sizes[] = {3, 3, 3, 1};
    for (uint64_t b = 1; b <= 4; b++) {
        uint64_t seq;
        Hookmq__V1__EventBatch *eb = next_batch(s, &seq);
        assert_int_equal(seq, b);
        assert_int_equal(eb->n_events, sizes[b - 1]);
        for (size_t i = 0; i < eb->n_events; i++)
            assert_int_equal(counter(eb->events[i]), expect++);
        hookmq__v1__event_batch__free_unpacked(eb, NULL);
    }
    assert_nothing(s);
    assert_int_equal(hmq_events_spool_pending(s), 0);
    assert_int_equal(hmq_events_spool_unacked(s), 4);

    /* The server's max_batch_size lowers the size, never raises it above the configured one. */
    for (uint32_t i = 0; i < 10; i++)
        assert_true(push_n(s, &client, i));
    size_t want[] = {2, 3, 3};
    uint32_t server[] = {2, 1000, 0};
    for (int i = 0; i < 3; i++) {
        hmq_events_spool_set_max_batch(s, server[i]);
        uint64_t seq;
        Hookmq__V1__EventBatch *eb = next_batch(s, &seq);
        assert_int_equal(eb->n_events, want[i]);
        hookmq__v1__event_batch__free_unpacked(eb, NULL);
    }
    hmq_events_spool_free(s); /* frees unacked batches and pending events */
}

static void test_bound_drops_and_ack(void **state)
{
    (void)state;
    hmq_events_spool_t *s = hmq_events_spool_new("src", 0, 0);
    assert_true(push_n(s, &client, 1000000));
    size_t cost = hmq_events_spool_bytes(s); /* same size for every counter value below */
    assert_true(cost > 0);
    hmq_events_spool_free(s);

    s = hmq_events_spool_new("src", 3 * cost + cost / 2, 0);
    for (uint32_t i = 0; i < 3; i++)
        assert_true(push_n(s, &client, 1000000 + i));
    assert_false(push_n(s, &client, 1000003));
    assert_int_equal(hmq_events_spool_dropped(s), 1);
    assert_int_equal(hmq_events_spool_bytes(s), 3 * cost);

    /* Unacknowledged batches count too: the bound holds while the server does not answer. */
    uint64_t seq;
    Hookmq__V1__EventBatch *eb = next_batch(s, &seq);
    assert_int_equal(eb->n_events, 3);
    hookmq__v1__event_batch__free_unpacked(eb, NULL);
    assert_int_equal(hmq_events_spool_bytes(s), 3 * cost);
    assert_false(push_n(s, &client, 1000004));
    assert_int_equal(hmq_events_spool_dropped(s), 2);

    /* Full: refused without looking at the size until an ack frees bytes. */
    hmq_hooks_event_t small = {.type = HMQ_EVENT_SESSION_CREATED};
    assert_false(hmq_events_spool_push(s, &small, NULL, 0, false, NULL));
    assert_int_equal(hmq_events_spool_dropped(s), 3);

    hmq_events_spool_ack(s, seq + 100); /* unknown: ignored */
    assert_int_equal(hmq_events_spool_unacked(s), 1);
    hmq_events_spool_ack(s, seq);
    assert_int_equal(hmq_events_spool_unacked(s), 0);
    assert_int_equal(hmq_events_spool_bytes(s), 0);
    hmq_events_spool_ack(s, seq); /* twice: ignored */
    assert_true(push_n(s, &client, 1000005));
    eb = next_batch(s, &seq);
    assert_int_equal(seq, 2);
    assert_int_equal(counter(eb->events[0]), 1000005);
    hookmq__v1__event_batch__free_unpacked(eb, NULL);
    assert_int_equal(hmq_events_spool_dropped(s), 3);
    hmq_events_spool_ack(s, seq);

    /* An event larger than the whole bound is dropped, and does not block the next ones. */
    static uint8_t big[4096];
    hmq_hooks_message_t m = {.topic = "t", .payload = big, .payload_len = sizeof(big)};
    hmq_hooks_event_t huge = {.type = HMQ_EVENT_DELIVERED, .client = &client, .message = &m};
    assert_false(hmq_events_spool_push(s, &huge, NULL, 0, true, NULL));
    assert_true(hmq_events_spool_push(s, &huge, NULL, 0, false, NULL)); /* no payload: fits */
    assert_true(push_n(s, &client, 1000006));
    assert_int_equal(hmq_events_spool_dropped(s), 4);
    hmq_events_spool_free(s);
}

/* Sends n batches of one event each (counters from base); returns their packed bytes. */
static void send_singles(hmq_events_spool_t *s, uint32_t base, int n, uint8_t **bufs, size_t *lens)
{
    for (int i = 0; i < n; i++)
        assert_true(push_n(s, &client, base + (uint32_t)i));
    for (int i = 0; i < n; i++) {
        uint64_t seq;
        assert_int_equal(hmq_events_spool_next(s, &bufs[i], &lens[i], &seq), 0);
    }
}

static void expect_resend(hmq_events_spool_t *s, uint64_t want_seq, const uint8_t *buf, size_t len)
{
    uint8_t *b;
    size_t l;
    uint64_t seq;
    assert_int_equal(hmq_events_spool_next(s, &b, &l, &seq), 0);
    assert_int_equal(seq, want_seq);
    assert_int_equal(l, len); /* the same batch, byte for byte */
    assert_memory_equal(b, buf, len);
    free(b);
}

static void sleep_until(uint64_t due_ms)
{
    uint64_t now = hmq_hooks_now_ms();
    if (due_ms > now) uv_sleep((unsigned)(due_ms - now));
}

static void test_retry_keeps_order(void **state)
{
    (void)state;
    hmq_events_spool_t *s = hmq_events_spool_new("src", 0, 1);
    uint8_t *bufs[3];
    size_t lens[3];
    send_singles(s, 0, 3, bufs, lens); /* sequences 1, 2, 3 */
    assert_int_equal(hmq_events_spool_next_due_ms(s), 0);

    /* Batch 2 is retried once (100 ms), batch 1 three times (backoffs 100, 200, 400 ms): 2
     * waits for 1. */
    uint64_t t0 = hmq_hooks_now_ms();
    hmq_events_spool_retry(s, 2);
    for (int i = 0; i < 3; i++)
        hmq_events_spool_retry(s, 1);
    hmq_events_spool_retry(s, 99); /* unknown: ignored */
    uint64_t due = hmq_events_spool_next_due_ms(s);
    assert_true(due >= t0 + 400 && due <= hmq_hooks_now_ms() + 400);
    assert_nothing(s);

    /* Meanwhile new events still go out, in new batches. */
    assert_true(push_n(s, &client, 100));
    uint64_t seq;
    Hookmq__V1__EventBatch *eb = next_batch(s, &seq);
    assert_int_equal(seq, 4);
    hookmq__v1__event_batch__free_unpacked(eb, NULL);

    sleep_until(t0 + 110); /* batch 2 is due, but 1 is not (290 ms of slack for a slow host) */
    assert_nothing(s);
    sleep_until(hmq_events_spool_next_due_ms(s));
    assert_int_equal(hmq_events_spool_next_due_ms(s), 0);
    expect_resend(s, 1, bufs[0], lens[0]);
    expect_resend(s, 2, bufs[1], lens[1]);
    assert_nothing(s); /* 3 and 4 were not retried */
    assert_int_equal(hmq_events_spool_unacked(s), 4);
    for (uint64_t q = 1; q <= 4; q++)
        hmq_events_spool_ack(s, q);
    assert_int_equal(hmq_events_spool_unacked(s), 0);
    assert_int_equal(hmq_events_spool_bytes(s), 0);
    for (int i = 0; i < 3; i++)
        free(bufs[i]);
    hmq_events_spool_free(s);
}

static void test_rewind_and_sequences(void **state)
{
    (void)state;
    hmq_events_spool_t *s = hmq_events_spool_new("src", 0, 1);
    uint8_t *bufs[4];
    size_t lens[4];
    send_singles(s, 0, 4, bufs, lens); /* 1..4 */
    hmq_events_spool_ack(s, 2);
    hmq_events_spool_retry(s, 4);         /* in backoff: a rewind makes it due at once too */
    assert_true(push_n(s, &client, 100)); /* pending, not yet a batch */
    hmq_events_spool_rewind(s);
    assert_int_equal(hmq_events_spool_next_due_ms(s), 0);
    expect_resend(s, 1, bufs[0], lens[0]);
    expect_resend(s, 3, bufs[2], lens[2]);
    expect_resend(s, 4, bufs[3], lens[3]);
    uint64_t seq;
    Hookmq__V1__EventBatch *eb = next_batch(s, &seq); /* then the pending event */
    assert_int_equal(seq, 5);
    assert_int_equal(counter(eb->events[0]), 100);
    hookmq__v1__event_batch__free_unpacked(eb, NULL);
    assert_nothing(s);

    /* A second break before any ack: the same again. */
    hmq_events_spool_rewind(s);
    expect_resend(s, 1, bufs[0], lens[0]);
    hmq_events_spool_ack(s, 1);
    expect_resend(s, 3, bufs[2], lens[2]);
    hmq_events_spool_ack(s, 3);
    hmq_events_spool_ack(s, 4);
    hmq_events_spool_ack(s, 5);
    assert_nothing(s);
    /* Sequences are never reused, even with nothing left unacknowledged. */
    assert_true(push_n(s, &client, 101));
    eb = next_batch(s, &seq);
    assert_int_equal(seq, 6);
    hookmq__v1__event_batch__free_unpacked(eb, NULL);
    for (int i = 0; i < 4; i++)
        free(bufs[i]);
    hmq_events_spool_free(s);
}

static void count_notify(void *arg)
{
    (*(int *)arg)++;
}

static void test_notify(void **state)
{
    (void)state;
    int n = 0;
    hmq_events_spool_t *s = hmq_events_spool_new("src", 0, 2);
    hmq_events_spool_set_notify(s, count_notify, &n);
    assert_true(push_n(s, &client, 0));
    assert_int_equal(n, 1); /* nothing -> sendable */
    assert_true(push_n(s, &client, 1));
    assert_true(push_n(s, &client, 2));
    assert_int_equal(n, 1); /* was sendable already */
    uint64_t seq;
    Hookmq__V1__EventBatch *eb = next_batch(s, &seq); /* 2 of 3: still sendable */
    hookmq__v1__event_batch__free_unpacked(eb, NULL);
    assert_true(push_n(s, &client, 3));
    assert_int_equal(n, 1);
    eb = next_batch(s, &seq);
    hookmq__v1__event_batch__free_unpacked(eb, NULL);
    assert_nothing(s);
    assert_true(push_n(s, &client, 4));
    assert_int_equal(n, 2); /* drained, then a new event */
    hmq_events_spool_set_notify(s, NULL, NULL);
    eb = next_batch(s, &seq);
    hookmq__v1__event_batch__free_unpacked(eb, NULL);
    assert_true(push_n(s, &client, 5));
    assert_int_equal(n, 2);
    hmq_events_spool_free(s);
}

/* ---- threads -----------------------------------------------------------------------------------
 */

#define PRODUCERS 4
#define PER_PRODUCER 100000

typedef struct {
    hmq_events_spool_t *s;
    hmq_hooks_client_t client;
    char id[16];
    uint64_t rejected;
    atomic_int *running;
} producer_t;

static void producer_run(void *arg)
{
    producer_t *p = arg;
    for (uint32_t i = 0; i < PER_PRODUCER; i++)
        if (!push_n(p->s, &p->client, i)) p->rejected++;
    atomic_fetch_sub(p->running, 1);
}

typedef struct {
    hmq_events_spool_t *s;
    size_t max_bytes;
    bool slow;
    atomic_int *running;
    uint64_t received[PRODUCERS];
    int64_t last[PRODUCERS];
    int errors;
} consumer_t;

static void consumer_run(void *arg)
{
    consumer_t *c = arg;
    for (int i = 0; i < PRODUCERS; i++)
        c->last[i] = -1;
    for (;;) {
        bool done = atomic_load(c->running) == 0; /* read before next(): nothing comes after */
        uint8_t *buf;
        size_t len;
        uint64_t seq;
        if (hmq_events_spool_bytes(c->s) > c->max_bytes) c->errors++;
        int rc = hmq_events_spool_next(c->s, &buf, &len, &seq);
        if (rc == 1) {
            if (done) return;
            uv_sleep(0);
            continue;
        }
        if (rc != 0) {
            c->errors++;
            continue;
        }
        Hookmq__V1__EventBatch *eb = hookmq__v1__event_batch__unpack(NULL, len, buf);
        free(buf);
        if (!eb) {
            c->errors++;
            return;
        }
        for (size_t i = 0; i < eb->n_events; i++) {
            const Hookmq__V1__Event *e = eb->events[i];
            int p = atoi(e->client->client_id + 1);
            int64_t n = e->connected->session_expiry_interval;
            if (p < 0 || p >= PRODUCERS || n <= c->last[p])
                c->errors++; /* order per producer */
            else
                c->last[p] = n;
            if (p >= 0 && p < PRODUCERS) c->received[p]++;
        }
        hookmq__v1__event_batch__free_unpacked(eb, NULL);
        if (c->slow) uv_sleep(1);
        hmq_events_spool_ack(c->s, seq);
    }
}

static void run_threads(size_t max_bytes, bool slow, uint64_t *received, uint64_t *rejected,
                        uint64_t *dropped)
{
    hmq_events_spool_t *s = hmq_events_spool_new("src", max_bytes, 0);
    atomic_int running = PRODUCERS;
    producer_t prods[PRODUCERS];
    consumer_t cons = {.s = s, .max_bytes = max_bytes, .slow = slow, .running = &running};
    uv_thread_t tc, tp[PRODUCERS];
    assert_int_equal(uv_thread_create(&tc, consumer_run, &cons), 0);
    for (int i = 0; i < PRODUCERS; i++) {
        prods[i] = (producer_t){.s = s, .running = &running};
        snprintf(prods[i].id, sizeof(prods[i].id), "p%d", i);
        prods[i].client.client_id = prods[i].id;
        assert_int_equal(uv_thread_create(&tp[i], producer_run, &prods[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        uv_thread_join(&tp[i]);
    uv_thread_join(&tc);
    assert_int_equal(cons.errors, 0);
    *received = *rejected = 0;
    for (int i = 0; i < PRODUCERS; i++) {
        *received += cons.received[i];
        *rejected += prods[i].rejected;
        /* Every event a producer had accepted arrived. */
        assert_int_equal(cons.received[i] + prods[i].rejected, PER_PRODUCER);
    }
    *dropped = hmq_events_spool_dropped(s);
    assert_int_equal(hmq_events_spool_bytes(s), 0);
    assert_int_equal(hmq_events_spool_unacked(s), 0);
    assert_int_equal(hmq_events_spool_pending(s), 0);
    hmq_events_spool_free(s);
}

static void test_threads_no_loss(void **state)
{
    (void)state;
    uint64_t received, rejected, dropped;
    run_threads((size_t)1 << 30, false, &received, &rejected, &dropped);
    assert_int_equal(received, PRODUCERS * PER_PRODUCER);
    assert_int_equal(rejected, 0);
    assert_int_equal(dropped, 0);
}

static void test_threads_bound_hit(void **state)
{
    (void)state;
    uint64_t received, rejected, dropped;
    run_threads((size_t)64 * 1024, true, &received, &rejected, &dropped);
    assert_true(dropped > 0); /* a slow consumer and 64 KiB: the bound was hit */
    assert_int_equal(dropped, rejected);
    assert_int_equal(received + dropped, PRODUCERS * PER_PRODUCER);
}

/* ---- the engine's side -------------------------------------------------------------------- */

/* A scripted provider: records events, or hands them to a spool. */
typedef struct {
    int events;
    hmq_hooks_event_t last;
    bool full;
    hmq_events_spool_t *spool;
} evp_t;

static bool evp_event(void *self, const hmq_hooks_event_t *ev)
{
    evp_t *p = self;
    p->events++;
    p->last = *ev;
    if (p->spool) return hmq_events_spool_push(p->spool, ev, ids, 1, false, "node-a");
    return !p->full;
}

static int no_auth(void *self, hmq_hooks_call_t *call, const hmq_hooks_auth_req_t *req,
                   uint32_t deadline_ms)
{
    (void)self;
    (void)req;
    (void)deadline_ms;
    hmq_hooks_call_answer(call)->decision = HMQ_DECISION_CONTINUE;
    hmq_hooks_call_done(call, HMQ_CALL_OK);
    return 0;
}

static const hmq_hooks_provider_ops_t evp_ops = {.event = evp_event};
static const hmq_hooks_provider_ops_t auth_only_ops = {.authenticate = no_auth};

#define BIT(t) (1u << (t))

static uint64_t event_metric(hmq_hooks_t *h, const char *name, bool failures)
{
    hmq_hooks_metrics_t m;
    int i = hmq_hooks_provider_index(h, name);
    assert_true(i >= 0);
    assert_int_equal(hmq_hooks_metrics(h, (size_t)i, HMQ_HOOK_EVENTS, &m), 0);
    return failures ? m.failures : m.calls;
}

static void test_engine_events(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    hmq_hooks_t *h;
    hmq_hooks_config_t cfg = {0};
    assert_int_equal(hmq_hooks_new(&h, &loop, &cfg), 0);
    evp_t a = {0}, b = {0}, c = {0};
    assert_int_equal(hmq_hooks_add_provider(h, "a", &evp_ops, &a, NULL), 0);
    assert_int_equal(hmq_hooks_add_provider(h, "b", &evp_ops, &b, NULL), 0);
    assert_int_equal(hmq_hooks_add_provider(h, "auth", &auth_only_ops, &c, NULL), 0);
    assert_int_equal(hmq_hooks_start(h), 0);

    /* Nobody asked for events yet; a provider without an event op never gets any. */
    hmq_hooks_provider_set_event_mask(h, "auth", 0xFFFFFFFFu);
    hmq_hooks_provider_set_event_mask(h, "nope", 0xFFFFFFFFu);
    for (int t = HMQ_EVENT_CONNECTED; t <= HMQ_EVENT_SESSION_TERMINATED; t++)
        assert_false(hmq_hooks_wants_event(h, (hmq_hooks_event_type_t)t));

    hmq_hooks_provider_set_event_mask(h, "a", BIT(HMQ_EVENT_CONNECTED) | BIT(HMQ_EVENT_DROPPED));
    hmq_hooks_provider_set_event_mask(h, "b", BIT(HMQ_EVENT_DROPPED));
    assert_true(hmq_hooks_wants_event(h, HMQ_EVENT_CONNECTED));
    assert_true(hmq_hooks_wants_event(h, HMQ_EVENT_DROPPED));
    assert_false(hmq_hooks_wants_event(h, HMQ_EVENT_SUBSCRIBED));
    assert_false(hmq_hooks_wants_event(h, (hmq_hooks_event_type_t)0));
    assert_false(hmq_hooks_wants_event(h, (hmq_hooks_event_type_t)99));

    hmq_hooks_event_t ev = {.type = HMQ_EVENT_CONNECTED, .client = &client};
    hmq_hooks_event(h, &ev);
    assert_int_equal(a.events, 1);
    assert_int_equal(b.events, 0);
    assert_ptr_equal(a.last.client, &client);
    assert_true(a.last.timestamp_unix_ms > 0); /* 0 = now, filled once for every provider */

    ev.type = HMQ_EVENT_DROPPED;
    ev.timestamp_unix_ms = 0;
    ev.message = &message;
    b.full = true;
    hmq_hooks_event(h, &ev);
    assert_int_equal(a.events, 2);
    assert_int_equal(b.events, 1);
    assert_int_equal(a.last.timestamp_unix_ms, b.last.timestamp_unix_ms);
    ev.type = HMQ_EVENT_SUBSCRIBED; /* nobody wants it */
    hmq_hooks_event(h, &ev);
    assert_int_equal(a.events + b.events, 3);

    assert_int_equal(event_metric(h, "a", false), 2);
    assert_int_equal(event_metric(h, "a", true), 0);
    assert_int_equal(event_metric(h, "b", false), 1);
    assert_int_equal(event_metric(h, "b", true), 1);
    assert_int_equal(event_metric(h, "auth", false), 0);
    assert_int_equal(hmq_hooks_events_dropped(h), 1);

    /* Unsubscribing: mask 0. */
    hmq_hooks_provider_set_event_mask(h, "a", 0);
    assert_false(hmq_hooks_wants_event(h, HMQ_EVENT_CONNECTED));
    assert_true(hmq_hooks_wants_event(h, HMQ_EVENT_DROPPED));

    hmq_hooks_close(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* The engine in front of a real spool: what the spool drops is what the engine counts. */
static void test_engine_with_spool(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    hmq_hooks_t *h;
    hmq_hooks_config_t cfg = {0};
    assert_int_equal(hmq_hooks_new(&h, &loop, &cfg), 0);
    evp_t a = {.spool = hmq_events_spool_new("node-a/1", 4096, 0)};
    assert_int_equal(hmq_hooks_add_provider(h, "a", &evp_ops, &a, NULL), 0);
    assert_int_equal(hmq_hooks_start(h), 0);
    hmq_hooks_provider_set_event_mask(h, "a", BIT(HMQ_EVENT_SESSION_TERMINATED));
    hmq_hooks_event_t ev = {
        .type = HMQ_EVENT_SESSION_TERMINATED, .client = &client, .reason = "kicked"};
    for (int i = 0; i < 200; i++)
        hmq_hooks_event(h, &ev);
    uint64_t dropped = hmq_events_spool_dropped(a.spool);
    assert_true(dropped > 0 && dropped < 200);
    assert_int_equal(hmq_hooks_events_dropped(h), dropped);
    assert_int_equal(event_metric(h, "a", false), 200);
    uint64_t seq;
    Hookmq__V1__EventBatch *eb = next_batch(a.spool, &seq);
    assert_int_equal(eb->n_events, 200 - dropped);
    assert_string_equal(eb->events[0]->session_terminated->reason, "kicked");
    assert_int_equal(eb->events[0]->hook_ids[0], 7);
    hookmq__v1__event_batch__free_unpacked(eb, NULL);
    hmq_hooks_close(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    hmq_events_spool_free(a.spool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_every_type),
        cmocka_unit_test(test_encode_edges),
        cmocka_unit_test(test_batching),
        cmocka_unit_test(test_bound_drops_and_ack),
        cmocka_unit_test(test_retry_keeps_order),
        cmocka_unit_test(test_rewind_and_sequences),
        cmocka_unit_test(test_notify),
        cmocka_unit_test(test_threads_no_loss),
        cmocka_unit_test(test_threads_bound_hit),
        cmocka_unit_test(test_engine_events),
        cmocka_unit_test(test_engine_with_spool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
