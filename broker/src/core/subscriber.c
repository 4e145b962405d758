/* subscriber.c - refcounted session handles referenced by the topic index (see subscriber.h).
 *
 * The public struct is embedded in a private box that also holds the rcu_head, so the header
 * does not depend on liburcu. The last unref defers the free by one RCU grace period.
 */
#include "core/subscriber.h"

#include <stdlib.h>
#include <urcu.h>

typedef struct {
    hmq_subscriber_t pub;
    struct rcu_head rcu;
} sub_box_t;

hmq_subscriber_t *hmq_subscriber_new(uint64_t uid, uint32_t worker)
{
    sub_box_t *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->pub.uid = uid;
    b->pub.worker = worker;
    atomic_init(&b->pub.online, false);
    atomic_init(&b->pub.refs, 1);
    return &b->pub;
}

hmq_subscriber_t *hmq_subscriber_ref(hmq_subscriber_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

static void subscriber_free_rcu(struct rcu_head *head)
{
    free(caa_container_of(head, sub_box_t, rcu));
}

void hmq_subscriber_unref(hmq_subscriber_t *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    call_rcu(&caa_container_of(s, sub_box_t, pub)->rcu, subscriber_free_rcu);
}
