/* decode_connect.c - CONNECT and CONNACK decoding for MQTT 3.1, 3.1.1 and 5.0.
 *
 * Called by hmq_mqtt_decode() (decode.c). CONNECT carries its own protocol level, so the
 * protocol name and level are stored first: when anything later fails, the caller still knows
 * which CONNACK format to answer with.
 */
#include "mqtt/mqtt_int.h"

#include <string.h>

int hmq_mqtt_decode_connect(hmq_rd_t *r, uint8_t flags, hmq_connect_t *o);
int hmq_mqtt_decode_connack(hmq_rd_t *r, uint8_t version, hmq_connack_t *o);

static bool bytes_is(hmq_bytes_t b, const char *s, size_t n)
{
    return b.len == n && memcmp(b.p, s, n) == 0;
}

/* Connect Flags (3.1.2.3): reserved bit, Will QoS/Retain consistency, password without user. */
static int connect_flags(hmq_connect_t *o, uint8_t cf)
{
    o->clean_start = cf & 0x02;
    o->will_flag = cf & 0x04;
    o->will_qos = (cf >> 3) & 3;
    o->will_retain = cf & 0x20;
    o->has_password = cf & 0x40;
    o->has_username = cf & 0x80;
    /* [MQTT-3.1.2-3]; MQTT 3.1 left bit 0 unused, so it is not checked there. */
    if ((cf & 0x01) && o->version != HMQ_MQTT_V31) return HMQ_MQTT_E_MALFORMED;
    if (o->will_qos == 3) return HMQ_MQTT_E_MALFORMED; /* [MQTT-3.1.2-12] */
    if (!o->will_flag && (o->will_qos || o->will_retain))
        return HMQ_MQTT_E_MALFORMED; /* [MQTT-3.1.2-11], [MQTT-3.1.2-13] */
    /* 3.1.1 [MQTT-3.1.2-22] (and 3.1): no password without a user name; v5 allows it. */
    if (o->version < HMQ_MQTT_V5 && o->has_password && !o->has_username)
        return HMQ_MQTT_E_MALFORMED;
    return 0;
}

/* Will Properties (v5), Will Topic, Will Payload. Returns a deferred HMQ_MQTT_E_TOPIC_NAME in
 * *deferred when the topic is well-formed UTF-8 but not a valid topic name. */
static int connect_will(hmq_rd_t *r, hmq_connect_t *o, int *deferred)
{
    int rc;
    if (o->version == HMQ_MQTT_V5) {
        rc = hmq_mqtt_props_decode(r, HMQ_PCTX_WILL, &o->will_props);
        if (rc) return rc;
    }
    rc = rd_bin(r, &o->will_topic);
    if (rc) return rc;
    rc = hmq_mqtt_topic_name_check(o->will_topic.p, o->will_topic.len);
    if (rc == HMQ_MQTT_E_MALFORMED) return rc;
    *deferred = rc;
    return rd_bin(r, &o->will_payload);
}

/* User Name and Password. Some MQTT 3.1 clients set the flags and then omit the fields; like
 * other brokers we clear the flag when the packet ends there (3.1 only). */
static int connect_credentials(hmq_rd_t *r, hmq_connect_t *o)
{
    const bool v31 = o->version == HMQ_MQTT_V31;
    int rc;
    if (o->has_username) {
        if (v31 && r->p == r->end) {
            o->has_username = false;
        } else {
            rc = rd_str(r, &o->username);
            if (rc) return rc;
        }
    }
    if (o->has_password) {
        if (v31 && r->p == r->end) {
            o->has_password = false;
        } else {
            rc = rd_bin(r, &o->password);
            if (rc) return rc;
        }
    }
    return 0;
}

int hmq_mqtt_decode_connect(hmq_rd_t *r, uint8_t flags, hmq_connect_t *o)
{
    memset(o, 0, sizeof *o);
    hmq_mqtt_props_clear(&o->props, r->p);
    hmq_mqtt_props_clear(&o->will_props, r->p);
    uint8_t level = 0, cf = 0;
    int rc = rd_bin(r, &o->protocol_name);
    if (!rc) rc = rd_u8(r, &level);
    if (rc) return rc;
    o->version = level;
    /* An unknown protocol name or level: the caller answers CONNACK 0x01 (v3) / 0x84 (v5)
     * [MQTT-3.1.2-1], [MQTT-3.1.2-2]. */
    const bool known = (bytes_is(o->protocol_name, "MQTT", 4) &&
                        (level == HMQ_MQTT_V311 || level == HMQ_MQTT_V5)) ||
                       (bytes_is(o->protocol_name, "MQIsdp", 6) && level == HMQ_MQTT_V31);
    if (!known) return HMQ_MQTT_E_VERSION;
    if (flags && level != HMQ_MQTT_V31) return HMQ_MQTT_E_MALFORMED; /* [MQTT-2.1.3-1] */
    rc = rd_u8(r, &cf);
    if (!rc) rc = connect_flags(o, cf);
    if (!rc) rc = rd_u16(r, &o->keepalive);
    if (!rc && level == HMQ_MQTT_V5) rc = hmq_mqtt_props_decode(r, HMQ_CONNECT, &o->props);
    /* The Client Identifier may be empty; whether that is accepted is the broker's decision. */
    if (!rc) rc = rd_str(r, &o->client_id);
    int deferred = 0;
    if (!rc && o->will_flag) rc = connect_will(r, o, &deferred);
    if (!rc) rc = connect_credentials(r, o);
    if (!rc && r->p != r->end) rc = HMQ_MQTT_E_MALFORMED;
    if (rc) return rc;
    if (deferred) return deferred;
    if ((o->will_props.present & HMQ_PROP_BIT(HMQ_PROP_PAYLOAD_FORMAT)) &&
        o->will_props.payload_format &&
        !hmq_mqtt_utf8_check(o->will_payload.p, o->will_payload.len, true))
        return HMQ_MQTT_E_PAYLOAD_FORMAT;
    return 0;
}

static const uint8_t rc_connack[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                     0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
                                     0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};

int hmq_mqtt_decode_connack(hmq_rd_t *r, uint8_t version, hmq_connack_t *o)
{
    o->session_present = false;
    o->code = 0;
    hmq_mqtt_props_clear(&o->props, r->p);
    if (version < HMQ_MQTT_V5 && rd_left(r) != 2) return HMQ_MQTT_E_MALFORMED;
    uint8_t ack;
    if (rd_u8(r, &ack) || rd_u8(r, &o->code)) return HMQ_MQTT_E_MALFORMED;
    if (version == HMQ_MQTT_V31) /* the first byte is unused in 3.1 */
        return o->code > HMQ_V3_REFUSED_NOT_AUTHORIZED ? HMQ_MQTT_E_PROTOCOL : 0;
    if (ack & 0xFE) return HMQ_MQTT_E_MALFORMED; /* reserved bits [MQTT-3.2.2-1] */
    o->session_present = ack & 1;
    /* No Session Present with a refusal: [MQTT-3.2.2-4] (3.1.1), [MQTT-3.2.2-6] (5.0). */
    if (o->session_present && o->code) return HMQ_MQTT_E_PROTOCOL;
    if (version == HMQ_MQTT_V311)
        return o->code > HMQ_V3_REFUSED_NOT_AUTHORIZED ? HMQ_MQTT_E_PROTOCOL : 0;
    if (!memchr(rc_connack, o->code, sizeof rc_connack)) return HMQ_MQTT_E_PROTOCOL;
    /* A server that does not speak v5 answers a v3 CONNACK (no Property Length): accept it. */
    if (rd_left(r) == 0) return 0;
    int rc = hmq_mqtt_props_decode(r, HMQ_CONNACK, &o->props);
    if (rc) return rc;
    return r->p == r->end ? 0 : HMQ_MQTT_E_MALFORMED;
}
