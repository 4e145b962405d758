/* test_net_tls_mem.c - memory held by idle TLS connections on the broker side.
 *
 * Runs N in-process handshakes (OpenSSL client <-> hmq_tls_t; N = HMQ_TLS_MEM_CONNS, default
 * 500, the figures in docs/security.md use 2000), exchanges one small message each way, frees
 * the clients, and reports the heap bytes (mallinfo2, including malloc's own overhead) and the
 * RSS that the N idle server engines hold: TLS 1.3 and 1.2, without a client certificate, with
 * one (leaf only, as most devices send it) and with leaf + CA (OpenSSL's default auto-chain).
 * The assertions are regression guards on the heap figure. Skipped under sanitizers (their
 * allocator is not malloc's).
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "net_test.h"

static int N = 500;

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

static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

typedef struct {
    size_t heap_per_conn, rss_per_conn;
} mem_result_t;

static mem_result_t measure(hmq_tls_client_cert_t mode, const char *client_cert, int max_version,
                            bool send_chain)
{
    hmq_tls_config_t cfg;
    hmq_tls_config_init(&cfg);
    cfg.cert_file = net_test_path("server.pem");
    cfg.key_file = net_test_path("server.key");
    cfg.ca_file = net_test_path("ca.pem");
    cfg.crl_file = net_test_path("crl.pem");
    cfg.client_cert = mode;
    hmq_tls_ctx_t *ctx;
    assert_int_equal(hmq_tls_ctx_new(&ctx, &cfg, NULL, 0), 0);
    SSL_CTX *c = net_client_ctx(client_cert, max_version);
    if (!send_chain) SSL_CTX_set_mode(c, SSL_MODE_NO_AUTO_CHAIN);
    net_pair_t *pairs = calloc(N, sizeof(*pairs));

    /* warm up lazy OpenSSL state (provider caches, error strings) outside the measurement */
    for (int i = 0; i < 3; i++) {
        net_pair_init(&pairs[0], c, ctx, NULL);
        assert_true(net_pair_handshake_ok(&pairs[0]));
        net_pair_free(&pairs[0]);
    }
    malloc_trim(0);
    struct mallinfo2 before = mallinfo2();
    long rss_before = rss_bytes();

    for (int i = 0; i < N; i++) {
        net_pair_t *p = &pairs[i];
        net_pair_init(p, c, ctx, NULL);
        assert_true(net_pair_handshake_ok(p));
        assert_string_equal(net_pair_c2s(p, "\x10\x10\x00\x04MQTT\x05\x02\x00\x3c"),
                            "\x10\x10\x00\x04MQTT\x05\x02\x00\x3c");
        assert_string_equal(net_pair_s2c(p, "\x20\x03\x00\x00\x00"), "\x20\x03");
        /* the client goes away; the broker keeps its side of the idle connection */
        SSL_free(p->cli);
        p->cli = NULL;
        free(p->out.p);
        free(p->plain.p);
        p->out = p->plain = (net_buf_t){0};
    }
    malloc_trim(0);
    struct mallinfo2 after = mallinfo2();
    long rss_after = rss_bytes();
    mem_result_t r = {
        .heap_per_conn = (after.uordblks - before.uordblks) / N,
        .rss_per_conn = rss_after > rss_before ? (size_t)(rss_after - rss_before) / N : 0,
    };
    for (int i = 0; i < N; i++)
        hmq_tls_free(pairs[i].srv);
    free(pairs);
    SSL_CTX_free(c);
    hmq_tls_ctx_unref(ctx);
    return r;
}

static void test_idle_connection_memory(void **state)
{
    (void)state;
    if (SANITIZED) skip();
    static const struct {
        const char *label;
        hmq_tls_client_cert_t mode;
        const char *cert;
        int max_version;
        bool chain;
        size_t max_heap; /* regression guard */
    } cases[] = {
        {"TLS 1.3, no client certificate", HMQ_TLS_CLIENT_CERT_NONE, NULL, 0, false, 16384},
        {"TLS 1.2, no client certificate", HMQ_TLS_CLIENT_CERT_NONE, NULL, TLS1_2_VERSION, false,
         16384},
        {"TLS 1.3, client cert (leaf)", HMQ_TLS_CLIENT_CERT_REQUIRED, "client", 0, false, 24576},
        {"TLS 1.2, client cert (leaf)", HMQ_TLS_CLIENT_CERT_REQUIRED, "client", TLS1_2_VERSION,
         false, 24576},
        /* the CA copy the client sends is not kept (tls_ctx.c, verify_and_trim) */
        {"TLS 1.3, client cert + CA", HMQ_TLS_CLIENT_CERT_REQUIRED, "client", 0, true, 24576},
    };
    const char *n = getenv("HMQ_TLS_MEM_CONNS");
    if (n && atoi(n) > 0) N = atoi(n);
    printf("idle TLS connections (%d, broker side):\n", N);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mem_result_t r =
            measure(cases[i].mode, cases[i].cert, cases[i].max_version, cases[i].chain);
        printf("  %-32s heap %6zu B/conn   RSS %6zu B/conn\n", cases[i].label, r.heap_per_conn,
               r.rss_per_conn);
        assert_true(r.heap_per_conn < cases[i].max_heap);
    }
}

static int teardown(void **state)
{
    (void)state;
    net_test_cleanup();
    return 0;
}

int main(void)
{
    net_test_certs();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_connection_memory),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
