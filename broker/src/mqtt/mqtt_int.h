/* mqtt_int.h - internals shared by the codec's .c files: a bounds-checked reader over a packet,
 * a capped writer, the property decoder and the topic checks that tell malformed UTF-8 apart
 * from a bad topic. Not part of the public API: everything outside mqtt/ includes mqtt.h.
 */
#ifndef HMQ_MQTT_INT_H
#define HMQ_MQTT_INT_H

#include "mqtt/mqtt.h"

#include <string.h>

#define HMQ_MQTT_MAX_VARINT 268435455u

/* Reader: p advances towards end; every read checks the bounds first. */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} hmq_rd_t;

static inline size_t rd_left(const hmq_rd_t *r)
{
    return (size_t)(r->end - r->p);
}

static inline int rd_u8(hmq_rd_t *r, uint8_t *v)
{
    if (r->p >= r->end) return HMQ_MQTT_E_MALFORMED;
    *v = *r->p++;
    return 0;
}

static inline int rd_u16(hmq_rd_t *r, uint16_t *v)
{
    if (rd_left(r) < 2) return HMQ_MQTT_E_MALFORMED;
    *v = (uint16_t)(r->p[0] << 8 | r->p[1]);
    r->p += 2;
    return 0;
}

static inline int rd_u32(hmq_rd_t *r, uint32_t *v)
{
    if (rd_left(r) < 4) return HMQ_MQTT_E_MALFORMED;
    *v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    return 0;
}

/* Variable byte integer: at most 4 bytes (a 5th is malformed); non-minimal forms are accepted. */
static inline int rd_varint(hmq_rd_t *r, uint32_t *v)
{
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        if (r->p >= r->end) return HMQ_MQTT_E_MALFORMED;
        uint8_t b = *r->p++;
        x |= (uint32_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return HMQ_MQTT_E_MALFORMED;
}

/* Two Byte length followed by that many bytes (Binary Data; also the body of a string). */
static inline int rd_bin(hmq_rd_t *r, hmq_bytes_t *b)
{
    if (rd_left(r) < 2) return HMQ_MQTT_E_MALFORMED;
    uint32_t n = (uint32_t)(r->p[0] << 8 | r->p[1]);
    if (rd_left(r) - 2 < n) return HMQ_MQTT_E_MALFORMED;
    b->p = r->p + 2;
    b->len = n;
    r->p += 2 + n;
    return 0;
}

/* UTF-8 Encoded String: ill-formed UTF-8 or U+0000 is a Malformed Packet [MQTT-1.5.4-1/-2]. */
static inline int rd_str(hmq_rd_t *r, hmq_bytes_t *b)
{
    int rc = rd_bin(r, b);
    if (rc) return rc;
    return hmq_mqtt_utf8_valid(b->p, b->len) ? 0 : HMQ_MQTT_E_MALFORMED;
}

/* Writer: bytes beyond cap are counted but not stored, so a pass with cap 0 measures. */
typedef struct {
    uint8_t *out;
    size_t cap;
    size_t n;
    bool bad; /* a field cannot be encoded (too long) */
} hmq_wr_t;

static inline void wr_u8(hmq_wr_t *w, uint8_t v)
{
    if (w->n < w->cap) w->out[w->n] = v;
    w->n++;
}

static inline void wr_u16(hmq_wr_t *w, uint32_t v)
{
    if (v > 0xFFFF) w->bad = true;
    wr_u8(w, (uint8_t)(v >> 8));
    wr_u8(w, (uint8_t)v);
}

static inline void wr_bytes(hmq_wr_t *w, const void *p, size_t n)
{
    if (n && w->cap >= n && w->n <= w->cap - n) memcpy(w->out + w->n, p, n);
    w->n += n;
}

/* Two Byte length prefixed string or binary data. */
static inline void wr_bin(hmq_wr_t *w, hmq_bytes_t b)
{
    wr_u16(w, b.len);
    wr_bytes(w, b.p, b.len);
}

static inline void wr_varint(hmq_wr_t *w, size_t v)
{
    if (v > HMQ_MQTT_MAX_VARINT) {
        w->bad = true;
        v = 0;
    }
    do {
        uint8_t b = v & 0x7F;
        v >>= 7;
        wr_u8(w, (uint8_t)(b | (v ? 0x80 : 0)));
    } while (v);
}

/* Property block context for hmq_mqtt_props_decode: a packet type, or this for will properties. */
#define HMQ_PCTX_WILL 0

/* Reset a property struct before decoding (only `present` decides what else is meaningful). */
static inline void hmq_mqtt_props_clear(hmq_props_t *p, const uint8_t *at)
{
    p->present = 0;
    p->sub_ids = NULL;
    p->sub_id_count = 0;
    p->sub_id = 0;
    p->user_count = 0;
    p->raw.p = at;
    p->raw.len = 0;
    p->raw_decoded = true;
}

/* Nothing to encode: the common case on the hot path. */
static inline bool hmq_mqtt_props_empty(const hmq_props_t *p)
{
    return !p->present && !p->raw.len && !(p->sub_ids && p->sub_id_count);
}

/* Read a Property Length and the block after it; validate ids allowed in ctx, duplicates, value
 * ranges and UTF-8. Fills `out` (cleared first). */
int hmq_mqtt_props_decode(hmq_rd_t *r, uint8_t ctx, hmq_props_t *out);
/* Write a Property Length and the block (sets w->bad when a value cannot be encoded). */
void hmq_mqtt_props_put(hmq_wr_t *w, const hmq_props_t *props);

/* Well-formed UTF-8; U+0000 allowed only when allow_nul (payloads with payload format 1). */
bool hmq_mqtt_utf8_check(const uint8_t *s, size_t len, bool allow_nul);

/* 0, HMQ_MQTT_E_MALFORMED (bad UTF-8 / U+0000) or HMQ_MQTT_E_TOPIC_NAME (empty, wildcard). */
int hmq_mqtt_topic_name_check(const uint8_t *s, size_t len);
/* 0, HMQ_MQTT_E_MALFORMED (bad UTF-8 / U+0000) or HMQ_MQTT_E_TOPIC_FILTER (syntax). */
int hmq_mqtt_topic_filter_check(const uint8_t *s, size_t len);

#endif
