/* test_net_tls_resume.c - TLS session resumption and context reload (broker/src/net/tls*.c).
 *
 * Against a real OpenSSL client (net_test.h): resumption by stateless tickets (TLS 1.2 and
 * 1.3, a fresh ticket on every TLS 1.3 resumption), by the session cache, none when both are
 * off; ticket key rotation; reload: new connections get the renewed certificate, old ones keep
 * working on the old context, tickets survive the reload, and a ticket of a client revoked
 * since is refused (its certificate is checked again on resumption).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "net_test.h"

/* ---- resumption ---- */

/* A full handshake, then one with the session it produced. Returns whether it resumed. */
static bool resume_once(hmq_tls_ctx_t *first, hmq_tls_ctx_t *second, SSL_CTX *c,
                        SSL_SESSION **sess_io)
{
    bool cert = SSL_CTX_get0_certificate(c) != NULL;
    net_pair_t p;
    if (!*sess_io) {
        net_pair_init(&p, c, first, NULL);
        assert_true(net_pair_handshake_ok(&p));
        assert_false(hmq_tls_resumed(p.srv));
        *sess_io = SSL_get1_session(p.cli);
        SSL_shutdown(p.cli); /* freed without close_notify, OpenSSL drops the session */
        net_pair_pump(&p);
        net_pair_free(&p);
    }
    net_pair_init(&p, c, second, NULL);
    SSL_set_session(p.cli, *sess_io);
    bool ok = net_pair_handshake_ok(&p);
    bool resumed = ok && hmq_tls_resumed(p.srv);
    assert_int_equal(resumed, SSL_session_reused(p.cli) == 1);
    if (ok && cert) {
        /* the identity survives resumption (the certificate is in the session) */
        hmq_tls_identity_t *id;
        assert_int_equal(hmq_tls_identity(p.srv, &id), 0);
        assert_true(id->has_cert);
        assert_int_equal(id->verify_result, 0);
        assert_int_equal(id->resumed, resumed);
        hmq_tls_identity_free(id);
    }
    if (!ok) resumed = false;
    SSL_shutdown(p.cli);
    net_pair_pump(&p);
    if (ok) {
        SSL_SESSION_free(*sess_io); /* keep the newest (possibly renewed) ticket */
        *sess_io = SSL_get1_session(p.cli);
    }
    net_pair_free(&p);
    return resumed;
}

/* A full handshake then three reconnections with the newest session: all must resume (a
 * TLS 1.3 ticket is used once, so each resumption must hand out the next one). */
static bool resumes(hmq_tls_ctx_t *ctx, const char *cert, int max_version)
{
    SSL_CTX *c = net_client_ctx(cert, max_version); /* a device keeps its client context */
    SSL_SESSION *s = NULL;
    bool r = true;
    for (int i = 0; i < 3; i++)
        r = resume_once(ctx, ctx, c, &s) && r;
    SSL_SESSION_free(s);
    SSL_CTX_free(c);
    return r;
}

static hmq_tls_ctx_t *resumption_ctx(bool tickets, uint32_t cache)
{
    hmq_tls_config_t cfg;
    hmq_tls_config_init(&cfg);
    cfg.cert_file = net_test_path("server.pem");
    cfg.key_file = net_test_path("server.key");
    cfg.ca_file = net_test_path("ca.pem");
    cfg.crl_file = net_test_path("crl.pem");
    cfg.client_cert = HMQ_TLS_CLIENT_CERT_REQUIRED;
    cfg.session_tickets = tickets;
    cfg.session_cache_size = cache;
    hmq_tls_ctx_t *ctx;
    assert_int_equal(hmq_tls_ctx_new(&ctx, &cfg, NULL, 0), 0);
    return ctx;
}

static void test_resumption_modes(void **state)
{
    (void)state;
    hmq_tls_ctx_t *ctx = resumption_ctx(true, 0); /* default: stateless tickets */
    assert_true(resumes(ctx, "client", 0));
    assert_true(resumes(ctx, "client", TLS1_2_VERSION));
    hmq_tls_ctx_unref(ctx);

    ctx = resumption_ctx(false, 0); /* nothing: always a full handshake */
    assert_false(resumes(ctx, "client", 0));
    assert_false(resumes(ctx, "client", TLS1_2_VERSION));
    hmq_tls_ctx_unref(ctx);

    ctx = resumption_ctx(false, 100); /* session cache only: session ids / stateful tickets */
    assert_true(resumes(ctx, "client", 0));
    assert_true(resumes(ctx, "client", TLS1_2_VERSION));
    hmq_tls_ctx_unref(ctx);
}

static void test_ticket_key_rotation(void **state)
{
    (void)state;
    hmq_tls_ctx_t *ctx = resumption_ctx(true, 0);
    SSL_CTX *c = net_client_ctx("client", 0);
    SSL_SESSION *s = NULL;
    assert_true(resume_once(ctx, ctx, c, &s));
    hmq_tls_ctx_rotate_ticket_keys(ctx); /* the ticket's key is now the previous one */
    assert_true(resume_once(ctx, ctx, c, &s));
    hmq_tls_ctx_rotate_ticket_keys(ctx);
    hmq_tls_ctx_rotate_ticket_keys(ctx); /* and now it is gone */
    assert_false(resume_once(ctx, ctx, c, &s));
    SSL_SESSION_free(s);
    SSL_CTX_free(c);
    hmq_tls_ctx_unref(ctx);
}

/* ---- reload ---- */

static void copy_file(const char *from, const char *to)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "cp %s %s", net_test_path(from), net_test_path(to));
    assert_int_equal(system(cmd), 0);
}

static const char *peer_cn(net_pair_t *p)
{
    static char cn[128];
    X509_NAME_get_text_by_NID(X509_get_subject_name(SSL_get0_peer_certificate(p->cli)),
                              NID_commonName, cn, sizeof(cn));
    return cn;
}

static void test_reload(void **state)
{
    (void)state;
    copy_file("server.pem", "live.pem");
    copy_file("server.key", "live.key");
    copy_file("crl.pem", "live-crl.pem");
    hmq_tls_config_t cfg;
    hmq_tls_config_init(&cfg);
    cfg.cert_file = net_test_path("live.pem");
    cfg.key_file = net_test_path("live.key");
    cfg.ca_file = net_test_path("ca.pem");
    cfg.crl_file = net_test_path("live-crl.pem");
    cfg.client_cert = HMQ_TLS_CLIENT_CERT_REQUIRED;
    hmq_tls_ctx_t *v1;
    assert_int_equal(hmq_tls_ctx_new(&v1, &cfg, NULL, 0), 0);

    net_pair_t old;
    SSL_CTX *c43 = net_client_ctx("client43", 0);
    net_pair_init(&old, c43, v1, NULL);
    assert_true(net_pair_handshake_ok(&old));
    assert_string_equal(peer_cn(&old), "localhost");
    SSL_SESSION *ticket = SSL_get1_session(old.cli);

    /* renew the certificate and the CRL (device-43 revoked), then reload */
    copy_file("renewed.pem", "live.pem");
    copy_file("renewed.key", "live.key");
    copy_file("crl2.pem", "live-crl.pem");
    hmq_tls_ctx_t *v2;
    char err[256];
    assert_int_equal(hmq_tls_ctx_reload(&v2, v1, err, sizeof(err)), 0);
    hmq_tls_ctx_unref(v1); /* the listener drops it: only the old connection holds it now */

    net_pair_t p;
    assert_true(net_connect(&p, v2, "client", 0));
    assert_string_equal(peer_cn(&p), "localhost renewed");
    net_pair_free(&p);

    /* the old connection still works both ways on the old context */
    assert_string_equal(net_pair_c2s(&old, "still here"), "still here");
    assert_string_equal(net_pair_s2c(&old, "yes"), "yes");

    /* the old ticket: the keys survive the reload, but device-43 is revoked now, so the
     * resumption (which would skip certificate checks) is refused and the full handshake
     * fails. The same client context offers the ticket (see the v2 -> v3 case below). */
    net_pair_init(&p, c43, v2, NULL);
    SSL_set_session(p.cli, ticket);
    assert_false(net_pair_handshake_ok(&p));
    assert_false(hmq_tls_resumed(p.srv));
    assert_string_equal(hmq_tls_error(p.srv), "certificate verify failed: certificate revoked");
    net_pair_free(&p);
    SSL_SESSION_free(ticket);

    /* a ticket of a still-valid client issued before a reload resumes after it */
    SSL_SESSION *s = NULL;
    hmq_tls_ctx_t *v3;
    assert_int_equal(hmq_tls_ctx_reload(&v3, v2, NULL, 0), 0);
    SSL_CTX *c = net_client_ctx("client", 0);
    assert_true(resume_once(v2, v3, c, &s));
    SSL_SESSION_free(s);
    SSL_CTX_free(c);

    /* a reload with a broken file fails and leaves the running context alone */
    FILE *f = fopen(net_test_path("live.key"), "w");
    fputs("garbage\n", f);
    fclose(f);
    hmq_tls_ctx_t *bad = (hmq_tls_ctx_t *)0x1;
    assert_int_equal(hmq_tls_ctx_reload(&bad, v3, err, sizeof(err)), HMQ_TLS_E_CONFIG);
    assert_null(bad);
    assert_non_null(strstr(err, "live.key"));
    assert_true(net_connect(&p, v3, "client", 0));
    net_pair_free(&p);

    net_pair_free(&old); /* releases v1 */
    SSL_CTX_free(c43);
    hmq_tls_ctx_unref(v2);
    hmq_tls_ctx_unref(v3);
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
        cmocka_unit_test(test_resumption_modes),
        cmocka_unit_test(test_ticket_key_rotation),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
