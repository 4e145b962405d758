/* test_net_ws_frames.c - WebSocket engine (broker/src/net/ws*.c) after the upgrade: client frames
 * built by hand (test_net_ws.h) fed whole, merged and split at every byte; MQTT packets spanning
 * frames; fragmented messages with pings between; ping/pong; both close handshakes; text,
 * unmasked, reserved-bit and malformed frames refused with the right close code; messages above
 * max_message; large frames both ways (16- and 64-bit lengths); writes from the recv callback;
 * callback failures; hmq_ws_trim and the memory an idle connection keeps.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_net_ws.h"

static const uint8_t connect_pkt[] = {0x10, 0x0c, 0x00, 0x04, 'M',  'Q',  'T',
                                      'T',  0x05, 0x02, 0x00, 0x3c, 0x00, 0x00};

/* ---- data ------------------------------------------------------------------------------------ */

static void test_binary_frame(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    ws_open(&p);
    uint8_t buf[64];
    size_t n = ws_frame(buf, 1, OP_BINARY, connect_pkt, sizeof(connect_pkt));
    assert_int_equal(ws_feed(&p, buf, n), 0);
    assert_int_equal(p.app.len, sizeof(connect_pkt));
    assert_memory_equal(p.app.p, connect_pkt, sizeof(connect_pkt));
    assert_int_equal(p.out.len, 0); /* nothing to answer */
    /* the server's frame: 0x82, length, payload, unmasked */
    assert_int_equal(hmq_ws_write(p.ws, (const uint8_t *)"\x20\x03\x00\x00\x00", 5), 0);
    assert_int_equal(p.out.len, 7);
    assert_memory_equal(p.out.p, "\x82\x05\x20\x03\x00\x00\x00", 7);
    ws_pair_free(&p);
}

/* Several packets in one frame, one packet over several frames, several frames in one feed, and
 * every split of that feed: the bytes delivered are the MQTT stream, in order. */
static void test_split_and_merged_frames(void **state)
{
    (void)state;
    uint8_t stream[256];
    size_t slen = 0;
    for (int i = 0; i < 6; i++) { /* PUBLISH "t", payload "i" */
        const uint8_t pub[] = {0x30, 0x04, 0x00, 0x01, 't', (uint8_t)('0' + i)};
        memcpy(stream + slen, pub, sizeof(pub));
        slen += sizeof(pub);
    }
    uint8_t wire[512];
    size_t n = 0;
    n += ws_frame(wire + n, 1, OP_BINARY, stream, 12);      /* two packets */
    n += ws_frame(wire + n, 1, OP_BINARY, stream + 12, 4);  /* a packet's head */
    n += ws_frame(wire + n, 1, OP_BINARY, stream + 16, 2);  /* its tail */
    n += ws_frame(wire + n, 1, OP_BINARY, stream + 18, 0);  /* an empty frame */
    n += ws_frame(wire + n, 1, OP_BINARY, stream + 18, 18); /* three packets */
    for (size_t cut = 0; cut <= n; cut++) {
        ws_pair_t p;
        ws_pair_init(&p);
        ws_open(&p);
        assert_int_equal(ws_feed(&p, wire, cut), 0);
        assert_int_equal(ws_feed(&p, wire + cut, n - cut), 0);
        assert_int_equal(p.app.len, slen);
        assert_memory_equal(p.app.p, stream, slen);
        assert_int_equal(p.out.len, 0);
        ws_pair_free(&p);
    }
    /* one byte at a time */
    ws_pair_t p;
    ws_pair_init(&p);
    ws_open(&p);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ws_feed(&p, wire + i, 1), 0);
    assert_int_equal(p.app.len, slen);
    assert_memory_equal(p.app.p, stream, slen);
    ws_pair_free(&p);
}

/* A fragmented message (binary + continuations) with a ping between fragments. */
static void test_fragmented_message_with_ping(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    ws_open(&p);
    uint8_t buf[128];
    size_t n = 0;
    n += ws_frame(buf + n, 0, OP_BINARY, connect_pkt, 5);
    n += ws_frame(buf + n, 1, OP_PING, "hb", 2);
    n += ws_frame(buf + n, 0, OP_CONT, connect_pkt + 5, 5);
    assert_int_equal(ws_feed(&p, buf, n), 0);
    assert_int_equal(p.app.len, 10);
    ws_frame_t f = {0};
    assert_true(ws_next(&p, &f));
    assert_int_equal(f.opcode, OP_PONG);
    assert_int_equal(f.len, 2);
    assert_memory_equal(f.payload, "hb", 2);
    n = ws_frame(buf, 1, OP_CONT, connect_pkt + 10, 4);
    assert_int_equal(ws_feed(&p, buf, n), 0);
    assert_int_equal(p.app.len, sizeof(connect_pkt));
    assert_memory_equal(p.app.p, connect_pkt, sizeof(connect_pkt));
    /* a new message may start now; a continuation without one may not */
    n = ws_frame(buf, 1, OP_BINARY, "\xc0\x00", 2);
    assert_int_equal(ws_feed(&p, buf, n), 0);
    n = ws_frame(buf, 1, OP_CONT, "\xc0\x00", 2);
    assert_int_equal(ws_feed(&p, buf, n), HMQ_WS_E_PROTOCOL);
    ws_expect_close(&p, 1002);
    ws_pair_free(&p);
}

/* A new data frame while a fragmented message is open is a protocol error. */
static void test_interleaved_messages(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    ws_open(&p);
    uint8_t buf[64];
    size_t n = ws_frame(buf, 0, OP_BINARY, "ab", 2);
    n += ws_frame(buf + n, 1, OP_BINARY, "cd", 2);
    assert_int_equal(ws_feed(&p, buf, n), HMQ_WS_E_PROTOCOL);
    assert_int_equal(p.app.len, 2);
    ws_expect_close(&p, 1002);
    ws_pair_free(&p);
}

static void test_ping_pong(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    ws_open(&p);
    uint8_t buf[256], payload[125];
    memset(payload, 0x5a, sizeof(payload));
    size_t n = ws_frame(buf, 1, OP_PING, payload, sizeof(payload)); /* the largest allowed */
    n += ws_frame(buf + n, 1, OP_PING, NULL, 0);
    n += ws_frame(buf + n, 1, OP_PONG, "unsolicited", 11); /* ignored (RFC 6455 §5.5.3) */
    assert_int_equal(ws_feed(&p, buf, n), 0);
    ws_frame_t f = {0};
    assert_true(ws_next(&p, &f));
    assert_int_equal(f.opcode, OP_PONG);
    assert_int_equal(f.fin, 1);
    assert_int_equal(f.len, 125);
    assert_memory_equal(f.payload, payload, 125);
    assert_true(ws_next(&p, &f));
    assert_int_equal(f.opcode, OP_PONG);
    assert_int_equal(f.len, 0);
    assert_false(ws_next(&p, &f));
    assert_int_equal(p.app.len, 0);
    ws_pair_free(&p);
}

/* ---- close ----------------------------------------------------------------------------------- */

static void test_client_close(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    ws_open(&p);
    uint8_t buf[64];
    size_t n = ws_close_frame(buf, 1000);
    n += ws_frame(buf + n, 1, OP_BINARY, "late", 4); /* after the close: ignored */
    assert_int_equal(ws_feed(&p, buf, n), HMQ_WS_CLOSED);
    ws_expect_close(&p, 1000); /* echoed */
    assert_int_equal(p.app.len, 0);
    assert_true(hmq_ws_peer_closed(p.ws));
    assert_int_equal(hmq_ws_peer_close_code(p.ws), 1000);
    assert_null(hmq_ws_error(p.ws));
    assert_int_equal(hmq_ws_write(p.ws, (const uint8_t *)"x", 1), HMQ_WS_E_STATE);
    assert_int_equal(hmq_ws_close(p.ws, 1000), HMQ_WS_E_STATE);
    assert_int_equal(ws_feed(&p, buf, n), HMQ_WS_CLOSED);
    ws_pair_free(&p);

    /* a close without a status code is answered with an empty close */
    ws_pair_init(&p);
    ws_open(&p);
    n = ws_close_frame(buf, 0);
    assert_int_equal(ws_feed(&p, buf, n), HMQ_WS_CLOSED);
    ws_frame_t f = {0};
    assert_true(ws_next(&p, &f));
    assert_int_equal(f.opcode, OP_CLOSE);
    assert_int_equal(f.len, 0);
    assert_int_equal(hmq_ws_peer_close_code(p.ws), 0);
    ws_pair_free(&p);
}

static void test_server_close(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    ws_open(&p);
    assert_int_equal(hmq_ws_close(p.ws, HMQ_WS_CLOSE_NORMAL), 0);
    assert_int_equal(p.out.len, 4);
    assert_memory_equal(p.out.p, "\x88\x02\x03\xe8", 4);
    assert_int_equal(hmq_ws_write(p.ws, (const uint8_t *)"x", 1), HMQ_WS_E_STATE);
    assert_int_equal(hmq_ws_close(p.ws, HMQ_WS_CLOSE_NORMAL), HMQ_WS_E_STATE);
    /* data in flight still arrives, pings are not answered any more, then the reply */
    uint8_t buf[64];
    size_t n = ws_frame(buf, 1, OP_BINARY, "\xe0\x00", 2);
    n += ws_frame(buf + n, 1, OP_PING, "p", 1);
    n += ws_close_frame(buf + n, 1000);
    assert_int_equal(ws_feed(&p, buf, n), HMQ_WS_CLOSED);
    assert_int_equal(p.app.len, 2);
    assert_int_equal(p.out.len, 4); /* no pong, no second close */
    assert_int_equal(hmq_ws_peer_close_code(p.ws), 1000);
    ws_pair_free(&p);

    /* before the upgrade there is nothing to close */
    ws_pair_init(&p);
    ws_start(&p);
    assert_int_equal(hmq_ws_close(p.ws, 1000), HMQ_WS_E_STATE);
    assert_int_equal(hmq_ws_write(p.ws, (const uint8_t *)"x", 1), HMQ_WS_E_STATE);
    assert_int_equal(p.out.len, 0);
    ws_pair_free(&p);
}

/* ---- refusals -------------------------------------------------------------------------------- */

/* Feed frame bytes after the upgrade; expect rc, a close frame with code, and a reason. */
static void expect_frame_refusal(const uint8_t *wire, size_t n, int rc, uint16_t code,
                                 const char *why)
{
    ws_pair_t p;
    ws_pair_init(&p);
    ws_open(&p);
    assert_int_equal(ws_feed(&p, wire, n), rc);
    ws_frame_t f = {0};
    assert_true(ws_next(&p, &f));
    assert_int_equal(f.opcode, OP_CLOSE);
    assert_int_equal(f.close_code, code);
    assert_false(ws_next(&p, &f));
    assert_int_equal(p.app.len, 0);
    assert_non_null(hmq_ws_error(p.ws));
    if (!strstr(hmq_ws_error(p.ws), why)) fail_msg("error \"%s\"", hmq_ws_error(p.ws));
    /* sticky */
    assert_int_equal(ws_feed(&p, wire, n), rc);
    assert_int_equal(hmq_ws_write(p.ws, (const uint8_t *)"x", 1), rc);
    assert_int_equal(hmq_ws_close(p.ws, 1000), rc);
    ws_pair_free(&p);
}

static void test_text_frame_refused(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = ws_frame(buf, 1, OP_TEXT, "{\"mqtt\":1}", 10);
    expect_frame_refusal(buf, n, HMQ_WS_E_PROTOCOL, 1003, "text frame");
    /* the reason is in the close frame too */
    ws_pair_t p;
    ws_pair_init(&p);
    ws_open(&p);
    assert_int_equal(ws_feed(&p, buf, n), HMQ_WS_E_PROTOCOL);
    ws_frame_t f = {0};
    assert_true(ws_next(&p, &f));
    assert_int_equal(f.len, 2 + strlen("text frame (MQTT needs binary frames)"));
    assert_memory_equal(f.payload + 2, "text frame", 10);
    ws_pair_free(&p);
}

static void test_unmasked_frame_refused(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = ws_frame_ex(buf, 1, 0, OP_BINARY, connect_pkt, sizeof(connect_pkt), 0);
    expect_frame_refusal(buf, n, HMQ_WS_E_PROTOCOL, 1002, "malformed frame");
}

static void test_malformed_frames_refused(void **state)
{
    (void)state;
    uint8_t buf[512], big[200];
    memset(big, 1, sizeof(big));
    size_t n;
    /* RSV1 without permessage-deflate */
    n = ws_frame_ex(buf, 1, 4, OP_BINARY, "ab", 2, 1);
    expect_frame_refusal(buf, n, HMQ_WS_E_PROTOCOL, 1002, "malformed frame");
    /* reserved opcodes */
    n = ws_frame(buf, 1, 3, "ab", 2);
    expect_frame_refusal(buf, n, HMQ_WS_E_PROTOCOL, 1002, "malformed frame");
    n = ws_frame(buf, 1, 0xb, "ab", 2);
    expect_frame_refusal(buf, n, HMQ_WS_E_PROTOCOL, 1002, "malformed frame");
    /* a close with a code that may not be sent */
    n = ws_close_frame(buf, 1005);
    expect_frame_refusal(buf, n, HMQ_WS_E_PROTOCOL, 1002, "malformed frame");
    /* wslay's frame layer: a ping over 125 bytes, a fragmented ping, a non-minimal length;
     * answered with a close without a status code */
    static const uint8_t long_len[] = {0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4, 'a', 'b', 'c', 'd', 'e'};
    const struct {
        const uint8_t *wire;
        size_t n;
    } layer[] = {{buf, ws_frame(buf, 1, OP_PING, big, 126)},
                 {buf + 256, ws_frame(buf + 256, 0, OP_PING, "x", 1)},
                 {long_len, sizeof(long_len)}};
    for (size_t i = 0; i < 3; i++) {
        ws_pair_t p;
        ws_pair_init(&p);
        ws_open(&p);
        assert_int_equal(ws_feed(&p, layer[i].wire, layer[i].n), HMQ_WS_E_PROTOCOL);
        ws_frame_t f = {0};
        assert_true(ws_next(&p, &f));
        assert_int_equal(f.opcode, OP_CLOSE);
        assert_non_null(strstr(hmq_ws_error(p.ws), "malformed frame"));
        ws_pair_free(&p);
    }
}

static void test_message_too_big(void **state)
{
    (void)state;
    uint8_t buf[256], payload[100] = {0};
    /* one frame above the limit: refused from its header, nothing delivered */
    ws_pair_t p;
    ws_pair_init(&p);
    p.cfg.max_message = 64;
    ws_open(&p);
    ws_frame(buf, 1, OP_BINARY, payload, 65);
    assert_int_equal(ws_feed(&p, buf, 7), HMQ_WS_E_TOO_BIG); /* header + 1 byte */
    ws_expect_close(&p, 1009);
    assert_int_equal(p.app.len, 0);
    assert_string_equal(hmq_ws_error(p.ws), "message too big");
    ws_pair_free(&p);
    /* exactly the limit is fine */
    ws_pair_init(&p);
    p.cfg.max_message = 64;
    ws_open(&p);
    size_t n = ws_frame(buf, 1, OP_BINARY, payload, 64);
    assert_int_equal(ws_feed(&p, buf, n), 0);
    assert_int_equal(p.app.len, 64);
    ws_pair_free(&p);
    /* fragments adding up to more */
    ws_pair_init(&p);
    p.cfg.max_message = 64;
    ws_open(&p);
    n = ws_frame(buf, 0, OP_BINARY, payload, 40);
    n += ws_frame(buf + n, 1, OP_CONT, payload, 40);
    assert_int_equal(ws_feed(&p, buf, n), HMQ_WS_E_TOO_BIG);
    ws_expect_close(&p, 1009);
    assert_int_equal(p.app.len, 40);
    ws_pair_free(&p);
}

/* ---- large frames ---------------------------------------------------------------------------- */

static void test_large_messages(void **state)
{
    (void)state;
    static const size_t sizes[] = {125, 126, 65535, 65536, 1 << 20};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t len = sizes[s];
        uint8_t *payload = malloc(len), *wire = malloc(len + 14);
        for (size_t i = 0; i < len; i++)
            payload[i] = (uint8_t)(i * 31 + 7);
        size_t n = ws_frame(wire, 1, OP_BINARY, payload, len);
        ws_pair_t p;
        ws_pair_init(&p);
        ws_open(&p);
        /* fed in 1000-byte reads: delivered as it arrives, not once at the end */
        for (size_t off = 0; off < n; off += 1000)
            assert_int_equal(ws_feed(&p, wire + off, n - off < 1000 ? n - off : 1000), 0);
        assert_int_equal(p.app.len, len);
        assert_memory_equal(p.app.p, payload, len);
        if (len > 4096) assert_true(p.recv_calls >= (int)(len / 4096));
        /* and the server sends one frame of the same size */
        assert_int_equal(hmq_ws_write(p.ws, payload, len), 0);
        ws_frame_t f = {0};
        assert_true(ws_next(&p, &f));
        assert_int_equal(f.opcode, OP_BINARY);
        assert_int_equal(f.fin, 1);
        assert_int_equal(f.len, len);
        assert_memory_equal(f.payload, payload, len);
        assert_int_equal(p.out_read, p.out.len);
        ws_pair_free(&p);
        free(payload);
        free(wire);
    }
}

/* ---- callbacks ------------------------------------------------------------------------------- */

/* Writes made while a feed delivers data are sent once the feed returns. */
static void test_write_from_recv_callback(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    ws_open(&p);
    p.echo = "CONNACK"; /* a stand-in: echo is a string */
    uint8_t buf[128];
    size_t n = ws_frame(buf, 1, OP_BINARY, connect_pkt, sizeof(connect_pkt));
    n += ws_frame(buf + n, 1, OP_PING, "x", 1);
    assert_int_equal(ws_feed(&p, buf, n), 0);
    /* both queued before anything is sent; wslay picks the order */
    int pongs = 0, binaries = 0;
    ws_frame_t f = {0};
    while (ws_next(&p, &f)) {
        if (f.opcode == OP_PONG) {
            assert_int_equal(f.len, 1);
            pongs++;
        } else {
            assert_int_equal(f.opcode, OP_BINARY);
            assert_int_equal(f.len, 7);
            assert_memory_equal(f.payload, "CONNACK", 7);
            binaries++;
        }
    }
    assert_int_equal(pongs, 1);
    assert_int_equal(binaries, 1);
    ws_pair_free(&p);
}

static void test_recv_callback_fails(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    ws_open(&p);
    p.recv_rc = -42;
    uint8_t buf[128];
    size_t n = ws_frame(buf, 1, OP_BINARY, "ab", 2);
    n += ws_frame(buf + n, 1, OP_BINARY, "cd", 2);
    assert_int_equal(ws_feed(&p, buf, n), -42);
    assert_int_equal(p.recv_calls, 1); /* nothing after the failure */
    assert_null(hmq_ws_error(p.ws));
    assert_int_equal(ws_feed(&p, buf, n), -42);
    assert_int_equal(hmq_ws_write(p.ws, (const uint8_t *)"x", 1), -42);
    ws_pair_free(&p);
}

static void test_send_callback_fails_on_write(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    ws_open(&p);
    p.send_rc = -9;
    assert_int_equal(hmq_ws_write(p.ws, (const uint8_t *)"x", 1), -9);
    assert_string_equal(hmq_ws_error(p.ws), "send callback failed");
    assert_int_equal(hmq_ws_write(p.ws, (const uint8_t *)"x", 1), -9);
    uint8_t buf[16];
    size_t n = ws_frame(buf, 1, OP_PING, "x", 1);
    assert_int_equal(ws_feed(&p, buf, n), -9);
    ws_pair_free(&p);
    /* a pong that cannot be sent fails the feed */
    ws_pair_init(&p);
    ws_open(&p);
    p.send_rc = -9;
    assert_int_equal(ws_feed(&p, buf, n), -9);
    ws_pair_free(&p);
}

static void test_set_data(void **state)
{
    (void)state;
    ws_pair_t p, q;
    ws_pair_init(&p);
    ws_pair_init(&q);
    ws_open(&p);
    hmq_ws_set_data(p.ws, &q);
    assert_ptr_equal(hmq_ws_data(p.ws), &q);
    uint8_t buf[16];
    size_t n = ws_frame(buf, 1, OP_BINARY, "ab", 2);
    assert_int_equal(ws_feed(&p, buf, n), 0);
    assert_int_equal(p.app.len, 0);
    assert_int_equal(q.app.len, 2);
    free(q.app.p);
    ws_pair_free(&p);
}

/* ---- memory ---------------------------------------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* hmq_ws_trim frees wslay's context only between frames; the connection goes on as before. */
static void test_trim(void **state)
{
    (void)state;
    ws_pair_t p;
    ws_pair_init(&p);
    ws_start(&p);
    assert_true(hmq_ws_trim(p.ws)); /* nothing to free before the upgrade */
    assert_int_equal(ws_feed_str(&p, ws_request(NULL)), 0);
    p.out.len = 0;
    uint8_t buf[128];
    size_t n = ws_frame(buf, 1, OP_BINARY, connect_pkt, sizeof(connect_pkt));
    assert_int_equal(ws_feed(&p, buf, 5), 0); /* half a frame */
    assert_false(hmq_ws_trim(p.ws));
    assert_int_equal(ws_feed(&p, buf + 5, n - 5), 0);
    assert_true(hmq_ws_trim(p.ws));
    assert_true(hmq_ws_trim(p.ws));
    /* an open fragmented message */
    n = ws_frame(buf, 0, OP_BINARY, "ab", 2);
    assert_int_equal(ws_feed(&p, buf, n), 0);
    assert_false(hmq_ws_trim(p.ws));
    n = ws_frame(buf, 1, OP_CONT, "cd", 2);
    assert_int_equal(ws_feed(&p, buf, n), 0);
    assert_true(hmq_ws_trim(p.ws));
    /* a write after a trim, then frames split across a trim point */
    assert_int_equal(hmq_ws_write(p.ws, (const uint8_t *)"\xd0\x00", 2), 0);
    assert_true(hmq_ws_trim(p.ws));
    assert_int_equal(p.app.len, sizeof(connect_pkt) + 4);
    assert_memory_equal(p.app.p + sizeof(connect_pkt), "abcd", 4);
    ws_frame_t f = {0};
    assert_true(ws_next(&p, &f));
    assert_int_equal(f.opcode, OP_BINARY);
    assert_int_equal(f.len, 2);
    /* after a close nothing is freed (the owner frees the engine) */
    assert_int_equal(hmq_ws_close(p.ws, 1000), 0);
    assert_false(hmq_ws_trim(p.ws));
    ws_pair_free(&p);
}

/* Heap bytes held per open connection after a message each way, before and after a trim: idle
 * connections keep no parser state, and no wslay context once trimmed. */
static void test_idle_memory(void **state)
{
    (void)state;
    if (SANITIZED) skip();
    enum { N = 1000 };
    ws_pair_t *pairs = calloc(N, sizeof(*pairs));
    uint8_t buf[64];
    size_t n = ws_frame(buf, 1, OP_BINARY, connect_pkt, sizeof(connect_pkt));
    malloc_trim(0);
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < N; i++) {
        ws_pair_init(&pairs[i]);
        ws_open(&pairs[i]);
        assert_int_equal(ws_feed(&pairs[i], buf, n), 0);
        assert_int_equal(hmq_ws_write(pairs[i].ws, (const uint8_t *)"\x20\x02\x00\x00", 4), 0);
        /* the test's own buffers are not the engine's */
        free(pairs[i].out.p);
        free(pairs[i].app.p);
        pairs[i].out = pairs[i].app = (ws_buf_t){0};
    }
    struct mallinfo2 busy = mallinfo2();
    size_t busy_per_conn = (busy.uordblks - before.uordblks) / N;
    for (int i = 0; i < N; i++)
        assert_true(hmq_ws_trim(pairs[i].ws));
    malloc_trim(0);
    struct mallinfo2 idle = mallinfo2();
    size_t idle_per_conn = (idle.uordblks - before.uordblks) / N;
    print_message("heap per open connection: %zu B busy, %zu B trimmed\n", busy_per_conn,
                  idle_per_conn);
    assert_true(busy_per_conn > 8000);
    assert_true(idle_per_conn <= 256);
    for (int i = 0; i < N; i++) {
        assert_int_equal(ws_feed(&pairs[i], buf, n), 0);
        assert_int_equal(pairs[i].app.len, sizeof(connect_pkt));
        ws_pair_free(&pairs[i]);
    }
    free(pairs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_frame),
        cmocka_unit_test(test_split_and_merged_frames),
        cmocka_unit_test(test_fragmented_message_with_ping),
        cmocka_unit_test(test_interleaved_messages),
        cmocka_unit_test(test_ping_pong),
        cmocka_unit_test(test_client_close),
        cmocka_unit_test(test_server_close),
        cmocka_unit_test(test_text_frame_refused),
        cmocka_unit_test(test_unmasked_frame_refused),
        cmocka_unit_test(test_malformed_frames_refused),
        cmocka_unit_test(test_message_too_big),
        cmocka_unit_test(test_large_messages),
        cmocka_unit_test(test_write_from_recv_callback),
        cmocka_unit_test(test_recv_callback_fails),
        cmocka_unit_test(test_send_callback_fails_on_write),
        cmocka_unit_test(test_set_data),
        cmocka_unit_test(test_trim),
        cmocka_unit_test(test_idle_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
