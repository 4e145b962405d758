/* ws_int.h - what ws.c (the engine, frames with wslay) and ws_http.c (the HTTP upgrade with
 * http_parser) share. Not for users of ws.h.
 */
#ifndef HMQ_WS_INT_H
#define HMQ_WS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "net/ws.h"

/* The upgrade request being parsed (phase 1 only; freed once it is answered). */
typedef struct hmq_ws_http hmq_ws_http_t;

typedef struct {
    int status;              /* 0: head incomplete; 101: valid; else the HTTP error status */
    const char *reason;      /* refusals: why, constant text (also the response body) */
    char detail[96];         /* refusals: more for the log ("path \"/x\""), may be "" */
    const char *subprotocol; /* valid: the selected name (a string of the configuration) */
    char accept[32];         /* valid: the Sec-WebSocket-Accept value */
    char forwarded[48];      /* valid, trusted proxy: the client address it gave, else "" */
} hmq_ws_request_t;

hmq_ws_http_t *hmq_ws_http_new(const hmq_ws_config_t *cfg);
void hmq_ws_http_free(hmq_ws_http_t *h);

/* Parse request bytes. Returns how many were part of the head (the rest, once the head is
 * complete, are frames). The result says whether the head is complete and valid. */
size_t hmq_ws_http_feed(hmq_ws_http_t *h, const uint8_t *in, size_t len);
const hmq_ws_request_t *hmq_ws_http_result(const hmq_ws_http_t *h);

/* The response for status (101, or an error status such as the result's or 403) into buf.
 * Returns its length (< cap; buf holds HMQ_WS_RESPONSE_MAX bytes). */
#define HMQ_WS_RESPONSE_MAX 512
size_t hmq_ws_http_response(const hmq_ws_http_t *h, int status, char *buf, size_t cap);

/* Sec-WebSocket-Accept for a client key: base64(SHA-1(key GUID)), NUL terminated in out[29].
 * 0, or -1 when OpenSSL fails. */
int hmq_ws_accept_key(const char *key, size_t key_len, char out[29]);

#endif
