/* message.h - the immutable, reference-counted application message shared by every subscriber.
 *
 * One allocation holds topic, forwarded v5 properties and payload: one copy of the data no matter
 * how many sessions queue it. Per-subscriber state (packet id, granted QoS, flags) lives in the
 * session. Refcount is atomic: messages cross workers through mailboxes.
 */
#ifndef HMQ_MESSAGE_H
#define HMQ_MESSAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hmq_msg {
    atomic_uint refs;
    uint8_t qos; /* QoS it was published with */
    bool retain; /* RETAIN flag it was published with */
    uint16_t topic_len;
    uint32_t props_len; /* pre-encoded v5 properties forwarded to subscribers */
    uint32_t payload_len;
    uint64_t expiry_at_ms; /* wall clock (hmq_wall_ms) when it expires; 0 = never */
    uint64_t origin_uid;   /* publishing session's uid (no-local); 0 = broker ($SYS, will) */
    char *topic;           /* NUL terminated, points into data */
    uint8_t *props;        /* payload format, content type, response topic, correlation data,
                              user properties - never topic alias, sub ids or expiry */
    uint8_t *payload;
    uint8_t data[];
} hmq_msg_t;

hmq_msg_t *hmq_msg_new(const char *topic, size_t topic_len, const void *payload, size_t payload_len,
                       const void *props, size_t props_len, uint8_t qos, bool retain);
static inline hmq_msg_t *hmq_msg_ref(hmq_msg_t *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}
void hmq_msg_unref(hmq_msg_t *m);
/* Remaining expiry in seconds at `now_ms` (rounded up); 0 when expired. UINT32_MAX if none. */
uint32_t hmq_msg_remaining_s(const hmq_msg_t *m, uint64_t now_ms);
static inline bool hmq_msg_expired(const hmq_msg_t *m, uint64_t now_ms)
{
    return m->expiry_at_ms && now_ms >= m->expiry_at_ms;
}

/* Wall-clock milliseconds (CLOCK_REALTIME): expiry times survive a restart once persisted. */
uint64_t hmq_wall_ms(void);

#endif
