/* message.c - allocation and release of shared messages (see message.h). */
#include "core/message.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

hmq_msg_t *hmq_msg_new(const char *topic, size_t topic_len, const void *payload, size_t payload_len,
                       const void *props, size_t props_len, uint8_t qos, bool retain)
{
    hmq_msg_t *m = malloc(sizeof *m + topic_len + 1 + props_len + payload_len);
    if (!m) return NULL;
    atomic_init(&m->refs, 1);
    m->qos = qos;
    m->retain = retain;
    m->topic_len = (uint16_t)topic_len;
    m->props_len = (uint32_t)props_len;
    m->payload_len = (uint32_t)payload_len;
    m->expiry_at_ms = 0;
    m->origin_uid = 0;
    m->topic = (char *)m->data;
    if (topic_len) memcpy(m->topic, topic, topic_len);
    m->topic[topic_len] = 0;
    m->props = m->data + topic_len + 1;
    if (props) memcpy(m->props, props, props_len); /* NULL: the caller writes them */
    m->payload = m->props + props_len;
    if (payload_len) memcpy(m->payload, payload, payload_len);
    return m;
}

void hmq_msg_unref(hmq_msg_t *m)
{
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) free(m);
}

uint32_t hmq_msg_remaining_s(const hmq_msg_t *m, uint64_t now_ms)
{
    if (!m->expiry_at_ms) return UINT32_MAX;
    if (now_ms >= m->expiry_at_ms) return 0;
    return (uint32_t)((m->expiry_at_ms - now_ms + 999) / 1000);
}

uint64_t hmq_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
