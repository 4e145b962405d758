/* conn_int.h - internals shared by the connection files (conn.c, conn_stack.c); not an API. */
#ifndef HMQ_CONN_INT_H
#define HMQ_CONN_INT_H

#include "core/conn.h"

/* conn.c */
void hmq_conn_consume(hmq_conn_t *c, const uint8_t *data, size_t len); /* MQTT bytes */
bool hmq_conn_append(uint8_t **buf, uint32_t *len, uint32_t *cap, const uint8_t *data, size_t n);

/* conn_stack.c */
void hmq_conn_proxy_input(hmq_conn_t *c, const uint8_t *data, size_t len);
void hmq_conn_tls_input(hmq_conn_t *c, const uint8_t *data, size_t len);
int hmq_conn_ws_input(hmq_conn_t *c, const uint8_t *data, size_t len);
/* Frame (WebSocket) and/or encrypt (TLS) the MQTT output waiting in c->out into c->tout. */
void hmq_conn_frame_pending(hmq_conn_t *c);

#endif
