/* store.h - the persistence interface: what a durable backend must record so that sessions,
 * their subscriptions, queued and in-flight QoS 1/2 messages and retained messages survive a
 * restart.
 *
 * Today the broker keeps all of this in memory (the session and retained structures ARE the
 * state), which is the "memory" store: hmq_store_memory() returns a store whose operations do
 * nothing. A RocksDB backend (ARCHITECTURE §7) implements the same operations: the core calls
 * them at the points listed per operation, each worker batches its calls of one loop turn and
 * calls commit() at the end of the turn (group commit), and load() replays the records into
 * sessions at start-up. Keys are client ids (sessions, subscriptions, queues), topic names
 * (retained); message bodies are written once and referenced by id from queue records.
 */
#ifndef HMQ_STORE_H
#define HMQ_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/message.h"

typedef struct hmq_store hmq_store_t;

typedef struct {
    const char *client_id;
    size_t id_len;
    uint32_t expiry_s;     /* session expiry interval */
    uint64_t expire_at_ms; /* wall clock, 0 while connected */
} hmq_store_session_t;

typedef struct {
    /* session created or its expiry changed (CONNECT, DISCONNECT) */
    int (*session_put)(hmq_store_t *st, const hmq_store_session_t *s);
    /* session ended (clean start, expiry, clean disconnect) - removes everything below too */
    int (*session_del)(hmq_store_t *st, const char *client_id, size_t id_len);
    /* SUBSCRIBE / UNSUBSCRIBE */
    int (*sub_put)(hmq_store_t *st, const char *client_id, size_t id_len, const char *filter,
                   size_t filter_len, uint8_t options, uint32_t sub_id);
    int (*sub_del)(hmq_store_t *st, const char *client_id, size_t id_len, const char *filter,
                   size_t filter_len);
    /* a QoS 1/2 message queued or in flight for a session (seq orders the queue); state:
     * 0 queued, 1 sent (PUBLISH), 2 PUBREL sent (QoS 2, message no longer needed) */
    int (*msg_put)(hmq_store_t *st, const char *client_id, size_t id_len, uint64_t seq,
                   const hmq_msg_t *msg, uint8_t qos, uint16_t pid, uint8_t state);
    int (*msg_del)(hmq_store_t *st, const char *client_id, size_t id_len, uint64_t seq);
    /* retained message set (msg) or cleared (NULL) */
    int (*retained_put)(hmq_store_t *st, const char *topic, size_t len, const hmq_msg_t *msg);
    /* end of a loop turn: make everything above durable (one write batch, optional fsync) */
    int (*commit)(hmq_store_t *st);
    void (*close)(hmq_store_t *st);
} hmq_store_ops_t;

struct hmq_store {
    const hmq_store_ops_t *ops;
    const char *name;
};

/* The in-memory store: every operation succeeds and records nothing. */
hmq_store_t *hmq_store_memory(void);

#endif
