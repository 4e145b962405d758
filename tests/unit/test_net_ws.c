/* test_net_ws.c - WebSocket engine (broker/src/net/ws*.c), the opening handshake: the exact 101
 * for RFC 6455's example key, every refusal with its status and reason (path 404, subprotocol
 * 400, version 426, method 405, head size 431, missing headers, bodies, malformed HTTP), chunked
 * and byte-by-byte requests, bytes after the head, the upgrade callback, X-Forwarded-For and
 * Forwarded with and without trust, the configuration check, and what Paho's Python client
 * sends. Frames: test_net_ws_frames.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_net_ws.h"

/* Feed request and expect a refusal: status line prefix, rc, and a reason containing why. */
static void expect_refusal(const char *request, const char *status_line, const char *why)
{
    ws_pair_t p;
    ws_pair_init(&p);
    ws_start(&p);
    assert_int_equal(ws_feed_str(&p, request), HMQ_WS_E_HANDSHAKE);
    assert_non_null(p.out.p);
    if (strncmp((const char *)p.out.p, status_line, strlen(status_line)) != 0)
        fail_msg("response %s, expected %s", (const char *)p.out.p, status_line);
    assert_non_null(strstr((const char *)p.out.p, "Connection: close\r\n")
                        ? strstr((const char *)p.out.p, "Connection: close\r\n")
                        : strstr((const char *)p.out.p, "Connection: Upgrade, close\r\n"));
    /* the Content-Length matches the body */
    const char *cl = strstr((const char *)p.out.p, "Content-Length: ");
    const char *body = strstr((const char *)p.out.p, "\r\n\r\n");
    assert_non_null(cl);
    assert_non_null(body);
    assert_int_equal(strtoul(cl + 16, NULL, 10), strlen(body + 4));
    assert_non_null(hmq_ws_error(p.ws));
    if (!strstr(hmq_ws_error(p.ws), why)) fail_msg("error \"%s\"", hmq_ws_error(p.ws));
    assert_false(hmq_ws_open(p.ws));
    assert_int_equal(p.upgrades, 0);
    /* sticky: nothing more is sent or delivered */
    size_t sent = p.out.len;
    assert_int_equal(ws_feed_str(&p, ws_request(NULL)), HMQ_WS_E_HANDSHAKE);
    assert_int_equal(p.out.len, sent);
    assert_int_equal(hmq_ws_write(p.ws, (const uint8_t *)"x", 1), HMQ_WS_E_HANDSHAKE);
    ws_pair_free(&p);
}

/* ---- the 101 --------------------------------------------------------------------------------- */

static void test_rfc_example_key(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    ws_start(&p);
    assert_false(hmq_ws_open(p.ws));
    assert_null(hmq_ws_subprotocol(p.ws));
    assert_int_equal(ws_feed_str(&p, ws_request(NULL)), 0);
    assert_string_equal((const char *)p.out.p, ws_101);
    assert_true(hmq_ws_open(p.ws));
    assert_int_equal(p.upgrades, 1);
    assert_string_equal(hmq_ws_subprotocol(p.ws), "mqtt");
    assert_null(hmq_ws_error(p.ws));
    assert_null(hmq_ws_forwarded_for(p.ws));
    assert_int_equal(p.app.len, 0);
    ws_pair_free(&p);
}

/* The example of RFC 6455 §1.2 (other key, "chat" subprotocol configured). */
static void test_rfc_section_1_2(void **state)
{
    (void)state;
    static const char *const protos[] = {"chat", NULL};
    ws_pair_t p;
    ws_pair_init(&p);
    p.cfg.path = "/chat";
    p.cfg.subprotocols = protos;
    ws_start(&p);
    assert_int_equal(ws_feed_str(&p, "GET /chat HTTP/1.1\r\n"
                                     "Host: server.example.com\r\n"
                                     "Upgrade: websocket\r\n"
                                     "Connection: Upgrade\r\n"
                                     "Sec-WebSocket-Key: " WS_KEY "\r\n"
                                     "Origin: http://example.com\r\n"
                                     "Sec-WebSocket-Protocol: chat, superchat\r\n"
                                     "Sec-WebSocket-Version: 13\r\n"
                                     "\r\n"),
                     0);
    assert_string_equal((const char *)p.out.p, "HTTP/1.1 101 Switching Protocols\r\n"
                                               "Upgrade: websocket\r\n"
                                               "Connection: Upgrade\r\n"
                                               "Sec-WebSocket-Accept: " WS_ACCEPT "\r\n"
                                               "Sec-WebSocket-Protocol: chat\r\n"
                                               "\r\n");
    ws_pair_free(&p);
}

static void test_other_key(void **state)
{
    (void)state;
    /* computed independently: python3 -c 'import base64,hashlib;print(base64.b64encode(
     * hashlib.sha1(b"x3JJHMbDL1EzLkh9GBhXDw==258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()))' */
    ws_pair_t p;
    ws_pair_init(&p);
    ws_start(&p);
    assert_int_equal(ws_feed_str(&p, "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                                     "Connection: Upgrade\r\n"
                                     "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
                                     "Sec-WebSocket-Version: 13\r\n"
                                     "Sec-WebSocket-Protocol: mqtt\r\n\r\n"),
                     0);
    assert_non_null(
        strstr((const char *)p.out.p, "Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n"));
    ws_pair_free(&p);
}

static void test_byte_at_a_time(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    ws_start(&p);
    /* a header name longer than the engine keeps, split over many feeds (found by fuzzing) */
    const char *req = ws_request("User-Agent: byte-by-byte\r\n"
                                 "X-A-Header-Name-Longer-Than-Any-Kept-One: 1\r\n");
    size_t n = strlen(req);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(p.out.len, 0); /* nothing before the last byte */
        assert_false(hmq_ws_open(p.ws));
        assert_int_equal(ws_feed(&p, req + i, 1), 0);
        assert_int_equal(ws_feed(&p, req + i, 0), 0); /* an empty read is not end of input */
    }
    assert_true(hmq_ws_open(p.ws));
    assert_string_equal((const char *)p.out.p, ws_101);
    ws_pair_free(&p);
}

/* Every split of the request into two feeds gives the same response. */
static void test_every_split(void **state)
{
    (void)state;
    const char *req = ws_request("X-Forwarded-For: 198.51.100.4\r\n");
    size_t n = strlen(req);
    for (size_t cut = 0; cut <= n; cut++) {
        ws_pair_t p;
        ws_pair_init(&p);
        p.cfg.trust_forwarded = true;
        ws_start(&p);
        assert_int_equal(ws_feed(&p, req, cut), 0);
        assert_int_equal(ws_feed(&p, req + cut, n - cut), 0);
        assert_true(hmq_ws_open(p.ws));
        assert_string_equal((const char *)p.out.p, ws_101);
        assert_string_equal(hmq_ws_forwarded_for(p.ws), "198.51.100.4");
        ws_pair_free(&p);
    }
}

/* Frames in the same chunk as the head are processed at once. */
static void test_bytes_after_head(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    ws_start(&p);
    uint8_t buf[1024];
    const char *req = ws_request(NULL);
    size_t n = strlen(req);
    memcpy(buf, req, n);
    n += ws_frame(buf + n, 1, OP_BINARY, "\x10\x0c\x00\x04MQTT\x05\x02\x00\x3c\x00\x00", 14);
    assert_int_equal(ws_feed(&p, buf, n), 0);
    assert_true(hmq_ws_open(p.ws));
    assert_int_equal(p.app.len, 14);
    assert_memory_equal(p.app.p, "\x10\x0c\x00\x04MQTT\x05\x02\x00\x3c\x00\x00", 14);
    assert_memory_equal(p.out.p, ws_101, strlen(ws_101));
    assert_int_equal(p.out.len, strlen(ws_101));
    ws_pair_free(&p);
}

static void test_header_variants(void **state)
{
    (void)state;
    /* token lists, case-insensitive tokens and names, a query, absolute-form target, several
     * Sec-WebSocket-Protocol lines, white space around values */
    static const char *const reqs[] = {
        "GET /mqtt?client=42 HTTP/1.1\r\nhost: h\r\nupgrade: WebSocket\r\n"
        "connection: keep-alive, Upgrade\r\nsec-websocket-key:   " WS_KEY "  \r\n"
        "SEC-WEBSOCKET-VERSION: 13\r\nsec-websocket-protocol: wamp\r\n"
        "Sec-WebSocket-Protocol: foo ,mqtt\r\n\r\n",
        "GET ws://broker.example.com/mqtt HTTP/1.1\r\nHost: broker.example.com\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
        "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: mqtt\r\nContent-Length: 0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        ws_pair_t p;
        ws_pair_init(&p);
        ws_start(&p);
        assert_int_equal(ws_feed_str(&p, reqs[i]), 0);
        assert_string_equal((const char *)p.out.p, ws_101); /* no extension accepted */
        ws_pair_free(&p);
    }
}

/* mqttv3.1 for old clients; the server's order of preference decides. */
static void test_subprotocol_selection(void **state)
{
    (void)state;
    static const struct {
        const char *offer, *selected;
    } cases[] = {
        {"mqttv3.1", "mqttv3.1"},
        {"mqttv3.1, mqtt", "mqtt"},
        {"mqtt, mqttv3.1", "mqtt"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char req[512];
        snprintf(req, sizeof(req),
                 "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Protocol: %s\r\n\r\n",
                 cases[i].offer);
        ws_pair_t p;
        ws_pair_init(&p);
        ws_start(&p);
        assert_int_equal(ws_feed_str(&p, req), 0);
        char line[64];
        snprintf(line, sizeof(line), "\r\nSec-WebSocket-Protocol: %s\r\n", cases[i].selected);
        assert_non_null(strstr((const char *)p.out.p, line));
        assert_string_equal(hmq_ws_subprotocol(p.ws), cases[i].selected);
        ws_pair_free(&p);
    }
}

/* What paho-mqtt 2.2 (Python, transport="websockets", ws_set_options(path="/ws")) sends, header
 * names as it spells them: Sec-WebSocket-Key is base64 of a uuid4, Origin is http://host:port. */
static void test_paho_python_request(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    p.cfg.path = "/ws";
    ws_start(&p);
    assert_int_equal(ws_feed_str(&p, "GET /ws HTTP/1.1\r\n"
                                     "Host: localhost:9001\r\n"
                                     "Upgrade: websocket\r\n"
                                     "Connection: Upgrade\r\n"
                                     "Origin: http://localhost:9001\r\n"
                                     "Sec-WebSocket-Key: yxr0UHuBS7iD9IzGgUYBjA==\r\n"
                                     "Sec-Websocket-Version: 13\r\n"
                                     "Sec-Websocket-Protocol: mqtt\r\n"
                                     "\r\n"),
                     0);
    const char *out = (const char *)p.out.p;
    /* paho reads the response line by line: every line naming "connection" must also name
     * "upgrade", and the Sec-WebSocket-Accept line must hold the right value */
    assert_int_equal(strncmp(out, "HTTP/1.1 101 ", 13), 0);
    assert_non_null(strstr(out, "\r\nUpgrade: websocket\r\n"));
    assert_non_null(strstr(out, "\r\nConnection: Upgrade\r\n"));
    assert_non_null(strstr(out, "\r\nSec-WebSocket-Protocol: mqtt\r\n"));
    assert_non_null(strstr(out, "\r\nSec-WebSocket-Accept: ZhPOqnupZDok5Zl1aXEgXyFdUUQ=\r\n"));
    ws_pair_free(&p);
}

/* ---- refusals -------------------------------------------------------------------------------- */

static void test_wrong_path_404(void **state)
{
    (void)state;
    const char *req = ws_request(NULL);
    char other[20000];
    snprintf(other, sizeof(other), "GET /other%s", req + strlen("GET /mqtt"));
    expect_refusal(other, "HTTP/1.1 404 Not Found\r\n", "path not served (404): path \"/other\"");
    snprintf(other, sizeof(other), "GET /MQTT%s", req + strlen("GET /mqtt"));
    expect_refusal(other, "HTTP/1.1 404 ", "\"/MQTT\""); /* case-sensitive */
    snprintf(other, sizeof(other), "GET /mqtt/%s", req + strlen("GET /mqtt"));
    expect_refusal(other, "HTTP/1.1 404 ", "\"/mqtt/\"");
    snprintf(other, sizeof(other), "GET /\x01x%s", req + strlen("GET /mqtt"));
    expect_refusal(other, "HTTP/1.1 400 ", "malformed HTTP request");
}

static void test_subprotocol_400(void **state)
{
    (void)state;
    const char *base = "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
                       "Sec-WebSocket-Version: 13\r\n";
    char req[512];
    snprintf(req, sizeof(req), "%s\r\n", base);
    expect_refusal(req, "HTTP/1.1 400 Bad Request\r\n", "missing Sec-WebSocket-Protocol (mqtt)");
    snprintf(req, sizeof(req), "%sSec-WebSocket-Protocol: wamp, MQTT, mqtt5\r\n\r\n", base);
    expect_refusal(req, "HTTP/1.1 400 ", "no supported Sec-WebSocket-Protocol offered");
}

static void test_version_426(void **state)
{
    (void)state;
    const char *base = "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
                       "Sec-WebSocket-Protocol: mqtt\r\n";
    char req[512];
    snprintf(req, sizeof(req), "%sSec-WebSocket-Version: 8\r\n\r\n", base);
    expect_refusal(req, "HTTP/1.1 426 Upgrade Required\r\n", "(426): version \"8\"");
    ws_pair_t p;
    ws_pair_init(&p);
    ws_start(&p);
    assert_int_equal(ws_feed_str(&p, req), HMQ_WS_E_HANDSHAKE);
    assert_non_null(strstr((const char *)p.out.p, "\r\nSec-WebSocket-Version: 13\r\n"));
    assert_non_null(strstr((const char *)p.out.p, "\r\nUpgrade: websocket\r\n"));
    ws_pair_free(&p);
    snprintf(req, sizeof(req), "%sSec-WebSocket-Version: 13, 8\r\n\r\n", base);
    expect_refusal(req, "HTTP/1.1 426 ", "unsupported Sec-WebSocket-Version");
    snprintf(req, sizeof(req), "%sSec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n\r\n",
             base);
    expect_refusal(req, "HTTP/1.1 426 ", "unsupported Sec-WebSocket-Version");
    snprintf(req, sizeof(req), "%s\r\n", base);
    expect_refusal(req, "HTTP/1.1 400 ", "missing Sec-WebSocket-Version");
}

static void test_head_too_large(void **state)
{
    (void)state;
    /* a head of exactly HMQ_WS_HEAD_MAX bytes is accepted, one more is refused */
    const char *base = ws_request("X-Pad: \r\n");
    size_t pad = HMQ_WS_HEAD_MAX - strlen(base);
    char *extra = malloc(pad + 16);
    for (int over = 0; over <= 1; over++) {
        memcpy(extra, "X-Pad: ", 7);
        memset(extra + 7, 'a', pad + over);
        memcpy(extra + 7 + pad + over, "\r\n", 3);
        const char *req = ws_request(extra);
        assert_int_equal(strlen(req), HMQ_WS_HEAD_MAX + over);
        ws_pair_t p;
        ws_pair_init(&p);
        ws_start(&p);
        int rc = ws_feed_str(&p, req);
        if (!over) {
            assert_int_equal(rc, 0);
            assert_true(hmq_ws_open(p.ws));
        } else {
            assert_int_equal(rc, HMQ_WS_E_HANDSHAKE);
            assert_memory_equal(p.out.p, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46);
            assert_string_equal(hmq_ws_error(p.ws), "request head too large (431)");
        }
        ws_pair_free(&p);
    }
    free(extra);
    /* an endless header fed in small pieces is cut at the cap, not buffered */
    ws_pair_t p;
    ws_pair_init(&p);
    ws_start(&p);
    assert_int_equal(ws_feed_str(&p, "GET /mqtt HTTP/1.1\r\nX-Long: "), 0);
    int rc = 0;
    size_t fed = 0;
    while (rc == 0 && fed < 100000) {
        rc = ws_feed_str(&p, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        fed += 65;
    }
    assert_int_equal(rc, HMQ_WS_E_HANDSHAKE);
    assert_true(fed < HMQ_WS_HEAD_MAX + 65);
    assert_memory_equal(p.out.p, "HTTP/1.1 431 ", 13);
    ws_pair_free(&p);
}

static void test_request_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *req, *status, *why;
    } cases[] = {
        {"POST /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
         "HTTP/1.1 405 Method Not Allowed\r\n", "method must be GET"},
        {"GET /mqtt HTTP/1.0\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
         "HTTP/1.1 400 ", "HTTP/1.1 required"},
        {"GET /mqtt HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
         "HTTP/1.1 400 ", "exactly one Host header"},
        {"GET /mqtt HTTP/1.1\r\nHost: a\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
         "HTTP/1.1 400 ", "exactly one Host header"},
        {"GET /mqtt HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 400 ", "(Upgrade: websocket)"},
        {"GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
         "HTTP/1.1 400 ", "(Upgrade: websocket)"},
        {"GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
         "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
         "HTTP/1.1 400 ", "(Connection: Upgrade)"},
        {"GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
         "HTTP/1.1 400 ", "Sec-WebSocket-Key"},
        {"GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
         "HTTP/1.1 400 ", "Sec-WebSocket-Key"},
        {"GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
         "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
         "HTTP/1.1 400 ", "Sec-WebSocket-Key"},
        {"GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
         "HTTP/1.1 400 ", "Sec-WebSocket-Key"},
        {"GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=A\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
         "HTTP/1.1 400 ", "Sec-WebSocket-Key"},
        {"GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Protocol: mqtt\r\nContent-Length: 5\r\n\r\nhello",
         "HTTP/1.1 400 ", "no body"},
        {"GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Protocol: mqtt\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "HTTP/1.1 400 ", "no body"},
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "HTTP/1.1 400 ",
         "malformed HTTP request (400): invalid HTTP method"}, /* a TLS ClientHello on a ws port */
        {"\x10\x0c\x00\x04MQTT\x05\x02\x00\x3c\x00\x00", "HTTP/1.1 400 ",
         "malformed HTTP request"}, /* MQTT CONNECT on a ws port */
        {"GET /mqtt HTTP/1.1\r\nHost h\r\n\r\n", "HTTP/1.1 400 ", "malformed HTTP request"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_refusal(cases[i].req, cases[i].status, cases[i].why);
}

static void test_upgrade_callback_refuses(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    p.upgrade_rc = -77;
    ws_start(&p);
    assert_int_equal(ws_feed_str(&p, ws_request(NULL)), -77);
    assert_int_equal(p.upgrades, 1);
    assert_memory_equal(p.out.p, "HTTP/1.1 403 Forbidden\r\n", 24);
    assert_false(hmq_ws_open(p.ws));
    assert_null(hmq_ws_error(p.ws)); /* the callback's own reason */
    assert_int_equal(ws_feed_str(&p, "x"), -77);
    ws_pair_free(&p);
}

static void test_send_callback_fails(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    p.send_rc = -5;
    ws_start(&p);
    assert_int_equal(ws_feed_str(&p, ws_request(NULL)), -5);
    assert_string_equal(hmq_ws_error(p.ws), "send callback failed");
    assert_int_equal(ws_feed_str(&p, "x"), -5);
    ws_pair_free(&p);
}

/* ---- X-Forwarded-For / Forwarded ---------------------------------------------------------------
 */

static const char *forwarded(bool trust, const char *headers)
{
    static char result[64];
    ws_pair_t p;
    ws_pair_init(&p);
    p.cfg.trust_forwarded = trust;
    ws_start(&p);
    assert_int_equal(ws_feed_str(&p, ws_request(headers)), 0);
    assert_true(hmq_ws_open(p.ws));
    const char *a = hmq_ws_forwarded_for(p.ws);
    snprintf(result, sizeof(result), "%s", a ? a : "(null)");
    ws_pair_free(&p);
    return result;
}

static void test_forwarded_for(void **state)
{
    (void)state;
    static const struct {
        bool trust;
        const char *headers, *address;
    } cases[] = {
        {true, "X-Forwarded-For: 203.0.113.7\r\n", "203.0.113.7"},
        {false, "X-Forwarded-For: 203.0.113.7\r\n", "(null)"},
        {true, "x-forwarded-for: 203.0.113.7, 10.0.0.1, 10.0.0.2\r\n", "203.0.113.7"},
        {true, "X-Forwarded-For:  2001:DB8::0:1 \r\n", "2001:db8::1"},
        {true, "X-Forwarded-For: [2001:db8::1]:4711\r\n", "2001:db8::1"},
        {true, "X-Forwarded-For: 192.0.2.9:51234\r\n", "192.0.2.9"},
        {true, "X-Forwarded-For: unknown, 192.0.2.1\r\n", "(null)"},
        {true, "X-Forwarded-For: 192.0.2.300\r\n", "(null)"},
        {true, "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-For: 192.0.2.2\r\n", "192.0.2.1"},
        {true, "Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43\r\n", "192.0.2.60"},
        {true, "Forwarded: For=\"[2001:db8:cafe::17]:4711\"\r\n", "2001:db8:cafe::17"},
        {true, "Forwarded: proto=https; for=\"192.0.2.43:47011\", for=198.51.100.17\r\n",
         "192.0.2.43"},
        {true, "Forwarded: for=_hidden, for=198.51.100.17\r\n", "(null)"},
        {true, "Forwarded: proto=https, for=198.51.100.17\r\n", "(null)"}, /* not the first */
        {true, "Forwarded: for=\"[2001:db8::1\"\r\n", "(null)"},
        {true, "Forwarded: for=\"192.0.2.1\r\n", "(null)"},
        /* Forwarded first, X-Forwarded-For when Forwarded has no usable for= */
        {true, "X-Forwarded-For: 192.0.2.1\r\nForwarded: for=192.0.2.2\r\n", "192.0.2.2"},
        {true, "Forwarded: for=unknown\r\nX-Forwarded-For: 192.0.2.1\r\n", "192.0.2.1"},
        {false, "Forwarded: for=192.0.2.2\r\n", "(null)"},
        {true, "", "(null)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = forwarded(cases[i].trust, cases[i].headers);
        if (strcmp(got, cases[i].address) != 0)
            fail_msg("case %zu (%s): got %s, expected %s", i, cases[i].headers, got,
                     cases[i].address);
    }
}

/* The address is known in the upgrade callback (admission control by client address). */
static int check_address_in_upgrade(hmq_ws_t *ws)
{
    const char *a = hmq_ws_forwarded_for(ws);
    return a && strcmp(a, "203.0.113.7") == 0 ? 0 : -1;
}

static void test_forwarded_in_upgrade_callback(void **state)
{
    (void)state;
    static const hmq_ws_cb_t cb = {ws_on_send, ws_on_recv, check_address_in_upgrade};
    ws_pair_t p;
    ws_pair_init(&p);
    p.cfg.trust_forwarded = true;
    p.ws = hmq_ws_new(&p.cfg, &cb, &p);
    assert_int_equal(ws_feed_str(&p, ws_request("X-Forwarded-For: 203.0.113.7\r\n")), 0);
    assert_true(hmq_ws_open(p.ws));
    ws_pair_free(&p);
}

/* ---- configuration --------------------------------------------------------------------------- */

static void test_config_check(void **state)
{
    (void)state;
    hmq_ws_config_t cfg;
    hmq_ws_config_init(&cfg);
    assert_string_equal(cfg.path, "/mqtt");
    assert_string_equal(cfg.subprotocols[0], "mqtt");
    assert_string_equal(cfg.subprotocols[1], "mqttv3.1");
    assert_null(cfg.subprotocols[2]);
    assert_false(cfg.trust_forwarded);
    char err[128];
    assert_int_equal(hmq_ws_config_check(&cfg, err, sizeof(err)), 0);
    cfg.path = "mqtt";
    assert_int_equal(hmq_ws_config_check(&cfg, err, sizeof(err)), HMQ_WS_E_CONFIG);
    assert_string_equal(err, "path must start with '/'");
    cfg.path = "/mqtt?x=1";
    assert_int_equal(hmq_ws_config_check(&cfg, err, sizeof(err)), HMQ_WS_E_CONFIG);
    cfg.path = "/";
    assert_int_equal(hmq_ws_config_check(&cfg, NULL, 0), 0);
    static const char *const none[] = {NULL};
    cfg.subprotocols = none;
    assert_int_equal(hmq_ws_config_check(&cfg, err, sizeof(err)), HMQ_WS_E_CONFIG);
    static const char *const bad[] = {"mqtt", "mq tt", NULL};
    cfg.subprotocols = bad;
    assert_int_equal(hmq_ws_config_check(&cfg, err, sizeof(err)), HMQ_WS_E_CONFIG);
    assert_string_equal(err, "a subprotocol name is not an HTTP token");
}

static void test_root_path(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    p.cfg.path = "/";
    ws_start(&p);
    /* absolute-form without a path means "/" */
    assert_int_equal(ws_feed_str(&p, "GET ws://h:80 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                                     "Connection: Upgrade\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
                                     "Sec-WebSocket-Version: 13\r\n"
                                     "Sec-WebSocket-Protocol: mqtt\r\n\r\n"),
                     0);
    assert_true(hmq_ws_open(p.ws));
    ws_pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_example_key),
        cmocka_unit_test(test_rfc_section_1_2),
        cmocka_unit_test(test_other_key),
        cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_bytes_after_head),
        cmocka_unit_test(test_header_variants),
        cmocka_unit_test(test_subprotocol_selection),
        cmocka_unit_test(test_paho_python_request),
        cmocka_unit_test(test_wrong_path_404),
        cmocka_unit_test(test_subprotocol_400),
        cmocka_unit_test(test_version_426),
        cmocka_unit_test(test_head_too_large),
        cmocka_unit_test(test_request_refusals),
        cmocka_unit_test(test_upgrade_callback_refuses),
        cmocka_unit_test(test_send_callback_fails),
        cmocka_unit_test(test_forwarded_for),
        cmocka_unit_test(test_forwarded_in_upgrade_callback),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_root_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
