/* hook_events.h - the broker's notifications to event hooks (connected, disconnected,
 * subscribed, unsubscribed, delivered, acked, dropped, session created/terminated).
 *
 * Called from the connection, subscription and session code at the moment things happen.
 * Each call is a couple of loads when no hook wants that event type (no engine, no identity,
 * or nobody registered it); otherwise the event is copied into the hook engine's bounded spool
 * and the caller goes on: events never delay a client.
 */
#ifndef HMQ_HOOK_EVENTS_H
#define HMQ_HOOK_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conn.h"
#include "core/message.h"
#include "hookmq/hooks.h"

void hmq_event_connected(hmq_conn_t *c, bool session_present, uint32_t session_expiry);
/* reason: "client", "takeover", "keepalive", "protocol_error", "connection_lost", ... */
void hmq_event_disconnected(hmq_conn_t *c, uint8_t code, const char *reason, bool will);
void hmq_event_subscribed(hmq_conn_t *c, const char *filter, size_t len, hmq_subopts_t opts,
                          uint8_t granted_qos);
void hmq_event_unsubscribed(hmq_conn_t *c, const char *filter, size_t len);
/* DELIVERED, ACKED (code: the PUBACK/PUBREC reason) or DROPPED (reason: "hook", ...). */
void hmq_event_message(hmq_conn_t *c, hmq_hooks_event_type_t type, const hmq_msg_t *msg,
                       uint16_t packet_id, uint8_t code, const char *reason);
void hmq_event_session(hmq_conn_t *c, hmq_hooks_event_type_t type);

#endif
