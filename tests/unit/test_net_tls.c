/* test_net_tls.c - TLS server engine (broker/src/net/tls*.c) against a real OpenSSL client.
 *
 * Certificates are made at test time with the openssl command (net_test.h). Each test runs
 * in-process handshakes over memory and asserts the outcome, the error text and the identity:
 * TLS 1.2/1.3, client certificates (valid, missing, revoked, expired, wrong CA), SNI, ALPN,
 * partial input, close_notify, callbacks, and configuration errors. Resumption and reload:
 * test_net_tls_resume.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "net_test.h"

static hmq_tls_ctx_t *server_ctx(hmq_tls_client_cert_t mode, const char *crl)
{
    hmq_tls_config_t cfg;
    hmq_tls_config_init(&cfg);
    cfg.cert_file = net_test_path("server.pem");
    cfg.key_file = net_test_path("server.key");
    cfg.ca_file = net_test_path("ca.pem");
    cfg.crl_file = crl ? net_test_path(crl) : NULL;
    cfg.client_cert = mode;
    hmq_tls_ctx_t *ctx = NULL;
    char err[256];
    int rc = hmq_tls_ctx_new(&ctx, &cfg, err, sizeof(err));
    if (rc != 0) fail_msg("hmq_tls_ctx_new: %d %s", rc, err);
    return ctx;
}

static char *read_file_line(const char *name)
{
    static char buf[256];
    FILE *f = fopen(net_test_path(name), "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
    return buf;
}

/* ---- handshakes ---- */

static void test_tls13_server_only(void **state)
{
    (void)state;
    hmq_tls_ctx_t *ctx = server_ctx(HMQ_TLS_CLIENT_CERT_NONE, NULL);
    net_pair_t p;
    assert_true(net_connect(&p, ctx, NULL, 0));
    assert_int_equal(p.handshakes, 1);
    assert_string_equal(hmq_tls_version(p.srv), "TLSv1.3");
    assert_string_equal(hmq_tls_cipher(p.srv), "TLS_AES_128_GCM_SHA256"); /* server order */
    assert_string_equal(hmq_tls_sni(p.srv), "localhost");
    assert_false(hmq_tls_resumed(p.srv));
    assert_false(hmq_tls_has_peer_cert(p.srv));
    /* the client verified our certificate for "localhost" */
    assert_int_equal(SSL_get_verify_result(p.cli), X509_V_OK);
    assert_string_equal(net_pair_c2s(&p, "\x10\x0c\x00\x04MQTT"), "\x10\x0c\x00\x04MQTT");
    assert_string_equal(net_pair_s2c(&p, "CONNACK"), "CONNACK");
    hmq_tls_identity_t *id;
    assert_int_equal(hmq_tls_identity(p.srv, &id), 0);
    assert_false(id->has_cert);
    assert_null(id->cn);
    assert_null(hmq_tls_identity_name(id, HMQ_TLS_NAME_CN));
    assert_string_equal(id->version, "TLSv1.3");
    hmq_tls_identity_free(id);
    assert_null(hmq_tls_peer_chain_pem(p.srv, NULL));
    net_pair_free(&p);
    hmq_tls_ctx_unref(ctx);
}

static void test_tls12(void **state)
{
    (void)state;
    hmq_tls_ctx_t *ctx = server_ctx(HMQ_TLS_CLIENT_CERT_REQUIRED, "crl.pem");
    net_pair_t p;
    assert_true(net_connect(&p, ctx, "client", TLS1_2_VERSION));
    assert_string_equal(hmq_tls_version(p.srv), "TLSv1.2");
    assert_string_equal(hmq_tls_cipher(p.srv), "ECDHE-ECDSA-AES128-GCM-SHA256");
    assert_true(hmq_tls_has_peer_cert(p.srv));
    assert_string_equal(net_pair_c2s(&p, "ping"), "ping");
    assert_string_equal(net_pair_s2c(&p, "pong"), "pong");
    net_pair_free(&p);
    hmq_tls_ctx_unref(ctx);
}

static void test_rsa_certificate(void **state)
{
    (void)state;
    hmq_tls_config_t cfg;
    hmq_tls_config_init(&cfg);
    cfg.cert_file = net_test_path("rsa.pem");
    cfg.key_file = net_test_path("rsa.key");
    hmq_tls_ctx_t *ctx;
    assert_int_equal(hmq_tls_ctx_new(&ctx, &cfg, NULL, 0), 0);
    net_pair_t p;
    assert_true(net_connect(&p, ctx, NULL, TLS1_2_VERSION));
    assert_string_equal(hmq_tls_cipher(p.srv), "ECDHE-RSA-AES128-GCM-SHA256");
    net_pair_free(&p);
    hmq_tls_ctx_unref(ctx);
}

static void test_mtls_identity(void **state)
{
    (void)state;
    hmq_tls_ctx_t *ctx = server_ctx(HMQ_TLS_CLIENT_CERT_REQUIRED, "crl.pem");
    net_pair_t p;
    assert_true(net_connect(&p, ctx, "client", 0));
    assert_null(hmq_tls_error(p.srv));
    hmq_tls_identity_t *id;
    assert_int_equal(hmq_tls_identity(p.srv, &id), 0);
    assert_true(id->has_cert);
    assert_int_equal(id->verify_result, 0);
    assert_string_equal(id->verify_error, "ok");
    assert_string_equal(id->subject, "CN=device-42,O=Acme Pay,C=CN");
    assert_string_equal(id->issuer, "CN=Acme Test CA,O=Acme Pay,C=CN");
    assert_string_equal(id->cn, "device-42");
    assert_string_equal(id->serial, read_file_line("client.serial"));
    assert_string_equal(id->sha256, read_file_line("client.sha256"));
    assert_int_equal(strlen(id->sha256), 64);
    /* not_after matches `openssl x509 -enddate` */
    struct tm tm = {0};
    assert_non_null(strptime(read_file_line("client.enddate"), "%b %d %H:%M:%S %Y GMT", &tm));
    assert_int_equal(id->not_after, (int64_t)timegm(&tm));
    assert_true(id->not_before <= (int64_t)time(NULL) && id->not_after > (int64_t)time(NULL));
    assert_int_equal(id->san_count, 5);
    assert_int_equal(id->sans[0].type, HMQ_TLS_SAN_DNS);
    assert_string_equal(id->sans[0].value, "device-42.iot.example.com");
    assert_int_equal(id->sans[1].type, HMQ_TLS_SAN_IP);
    assert_string_equal(id->sans[1].value, "10.1.2.3");
    assert_int_equal(id->sans[2].type, HMQ_TLS_SAN_URI);
    assert_string_equal(id->sans[2].value, "urn:dev:42");
    assert_int_equal(id->sans[3].type, HMQ_TLS_SAN_EMAIL);
    assert_string_equal(id->sans[3].value, "ops@example.com");
    assert_string_equal(id->sans[4].value, "2001:db8::42");
    /* username / client id sources */
    assert_string_equal(hmq_tls_identity_name(id, HMQ_TLS_NAME_CN), "device-42");
    assert_string_equal(hmq_tls_identity_name(id, HMQ_TLS_NAME_SAN), "device-42.iot.example.com");
    assert_string_equal(hmq_tls_identity_name(id, HMQ_TLS_NAME_SAN_URI), "urn:dev:42");
    assert_string_equal(hmq_tls_identity_name(id, HMQ_TLS_NAME_SAN_EMAIL), "ops@example.com");
    assert_string_equal(hmq_tls_identity_name(id, HMQ_TLS_NAME_SAN_IP), "10.1.2.3");
    assert_string_equal(hmq_tls_identity_name(id, HMQ_TLS_NAME_SUBJECT), id->subject);
    assert_string_equal(hmq_tls_identity_name(id, HMQ_TLS_NAME_SERIAL), id->serial);
    assert_string_equal(hmq_tls_identity_name(id, HMQ_TLS_NAME_SHA256), id->sha256);
    hmq_tls_identity_free(id);

    /* the PEM chain is the client's certificate */
    size_t len = 0;
    char *pem = hmq_tls_peer_chain_pem(p.srv, &len);
    assert_non_null(pem);
    assert_int_equal(len, strlen(pem));
    FILE *f = fopen(net_test_path("client.pem"), "r");
    char file[4096] = {0};
    assert_true(fread(file, 1, sizeof(file) - 1, f) > 0);
    fclose(f);
    assert_memory_equal(pem, file, strlen(file));                               /* leaf first ... */
    assert_non_null(strstr(pem + strlen(file), "-----BEGIN CERTIFICATE-----")); /* then the CA */
    free(pem);
    net_pair_free(&p);
    hmq_tls_ctx_unref(ctx);
}

/* A refused client: the handshake fails on both sides and the reason is readable. */
static void assert_refused(hmq_tls_ctx_t *ctx, const char *cert, int max_version, const char *why)
{
    net_pair_t p;
    assert_false(net_connect(&p, ctx, cert, max_version));
    assert_int_equal(p.srv_rc, HMQ_TLS_E_HANDSHAKE);
    assert_int_equal(p.handshakes, 0);
    /* the client got our alert (in TLS 1.3 after its own Finished: on its next read) */
    char one;
    assert_true(p.cli_rc < 0 || SSL_read(p.cli, &one, 1) <= 0);
    assert_non_null(hmq_tls_error(p.srv));
    if (strcmp(hmq_tls_error(p.srv), why) != 0)
        fail_msg("error \"%s\", want \"%s\"", hmq_tls_error(p.srv), why);
    /* sticky: more input gets the same answer, and no write is possible */
    uint8_t plain[64];
    assert_int_equal(hmq_tls_feed(p.srv, (const uint8_t *)"x", 1, plain, sizeof(plain)),
                     HMQ_TLS_E_HANDSHAKE);
    assert_int_equal(hmq_tls_write(p.srv, (const uint8_t *)"x", 1), HMQ_TLS_E_HANDSHAKE);
    hmq_tls_identity_t *id;
    assert_int_equal(hmq_tls_identity(p.srv, &id), HMQ_TLS_E_STATE);
    net_pair_free(&p);
}

static void test_client_cert_failures(void **state)
{
    (void)state;
    hmq_tls_ctx_t *ctx = server_ctx(HMQ_TLS_CLIENT_CERT_REQUIRED, "crl.pem");
    for (int v = 0; v < 2; v++) {
        int max = v ? TLS1_2_VERSION : 0;
        assert_refused(ctx, NULL, max, "peer did not return a certificate");
        assert_refused(ctx, "revoked", max, "certificate verify failed: certificate revoked");
        assert_refused(ctx, "expired", max, "certificate verify failed: certificate has expired");
        assert_refused(ctx, "rogue", max,
                       "certificate verify failed: unable to get local issuer certificate");
    }
    /* device-43 is fine with crl.pem ... */
    net_pair_t p;
    assert_true(net_connect(&p, ctx, "client43", 0));
    net_pair_free(&p);
    hmq_tls_ctx_unref(ctx);
    /* ... and revoked with crl2.pem */
    ctx = server_ctx(HMQ_TLS_CLIENT_CERT_REQUIRED, "crl2.pem");
    assert_refused(ctx, "client43", 0, "certificate verify failed: certificate revoked");
    hmq_tls_ctx_unref(ctx);
}

static void test_client_cert_optional(void **state)
{
    (void)state;
    hmq_tls_ctx_t *ctx = server_ctx(HMQ_TLS_CLIENT_CERT_OPTIONAL, "crl.pem");
    net_pair_t p;
    assert_true(net_connect(&p, ctx, NULL, 0));
    assert_false(hmq_tls_has_peer_cert(p.srv));
    net_pair_free(&p);
    assert_true(net_connect(&p, ctx, "client", 0));
    hmq_tls_identity_t *id;
    assert_int_equal(hmq_tls_identity(p.srv, &id), 0);
    assert_string_equal(id->cn, "device-42");
    hmq_tls_identity_free(id);
    net_pair_free(&p);
    /* a presented certificate must still verify */
    assert_refused(ctx, "revoked", 0, "certificate verify failed: certificate revoked");
    hmq_tls_ctx_unref(ctx);
    /* and with NONE a client certificate is not even requested */
    ctx = server_ctx(HMQ_TLS_CLIENT_CERT_NONE, NULL);
    assert_true(net_connect(&p, ctx, "rogue", 0));
    assert_false(hmq_tls_has_peer_cert(p.srv));
    net_pair_free(&p);
    hmq_tls_ctx_unref(ctx);
}

static void test_version_and_cipher_policy(void **state)
{
    (void)state;
    hmq_tls_config_t cfg;
    hmq_tls_config_init(&cfg);
    cfg.cert_file = net_test_path("server.pem");
    cfg.key_file = net_test_path("server.key");
    cfg.min_version = HMQ_TLS_V1_3;
    hmq_tls_ctx_t *ctx;
    assert_int_equal(hmq_tls_ctx_new(&ctx, &cfg, NULL, 0), 0);
    assert_refused(ctx, NULL, TLS1_1_VERSION, "unsupported protocol");
    assert_refused(ctx, NULL, TLS1_2_VERSION, "unsupported protocol");
    hmq_tls_ctx_unref(ctx);

    /* a client that prefers ChaCha20 (no AES hardware) gets it, in 1.3 and 1.2 */
    ctx = server_ctx(HMQ_TLS_CLIENT_CERT_NONE, NULL);
    for (int v = 0; v < 2; v++) {
        SSL_CTX *c = net_client_ctx(NULL, v ? TLS1_2_VERSION : 0);
        SSL_CTX_set_ciphersuites(c, "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256");
        SSL_CTX_set_cipher_list(c, "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256");
        net_pair_t p;
        net_pair_init(&p, c, ctx, NULL);
        SSL_CTX_free(c);
        assert_true(net_pair_handshake_ok(&p));
        assert_string_equal(hmq_tls_cipher(p.srv),
                            v ? "ECDHE-ECDSA-CHACHA20-POLY1305" : "TLS_CHACHA20_POLY1305_SHA256");
        net_pair_free(&p);
    }
    hmq_tls_ctx_unref(ctx);

    /* default TLS 1.2 list: a CBC-only or non-ECDHE client finds nothing */
    ctx = server_ctx(HMQ_TLS_CLIENT_CERT_NONE, NULL);
    static const char *refused[] = {"ECDHE-ECDSA-AES128-SHA256", "AES128-GCM-SHA256",
                                    "ECDHE-ECDSA-AES256-SHA"};
    for (int i = 0; i < 3; i++) {
        SSL_CTX *c = net_client_ctx(NULL, TLS1_2_VERSION);
        assert_int_equal(SSL_CTX_set_cipher_list(c, refused[i]), 1);
        net_pair_t p;
        net_pair_init(&p, c, ctx, NULL);
        SSL_CTX_free(c);
        assert_false(net_pair_handshake_ok(&p));
        assert_string_equal(hmq_tls_error(p.srv), "no shared cipher");
        net_pair_free(&p);
    }
    hmq_tls_ctx_unref(ctx);
}

/* ---- SNI and ALPN ---- */

static void test_sni(void **state)
{
    (void)state;
    hmq_tls_sni_cert_t sni[] = {
        {"MQTT.example.com", net_test_path("sni.pem"), net_test_path("sni.key"), NULL},
        {"*.pay.example.com", net_test_path("wild.pem"), net_test_path("wild.key"), NULL},
    };
    hmq_tls_config_t cfg;
    hmq_tls_config_init(&cfg);
    cfg.cert_file = net_test_path("server.pem");
    cfg.key_file = net_test_path("server.key");
    cfg.ca_file = net_test_path("ca.pem");
    cfg.client_cert = HMQ_TLS_CLIENT_CERT_REQUIRED;
    cfg.sni = sni;
    cfg.sni_count = 2;
    hmq_tls_ctx_t *ctx;
    char err[256];
    if (hmq_tls_ctx_new(&ctx, &cfg, err, sizeof(err)) != 0) fail_msg("%s", err);
    static const struct {
        const char *name, *cn;
    } cases[] = {
        {"mqtt.example.com", "mqtt.example.com"},
        {"Mqtt.Example.COM", "mqtt.example.com"},
        {"shop1.pay.example.com", "*.pay.example.com"},
        {"localhost", "localhost"},
        {"other.example.com", "localhost"},   /* unknown: default certificate */
        {"a.b.pay.example.com", "localhost"}, /* a wildcard covers one label */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        SSL_CTX *c = net_client_ctx("client", 0);
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL); /* the default cert won't match */
        net_pair_t p;
        net_pair_init(&p, c, ctx, cases[i].name);
        SSL_CTX_free(c);
        assert_true(net_pair_handshake_ok(&p));
        char cn[128];
        X509_NAME_get_text_by_NID(X509_get_subject_name(SSL_get0_peer_certificate(p.cli)),
                                  NID_commonName, cn, sizeof(cn));
        assert_string_equal(cn, cases[i].cn);
        assert_string_equal(hmq_tls_sni(p.srv), cases[i].name);
        /* client verification works the same on an SNI certificate */
        hmq_tls_identity_t *id;
        assert_int_equal(hmq_tls_identity(p.srv, &id), 0);
        assert_string_equal(id->cn, "device-42");
        assert_string_equal(id->sni, cases[i].name);
        hmq_tls_identity_free(id);
        net_pair_free(&p);
    }
    /* and a revoked client is refused on an SNI certificate too (shared CA/CRL store) */
    hmq_tls_ctx_unref(ctx);
    sni[0].cert_file = net_test_path("sni.pem");
    sni[0].key_file = net_test_path("sni.key");
    sni[1].cert_file = net_test_path("wild.pem");
    sni[1].key_file = net_test_path("wild.key");
    cfg.cert_file = net_test_path("server.pem");
    cfg.key_file = net_test_path("server.key");
    cfg.ca_file = net_test_path("ca.pem");
    cfg.crl_file = net_test_path("crl.pem");
    if (hmq_tls_ctx_new(&ctx, &cfg, err, sizeof(err)) != 0) fail_msg("%s", err);
    SSL_CTX *c = net_client_ctx("revoked", 0);
    net_pair_t p;
    net_pair_init(&p, c, ctx, "mqtt.example.com");
    SSL_CTX_free(c);
    assert_false(net_pair_handshake_ok(&p));
    assert_string_equal(hmq_tls_error(p.srv), "certificate verify failed: certificate revoked");
    net_pair_free(&p);
    hmq_tls_ctx_unref(ctx);
}

static void test_alpn(void **state)
{
    (void)state;
    hmq_tls_config_t cfg;
    hmq_tls_config_init(&cfg);
    cfg.cert_file = net_test_path("server.pem");
    cfg.key_file = net_test_path("server.key");
    cfg.alpn = "mqtt,x-amzn-mqtt-ca";
    hmq_tls_ctx_t *ctx;
    assert_int_equal(hmq_tls_ctx_new(&ctx, &cfg, NULL, 0), 0);
    static const struct {
        const char *offer; /* wire format */
        unsigned len;
        const char *selected;
    } cases[] = {
        {"\x08http/1.1\x04mqtt", 14, "mqtt"},
        {"\x0ex-amzn-mqtt-ca", 15, "x-amzn-mqtt-ca"},
        {"\x08http/1.1", 9, NULL}, /* no match: no ALPN, still connected */
        {NULL, 0, NULL},
    };
    for (size_t i = 0; i < 4; i++) {
        SSL_CTX *c = net_client_ctx(NULL, 0);
        if (cases[i].offer)
            SSL_CTX_set_alpn_protos(c, (const uint8_t *)cases[i].offer, cases[i].len);
        net_pair_t p;
        net_pair_init(&p, c, ctx, NULL);
        SSL_CTX_free(c);
        assert_true(net_pair_handshake_ok(&p));
        hmq_tls_identity_t *id;
        assert_int_equal(hmq_tls_identity(p.srv, &id), 0);
        if (cases[i].selected)
            assert_string_equal(id->alpn, cases[i].selected);
        else
            assert_null(id->alpn);
        hmq_tls_identity_free(id);
        net_pair_free(&p);
    }
    hmq_tls_ctx_unref(ctx);
    cfg.alpn = "mqtt,,x";
    char err[128];
    assert_int_equal(hmq_tls_ctx_new(&ctx, &cfg, err, sizeof(err)), HMQ_TLS_E_CONFIG);
    assert_string_equal(err, "alpn \"mqtt,,x\": bad protocol");
}

/* ---- I/O behaviour ---- */

static void test_partial_input(void **state)
{
    (void)state;
    hmq_tls_ctx_t *ctx = server_ctx(HMQ_TLS_CLIENT_CERT_REQUIRED, "crl.pem");
    for (size_t chunk = 1; chunk <= 7; chunk += 3) {
        SSL_CTX *c = net_client_ctx("client", chunk == 4 ? TLS1_2_VERSION : 0);
        net_pair_t p;
        net_pair_init(&p, c, ctx, NULL);
        SSL_CTX_free(c);
        p.chunk = chunk; /* the server gets the client's bytes `chunk` at a time */
        assert_true(net_pair_handshake_ok(&p));
        assert_string_equal(net_pair_c2s(&p, "a message split in pieces"),
                            "a message split in pieces");
        net_pair_free(&p);
    }
    hmq_tls_ctx_unref(ctx);
}

static void test_large_write_and_batching(void **state)
{
    (void)state;
    hmq_tls_ctx_t *ctx = server_ctx(HMQ_TLS_CLIENT_CERT_NONE, NULL);
    net_pair_t p;
    assert_true(net_connect(&p, ctx, NULL, 0));
    size_t n = 100000;
    uint8_t *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 7);
    p.sends = 0;
    assert_int_equal(hmq_tls_write(p.srv, big, n), 0);
    /* all records are in the output before the call returns: one socket write can carry them */
    assert_true(p.sends >= 7 && p.out.len > n);
    net_pair_pump(&p);
    uint8_t *got = malloc(n);
    size_t have = 0;
    while (have < n) {
        int r = SSL_read(p.cli, got + have, (int)(n - have));
        assert_true(r > 0);
        have += (size_t)r;
    }
    assert_memory_equal(got, big, n);
    /* and the other way: the client's 100 KB arrive intact through the 16 KiB buffer */
    assert_true(SSL_write(p.cli, big, (int)n) == (int)n);
    p.plain.len = 0;
    net_pair_pump(&p);
    assert_int_equal(p.plain.len, n);
    assert_memory_equal(p.plain.p, big, n);
    free(big);
    free(got);
    net_pair_free(&p);
    hmq_tls_ctx_unref(ctx);
}

static void test_close_notify(void **state)
{
    (void)state;
    hmq_tls_ctx_t *ctx = server_ctx(HMQ_TLS_CLIENT_CERT_NONE, NULL);
    net_pair_t p;
    /* the server closes */
    assert_true(net_connect(&p, ctx, NULL, 0));
    assert_int_equal(hmq_tls_shutdown(p.srv), 0);
    net_pair_pump(&p);
    char buf[8];
    assert_int_equal(SSL_read(p.cli, buf, sizeof(buf)), 0);
    assert_int_equal(SSL_get_error(p.cli, 0), SSL_ERROR_ZERO_RETURN);
    assert_int_equal(hmq_tls_write(p.srv, (const uint8_t *)"x", 1), HMQ_TLS_E_STATE);
    net_pair_free(&p);
    /* the client closes */
    assert_true(net_connect(&p, ctx, NULL, 0));
    assert_int_equal(SSL_shutdown(p.cli), 0);
    net_pair_pump(&p);
    assert_int_equal(p.srv_rc, HMQ_TLS_CLOSED);
    assert_true(hmq_tls_peer_closed(p.srv));
    assert_int_equal(hmq_tls_shutdown(p.srv), 0); /* our close_notify in reply */
    net_pair_pump(&p);
    assert_int_equal(SSL_shutdown(p.cli), 1);
    net_pair_free(&p);
    hmq_tls_ctx_unref(ctx);
}

static void test_state_and_callbacks(void **state)
{
    (void)state;
    hmq_tls_ctx_t *ctx = server_ctx(HMQ_TLS_CLIENT_CERT_NONE, NULL);
    net_pair_t p;
    SSL_CTX *c = net_client_ctx(NULL, 0);
    net_pair_init(&p, c, ctx, NULL);
    assert_false(hmq_tls_handshake_done(p.srv));
    assert_int_equal(hmq_tls_write(p.srv, (const uint8_t *)"x", 1), HMQ_TLS_E_STATE);
    hmq_tls_identity_t *id;
    assert_int_equal(hmq_tls_identity(p.srv, &id), HMQ_TLS_E_STATE);
    /* a failing send callback fails the engine with its own code */
    p.send_fail = -42;
    net_pair_pump(&p);
    assert_int_equal(p.srv_rc, -42);
    assert_string_equal(hmq_tls_error(p.srv), "send callback failed");
    net_pair_free(&p);
    SSL_CTX_free(c);

    /* garbage instead of a ClientHello */
    static const struct {
        const char *bytes;
        size_t len;
    } garbage[] = {
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27},        /* HTTP on the TLS port */
        {"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c", 12},     /* plain MQTT on the TLS port */
        {"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", 10}, /* a 1-byte ClientHello */
    };
    for (int i = 0; i < 3; i++) {
        net_pair_t g = {0};
        g.srv = hmq_tls_new(ctx, &net_pair_cb, &g);
        uint8_t plain[256];
        int rc = hmq_tls_feed(g.srv, (const uint8_t *)garbage[i].bytes, garbage[i].len, plain,
                              sizeof(plain));
        assert_int_equal(rc, HMQ_TLS_E_HANDSHAKE);
        assert_non_null(hmq_tls_error(g.srv));
        hmq_tls_free(g.srv);
        free(g.out.p);
    }
    hmq_tls_ctx_unref(ctx);
}

/* ---- configuration errors ---- */

static void test_config_errors(void **state)
{
    (void)state;
    hmq_tls_config_t cfg;
    hmq_tls_ctx_t *ctx = (hmq_tls_ctx_t *)0x1;
    char err[256];
    char want[512];
#define EXPECT_ERR(fmt, ...)                                                                       \
    do {                                                                                           \
        assert_int_equal(hmq_tls_ctx_new(&ctx, &cfg, err, sizeof(err)), HMQ_TLS_E_CONFIG);         \
        assert_null(ctx);                                                                          \
        snprintf(want, sizeof(want), fmt, __VA_ARGS__);                                            \
        if (strcmp(err, want) != 0) fail_msg("error \"%s\", want \"%s\"", err, want);              \
    } while (0)
#define BASE()                                                                                     \
    do {                                                                                           \
        hmq_tls_config_init(&cfg);                                                                 \
        cfg.cert_file = net_test_path("server.pem");                                               \
        cfg.key_file = net_test_path("server.key");                                                \
    } while (0)

    BASE();
    cfg.cert_file = "/nonexistent/cert.pem";
    EXPECT_ERR("cert_file %s: No such file or directory", cfg.cert_file);
    BASE();
    cfg.key_file = net_test_path("sni.key");
    EXPECT_ERR("key_file %s: key values mismatch", cfg.key_file);
    BASE();
    cfg.key_file = net_test_path("server-enc.key");
    EXPECT_ERR("key_file %s: bad decrypt", cfg.key_file);
    cfg.key_passphrase = "wrong";
    EXPECT_ERR("key_file %s: bad decrypt", cfg.key_file);
    cfg.key_passphrase = "hunter2";
    assert_int_equal(hmq_tls_ctx_new(&ctx, &cfg, err, sizeof(err)), 0);
    net_pair_t p;
    assert_true(net_connect(&p, ctx, NULL, 0));
    net_pair_free(&p);
    hmq_tls_ctx_unref(ctx);
    BASE();
    cfg.client_cert = HMQ_TLS_CLIENT_CERT_REQUIRED;
    EXPECT_ERR("%s", "ca_file is required to verify clients");
    cfg.ca_file = net_test_path("nope.pem");
    EXPECT_ERR("ca_file %s: No such file or directory", cfg.ca_file);
    cfg.ca_file = net_test_path("ca.pem");
    cfg.crl_file = net_test_path("ca.key");
    EXPECT_ERR("crl_file %s: no start line", cfg.crl_file);
    BASE();
    cfg.ciphers = "RC4-MD5";
    EXPECT_ERR("%s", "ciphers \"RC4-MD5\": no cipher match");
    BASE();
    cfg.ciphersuites = "TLS_FOO";
    EXPECT_ERR("%s", "ciphersuites \"TLS_FOO\": no cipher match");
    BASE();
    cfg.groups = "P-999";
    EXPECT_ERR("%s", "groups \"P-999\": passed invalid argument");
    BASE();
    cfg.min_version = HMQ_TLS_V1_3;
    cfg.max_version = HMQ_TLS_V1_2;
    EXPECT_ERR("%s", "min_version/max_version: must be 1.2 or 1.3, min <= max");
    BASE();
    cfg.key_file = NULL;
    EXPECT_ERR("%s", "cert_file and key_file are required");
    BASE();
    hmq_tls_sni_cert_t sni = {"x.example.com", net_test_path("sni.pem"), "/nonexistent.key", NULL};
    cfg.sni = &sni;
    cfg.sni_count = 1;
    EXPECT_ERR("sni x.example.com: key_file %s: No such file or directory", sni.key_file);
    /* the error queue is left clean for the next user of this thread */
    assert_int_equal(ERR_peek_error(), 0);
#undef EXPECT_ERR
#undef BASE
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
        cmocka_unit_test(test_tls13_server_only),
        cmocka_unit_test(test_tls12),
        cmocka_unit_test(test_rsa_certificate),
        cmocka_unit_test(test_mtls_identity),
        cmocka_unit_test(test_client_cert_failures),
        cmocka_unit_test(test_client_cert_optional),
        cmocka_unit_test(test_version_and_cipher_policy),
        cmocka_unit_test(test_sni),
        cmocka_unit_test(test_alpn),
        cmocka_unit_test(test_partial_input),
        cmocka_unit_test(test_large_write_and_batching),
        cmocka_unit_test(test_close_notify),
        cmocka_unit_test(test_state_and_callbacks),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
