/* test_codec_packets.c - every packet type of MQTT 3.1, 3.1.1 and 5.0: decoding hand-written byte
 * vectors (layouts from the specifications' examples), re-encoding them byte for byte, and
 * encode -> decode round trips in every protocol version.
 */
#include "test_codec_util.h"

static const uint8_t versions[] = {HMQ_MQTT_V31, HMQ_MQTT_V311, HMQ_MQTT_V5};

/* Decode `pkt` and check that encoding the result reproduces exactly the same bytes. */
static void decode_reencode(const uint8_t *pkt, size_t len, uint8_t v, hmq_packet_t *p)
{
    assert_int_equal(hmq_mqtt_decode(pkt, len, v, p), 0);
    uint8_t buf[512];
    size_t n = encode_ok(p, p->type == HMQ_CONNECT ? p->connect.version : v, buf, sizeof buf);
    assert_int_equal(n, len);
    assert_memory_equal(buf, pkt, len);
}

/* ---- CONNECT -------------------------------------------------------------------------------- */

static void test_connect_v311_vector(void **state)
{
    (void)state;
    static const uint8_t pkt[] = {0x10, 34,   0x00, 0x04, 'M',  'Q',  'T',  'T', 0x04,
                                  0xCE, 0x00, 0x0A, 0x00, 0x03, 'c',  'i',  'd', 0x00,
                                  0x03, 'w',  '/',  't',  0x00, 0x02, 'h',  'i', 0x00,
                                  0x04, 'u',  's',  'e',  'r',  0x00, 0x02, 'p', 'w'};
    hmq_packet_t p;
    decode_reencode(pkt, sizeof pkt, 0, &p);
    const hmq_connect_t *c = &p.connect;
    assert_int_equal(p.type, HMQ_CONNECT);
    assert_int_equal(c->version, 4);
    assert_bytes(c->protocol_name, "MQTT");
    assert_true(c->clean_start);
    assert_true(c->will_flag);
    assert_int_equal(c->will_qos, 1);
    assert_false(c->will_retain);
    assert_true(c->has_username);
    assert_true(c->has_password);
    assert_int_equal(c->keepalive, 10);
    assert_bytes(c->client_id, "cid");
    assert_bytes(c->will_topic, "w/t");
    assert_bytes(c->will_payload, "hi");
    assert_bytes(c->username, "user");
    assert_bytes(c->password, "pw");
    assert_int_equal(c->props.present, 0);
    /* Slices point into the input, nothing is copied. */
    assert_ptr_equal(c->client_id.p, pkt + 14);
}

static void test_connect_v5_vector(void **state)
{
    (void)state;
    static const uint8_t pkt[] = {0x10, 31,   0x00, 0x04, 'M',  'Q',  'T',  'T',  0x05, 0xC2, 0x00,
                                  0x0A, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0A, 0x00, 0x03, 'c',  'i',
                                  'd',  0x00, 0x04, 'u',  's',  'e',  'r',  0x00, 0x02, 'p',  'w'};
    hmq_packet_t p;
    decode_reencode(pkt, sizeof pkt, 0, &p);
    const hmq_connect_t *c = &p.connect;
    assert_int_equal(c->version, 5);
    assert_true(c->clean_start);
    assert_false(c->will_flag);
    assert_int_equal(c->props.present, HMQ_PROP_BIT(HMQ_PROP_SESSION_EXPIRY));
    assert_int_equal(c->props.session_expiry, 10);
    assert_bytes(c->client_id, "cid");
    assert_bytes(c->username, "user");
    assert_bytes(c->password, "pw");
}

static void test_connect_v31_vector(void **state)
{
    (void)state;
    static const uint8_t pkt[] = {0x10, 17,   0x00, 0x06, 'M',  'Q',  'I', 's', 'd', 'p',
                                  0x03, 0x02, 0x00, 0x3C, 0x00, 0x03, 'a', 'b', 'c'};
    hmq_packet_t p;
    decode_reencode(pkt, sizeof pkt, 0, &p);
    assert_int_equal(p.connect.version, 3);
    assert_bytes(p.connect.protocol_name, "MQIsdp");
    assert_int_equal(p.connect.keepalive, 60);
    assert_bytes(p.connect.client_id, "abc");
}

/* Some 3.1 clients set the user name / password flags and then omit the fields. */
static void test_connect_v31_missing_credentials(void **state)
{
    (void)state;
    static const uint8_t pkt[] = {0x10, 17,   0x00, 0x06, 'M',  'Q',  'I', 's', 'd', 'p',
                                  0x03, 0xC2, 0x00, 0x3C, 0x00, 0x03, 'a', 'b', 'c'};
    hmq_packet_t p;
    assert_int_equal(DECODE(pkt, 0, &p), 0);
    assert_false(p.connect.has_username);
    assert_false(p.connect.has_password);
    /* The same in 3.1.1 is malformed. */
    static const uint8_t v4[] = {0x10, 15,   0x00, 0x04, 'M',  'Q', 'T', 'T', 0x04,
                                 0xC2, 0x00, 0x3C, 0x00, 0x03, 'a', 'b', 'c'};
    assert_int_equal(DECODE(v4, 0, &p), HMQ_MQTT_E_MALFORMED);
}

static void test_connect_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof versions; i++) {
        uint8_t v = versions[i];
        hmq_packet_t p, d;
        memset(&p, 0, sizeof p);
        p.type = HMQ_CONNECT;
        hmq_connect_t *c = &p.connect;
        c->clean_start = false;
        c->will_flag = true;
        c->will_qos = 2;
        c->will_retain = true;
        c->has_username = true;
        c->has_password = true;
        c->keepalive = 65535;
        c->client_id = bs("client-1");
        c->will_topic = bs("last/will");
        c->will_payload = bs("gone");
        c->username = bs("alice");
        c->password = bs("secret");
        c->props.present = HMQ_PROP_BIT(HMQ_PROP_RECEIVE_MAXIMUM) |
                           HMQ_PROP_BIT(HMQ_PROP_MAXIMUM_PACKET_SIZE) |
                           HMQ_PROP_BIT(HMQ_PROP_AUTH_METHOD);
        c->props.receive_maximum = 20;
        c->props.maximum_packet_size = 4096;
        c->props.auth_method = bs("SCRAM-SHA-1");
        c->will_props.present =
            HMQ_PROP_BIT(HMQ_PROP_WILL_DELAY) | HMQ_PROP_BIT(HMQ_PROP_CONTENT_TYPE);
        c->will_props.will_delay = 30;
        c->will_props.content_type = bs("text/plain");
        uint8_t buf[256];
        assert_int_equal(roundtrip(&p, v, buf, sizeof buf, &d), 0);
        const hmq_connect_t *o = &d.connect;
        assert_int_equal(d.type, HMQ_CONNECT);
        assert_int_equal(o->version, v);
        assert_bytes(o->protocol_name, v == 3 ? "MQIsdp" : "MQTT");
        assert_false(o->clean_start);
        assert_true(o->will_flag);
        assert_int_equal(o->will_qos, 2);
        assert_true(o->will_retain);
        assert_int_equal(o->keepalive, 65535);
        assert_bytes(o->client_id, "client-1");
        assert_bytes(o->will_topic, "last/will");
        assert_bytes(o->will_payload, "gone");
        assert_bytes(o->username, "alice");
        assert_bytes(o->password, "secret");
        if (v == 5) {
            assert_int_equal(o->props.present, c->props.present);
            assert_int_equal(o->props.receive_maximum, 20);
            assert_int_equal(o->props.maximum_packet_size, 4096);
            assert_bytes(o->props.auth_method, "SCRAM-SHA-1");
            assert_int_equal(o->will_props.present, c->will_props.present);
            assert_int_equal(o->will_props.will_delay, 30);
            assert_bytes(o->will_props.content_type, "text/plain");
        } else {
            assert_int_equal(o->props.present, 0);
            assert_int_equal(o->will_props.present, 0);
        }
    }
}

/* v5 allows a password without a user name; an empty client id is left to the broker. */
static void test_connect_v5_password_only_empty_id(void **state)
{
    (void)state;
    hmq_packet_t p, d;
    memset(&p, 0, sizeof p);
    p.type = HMQ_CONNECT;
    p.connect.clean_start = true;
    p.connect.has_password = true;
    p.connect.password = bs("token");
    uint8_t buf[64];
    assert_int_equal(roundtrip(&p, 5, buf, sizeof buf, &d), 0);
    assert_false(d.connect.has_username);
    assert_true(d.connect.has_password);
    assert_bytes(d.connect.password, "token");
    assert_int_equal(d.connect.client_id.len, 0);
}

/* ---- CONNACK -------------------------------------------------------------------------------- */

static void test_connack_vectors(void **state)
{
    (void)state;
    hmq_packet_t p;
    static const uint8_t v4[] = {0x20, 0x02, 0x01, 0x00};
    decode_reencode(v4, sizeof v4, 4, &p);
    assert_int_equal(p.type, HMQ_CONNACK);
    assert_true(p.connack.session_present);
    assert_int_equal(p.connack.code, 0);
    static const uint8_t v4_refused[] = {0x20, 0x02, 0x00, 0x05};
    decode_reencode(v4_refused, sizeof v4_refused, 4, &p);
    assert_int_equal(p.connack.code, HMQ_V3_REFUSED_NOT_AUTHORIZED);
    static const uint8_t v31[] = {0x20, 0x02, 0x00, 0x02};
    decode_reencode(v31, sizeof v31, 3, &p);
    assert_int_equal(p.connack.code, HMQ_V3_REFUSED_IDENTIFIER);
    static const uint8_t v5[] = {0x20, 16,  0x00, 0x00, 13,   0x12, 0x00, 0x03, 'a',
                                 'b',  'c', 0x22, 0x00, 0x0A, 0x24, 0x01, 0x25, 0x00};
    decode_reencode(v5, sizeof v5, 5, &p);
    const hmq_props_t *pr = &p.connack.props;
    assert_false(p.connack.session_present);
    assert_bytes(pr->assigned_client_id, "abc");
    assert_int_equal(pr->topic_alias_maximum, 10);
    assert_int_equal(pr->maximum_qos, 1);
    assert_int_equal(pr->retain_available, 0);
    assert_int_equal(pr->present, HMQ_PROP_BIT(0x12) | HMQ_PROP_BIT(0x22) | HMQ_PROP_BIT(0x24) |
                                      HMQ_PROP_BIT(0x25));
    /* A v5 client talking to a v3 server gets a CONNACK without properties. */
    static const uint8_t v5_short[] = {0x20, 0x02, 0x00, 0x84};
    assert_int_equal(DECODE(v5_short, 5, &p), 0);
    assert_int_equal(p.connack.code, 0x84);
}

static void test_connack_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof versions; i++) {
        uint8_t v = versions[i];
        hmq_packet_t p, d;
        memset(&p, 0, sizeof p);
        p.type = HMQ_CONNACK;
        p.connack.session_present = true;
        p.connack.props.present =
            HMQ_PROP_BIT(HMQ_PROP_SERVER_KEEP_ALIVE) | HMQ_PROP_BIT(HMQ_PROP_SHARED_SUB_AVAILABLE);
        p.connack.props.server_keep_alive = 120;
        p.connack.props.shared_sub_available = 1;
        uint8_t buf[64];
        assert_int_equal(roundtrip(&p, v, buf, sizeof buf, &d), 0);
        assert_int_equal(d.connack.code, 0);
        assert_int_equal(d.connack.session_present, v != 3); /* 3.1 has no Session Present */
        if (v == 5) {
            assert_int_equal(d.connack.props.server_keep_alive, 120);
            assert_int_equal(d.connack.props.shared_sub_available, 1);
        } else {
            assert_int_equal(buf[1], 2);
        }
    }
}

/* ---- PUBLISH -------------------------------------------------------------------------------- */

static void test_publish_v311_vectors(void **state)
{
    (void)state;
    hmq_packet_t p;
    static const uint8_t q1[] = {0x32, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 'x', 'y', 'z'};
    for (uint8_t v = 3; v <= 4; v++) {
        decode_reencode(q1, sizeof q1, v, &p);
        assert_int_equal(p.type, HMQ_PUBLISH);
        assert_int_equal(p.flags, 2);
        assert_int_equal(p.publish.qos, 1);
        assert_false(p.publish.dup);
        assert_false(p.publish.retain);
        assert_int_equal(p.publish.packet_id, 10);
        assert_bytes(p.publish.topic, "a/b");
        assert_bytes(p.publish.payload, "xyz");
        assert_ptr_equal(p.publish.payload.p, q1 + 9);
    }
    static const uint8_t q0[] = {0x31, 0x05, 0x00, 0x03, 'a', '/', 'b'};
    decode_reencode(q0, sizeof q0, 4, &p);
    assert_int_equal(p.publish.qos, 0);
    assert_true(p.publish.retain);
    assert_int_equal(p.publish.packet_id, 0);
    assert_int_equal(p.publish.payload.len, 0);
}

static void test_publish_v5_vector(void **state)
{
    (void)state;
    static const uint8_t pkt[] = {0x3C, 51,   0x00, 0x03, 'a',  '/',  'b',  0x00, 0x0B, 37,   0x01,
                                  0x01, 0x02, 0x00, 0x00, 0x00, 0x3C, 0x03, 0x00, 0x04, 't',  'e',
                                  'x',  't',  0x08, 0x00, 0x03, 'r',  '/',  't',  0x09, 0x00, 0x02,
                                  0xAB, 0xCD, 0x23, 0x00, 0x07, 0x0B, 0x05, 0x26, 0x00, 0x01, 'k',
                                  0x00, 0x01, 'v',  'h',  0xC3, 0xA9, 'l',  'l',  'o'};
    hmq_packet_t p;
    decode_reencode(pkt, sizeof pkt, 5, &p);
    const hmq_publish_t *pub = &p.publish;
    assert_true(pub->dup);
    assert_int_equal(pub->qos, 2);
    assert_int_equal(pub->packet_id, 11);
    assert_bytes(pub->topic, "a/b");
    assert_bytes(pub->payload, "h\xC3\xA9llo");
    const hmq_props_t *pr = &pub->props;
    assert_int_equal(pr->payload_format, 1);
    assert_int_equal(pr->message_expiry, 60);
    assert_bytes(pr->content_type, "text");
    assert_bytes(pr->response_topic, "r/t");
    assert_int_equal(pr->correlation_data.len, 2);
    assert_int_equal(pr->correlation_data.p[0], 0xAB);
    assert_int_equal(pr->topic_alias, 7);
    assert_int_equal(pr->sub_id, 5);
    assert_int_equal(pr->sub_id_count, 1);
    assert_int_equal(pr->user_count, 1);
    assert_int_equal(pr->raw.len, 37);
    uint32_t pos = 0;
    hmq_bytes_t k, val;
    assert_true(hmq_props_user_next(pr, &pos, &k, &val));
    assert_bytes(k, "k");
    assert_bytes(val, "v");
    assert_false(hmq_props_user_next(pr, &pos, &k, &val));
}

/* v5: an empty topic name is valid with a Topic Alias (the broker resolves the alias). */
static void test_publish_v5_alias_only(void **state)
{
    (void)state;
    static const uint8_t pkt[] = {0x30, 0x08, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, 'h', 'i'};
    hmq_packet_t p;
    decode_reencode(pkt, sizeof pkt, 5, &p);
    assert_int_equal(p.publish.topic.len, 0);
    assert_int_equal(p.publish.props.topic_alias, 1);
    assert_bytes(p.publish.payload, "hi");
}

static void test_publish_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof versions; i++) {
        uint8_t v = versions[i];
        for (uint8_t qos = 0; qos <= 2; qos++) {
            hmq_packet_t p, d;
            memset(&p, 0, sizeof p);
            p.type = HMQ_PUBLISH;
            p.publish.qos = qos;
            p.publish.dup = true; /* dropped for QoS 0 */
            p.publish.retain = qos == 1;
            p.publish.packet_id = qos ? 0xFFFF : 0;
            p.publish.topic = bs("sensors/kitchen/temp");
            p.publish.payload = bs("21.5");
            p.publish.props.present = HMQ_PROP_BIT(HMQ_PROP_MESSAGE_EXPIRY);
            p.publish.props.message_expiry = 3600;
            uint32_t ids[] = {1, 268435455};
            p.publish.props.sub_ids = ids;
            p.publish.props.sub_id_count = 2;
            uint8_t buf[128];
            assert_int_equal(roundtrip(&p, v, buf, sizeof buf, &d), 0);
            const hmq_publish_t *o = &d.publish;
            assert_int_equal(o->qos, qos);
            assert_int_equal(o->dup, qos > 0);
            assert_int_equal(o->retain, qos == 1);
            assert_int_equal(o->packet_id, qos ? 0xFFFF : 0);
            assert_bytes(o->topic, "sensors/kitchen/temp");
            assert_bytes(o->payload, "21.5");
            if (v == 5) {
                assert_int_equal(o->props.message_expiry, 3600);
                assert_int_equal(o->props.sub_id_count, 2);
                uint32_t pos = 0, id = 0;
                assert_true(hmq_props_sub_id_next(&o->props, &pos, &id));
                assert_int_equal(id, 1);
                assert_true(hmq_props_sub_id_next(&o->props, &pos, &id));
                assert_int_equal(id, 268435455);
                assert_false(hmq_props_sub_id_next(&o->props, &pos, &id));
            } else {
                assert_int_equal(o->props.present, 0);
            }
        }
    }
}

/* The hot-path header encoder + payload is byte-identical to a full encode. */
static void test_publish_head(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof versions; i++) {
        uint8_t v = versions[i];
        hmq_packet_t p;
        memset(&p, 0, sizeof p);
        p.type = HMQ_PUBLISH;
        p.publish.qos = 1;
        p.publish.packet_id = 77;
        p.publish.topic = bs("t/1");
        static uint8_t payload[300];
        for (size_t j = 0; j < sizeof payload; j++)
            payload[j] = (uint8_t)j;
        p.publish.payload.p = payload;
        p.publish.payload.len = sizeof payload;
        p.publish.props.present = HMQ_PROP_BIT(HMQ_PROP_TOPIC_ALIAS);
        p.publish.props.topic_alias = 3;
        uint8_t full[512], head[64];
        size_t n = encode_ok(&p, v, full, sizeof full);
        size_t h = hmq_mqtt_encode_publish_head(&p.publish, v, sizeof payload, NULL, 0);
        assert_int_equal(h + sizeof payload, n);
        assert_int_equal(hmq_mqtt_encode_publish_head(&p.publish, v, sizeof payload, head, h - 1),
                         h);
        assert_int_equal(hmq_mqtt_encode_publish_head(&p.publish, v, sizeof payload, head, h), h);
        assert_memory_equal(head, full, h);
    }
    hmq_publish_t bad = {.qos = 3, .topic = bs("a")};
    uint8_t head[16];
    assert_int_equal(hmq_mqtt_encode_publish_head(&bad, 4, 0, head, sizeof head), 0);
    bad.qos = 0;
    assert_int_equal(hmq_mqtt_encode_publish_head(&bad, 4, 268435455, head, sizeof head), 0);
}

/* ---- PUBACK, PUBREC, PUBREL, PUBCOMP -------------------------------------------------------- */

static void test_ack_vectors(void **state)
{
    (void)state;
    static const uint8_t b0[] = {0x40, 0x50, 0x62, 0x70};
    hmq_packet_t p;
    for (int t = 0; t < 4; t++) {
        for (size_t i = 0; i < sizeof versions; i++) {
            uint8_t pkt[] = {b0[t], 0x02, 0x00, 0x0A};
            decode_reencode(pkt, sizeof pkt, versions[i], &p);
            assert_int_equal(p.type, HMQ_PUBACK + t);
            assert_int_equal(p.ack.packet_id, 10);
            assert_int_equal(p.ack.code, 0);
        }
    }
    /* v5: code without properties (Remaining Length 3), code + properties. */
    static const uint8_t code_only[] = {0x40, 0x03, 0x00, 0x0A, 0x10};
    decode_reencode(code_only, sizeof code_only, 5, &p);
    assert_int_equal(p.ack.code, HMQ_RC_NO_MATCHING_SUBSCRIBERS);
    static const uint8_t with_props[] = {0x50, 17,  0x00, 0x0A, 0x80, 13,  0x1F, 0x00, 0x03, 'b',
                                         'a',  'd', 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v'};
    decode_reencode(with_props, sizeof with_props, 5, &p);
    assert_int_equal(p.type, HMQ_PUBREC);
    assert_int_equal(p.ack.code, 0x80);
    assert_bytes(p.ack.props.reason_string, "bad");
    assert_int_equal(p.ack.props.user_count, 1);
    /* Code 0 with an empty property block decodes; re-encoding uses the short form. */
    static const uint8_t pubcomp_long[] = {0x70, 0x04, 0x00, 0x0A, 0x00, 0x00};
    assert_int_equal(DECODE(pubcomp_long, 5, &p), 0);
    assert_int_equal(p.ack.code, 0);
    uint8_t buf[16];
    assert_int_equal(encode_ok(&p, 5, buf, sizeof buf), 4);
    assert_int_equal(buf[1], 2);
}

static void test_ack_roundtrip(void **state)
{
    (void)state;
    for (uint8_t type = HMQ_PUBACK; type <= HMQ_PUBCOMP; type++) {
        for (size_t i = 0; i < sizeof versions; i++) {
            uint8_t v = versions[i];
            hmq_packet_t p, d;
            memset(&p, 0, sizeof p);
            p.type = type;
            p.ack.packet_id = 513;
            p.ack.code = type == HMQ_PUBREL || type == HMQ_PUBCOMP ? 0x92 : 0x97;
            p.ack.props.present = HMQ_PROP_BIT(HMQ_PROP_REASON_STRING);
            p.ack.props.reason_string = bs("quota");
            uint8_t buf[64];
            assert_int_equal(roundtrip(&p, v, buf, sizeof buf, &d), 0);
            assert_int_equal(d.type, type);
            assert_int_equal(buf[0] & 0x0F, type == HMQ_PUBREL ? 2 : 0);
            assert_int_equal(d.ack.packet_id, 513);
            if (v == 5) {
                assert_int_equal(d.ack.code, p.ack.code);
                assert_bytes(d.ack.props.reason_string, "quota");
            } else {
                assert_int_equal(buf[1], 2);
                assert_int_equal(d.ack.code, 0);
            }
        }
    }
}

static void test_ack_v5_short_forms(void **state)
{
    (void)state;
    hmq_packet_t p;
    memset(&p, 0, sizeof p);
    p.type = HMQ_PUBACK;
    p.ack.packet_id = 1;
    uint8_t buf[16];
    static const uint8_t shortest[] = {0x40, 0x02, 0x00, 0x01};
    assert_int_equal(encode_ok(&p, 5, buf, sizeof buf), 4);
    assert_memory_equal(buf, shortest, 4);
    p.ack.code = 0x10;
    static const uint8_t code_only[] = {0x40, 0x03, 0x00, 0x01, 0x10};
    assert_int_equal(encode_ok(&p, 5, buf, sizeof buf), 5);
    assert_memory_equal(buf, code_only, 5);
}

/* ---- SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK ----------------------------------------------- */

static void test_subscribe_vectors(void **state)
{
    (void)state;
    hmq_packet_t p;
    static const uint8_t v4[] = {0x82, 14,   0x00, 0x0A, 0x00, 0x03, 'a', '/',
                                 'b',  0x01, 0x00, 0x03, 'c',  '/',  'd', 0x02};
    decode_reencode(v4, sizeof v4, 4, &p);
    assert_int_equal(p.type, HMQ_SUBSCRIBE);
    assert_int_equal(p.subscribe.packet_id, 10);
    assert_int_equal(p.subscribe.count, 2);
    uint32_t pos = 0;
    hmq_bytes_t f;
    hmq_subopts_t o;
    assert_true(hmq_subscribe_next(&p.subscribe, &pos, &f, &o));
    assert_bytes(f, "a/b");
    assert_int_equal(o.qos, 1);
    assert_true(hmq_subscribe_next(&p.subscribe, &pos, &f, &o));
    assert_bytes(f, "c/d");
    assert_int_equal(o.qos, 2);
    assert_false(hmq_subscribe_next(&p.subscribe, &pos, &f, &o));

    static const uint8_t v5[] = {0x82, 24,  0x00, 0x01, 0x02, 0x0B, 0x05, 0x00, 0x03,
                                 'a',  '/', '#',  0x1D, 0x00, 0x0A, '$',  's',  'h',
                                 'a',  'r', 'e',  '/',  'g',  '/',  'x',  0x21};
    decode_reencode(v5, sizeof v5, 5, &p);
    assert_int_equal(p.subscribe.props.sub_id, 5);
    assert_int_equal(p.subscribe.count, 2);
    pos = 0;
    assert_true(hmq_subscribe_next(&p.subscribe, &pos, &f, &o));
    assert_bytes(f, "a/#");
    assert_int_equal(o.qos, 1);
    assert_true(o.no_local);
    assert_true(o.retain_as_published);
    assert_int_equal(o.retain_handling, 1);
    assert_true(hmq_subscribe_next(&p.subscribe, &pos, &f, &o));
    assert_bytes(f, "$share/g/x");
    assert_int_equal(o.qos, 1);
    assert_false(o.no_local);
    assert_int_equal(o.retain_handling, 2);
    assert_false(hmq_subscribe_next(&p.subscribe, &pos, &f, &o));
}

static void test_subscribe_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof versions; i++) {
        uint8_t v = versions[i];
        uint8_t entries[128];
        size_t n = 0;
        hmq_subopts_t o1 = {.qos = 2, .no_local = true, .retain_handling = 2};
        hmq_subopts_t o2 = {.qos = 0, .retain_as_published = true};
        n += hmq_mqtt_sub_entry_write(bs("home/+/temp"), &o1, v, entries + n, sizeof entries - n);
        n += hmq_mqtt_sub_entry_write(bs("#"), &o2, v, entries + n, sizeof entries - n);
        hmq_packet_t p, d;
        memset(&p, 0, sizeof p);
        p.type = HMQ_SUBSCRIBE;
        p.subscribe.packet_id = 9;
        p.subscribe.entries.p = entries;
        p.subscribe.entries.len = (uint32_t)n;
        p.subscribe.props.present = HMQ_PROP_BIT(HMQ_PROP_SUBSCRIPTION_ID);
        p.subscribe.props.sub_id = 100000;
        uint8_t buf[128];
        assert_int_equal(roundtrip(&p, v, buf, sizeof buf, &d), 0);
        assert_int_equal(buf[0], 0x82);
        assert_int_equal(d.subscribe.packet_id, 9);
        assert_int_equal(d.subscribe.count, 2);
        assert_int_equal(d.subscribe.props.sub_id, v == 5 ? 100000 : 0);
        uint32_t pos = 0;
        hmq_bytes_t f;
        hmq_subopts_t o;
        assert_true(hmq_subscribe_next(&d.subscribe, &pos, &f, &o));
        assert_bytes(f, "home/+/temp");
        assert_int_equal(o.qos, 2);
        assert_int_equal(o.no_local, v == 5);
        assert_int_equal(o.retain_handling, v == 5 ? 2 : 0);
        assert_true(hmq_subscribe_next(&d.subscribe, &pos, &f, &o));
        assert_bytes(f, "#");
        assert_int_equal(o.retain_as_published, v == 5);
        assert_false(hmq_subscribe_next(&d.subscribe, &pos, &f, &o));
    }
}

static void test_unsubscribe_vectors_roundtrip(void **state)
{
    (void)state;
    hmq_packet_t p, d;
    static const uint8_t v4[] = {0xA2, 12,  0x00, 0x0A, 0x00, 0x03, 'a',
                                 '/',  'b', 0x00, 0x03, 'c',  '/',  'd'};
    decode_reencode(v4, sizeof v4, 4, &p);
    assert_int_equal(p.type, HMQ_UNSUBSCRIBE);
    assert_int_equal(p.subscribe.count, 2);
    uint32_t pos = 0;
    hmq_bytes_t f;
    assert_true(hmq_unsubscribe_next(&p.subscribe, &pos, &f));
    assert_bytes(f, "a/b");
    assert_true(hmq_unsubscribe_next(&p.subscribe, &pos, &f));
    assert_bytes(f, "c/d");
    assert_false(hmq_unsubscribe_next(&p.subscribe, &pos, &f));
    for (size_t i = 0; i < sizeof versions; i++) {
        uint8_t entries[64];
        size_t n =
            hmq_mqtt_sub_entry_write(bs("$share/g/a"), NULL, versions[i], entries, sizeof entries);
        assert_int_equal(n, 12);
        memset(&p, 0, sizeof p);
        p.type = HMQ_UNSUBSCRIBE;
        p.subscribe.packet_id = 3;
        p.subscribe.entries.p = entries;
        p.subscribe.entries.len = (uint32_t)n;
        uint8_t buf[64];
        assert_int_equal(roundtrip(&p, versions[i], buf, sizeof buf, &d), 0);
        assert_int_equal(buf[0], 0xA2);
        assert_int_equal(d.subscribe.count, 1);
        pos = 0;
        assert_true(hmq_unsubscribe_next(&d.subscribe, &pos, &f));
        assert_bytes(f, "$share/g/a");
    }
}

static void test_suback_unsuback(void **state)
{
    (void)state;
    hmq_packet_t p;
    static const uint8_t sa4[] = {0x90, 0x06, 0x00, 0x0A, 0x00, 0x01, 0x02, 0x80};
    decode_reencode(sa4, sizeof sa4, 4, &p);
    assert_int_equal(p.suback.packet_id, 10);
    assert_int_equal(p.suback.count, 4);
    assert_int_equal(p.suback.codes[3], 0x80);
    static const uint8_t sa5[] = {0x90, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x02, 0x8F};
    decode_reencode(sa5, sizeof sa5, 5, &p);
    assert_int_equal(p.suback.count, 4);
    assert_int_equal(p.suback.codes[3], 0x8F);
    static const uint8_t ua4[] = {0xB0, 0x02, 0x00, 0x0A};
    decode_reencode(ua4, sizeof ua4, 4, &p);
    assert_int_equal(p.type, HMQ_UNSUBACK);
    assert_int_equal(p.suback.count, 0);
    static const uint8_t ua5[] = {0xB0, 0x05, 0x00, 0x0A, 0x00, 0x00, 0x11};
    decode_reencode(ua5, sizeof ua5, 5, &p);
    assert_int_equal(p.suback.count, 2);
    assert_int_equal(p.suback.codes[1], HMQ_RC_NO_SUBSCRIPTION_EXISTED);

    /* Encoding for v3: failure codes collapse to 0x80, UNSUBACK has no payload. */
    static const uint8_t codes[] = {0x01, 0x87, 0x9E};
    memset(&p, 0, sizeof p);
    p.type = HMQ_SUBACK;
    p.suback.packet_id = 5;
    p.suback.codes = codes;
    p.suback.count = 3;
    uint8_t buf[32];
    static const uint8_t sa_v3[] = {0x90, 0x05, 0x00, 0x05, 0x01, 0x80, 0x80};
    assert_int_equal(encode_ok(&p, 4, buf, sizeof buf), sizeof sa_v3);
    assert_memory_equal(buf, sa_v3, sizeof sa_v3);
    static const uint8_t sa_v5[] = {0x90, 0x06, 0x00, 0x05, 0x00, 0x01, 0x87, 0x9E};
    assert_int_equal(encode_ok(&p, 5, buf, sizeof buf), sizeof sa_v5);
    assert_memory_equal(buf, sa_v5, sizeof sa_v5);
    p.type = HMQ_UNSUBACK;
    static const uint8_t ua_v3[] = {0xB0, 0x02, 0x00, 0x05};
    assert_int_equal(encode_ok(&p, 3, buf, sizeof buf), sizeof ua_v3);
    assert_memory_equal(buf, ua_v3, sizeof ua_v3);
}

/* ---- PINGREQ, PINGRESP, DISCONNECT, AUTH ---------------------------------------------------- */

static void test_ping_disconnect_auth(void **state)
{
    (void)state;
    hmq_packet_t p;
    static const uint8_t ping[] = {0xC0, 0x00}, pong[] = {0xD0, 0x00}, disc[] = {0xE0, 0x00};
    for (size_t i = 0; i < sizeof versions; i++) {
        decode_reencode(ping, sizeof ping, versions[i], &p);
        assert_int_equal(p.type, HMQ_PINGREQ);
        decode_reencode(pong, sizeof pong, versions[i], &p);
        assert_int_equal(p.type, HMQ_PINGRESP);
        decode_reencode(disc, sizeof disc, versions[i], &p);
        assert_int_equal(p.type, HMQ_DISCONNECT);
        assert_int_equal(p.reason.code, 0);
    }
    static const uint8_t with_will[] = {0xE0, 0x01, 0x04};
    decode_reencode(with_will, sizeof with_will, 5, &p);
    assert_int_equal(p.reason.code, HMQ_RC_DISCONNECT_WITH_WILL);
    static const uint8_t expiry[] = {0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x3C};
    assert_int_equal(DECODE(expiry, 5, &p), 0);
    assert_int_equal(p.reason.props.session_expiry, 60);
    static const uint8_t auth0[] = {0xF0, 0x00};
    decode_reencode(auth0, sizeof auth0, 5, &p);
    assert_int_equal(p.type, HMQ_AUTH);
    static const uint8_t auth[] = {0xF0, 15,  0x18, 13,   0x15, 0x00, 0x05, 'S', 'C',
                                   'R',  'A', 'M',  0x16, 0x00, 0x02, 'x',  'y'};
    decode_reencode(auth, sizeof auth, 5, &p);
    assert_int_equal(p.reason.code, HMQ_RC_CONTINUE_AUTH);
    assert_bytes(p.reason.props.auth_method, "SCRAM");
    assert_bytes(p.reason.props.auth_data, "xy");

    /* DISCONNECT in v3 drops code and properties; AUTH cannot be encoded before v5. */
    memset(&p, 0, sizeof p);
    p.type = HMQ_DISCONNECT;
    p.reason.code = 0x8B;
    uint8_t buf[16];
    assert_int_equal(encode_ok(&p, 4, buf, sizeof buf), 2);
    assert_int_equal(encode_ok(&p, 5, buf, sizeof buf), 3);
    assert_int_equal(buf[2], 0x8B);
    p.type = HMQ_AUTH;
    assert_int_equal(hmq_mqtt_encode(&p, 4, buf, sizeof buf), 0);
    assert_int_equal(hmq_mqtt_encode(&p, 3, buf, sizeof buf), 0);
}

/* ---- Encoder robustness --------------------------------------------------------------------- */

static void test_encode_invalid(void **state)
{
    (void)state;
    hmq_packet_t p;
    memset(&p, 0, sizeof p);
    uint8_t buf[16];
    p.type = HMQ_PINGREQ;
    assert_int_equal(hmq_mqtt_encode(&p, 0, buf, sizeof buf), 0);
    assert_int_equal(hmq_mqtt_encode(&p, 6, buf, sizeof buf), 0);
    p.type = 0;
    assert_int_equal(hmq_mqtt_encode(&p, 4, buf, sizeof buf), 0);
    p.type = HMQ_PUBLISH;
    p.publish.qos = 3;
    p.publish.topic = bs("a");
    assert_int_equal(hmq_mqtt_encode(&p, 4, buf, sizeof buf), 0);
    /* A string longer than 65535 bytes cannot be encoded. */
    static uint8_t big[70000];
    p.publish.qos = 0;
    p.publish.topic.p = big;
    p.publish.topic.len = sizeof big;
    assert_int_equal(hmq_mqtt_encode(&p, 4, NULL, 0), 0);
    p.publish.topic = bs("a");
    p.publish.props.present = HMQ_PROP_BIT(HMQ_PROP_CONTENT_TYPE);
    p.publish.props.content_type.p = big;
    p.publish.props.content_type.len = sizeof big;
    assert_int_equal(hmq_mqtt_encode(&p, 5, NULL, 0), 0);
    assert_int_equal(hmq_mqtt_encode_publish_head(&p.publish, 5, 0, NULL, 0), 0);
    assert_true(hmq_mqtt_encode(&p, 4, NULL, 0) > 0); /* v3 ignores properties */
    p.type = HMQ_CONNECT;
    memset(&p.connect, 0, sizeof p.connect);
    p.connect.will_flag = true;
    p.connect.will_qos = 3;
    assert_int_equal(hmq_mqtt_encode(&p, 4, NULL, 0), 0);
    /* A big payload passes the 2-byte limit; it is the remaining length that is capped. */
    static uint8_t payload[100000];
    memset(&p, 0, sizeof p);
    p.type = HMQ_PUBLISH;
    p.publish.topic = bs("a");
    p.publish.payload.p = payload;
    p.publish.payload.len = sizeof payload;
    assert_int_equal(hmq_mqtt_encode(&p, 4, NULL, 0), 1 + 3 + 3 + sizeof payload);
}

static void test_sub_entry_write(void **state)
{
    (void)state;
    uint8_t out[16];
    hmq_subopts_t o = {
        .qos = 1, .no_local = true, .retain_as_published = true, .retain_handling = 2};
    assert_int_equal(hmq_mqtt_sub_entry_write(bs("a/b"), &o, 5, out, sizeof out), 6);
    static const uint8_t v5[] = {0x00, 0x03, 'a', '/', 'b', 0x2D};
    assert_memory_equal(out, v5, 6);
    assert_int_equal(hmq_mqtt_sub_entry_write(bs("a/b"), &o, 4, out, sizeof out), 6);
    assert_int_equal(out[5], 0x01); /* v3: only the QoS */
    memset(out, 0xEE, sizeof out);
    assert_int_equal(hmq_mqtt_sub_entry_write(bs("a/b"), &o, 5, out, 5), 6);
    assert_int_equal(out[0], 0xEE); /* too small: nothing written */
    assert_int_equal(hmq_mqtt_sub_entry_write(bs("a/b"), NULL, 5, out, sizeof out), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_v311_vector),
        cmocka_unit_test(test_connect_v5_vector),
        cmocka_unit_test(test_connect_v31_vector),
        cmocka_unit_test(test_connect_v31_missing_credentials),
        cmocka_unit_test(test_connect_roundtrip),
        cmocka_unit_test(test_connect_v5_password_only_empty_id),
        cmocka_unit_test(test_connack_vectors),
        cmocka_unit_test(test_connack_roundtrip),
        cmocka_unit_test(test_publish_v311_vectors),
        cmocka_unit_test(test_publish_v5_vector),
        cmocka_unit_test(test_publish_v5_alias_only),
        cmocka_unit_test(test_publish_roundtrip),
        cmocka_unit_test(test_publish_head),
        cmocka_unit_test(test_ack_vectors),
        cmocka_unit_test(test_ack_roundtrip),
        cmocka_unit_test(test_ack_v5_short_forms),
        cmocka_unit_test(test_subscribe_vectors),
        cmocka_unit_test(test_subscribe_roundtrip),
        cmocka_unit_test(test_unsubscribe_vectors_roundtrip),
        cmocka_unit_test(test_suback_unsuback),
        cmocka_unit_test(test_ping_disconnect_auth),
        cmocka_unit_test(test_encode_invalid),
        cmocka_unit_test(test_sub_entry_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
