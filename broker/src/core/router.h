/* router.h - the message path after a PUBLISH is accepted: match the subscription index,
 * merge overlapping subscriptions per session, and deliver locally or via the owning worker's
 * mailbox. Also delivers retained messages on SUBSCRIBE.
 */
#ifndef HMQ_ROUTER_H
#define HMQ_ROUTER_H

#include <stdint.h>

#include "core/message.h"
#include "core/session.h"
#include "core/worker.h"

/* Route msg (published on worker w). Returns the number of sessions it was delivered to.
 * If one of them is congested and `congested` is given, *congested receives a reference to its
 * handle (or NULL): the publisher then pauses reading until it clears (conn.c). */
uint32_t hmq_route(hmq_worker_t *w, hmq_msg_t *msg, hmq_subscriber_t **congested);

/* Hand delivery records to their sessions on this worker (a mailbox batch). Records flagged
 * HMQ_DLV_MORE_ID add a subscription id to the record before them. */
void hmq_route_deliver_batch(hmq_worker_t *w, const hmq_delivery_t *items, uint32_t n);
/* Deliver one record to a session on worker `target` (this one, or through its mailbox). */
void hmq_route_send(hmq_worker_t *w, uint32_t target, const hmq_delivery_t *d);

/* Send the retained messages matching rec's filter to s (on SUBSCRIBE). */
void hmq_route_retained(hmq_session_t *s, const hmq_sub_rec_t *rec);

void hmq_router_scratch_free(hmq_worker_t *w);

#endif
