/* retained.h - the retained message store: topic -> last retained message.
 *
 * A trie over topic levels, so delivering retained messages to a wildcard subscription walks
 * only the matching branches, never every retained message. Written by any worker on a retained
 * PUBLISH, read by any worker on SUBSCRIBE; protected by an internal mutex (writes and subscribe
 * reads are rare compared with publishes, which never touch it unless RETAIN is set).
 */
#ifndef HMQ_RETAINED_H
#define HMQ_RETAINED_H

#include <stddef.h>
#include <stdint.h>

#include "core/message.h"

typedef struct hmq_retained hmq_retained_t;

hmq_retained_t *hmq_retained_new(void);
void hmq_retained_free(hmq_retained_t *r);

/* Set (msg with a payload: the store takes its own reference) or clear (msg NULL or empty
 * payload) the retained message of `topic`. A topic longer than 65535 bytes, or running out of
 * memory, leaves the store unchanged. */
void hmq_retained_set(hmq_retained_t *r, const char *topic, size_t len, hmq_msg_t *msg);

/* Call cb for every retained message whose topic matches `filter` ('+', '#'; topics starting
 * with '$' are not matched by a wildcard in the first level). Expired messages (now_ms) are
 * removed instead of reported. cb receives a borrowed message: take a reference to keep it.
 * The matches are collected under the lock and cb is called after it is released, so cb may
 * call back into the store (a message cleared meanwhile may still be reported once). If memory
 * for the collection runs out, the remaining matches are skipped. */
typedef void (*hmq_retained_cb)(void *ctx, hmq_msg_t *msg);
void hmq_retained_match(hmq_retained_t *r, const char *filter, size_t len, uint64_t now_ms,
                        hmq_retained_cb cb, void *ctx);

/* Number of retained messages, and their size: topic + properties + payload bytes. */
size_t hmq_retained_count(hmq_retained_t *r);
size_t hmq_retained_bytes(hmq_retained_t *r);
/* Number of trie nodes, the root excluded (0 once every message is cleared or expired). */
size_t hmq_retained_node_count(hmq_retained_t *r);

#endif
