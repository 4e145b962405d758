/* auth.h - client authentication and authorization in the broker, on top of the hook engine
 * (hooks/include/hookmq/hooks.h): the asynchronous Authenticate step of CONNECT, and the grants
 * it returned, enforced on PUBLISH and SUBSCRIBE with no further call.
 *
 * Called by conn_connect.c (start), conn_publish.c / conn_subscribe.c (grants), conn.c (cancel
 * on close) and broker.c / worker.c (engine life cycle). A worker never waits: the CONNECT is
 * kept aside, reading pauses, and the answer arrives on the worker's loop.
 */
#ifndef HMQ_AUTH_H
#define HMQ_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conn.h"
#include "hookmq/hooks.h"

/* Engine life cycle (broker.c, worker.c). */
int hmq_auth_engine_start(hmq_broker_t *b, uv_loop_t *home);
void hmq_auth_engine_close(hmq_broker_t *b);

/* CONNECT: true when an Authenticate call was started (the caller stops; the connection
 * continues from the answer), false when no hook is configured or the client was already
 * authenticated. `client_id` is the effective one (assigned, or from the certificate); `packet`
 * is the whole CONNECT packet (copied). */
bool hmq_auth_start(hmq_conn_t *c, const hmq_connect_t *k, hmq_bytes_t client_id,
                    const uint8_t *packet, size_t len);
/* MQTT 5 enhanced authentication: the client's AUTH packet (answering a challenge). */
void hmq_auth_on_auth_packet(hmq_conn_t *c, const hmq_reason_t *r);
/* CONNACK properties of an enhanced authentication (method, final data). */
void hmq_auth_connack_props(const hmq_conn_t *c, hmq_props_t *ack);

/* The connection closes while its call is in flight. */
void hmq_auth_cancel(hmq_conn_t *c);
/* Release what the connection holds (grants, username). */
void hmq_auth_release(hmq_conn_t *c);

/* The connection's identity as hooks see it (kept from CONNECT when a hook engine runs), or
 * NULL. */
const hmq_hooks_client_t *hmq_auth_client(const hmq_conn_t *c);
void hmq_ident_release(hmq_conn_t *c);

/* hmq_auth_check's answer "no grant decides: ask the authorize hooks" (they may not exist:
 * then a connection without grants is allowed, one with fallthrough grants refused). */
#define HMQ_AUTH_ASK 1

/* Grants: may this connection publish to / subscribe to `topic`? Returns 0 (allowed; for a
 * subscription *qos may be lowered), HMQ_AUTH_ASK, or the reason code to refuse with. */
uint8_t hmq_auth_check(hmq_conn_t *c, hmq_action_t action, const char *topic, uint8_t *qos,
                       bool retain);

#endif
