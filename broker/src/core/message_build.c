/* message_build.c - see message_build.h. */
#include "core/message_build.h"

#include <stdlib.h>
#include <string.h>

/* Size of the forwarded property block. */
static size_t forwarded_size(const hmq_props_t *p, hmq_props_t *keep)
{
    const uint64_t fwd = HMQ_PROP_BIT(HMQ_PROP_PAYLOAD_FORMAT) | HMQ_PROP_BIT(HMQ_PROP_CONTENT_TYPE) |
                         HMQ_PROP_BIT(HMQ_PROP_RESPONSE_TOPIC) |
                         HMQ_PROP_BIT(HMQ_PROP_CORRELATION_DATA);
    memset(keep, 0, sizeof *keep);
    keep->present = p->present & fwd;
    keep->payload_format = p->payload_format;
    keep->content_type = p->content_type;
    keep->response_topic = p->response_topic;
    keep->correlation_data = p->correlation_data;
    size_t n = hmq_mqtt_props_size(keep);
    uint32_t pos = 0;
    hmq_bytes_t k, v;
    while (hmq_props_user_next(p, &pos, &k, &v)) n += 1 + 2 + k.len + 2 + v.len;
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
