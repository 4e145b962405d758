/* message_build.c - see message_build.h. */
#include "core/message_build.h"

#include <stdlib.h>
#include <string.h>

/* Size of the forwarded property block. */
static size_t forwarded_size(const hmq_props_t *p, hmq_props_t *keep)
{
    const uint64_t fwd =
        HMQ_PROP_BIT(HMQ_PROP_PAYLOAD_FORMAT) | HMQ_PROP_BIT(HMQ_PROP_CONTENT_TYPE) |
        HMQ_PROP_BIT(HMQ_PROP_RESPONSE_TOPIC) | HMQ_PROP_BIT(HMQ_PROP_CORRELATION_DATA);
    memset(keep, 0, sizeof *keep);
    keep->present = p->present & fwd;
    keep->payload_format = p->payload_format;
    keep->content_type = p->content_type;
    keep->response_topic = p->response_topic;
    keep->correlation_data = p->correlation_data;
    size_t n = hmq_mqtt_props_size(keep);
    uint32_t pos = 0;
    hmq_bytes_t k, v;
    while (hmq_props_user_next(p, &pos, &k, &v))
        n += 1 + 2 + k.len + 2 + v.len;
    return n;
}

static uint8_t *put_str(uint8_t *o, hmq_bytes_t s)
{
    o[0] = (uint8_t)(s.len >> 8);
    o[1] = (uint8_t)s.len;
    if (s.len) memcpy(o + 2, s.p, s.len);
    return o + 2 + s.len;
}

hmq_msg_t *hmq_msg_build(hmq_bytes_t topic, hmq_bytes_t payload, const hmq_props_t *props,
                         uint8_t qos, bool retain, uint64_t now_wall_ms)
{
    hmq_props_t keep;
    size_t plen = props ? forwarded_size(props, &keep) : 0;
    hmq_msg_t *m = hmq_msg_new((const char *)topic.p, topic.len, payload.p, payload.len, NULL, plen,
                               qos, retain);
    if (!m) return NULL;
    if (props && (props->present & HMQ_PROP_BIT(HMQ_PROP_MESSAGE_EXPIRY)))
        m->expiry_at_ms = now_wall_ms + (uint64_t)props->message_expiry * 1000;
    if (!plen) return m;
    uint8_t *o = m->props + hmq_mqtt_props_write(&keep, m->props);
    uint32_t pos = 0;
    hmq_bytes_t k, v;
    while (hmq_props_user_next(props, &pos, &k, &v)) {
        *o++ = HMQ_PROP_USER_PROPERTY;
        o = put_str(o, k);
        o = put_str(o, v);
    }
    return m;
}

static hmq_bytes_t bytes_of(const void *p, size_t n)
{
    hmq_bytes_t b = {.p = (const uint8_t *)p, .len = (uint32_t)n};
    return b;
}

hmq_msg_t *hmq_msg_from_hook(const hmq_hooks_message_t *m, uint64_t received_wall_ms)
{
    hmq_props_t keep = {0};
    if (m->payload_format) {
        keep.present |= HMQ_PROP_BIT(HMQ_PROP_PAYLOAD_FORMAT);
        keep.payload_format = m->payload_format;
    }
    if (m->content_type && *m->content_type) {
        keep.present |= HMQ_PROP_BIT(HMQ_PROP_CONTENT_TYPE);
        keep.content_type = bytes_of(m->content_type, strlen(m->content_type));
    }
    if (m->response_topic && *m->response_topic) {
        keep.present |= HMQ_PROP_BIT(HMQ_PROP_RESPONSE_TOPIC);
        keep.response_topic = bytes_of(m->response_topic, strlen(m->response_topic));
    }
    if (m->has_correlation_data) {
        keep.present |= HMQ_PROP_BIT(HMQ_PROP_CORRELATION_DATA);
        keep.correlation_data = bytes_of(m->correlation_data, m->correlation_len);
    }
    size_t tlen = strlen(m->topic);
    if (tlen > 65535 || keep.content_type.len > 65535 || keep.response_topic.len > 65535 ||
        keep.correlation_data.len > 65535)
        return NULL;
    size_t plen = hmq_mqtt_props_size(&keep);
    for (size_t i = 0; i < m->n_user_properties; i++) {
        size_t kl = strlen(m->user_properties[i].key), vl = strlen(m->user_properties[i].value);
        if (kl > 65535 || vl > 65535) return NULL;
        plen += 1 + 2 + kl + 2 + vl;
    }
    hmq_msg_t *msg =
        hmq_msg_new(m->topic, tlen, m->payload, m->payload_len, NULL, plen, m->qos, m->retain);
    if (!msg) return NULL;
    if (m->has_message_expiry)
        msg->expiry_at_ms = received_wall_ms + (uint64_t)m->message_expiry_interval * 1000;
    uint8_t *o = msg->props + hmq_mqtt_props_write(&keep, msg->props);
    for (size_t i = 0; i < m->n_user_properties; i++) {
        *o++ = HMQ_PROP_USER_PROPERTY;
        const char *k = m->user_properties[i].key, *v = m->user_properties[i].value;
        o = put_str(o, bytes_of(k, strlen(k)));
        o = put_str(o, bytes_of(v, strlen(v)));
    }
    return msg;
}
