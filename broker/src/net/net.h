/* net.h - transports below the MQTT code: TLS engine over memory BIOs (tls.h), PROXY protocol
 * v1/v2 header parser (proxy.h), WebSocket engine over caller memory (ws.h: upgrade with
 * http_parser, frames with wslay; stacked as TCP -> [TLS] -> WebSocket -> MQTT). Nothing here
 * knows MQTT; core/conn.c drives them.
 */
#ifndef HMQ_NET_H
#define HMQ_NET_H

#include "net/proxy.h"
#include "net/tls.h"

#endif
