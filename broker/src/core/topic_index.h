/* topic_index.h - the one shared subscription index (topic filter -> subscribers).
 *
 * Read on every publish by every worker without locks (liburcu, memb flavour: readers use
 * rcu_read_lock; every thread that calls hmq_topic_index_match must be registered with
 * rcu_register_thread). Written on (un)subscribe under an internal mutex. Matching cost depends on
 * the topic's depth and the matching filters, not on the number of unrelated subscriptions.
 * Supports '+', '#', '$'-topics (not matched by '+' or '#' at the first level) and shared
 * subscriptions ($share/{group}/{filter}: one member per group gets each message, round robin
 * among online members).
 *
 * Every function except _new, _count and _node_count must be called from a thread registered
 * with rcu_register_thread (writers use the RCU read side and call_rcu too); _free only once no
 * other thread uses the index, outside any read-side section. Unlinked memory (nodes, entries,
 * the index's subscriber references) is reclaimed by call_rcu: call rcu_barrier() before
 * checking for leaks.
 */
#ifndef HMQ_TOPIC_INDEX_H
#define HMQ_TOPIC_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/subscriber.h"

typedef struct hmq_topic_index hmq_topic_index_t;

typedef struct {
    hmq_subscriber_t *sub; /* the index takes its own reference on add */
    uint8_t qos;           /* maximum QoS granted */
    bool no_local;
    bool retain_as_published;
    uint8_t retain_handling;
    uint32_t sub_id; /* v5 subscription identifier, 0 = none */
    uint32_t cookie; /* opaque to the index: the subscribing session's own reference to
                        this subscription (copied through to match callbacks) */
} hmq_sub_entry_t;

hmq_topic_index_t *hmq_topic_index_new(void);
void hmq_topic_index_free(hmq_topic_index_t *idx);

/* Add or replace the subscription of e->sub to `filter` (a full filter, possibly
 * "$share/group/inner"; already validated). Returns 1 if it is new, 0 if it replaced an existing
 * one (options updated), or a negative errno-style value (-ENOMEM). */
int hmq_topic_index_add(hmq_topic_index_t *idx, const char *filter, size_t len,
                        const hmq_sub_entry_t *e);
/* Remove sub's subscription to filter. Returns 0, or -ENOENT if it had none (or -ENOMEM when
 * the copy of a shared group's member array cannot be allocated; nothing is changed then). */
int hmq_topic_index_remove(hmq_topic_index_t *idx, const char *filter, size_t len,
                           hmq_subscriber_t *sub);

/* Called once per matching non-shared entry (so a subscriber with overlapping filters is reported
 * once per filter), and once per matching shared group with the member chosen for this message.
 * `group` is NULL for non-shared entries, else the group name (not NUL terminated, group_len). */
typedef void (*hmq_topic_match_cb)(void *ctx, const hmq_sub_entry_t *e, const char *group,
                                   size_t group_len);
/* Match a topic name. Takes the RCU read lock itself. Safe from any registered thread. */
void hmq_topic_index_match(hmq_topic_index_t *idx, const char *topic, size_t len,
                           hmq_topic_match_cb cb, void *ctx);

/* Choose another member of a shared group for a message whose member left; excludes `not`.
 * Returns false when the group has no other member. On success *out is a copy of the entry
 * (its sub pointer is valid only inside the caller's RCU read-side section, or after taking a
 * reference inside it). */
bool hmq_topic_index_pick_shared(hmq_topic_index_t *idx, const char *filter, size_t len,
                                 hmq_subscriber_t * not, hmq_sub_entry_t *out);

/* Number of subscriptions (entries) in the index. */
size_t hmq_topic_index_count(hmq_topic_index_t *idx);
/* Number of trie nodes, the root excluded: 0 again once every subscription is removed. */
size_t hmq_topic_index_node_count(hmq_topic_index_t *idx);

/* Seeded 64-bit hash of a topic level (MurmurHash64A), and a random seed for it; also used by
 * the retained store. Not cryptographic: the random seed only makes collisions harder to aim. */
uint64_t hmq_topic_hash(uint64_t seed, const void *data, size_t len);
uint64_t hmq_topic_hash_seed(void);

#endif
