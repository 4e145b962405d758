/* encode.c - encoding of every packet type, client and server direction (see mqtt.h).
 *
 * Each packet body is produced by one function that runs twice over a capped writer: first with
 * cap 0 to measure the Remaining Length, then into the caller's buffer, so measuring and writing
 * cannot disagree and nothing is written past cap. The delivery hot path has its own
 * hmq_mqtt_encode_publish_head(), which computes the sizes directly.
 */
#include "mqtt/mqtt_int.h"

static void put_props(hmq_wr_t *w, const hmq_props_t *p, uint8_t version)
{
    if (version == HMQ_MQTT_V5) hmq_mqtt_props_put(w, p);
}

static hmq_bytes_t cstr(const char *s, uint32_t n)
{
    hmq_bytes_t b = {(const uint8_t *)s, n};
    return b;
}

static int enc_connect(hmq_wr_t *w, const hmq_connect_t *c, uint8_t v)
{
    hmq_bytes_t name = c->protocol_name;
    if (!name.len) name = v == HMQ_MQTT_V31 ? cstr("MQIsdp", 6) : cstr("MQTT", 4);
    if (c->will_flag && c->will_qos > 2) return -1;
    uint8_t f = (uint8_t)((c->clean_start ? 0x02 : 0) | (c->has_password ? 0x40 : 0) |
                          (c->has_username ? 0x80 : 0));
    if (c->will_flag) f |= (uint8_t)(0x04 | c->will_qos << 3 | (c->will_retain ? 0x20 : 0));
    wr_bin(w, name);
    wr_u8(w, v);
    wr_u8(w, f);
    wr_u16(w, c->keepalive);
    put_props(w, &c->props, v);
    wr_bin(w, c->client_id);
    if (c->will_flag) {
        put_props(w, &c->will_props, v);
        wr_bin(w, c->will_topic);
        wr_bin(w, c->will_payload);
    }
    if (c->has_username) wr_bin(w, c->username);
    if (c->has_password) wr_bin(w, c->password);
    return HMQ_CONNECT << 4;
}

static int enc_connack(hmq_wr_t *w, const hmq_connack_t *c, uint8_t v)
{
    wr_u8(w, v == HMQ_MQTT_V31 ? 0 : c->session_present ? 1 : 0);
    wr_u8(w, c->code);
    put_props(w, &c->props, v);
    return HMQ_CONNACK << 4;
}

static int enc_publish(hmq_wr_t *w, const hmq_publish_t *p, uint8_t v)
{
    if (p->qos > 2) return -1;
    wr_bin(w, p->topic);
    if (p->qos) wr_u16(w, p->packet_id);
    put_props(w, &p->props, v);
    wr_bytes(w, p->payload.p, p->payload.len);
    /* DUP only with QoS > 0 [MQTT-3.3.1-2]. */
    return HMQ_PUBLISH << 4 | (p->qos && p->dup ? 8 : 0) | p->qos << 1 | (p->retain ? 1 : 0);
}

/* v5 PUBACK..PUBCOMP and DISCONNECT/AUTH: trailing Reason Code and properties are left out when
 * they are 0 / empty, as 3.4.2.1 and 3.14.2.1 allow. */
static void put_code_props(hmq_wr_t *w, uint8_t code, const hmq_props_t *props)
{
    bool has_props = hmq_mqtt_props_size(props) > 0;
    if (code || has_props) wr_u8(w, code);
    if (has_props) hmq_mqtt_props_put(w, props);
}

static int enc_ack(hmq_wr_t *w, uint8_t type, const hmq_ack_t *a, uint8_t v)
{
    wr_u16(w, a->packet_id);
    if (v == HMQ_MQTT_V5) put_code_props(w, a->code, &a->props);
    return type << 4 | (type == HMQ_PUBREL ? 2 : 0);
}

static int enc_sub(hmq_wr_t *w, uint8_t type, const hmq_subscribe_t *s, uint8_t v)
{
    wr_u16(w, s->packet_id);
    put_props(w, &s->props, v);
    wr_bytes(w, s->entries.p, s->entries.len);
    return type << 4 | 2;
}

static int enc_suback(hmq_wr_t *w, uint8_t type, const hmq_suback_t *s, uint8_t v)
{
    wr_u16(w, s->packet_id);
    if (type == HMQ_UNSUBACK && v < HMQ_MQTT_V5) return type << 4; /* packet id only */
    put_props(w, &s->props, v);
    if (v == HMQ_MQTT_V5) {
        wr_bytes(w, s->codes, s->count);
    } else {
        for (uint32_t i = 0; i < s->count; i++)
            wr_u8(w, s->codes[i] >= 0x80 ? 0x80 : s->codes[i]);
    }
    return type << 4;
}

static int enc_body(const hmq_packet_t *p, uint8_t v, hmq_wr_t *w)
{
    switch (p->type) {
    case HMQ_CONNECT:
        return enc_connect(w, &p->connect, v);
    case HMQ_CONNACK:
        return enc_connack(w, &p->connack, v);
    case HMQ_PUBLISH:
        return enc_publish(w, &p->publish, v);
    case HMQ_PUBACK:
    case HMQ_PUBREC:
    case HMQ_PUBREL:
    case HMQ_PUBCOMP:
        return enc_ack(w, p->type, &p->ack, v);
    case HMQ_SUBSCRIBE:
    case HMQ_UNSUBSCRIBE:
        return enc_sub(w, p->type, &p->subscribe, v);
    case HMQ_SUBACK:
    case HMQ_UNSUBACK:
        return enc_suback(w, p->type, &p->suback, v);
    case HMQ_PINGREQ:
    case HMQ_PINGRESP:
        return p->type << 4;
    case HMQ_DISCONNECT:
        if (v == HMQ_MQTT_V5) put_code_props(w, p->reason.code, &p->reason.props);
        return HMQ_DISCONNECT << 4;
    case HMQ_AUTH:
        if (v < HMQ_MQTT_V5) return -1;
        put_code_props(w, p->reason.code, &p->reason.props);
        return HMQ_AUTH << 4;
    default:
        return -1;
    }
}

size_t hmq_mqtt_encode(const hmq_packet_t *p, uint8_t version, uint8_t *out, size_t cap)
{
    if (!p || version < HMQ_MQTT_V31 || version > HMQ_MQTT_V5) return 0;
    hmq_wr_t m = {NULL, 0, 0, false};
    int b0 = enc_body(p, version, &m);
    if (b0 < 0 || m.bad || m.n > HMQ_MQTT_MAX_VARINT) return 0;
    size_t total = 1 + hmq_mqtt_varint_size((uint32_t)m.n) + m.n;
    if (!out || cap < total) return total;
    hmq_wr_t w = {out, cap, 0, false};
    wr_u8(&w, (uint8_t)b0);
    wr_varint(&w, m.n);
    enc_body(p, version, &w);
    return total;
}

size_t hmq_mqtt_encode_publish_head(const hmq_publish_t *pub, uint8_t version, size_t payload_len,
                                    uint8_t *out, size_t cap)
{
    if (pub->qos > 2 || pub->topic.len > 0xFFFF) return 0;
    size_t props = 0; /* Property Length and properties */
    const bool v5 = version == HMQ_MQTT_V5, no_props = hmq_mqtt_props_empty(&pub->props);
    if (v5 && no_props) {
        props = 1;
    } else if (v5) {
        hmq_wr_t m = {NULL, 0, 0, false};
        hmq_mqtt_props_put(&m, &pub->props);
        if (m.bad) return 0;
        props = m.n;
    }
    size_t vh = 2 + pub->topic.len + (pub->qos ? 2 : 0) + props;
    if (payload_len > HMQ_MQTT_MAX_VARINT || vh + payload_len > HMQ_MQTT_MAX_VARINT) return 0;
    size_t rl = vh + payload_len;
    size_t head = 1 + hmq_mqtt_varint_size((uint32_t)rl) + vh;
    if (!out || cap < head) return head;

    uint8_t *o = out;
    *o++ = (uint8_t)(HMQ_PUBLISH << 4 | (pub->qos && pub->dup ? 8 : 0) | pub->qos << 1 |
                     (pub->retain ? 1 : 0));
    o += hmq_mqtt_varint_write((uint32_t)rl, o);
    *o++ = (uint8_t)(pub->topic.len >> 8);
    *o++ = (uint8_t)pub->topic.len;
    if (pub->topic.len) memcpy(o, pub->topic.p, pub->topic.len);
    o += pub->topic.len;
    if (pub->qos) {
        *o++ = (uint8_t)(pub->packet_id >> 8);
        *o++ = (uint8_t)pub->packet_id;
    }
    if (v5 && no_props) {
        *o++ = 0;
    } else if (v5) {
        hmq_wr_t w = {o, props, 0, false};
        hmq_mqtt_props_put(&w, &pub->props);
        o += w.n;
    }
    return (size_t)(o - out);
}

size_t hmq_mqtt_sub_entry_write(hmq_bytes_t filter, const hmq_subopts_t *opts, uint8_t version,
                                uint8_t *out, size_t cap)
{
    if (filter.len > 0xFFFF) return 0;
    size_t n = 2 + (size_t)filter.len + (opts ? 1 : 0);
    if (!out || cap < n) return n;
    hmq_wr_t w = {out, cap, 0, false};
    wr_bin(&w, filter);
    if (opts) {
        uint8_t o = opts->qos & 3;
        if (version == HMQ_MQTT_V5)
            o |= (uint8_t)((opts->no_local ? 0x04 : 0) | (opts->retain_as_published ? 0x08 : 0) |
                           (opts->retain_handling & 3) << 4);
        wr_u8(&w, o);
    }
    return n;
}
