/* route_test.h - helpers shared by the test_route_* unit tests: a collector of index matches.
 *
 * Included by tests/unit/test_route_*.c after the cmocka headers.
 */
#ifndef HMQ_ROUTE_TEST_H
#define HMQ_ROUTE_TEST_H

#include <string.h>
#include <urcu.h>

#include "core/topic_index.h"

#define HITS_MAX 256

typedef struct {
    uint64_t uid;
    uint8_t qos;
    uint32_t sub_id;
    char group[32]; /* "" when not shared */
} hit_t;

typedef struct {
    hit_t v[HITS_MAX];
    size_t n;
} hits_t;

static inline void hits_collect(void *ctx, const hmq_sub_entry_t *e, const char *group, size_t glen)
{
    hits_t *h = ctx;
    assert_true(h->n < HITS_MAX);
    hit_t *x = &h->v[h->n++];
    x->uid = e->sub->uid;
    x->qos = e->qos;
    x->sub_id = e->sub_id;
    assert_true(glen < sizeof x->group);
    memcpy(x->group, group ? group : "", group ? glen : 0);
    x->group[group ? glen : 0] = 0;
}

static inline size_t hits_match(hmq_topic_index_t *idx, const char *topic, hits_t *h)
{
    h->n = 0;
    hmq_topic_index_match(idx, topic, strlen(topic), hits_collect, h);
    return h->n;
}

/* How many hits have this uid (and this group, when group is not NULL). */
static inline size_t hits_count(const hits_t *h, uint64_t uid, const char *group)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].uid == uid && (!group || strcmp(h->v[i].group, group) == 0)) n++;
    return n;
}

static inline int route_add(hmq_topic_index_t *idx, const char *filter, hmq_subscriber_t *s,
                            uint8_t qos, uint32_t sub_id)
{
    hmq_sub_entry_t e = {.sub = s, .qos = qos, .sub_id = sub_id};
    return hmq_topic_index_add(idx, filter, strlen(filter), &e);
}

static inline int route_remove(hmq_topic_index_t *idx, const char *filter, hmq_subscriber_t *s)
{
    return hmq_topic_index_remove(idx, filter, strlen(filter), s);
}

static inline unsigned refs_of(hmq_subscriber_t *s)
{
    return atomic_load(&s->refs);
}

static inline int route_group_setup(void **state)
{
    (void)state;
    rcu_register_thread();
    return 0;
}

static inline int route_group_teardown(void **state)
{
    (void)state;
    rcu_barrier(); /* run pending call_rcu frees before LeakSanitizer looks */
    rcu_unregister_thread();
    return 0;
}

#endif
