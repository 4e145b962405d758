/* subscriber.h - the small shared handle that names a session in the subscription index.
 *
 * The index is read by every worker, but a session belongs to one worker. Index entries therefore
 * point to this handle (refcounted, freed after an RCU grace period), never to the session itself:
 * a publisher's worker reads uid/worker/online from it and posts the delivery to that worker,
 * which resolves uid to its session (or drops the delivery if the session is gone).
 */
#ifndef HMQ_SUBSCRIBER_H
#define HMQ_SUBSCRIBER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct hmq_subscriber {
    uint64_t uid;       /* unique per session, never reused */
    uint32_t worker;    /* owning worker index (fixed for the session's life) */
    atomic_bool online; /* a connection is attached (shared subscriptions prefer online members) */
    atomic_bool congested; /* online, and its queue is above the high watermark: publishers
                              routing to it pause reading (backpressure, see router.c) */
    atomic_uint refs;
} hmq_subscriber_t;

hmq_subscriber_t *hmq_subscriber_new(uint64_t uid, uint32_t worker);
hmq_subscriber_t *hmq_subscriber_ref(hmq_subscriber_t *s);
/* Drops a reference; the last one frees the handle after an RCU grace period (call_rcu), so
 * readers inside rcu_read_lock() may still look at it. Like call_rcu, call it from a thread
 * registered with rcu_register_thread. NULL is ignored. */
void hmq_subscriber_unref(hmq_subscriber_t *s);

#endif
