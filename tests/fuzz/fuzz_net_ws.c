/* fuzz_net_ws.c - libFuzzer target for the WebSocket server engine (broker/src/net/ws*.c):
 * arbitrary bytes as the client's side of a connection (upgrade request, then frames).
 *
 * The first input byte picks how the stream is cut into hmq_ws_feed() calls (1 byte at a time,
 * 7, 64, 1000, or all at once; or 1, 7, 64 with hmq_ws_trim() and an empty feed after each) and
 * options: a valid upgrade request is put in front (so the fuzzer spends its time on frames),
 * proxies are trusted, max_message is small (100 bytes), the recv callback echoes with
 * hmq_ws_write, the engine closes or writes a large frame afterwards.
 * Checks: no crash, no leak (ASan/LSan); feed results within the documented set; errors sticky
 * and described; no MQTT bytes before the upgrade and never more than were fed; what the
 * engine sends is an HTTP response (101 exactly once, or one error response) followed only by
 * well-formed unmasked server frames, nothing after a close frame.
 * Seeds: tests/fuzz/corpus/net_ws/ (upgrade requests of browsers, Paho and mqtt.js, refusals,
 * frames: split packets, fragments with pings, close, text, unmasked, oversized).
 * Run: build-fuzz-ws/fuzz_net_ws tests/fuzz/corpus/net_ws
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char request[] = "GET /mqtt HTTP/1.1\r\n"
                              "Host: localhost:8080\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Protocol: mqtt\r\n"
                              "X-Forwarded-For: 192.0.2.1\r\n"
                              "\r\n";

typedef struct {
    uint8_t *out; /* everything sent */
    size_t out_len, out_cap;
    size_t received;
    bool echo;
} sink_t;

static int on_send(hmq_ws_t *ws, const uint8_t *data, size_t len)
{
    sink_t *s = hmq_ws_data(ws);
    CHECK(len > 0);
    if (s->out_len + len > s->out_cap) {
        s->out_cap = (s->out_len + len) * 2;
        s->out = realloc(s->out, s->out_cap);
        CHECK(s->out);
    }
    memcpy(s->out + s->out_len, data, len);
    s->out_len += len;
    return 0;
}

static int on_recv(hmq_ws_t *ws, const uint8_t *data, size_t len)
{
    sink_t *s = hmq_ws_data(ws);
    CHECK(len > 0 && hmq_ws_open(ws));
    s->received += len;
    if (s->echo) {
        int rc = hmq_ws_write(ws, data, len);
        CHECK(rc == 0 || rc == HMQ_WS_E_STATE);
    }
    return 0;
}

static int on_upgrade(hmq_ws_t *ws)
{
    CHECK(!hmq_ws_open(ws));
    return 0;
}

static const hmq_ws_cb_t cb = {on_send, on_recv, on_upgrade};

/* What the engine sent: one HTTP response head, then (after a 101) server frames. */
static void check_output(const sink_t *s, bool open)
{
    if (s->out_len == 0) return;
    const char *end = memmem(s->out, s->out_len, "\r\n\r\n", 4);
    CHECK(end);
    size_t pos = (size_t)((const uint8_t *)end - s->out) + 4;
    if (!open) {
        CHECK(memcmp(s->out, "HTTP/1.1 4", 10) == 0 || memcmp(s->out, "HTTP/1.1 5", 10) == 0);
        CHECK(memmem(s->out, pos, "Content-Length: ", 16));
        return;
    }
    CHECK(memcmp(s->out, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
    bool closed = false;
    while (pos < s->out_len) {
        CHECK(!closed); /* nothing after a close frame */
        CHECK(s->out_len - pos >= 2);
        const uint8_t *f = s->out + pos;
        uint8_t op = f[0] & 0x0f;
        CHECK((f[0] & 0xf0) == 0x80); /* FIN, no RSV: the server never fragments */
        CHECK(op == 0x2 || op == 0x8 || op == 0xa);
        CHECK((f[1] & 0x80) == 0); /* unmasked */
        uint64_t len = f[1] & 0x7f;
        size_t hdr = 2;
        if (len == 126) {
            CHECK(s->out_len - pos >= 4);
            len = (uint64_t)f[2] << 8 | f[3];
            hdr = 4;
        } else if (len == 127) {
            CHECK(s->out_len - pos >= 10);
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | f[2 + i];
            hdr = 10;
        }
        CHECK(op == 0x2 || len <= 125);
        CHECK(s->out_len - pos - hdr >= len);
        if (op == 0x8) closed = true;
        pos += hdr + (size_t)len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const size_t chunks[] = {1, 7, 64, 1000, SIZE_MAX};
    uint8_t mode = data[0];
    size_t chunk = chunks[(mode & 7) % 5];
    bool trim = (mode & 7) >= 5; /* chunks of 1, 7 or 64 with a trim and an empty feed after each */
    bool prefix = mode & 0x08, after = mode & 0x80;
    data++;
    size--;

    hmq_ws_config_t cfg;
    hmq_ws_config_init(&cfg);
    cfg.trust_forwarded = mode & 0x10;
    if (mode & 0x20) cfg.max_message = 100;
    CHECK(hmq_ws_config_check(&cfg, NULL, 0) == 0);
    sink_t s = {.echo = mode & 0x40};
    hmq_ws_t *ws = hmq_ws_new(&cfg, &cb, &s);
    CHECK(ws);

    int rc = 0;
    if (prefix) {
        rc = hmq_ws_feed(ws, (const uint8_t *)request, sizeof(request) - 1);
        CHECK(rc == 0 && hmq_ws_open(ws));
        CHECK(!cfg.trust_forwarded || strcmp(hmq_ws_forwarded_for(ws), "192.0.2.1") == 0);
    }
    for (size_t off = 0; off < size && rc == 0; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        rc = hmq_ws_feed(ws, data + off, n);
        CHECK(rc == 0 || rc == HMQ_WS_CLOSED || rc == HMQ_WS_E_HANDSHAKE ||
              rc == HMQ_WS_E_PROTOCOL || rc == HMQ_WS_E_TOO_BIG);
        if (trim && rc == 0) {
            hmq_ws_trim(ws);
            CHECK(hmq_ws_feed(ws, data + off, 0) == 0);
        }
    }
    CHECK(s.received <= size);
    if (!hmq_ws_open(ws)) CHECK(s.received == 0 && hmq_ws_subprotocol(ws) == NULL);
    if (hmq_ws_open(ws))
        CHECK(strcmp(hmq_ws_subprotocol(ws), "mqtt") == 0 ||
              strcmp(hmq_ws_subprotocol(ws), "mqttv3.1") == 0);
    if (!cfg.trust_forwarded) CHECK(hmq_ws_forwarded_for(ws) == NULL);
    if (rc < 0) {
        CHECK(hmq_ws_error(ws) != NULL);
        CHECK(hmq_ws_feed(ws, data, size) == rc); /* sticky */
        CHECK(hmq_ws_write(ws, (const uint8_t *)"x", 1) == rc);
        CHECK(hmq_ws_close(ws, 1000) == rc);
    } else if (rc == HMQ_WS_CLOSED) {
        CHECK(hmq_ws_peer_closed(ws));
        CHECK(hmq_ws_write(ws, (const uint8_t *)"x", 1) == HMQ_WS_E_STATE);
    } else if (!hmq_ws_open(ws)) {
        CHECK(hmq_ws_write(ws, (const uint8_t *)"x", 1) == HMQ_WS_E_STATE);
        CHECK(hmq_ws_error(ws) == NULL);
    }
    if (after && rc == 0 && hmq_ws_open(ws)) {
        static uint8_t big[70000];
        int w = hmq_ws_write(ws, big, (mode & 1) ? sizeof(big) : 2);
        CHECK(w == 0 || w == HMQ_WS_E_STATE);
        int c = hmq_ws_close(ws, 1000);
        CHECK(c == 0 || c == HMQ_WS_E_STATE);
    }
    check_output(&s, hmq_ws_open(ws));
    hmq_ws_free(ws);
    free(s.out);
    return 0;
}
