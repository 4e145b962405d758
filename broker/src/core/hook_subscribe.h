/* hook_subscribe.h - SUBSCRIBE through the hooks: authorize per filter (when no grant decides)
 * and on_subscribe (deny, rewrite, QoS ceiling per filter), asynchronously.
 *
 * Called by conn_subscribe.c. While a SUBSCRIBE waits for its hooks the connection's input
 * waits too (subscriptions are rare; this keeps every later packet in order behind it). The
 * broker's own checks run first; then authorize; then on_subscribe for the filters still
 * allowed; then the subscriptions are recorded and the SUBACK is sent.
 */
#ifndef HMQ_HOOK_SUBSCRIBE_H
#define HMQ_HOOK_SUBSCRIBE_H

#include <stdbool.h>

#include "core/conn.h"

/* true: the SUBSCRIBE is taken (answered later, or already refused); false: no hook is
 * interested, the caller handles it synchronously. */
bool hmq_hook_subscribe_start(hmq_conn_t *c, const hmq_subscribe_t *sub, uint32_t sub_id);

/* The connection closes: cancel the calls; nothing is recorded. */
void hmq_hook_subscribe_abort(hmq_conn_t *c);

#endif
