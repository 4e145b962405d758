/* test_codec_malformed.c - the decoder's strict validation: every rule a receiver must enforce,
 * one or more bad packets per rule, with the error class the specification calls for.
 */
#include "test_codec_util.h"

#define EXPECT(arr, ver, err)                                                                      \
    do {                                                                                           \
        hmq_packet_t p_;                                                                           \
        assert_int_equal(DECODE(arr, ver, &p_), (err));                                            \
    } while (0)

/* A CONNECT for `level` with the given connect flags, keepalive 60 and client id "c", followed by
 * `tail` (the rest of the payload, v5 properties included by the caller). */
static void connect_pkt(tbuf_t *out, const char *name, uint8_t level, uint8_t flags,
                        const tbuf_t *tail)
{
    tbuf_t body = {.n = 0};
    tb_str(&body, name);
    tb_u8(&body, level);
    tb_u8(&body, flags);
    tb_u16(&body, 60);
    if (tail) tb_tbuf(&body, tail);
    tb_packet(out, 0x10, &body);
}

/* v5 CONNECT payload: empty properties, client id "c", then extra. */
static void v5_tail(tbuf_t *t, const char *client_id)
{
    t->n = 0;
    tb_u8(t, 0);
    tb_str(t, client_id);
}

static void test_remaining_length(void **state)
{
    (void)state;
    static const uint8_t five[] = {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00};
    EXPECT(five, 4, HMQ_MQTT_E_MALFORMED);
    /* Declared length does not match the bytes given. */
    static const uint8_t shorter[] = {0xC0, 0x01};
    EXPECT(shorter, 4, HMQ_MQTT_E_MALFORMED);
    static const uint8_t longer[] = {0xC0, 0x00, 0x00};
    EXPECT(longer, 4, HMQ_MQTT_E_MALFORMED);
    static const uint8_t one[] = {0xC0};
    EXPECT(one, 4, HMQ_MQTT_E_MALFORMED);
    hmq_packet_t p;
    assert_int_equal(hmq_mqtt_decode(NULL, 0, 4, &p), HMQ_MQTT_E_MALFORMED);
}

static void test_reserved_types(void **state)
{
    (void)state;
    static const uint8_t type0[] = {0x00, 0x00};
    EXPECT(type0, 4, HMQ_MQTT_E_MALFORMED);
    EXPECT(type0, 5, HMQ_MQTT_E_MALFORMED);
    /* AUTH does not exist before v5. */
    static const uint8_t auth[] = {0xF0, 0x00};
    EXPECT(auth, 3, HMQ_MQTT_E_MALFORMED);
    EXPECT(auth, 4, HMQ_MQTT_E_MALFORMED);
    EXPECT(auth, 5, 0);
    /* Before CONNECT (version 0) only CONNECT can be decoded. */
    static const uint8_t ping[] = {0xC0, 0x00};
    EXPECT(ping, 0, HMQ_MQTT_E_PROTOCOL);
}

/* Reserved fixed-header flags [MQTT-2.1.3-1]: 0 everywhere but PUBLISH; 0x2 for PUBREL,
 * SUBSCRIBE, UNSUBSCRIBE. */
static void test_reserved_flags(void **state)
{
    (void)state;
    /* Minimal valid bodies per type, with the correct flags. */
    static const struct {
        uint8_t b0;
        uint8_t body[8];
        uint8_t len;
    } ok[] = {
        {0x20, {0x00, 0x00}, 2},                        /* CONNACK (v4) */
        {0x40, {0x00, 0x01}, 2},                        /* PUBACK */
        {0x50, {0x00, 0x01}, 2},                        /* PUBREC */
        {0x62, {0x00, 0x01}, 2},                        /* PUBREL */
        {0x70, {0x00, 0x01}, 2},                        /* PUBCOMP */
        {0x82, {0x00, 0x01, 0x00, 0x01, 'a', 0x00}, 6}, /* SUBSCRIBE */
        {0x90, {0x00, 0x01, 0x00}, 3},                  /* SUBACK */
        {0xA2, {0x00, 0x01, 0x00, 0x01, 'a'}, 5},       /* UNSUBSCRIBE */
        {0xB0, {0x00, 0x01}, 2},                        /* UNSUBACK */
        {0xC0, {0}, 0},                                 /* PINGREQ */
        {0xD0, {0}, 0},                                 /* PINGRESP */
        {0xE0, {0}, 0},                                 /* DISCONNECT */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint8_t pkt[16];
        pkt[1] = ok[i].len;
        memcpy(pkt + 2, ok[i].body, ok[i].len);
        hmq_packet_t p;
        pkt[0] = ok[i].b0;
        assert_int_equal(hmq_mqtt_decode(pkt, 2u + ok[i].len, 4, &p), 0);
        for (uint8_t f = 0; f < 16; f++) {
            if (f == (ok[i].b0 & 0x0F)) continue;
            pkt[0] = (uint8_t)((ok[i].b0 & 0xF0) | f);
            assert_int_equal(hmq_mqtt_decode(pkt, 2u + ok[i].len, 4, &p), HMQ_MQTT_E_MALFORMED);
        }
    }
    static const uint8_t auth_flags[] = {0xF1, 0x00};
    EXPECT(auth_flags, 5, HMQ_MQTT_E_MALFORMED);
    static const uint8_t v5_suback_flags[] = {0x91, 0x03, 0x00, 0x01, 0x00, 0x00};
    EXPECT(v5_suback_flags, 5, HMQ_MQTT_E_MALFORMED);
    /* MQTT 3.1 set QoS 1 and DUP on PUBREL/SUBSCRIBE/UNSUBSCRIBE retransmissions: accepted. */
    static const uint8_t sub31_dup[] = {0x8A, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00};
    EXPECT(sub31_dup, 3, 0);
    EXPECT(sub31_dup, 4, HMQ_MQTT_E_MALFORMED);
    /* CONNECT flags must be 0 (3.1.1 / 5). */
    tbuf_t pkt, tail = {.n = 0};
    tb_str(&tail, "c");
    connect_pkt(&pkt, "MQTT", 4, 0x02, &tail);
    pkt.b[0] = 0x11;
    hmq_packet_t p;
    assert_int_equal(tb_decode(&pkt, 0, &p), HMQ_MQTT_E_MALFORMED);
}

static void test_publish_flags(void **state)
{
    (void)state;
    /* QoS 3 [MQTT-3.3.1-4]. */
    static const uint8_t qos3[] = {0x36, 0x07, 0x00, 0x01, 'a', 0x00, 0x01, 'x', 'y'};
    EXPECT(qos3, 4, HMQ_MQTT_E_MALFORMED);
    EXPECT(qos3, 5, HMQ_MQTT_E_MALFORMED);
    /* DUP with QoS 0 [MQTT-3.3.1-2]. */
    static const uint8_t dup0[] = {0x38, 0x03, 0x00, 0x01, 'a'};
    EXPECT(dup0, 4, HMQ_MQTT_E_MALFORMED);
    static const uint8_t dup0_v5[] = {0x38, 0x04, 0x00, 0x01, 'a', 0x00};
    EXPECT(dup0_v5, 5, HMQ_MQTT_E_MALFORMED);
    static const uint8_t dup1[] = {0x3A, 0x05, 0x00, 0x01, 'a', 0x00, 0x01};
    EXPECT(dup1, 4, 0);
}

/* A Packet Identifier of 0 where one is required [MQTT-2.2.1-3]. */
static void test_packet_id_zero(void **state)
{
    (void)state;
    static const uint8_t pub[] = {0x32, 0x05, 0x00, 0x01, 'a', 0x00, 0x00};
    EXPECT(pub, 4, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t pub_v5[] = {0x34, 0x06, 0x00, 0x01, 'a', 0x00, 0x00, 0x00};
    EXPECT(pub_v5, 5, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t b0[] = {0x40, 0x50, 0x62, 0x70, 0xB0};
    for (size_t i = 0; i < sizeof b0; i++) {
        uint8_t pkt[] = {b0[i], 0x02, 0x00, 0x00};
        hmq_packet_t p;
        assert_int_equal(hmq_mqtt_decode(pkt, sizeof pkt, 4, &p), HMQ_MQTT_E_PROTOCOL);
        assert_int_equal(hmq_mqtt_decode(pkt, sizeof pkt, 5, &p), HMQ_MQTT_E_PROTOCOL);
    }
    static const uint8_t sub[] = {0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 'a', 0x00};
    EXPECT(sub, 4, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t unsub[] = {0xA2, 0x05, 0x00, 0x00, 0x00, 0x01, 'a'};
    EXPECT(unsub, 4, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t suback[] = {0x90, 0x03, 0x00, 0x00, 0x00};
    EXPECT(suback, 4, HMQ_MQTT_E_PROTOCOL);
}

/* Unknown protocol name or level: HMQ_MQTT_E_VERSION, with the level reported for CONNACK. */
static void test_connect_version(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint8_t level;
    } bad[] = {{"MQTT", 6}, {"MQTT", 3}, {"MQTT", 0},  {"MQIsdp", 4}, {"MQIsdp", 5},
               {"MQTX", 4}, {"mqtt", 4}, {"MQTT ", 4}, {"", 4},       {"MQTT", 0x84}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tbuf_t pkt, tail = {.n = 0};
        tb_str(&tail, "c");
        connect_pkt(&pkt, bad[i].name, bad[i].level, 0x02, &tail);
        hmq_packet_t p;
        assert_int_equal(tb_decode(&pkt, 0, &p), HMQ_MQTT_E_VERSION);
        assert_int_equal(p.type, HMQ_CONNECT);
        assert_int_equal(p.connect.version, bad[i].level);
        assert_bytes(p.connect.protocol_name, bad[i].name);
    }
    /* Truncated before the level: malformed. */
    static const uint8_t trunc[] = {0x10, 0x06, 0x00, 0x04, 'M', 'Q', 'T', 'T'};
    EXPECT(trunc, 0, HMQ_MQTT_E_MALFORMED);
    /* An error after the level still reports it (the broker picks the CONNACK format). */
    tbuf_t pkt;
    connect_pkt(&pkt, "MQTT", 5, 0x03, NULL);
    hmq_packet_t p;
    assert_int_equal(tb_decode(&pkt, 0, &p), HMQ_MQTT_E_MALFORMED);
    assert_int_equal(p.connect.version, 5);
}

static void test_connect_flags(void **state)
{
    (void)state;
    static const struct {
        uint8_t level, flags;
        int expect;
    } cases[] = {
        {4, 0x03, HMQ_MQTT_E_MALFORMED}, /* reserved bit 0 [MQTT-3.1.2-3] */
        {5, 0x03, HMQ_MQTT_E_MALFORMED},
        {3, 0x03, 0},                    /* unused in 3.1 */
        {4, 0x0A, HMQ_MQTT_E_MALFORMED}, /* will QoS 1 without will flag [MQTT-3.1.2-11] */
        {5, 0x12, HMQ_MQTT_E_MALFORMED}, /* will QoS 2 without will flag */
        {4, 0x22, HMQ_MQTT_E_MALFORMED}, /* will retain without will flag [MQTT-3.1.2-13] */
        {5, 0x22, HMQ_MQTT_E_MALFORMED},
        {4, 0x1E, HMQ_MQTT_E_MALFORMED}, /* will QoS 3 [MQTT-3.1.2-12] */
        {5, 0x1E, HMQ_MQTT_E_MALFORMED},
        {4, 0x42, HMQ_MQTT_E_MALFORMED}, /* password without user name [MQTT-3.1.2-22] */
        {3, 0x42, HMQ_MQTT_E_MALFORMED},
        {5, 0x42, 0}, /* allowed in v5 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t level = cases[i].level, f = cases[i].flags;
        tbuf_t tail;
        if (level == 5)
            v5_tail(&tail, "c");
        else {
            tail.n = 0;
            tb_str(&tail, "c");
        }
        if (f & 0x04) {
            if (level == 5) tb_u8(&tail, 0);
            tb_str(&tail, "w");
            tb_str(&tail, "x");
        }
        if (f & 0x80) tb_str(&tail, "u");
        if (f & 0x40) tb_str(&tail, "p");
        tbuf_t pkt;
        connect_pkt(&pkt, level == 3 ? "MQIsdp" : "MQTT", level, f, &tail);
        hmq_packet_t p;
        assert_int_equal(tb_decode(&pkt, 0, &p), cases[i].expect);
    }
}

static void test_connect_strings(void **state)
{
    (void)state;
    const char *bad_ids[] = {"a\xC0\x80", "\xED\xA0\x80", "\xFF", "ab\xE2\x82"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        for (uint8_t level = 3; level <= 5; level++) {
            tbuf_t tail = {.n = 0}, pkt;
            if (level == 5) tb_u8(&tail, 0);
            tb_str(&tail, bad_ids[i]);
            connect_pkt(&pkt, level == 3 ? "MQIsdp" : "MQTT", level, 0x02, &tail);
            hmq_packet_t p;
            assert_int_equal(tb_decode(&pkt, 0, &p), HMQ_MQTT_E_MALFORMED);
        }
    }
    /* U+0000 in a client id, a user name, a will topic. */
    tbuf_t tail = {.n = 0}, pkt;
    tb_strn(&tail, "a\0b", 3);
    connect_pkt(&pkt, "MQTT", 4, 0x02, &tail);
    hmq_packet_t p;
    assert_int_equal(tb_decode(&pkt, 0, &p), HMQ_MQTT_E_MALFORMED);
    tail.n = 0;
    tb_str(&tail, "c");
    tb_strn(&tail, "u\0", 2);
    connect_pkt(&pkt, "MQTT", 4, 0x82, &tail);
    assert_int_equal(tb_decode(&pkt, 0, &p), HMQ_MQTT_E_MALFORMED);
    tail.n = 0;
    tb_str(&tail, "c");
    tb_strn(&tail, "w\0", 2);
    tb_str(&tail, "payload");
    connect_pkt(&pkt, "MQTT", 4, 0x06, &tail);
    assert_int_equal(tb_decode(&pkt, 0, &p), HMQ_MQTT_E_MALFORMED);
    /* The password is binary data: any bytes. */
    tail.n = 0;
    tb_str(&tail, "c");
    tb_str(&tail, "u");
    tb_strn(&tail, "\0\xFF", 2);
    connect_pkt(&pkt, "MQTT", 4, 0xC2, &tail);
    assert_int_equal(tb_decode(&pkt, 0, &p), 0);
    assert_int_equal(p.connect.password.len, 2);
    /* Empty client id: accepted here, the broker decides. */
    tail.n = 0;
    tb_str(&tail, "");
    connect_pkt(&pkt, "MQTT", 4, 0x00, &tail);
    assert_int_equal(tb_decode(&pkt, 0, &p), 0);
}

static void test_connect_will(void **state)
{
    (void)state;
    const char *bad_topics[] = {"a/+", "#", ""};
    for (size_t i = 0; i < 3; i++) {
        for (uint8_t level = 4; level <= 5; level++) {
            tbuf_t tail = {.n = 0}, pkt;
            if (level == 5) tb_u8(&tail, 0);
            tb_str(&tail, "c");
            if (level == 5) tb_u8(&tail, 0);
            tb_str(&tail, bad_topics[i]);
            tb_str(&tail, "bye");
            tb_str(&tail, "user");
            connect_pkt(&pkt, "MQTT", level, 0x86, &tail);
            hmq_packet_t p;
            assert_int_equal(tb_decode(&pkt, 0, &p), HMQ_MQTT_E_TOPIC_NAME);
            /* Reported once everything else decoded. */
            assert_bytes(p.connect.username, "user");
            assert_bytes(p.connect.will_payload, "bye");
        }
    }
    /* Will payload format 1 with invalid UTF-8: 0x99. */
    tbuf_t tail, pkt;
    v5_tail(&tail, "c");
    tb_u8(&tail, 2);
    tb_u8(&tail, HMQ_PROP_PAYLOAD_FORMAT);
    tb_u8(&tail, 1);
    tb_str(&tail, "w");
    tb_str(&tail, "\xC3\x28");
    connect_pkt(&pkt, "MQTT", 5, 0x06, &tail);
    hmq_packet_t p;
    assert_int_equal(tb_decode(&pkt, 0, &p), HMQ_MQTT_E_PAYLOAD_FORMAT);
    pkt.b[pkt.n - 1] = 0xA9; /* now U+00E9 */
    assert_int_equal(tb_decode(&pkt, 0, &p), 0);
    assert_int_equal(p.connect.will_props.payload_format, 1);
    /* Will fields missing although the will flag is set. */
    v5_tail(&tail, "c");
    connect_pkt(&pkt, "MQTT", 5, 0x06, &tail);
    assert_int_equal(tb_decode(&pkt, 0, &p), HMQ_MQTT_E_MALFORMED);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    tbuf_t tail = {.n = 0}, pkt;
    tb_str(&tail, "c");
    tb_u8(&tail, 0);
    connect_pkt(&pkt, "MQTT", 4, 0x02, &tail);
    hmq_packet_t p;
    assert_int_equal(tb_decode(&pkt, 0, &p), HMQ_MQTT_E_MALFORMED);
    static const uint8_t ping[] = {0xC0, 0x01, 0x00};
    EXPECT(ping, 4, HMQ_MQTT_E_MALFORMED);
    static const uint8_t pong[] = {0xD0, 0x01, 0x00};
    EXPECT(pong, 5, HMQ_MQTT_E_MALFORMED);
    static const uint8_t puback3[] = {0x40, 0x03, 0x00, 0x01, 0x00};
    EXPECT(puback3, 4, HMQ_MQTT_E_MALFORMED);
    EXPECT(puback3, 5, 0); /* v5: that byte is the reason code */
    static const uint8_t puback5[] = {0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00};
    EXPECT(puback5, 5, HMQ_MQTT_E_MALFORMED);
    static const uint8_t disc3[] = {0xE0, 0x01, 0x00};
    EXPECT(disc3, 4, HMQ_MQTT_E_MALFORMED);
    static const uint8_t disc5[] = {0xE0, 0x03, 0x00, 0x00, 0x00};
    EXPECT(disc5, 5, HMQ_MQTT_E_MALFORMED);
    static const uint8_t connack[] = {0x20, 0x03, 0x00, 0x00, 0x00};
    EXPECT(connack, 4, HMQ_MQTT_E_MALFORMED);
    static const uint8_t connack5[] = {0x20, 0x04, 0x00, 0x00, 0x00, 0x00};
    EXPECT(connack5, 5, HMQ_MQTT_E_MALFORMED);
    static const uint8_t unsuback3[] = {0xB0, 0x03, 0x00, 0x01, 0x00};
    EXPECT(unsuback3, 4, HMQ_MQTT_E_MALFORMED);
    static const uint8_t sub_no_opts[] = {0x82, 0x05, 0x00, 0x01, 0x00, 0x01, 'a'};
    EXPECT(sub_no_opts, 4, HMQ_MQTT_E_MALFORMED);
}

/* Lengths inside the packet that run past its end. */
static void test_overlong_lengths(void **state)
{
    (void)state;
    static const uint8_t topic[] = {0x30, 0x04, 0x00, 0x0A, 'a', 'b'};
    EXPECT(topic, 4, HMQ_MQTT_E_MALFORMED);
    static const uint8_t topic_len_cut[] = {0x30, 0x01, 0x00};
    EXPECT(topic_len_cut, 4, HMQ_MQTT_E_MALFORMED);
    static const uint8_t pid_cut[] = {0x32, 0x04, 0x00, 0x01, 'a', 0x00};
    EXPECT(pid_cut, 4, HMQ_MQTT_E_MALFORMED);
    static const uint8_t props[] = {0x30, 0x05, 0x00, 0x01, 'a', 0x09, 0x01};
    EXPECT(props, 5, HMQ_MQTT_E_MALFORMED);
    static const uint8_t prop_str[] = {0x30, 0x08, 0x00, 0x01, 'a', 0x04, 0x03, 0x00, 0x05, 'x'};
    EXPECT(prop_str, 5, HMQ_MQTT_E_MALFORMED);
    static const uint8_t prop_u32b[] = {0x30, 0x07, 0x00, 0x01, 'a', 0x02, 0x02, 0x00, 0x00};
    EXPECT(prop_u32b, 5, HMQ_MQTT_E_MALFORMED);
    static const uint8_t props_len5[] = {0x30, 0x08, 0x00, 0x01, 'a', 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    EXPECT(props_len5, 5, HMQ_MQTT_E_MALFORMED);
    static const uint8_t filter[] = {0x82, 0x05, 0x00, 0x01, 0x00, 0x05, 'a'};
    EXPECT(filter, 4, HMQ_MQTT_E_MALFORMED);
    static const uint8_t unsub[] = {0xA2, 0x05, 0x00, 0x01, 0x00, 0x02, 'a'};
    EXPECT(unsub, 5, HMQ_MQTT_E_MALFORMED);
    tbuf_t body = {.n = 0}, pkt;
    tb_str(&body, "MQTT");
    tb_u8(&body, 4);
    tb_u8(&body, 0x02);
    tb_u16(&body, 60);
    tb_u16(&body, 10); /* client id length 10, 1 byte present */
    tb_u8(&body, 'c');
    tb_packet(&pkt, 0x10, &body);
    hmq_packet_t p;
    assert_int_equal(tb_decode(&pkt, 0, &p), HMQ_MQTT_E_MALFORMED);
}

static void test_publish_topic(void **state)
{
    (void)state;
    static const uint8_t plus[] = {0x32, 0x07, 0x00, 0x03, 'a', '/', '+', 0x12, 0x34};
    hmq_packet_t p;
    assert_int_equal(DECODE(plus, 4, &p), HMQ_MQTT_E_TOPIC_NAME);
    assert_int_equal(p.publish.packet_id, 0x1234); /* decoded, so the broker can answer */
    static const uint8_t hash[] = {0x30, 0x04, 0x00, 0x01, '#', 0x00};
    EXPECT(hash, 5, HMQ_MQTT_E_TOPIC_NAME);
    static const uint8_t nul[] = {0x30, 0x05, 0x00, 0x03, 'a', 0x00, 'b'};
    EXPECT(nul, 4, HMQ_MQTT_E_MALFORMED);
    static const uint8_t bad_utf8[] = {0x30, 0x04, 0x00, 0x02, 0xC0, 0xAF};
    EXPECT(bad_utf8, 4, HMQ_MQTT_E_MALFORMED);
    /* Empty topic: v3 invalid; v5 only with a Topic Alias. */
    static const uint8_t empty[] = {0x30, 0x03, 0x00, 0x00, 'x'};
    EXPECT(empty, 4, HMQ_MQTT_E_TOPIC_NAME);
    EXPECT(empty, 3, HMQ_MQTT_E_TOPIC_NAME);
    static const uint8_t empty_v5[] = {0x30, 0x04, 0x00, 0x00, 0x00, 'x'};
    EXPECT(empty_v5, 5, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t empty_alias[] = {0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x02, 'x'};
    EXPECT(empty_alias, 5, 0);
}

static void test_publish_payload_format(void **state)
{
    (void)state;
    static const uint8_t bad[] = {0x32, 0x0A, 0x00, 0x01, 'a',  0x00,
                                  0x07, 0x02, 0x01, 0x01, 0xE2, 0x28};
    hmq_packet_t p;
    assert_int_equal(DECODE(bad, 5, &p), HMQ_MQTT_E_PAYLOAD_FORMAT);
    assert_int_equal(p.publish.packet_id, 7); /* PUBACK 0x99 needs it */
    /* UTF-8 character data may contain U+0000 (only UTF-8 Encoded Strings exclude it). */
    static const uint8_t nul[] = {0x30, 0x08, 0x00, 0x01, 'a', 0x02, 0x01, 0x01, 'x', 0x00};
    EXPECT(nul, 5, 0);
    /* Format 0: any bytes. */
    static const uint8_t bin[] = {0x30, 0x08, 0x00, 0x01, 'a', 0x02, 0x01, 0x00, 0xFF, 0xFE};
    EXPECT(bin, 5, 0);
}

/* Filters in SUBSCRIBE and UNSUBSCRIBE: syntax errors are HMQ_MQTT_E_TOPIC_FILTER (reported
 * after the rest decoded), bad UTF-8 is malformed. */
static void test_filters(void **state)
{
    (void)state;
    const char *bad[] = {"",     "a/#/b",     "a+",       "+a",        "#a",
                         "a/b#", "$share//x", "$share/g", "$share/g/", "$share/g+/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (uint8_t v = 3; v <= 5; v++) {
            for (int unsub = 0; unsub <= 1; unsub++) {
                tbuf_t body = {.n = 0}, pkt;
                tb_u16(&body, 42);
                if (v == 5) tb_u8(&body, 0);
                tb_str(&body, "ok/+");
                if (!unsub) tb_u8(&body, 1);
                tb_str(&body, bad[i]);
                if (!unsub) tb_u8(&body, 1);
                tb_packet(&pkt, unsub ? 0xA2 : 0x82, &body);
                hmq_packet_t p;
                assert_int_equal(tb_decode(&pkt, v, &p), HMQ_MQTT_E_TOPIC_FILTER);
                assert_int_equal(p.subscribe.packet_id, 42);
                assert_int_equal(p.subscribe.count, 2);
                /* A later structural error wins over the filter error. */
                pkt.b[1]++;
                tb_u8(&pkt, 0);
                assert_int_equal(tb_decode(&pkt, v, &p), HMQ_MQTT_E_MALFORMED);
            }
        }
    }
    static const uint8_t nul[] = {0x82, 0x07, 0x00, 0x01, 0x00, 0x02, 'a', 0x00, 0x00};
    EXPECT(nul, 4, HMQ_MQTT_E_MALFORMED);
}

static void test_subscribe_empty(void **state)
{
    (void)state;
    static const uint8_t sub4[] = {0x82, 0x02, 0x00, 0x01};
    EXPECT(sub4, 4, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t sub5[] = {0x82, 0x03, 0x00, 0x01, 0x00};
    EXPECT(sub5, 5, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t unsub4[] = {0xA2, 0x02, 0x00, 0x01};
    EXPECT(unsub4, 4, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t unsub5[] = {0xA2, 0x03, 0x00, 0x01, 0x00};
    EXPECT(unsub5, 5, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t suback[] = {0x90, 0x02, 0x00, 0x01};
    EXPECT(suback, 4, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t unsuback5[] = {0xB0, 0x03, 0x00, 0x01, 0x00};
    EXPECT(unsuback5, 5, HMQ_MQTT_E_PROTOCOL);
}

static void test_subscription_options(void **state)
{
    (void)state;
    static const struct {
        uint8_t version, opts;
        int expect;
    } cases[] = {
        {5, 0x40, HMQ_MQTT_E_MALFORMED}, /* reserved bits 6-7 [MQTT-3.8.3-5] */
        {5, 0x80, HMQ_MQTT_E_MALFORMED},
        {5, 0x03, HMQ_MQTT_E_PROTOCOL},  /* QoS 3 */
        {5, 0x30, HMQ_MQTT_E_PROTOCOL},  /* Retain Handling 3 */
        {5, 0x2E, 0},                    /* RH 2, RAP, NL, QoS 2 */
        {4, 0x03, HMQ_MQTT_E_MALFORMED}, /* QoS 3 [MQTT-3.8.3-4] */
        {4, 0x04, HMQ_MQTT_E_MALFORMED}, /* reserved bits in v3 */
        {4, 0x80, HMQ_MQTT_E_MALFORMED},
        {3, 0x10, HMQ_MQTT_E_MALFORMED},
        {4, 0x02, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tbuf_t body = {.n = 0}, pkt;
        tb_u16(&body, 1);
        if (cases[i].version == 5) tb_u8(&body, 0);
        tb_str(&body, "a/b");
        tb_u8(&body, cases[i].opts);
        tb_packet(&pkt, 0x82, &body);
        hmq_packet_t p;
        assert_int_equal(tb_decode(&pkt, cases[i].version, &p), cases[i].expect);
    }
    /* No Local on a shared subscription [MQTT-3.8.3-4]. */
    tbuf_t body = {.n = 0}, pkt;
    tb_u16(&body, 1);
    tb_u8(&body, 0);
    tb_str(&body, "$share/g/a");
    tb_u8(&body, 0x04);
    tb_packet(&pkt, 0x82, &body);
    hmq_packet_t p;
    assert_int_equal(tb_decode(&pkt, 5, &p), HMQ_MQTT_E_PROTOCOL);
    pkt.b[pkt.n - 1] = 0x00;
    assert_int_equal(tb_decode(&pkt, 5, &p), 0);
}

static void test_reason_codes(void **state)
{
    (void)state;
    static const uint8_t puback_bad[] = {0x40, 0x03, 0x00, 0x01, 0x05};
    EXPECT(puback_bad, 5, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t pubrel_bad[] = {0x62, 0x03, 0x00, 0x01, 0x10};
    EXPECT(pubrel_bad, 5, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t pubcomp_ok[] = {0x70, 0x03, 0x00, 0x01, 0x92};
    EXPECT(pubcomp_ok, 5, 0);
    static const uint8_t suback_bad[] = {0x90, 0x04, 0x00, 0x01, 0x00, 0x03};
    EXPECT(suback_bad, 5, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t suback3_bad[] = {0x90, 0x03, 0x00, 0x01, 0x87};
    EXPECT(suback3_bad, 4, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t unsuback_bad[] = {0xB0, 0x04, 0x00, 0x01, 0x00, 0x01};
    EXPECT(unsuback_bad, 5, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t disc_bad[] = {0xE0, 0x01, 0x05};
    EXPECT(disc_bad, 5, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t auth_bad[] = {0xF0, 0x01, 0x01};
    EXPECT(auth_bad, 5, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t connack3_bad[] = {0x20, 0x02, 0x00, 0x06};
    EXPECT(connack3_bad, 4, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t connack5_bad[] = {0x20, 0x03, 0x00, 0x01, 0x00};
    EXPECT(connack5_bad, 5, HMQ_MQTT_E_PROTOCOL);
    /* Session Present with a refusal [MQTT-3.2.2-4], [MQTT-3.2.2-6]. */
    static const uint8_t sp4[] = {0x20, 0x02, 0x01, 0x05};
    EXPECT(sp4, 4, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t sp5[] = {0x20, 0x03, 0x01, 0x87, 0x00};
    EXPECT(sp5, 5, HMQ_MQTT_E_PROTOCOL);
    /* Reserved CONNACK flag bits [MQTT-3.2.2-1]. */
    static const uint8_t ackflags[] = {0x20, 0x02, 0x02, 0x00};
    EXPECT(ackflags, 4, HMQ_MQTT_E_MALFORMED);
    EXPECT(ackflags, 3, 0); /* unused byte in 3.1 */
}

static void test_auth_method_required(void **state)
{
    (void)state;
    static const uint8_t cont_no_method[] = {0xF0, 0x01, 0x18};
    EXPECT(cont_no_method, 5, HMQ_MQTT_E_PROTOCOL);
    static const uint8_t data_only[] = {0xF0, 0x06, 0x18, 0x04, 0x16, 0x00, 0x01, 'x'};
    EXPECT(data_only, 5, HMQ_MQTT_E_PROTOCOL);
    /* Success with an empty property block is the bare form written out: no method needed. */
    static const uint8_t success_props[] = {0xF0, 0x02, 0x00, 0x00};
    EXPECT(success_props, 5, 0);
    static const uint8_t ok[] = {0xF0, 0x06, 0x18, 0x04, 0x15, 0x00, 0x01, 'M'};
    EXPECT(ok, 5, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remaining_length),       cmocka_unit_test(test_reserved_types),
        cmocka_unit_test(test_reserved_flags),         cmocka_unit_test(test_publish_flags),
        cmocka_unit_test(test_packet_id_zero),         cmocka_unit_test(test_connect_version),
        cmocka_unit_test(test_connect_flags),          cmocka_unit_test(test_connect_strings),
        cmocka_unit_test(test_connect_will),           cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_overlong_lengths),       cmocka_unit_test(test_publish_topic),
        cmocka_unit_test(test_publish_payload_format), cmocka_unit_test(test_filters),
        cmocka_unit_test(test_subscribe_empty),        cmocka_unit_test(test_subscription_options),
        cmocka_unit_test(test_reason_codes),           cmocka_unit_test(test_auth_method_required),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
