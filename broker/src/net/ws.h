/* ws.h - WebSocket server engine over caller memory (RFC 6455, MQTT §6): no sockets, no threads.
 *
 * A `ws`/`wss` listener gives every accepted connection a hmq_ws_t, stacked on the socket or on
 * the TLS engine: TCP -> [hmq_tls_t] -> hmq_ws_t -> MQTT. core/conn.c feeds it the bytes it
 * reads (or TLS plaintext) with hmq_ws_feed() and receives:
 *   - cb->send(ws, bytes): HTTP response, frame headers and payloads for the peer, valid during
 *     the call: append them to the connection's output (written once per loop turn);
 *   - cb->recv(ws, bytes): MQTT bytes, the payload of binary frames as it arrives. Frame and
 *     MQTT packet boundaries are unrelated (a frame may hold part of a packet or several): the
 *     caller reassembles MQTT as it does for TCP;
 *   - cb->upgrade(ws): the upgrade request is valid; accept (101 follows) or refuse (403).
 *
 * Phase 1, the HTTP/1.1 upgrade: the request head is parsed with http_parser (any chunking, at
 * most HMQ_WS_HEAD_MAX bytes, else 431) and checked per RFC 6455 §4.2.1: GET (else 405),
 * HTTP/1.1 or later, one Host, `Upgrade: websocket`, `Connection: upgrade` (tokens,
 * case-insensitive), no body,
 * `Sec-WebSocket-Version: 13` (else 426 naming 13), a Sec-WebSocket-Key of 16 base64 bytes, the
 * configured path (else 404; the query string is ignored) and a Sec-WebSocket-Protocol offering
 * one of the configured subprotocols (else 400). MQTT §6 requires "mqtt"; the default list also
 * accepts "mqttv3.1", which MQTT 3.1 era clients (old Paho JavaScript, some embedded stacks)
 * offer instead. The first configured name the client offers is selected and echoed. The 101
 * carries Sec-WebSocket-Accept (SHA-1 + base64, OpenSSL). Every refusal is a complete HTTP
 * response with `Connection: close` and the reason as a text body; hmq_ws_feed() then returns
 * HMQ_WS_E_HANDSHAKE and the caller flushes its output and closes. No extension is negotiated.
 * Bytes following the request head in the same chunk are frames and are processed at once.
 *
 * Phase 2, frames (wslay, server side): binary and continuation frames go to cb->recv without
 * being buffered (wslay's chunk callbacks); pings are answered; a close frame is answered
 * (same code) and hmq_ws_feed() returns HMQ_WS_CLOSED. Refused with a close frame: a text frame
 * (MQTT §6: 1003), a message above max_message (1009), an unmasked frame, reserved bits or
 * opcodes, a bad continuation or close code (1002); a frame wslay's frame layer rejects (long or
 * fragmented control frame, non-minimal length) gets a close without a code. hmq_ws_write()
 * sends one binary frame (wslay copies it into its queue until sent, i.e. within the call).
 *
 * Memory: during phase 1 the parser state and the interesting header values (bounded by
 * HMQ_WS_HEAD_MAX) are held and freed once the 101 is sent. wslay's context (~8.8 KB: a 4 KiB
 * input and a 4 KiB output staging buffer) is made with the first frame and kept while the
 * connection is busy; hmq_ws_trim() frees it between frames, so an idle connection whose owner
 * trims it (e.g. in the sweep that releases idle output buffers) holds only the hmq_ws_t
 * (~150 B). Freeing it after every feed instead would cost ~1 us per feed + write.
 *
 * Threads: a hmq_ws_t belongs to one thread. The configuration is read, never written, and may
 * be shared by every connection of a listener.
 */
#ifndef HMQ_WS_H
#define HMQ_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hmq_ws hmq_ws_t;

enum hmq_ws_err {
    HMQ_WS_E_CONFIG = -1101,    /* hmq_ws_config_check(): a bad option (see the error text) */
    HMQ_WS_E_NOMEM = -1102,     /* out of memory */
    HMQ_WS_E_HANDSHAKE = -1103, /* the upgrade request was refused (HTTP error response sent) */
    HMQ_WS_E_PROTOCOL = -1104,  /* a WebSocket protocol error (close frame sent) */
    HMQ_WS_E_TOO_BIG = -1105,   /* a message above max_message (close 1009 sent) */
    HMQ_WS_E_STATE = -1106,     /* call not valid now (write before the upgrade or after close) */
};
#define HMQ_WS_CLOSED 1 /* hmq_ws_feed(): the peer sent a close frame (answered) */

#define HMQ_WS_HEAD_MAX 8192 /* largest upgrade request head (request line + headers) */

/* Close status codes (RFC 6455 §7.4.1) the caller may send with hmq_ws_close(). */
enum {
    HMQ_WS_CLOSE_NORMAL = 1000,
    HMQ_WS_CLOSE_GOING_AWAY = 1001,
    HMQ_WS_CLOSE_PROTOCOL_ERROR = 1002,
    HMQ_WS_CLOSE_UNSUPPORTED_DATA = 1003,
    HMQ_WS_CLOSE_POLICY_VIOLATION = 1008,
    HMQ_WS_CLOSE_MESSAGE_TOO_BIG = 1009,
    HMQ_WS_CLOSE_INTERNAL_ERROR = 1011,
};

typedef struct {
    const char *path; /* request path to accept, e.g. "/mqtt" (exact, case-sensitive) */
    /* Accepted subprotocols, NULL-terminated, in order of preference (the first one the client
     * offers is selected; names compare case-sensitively). Default {"mqtt", "mqttv3.1", NULL}. */
    const char *const *subprotocols;
    /* Largest data message (the sum of its frames' payloads) and so also the largest frame;
     * above it the connection is closed with 1009. Frames are not buffered whatever the size.
     * 0: 268435460, the largest MQTT packet. */
    uint64_t max_message;
    /* The peer is a trusted proxy (the listener decides, e.g. from its address): take the
     * client address from `Forwarded: for=` (RFC 7239) or else `X-Forwarded-For` (first
     * address). Only the leftmost entry is used: the proxy must set these headers, not append
     * to what the client sent. Ignored when false. */
    bool trust_forwarded;
} hmq_ws_config_t;

/* Defaults as documented above. */
void hmq_ws_config_init(hmq_ws_config_t *cfg);
/* 0, or HMQ_WS_E_CONFIG with a message such as "path must start with '/'" in err (may be NULL).
 * Listeners check their configuration once; hmq_ws_new() assumes a checked one. */
int hmq_ws_config_check(const hmq_ws_config_t *cfg, char *err, size_t errlen);

typedef struct {
    /* Required. Bytes for the peer, valid during the call: copy them to the output buffer.
     * Return 0, or < 0 to fail the connection (that value is returned by the engine call). */
    int (*send)(hmq_ws_t *ws, const uint8_t *data, size_t len);
    /* Required. Application (MQTT) bytes from binary frames, valid during the call. Return 0,
     * or < 0 to stop: hmq_ws_feed returns that value. hmq_ws_write() may be called from here
     * (the frame is sent when the feed returns). */
    int (*recv)(hmq_ws_t *ws, const uint8_t *data, size_t len);
    /* Optional. The upgrade request is valid (hmq_ws_forwarded_for() is known). Return 0 to
     * accept (101 is sent), or < 0 to refuse: 403 is sent and hmq_ws_feed returns that value. */
    int (*upgrade)(hmq_ws_t *ws);
} hmq_ws_cb_t;

/* A server-side engine. cfg (checked) and cb must outlive it. NULL: out of memory. */
hmq_ws_t *hmq_ws_new(const hmq_ws_config_t *cfg, const hmq_ws_cb_t *cb, void *data);
void hmq_ws_free(hmq_ws_t *ws);
void *hmq_ws_data(const hmq_ws_t *ws);
/* Re-point the callbacks' data (the connection moved to another worker with its engine). */
void hmq_ws_set_data(hmq_ws_t *ws, void *data);

/* Bytes from the peer. Consumes all of them: the upgrade request (the response goes to
 * cb->send), then frames (payloads to cb->recv, pongs and close replies to cb->send). Returns
 * 0, HMQ_WS_CLOSED after the peer's close frame (bytes after it are ignored), or < 0
 * (HMQ_WS_E_HANDSHAKE, HMQ_WS_E_PROTOCOL, HMQ_WS_E_TOO_BIG, HMQ_WS_E_NOMEM, a callback's
 * value): then flush what cb->send got (an HTTP error or a close frame) and close. Errors
 * are sticky. */
int hmq_ws_feed(hmq_ws_t *ws, const uint8_t *in, size_t len);
/* Send data as one binary frame (through cb->send before this returns, or when the current
 * hmq_ws_feed returns if called from a callback). 0 or < 0 (HMQ_WS_E_STATE before the upgrade
 * or after a close frame was sent or received). Batch output per loop turn: one frame each. */
int hmq_ws_write(hmq_ws_t *ws, const uint8_t *data, size_t len);
/* Send a close frame with code (one a peer accepts: 1000-1003, 1007-1011, 3000-4999; or 0 for
 * none). Later writes fail with HMQ_WS_E_STATE; a feed after it still delivers data until the
 * peer's close frame (then HMQ_WS_CLOSED); the caller closes the socket after that or a timeout.
 * 0, or < 0 (HMQ_WS_E_STATE before the upgrade, or when closing or closed already). */
int hmq_ws_close(hmq_ws_t *ws, uint16_t code);

/* Free wslay's context if it holds no state (no partial frame, no open fragmented message,
 * nothing queued, no close frame seen or sent); the next feed or write makes a new one. Call it
 * on idle connections, not from a callback. True when the engine now holds no frame buffers. */
bool hmq_ws_trim(hmq_ws_t *ws);

/* The upgrade is done (101 sent) and frames flow. */
bool hmq_ws_open(const hmq_ws_t *ws);
bool hmq_ws_peer_closed(const hmq_ws_t *ws);
/* Why the connection failed, e.g. "path not served (404): path \"/x\"", "text frame (MQTT needs
 * binary frames)"; NULL when it has not failed (or failed in a callback). */
const char *hmq_ws_error(const hmq_ws_t *ws);
/* The client address a trusted proxy gave (Forwarded for= / X-Forwarded-For), as inet_ntop
 * text ("192.0.2.1", "2001:db8::1", no port); NULL when untrusted, absent or not an IP address
 * ("unknown", obfuscated names). Set before cb->upgrade is called. */
const char *hmq_ws_forwarded_for(const hmq_ws_t *ws);
/* The selected subprotocol ("mqtt"); NULL before the upgrade. */
const char *hmq_ws_subprotocol(const hmq_ws_t *ws);
/* The close code the peer sent (0 when none was received or it had no code). */
uint16_t hmq_ws_peer_close_code(const hmq_ws_t *ws);

#endif
