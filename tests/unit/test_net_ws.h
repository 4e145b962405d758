/* test_net_ws.h - helpers for the WebSocket engine tests (test_net_ws*.c): a server engine with
 * callbacks that record what it sends and delivers, a hand-made upgrade request, and client
 * frames built here (masked as a browser would) so the engine's wslay/http_parser side is checked
 * against bytes written from the RFC, not against the same libraries.
 */
#ifndef HMQ_TEST_NET_WS_H
#define HMQ_TEST_NET_WS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws.h"

typedef struct {
    uint8_t *p;
    size_t len, cap;
} ws_buf_t;

static inline void ws_buf_add(ws_buf_t *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        b->cap = (b->len + len + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = 0; /* printable as a string in assertions */
}

typedef struct {
    hmq_ws_config_t cfg;
    hmq_ws_t *ws;
    ws_buf_t out;     /* everything sent to the client */
    ws_buf_t app;     /* everything delivered to cb->recv */
    size_t out_read;  /* frames parsed from out so far (ws_next) */
    int recv_calls;   /* cb->recv invocations */
    int upgrades;     /* cb->upgrade invocations */
    int upgrade_rc;   /* what cb->upgrade returns */
    int recv_rc;      /* what cb->recv returns */
    int send_rc;      /* what cb->send returns */
    const char *echo; /* cb->recv writes this back with hmq_ws_write */
} ws_pair_t;

static inline int ws_on_send(hmq_ws_t *ws, const uint8_t *data, size_t len)
{
    ws_pair_t *p = hmq_ws_data(ws);
    assert_true(len > 0);
    if (p->send_rc < 0) return p->send_rc;
    ws_buf_add(&p->out, data, len);
    return 0;
}

static inline int ws_on_recv(hmq_ws_t *ws, const uint8_t *data, size_t len)
{
    ws_pair_t *p = hmq_ws_data(ws);
    assert_true(len > 0);
    p->recv_calls++;
    ws_buf_add(&p->app, data, len);
    if (p->echo) assert_int_equal(hmq_ws_write(ws, (const uint8_t *)p->echo, strlen(p->echo)), 0);
    return p->recv_rc;
}

static inline int ws_on_upgrade(hmq_ws_t *ws)
{
    ws_pair_t *p = hmq_ws_data(ws);
    assert_false(hmq_ws_open(ws));
    p->upgrades++;
    return p->upgrade_rc;
}

static const hmq_ws_cb_t ws_test_cb = {ws_on_send, ws_on_recv, ws_on_upgrade};

/* A pair with the default configuration, changed by the caller before ws_start(). */
static inline void ws_pair_init(ws_pair_t *p)
{
    memset(p, 0, sizeof(*p));
    hmq_ws_config_init(&p->cfg);
}

static inline void ws_start(ws_pair_t *p)
{
    char err[128];
    assert_int_equal(hmq_ws_config_check(&p->cfg, err, sizeof(err)), 0);
    p->ws = hmq_ws_new(&p->cfg, &ws_test_cb, p);
    assert_non_null(p->ws);
}

static inline void ws_pair_free(ws_pair_t *p)
{
    hmq_ws_free(p->ws);
    free(p->out.p);
    free(p->app.p);
    memset(p, 0, sizeof(*p));
}

static inline int ws_feed(ws_pair_t *p, const void *data, size_t len)
{
    return hmq_ws_feed(p->ws, data, len);
}

static inline int ws_feed_str(ws_pair_t *p, const char *s)
{
    return ws_feed(p, s, strlen(s));
}

#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="        /* RFC 6455 §1.3 */
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* its Sec-WebSocket-Accept (§1.3) */

/* A valid upgrade request for /mqtt with extra header lines (each ending in \r\n) inserted. */
static inline const char *ws_request(const char *extra)
{
    static char buf[16384];
    snprintf(buf, sizeof(buf),
             "GET /mqtt HTTP/1.1\r\n"
             "Host: broker.example.com:8080\r\n"
             "Upgrade: websocket\r\n"
             "Connection: Upgrade\r\n"
             "Sec-WebSocket-Key: " WS_KEY "\r\n"
             "Sec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Protocol: mqtt\r\n"
             "%s"
             "\r\n",
             extra ? extra : "");
    return buf;
}

static const char ws_101[] = "HTTP/1.1 101 Switching Protocols\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: " WS_ACCEPT "\r\n"
                             "Sec-WebSocket-Protocol: mqtt\r\n"
                             "\r\n";

/* Start and upgrade; out is emptied. */
static inline void ws_open(ws_pair_t *p)
{
    ws_start(p);
    assert_int_equal(ws_feed_str(p, ws_request(NULL)), 0);
    assert_true(hmq_ws_open(p->ws));
    assert_string_equal((const char *)p->out.p, ws_101);
    p->out.len = 0;
    p->out_read = 0;
}

/* ---- frames (RFC 6455 §5.2) ---------------------------------------------------------------- */

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

static const uint8_t ws_mask_key[4] = {0x37, 0xfa, 0x21, 0x3d}; /* RFC 6455 §5.7 */

/* A client frame into out (payload up to any length). Returns its size. */
static inline size_t ws_frame_ex(uint8_t *out, int fin, int rsv, int opcode, const void *payload,
                                 size_t len, int masked)
{
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | (rsv << 4) | opcode);
    uint8_t m = masked ? 0x80 : 0;
    if (len < 126) {
        out[n++] = m | (uint8_t)len;
    } else if (len < 65536) {
        out[n++] = m | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    if (masked) {
        memcpy(out + n, ws_mask_key, 4);
        n += 4;
    }
    const uint8_t *src = payload;
    for (size_t i = 0; i < len; i++)
        out[n + i] = masked ? src[i] ^ ws_mask_key[i % 4] : src[i];
    return n + len;
}

static inline size_t ws_frame(uint8_t *out, int fin, int opcode, const void *payload, size_t len)
{
    return ws_frame_ex(out, fin, 0, opcode, payload, len, 1);
}

/* A close frame payload: code in network order then the reason. */
static inline size_t ws_close_frame(uint8_t *out, uint16_t code)
{
    uint8_t body[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    return ws_frame(out, 1, OP_CLOSE, body, code ? 2 : 0);
}

typedef struct {
    int fin, opcode;
    const uint8_t *payload;
    size_t len;
    uint16_t close_code; /* close frames with a status */
} ws_frame_t;

/* The next server frame in p->out (must be unmasked and complete). */
static inline bool ws_next(ws_pair_t *p, ws_frame_t *f)
{
    const uint8_t *b = p->out.p + p->out_read;
    size_t avail = p->out.len - p->out_read;
    if (avail < 2) return false;
    f->fin = b[0] >> 7;
    assert_int_equal(b[0] & 0x70, 0); /* no reserved bits */
    f->opcode = b[0] & 0x0f;
    assert_int_equal(b[1] & 0x80, 0); /* servers do not mask */
    size_t n = 2;
    uint64_t len = b[1] & 0x7f;
    if (len == 126) {
        assert_true(avail >= 4);
        len = (uint64_t)b[2] << 8 | b[3];
        assert_true(len >= 126); /* minimal encoding */
        n = 4;
    } else if (len == 127) {
        assert_true(avail >= 10);
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | b[2 + i];
        assert_true(len >= 65536);
        n = 10;
    }
    assert_true(avail >= n + len);
    f->payload = b + n;
    f->len = (size_t)len;
    f->close_code = f->opcode == OP_CLOSE && len >= 2 ? (uint16_t)(b[n] << 8 | b[n + 1]) : 0;
    p->out_read += n + (size_t)len;
    return true;
}

/* The next server frame must be a close with code. */
static inline void ws_expect_close(ws_pair_t *p, uint16_t code)
{
    ws_frame_t f = {0};
    assert_true(ws_next(p, &f));
    assert_int_equal(f.opcode, OP_CLOSE);
    assert_int_equal(f.close_code, code);
}

#endif
