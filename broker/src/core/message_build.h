/* message_build.h - turn a decoded PUBLISH (or a CONNECT's will) into a shared hmq_msg_t:
 * copies topic and payload once, keeps the v5 properties a subscriber must receive (payload
 * format, content type, response topic, correlation data, user properties in order) as one
 * pre-encoded block, and converts Message Expiry Interval into an absolute expiry time.
 */
#ifndef HMQ_MESSAGE_BUILD_H
#define HMQ_MESSAGE_BUILD_H

#include "core/message.h"
#include "mqtt/mqtt.h"

hmq_msg_t *hmq_msg_build(hmq_bytes_t topic, hmq_bytes_t payload, const hmq_props_t *props,
                         uint8_t qos, bool retain, uint64_t now_wall_ms);

/* A message as a hook changed it (hookmq/hooks.h); received_wall_ms anchors its expiry. NULL
 * when out of memory or a string is over 65535 bytes. */
#include "hookmq/hooks.h"
hmq_msg_t *hmq_msg_from_hook(const hmq_hooks_message_t *m, uint64_t received_wall_ms);

#endif
