/* events.h - the events spool: a bounded, thread-safe FIFO of encoded Events for one hook
 * server, cut into EventBatches that are kept until the server acknowledges them.
 *
 * Producers are broker threads (the gRPC provider's `event` op calls hmq_events_spool_push);
 * the consumer is that server's Events stream (next / ack / retry / rewind). The spool creates
 * no thread and no timer: it calls the notify function when something new can be sent, and the
 * transport asks hmq_events_spool_next_due_ms() when to come back for a retried batch.
 *
 * Transport loop, per server:
 *   on notify, on new credits, after rewind, when next_due_ms() has passed:
 *       while (credits && hmq_events_spool_next(s, &buf, &len, &seq) == 0) send(buf), credits--;
 *       arm a timer for hmq_events_spool_next_due_ms(s) if it is not 0
 *   EventAck.sequences -> ack, EventAck.retry_sequences -> retry, stream broken -> rewind.
 *
 * Bytes: every event held (pending, or in a batch not yet acknowledged) counts its encoded size
 * plus a small fixed overhead against max_bytes; an event that would exceed it is dropped (the
 * newest, never one already in a batch) and counted. From then on the spool refuses events
 * without encoding them until an acknowledgement frees bytes, so a full spool costs producers
 * one atomic load. Batch headers are not counted.
 */
#ifndef HMQ_EVENTS_H
#define HMQ_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hookmq/hooks.h"

typedef struct hmq_events_spool hmq_events_spool_t;

/* source_id: fixed for the spool's life, sent in every batch (node name + process start time);
 * copied. max_bytes 0 = 16 MiB, max_batch 0 = 500 events per batch. NULL on no memory. */
hmq_events_spool_t *hmq_events_spool_new(const char *source_id, size_t max_bytes,
                                         uint32_t max_batch);
void hmq_events_spool_free(hmq_events_spool_t *s);

/* Any thread; takes the lock only to link the event. Encodes ev as an Event (client as
 * ClientInfo with `node`, message with its payload only if want_payload, the detail for its
 * type, hook_ids copied; timestamp 0 = now) and appends it. false = dropped and counted: the
 * spool is full (see Bytes above), or no memory, or an unknown type. */
bool hmq_events_spool_push(hmq_events_spool_t *s, const hmq_hooks_event_t *ev,
                           const uint32_t *hook_ids, size_t n_ids, bool want_payload,
                           const char *node);

/* The next batch to send: the first unacknowledged batch due for a resend (rewound, or retried
 * and past its backoff), in sequence order; else a new batch of up to max_batch pending events,
 * with the next sequence number (from 1, never reused). *buf: the packed EventBatch, malloc'd,
 * the caller frees it. The batch is kept until acked. Returns 0 (a batch), 1 (nothing to send
 * now) or HMQ_HOOKS_ENOMEM (nothing taken; call again later). */
int hmq_events_spool_next(hmq_events_spool_t *s, uint8_t **buf, size_t *len, uint64_t *seq);
/* The server processed the batch: forget it and free its bytes. Unknown sequences are ignored. */
void hmq_events_spool_ack(hmq_events_spool_t *s, uint64_t seq);
/* The server asked for the batch again later: next() offers it after a backoff of 100 ms,
 * doubling per retry of that batch up to 5 s. Resends keep sequence order: a batch waits for
 * every lower one being resent. New batches are still cut meanwhile. */
void hmq_events_spool_retry(hmq_events_spool_t *s, uint64_t seq);
/* The stream broke: every unacknowledged batch is due for a resend at once, in sequence order. */
void hmq_events_spool_rewind(hmq_events_spool_t *s);

/* The server's HandshakeResponse.max_batch_size: batches cut from now on hold at most
 * min(n, the max_batch given at creation) events. 0 = back to the creation value. */
void hmq_events_spool_set_max_batch(hmq_events_spool_t *s, uint32_t n);

/* fn(arg) is called from the pushing thread, outside the lock, when a push makes the pending
 * queue non-empty (a new batch can be cut). It may be called when the transport cannot send
 * (no stream, no credits): the transport then just calls next() later. It must not call back
 * into push. fn NULL = none. */
void hmq_events_spool_set_notify(hmq_events_spool_t *s, void (*fn)(void *arg), void *arg);
/* When to call next() again for a retried batch: the hmq_hooks_now_ms() time at which the first
 * batch to resend stops waiting for its backoff, or 0 when none is waiting (nothing to resend,
 * or it is due already and next() returns it). */
uint64_t hmq_events_spool_next_due_ms(hmq_events_spool_t *s);

/* Lock-free reads, any thread. */
uint64_t hmq_events_spool_dropped(const hmq_events_spool_t *s); /* pushes that returned false */
size_t hmq_events_spool_bytes(const hmq_events_spool_t *s);     /* pending + unacked, counted */
size_t hmq_events_spool_unacked(const hmq_events_spool_t *s);   /* batches cut, not yet acked */
size_t hmq_events_spool_pending(const hmq_events_spool_t *s);   /* events not yet in a batch */

#endif
