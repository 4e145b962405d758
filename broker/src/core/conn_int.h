/* conn_int.h - internals shared by the connection files (conn.c, conn_stack.c); not an API. */
#ifndef HMQ_CONN_INT_H
#define HMQ_CONN_INT_H

#include "core/conn.h"
#include "core/message.h"

/* conn.c */
void hmq_conn_update_reading(hmq_conn_t *c); /* read while open and nothing holds the input */
/* conn_pressure.c: the connection leaves the worker's paused list */
void hmq_conn_unpause(hmq_conn_t *c);
void hmq_conn_consume(hmq_conn_t *c, const uint8_t *data, size_t len); /* MQTT bytes */
bool hmq_conn_append(uint8_t **buf, uint32_t *len, uint32_t *cap, const uint8_t *data, size_t n);

/* conn_publish.c: the end of a PUBLISH once allowed (route, retain, acknowledge; msg
 * reference taken over) or refused/dropped (acknowledge with code where the protocol can). */
void hmq_conn_publish_route(hmq_conn_t *c, hmq_msg_t *msg, uint8_t qos, uint16_t packet_id);
void hmq_conn_publish_drop(hmq_conn_t *c, uint8_t qos, uint16_t packet_id, uint8_t code);

/* conn_subscribe.c: one filter's checks, recording it, and the SUBACK (+ retained). */
uint8_t hmq_conn_subscribe_check(hmq_conn_t *c, hmq_bytes_t filter, hmq_subopts_t opts, bool *fatal,
                                 bool *ask);
uint8_t hmq_conn_subscribe_add(hmq_conn_t *c, hmq_bytes_t filter, hmq_subopts_t opts,
                               uint32_t sub_id, const char *asked, uint32_t *cookie_out);
void hmq_conn_suback(hmq_conn_t *c, uint16_t packet_id, uint8_t *codes, const uint32_t *cookies,
                     uint32_t n);

/* conn_stack.c */
void hmq_conn_proxy_input(hmq_conn_t *c, const uint8_t *data, size_t len);
void hmq_conn_tls_input(hmq_conn_t *c, const uint8_t *data, size_t len);
int hmq_conn_ws_input(hmq_conn_t *c, const uint8_t *data, size_t len);
/* Frame (WebSocket) and/or encrypt (TLS) the MQTT output waiting in c->out into c->tout. */
void hmq_conn_frame_pending(hmq_conn_t *c);

#endif
