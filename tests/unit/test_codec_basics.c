/* test_codec_basics.c - codec building blocks: variable byte integers, framing of partial input,
 * UTF-8 validation, topic names and filters, $share/ parsing, error and type names.
 */
#include "test_codec_util.h"

static void test_varint(void **state)
{
    (void)state;
    static const struct {
        uint32_t v;
        uint8_t n;
        uint8_t b[4];
    } cases[] = {
        {0, 1, {0x00}},
        {127, 1, {0x7F}},
        {128, 2, {0x80, 0x01}},
        {16383, 2, {0xFF, 0x7F}},
        {16384, 3, {0x80, 0x80, 0x01}},
        {2097151, 3, {0xFF, 0xFF, 0x7F}},
        {2097152, 4, {0x80, 0x80, 0x80, 0x01}},
        {268435455, 4, {0xFF, 0xFF, 0xFF, 0x7F}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t out[4] = {0};
        assert_int_equal(hmq_mqtt_varint_size(cases[i].v), cases[i].n);
        assert_int_equal(hmq_mqtt_varint_write(cases[i].v, out), cases[i].n);
        assert_memory_equal(out, cases[i].b, cases[i].n);
    }
}

/* Feed a packet one byte at a time: 0 and pkt_len 0 until the Remaining Length is complete, then
 * 0 with the total size, then 1 once the last byte arrived. */
static void test_frame_partial(void **state)
{
    (void)state;
    uint8_t pkt[3 + 200];
    pkt[0] = 0x30;
    pkt[1] = 0x80 | (200 & 0x7F); /* 200 = 0x48 + 1 * 128 */
    pkt[2] = 0x01;
    for (int i = 0; i < 200; i++)
        pkt[3 + i] = (uint8_t)i;
    size_t plen = 99;
    assert_int_equal(hmq_mqtt_frame(pkt, 0, 0, &plen), 0);
    assert_int_equal(plen, 0);
    for (size_t have = 1; have <= sizeof pkt; have++) {
        int rc = hmq_mqtt_frame(pkt, have, 0, &plen);
        if (have < 3) {
            assert_int_equal(rc, 0);
            assert_int_equal(plen, 0);
        } else if (have < sizeof pkt) {
            assert_int_equal(rc, 0);
            assert_int_equal(plen, sizeof pkt);
        } else {
            assert_int_equal(rc, 1);
            assert_int_equal(plen, sizeof pkt);
        }
    }
    /* Extra bytes after the packet (the next one) do not change the answer. */
    uint8_t two[] = {0xC0, 0x00, 0xD0, 0x00};
    assert_int_equal(hmq_mqtt_frame(two, sizeof two, 0, &plen), 1);
    assert_int_equal(plen, 2);
}

static void test_frame_too_large_early(void **state)
{
    (void)state;
    /* Remaining Length 1000 announced in 3 bytes: too large for 512 before the body arrives. */
    uint8_t head[] = {0x30, 0xE8, 0x07};
    size_t plen = 0;
    assert_int_equal(hmq_mqtt_frame(head, 2, 512, &plen), 0); /* length not complete yet */
    assert_int_equal(hmq_mqtt_frame(head, 3, 512, &plen), HMQ_MQTT_E_TOO_LARGE);
    assert_int_equal(plen, 1003);
    /* Exactly at the limit is fine. */
    assert_int_equal(hmq_mqtt_frame(head, 3, 1003, &plen), 0);
    assert_int_equal(hmq_mqtt_frame(head, 3, 1002, &plen), HMQ_MQTT_E_TOO_LARGE);
    /* No limit: the protocol maximum, 268435455 + 5. */
    uint8_t max[] = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
    assert_int_equal(hmq_mqtt_frame(max, sizeof max, 0, &plen), 0);
    assert_int_equal(plen, 268435455u + 5);
}

static void test_frame_malformed_length(void **state)
{
    (void)state;
    uint8_t five[] = {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    size_t plen;
    assert_int_equal(hmq_mqtt_frame(five, 4, 0, &plen), 0); /* could still be valid */
    assert_int_equal(hmq_mqtt_frame(five, 5, 0, &plen), HMQ_MQTT_E_MALFORMED);
    assert_int_equal(hmq_mqtt_frame(five, sizeof five, 0, &plen), HMQ_MQTT_E_MALFORMED);
    /* A non-minimal encoding is accepted (0x80 0x00 = 0). */
    uint8_t nonmin[] = {0xC0, 0x80, 0x00};
    assert_int_equal(hmq_mqtt_frame(nonmin, sizeof nonmin, 0, &plen), 1);
    assert_int_equal(plen, 3);
    hmq_packet_t p;
    assert_int_equal(DECODE(nonmin, 4, &p), 0);
    assert_int_equal(p.type, HMQ_PINGREQ);
}

#define UTF8(lit, expect)                                                                          \
    assert_int_equal(hmq_mqtt_utf8_valid((const uint8_t *)(lit), sizeof(lit) - 1), (expect))

static void test_utf8(void **state)
{
    (void)state;
    UTF8("", true);
    UTF8("hello/world", true);
    UTF8("a long ascii string that spans several words", true);
    UTF8("\x7F", true);             /* U+007F (control, allowed) */
    UTF8("\x01\x1F", true);         /* C0 controls other than NUL are allowed */
    UTF8("\xC2\x80", true);         /* U+0080 */
    UTF8("\xDF\xBF", true);         /* U+07FF */
    UTF8("\xE0\xA0\x80", true);     /* U+0800 */
    UTF8("\xEF\xBF\xBF", true);     /* U+FFFF non-character: allowed */
    UTF8("\xEF\xBB\xBF", true);     /* U+FEFF */
    UTF8("\xF0\x90\x80\x80", true); /* U+10000 */
    UTF8("\xF4\x8F\xBF\xBF", true); /* U+10FFFF */
    UTF8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", true);
    UTF8("\x00", false);                 /* U+0000 [MQTT-1.5.4-2] */
    UTF8("abcdefgh\x00ijklmnop", false); /* NUL inside the 8-byte fast path */
    UTF8("abcdefg\x80hijklmnop", false); /* stray continuation byte in a chunk */
    UTF8("\xC0\x80", false);             /* overlong NUL */
    UTF8("\xC1\xBF", false);             /* overlong */
    UTF8("\xE0\x80\x80", false);         /* overlong 3-byte */
    UTF8("\xE0\x9F\xBF", false);         /* overlong 3-byte */
    UTF8("\xF0\x80\x80\x80", false);     /* overlong 4-byte */
    UTF8("\xF0\x8F\xBF\xBF", false);     /* overlong 4-byte */
    UTF8("\xED\xA0\x80", false);         /* U+D800 surrogate [MQTT-1.5.4-1] */
    UTF8("\xED\xBF\xBF", false);         /* U+DFFF surrogate */
    UTF8("\xF4\x90\x80\x80", false);     /* U+110000 */
    UTF8("\xF5\x80\x80\x80", false);
    UTF8("\xFF", false);
    UTF8("\xC3", false); /* truncated */
    UTF8("\xE2\x82", false);
    UTF8("\xF0\x9F\x98", false);
    UTF8("\xC3\x28", false); /* bad continuation */
    UTF8("\xE2\x28\xA1", false);
    UTF8("\xF0\x9F\x28\x80", false);
}

static void test_topic_name(void **state)
{
    (void)state;
    const char *ok[] = {
        "a", "/", "a/b/c", "/a", "a/", "//", "$SYS/broker", "sport/tennis player1", "caf\xC3\xA9"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_true(hmq_mqtt_topic_name_valid((const uint8_t *)ok[i], strlen(ok[i])));
    const char *bad[] = {"", "a/+", "+", "#", "a/#", "a+b", "a#"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(hmq_mqtt_topic_name_valid((const uint8_t *)bad[i], strlen(bad[i])));
    assert_false(hmq_mqtt_topic_name_valid((const uint8_t *)"a\0b", 3));
    assert_false(hmq_mqtt_topic_name_valid((const uint8_t *)"a\xC0\x80", 3));
    /* Names of every length up to 33, a bad byte at every position: the word-at-a-time scan and
     * its overlapping tail see all of them. */
    uint8_t name[40];
    for (size_t len = 1; len <= 33; len++) {
        memset(name, 'a', len);
        assert_true(hmq_mqtt_topic_name_valid(name, len));
        for (size_t pos = 0; pos < len; pos++) {
            static const uint8_t bad_bytes[] = {'+', '#', 0x00, 0xC3, 0x80, 0xFF};
            for (size_t b = 0; b < sizeof bad_bytes; b++) {
                name[pos] = bad_bytes[b];
                assert_false(hmq_mqtt_topic_name_valid(name, len));
            }
            name[pos] = '/';
            assert_true(hmq_mqtt_topic_name_valid(name, len));
            name[pos] = 'a';
        }
    }
}

static void test_topic_filter(void **state)
{
    (void)state;
    const char *ok[] = {"#",
                        "+",
                        "a",
                        "a/b",
                        "a/#",
                        "a/+",
                        "+/+",
                        "+/a/#",
                        "/+",
                        "/#",
                        "a//b",
                        "/",
                        "sport/+/player1",
                        "$SYS/#",
                        "$share/g/a/b",
                        "$share/g/#",
                        "$share/group1/+/x",
                        "$share/g//",
                        "$sharex/+",
                        "$share",
                        "a/$share/b",
                        "$share/g/$sharex",
                        "$share/g/$share"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_true(hmq_mqtt_topic_filter_valid((const uint8_t *)ok[i], strlen(ok[i])));
    const char *bad[] = {"",
                         "a#",
                         "a/#/b",
                         "#/a",
                         "a/b#",
                         "a+",
                         "+a",
                         "a/+b",
                         "a/b+/c",
                         "++",
                         "##",
                         "$share/",
                         "$share/g",
                         "$share/g/",
                         "$share//a",
                         "$share/g+/a",
                         "$share/g#/a",
                         "$share/+/a",
                         "$share/g/a#",
                         "$share/g/$share/h/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(hmq_mqtt_topic_filter_valid((const uint8_t *)bad[i], strlen(bad[i])));
    assert_false(hmq_mqtt_topic_filter_valid((const uint8_t *)"a/\0", 3));
    assert_false(hmq_mqtt_topic_filter_valid((const uint8_t *)"\xED\xA0\x80", 3));
}

static void test_shared_split(void **state)
{
    (void)state;
    hmq_bytes_t g, f;
    assert_true(hmq_mqtt_shared_split(bs("$share/grp/a/b/#"), &g, &f));
    assert_bytes(g, "grp");
    assert_bytes(f, "a/b/#");
    assert_true(hmq_mqtt_shared_split(bs("$share/g/#"), &g, &f));
    assert_bytes(g, "g");
    assert_bytes(f, "#");
    assert_false(hmq_mqtt_shared_split(bs("a/b"), &g, &f));
    assert_false(hmq_mqtt_shared_split(bs("$share"), &g, &f));
    assert_false(hmq_mqtt_shared_split(bs("$share/g"), &g, &f));
    assert_false(hmq_mqtt_shared_split(bs("$share//a"), &g, &f));
    assert_false(hmq_mqtt_shared_split(bs("$shared/g/a"), &g, &f));
    hmq_bytes_t empty = {NULL, 0};
    assert_false(hmq_mqtt_shared_split(empty, &g, &f));
}

static void test_err_rc(void **state)
{
    (void)state;
    assert_int_equal(hmq_mqtt_err_rc(HMQ_MQTT_OK), 0x00);
    assert_int_equal(hmq_mqtt_err_rc(HMQ_MQTT_E_MALFORMED), 0x81);
    assert_int_equal(hmq_mqtt_err_rc(HMQ_MQTT_E_PROTOCOL), 0x82);
    assert_int_equal(hmq_mqtt_err_rc(HMQ_MQTT_E_TOO_LARGE), 0x95);
    assert_int_equal(hmq_mqtt_err_rc(HMQ_MQTT_E_VERSION), 0x84);
    assert_int_equal(hmq_mqtt_err_rc(HMQ_MQTT_E_CLIENT_ID), 0x85);
    assert_int_equal(hmq_mqtt_err_rc(HMQ_MQTT_E_TOPIC_NAME), 0x90);
    assert_int_equal(hmq_mqtt_err_rc(HMQ_MQTT_E_TOPIC_FILTER), 0x8F);
    assert_int_equal(hmq_mqtt_err_rc(HMQ_MQTT_E_PAYLOAD_FORMAT), 0x99);
    assert_int_equal(hmq_mqtt_err_rc(HMQ_MQTT_E_TOPIC_ALIAS), 0x94);
    assert_int_equal(hmq_mqtt_err_rc(-1000), 0x80);
    for (int e = HMQ_MQTT_E_TOPIC_ALIAS; e <= 0; e++) {
        assert_non_null(hmq_mqtt_err_str(e));
        for (int e2 = e + 1; e2 <= 0; e2++)
            assert_string_not_equal(hmq_mqtt_err_str(e), hmq_mqtt_err_str(e2));
    }
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(hmq_mqtt_type_name(HMQ_CONNECT), "CONNECT");
    assert_string_equal(hmq_mqtt_type_name(HMQ_PUBLISH), "PUBLISH");
    assert_string_equal(hmq_mqtt_type_name(HMQ_UNSUBACK), "UNSUBACK");
    assert_string_equal(hmq_mqtt_type_name(HMQ_AUTH), "AUTH");
    assert_string_equal(hmq_mqtt_type_name(200), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_frame_partial),
        cmocka_unit_test(test_frame_too_large_early),
        cmocka_unit_test(test_frame_malformed_length),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_topic_name),
        cmocka_unit_test(test_topic_filter),
        cmocka_unit_test(test_shared_split),
        cmocka_unit_test(test_err_rc),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
