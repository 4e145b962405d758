/* test_codec_util.h - helpers shared by the codec unit tests (tests/unit/test_codec_*.c):
 * a small byte builder for hand-made packets and encode/decode round-trip checks.
 */
#ifndef HMQ_TEST_CODEC_UTIL_H
#define HMQ_TEST_CODEC_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt/mqtt.h"

#define DECODE(arr, ver, pkt) hmq_mqtt_decode((arr), sizeof(arr), (ver), (pkt))

static inline hmq_bytes_t bs(const char *s)
{
    hmq_bytes_t b = {(const uint8_t *)s, (uint32_t)strlen(s)};
    return b;
}

static inline bool bytes_is(hmq_bytes_t b, const char *s)
{
    size_t n = strlen(s);
    return b.len == n && (n == 0 || memcmp(b.p, s, n) == 0);
}

#define assert_bytes(b, s) assert_true(bytes_is((b), (s)))

/* Byte builder. */
typedef struct {
    uint8_t b[8192];
    size_t n;
} tbuf_t;

static inline void tb_put(tbuf_t *t, const void *p, size_t n)
{
    assert_true(t->n + n <= sizeof t->b);
    memcpy(t->b + t->n, p, n);
    t->n += n;
}

static inline void tb_u8(tbuf_t *t, uint8_t v)
{
    tb_put(t, &v, 1);
}

static inline void tb_u16(tbuf_t *t, uint16_t v)
{
    tb_u8(t, (uint8_t)(v >> 8));
    tb_u8(t, (uint8_t)v);
}

static inline void tb_u32(tbuf_t *t, uint32_t v)
{
    tb_u16(t, (uint16_t)(v >> 16));
    tb_u16(t, (uint16_t)v);
}

static inline void tb_varint(tbuf_t *t, uint32_t v)
{
    uint8_t tmp[4];
    size_t n = hmq_mqtt_varint_write(v, tmp);
    tb_put(t, tmp, n);
}

/* Two Byte length + bytes. */
static inline void tb_str(tbuf_t *t, const char *s)
{
    tb_u16(t, (uint16_t)strlen(s));
    tb_put(t, s, strlen(s));
}

static inline void tb_strn(tbuf_t *t, const void *s, size_t n)
{
    tb_u16(t, (uint16_t)n);
    tb_put(t, s, n);
}

static inline void tb_tbuf(tbuf_t *t, const tbuf_t *o)
{
    tb_put(t, o->b, o->n);
}

/* Property Length + properties. */
static inline void tb_props(tbuf_t *t, const tbuf_t *props)
{
    tb_varint(t, (uint32_t)props->n);
    tb_tbuf(t, props);
}

/* A whole packet: fixed header byte, Remaining Length, body. */
static inline void tb_packet(tbuf_t *out, uint8_t b0, const tbuf_t *body)
{
    out->n = 0;
    tb_u8(out, b0);
    tb_varint(out, (uint32_t)body->n);
    tb_tbuf(out, body);
}

static inline int tb_decode(const tbuf_t *pkt, uint8_t version, hmq_packet_t *out)
{
    return hmq_mqtt_decode(pkt->b, pkt->n, version, out);
}

/* Encode p as version v: a measuring call and a real call agree, the result frames as one whole
 * packet, and a buffer one byte short is left untouched beyond its cap. */
static inline size_t encode_ok(const hmq_packet_t *p, uint8_t v, uint8_t *buf, size_t cap)
{
    size_t need = hmq_mqtt_encode(p, v, NULL, 0);
    assert_true(need >= 2);
    assert_true(need <= cap);
    memset(buf, 0xEE, cap);
    assert_int_equal(hmq_mqtt_encode(p, v, buf, need - 1), need);
    if (need < cap) assert_int_equal(buf[need - 1], 0xEE);
    size_t n = hmq_mqtt_encode(p, v, buf, cap);
    assert_int_equal(n, need);
    size_t plen = 0;
    assert_int_equal(hmq_mqtt_frame(buf, n, 0, &plen), 1);
    assert_int_equal(plen, n);
    return n;
}

/* Encode then decode; returns the decode result. */
static inline int roundtrip(const hmq_packet_t *p, uint8_t v, uint8_t *buf, size_t cap,
                            hmq_packet_t *out)
{
    size_t n = encode_ok(p, v, buf, cap);
    memset(out, 0x5A, sizeof *out);
    return hmq_mqtt_decode(buf, n, v, out);
}

#endif
