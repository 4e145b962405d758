/* props.c - MQTT 5 properties: decoding with per-packet validation, encoding, iteration.
 *
 * Decoding follows 2.2.2.2 and each packet's property section: an identifier not allowed in the
 * packet (or unknown) is a Malformed Packet; a property given twice (other than User Property,
 * and Subscription Identifier in PUBLISH) or a value out of range is a Protocol Error.
 */
#include "mqtt/mqtt_int.h"

#include <string.h>

enum { PT_NONE, PT_BYTE, PT_U16, PT_U32, PT_VARINT, PT_STR, PT_BIN, PT_PAIR };

#define PROP_MAX_ID 0x2A

static const uint8_t prop_type[PROP_MAX_ID + 1] = {
    [HMQ_PROP_PAYLOAD_FORMAT] = PT_BYTE,
    [HMQ_PROP_MESSAGE_EXPIRY] = PT_U32,
    [HMQ_PROP_CONTENT_TYPE] = PT_STR,
    [HMQ_PROP_RESPONSE_TOPIC] = PT_STR,
    [HMQ_PROP_CORRELATION_DATA] = PT_BIN,
    [HMQ_PROP_SUBSCRIPTION_ID] = PT_VARINT,
    [HMQ_PROP_SESSION_EXPIRY] = PT_U32,
    [HMQ_PROP_ASSIGNED_CLIENT_ID] = PT_STR,
    [HMQ_PROP_SERVER_KEEP_ALIVE] = PT_U16,
    [HMQ_PROP_AUTH_METHOD] = PT_STR,
    [HMQ_PROP_AUTH_DATA] = PT_BIN,
    [HMQ_PROP_REQUEST_PROBLEM_INFO] = PT_BYTE,
    [HMQ_PROP_WILL_DELAY] = PT_U32,
    [HMQ_PROP_REQUEST_RESPONSE_INFO] = PT_BYTE,
    [HMQ_PROP_RESPONSE_INFO] = PT_STR,
    [HMQ_PROP_SERVER_REFERENCE] = PT_STR,
    [HMQ_PROP_REASON_STRING] = PT_STR,
    [HMQ_PROP_RECEIVE_MAXIMUM] = PT_U16,
    [HMQ_PROP_TOPIC_ALIAS_MAXIMUM] = PT_U16,
    [HMQ_PROP_TOPIC_ALIAS] = PT_U16,
    [HMQ_PROP_MAXIMUM_QOS] = PT_BYTE,
    [HMQ_PROP_RETAIN_AVAILABLE] = PT_BYTE,
    [HMQ_PROP_USER_PROPERTY] = PT_PAIR,
    [HMQ_PROP_MAXIMUM_PACKET_SIZE] = PT_U32,
    [HMQ_PROP_WILDCARD_SUB_AVAILABLE] = PT_BYTE,
    [HMQ_PROP_SUB_ID_AVAILABLE] = PT_BYTE,
    [HMQ_PROP_SHARED_SUB_AVAILABLE] = PT_BYTE,
};

#define B(id) HMQ_PROP_BIT(HMQ_PROP_##id)
#define REASON_USER (B(REASON_STRING) | B(USER_PROPERTY))

/* Table 2-4: which properties each packet (index = packet type; 0 = will properties) may carry. */
static const uint64_t prop_allowed[16] = {
    [HMQ_PCTX_WILL] = B(WILL_DELAY) | B(PAYLOAD_FORMAT) | B(MESSAGE_EXPIRY) | B(CONTENT_TYPE) |
                      B(RESPONSE_TOPIC) | B(CORRELATION_DATA) | B(USER_PROPERTY),
    [HMQ_CONNECT] = B(SESSION_EXPIRY) | B(RECEIVE_MAXIMUM) | B(MAXIMUM_PACKET_SIZE) |
                    B(TOPIC_ALIAS_MAXIMUM) | B(REQUEST_RESPONSE_INFO) | B(REQUEST_PROBLEM_INFO) |
                    B(USER_PROPERTY) | B(AUTH_METHOD) | B(AUTH_DATA),
    [HMQ_CONNACK] = B(SESSION_EXPIRY) | B(RECEIVE_MAXIMUM) | B(MAXIMUM_QOS) | B(RETAIN_AVAILABLE) |
                    B(MAXIMUM_PACKET_SIZE) | B(ASSIGNED_CLIENT_ID) | B(TOPIC_ALIAS_MAXIMUM) |
                    B(REASON_STRING) | B(USER_PROPERTY) | B(WILDCARD_SUB_AVAILABLE) |
                    B(SUB_ID_AVAILABLE) | B(SHARED_SUB_AVAILABLE) | B(SERVER_KEEP_ALIVE) |
                    B(RESPONSE_INFO) | B(SERVER_REFERENCE) | B(AUTH_METHOD) | B(AUTH_DATA),
    [HMQ_PUBLISH] = B(PAYLOAD_FORMAT) | B(MESSAGE_EXPIRY) | B(TOPIC_ALIAS) | B(RESPONSE_TOPIC) |
                    B(CORRELATION_DATA) | B(USER_PROPERTY) | B(SUBSCRIPTION_ID) | B(CONTENT_TYPE),
    [HMQ_PUBACK] = REASON_USER,
    [HMQ_PUBREC] = REASON_USER,
    [HMQ_PUBREL] = REASON_USER,
    [HMQ_PUBCOMP] = REASON_USER,
    [HMQ_SUBSCRIBE] = B(SUBSCRIPTION_ID) | B(USER_PROPERTY),
    [HMQ_SUBACK] = REASON_USER,
    [HMQ_UNSUBSCRIBE] = B(USER_PROPERTY),
    [HMQ_UNSUBACK] = REASON_USER,
    [HMQ_DISCONNECT] = B(SESSION_EXPIRY) | B(SERVER_REFERENCE) | REASON_USER,
    [HMQ_AUTH] = B(AUTH_METHOD) | B(AUTH_DATA) | REASON_USER,
};

/* Read one property value of the given type without validating it. */
static int prop_read(hmq_rd_t *b, uint8_t type, uint32_t *num, hmq_bytes_t *s1, hmq_bytes_t *s2)
{
    uint8_t u8 = 0;
    uint16_t u16 = 0;
    int rc;
    switch (type) {
    case PT_BYTE:
        rc = rd_u8(b, &u8);
        *num = u8;
        return rc;
    case PT_U16:
        rc = rd_u16(b, &u16);
        *num = u16;
        return rc;
    case PT_U32:
        return rd_u32(b, num);
    case PT_VARINT:
        return rd_varint(b, num);
    case PT_STR:
    case PT_BIN:
        return rd_bin(b, s1);
    case PT_PAIR:
        rc = rd_bin(b, s1);
        return rc ? rc : rd_bin(b, s2);
    default:
        return HMQ_MQTT_E_MALFORMED;
    }
}

static int utf8_or_malformed(hmq_bytes_t s)
{
    return hmq_mqtt_utf8_valid(s.p, s.len) ? 0 : HMQ_MQTT_E_MALFORMED;
}

static int zero_one(uint32_t v, uint8_t *field)
{
    *field = (uint8_t)v;
    return v > 1 ? HMQ_MQTT_E_PROTOCOL : 0;
}

/* Validate and store one property already read into num / s1 / s2. */
static int prop_store(hmq_props_t *o, uint8_t id, uint32_t num, hmq_bytes_t s1, hmq_bytes_t s2)
{
    switch (id) {
    case HMQ_PROP_PAYLOAD_FORMAT:
        return zero_one(num, &o->payload_format);
    case HMQ_PROP_REQUEST_PROBLEM_INFO:
        return zero_one(num, &o->request_problem_info);
    case HMQ_PROP_REQUEST_RESPONSE_INFO:
        return zero_one(num, &o->request_response_info);
    case HMQ_PROP_MAXIMUM_QOS:
        return zero_one(num, &o->maximum_qos);
    case HMQ_PROP_RETAIN_AVAILABLE:
        return zero_one(num, &o->retain_available);
    case HMQ_PROP_WILDCARD_SUB_AVAILABLE:
        return zero_one(num, &o->wildcard_sub_available);
    case HMQ_PROP_SUB_ID_AVAILABLE:
        return zero_one(num, &o->sub_id_available);
    case HMQ_PROP_SHARED_SUB_AVAILABLE:
        return zero_one(num, &o->shared_sub_available);
    case HMQ_PROP_MESSAGE_EXPIRY:
        o->message_expiry = num;
        return 0;
    case HMQ_PROP_SESSION_EXPIRY:
        o->session_expiry = num;
        return 0;
    case HMQ_PROP_WILL_DELAY:
        o->will_delay = num;
        return 0;
    case HMQ_PROP_MAXIMUM_PACKET_SIZE:
        o->maximum_packet_size = num;
        return num ? 0 : HMQ_MQTT_E_PROTOCOL; /* 3.1.2.11.4, 3.2.2.3.6 */
    case HMQ_PROP_SERVER_KEEP_ALIVE:
        o->server_keep_alive = (uint16_t)num;
        return 0;
    case HMQ_PROP_RECEIVE_MAXIMUM:
        o->receive_maximum = (uint16_t)num;
        return num ? 0 : HMQ_MQTT_E_PROTOCOL; /* 3.1.2.11.3, 3.2.2.3.3 */
    case HMQ_PROP_TOPIC_ALIAS_MAXIMUM:
        o->topic_alias_maximum = (uint16_t)num;
        return 0;
    case HMQ_PROP_TOPIC_ALIAS:
        o->topic_alias = (uint16_t)num;
        return num ? 0 : HMQ_MQTT_E_TOPIC_ALIAS; /* 3.3.4: 0 is a Protocol Error, use 0x94 */
    case HMQ_PROP_SUBSCRIPTION_ID:
        if (num == 0) return HMQ_MQTT_E_PROTOCOL; /* 3.3.2.3.8, 3.8.2.1.2 */
        if (o->sub_id_count++ == 0) o->sub_id = num;
        return 0;
    case HMQ_PROP_CONTENT_TYPE:
        o->content_type = s1;
        return utf8_or_malformed(s1);
    case HMQ_PROP_RESPONSE_TOPIC: {
        /* A Topic Name: no wildcards, not empty [MQTT-3.3.2-14] - data not allowed, so 0x82. */
        o->response_topic = s1;
        int rc = hmq_mqtt_topic_name_check(s1.p, s1.len);
        return rc == HMQ_MQTT_E_TOPIC_NAME ? HMQ_MQTT_E_PROTOCOL : rc;
    }
    case HMQ_PROP_CORRELATION_DATA:
        o->correlation_data = s1;
        return 0;
    case HMQ_PROP_ASSIGNED_CLIENT_ID:
        o->assigned_client_id = s1;
        return utf8_or_malformed(s1);
    case HMQ_PROP_AUTH_METHOD:
        o->auth_method = s1;
        return utf8_or_malformed(s1);
    case HMQ_PROP_AUTH_DATA:
        o->auth_data = s1;
        return 0;
    case HMQ_PROP_RESPONSE_INFO:
        o->response_info = s1;
        return utf8_or_malformed(s1);
    case HMQ_PROP_SERVER_REFERENCE:
        o->server_reference = s1;
        return utf8_or_malformed(s1);
    case HMQ_PROP_REASON_STRING:
        o->reason_string = s1;
        return utf8_or_malformed(s1);
    case HMQ_PROP_USER_PROPERTY:
        if (o->user_count < UINT16_MAX) o->user_count++;
        if (utf8_or_malformed(s1)) return HMQ_MQTT_E_MALFORMED;
        return utf8_or_malformed(s2);
    default:
        return HMQ_MQTT_E_MALFORMED;
    }
}

int hmq_mqtt_props_decode(hmq_rd_t *r, uint8_t ctx, hmq_props_t *o)
{
    uint32_t len;
    hmq_mqtt_props_clear(o, r->p);
    int rc = rd_varint(r, &len);
    if (rc) return rc;
    if (len > rd_left(r)) return HMQ_MQTT_E_MALFORMED;
    o->raw.p = r->p;
    o->raw.len = len;
    hmq_rd_t b = {r->p, r->p + len};
    r->p += len;

    const uint64_t allowed = prop_allowed[ctx & 15];
    const uint64_t repeatable = B(USER_PROPERTY) | (ctx == HMQ_PUBLISH ? B(SUBSCRIPTION_ID) : 0);
    while (b.p < b.end) {
        /* Identifiers are Variable Byte Integers, but all defined ones fit in one byte; a byte
         * with the continuation bit is > 0x2A, so it fails the allowed check. */
        uint8_t id = *b.p++;
        if (id > PROP_MAX_ID || !(allowed >> id & 1)) return HMQ_MQTT_E_MALFORMED;
        const uint64_t bit = HMQ_PROP_BIT(id);
        if ((o->present & bit) && !(repeatable & bit)) return HMQ_MQTT_E_PROTOCOL;
        o->present |= bit;
        uint32_t num = 0;
        hmq_bytes_t s1 = {NULL, 0}, s2 = {NULL, 0};
        rc = prop_read(&b, prop_type[id], &num, &s1, &s2);
        if (rc) return rc;
        rc = prop_store(o, id, num, s1, s2);
        if (rc) return rc;
    }
    /* 3.1.2.11.10: Authentication Data without an Authentication Method is a Protocol Error. */
    if ((o->present & B(AUTH_DATA)) && !(o->present & B(AUTH_METHOD))) return HMQ_MQTT_E_PROTOCOL;
    return 0;
}

/* ---- Iteration over a raw block ------------------------------------------------------------ */

/* Advance *pos to the next property with identifier `want`; false at the end or on bad data. */
static bool raw_next(const hmq_props_t *props, uint32_t *pos, uint8_t want, uint32_t *num,
                     hmq_bytes_t *s1, hmq_bytes_t *s2)
{
    if (!props->raw.p || *pos >= props->raw.len) return false;
    hmq_rd_t b = {props->raw.p + *pos, props->raw.p + props->raw.len};
    while (b.p < b.end) {
        uint8_t id = *b.p++;
        if (id > PROP_MAX_ID || prop_type[id] == PT_NONE) break;
        if (prop_read(&b, prop_type[id], num, s1, s2)) break;
        if (id == want) {
            *pos = (uint32_t)(b.p - props->raw.p);
            return true;
        }
    }
    *pos = props->raw.len;
    return false;
}

bool hmq_props_user_next(const hmq_props_t *props, uint32_t *pos, hmq_bytes_t *key,
                         hmq_bytes_t *value)
{
    uint32_t num;
    return raw_next(props, pos, HMQ_PROP_USER_PROPERTY, &num, key, value);
}

bool hmq_props_sub_id_next(const hmq_props_t *props, uint32_t *pos, uint32_t *id)
{
    hmq_bytes_t s1, s2;
    return raw_next(props, pos, HMQ_PROP_SUBSCRIPTION_ID, id, &s1, &s2);
}

/* ---- Encoding ------------------------------------------------------------------------------ */

/* Properties written from fields (user properties come from raw, subscription ids are apart). */
#define FIELD_PROPS                                                                                \
    (B(PAYLOAD_FORMAT) | B(MESSAGE_EXPIRY) | B(CONTENT_TYPE) | B(RESPONSE_TOPIC) |                 \
     B(CORRELATION_DATA) | B(SESSION_EXPIRY) | B(ASSIGNED_CLIENT_ID) | B(SERVER_KEEP_ALIVE) |      \
     B(AUTH_METHOD) | B(AUTH_DATA) | B(REQUEST_PROBLEM_INFO) | B(WILL_DELAY) |                     \
     B(REQUEST_RESPONSE_INFO) | B(RESPONSE_INFO) | B(SERVER_REFERENCE) | B(REASON_STRING) |        \
     B(RECEIVE_MAXIMUM) | B(TOPIC_ALIAS_MAXIMUM) | B(TOPIC_ALIAS) | B(MAXIMUM_QOS) |               \
     B(RETAIN_AVAILABLE) | B(MAXIMUM_PACKET_SIZE) | B(WILDCARD_SUB_AVAILABLE) |                    \
     B(SUB_ID_AVAILABLE) | B(SHARED_SUB_AVAILABLE))

/* The value of field property `id`: a number or a byte string. */
static uint32_t field_value(const hmq_props_t *p, uint8_t id, hmq_bytes_t *s)
{
    switch (id) {
    case HMQ_PROP_PAYLOAD_FORMAT:
        return p->payload_format;
    case HMQ_PROP_MESSAGE_EXPIRY:
        return p->message_expiry;
    case HMQ_PROP_CONTENT_TYPE:
        *s = p->content_type;
        return 0;
    case HMQ_PROP_RESPONSE_TOPIC:
        *s = p->response_topic;
        return 0;
    case HMQ_PROP_CORRELATION_DATA:
        *s = p->correlation_data;
        return 0;
    case HMQ_PROP_SESSION_EXPIRY:
        return p->session_expiry;
    case HMQ_PROP_ASSIGNED_CLIENT_ID:
        *s = p->assigned_client_id;
        return 0;
    case HMQ_PROP_SERVER_KEEP_ALIVE:
        return p->server_keep_alive;
    case HMQ_PROP_AUTH_METHOD:
        *s = p->auth_method;
        return 0;
    case HMQ_PROP_AUTH_DATA:
        *s = p->auth_data;
        return 0;
    case HMQ_PROP_REQUEST_PROBLEM_INFO:
        return p->request_problem_info;
    case HMQ_PROP_WILL_DELAY:
        return p->will_delay;
    case HMQ_PROP_REQUEST_RESPONSE_INFO:
        return p->request_response_info;
    case HMQ_PROP_RESPONSE_INFO:
        *s = p->response_info;
        return 0;
    case HMQ_PROP_SERVER_REFERENCE:
        *s = p->server_reference;
        return 0;
    case HMQ_PROP_REASON_STRING:
        *s = p->reason_string;
        return 0;
    case HMQ_PROP_RECEIVE_MAXIMUM:
        return p->receive_maximum;
    case HMQ_PROP_TOPIC_ALIAS_MAXIMUM:
        return p->topic_alias_maximum;
    case HMQ_PROP_TOPIC_ALIAS:
        return p->topic_alias;
    case HMQ_PROP_MAXIMUM_QOS:
        return p->maximum_qos;
    case HMQ_PROP_RETAIN_AVAILABLE:
        return p->retain_available;
    case HMQ_PROP_MAXIMUM_PACKET_SIZE:
        return p->maximum_packet_size;
    case HMQ_PROP_WILDCARD_SUB_AVAILABLE:
        return p->wildcard_sub_available;
    case HMQ_PROP_SUB_ID_AVAILABLE:
        return p->sub_id_available;
    case HMQ_PROP_SHARED_SUB_AVAILABLE:
        return p->shared_sub_available;
    default:
        return 0;
    }
}

/* Write (or, with w->cap 0, measure) one property of `type`. */
static void put_prop(hmq_wr_t *w, uint8_t id, uint8_t type, uint32_t num, hmq_bytes_t s)
{
    wr_u8(w, id);
    switch (type) {
    case PT_BYTE:
        wr_u8(w, (uint8_t)num);
        break;
    case PT_U16:
        wr_u16(w, num & 0xFFFF);
        break;
    case PT_U32:
        wr_u16(w, num >> 16);
        wr_u16(w, num & 0xFFFF);
        break;
    case PT_VARINT:
        wr_varint(w, num);
        break;
    default:
        wr_bin(w, s);
        break;
    }
}

/* The user properties of a decoded block, copied entry by entry. */
static void put_raw_users(hmq_wr_t *w, const hmq_props_t *p)
{
    uint32_t pos = 0;
    hmq_bytes_t k = {NULL, 0}, v = {NULL, 0};
    while (hmq_props_user_next(p, &pos, &k, &v)) {
        /* The pair ends at pos: identifier, two length prefixes, key and value. */
        uint32_t size = 5 + k.len + v.len;
        wr_bytes(w, p->raw.p + pos - size, size);
    }
}

/* One pass over the properties in a fixed order; the same code measures and writes. */
static void put_props_body(hmq_wr_t *w, const hmq_props_t *p)
{
    uint64_t fields = p->present & FIELD_PROPS;
    while (fields) {
        uint8_t id = (uint8_t)__builtin_ctzll(fields);
        fields &= fields - 1;
        hmq_bytes_t s = {NULL, 0};
        uint32_t num = field_value(p, id, &s);
        put_prop(w, id, prop_type[id], num, s);
    }
    hmq_bytes_t none = {NULL, 0};
    if (p->sub_ids && p->sub_id_count) {
        for (uint32_t i = 0; i < p->sub_id_count; i++)
            put_prop(w, HMQ_PROP_SUBSCRIPTION_ID, PT_VARINT, p->sub_ids[i], none);
    } else if (p->present & B(SUBSCRIPTION_ID)) {
        put_prop(w, HMQ_PROP_SUBSCRIPTION_ID, PT_VARINT, p->sub_id, none);
    }
    if (p->raw_decoded)
        put_raw_users(w, p);
    else
        wr_bytes(w, p->raw.p, p->raw.len);
}

size_t hmq_mqtt_props_size(const hmq_props_t *props)
{
    if (hmq_mqtt_props_empty(props)) return 0;
    hmq_wr_t w = {NULL, 0, 0, false};
    put_props_body(&w, props);
    return w.n;
}

size_t hmq_mqtt_props_write(const hmq_props_t *props, uint8_t *out)
{
    if (hmq_mqtt_props_empty(props)) return 0;
    hmq_wr_t w = {out, SIZE_MAX, 0, false};
    put_props_body(&w, props);
    return w.n;
}

/* Internal: property length prefix and block, flagging values that cannot be encoded. */
void hmq_mqtt_props_put(hmq_wr_t *w, const hmq_props_t *props)
{
    if (hmq_mqtt_props_empty(props)) {
        wr_u8(w, 0);
        return;
    }
    hmq_wr_t m = {NULL, 0, 0, false};
    put_props_body(&m, props);
    wr_varint(w, m.n);
    if (m.bad) w->bad = true;
    put_props_body(w, props);
}
