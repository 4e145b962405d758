/* client_pack.h - the packed ClientInfo of a connection, kept per hook server and reused by every
 * per-message request of that connection (MessageHooks): the identity does not change while the
 * connection lives, so it is encoded once instead of once per message.
 *
 * Keyed by hmq_hooks_client_t.uid (unique per connection, never reused; 0 = not cached) in a
 * direct-mapped table: a collision only costs a re-encode. Any thread (one mutex).
 */
#ifndef HMQ_CLIENT_PACK_H
#define HMQ_CLIENT_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "hookmq/hooks.h"

typedef struct hmq_client_pack hmq_client_pack_t;

hmq_client_pack_t *hmq_client_pack_new(size_t slots);
void hmq_client_pack_free(hmq_client_pack_t *cp);

/* Packs m followed by the ClientInfo of c as field number `field` (the client field m leaves
 * unset), in one malloc'd buffer; NULL when out of memory. */
uint8_t *hmq_client_pack_message(hmq_client_pack_t *cp, const ProtobufCMessage *m,
                                 const hmq_hooks_client_t *c, const char *node, bool want_chain,
                                 uint32_t field, size_t *len);

#endif
