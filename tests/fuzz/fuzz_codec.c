/* fuzz_codec.c - libFuzzer target for the MQTT codec (broker/src/mqtt).
 *
 * The input is read as a stream of packets, framed and decoded as MQTT 3.1, 3.1.1 and 5.0, and
 * as a fresh connection (version 0 until a CONNECT decodes, then that CONNECT's version). Every
 * packet that decodes is re-encoded, decoded again and compared field by field; encoding that
 * result must give the same bytes (encoding is canonical). Framing is checked on every prefix of
 * the first packet, and the iterators and validators run on whatever decoded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/mqtt.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_codec: check failed at line %d: %s\n", __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_PACKETS 64

static bool bytes_eq(hmq_bytes_t a, hmq_bytes_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Properties: the same bits, values and user properties. A block with several subscription
 * identifiers is re-encoded with the first only. */
static void props_eq(const hmq_props_t *a, const hmq_props_t *b)
{
    CHECK(a->present == b->present);
    const uint64_t pr = a->present;
#define NUM(id, f) CHECK(!(pr & HMQ_PROP_BIT(id)) || a->f == b->f)
#define STR(id, f) CHECK(!(pr & HMQ_PROP_BIT(id)) || bytes_eq(a->f, b->f))
    NUM(HMQ_PROP_PAYLOAD_FORMAT, payload_format);
    NUM(HMQ_PROP_MESSAGE_EXPIRY, message_expiry);
    STR(HMQ_PROP_CONTENT_TYPE, content_type);
    STR(HMQ_PROP_RESPONSE_TOPIC, response_topic);
    STR(HMQ_PROP_CORRELATION_DATA, correlation_data);
    NUM(HMQ_PROP_SUBSCRIPTION_ID, sub_id);
    NUM(HMQ_PROP_SESSION_EXPIRY, session_expiry);
    STR(HMQ_PROP_ASSIGNED_CLIENT_ID, assigned_client_id);
    NUM(HMQ_PROP_SERVER_KEEP_ALIVE, server_keep_alive);
    STR(HMQ_PROP_AUTH_METHOD, auth_method);
    STR(HMQ_PROP_AUTH_DATA, auth_data);
    NUM(HMQ_PROP_REQUEST_PROBLEM_INFO, request_problem_info);
    NUM(HMQ_PROP_WILL_DELAY, will_delay);
    NUM(HMQ_PROP_REQUEST_RESPONSE_INFO, request_response_info);
    STR(HMQ_PROP_RESPONSE_INFO, response_info);
    STR(HMQ_PROP_SERVER_REFERENCE, server_reference);
    STR(HMQ_PROP_REASON_STRING, reason_string);
    NUM(HMQ_PROP_RECEIVE_MAXIMUM, receive_maximum);
    NUM(HMQ_PROP_TOPIC_ALIAS_MAXIMUM, topic_alias_maximum);
    NUM(HMQ_PROP_TOPIC_ALIAS, topic_alias);
    NUM(HMQ_PROP_MAXIMUM_QOS, maximum_qos);
    NUM(HMQ_PROP_RETAIN_AVAILABLE, retain_available);
    NUM(HMQ_PROP_MAXIMUM_PACKET_SIZE, maximum_packet_size);
    NUM(HMQ_PROP_WILDCARD_SUB_AVAILABLE, wildcard_sub_available);
    NUM(HMQ_PROP_SUB_ID_AVAILABLE, sub_id_available);
    NUM(HMQ_PROP_SHARED_SUB_AVAILABLE, shared_sub_available);
#undef NUM
#undef STR
    CHECK((a->sub_id_count > 0) == (b->sub_id_count > 0));
    CHECK(a->user_count == b->user_count);
    uint32_t pa = 0, pb = 0, n = 0;
    hmq_bytes_t ka, va, kb, vb;
    while (hmq_props_user_next(a, &pa, &ka, &va)) {
        CHECK(hmq_props_user_next(b, &pb, &kb, &vb));
        CHECK(bytes_eq(ka, kb) && bytes_eq(va, vb));
        CHECK(hmq_mqtt_utf8_valid(ka.p, ka.len) && hmq_mqtt_utf8_valid(va.p, va.len));
        n++;
    }
    CHECK(!hmq_props_user_next(b, &pb, &kb, &vb));
    CHECK(n == a->user_count || a->user_count == UINT16_MAX);
    uint32_t pos = 0, id, ids = 0;
    while (hmq_props_sub_id_next(a, &pos, &id)) {
        CHECK(id != 0 && (ids > 0 || id == a->sub_id));
        ids++;
    }
    CHECK(ids == a->sub_id_count);
}

/* SUBSCRIBE / UNSUBSCRIBE entries: the same filters and options, `count` of them, all valid. */
static void entries_eq(const hmq_packet_t *a, const hmq_packet_t *b)
{
    const hmq_subscribe_t *sa = &a->subscribe, *sb = &b->subscribe;
    CHECK(sa->packet_id == sb->packet_id && sa->count == sb->count);
    uint32_t pa = 0, pb = 0, n = 0;
    hmq_bytes_t fa, fb;
    hmq_subopts_t oa, ob;
    for (;;) {
        bool more = a->type == HMQ_SUBSCRIBE ? hmq_subscribe_next(sa, &pa, &fa, &oa)
                                             : hmq_unsubscribe_next(sa, &pa, &fa);
        bool more_b = a->type == HMQ_SUBSCRIBE ? hmq_subscribe_next(sb, &pb, &fb, &ob)
                                               : hmq_unsubscribe_next(sb, &pb, &fb);
        CHECK(more == more_b);
        if (!more) break;
        CHECK(bytes_eq(fa, fb));
        CHECK(hmq_mqtt_topic_filter_valid(fa.p, fa.len));
        if (a->type == HMQ_SUBSCRIBE) {
            CHECK(oa.qos == ob.qos && oa.qos <= 2);
            CHECK(oa.no_local == ob.no_local && oa.retain_as_published == ob.retain_as_published);
            CHECK(oa.retain_handling == ob.retain_handling && oa.retain_handling <= 2);
        }
        n++;
    }
    CHECK(n == sa->count && n > 0);
}

static void packet_eq(const hmq_packet_t *a, const hmq_packet_t *b)
{
    CHECK(a->type == b->type);
    switch (a->type) {
    case HMQ_CONNECT: {
        const hmq_connect_t *x = &a->connect, *y = &b->connect;
        CHECK(x->version == y->version && x->clean_start == y->clean_start);
        CHECK(x->will_flag == y->will_flag && x->will_qos == y->will_qos);
        CHECK(x->will_retain == y->will_retain && x->keepalive == y->keepalive);
        CHECK(x->has_username == y->has_username && x->has_password == y->has_password);
        CHECK(bytes_eq(x->protocol_name, y->protocol_name));
        CHECK(bytes_eq(x->client_id, y->client_id) && bytes_eq(x->username, y->username));
        CHECK(bytes_eq(x->password, y->password) && bytes_eq(x->will_topic, y->will_topic));
        CHECK(bytes_eq(x->will_payload, y->will_payload));
        props_eq(&x->props, &y->props);
        props_eq(&x->will_props, &y->will_props);
        break;
    }
    case HMQ_CONNACK:
        CHECK(a->connack.session_present == b->connack.session_present);
        CHECK(a->connack.code == b->connack.code);
        props_eq(&a->connack.props, &b->connack.props);
        break;
    case HMQ_PUBLISH: {
        const hmq_publish_t *x = &a->publish, *y = &b->publish;
        CHECK(x->dup == y->dup && x->qos == y->qos && x->retain == y->retain);
        CHECK(x->packet_id == y->packet_id && (x->qos == 0) == (x->packet_id == 0));
        CHECK(bytes_eq(x->topic, y->topic) && bytes_eq(x->payload, y->payload));
        props_eq(&x->props, &y->props);
        break;
    }
    case HMQ_PUBACK:
    case HMQ_PUBREC:
    case HMQ_PUBREL:
    case HMQ_PUBCOMP:
        CHECK(a->ack.packet_id == b->ack.packet_id && a->ack.packet_id != 0);
        CHECK(a->ack.code == b->ack.code);
        props_eq(&a->ack.props, &b->ack.props);
        break;
    case HMQ_SUBSCRIBE:
    case HMQ_UNSUBSCRIBE:
        entries_eq(a, b);
        props_eq(&a->subscribe.props, &b->subscribe.props);
        break;
    case HMQ_SUBACK:
    case HMQ_UNSUBACK:
        CHECK(a->suback.packet_id == b->suback.packet_id && a->suback.count == b->suback.count);
        CHECK(a->suback.count == 0 ||
              memcmp(a->suback.codes, b->suback.codes, a->suback.count) == 0);
        props_eq(&a->suback.props, &b->suback.props);
        break;
    case HMQ_DISCONNECT:
    case HMQ_AUTH:
        CHECK(a->reason.code == b->reason.code);
        props_eq(&a->reason.props, &b->reason.props);
        break;
    default:
        break;
    }
}

/* Encode a decoded packet, decode it again, compare; the second encoding is byte-identical. */
static void roundtrip(const hmq_packet_t *p, uint8_t version)
{
    const uint8_t v = p->type == HMQ_CONNECT ? p->connect.version : version;
    size_t need = hmq_mqtt_encode(p, v, NULL, 0);
    CHECK(need >= 2);
    uint8_t *small = malloc(need - 1); /* exact-size allocations: ASan sees any overflow */
    uint8_t *buf = malloc(need);
    uint8_t *again = malloc(need);
    CHECK(small && buf && again);
    CHECK(hmq_mqtt_encode(p, v, small, need - 1) == need);
    CHECK(hmq_mqtt_encode(p, v, buf, need) == need);
    size_t plen = 0;
    CHECK(hmq_mqtt_frame(buf, need, 0, &plen) == 1 && plen == need);
    CHECK(hmq_mqtt_frame(buf, need, (uint32_t)need - 1, &plen) == HMQ_MQTT_E_TOO_LARGE);
    hmq_packet_t q;
    int rc = hmq_mqtt_decode(buf, need, v, &q);
    if (rc)
        fprintf(stderr, "fuzz_codec: re-decode of %s v%u failed: %d\n", hmq_mqtt_type_name(p->type),
                v, rc);
    CHECK(rc == 0);
    packet_eq(p, &q);
    CHECK(hmq_mqtt_encode(&q, v, again, need) == need);
    CHECK(memcmp(buf, again, need) == 0);
    if (p->type == HMQ_PUBLISH) {
        size_t head = hmq_mqtt_encode_publish_head(&p->publish, v, p->publish.payload.len, NULL, 0);
        CHECK(head + p->publish.payload.len == need);
        CHECK(hmq_mqtt_encode_publish_head(&p->publish, v, p->publish.payload.len, small,
                                           head - 1) == head);
        memset(again, 0, need);
        CHECK(hmq_mqtt_encode_publish_head(&p->publish, v, p->publish.payload.len, again, head) ==
              head);
        CHECK(memcmp(again, buf, head) == 0);
    }
    free(small);
    free(buf);
    free(again);
}

/* Framing on the prefixes of the input agrees with framing the whole of it. */
static void check_frame_prefixes(const uint8_t *data, size_t size)
{
    size_t full_len = 0;
    int full = hmq_mqtt_frame(data, size, 0, &full_len);
    CHECK(full >= HMQ_MQTT_E_MALFORMED && full <= 1);
    CHECK(full != HMQ_MQTT_E_MALFORMED || size >= 5);
    size_t limit = size < 8 ? size : 8;
    for (size_t k = 0; k <= limit; k++) {
        size_t n = 0;
        int rc = hmq_mqtt_frame(data, k, 0, &n);
        if (full == 1 && k < full_len) CHECK(rc == 0 && (n == 0 || n == full_len));
        if (full == 1 && k >= full_len) CHECK(rc == 1 && n == full_len);
        if (full == 0) CHECK(rc == 0);
        if (full < 0) CHECK(rc == 0 || rc == full);
    }
    if (full == 1) {
        /* One byte short: incomplete, and too large for a limit of that size as soon as the
         * Remaining Length is known (it is not when the missing byte is its last one). */
        size_t n = 0;
        CHECK(hmq_mqtt_frame(data, full_len - 1, 0, &n) == 0 && (n == full_len || n == 0));
        int rc = hmq_mqtt_frame(data, full_len - 1, (uint32_t)full_len - 1, &n);
        CHECK(rc == HMQ_MQTT_E_TOO_LARGE || (rc == 0 && n == 0));
    }
}

/* Decode the input as consecutive packets. version 0: a connection, which takes the version of
 * the first CONNECT that decodes. */
static void stream(const uint8_t *data, size_t size, uint8_t version)
{
    size_t off = 0;
    for (int i = 0; i < MAX_PACKETS && off < size; i++) {
        size_t len = 0;
        if (hmq_mqtt_frame(data + off, size - off, 0, &len) != 1) return;
        hmq_packet_t p;
        int rc = hmq_mqtt_decode(data + off, len, version, &p);
        CHECK(rc <= 0 && rc >= HMQ_MQTT_E_TOPIC_ALIAS);
        CHECK(hmq_mqtt_err_str(rc) != NULL);
        (void)hmq_mqtt_err_rc(rc);
        if (rc == 0) {
            roundtrip(&p, version);
            if (p.type == HMQ_CONNECT && version == 0) version = p.connect.version;
        }
        off += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_frame_prefixes(data, size);
    static const uint8_t versions[] = {0, HMQ_MQTT_V31, HMQ_MQTT_V311, HMQ_MQTT_V5};
    for (size_t i = 0; i < sizeof versions; i++)
        stream(data, size, versions[i]);
    /* The validators on raw bytes. */
    bool utf8 = hmq_mqtt_utf8_valid(data, size);
    if (hmq_mqtt_topic_name_valid(data, size)) CHECK(utf8 && size > 0);
    if (hmq_mqtt_topic_filter_valid(data, size)) {
        CHECK(utf8 && size > 0);
        hmq_bytes_t f = {data, (uint32_t)size}, g, inner;
        if (hmq_mqtt_shared_split(f, &g, &inner))
            CHECK(g.len > 0 && hmq_mqtt_topic_filter_valid(inner.p, inner.len));
    }
    return 0;
}
