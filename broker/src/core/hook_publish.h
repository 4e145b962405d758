/* hook_publish.h - PUBLISH through the hooks: authorize (when no grant decides) and on_publish,
 * asynchronously and in arrival order per connection.
 *
 * Called by conn_publish.c. A publish that needs a hook (or arrives while earlier ones of the
 * same connection still wait) is held in the connection's FIFO; each hold is decided by its
 * hook answers; holds leave the FIFO only from its head, so deliveries and acknowledgements keep
 * the client's order. When more than hooks.max_inflight_per_connection publishes wait, the
 * connection stops reading (backpressure; nothing is lost).
 */
#ifndef HMQ_HOOK_PUBLISH_H
#define HMQ_HOOK_PUBLISH_H

#include <stdbool.h>

#include "core/conn.h"
#include "core/message.h"

/* Hold `msg` (reference taken over). authorize: ask the authorize hooks first; on_publish: then
 * the on_publish hooks. Neither: it only waits for its turn. */
void hmq_hook_publish_hold(hmq_conn_t *c, const hmq_publish_t *pub, hmq_msg_t *msg, bool authorize,
                           bool on_publish);

/* A refused publish behind held ones: its acknowledgement (code) waits for its turn. */
void hmq_hook_publish_refuse(hmq_conn_t *c, const hmq_publish_t *pub, uint8_t code);

/* Whether any on_publish hook wants this topic from this connection. */
bool hmq_hook_publish_wanted(hmq_conn_t *c, const char *topic);

/* The connection closes: held publishes are dropped unacknowledged (QoS 1/2 come again from
 * the client) and their QoS 2 receive state is forgotten so the resend is routed. */
void hmq_hook_publish_abort(hmq_conn_t *c);

/* Publishes one connection may have waiting for hooks before its input pauses. */
uint32_t hmq_hook_publish_window(const hmq_conn_t *c);

#endif
