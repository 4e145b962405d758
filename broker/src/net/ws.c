/* ws.c - the per-connection WebSocket server engine: the upgrade (ws_http.c), then frames with
 * wslay over caller memory, close handshake, readable errors.
 *
 * Driven by core/conn.c: hmq_ws_feed() with each read (socket bytes or TLS plaintext),
 * hmq_ws_write() with MQTT output, hmq_ws_close() before closing. wslay's recv callback reads
 * straight from the slice being fed (WOULDBLOCK when it is used up) and its send callback hands
 * every byte to cb->send, so the engine keeps no buffer of its own; frame payloads reach
 * cb->recv through wslay's chunk callbacks (no_buffering), never assembled into messages.
 *
 * wslay's context holds two 4 KiB buffers. It is made when the first frame arrives or is written
 * and kept while the connection is busy (making one costs ~0.5 us, mostly clearing those
 * buffers); hmq_ws_trim(), called by the owner's idle sweep, frees it whenever it holds no
 * state: every byte given to wslay belongs to a complete frame, no fragmented message is open,
 * nothing is queued and no close frame was seen. A fresh context behaves exactly like it.
 */
#include "net/ws_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wslay/wslay.h>

#define MQTT_MAX_PACKET 268435460u /* 1 + 4 + 268435455 */

enum { ST_UPGRADE, ST_OPEN, ST_CLOSING, ST_PEER_CLOSED, ST_FAILED };

struct hmq_ws {
    const hmq_ws_config_t *cfg;
    const hmq_ws_cb_t *cb;
    void *data;
    hmq_ws_http_t *http;           /* phase 1 only */
    wslay_event_context_ptr wslay; /* from the first frame until hmq_ws_trim() (see the top) */
    const uint8_t *in;             /* the slice being fed (only during hmq_ws_feed) */
    size_t in_len;
    uint64_t given;    /* bytes given to this wslay context */
    uint64_t consumed; /* of which in complete frames */
    uint64_t frame;    /* header + payload bytes of the frame being received */
    uint64_t message;  /* payload bytes of the data message being received */
    const char *subprotocol;
    char *forwarded;
    char *error; /* readable reason, allocated on failure */
    int rc;      /* sticky error */
    int send_rc; /* what cb->send returned when it failed */
    int cb_rc;   /* what cb->recv returned when it failed */
    uint8_t state;
    uint8_t opcode;      /* of the frame being received */
    bool fragmented;     /* a data message without its final frame yet */
    bool in_feed;        /* writes are queued and flushed when the feed returns */
    uint16_t refuse;     /* close code of a refusal decided in a callback (1003, 1009) */
    uint16_t peer_code;  /* the peer's close code */
    const char *refusal; /* its reason */
};

/* ---- errors ---------------------------------------------------------------------------------- */

static void set_error(hmq_ws_t *ws, const char *reason, const char *detail)
{
    if (ws->error) return; /* keep the first cause */
    char buf[256];
    snprintf(buf, sizeof(buf), "%s%s%s", reason, detail && *detail ? ": " : "",
             detail ? detail : "");
    ws->error = strdup(buf);
}

static int fail(hmq_ws_t *ws, int rc, const char *reason, const char *detail)
{
    if (ws->send_rc < 0) {
        rc = ws->send_rc;
        reason = "send callback failed";
        detail = NULL;
    }
    if (reason) set_error(ws, reason, detail);
    ws->rc = rc;
    ws->state = ST_FAILED;
    return rc;
}

static uint64_t max_message(const hmq_ws_config_t *cfg)
{
    return cfg->max_message ? cfg->max_message : MQTT_MAX_PACKET;
}

/* ---- wslay callbacks ------------------------------------------------------------------------- */

static ssize_t on_wslay_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                             void *user)
{
    hmq_ws_t *ws = user;
    if (ws->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = ws->in_len < len ? ws->in_len : len;
    memcpy(buf, ws->in, n);
    ws->in += n;
    ws->in_len -= n;
    ws->given += n;
    return (ssize_t)n;
}

static ssize_t on_wslay_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                             int flags, void *user)
{
    hmq_ws_t *ws = user;
    int rc = ws->send_rc < 0 ? ws->send_rc : ws->cb->send(ws, data, len);
    if (rc < 0) {
        ws->send_rc = rc;
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

/* Stop reading and close with code (sent when the feed flushes). */
static void refuse(hmq_ws_t *ws, wslay_event_context_ptr ctx, uint16_t code, const char *why)
{
    if (!ws->refuse) {
        ws->refuse = code;
        ws->refusal = why;
    }
    wslay_event_queue_close(ctx, code, (const uint8_t *)why, strlen(why));
    wslay_event_shutdown_read(ctx);
}

static void on_frame_start(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
    hmq_ws_t *ws = user;
    uint64_t len = arg->payload_length;
    /* the header as wslay accepts it: minimal length encoding, masked */
    ws->frame = 2 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + 4 + len;
    ws->opcode = arg->opcode;
    switch (arg->opcode) {
    case WSLAY_TEXT_FRAME:
        refuse(ws, ctx, HMQ_WS_CLOSE_UNSUPPORTED_DATA, "text frame (MQTT needs binary frames)");
        return;
    case WSLAY_BINARY_FRAME:
        ws->message = 0;
        /* fall through */
    case WSLAY_CONTINUATION_FRAME:
        ws->fragmented = !arg->fin;
        ws->message += len;
        if (ws->message > max_message(ws->cfg))
            refuse(ws, ctx, HMQ_WS_CLOSE_MESSAGE_TOO_BIG, "message too big");
        return;
    default: /* control frames: wslay answers them */
        return;
    }
}

static void on_frame_chunk(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user)
{
    hmq_ws_t *ws = user;
    if (ws->refuse || ws->cb_rc < 0 || arg->data_length == 0) return;
    if (ws->opcode != WSLAY_BINARY_FRAME && ws->opcode != WSLAY_CONTINUATION_FRAME) return;
    int rc = ws->cb->recv(ws, arg->data, arg->data_length);
    if (rc < 0) {
        ws->cb_rc = rc;
        wslay_event_shutdown_read(ctx);
    }
}

static void on_frame_end(wslay_event_context_ptr ctx, void *user)
{
    hmq_ws_t *ws = user;
    ws->consumed += ws->frame;
}

static const struct wslay_event_callbacks wslay_callbacks = {
    .recv_callback = on_wslay_recv,
    .send_callback = on_wslay_send,
    .on_frame_recv_start_callback = on_frame_start,
    .on_frame_recv_chunk_callback = on_frame_chunk,
    .on_frame_recv_end_callback = on_frame_end,
};

/* ---- wslay context on demand ----------------------------------------------------------------- */

static int wslay_get(hmq_ws_t *ws)
{
    if (ws->wslay) return 0;
    if (wslay_event_context_server_init(&ws->wslay, &wslay_callbacks, ws) != 0) {
        ws->wslay = NULL;
        return HMQ_WS_E_NOMEM;
    }
    wslay_event_config_set_no_buffering(ws->wslay, 1);
    wslay_event_config_set_max_recv_msg_length(ws->wslay, max_message(ws->cfg));
    ws->given = ws->consumed = 0;
    return 0;
}

bool hmq_ws_trim(hmq_ws_t *ws)
{
    if (!ws->wslay) return true;
    /* a new context would be in the same state: between frames, no message open, nothing
     * queued, no close frame seen or sent */
    if (ws->state != ST_OPEN || ws->in_feed || ws->given != ws->consumed || ws->fragmented ||
        wslay_event_get_queued_msg_count(ws->wslay) != 0 ||
        !wslay_event_get_read_enabled(ws->wslay) || !wslay_event_get_write_enabled(ws->wslay))
        return false;
    wslay_event_context_free(ws->wslay);
    ws->wslay = NULL;
    return true;
}

/* ---- engine ---------------------------------------------------------------------------------- */

hmq_ws_t *hmq_ws_new(const hmq_ws_config_t *cfg, const hmq_ws_cb_t *cb, void *data)
{
    hmq_ws_t *ws = calloc(1, sizeof(*ws));
    if (!ws) return NULL;
    ws->cfg = cfg;
    ws->cb = cb;
    ws->data = data;
    ws->http = hmq_ws_http_new(cfg);
    if (!ws->http) {
        free(ws);
        return NULL;
    }
    return ws;
}

void hmq_ws_free(hmq_ws_t *ws)
{
    if (!ws) return;
    hmq_ws_http_free(ws->http);
    wslay_event_context_free(ws->wslay);
    free(ws->forwarded);
    free(ws->error);
    free(ws);
}

void *hmq_ws_data(const hmq_ws_t *ws)
{
    return ws->data;
}

void hmq_ws_set_data(hmq_ws_t *ws, void *data)
{
    ws->data = data;
}

static int send_response(hmq_ws_t *ws, int status)
{
    char buf[HMQ_WS_RESPONSE_MAX];
    size_t n = hmq_ws_http_response(ws->http, status, buf, sizeof(buf));
    int rc = ws->cb->send(ws, (const uint8_t *)buf, n);
    if (rc < 0) ws->send_rc = rc;
    return rc;
}

/* Phase 1: *used bytes of in were the request head. */
static int do_upgrade(hmq_ws_t *ws, const uint8_t *in, size_t len, size_t *used)
{
    *used = hmq_ws_http_feed(ws->http, in, len);
    const hmq_ws_request_t *req = hmq_ws_http_result(ws->http);
    if (req->status == 0) return 0;
    if (req->status != 101) {
        send_response(ws, req->status);
        char reason[128];
        snprintf(reason, sizeof(reason), "%s (%d)", req->reason, req->status);
        return fail(ws, HMQ_WS_E_HANDSHAKE, reason, req->detail);
    }
    if (*req->forwarded && !(ws->forwarded = strdup(req->forwarded)))
        return fail(ws, HMQ_WS_E_NOMEM, "out of memory", NULL);
    ws->subprotocol = req->subprotocol;
    if (ws->cb->upgrade) {
        int rc = ws->cb->upgrade(ws);
        if (rc < 0) {
            send_response(ws, 403);
            return fail(ws, rc, NULL, NULL);
        }
    }
    if (send_response(ws, 101) < 0) return fail(ws, ws->send_rc, NULL, NULL);
    hmq_ws_http_free(ws->http);
    ws->http = NULL;
    ws->state = ST_OPEN;
    return 0;
}

/* Why wslay stopped reading without a close frame from the peer. */
static int frame_error(hmq_ws_t *ws, int r)
{
    if (r == WSLAY_ERR_NOMEM) return fail(ws, HMQ_WS_E_NOMEM, "out of memory", NULL);
    if (ws->refuse == HMQ_WS_CLOSE_MESSAGE_TOO_BIG ||
        wslay_event_get_status_code_sent(ws->wslay) == WSLAY_CODE_MESSAGE_TOO_BIG)
        return fail(ws, HMQ_WS_E_TOO_BIG, "message too big", NULL);
    if (ws->refuse) return fail(ws, HMQ_WS_E_PROTOCOL, ws->refusal, NULL);
    if (wslay_event_get_status_code_sent(ws->wslay) == WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA)
        return fail(ws, HMQ_WS_E_PROTOCOL, "invalid UTF-8 in a close frame", NULL);
    return fail(ws, HMQ_WS_E_PROTOCOL,
                "malformed frame (unmasked, reserved bits or opcode, bad length, fragmented "
                "control frame, or bad close code)",
                NULL);
}

/* Phase 2: frames. */
static int do_frames(hmq_ws_t *ws, const uint8_t *in, size_t len)
{
    int rc = wslay_get(ws);
    if (rc < 0) return fail(ws, rc, "out of memory", NULL);
    ws->in = in;
    ws->in_len = len;
    int r = wslay_event_recv(ws->wslay);
    ws->in = NULL;
    ws->in_len = 0;
    wslay_event_send(ws->wslay); /* pongs, close replies, writes made by cb->recv */
    if (ws->cb_rc < 0) return fail(ws, ws->cb_rc, NULL, NULL);
    if (ws->send_rc < 0) return fail(ws, ws->send_rc, NULL, NULL);
    if (wslay_event_get_close_received(ws->wslay)) {
        uint16_t code = wslay_event_get_status_code_received(ws->wslay);
        ws->peer_code = code == WSLAY_CODE_NO_STATUS_RCVD ? 0 : code;
        ws->state = ST_PEER_CLOSED;
        return HMQ_WS_CLOSED;
    }
    if (r != 0 || !wslay_event_get_read_enabled(ws->wslay)) return frame_error(ws, r);
    return 0;
}

int hmq_ws_feed(hmq_ws_t *ws, const uint8_t *in, size_t len)
{
    if (ws->state == ST_FAILED) return ws->rc;
    if (ws->state == ST_PEER_CLOSED) return HMQ_WS_CLOSED;
    ws->in_feed = true;
    int rc = 0;
    if (ws->state == ST_UPGRADE) {
        size_t used = 0;
        rc = do_upgrade(ws, in, len, &used);
        in += used;
        len -= used;
    }
    if (rc == 0 && ws->state != ST_UPGRADE && len > 0) rc = do_frames(ws, in, len);
    ws->in_feed = false;
    return rc;
}

int hmq_ws_write(hmq_ws_t *ws, const uint8_t *data, size_t len)
{
    if (ws->state == ST_FAILED) return ws->rc;
    if (ws->state != ST_OPEN) return HMQ_WS_E_STATE;
    if (len == 0) return 0;
    int rc = wslay_get(ws);
    if (rc < 0) return fail(ws, rc, "out of memory", NULL);
    struct wslay_event_msg msg = {WSLAY_BINARY_FRAME, data, len};
    int r = wslay_event_queue_msg(ws->wslay, &msg);
    if (r == WSLAY_ERR_NOMEM) return fail(ws, HMQ_WS_E_NOMEM, "out of memory", NULL);
    if (r != 0) return HMQ_WS_E_STATE; /* a close frame is queued */
    if (ws->in_feed) return 0;         /* do_frames flushes */
    wslay_event_send(ws->wslay);
    if (ws->send_rc < 0) return fail(ws, ws->send_rc, NULL, NULL);
    return 0;
}

int hmq_ws_close(hmq_ws_t *ws, uint16_t code)
{
    if (ws->state == ST_FAILED) return ws->rc;
    if (ws->state != ST_OPEN) return HMQ_WS_E_STATE;
    int rc = wslay_get(ws);
    if (rc < 0) return fail(ws, rc, "out of memory", NULL);
    int r = wslay_event_queue_close(ws->wslay, code, NULL, 0);
    if (r == WSLAY_ERR_NOMEM) return fail(ws, HMQ_WS_E_NOMEM, "out of memory", NULL);
    if (r != 0) return HMQ_WS_E_STATE;
    ws->state = ST_CLOSING;
    if (ws->in_feed) return 0;
    wslay_event_send(ws->wslay);
    if (ws->send_rc < 0) return fail(ws, ws->send_rc, NULL, NULL);
    return 0;
}

bool hmq_ws_open(const hmq_ws_t *ws)
{
    return ws->http == NULL; /* freed once the 101 is sent */
}

bool hmq_ws_peer_closed(const hmq_ws_t *ws)
{
    return ws->state == ST_PEER_CLOSED;
}

const char *hmq_ws_error(const hmq_ws_t *ws)
{
    return ws->error;
}

const char *hmq_ws_forwarded_for(const hmq_ws_t *ws)
{
    return ws->forwarded;
}

const char *hmq_ws_subprotocol(const hmq_ws_t *ws)
{
    return ws->subprotocol;
}

uint16_t hmq_ws_peer_close_code(const hmq_ws_t *ws)
{
    return ws->peer_code;
}

/* ---- configuration --------------------------------------------------------------------------- */

static const char *const default_subprotocols[] = {"mqtt", "mqttv3.1", NULL};

void hmq_ws_config_init(hmq_ws_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->path = "/mqtt";
    cfg->subprotocols = default_subprotocols;
    cfg->max_message = 0; /* MQTT_MAX_PACKET */
}

/* RFC 7230 tchar: a subprotocol name is a token (RFC 6455 §4.1). */
static bool is_token(const char *s)
{
    static const char sep[] = "()<>@,;:\\\"/[]?={} \t";
    if (!*s) return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || strchr(sep, *s)) return false;
    return true;
}

int hmq_ws_config_check(const hmq_ws_config_t *cfg, char *err, size_t errlen)
{
    const char *why = NULL;
    if (!cfg->path || cfg->path[0] != '/')
        why = "path must start with '/'";
    else if (strpbrk(cfg->path, "?# \t\r\n"))
        why = "path must not hold a query, a fragment or white space";
    else if (!cfg->subprotocols || !cfg->subprotocols[0])
        why = "subprotocols must name at least one (\"mqtt\")";
    for (const char *const *p = cfg->subprotocols; !why && *p; p++)
        if (!is_token(*p)) why = "a subprotocol name is not an HTTP token";
    if (!why) return 0;
    if (err && errlen) snprintf(err, errlen, "%s", why);
    return HMQ_WS_E_CONFIG;
}
