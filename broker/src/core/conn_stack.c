/* conn_stack.c - the transport stack under MQTT on a connection: the PROXY protocol header,
 * TLS (net/tls.h) and WebSocket (net/ws.h) engines, and the hand-off of their bytes between
 * each other and the socket. TCP -> [PROXY] -> [TLS] -> [WebSocket] -> MQTT (conn.c).
 * Input arrives from conn.c's read callback; output is framed/encrypted once per loop turn by
 * hmq_conn_frame_pending() when conn.c flushes.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/admission.h"
#include "core/conn.h"
#include "core/conn_int.h"
#include "net/proxy.h"
#include "util/log.h"

/* Ciphertext from the socket. */
void hmq_conn_tls_input(hmq_conn_t *c, const uint8_t *data, size_t len)
{
    int rc = hmq_tls_feed(c->tls, data, len, c->w->pbuf, c->w->pbuf_cap);
    if (rc != 0 && (c->state == HMQ_CONN_NEW || c->state == HMQ_CONN_CONNECTED)) {
        if (rc < 0)
            LOG_DEBUG("tls_error", "peer=%s error=\"%s\"", hmq_conn_peer(c),
                      hmq_tls_error(c->tls) ? hmq_tls_error(c->tls) : "-");
        hmq_conn_close(c, 0, NULL); /* the alert or close_notify is flushed first */
    }
}

/* A TLV's text as a C string ("" when absent). */
static char *slice_dup(hmq_proxy_slice_t v)
{
    return v.len ? strndup((const char *)v.p, v.len) : strdup("");
}

/* A `proxy_protocol` listener: the header comes first (strict: no header, no connection). The
 * address it carries becomes the client's address for logs and limits. */
void hmq_conn_proxy_input(hmq_conn_t *c, const uint8_t *data, size_t len)
{
    if (!hmq_conn_append(&c->in, &c->in_len, &c->in_cap, data, len)) {
        hmq_conn_close(c, 0, NULL);
        return;
    }
    hmq_proxy_info_t info;
    int rc = hmq_proxy_parse(c->in, c->in_len, &info);
    if (rc == 0) return; /* more to come (the parser refuses bad bytes at once) */
    if (rc < 0) {
        LOG_DEBUG("proxy_refused", "peer=%s error=\"%s\"", hmq_conn_peer(c),
                  hmq_proxy_strerror(rc));
        HMQ_STAT_ADD(c->w->stats.protocol_errors, 1);
        hmq_conn_close(c, 0, NULL);
        return;
    }
    c->proxy_pending = false;
    if (info.command == HMQ_PROXY_CMD_PROXY &&
        (info.family == HMQ_PROXY_FAMILY_TCP4 || info.family == HMQ_PROXY_FAMILY_TCP6) &&
        (c->real_peer = malloc(sizeof *c->real_peer)))
        memcpy(c->real_peer, &info.src, sizeof *c->real_peer);
    if (c->real_peer && !hmq_admit_address(c->w, c->listener, (struct sockaddr *)c->real_peer)) {
        LOG_DEBUG("connection_refused", "peer=%s reason=connect_rate_per_ip", hmq_conn_peer(c));
        hmq_conn_close(c, 0, NULL);
        return;
    }
    if (info.ssl.present && (c->proxy_tls = calloc(1, sizeof *c->proxy_tls))) {
        c->proxy_tls->cert_verified = hmq_proxy_client_verified(&info);
        c->proxy_tls->cn = slice_dup(info.ssl.cn);
        c->proxy_tls->version = slice_dup(info.ssl.version);
        c->proxy_tls->cipher = slice_dup(info.ssl.cipher);
    }
    LOG_DEBUG("proxy_header", "peer=%s version=%u ssl=%d cert_verified=%d", hmq_conn_peer(c),
              info.version, info.ssl.present, c->proxy_tls ? c->proxy_tls->cert_verified : 0);
    /* What follows the header is the client's own stream. */
    uint8_t *held = c->in;
    size_t rest = c->in_len - (size_t)rc;
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    if (rest && c->tls)
        hmq_conn_tls_input(c, held + rc, rest);
    else if (rest && c->ws)
        hmq_conn_ws_input(c, held + rc, rest);
    else if (rest)
        hmq_conn_consume(c, held + rc, rest);
    free(held);
}

/* ---- TLS ------------------------------------------------------------------------------------ */

/* Ciphertext for the peer: written at the end of the loop turn. */
static int tls_send(hmq_tls_t *t, const uint8_t *data, size_t len)
{
    hmq_conn_t *c = hmq_tls_data(t);
    if (!hmq_conn_append(&c->tout, &c->tout_len, &c->tout_cap, data, len)) return -1;
    hmq_worker_mark_dirty(c->w, c);
    return 0;
}

/* Plaintext from the peer: MQTT bytes, processed like TCP input. */
/* MQTT bytes from below (TLS plaintext or WebSocket payload), processed like TCP input. */
static int app_input(hmq_conn_t *c, const uint8_t *data, size_t len)
{
    if (c->mig) { /* already handed over: the rest travels with it */
        hmq_migrate_t *m = c->mig;
        return hmq_conn_append(&m->data, &m->len, &m->cap, data, len) ? 0 : -1;
    }
    if (c->state != HMQ_CONN_NEW && c->state != HMQ_CONN_CONNECTED) return -1;
    if (c->in_len) {
        if (!hmq_conn_append(&c->in, &c->in_len, &c->in_cap, data, len)) return -1;
        hmq_conn_consume(c, c->in, c->in_len);
    } else {
        hmq_conn_consume(c, data, len);
    }
    return 0;
}

/* TLS plaintext: WebSocket bytes on a wss listener, else MQTT. */
static int tls_recv(hmq_tls_t *t, const uint8_t *data, size_t len)
{
    hmq_conn_t *c = hmq_tls_data(t);
    if (c->ws) return hmq_conn_ws_input(c, data, len); /* (frames even after a hand-over began) */
    return app_input(c, data, len);
}

static const hmq_tls_cb_t tls_callbacks = {.send = tls_send, .recv = tls_recv};

/* ---- WebSocket ------------------------------------------------------------------------------ */

/* Bytes for the peer from the WebSocket engine (the 101 response, frames): through TLS on wss. */
static int ws_send(hmq_ws_t *ws, const uint8_t *data, size_t len)
{
    hmq_conn_t *c = hmq_ws_data(ws);
    if (c->tls) return hmq_tls_write(c->tls, data, len);
    if (!hmq_conn_append(&c->tout, &c->tout_len, &c->tout_cap, data, len)) return -1;
    hmq_worker_mark_dirty(c->w, c);
    return 0;
}

static int ws_recv(hmq_ws_t *ws, const uint8_t *data, size_t len)
{
    return app_input(hmq_ws_data(ws), data, len);
}

/* The upgrade was accepted: a trusted proxy's X-Forwarded-For becomes the client address. */
static int ws_upgrade(hmq_ws_t *ws)
{
    hmq_conn_t *c = hmq_ws_data(ws);
    const hmq_listener_config_t *lc = &c->w->cfg->listeners[c->listener];
    if (!lc->ws_trust_forwarded || lc->proxy_protocol) return 0; /* checked on accept / header */
    const char *fwd = hmq_ws_forwarded_for(ws);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (fwd && inet_pton(AF_INET, fwd, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
        ss.ss_family = AF_INET;
    else if (fwd && inet_pton(AF_INET6, fwd, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
        ss.ss_family = AF_INET6;
    if (ss.ss_family && (c->real_peer = malloc(sizeof *c->real_peer)))
        memcpy(c->real_peer, &ss, sizeof ss);
    int len = sizeof ss;
    if (!c->real_peer && uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return 0;
    const struct sockaddr *who =
        c->real_peer ? (struct sockaddr *)c->real_peer : (struct sockaddr *)&ss;
    return hmq_admit_address(c->w, c->listener, who) ? 0 : -1; /* -1: 403 */
}

static const hmq_ws_cb_t ws_callbacks = {.send = ws_send, .recv = ws_recv, .upgrade = ws_upgrade};

int hmq_conn_ws_input(hmq_conn_t *c, const uint8_t *data, size_t len)
{
    int rc = hmq_ws_feed(c->ws, data, len);
    if (rc != 0 && (c->state == HMQ_CONN_NEW || c->state == HMQ_CONN_CONNECTED)) {
        if (rc < 0)
            LOG_DEBUG("ws_error", "peer=%s error=\"%s\"", hmq_conn_peer(c),
                      hmq_ws_error(c->ws) ? hmq_ws_error(c->ws) : "-");
        hmq_conn_close(c, 0, NULL); /* an HTTP error or a close frame is flushed first */
    }
    return 0;
}

int hmq_conn_use_ws(hmq_conn_t *c, const hmq_ws_config_t *cfg)
{
    c->ws = hmq_ws_new(cfg, &ws_callbacks, c);
    return c->ws ? 0 : -1;
}

int hmq_conn_use_tls(hmq_conn_t *c, hmq_tls_ctx_t *ctx)
{
    c->tls = hmq_tls_new(ctx, &tls_callbacks, c);
    return c->tls ? 0 : -1;
}

void hmq_conn_free_proxy_tls(hmq_proxy_tls_t *p)
{
    if (!p) return;
    free(p->cn);
    free(p->version);
    free(p->cipher);
    free(p);
}

void hmq_conn_adopt_ws(hmq_conn_t *c, hmq_ws_t *ws)
{
    c->ws = ws;
    hmq_ws_set_data(ws, c);
}

void hmq_conn_adopt_tls(hmq_conn_t *c, hmq_tls_t *tls, const uint8_t *wire, size_t wire_len)
{
    c->tls = tls;
    hmq_tls_set_data(tls, c);
    if (wire_len && hmq_conn_append(&c->tout, &c->tout_len, &c->tout_cap, wire, wire_len))
        hmq_worker_mark_dirty(c->w, c);
}

/* TLS: encrypt the plaintext output; the records join the ciphertext already waiting (handshake
 * messages, alerts) in c->tout, in order. */
void hmq_conn_frame_pending(hmq_conn_t *c)
{
    if (!c->out_len) return;
    if (c->ws) { /* one binary frame per turn; through TLS on wss (ws_send) */
        if (!hmq_ws_open(c->ws)) return;
        if (hmq_ws_write(c->ws, c->out, c->out_len) < 0)
            LOG_DEBUG("ws_write_failed", "peer=%s", hmq_conn_peer(c));
        c->out_len = 0;
        return;
    }
    if (!hmq_tls_handshake_done(c->tls)) return;
    if (hmq_tls_write(c->tls, c->out, c->out_len) < 0)
        LOG_DEBUG("tls_write_failed", "peer=%s", hmq_conn_peer(c));
    c->out_len = 0;
}
