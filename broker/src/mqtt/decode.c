/* decode.c - framing and decoding of every packet except CONNECT/CONNACK (decode_connect.c).
 *
 * hmq_mqtt_frame() finds packet boundaries in a connection's input buffer; hmq_mqtt_decode()
 * validates one whole packet and fills an hmq_packet_t whose slices point into that buffer.
 * Error classes follow the specifications: structure that cannot be parsed (lengths, reserved
 * bits, QoS 3, bad UTF-8, unknown property) is MALFORMED; parseable data that is not allowed
 * (packet id 0, duplicate property, value out of range, unknown reason code, empty SUBSCRIBE) is
 * PROTOCOL; bad topic names/filters and payload-format mismatches get their own codes and are
 * reported only after the whole packet decoded.
 */
#include "mqtt/mqtt_int.h"

#include <string.h>

int hmq_mqtt_decode_connect(hmq_rd_t *r, uint8_t flags, hmq_connect_t *o);
int hmq_mqtt_decode_connack(hmq_rd_t *r, uint8_t version, hmq_connack_t *o);

int hmq_mqtt_frame(const uint8_t *buf, size_t len, uint32_t max_packet, size_t *pkt_len)
{
    *pkt_len = 0;
    uint32_t rl = 0;
    for (size_t i = 1; i <= 4; i++) {
        if (i >= len) return 0;
        uint8_t b = buf[i];
        rl |= (uint32_t)(b & 0x7F) << (7 * (i - 1));
        if (!(b & 0x80)) {
            size_t total = 1 + i + (size_t)rl;
            *pkt_len = total;
            if (max_packet && total > max_packet) return HMQ_MQTT_E_TOO_LARGE;
            return len >= total ? 1 : 0;
        }
    }
    return HMQ_MQTT_E_MALFORMED; /* a 5th length byte [MQTT-1.5.5] */
}

/* ---- Reason codes allowed per packet (v5) -------------------------------------------------- */

static const uint8_t rc_puback[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
static const uint8_t rc_pubrel[] = {0x00, 0x92};
static const uint8_t rc_suback[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                    0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
static const uint8_t rc_suback_v3[] = {0x00, 0x01, 0x02, 0x80};
static const uint8_t rc_unsuback[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
static const uint8_t rc_disconnect[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                                        0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                                        0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
static const uint8_t rc_auth[] = {0x00, 0x18, 0x19};

/* The sender MUST use one of the listed codes ([MQTT-3.4.2-1] etc.); anything else is data not
 * allowed by the protocol: a Protocol Error. */
static int rc_check(const uint8_t *set, size_t n, uint8_t code)
{
    return memchr(set, code, n) ? 0 : HMQ_MQTT_E_PROTOCOL;
}
#define RC_CHECK(set, code) rc_check(set, sizeof(set), code)

static int end_check(const hmq_rd_t *r)
{
    return r->p == r->end ? 0 : HMQ_MQTT_E_MALFORMED;
}

/* Packet Identifier, which must be non-zero [MQTT-2.2.1-3]. */
static int rd_packet_id(hmq_rd_t *r, uint16_t *id)
{
    int rc = rd_u16(r, id);
    if (rc) return rc;
    return *id ? 0 : HMQ_MQTT_E_PROTOCOL;
}

static void props_none(hmq_props_t *p, const hmq_rd_t *r)
{
    hmq_mqtt_props_clear(p, r->p);
}

/* ---- PUBLISH (hot path) --------------------------------------------------------------------- */

static int decode_publish(hmq_rd_t *r, uint8_t flags, uint8_t version, hmq_publish_t *o)
{
    const uint8_t qos = (flags >> 1) & 3;
    o->dup = flags & 8;
    o->qos = qos;
    o->retain = flags & 1;
    /* QoS 3 [MQTT-3.3.1-4]; DUP with QoS 0 [MQTT-3.3.1-2]: invalid fixed-header flags, which
     * 2.1.3 makes a Malformed Packet. */
    if (qos == 3 || (qos == 0 && (flags & 8))) return HMQ_MQTT_E_MALFORMED;
    int rc = rd_bin(r, &o->topic);
    if (rc) return rc;
    int topic_rc = hmq_mqtt_topic_name_check(o->topic.p, o->topic.len);
    if (topic_rc == HMQ_MQTT_E_MALFORMED) return topic_rc;
    o->packet_id = 0;
    if (qos) {
        rc = rd_packet_id(r, &o->packet_id);
        if (rc) return rc;
    }
    if (version == HMQ_MQTT_V5 && (r->p == r->end || *r->p != 0)) {
        rc = hmq_mqtt_props_decode(r, HMQ_PUBLISH, &o->props);
        if (rc) return rc;
    } else {
        if (version == HMQ_MQTT_V5) r->p++; /* Property Length 0: the common case */
        props_none(&o->props, r);
    }
    o->payload.p = r->p;
    o->payload.len = (uint32_t)rd_left(r);
    r->p = r->end;
    if (o->topic.len == 0) {
        /* v5: an empty name needs a Topic Alias (3.3.2.1: else a Protocol Error); the alias
         * mapping itself is the caller's. v3: names are at least one character [MQTT-4.7.3-1]. */
        if (version == HMQ_MQTT_V5)
            topic_rc =
                (o->props.present & HMQ_PROP_BIT(HMQ_PROP_TOPIC_ALIAS)) ? 0 : HMQ_MQTT_E_PROTOCOL;
    }
    if (topic_rc) return topic_rc;
    if ((o->props.present & HMQ_PROP_BIT(HMQ_PROP_PAYLOAD_FORMAT)) && o->props.payload_format &&
        !hmq_mqtt_utf8_check(o->payload.p, o->payload.len, true))
        return HMQ_MQTT_E_PAYLOAD_FORMAT;
    return 0;
}

/* ---- PUBACK, PUBREC, PUBREL, PUBCOMP ------------------------------------------------------- */

static int decode_ack(hmq_rd_t *r, uint8_t type, uint8_t version, hmq_ack_t *o)
{
    o->code = 0;
    props_none(&o->props, r);
    if (version < HMQ_MQTT_V5 && rd_left(r) != 2) return HMQ_MQTT_E_MALFORMED;
    int rc = rd_packet_id(r, &o->packet_id);
    if (rc) return rc;
    /* v5: Reason Code absent when the Remaining Length is 2, Property Length when it is < 4. */
    if (version < HMQ_MQTT_V5 || rd_left(r) == 0) return 0;
    rd_u8(r, &o->code);
    rc = (type == HMQ_PUBACK || type == HMQ_PUBREC) ? RC_CHECK(rc_puback, o->code)
                                                    : RC_CHECK(rc_pubrel, o->code);
    if (rc) return rc;
    if (rd_left(r) == 0) return 0;
    rc = hmq_mqtt_props_decode(r, type, &o->props);
    return rc ? rc : end_check(r);
}

/* ---- SUBSCRIBE, UNSUBSCRIBE ---------------------------------------------------------------- */

/* Check one subscription options byte (v5 3.8.3.1; v3.1.1 [MQTT-3.8.3-4]). */
static int subopts_check(uint8_t o, uint8_t version)
{
    if (version < HMQ_MQTT_V5) return (o & 0xFC) || (o & 3) == 3 ? HMQ_MQTT_E_MALFORMED : 0;
    if (o & 0xC0) return HMQ_MQTT_E_MALFORMED;           /* reserved bits [MQTT-3.8.3-5] */
    if ((o & 3) == 3) return HMQ_MQTT_E_PROTOCOL;        /* Maximum QoS 3 */
    if (((o >> 4) & 3) == 3) return HMQ_MQTT_E_PROTOCOL; /* Retain Handling 3 */
    return 0;
}

/* Both packets: packet id, properties, then filters (with an options byte for SUBSCRIBE). The
 * first invalid filter is remembered and reported once everything else proved valid. */
static int decode_sub(hmq_rd_t *r, uint8_t type, uint8_t version, hmq_subscribe_t *o)
{
    const bool sub = type == HMQ_SUBSCRIBE;
    o->count = 0;
    o->entries.p = NULL;
    o->entries.len = 0;
    props_none(&o->props, r);
    int rc = rd_packet_id(r, &o->packet_id);
    if (rc) return rc;
    if (version == HMQ_MQTT_V5) {
        rc = hmq_mqtt_props_decode(r, type, &o->props);
        if (rc) return rc;
    }
    o->entries.p = r->p;
    o->entries.len = (uint32_t)rd_left(r);
    int filter_rc = 0;
    while (r->p < r->end) {
        hmq_bytes_t f;
        uint8_t opts = 0;
        rc = rd_bin(r, &f);
        if (rc) return rc;
        if (sub) {
            rc = rd_u8(r, &opts);
            if (!rc) rc = subopts_check(opts, version);
            if (rc) return rc;
        }
        rc = hmq_mqtt_topic_filter_check(f.p, f.len);
        if (rc == HMQ_MQTT_E_MALFORMED) return rc;
        if (rc && !filter_rc) filter_rc = rc;
        /* No Local on a Shared Subscription is a Protocol Error [MQTT-3.8.3-4]. */
        hmq_bytes_t group, inner;
        if (!rc && (opts & 0x04) && version == HMQ_MQTT_V5 &&
            hmq_mqtt_shared_split(f, &group, &inner))
            return HMQ_MQTT_E_PROTOCOL;
        o->count++;
    }
    /* At least one filter [MQTT-3.8.3-2], [MQTT-3.10.3-2]. */
    if (o->count == 0) return HMQ_MQTT_E_PROTOCOL;
    return filter_rc;
}

bool hmq_subscribe_next(const hmq_subscribe_t *s, uint32_t *pos, hmq_bytes_t *filter,
                        hmq_subopts_t *opts)
{
    if (!s->entries.p || *pos >= s->entries.len) return false;
    hmq_rd_t r = {s->entries.p + *pos, s->entries.p + s->entries.len};
    uint8_t o;
    if (rd_bin(&r, filter) || rd_u8(&r, &o)) {
        *pos = s->entries.len;
        return false;
    }
    opts->qos = o & 3;
    opts->no_local = o & 0x04;
    opts->retain_as_published = o & 0x08;
    opts->retain_handling = (o >> 4) & 3;
    *pos = (uint32_t)(r.p - s->entries.p);
    return true;
}

bool hmq_unsubscribe_next(const hmq_subscribe_t *s, uint32_t *pos, hmq_bytes_t *filter)
{
    if (!s->entries.p || *pos >= s->entries.len) return false;
    hmq_rd_t r = {s->entries.p + *pos, s->entries.p + s->entries.len};
    if (rd_bin(&r, filter)) {
        *pos = s->entries.len;
        return false;
    }
    *pos = (uint32_t)(r.p - s->entries.p);
    return true;
}

/* ---- SUBACK, UNSUBACK ---------------------------------------------------------------------- */

static int decode_suback(hmq_rd_t *r, uint8_t type, uint8_t version, hmq_suback_t *o)
{
    o->codes = NULL;
    o->count = 0;
    props_none(&o->props, r);
    /* v3 UNSUBACK is the packet id alone. */
    if (type == HMQ_UNSUBACK && version < HMQ_MQTT_V5 && rd_left(r) != 2)
        return HMQ_MQTT_E_MALFORMED;
    int rc = rd_packet_id(r, &o->packet_id);
    if (rc) return rc;
    if (type == HMQ_UNSUBACK && version < HMQ_MQTT_V5) return 0;
    if (version == HMQ_MQTT_V5) {
        rc = hmq_mqtt_props_decode(r, type, &o->props);
        if (rc) return rc;
    }
    o->codes = r->p;
    o->count = (uint32_t)rd_left(r);
    r->p = r->end;
    if (o->count == 0) return HMQ_MQTT_E_PROTOCOL; /* one code per filter, at least one */
    for (uint32_t i = 0; i < o->count; i++) {
        uint8_t c = o->codes[i];
        if (type == HMQ_UNSUBACK)
            rc = RC_CHECK(rc_unsuback, c);
        else if (version == HMQ_MQTT_V5)
            rc = RC_CHECK(rc_suback, c);
        else
            rc = RC_CHECK(rc_suback_v3, c);
        if (rc) return rc;
    }
    return 0;
}

/* ---- DISCONNECT, AUTH ---------------------------------------------------------------------- */

static int decode_reason(hmq_rd_t *r, uint8_t type, uint8_t version, hmq_reason_t *o)
{
    o->code = 0;
    props_none(&o->props, r);
    if (version < HMQ_MQTT_V5) return end_check(r);
    /* Remaining Length 0: code 0 and no properties; 1: no Property Length (3.14.2.2.1). */
    if (rd_left(r) == 0) return 0;
    rd_u8(r, &o->code);
    int rc = type == HMQ_AUTH ? RC_CHECK(rc_auth, o->code) : RC_CHECK(rc_disconnect, o->code);
    if (rc) return rc;
    if (rd_left(r)) {
        rc = hmq_mqtt_props_decode(r, type, &o->props);
        if (rc) return rc;
        rc = end_check(r);
        if (rc) return rc;
    }
    /* AUTH: omitting the Authentication Method is a Protocol Error (3.15.2.2.2); only the bare
     * "success" form with Remaining Length 0 (or a lone code 0) carries none. */
    if (type == HMQ_AUTH && (o->code || o->props.raw.len) &&
        !(o->props.present & HMQ_PROP_BIT(HMQ_PROP_AUTH_METHOD)))
        return HMQ_MQTT_E_PROTOCOL;
    return 0;
}

/* ---- Dispatch ------------------------------------------------------------------------------ */

/* Required low nibble of the fixed header per type (PUBLISH carries its own flags). */
static const uint8_t fixed_flags[16] = {
    [HMQ_PUBREL] = 2, [HMQ_SUBSCRIBE] = 2, [HMQ_UNSUBSCRIBE] = 2};

int hmq_mqtt_decode(const uint8_t *pkt, size_t len, uint8_t version, hmq_packet_t *out)
{
    out->type = 0;
    out->flags = 0;
    if (!pkt || len < 2) return HMQ_MQTT_E_MALFORMED;
    hmq_rd_t r = {pkt + 1, pkt + len};
    uint32_t rl;
    if (rd_varint(&r, &rl) || rl != rd_left(&r)) return HMQ_MQTT_E_MALFORMED;
    const uint8_t type = pkt[0] >> 4, flags = pkt[0] & 0x0F;
    out->type = type;
    out->flags = flags;
    if (type == HMQ_CONNECT) return hmq_mqtt_decode_connect(&r, flags, &out->connect);
    if (version < HMQ_MQTT_V31 || version > HMQ_MQTT_V5) return HMQ_MQTT_E_PROTOCOL;
    if (type == HMQ_PUBLISH) return decode_publish(&r, flags, version, &out->publish);
    if (type == 0) return HMQ_MQTT_E_MALFORMED; /* reserved type */
    /* Reserved flags [MQTT-2.1.3-1]. MQTT 3.1 gave PUBREL/SUBSCRIBE/UNSUBSCRIBE QoS 1 plus a DUP
     * bit and left the others unused, so 3.1 connections are not held to them. */
    if (flags != fixed_flags[type] && version != HMQ_MQTT_V31) return HMQ_MQTT_E_MALFORMED;
    switch (type) {
    case HMQ_CONNACK:
        return hmq_mqtt_decode_connack(&r, version, &out->connack);
    case HMQ_PUBACK:
    case HMQ_PUBREC:
    case HMQ_PUBREL:
    case HMQ_PUBCOMP:
        return decode_ack(&r, type, version, &out->ack);
    case HMQ_SUBSCRIBE:
    case HMQ_UNSUBSCRIBE:
        return decode_sub(&r, type, version, &out->subscribe);
    case HMQ_SUBACK:
    case HMQ_UNSUBACK:
        return decode_suback(&r, type, version, &out->suback);
    case HMQ_PINGREQ:
    case HMQ_PINGRESP:
        return end_check(&r);
    case HMQ_DISCONNECT:
        return decode_reason(&r, type, version, &out->reason);
    case HMQ_AUTH:
        /* AUTH does not exist before v5: type 15 is reserved there. */
        if (version < HMQ_MQTT_V5) return HMQ_MQTT_E_MALFORMED;
        return decode_reason(&r, type, version, &out->reason);
    default:
        return HMQ_MQTT_E_MALFORMED;
    }
}
