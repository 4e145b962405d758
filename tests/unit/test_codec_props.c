/* test_codec_props.c - MQTT 5 properties: which packet may carry which property (Table 2-4),
 * duplicates, value ranges, decoded values, iteration and encoding (raw / decoded blocks).
 */
#include <stdlib.h>

#include "test_codec_util.h"

/* Packet contexts, as letters in the table below. */
enum {
    CX_WILL,
    CX_CONNECT,
    CX_CONNACK,
    CX_PUBLISH,
    CX_PUBACK,
    CX_PUBREC,
    CX_PUBREL,
    CX_PUBCOMP,
    CX_SUBSCRIBE,
    CX_SUBACK,
    CX_UNSUBSCRIBE,
    CX_UNSUBACK,
    CX_DISCONNECT,
    CX_AUTH,
    CX_COUNT
};

enum { T_BYTE, T_U16, T_U32, T_VARINT, T_STR, T_BIN, T_PAIR };

/* MQTT 5.0 Table 2-4, written out independently of the decoder's table. Contexts: W will,
 * C CONNECT, A CONNACK, P PUBLISH, K PUBACK/PUBREC/PUBREL/PUBCOMP, S SUBSCRIBE, s SUBACK,
 * U UNSUBSCRIBE, u UNSUBACK, D DISCONNECT, H AUTH. */
static const struct {
    uint8_t id, type;
    const char *where;
} spec[] = {
    {0x01, T_BYTE, "PW"},
    {0x02, T_U32, "PW"},
    {0x03, T_STR, "PW"},
    {0x08, T_STR, "PW"},
    {0x09, T_BIN, "PW"},
    {0x0B, T_VARINT, "PS"},
    {0x11, T_U32, "CAD"},
    {0x12, T_STR, "A"},
    {0x13, T_U16, "A"},
    {0x15, T_STR, "CAH"},
    {0x16, T_BIN, "CAH"},
    {0x17, T_BYTE, "C"},
    {0x18, T_U32, "W"},
    {0x19, T_BYTE, "C"},
    {0x1A, T_STR, "A"},
    {0x1C, T_STR, "AD"},
    {0x1F, T_STR, "AKsuDH"},
    {0x21, T_U16, "CA"},
    {0x22, T_U16, "CA"},
    {0x23, T_U16, "P"},
    {0x24, T_BYTE, "A"},
    {0x25, T_BYTE, "A"},
    {0x26, T_PAIR, "WCAPKSsUuDH"},
    {0x27, T_U32, "CA"},
    {0x28, T_BYTE, "A"},
    {0x29, T_BYTE, "A"},
    {0x2A, T_BYTE, "A"},
};

static const char cx_letter[CX_COUNT] = {'W', 'C', 'A', 'P', 'K', 'K', 'K',
                                         'K', 'S', 's', 'U', 'u', 'D', 'H'};

/* Append one property with a valid value (1 for numbers, "a" for strings). */
static void put_prop(tbuf_t *t, uint8_t id, uint8_t type)
{
    tb_u8(t, id);
    switch (type) {
    case T_BYTE:
        tb_u8(t, 1);
        break;
    case T_U16:
        tb_u16(t, 1);
        break;
    case T_U32:
        tb_u32(t, 1);
        break;
    case T_VARINT:
        tb_varint(t, 1);
        break;
    case T_PAIR:
        tb_str(t, "a");
        tb_str(t, "b");
        break;
    default:
        tb_str(t, "a");
        break;
    }
}

/* A v5 packet of context cx carrying the property block `pr`. */
static void build(tbuf_t *pkt, int cx, const tbuf_t *pr)
{
    tbuf_t b = {.n = 0};
    uint8_t b0 = 0;
    switch (cx) {
    case CX_WILL:
    case CX_CONNECT:
        tb_str(&b, "MQTT");
        tb_u8(&b, 5);
        tb_u8(&b, cx == CX_WILL ? 0x06 : 0x02);
        tb_u16(&b, 30);
        if (cx == CX_CONNECT)
            tb_props(&b, pr);
        else
            tb_u8(&b, 0);
        tb_str(&b, "c");
        if (cx == CX_WILL) {
            tb_props(&b, pr);
            tb_str(&b, "w");
            tb_str(&b, "x");
        }
        b0 = 0x10;
        break;
    case CX_CONNACK:
        tb_u8(&b, 0);
        tb_u8(&b, 0);
        tb_props(&b, pr);
        b0 = 0x20;
        break;
    case CX_PUBLISH:
        tb_str(&b, "a");
        tb_u16(&b, 1);
        tb_props(&b, pr);
        tb_put(&b, "x", 1);
        b0 = 0x32;
        break;
    case CX_PUBACK:
    case CX_PUBREC:
    case CX_PUBREL:
    case CX_PUBCOMP:
        tb_u16(&b, 1);
        tb_u8(&b, 0);
        tb_props(&b, pr);
        b0 = (uint8_t)((HMQ_PUBACK + cx - CX_PUBACK) << 4 | (cx == CX_PUBREL ? 2 : 0));
        break;
    case CX_SUBSCRIBE:
    case CX_UNSUBSCRIBE:
        tb_u16(&b, 1);
        tb_props(&b, pr);
        tb_str(&b, "a");
        if (cx == CX_SUBSCRIBE) tb_u8(&b, 0);
        b0 = cx == CX_SUBSCRIBE ? 0x82 : 0xA2;
        break;
    case CX_SUBACK:
    case CX_UNSUBACK:
        tb_u16(&b, 1);
        tb_props(&b, pr);
        tb_u8(&b, 0);
        b0 = cx == CX_SUBACK ? 0x90 : 0xB0;
        break;
    case CX_DISCONNECT:
    case CX_AUTH:
        tb_u8(&b, cx == CX_AUTH ? 0x18 : 0x00);
        tb_props(&b, pr);
        b0 = cx == CX_AUTH ? 0xF0 : 0xE0;
        break;
    }
    tb_packet(pkt, b0, &b);
}

/* Build and decode; the decoded slices point into *pkt. */
static int decode_with(int cx, const tbuf_t *pr, tbuf_t *pkt, hmq_packet_t *p)
{
    build(pkt, cx, pr);
    return tb_decode(pkt, 5, p);
}

/* The props struct a context decodes into. */
static const hmq_props_t *props_of(int cx, const hmq_packet_t *p)
{
    switch (cx) {
    case CX_WILL:
        return &p->connect.will_props;
    case CX_CONNECT:
        return &p->connect.props;
    case CX_CONNACK:
        return &p->connack.props;
    case CX_PUBLISH:
        return &p->publish.props;
    case CX_SUBSCRIBE:
    case CX_UNSUBSCRIBE:
        return &p->subscribe.props;
    case CX_SUBACK:
    case CX_UNSUBACK:
        return &p->suback.props;
    case CX_DISCONNECT:
    case CX_AUTH:
        return &p->reason.props;
    default:
        return &p->ack.props;
    }
}

/* Every property in every packet: accepted exactly where Table 2-4 allows it, else malformed
 * (2.2.2.2). AUTH always carries a method (required there). */
static void test_allowed_per_packet(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
        for (int cx = 0; cx < CX_COUNT; cx++) {
            tbuf_t pr = {.n = 0};
            if (cx == CX_AUTH && spec[i].id != HMQ_PROP_AUTH_METHOD) put_prop(&pr, 0x15, T_STR);
            if (spec[i].id == HMQ_PROP_AUTH_DATA && cx != CX_AUTH) put_prop(&pr, 0x15, T_STR);
            put_prop(&pr, spec[i].id, spec[i].type);
            hmq_packet_t p;
            tbuf_t pkt;
            int rc = decode_with(cx, &pr, &pkt, &p);
            bool allowed = strchr(spec[i].where, cx_letter[cx]) != NULL;
            if (rc != (allowed ? 0 : HMQ_MQTT_E_MALFORMED))
                fail_msg("property 0x%02X in context %c: got %d", spec[i].id, cx_letter[cx], rc);
            if (allowed) assert_true(props_of(cx, &p)->present & HMQ_PROP_BIT(spec[i].id));
        }
    }
    /* Identifiers that do not exist. */
    static const uint8_t unknown[] = {0x00, 0x04, 0x0A, 0x14, 0x20, 0x2B, 0x3F, 0x7F, 0x80, 0xFF};
    for (size_t i = 0; i < sizeof unknown; i++) {
        for (int cx = 0; cx < CX_COUNT; cx++) {
            tbuf_t pr = {.n = 0};
            tb_u8(&pr, unknown[i]);
            tb_u8(&pr, 0);
            hmq_packet_t p;
            tbuf_t pkt;
            assert_int_equal(decode_with(cx, &pr, &pkt, &p), HMQ_MQTT_E_MALFORMED);
        }
    }
}

/* A property given twice is a Protocol Error, except User Property (anywhere) and Subscription
 * Identifier in PUBLISH (server to client). */
static void test_duplicates(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
        for (int cx = 0; cx < CX_COUNT; cx++) {
            if (!strchr(spec[i].where, cx_letter[cx])) continue;
            tbuf_t pr = {.n = 0};
            if (cx == CX_AUTH && spec[i].id != 0x15) put_prop(&pr, 0x15, T_STR);
            if (spec[i].id == 0x16 && cx != CX_AUTH) put_prop(&pr, 0x15, T_STR);
            put_prop(&pr, spec[i].id, spec[i].type);
            put_prop(&pr, spec[i].id, spec[i].type);
            hmq_packet_t p;
            tbuf_t pkt;
            int rc = decode_with(cx, &pr, &pkt, &p);
            bool repeatable = spec[i].id == HMQ_PROP_USER_PROPERTY ||
                              (spec[i].id == HMQ_PROP_SUBSCRIPTION_ID && cx == CX_PUBLISH);
            if (rc != (repeatable ? 0 : HMQ_MQTT_E_PROTOCOL))
                fail_msg("duplicate 0x%02X in context %c: got %d", spec[i].id, cx_letter[cx], rc);
            if (repeatable && spec[i].id == HMQ_PROP_USER_PROPERTY)
                assert_int_equal(props_of(cx, &p)->user_count, 2);
        }
    }
}

/* Values outside the allowed range. */
static void test_value_ranges(void **state)
{
    (void)state;
    static const struct {
        int cx;
        uint8_t bytes[8];
        uint8_t len;
        int expect;
    } cases[] = {
        {CX_PUBLISH, {0x01, 0x02}, 2, HMQ_MQTT_E_PROTOCOL}, /* payload format 2 */
        {CX_WILL, {0x01, 0xFF}, 2, HMQ_MQTT_E_PROTOCOL},
        {CX_CONNECT, {0x17, 0x02}, 2, HMQ_MQTT_E_PROTOCOL}, /* request problem info */
        {CX_CONNECT, {0x17, 0x00}, 2, 0},
        {CX_CONNECT, {0x19, 0x02}, 2, HMQ_MQTT_E_PROTOCOL},       /* request response info */
        {CX_CONNECT, {0x21, 0x00, 0x00}, 3, HMQ_MQTT_E_PROTOCOL}, /* receive maximum 0 */
        {CX_CONNACK, {0x21, 0x00, 0x00}, 3, HMQ_MQTT_E_PROTOCOL},
        {CX_CONNECT, {0x27, 0, 0, 0, 0}, 5, HMQ_MQTT_E_PROTOCOL}, /* maximum packet size 0 */
        {CX_CONNACK, {0x27, 0, 0, 0, 0}, 5, HMQ_MQTT_E_PROTOCOL},
        {CX_CONNACK, {0x24, 0x02}, 2, HMQ_MQTT_E_PROTOCOL}, /* maximum QoS 2 */
        {CX_CONNACK, {0x24, 0x00}, 2, 0},
        {CX_CONNACK, {0x25, 0x02}, 2, HMQ_MQTT_E_PROTOCOL},          /* retain available */
        {CX_CONNACK, {0x28, 0x02}, 2, HMQ_MQTT_E_PROTOCOL},          /* wildcard sub available */
        {CX_CONNACK, {0x29, 0x02}, 2, HMQ_MQTT_E_PROTOCOL},          /* sub id available */
        {CX_CONNACK, {0x2A, 0x02}, 2, HMQ_MQTT_E_PROTOCOL},          /* shared sub available */
        {CX_PUBLISH, {0x23, 0x00, 0x00}, 3, HMQ_MQTT_E_TOPIC_ALIAS}, /* topic alias 0 */
        {CX_PUBLISH, {0x0B, 0x00}, 2, HMQ_MQTT_E_PROTOCOL},          /* subscription id 0 */
        {CX_SUBSCRIBE, {0x0B, 0x00}, 2, HMQ_MQTT_E_PROTOCOL},
        {CX_SUBSCRIBE, {0x0B, 0xFF, 0xFF, 0xFF, 0x7F}, 5, 0}, /* 268435455 */
        {CX_SUBSCRIBE, {0x0B, 0x80, 0x80, 0x80, 0x80, 0x01}, 6, HMQ_MQTT_E_MALFORMED},
        {CX_PUBLISH, {0x08, 0x00, 0x01, '#'}, 4, HMQ_MQTT_E_PROTOCOL}, /* response topic */
        {CX_WILL, {0x08, 0x00, 0x03, 'a', '/', '+'}, 6, HMQ_MQTT_E_PROTOCOL},
        {CX_PUBLISH, {0x08, 0x00, 0x00}, 3, HMQ_MQTT_E_PROTOCOL},
        {CX_CONNECT, {0x16, 0x00, 0x01, 'x'}, 4, HMQ_MQTT_E_PROTOCOL},   /* data, no method */
        {CX_PUBLISH, {0x03, 0x00, 0x01, 0x00}, 4, HMQ_MQTT_E_MALFORMED}, /* NUL in string */
        {CX_CONNACK, {0x1F, 0x00, 0x02, 0xC3, 0x28}, 5, HMQ_MQTT_E_MALFORMED},
        {CX_DISCONNECT, {0x26, 0x00, 0x01, 'k', 0x00, 0x01, 0xFF}, 7, HMQ_MQTT_E_MALFORMED},
        {CX_DISCONNECT, {0x26, 0x00, 0x01, 0xFF, 0x00, 0x00}, 6, HMQ_MQTT_E_MALFORMED},
        {CX_PUBLISH, {0x09, 0x00, 0x02, 0x00, 0xFF}, 5, 0}, /* correlation data is binary */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tbuf_t pr = {.n = 0};
        tb_put(&pr, cases[i].bytes, cases[i].len);
        hmq_packet_t p;
        tbuf_t pkt;
        int rc = decode_with(cases[i].cx, &pr, &pkt, &p);
        if (rc != cases[i].expect) fail_msg("case %zu: got %d", i, rc);
    }
}

/* Every CONNACK property decoded to its field, and a decode -> encode -> decode round trip. */
static void test_decoded_values(void **state)
{
    (void)state;
    tbuf_t pr = {.n = 0};
    tb_u8(&pr, 0x11), tb_u32(&pr, 0xFFFFFFFF);
    tb_u8(&pr, 0x21), tb_u16(&pr, 100);
    tb_u8(&pr, 0x24), tb_u8(&pr, 0);
    tb_u8(&pr, 0x25), tb_u8(&pr, 1);
    tb_u8(&pr, 0x27), tb_u32(&pr, 1048576);
    tb_u8(&pr, 0x12), tb_str(&pr, "auto-1");
    tb_u8(&pr, 0x22), tb_u16(&pr, 65535);
    tb_u8(&pr, 0x1F), tb_str(&pr, "welcome");
    tb_u8(&pr, 0x26), tb_str(&pr, "k1"), tb_str(&pr, "v1");
    tb_u8(&pr, 0x28), tb_u8(&pr, 0);
    tb_u8(&pr, 0x29), tb_u8(&pr, 1);
    tb_u8(&pr, 0x2A), tb_u8(&pr, 0);
    tb_u8(&pr, 0x13), tb_u16(&pr, 45);
    tb_u8(&pr, 0x1A), tb_str(&pr, "resp/");
    tb_u8(&pr, 0x1C), tb_str(&pr, "other:1883");
    tb_u8(&pr, 0x15), tb_str(&pr, "PLAIN");
    tb_u8(&pr, 0x16), tb_strn(&pr, "\x00\x01", 2);
    tb_u8(&pr, 0x26), tb_str(&pr, "k2"), tb_str(&pr, "");
    hmq_packet_t p, d;
    tbuf_t pkt;
    uint8_t buf[256]; /* the second round decodes from here */
    assert_int_equal(decode_with(CX_CONNACK, &pr, &pkt, &p), 0);
    for (int round = 0; round < 2; round++) {
        const hmq_props_t *x = &p.connack.props;
        assert_int_equal(x->session_expiry, 0xFFFFFFFF);
        assert_int_equal(x->receive_maximum, 100);
        assert_int_equal(x->maximum_qos, 0);
        assert_int_equal(x->retain_available, 1);
        assert_int_equal(x->maximum_packet_size, 1048576);
        assert_bytes(x->assigned_client_id, "auto-1");
        assert_int_equal(x->topic_alias_maximum, 65535);
        assert_bytes(x->reason_string, "welcome");
        assert_int_equal(x->wildcard_sub_available, 0);
        assert_int_equal(x->sub_id_available, 1);
        assert_int_equal(x->shared_sub_available, 0);
        assert_int_equal(x->server_keep_alive, 45);
        assert_bytes(x->response_info, "resp/");
        assert_bytes(x->server_reference, "other:1883");
        assert_bytes(x->auth_method, "PLAIN");
        assert_int_equal(x->auth_data.len, 2);
        assert_int_equal(x->user_count, 2);
        uint32_t pos = 0;
        hmq_bytes_t k, v;
        assert_true(hmq_props_user_next(x, &pos, &k, &v));
        assert_bytes(k, "k1");
        assert_bytes(v, "v1");
        assert_true(hmq_props_user_next(x, &pos, &k, &v));
        assert_bytes(k, "k2");
        assert_bytes(v, "");
        assert_false(hmq_props_user_next(x, &pos, &k, &v));
        if (round == 0) {
            size_t n = encode_ok(&p, 5, buf, sizeof buf);
            assert_int_equal(n, pr.n + 5);
            assert_int_equal(hmq_mqtt_decode(buf, n, 5, &d), 0);
            p = d;
        }
    }
}

/* Forwarding: a decoded block re-encoded writes the fields whose bits are set plus only the user
 * properties from raw; a zero-initialised block appends raw verbatim. */
static void test_encode_decoded_and_raw(void **state)
{
    (void)state;
    tbuf_t pr = {.n = 0};
    tb_u8(&pr, 0x26), tb_str(&pr, "a"), tb_str(&pr, "1");
    tb_u8(&pr, 0x23), tb_u16(&pr, 9);
    tb_u8(&pr, 0x01), tb_u8(&pr, 1);
    tb_u8(&pr, 0x26), tb_str(&pr, "b"), tb_str(&pr, "2");
    hmq_packet_t p;
    tbuf_t pkt;
    assert_int_equal(decode_with(CX_PUBLISH, &pr, &pkt, &p), 0);
    hmq_props_t fwd = p.publish.props;
    assert_true(fwd.raw_decoded);
    fwd.present &= ~HMQ_PROP_BIT(HMQ_PROP_TOPIC_ALIAS);
    uint8_t out[64];
    size_t n = hmq_mqtt_props_size(&fwd);
    assert_int_equal(hmq_mqtt_props_write(&fwd, out), n);
    static const uint8_t want[] = {0x01, 0x01, 0x26, 0x00, 0x01, 'a',  0x00, 0x01,
                                   '1',  0x26, 0x00, 0x01, 'b',  0x00, 0x01, '2'};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(out, want, sizeof want);

    /* Pre-encoded properties (as a broker stores them per message) appended verbatim after the
     * per-delivery fields; several subscription identifiers from an array. */
    hmq_props_t d;
    memset(&d, 0, sizeof d);
    d.present = HMQ_PROP_BIT(HMQ_PROP_MESSAGE_EXPIRY);
    d.message_expiry = 10;
    uint32_t ids[] = {1, 200};
    d.sub_ids = ids;
    d.sub_id_count = 2;
    d.raw.p = want;
    d.raw.len = sizeof want;
    n = hmq_mqtt_props_write(&d, out);
    assert_int_equal(n, hmq_mqtt_props_size(&d));
    static const uint8_t want2[] = {0x02, 0x00, 0x00, 0x00, 0x0A, 0x0B, 0x01, 0x0B, 0xC8, 0x01};
    assert_int_equal(n, sizeof want2 + sizeof want);
    assert_memory_equal(out, want2, sizeof want2);
    assert_memory_equal(out + sizeof want2, want, sizeof want);
    /* The user properties of such a block iterate too. */
    uint32_t pos = 0;
    hmq_bytes_t k, v;
    assert_true(hmq_props_user_next(&d, &pos, &k, &v));
    assert_bytes(k, "a");
    assert_true(hmq_props_user_next(&d, &pos, &k, &v));
    assert_bytes(v, "2");
    assert_false(hmq_props_user_next(&d, &pos, &k, &v));
    /* One identifier without the array. */
    memset(&d, 0, sizeof d);
    d.present = HMQ_PROP_BIT(HMQ_PROP_SUBSCRIPTION_ID);
    d.sub_id = 16384;
    assert_int_equal(hmq_mqtt_props_write(&d, out), 4);
    static const uint8_t want3[] = {0x0B, 0x80, 0x80, 0x01};
    assert_memory_equal(out, want3, 4);
    memset(&d, 0, sizeof d);
    assert_int_equal(hmq_mqtt_props_size(&d), 0);
    assert_int_equal(hmq_mqtt_props_write(&d, out), 0);
}

/* Iterators stop cleanly on garbage and on empty blocks. */
static void test_iterators_robust(void **state)
{
    (void)state;
    hmq_props_t d;
    memset(&d, 0, sizeof d);
    uint32_t pos = 0, id;
    hmq_bytes_t k, v;
    assert_false(hmq_props_user_next(&d, &pos, &k, &v));
    assert_false(hmq_props_sub_id_next(&d, &pos, &id));
    static const uint8_t junk[] = {0x26, 0x00, 0x05, 'a', 0x01, 0x01};
    d.raw.p = junk;
    d.raw.len = sizeof junk;
    pos = 0;
    assert_false(hmq_props_user_next(&d, &pos, &k, &v));
    static const uint8_t unknown[] = {0x7E, 0x26, 0x00, 0x00, 0x00, 0x00};
    d.raw.p = unknown;
    d.raw.len = sizeof unknown;
    pos = 0;
    assert_false(hmq_props_user_next(&d, &pos, &k, &v));
    hmq_subscribe_t s;
    memset(&s, 0, sizeof s);
    static const uint8_t cut[] = {0x00, 0x03, 'a'};
    s.entries.p = cut;
    s.entries.len = sizeof cut;
    hmq_subopts_t o;
    pos = 0;
    assert_false(hmq_subscribe_next(&s, &pos, &k, &o));
    pos = 0;
    assert_false(hmq_unsubscribe_next(&s, &pos, &k));
}

/* user_count saturates at 65535; iteration still returns every pair. */
static void test_many_user_properties(void **state)
{
    (void)state;
    const uint32_t count = 65537, props = count * 5;
    size_t cap = 16 + props;
    uint8_t *pkt = malloc(cap);
    assert_non_null(pkt);
    size_t n = 0;
    pkt[n++] = 0xE0;
    uint32_t rl = 1 + (uint32_t)hmq_mqtt_varint_size(props) + props;
    n += hmq_mqtt_varint_write(rl, pkt + n);
    pkt[n++] = 0x00;
    n += hmq_mqtt_varint_write(props, pkt + n);
    for (uint32_t i = 0; i < count; i++) {
        static const uint8_t empty_pair[] = {0x26, 0x00, 0x00, 0x00, 0x00};
        memcpy(pkt + n, empty_pair, 5);
        n += 5;
    }
    hmq_packet_t p;
    assert_int_equal(hmq_mqtt_decode(pkt, n, 5, &p), 0);
    assert_int_equal(p.reason.props.user_count, 65535);
    uint32_t pos = 0, seen = 0;
    hmq_bytes_t k, v;
    while (hmq_props_user_next(&p.reason.props, &pos, &k, &v))
        seen++;
    assert_int_equal(seen, count);
    free(pkt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_per_packet),     cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_value_ranges),           cmocka_unit_test(test_decoded_values),
        cmocka_unit_test(test_encode_decoded_and_raw), cmocka_unit_test(test_iterators_robust),
        cmocka_unit_test(test_many_user_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
