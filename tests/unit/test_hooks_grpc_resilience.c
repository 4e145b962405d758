/* test_hooks_grpc_resilience.c - the gRPC provider's transport and failure handling against a
 * real hook server (tests/unit/hooks_server.py): the circuit breaker (opens after N failures,
 * then calls fail at once; a health probe closes it, also after a restart), a unix socket
 * endpoint, TLS and mTLS with certificates made by openssl at test time (and a wrong CA, and a
 * missing client certificate, that never get a handshake). */
#include "hooks_grpc_harness.h"

static char tmpdir[256];

/* ---- circuit breaker ------------------------------------------------------------------------ */

static void test_breaker(void **state)
{
    (void)state;
    assert_true(server_start(&srv, NULL));
    char port[16], endpoint[64];
    snprintf(port, sizeof(port), "%d", srv.port);
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%d", srv.port);
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    server_config(&cfg, eps);
    cfg.policy.deadline_ms[HMQ_HOOK_AUTHORIZE] = 100;
    cfg.breaker_failures = 3;
    cfg.breaker_open_ms = 300;
    env_t *e = env_new(&cfg);
    assert_true(wait_ready(e, 10000));
    authz_out_t o;
    hmq_hooks_metrics_t m;

    for (int i = 0; i < 3; i++) { /* the server hangs: three timeouts open the breaker */
        do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/hang/x", &o);
        assert_true(o.v.by_policy);
        assert_true(o.ms >= 90);
    }
    uint64_t opened = uv_hrtime();
    metrics(e, HMQ_HOOK_AUTHORIZE, &m);
    assert_int_equal(m.timeouts, 3);
    assert_int_equal(m.calls, 3);
    do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/allow/x", &o); /* open: no call, no waiting */
    assert_int_equal(o.v.decision, HMQ_DECISION_DENY);
    assert_true(o.v.by_policy);
    assert_true(o.ms < 50);
    metrics(e, HMQ_HOOK_AUTHORIZE, &m);
    assert_int_equal(m.calls, 3);
    assert_int_equal(m.unavailable, 1);

    /* after open_ms the health probe (the server is SERVING) closes it */
    bool ok = false;
    while (!ok && uv_hrtime() - opened < 5000000000ull) {
        do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/allow/x", &o);
        ok = !o.v.by_policy;
        if (!ok) sleep_loop(e, 20);
    }
    assert_true(ok);
    assert_int_equal(o.v.decision, HMQ_DECISION_ALLOW);
    assert_true((uv_hrtime() - opened) / 1000000 >= 250);

    /* killed: fast failures open it; once the server is back, a probe closes it again */
    server_kill(&srv);
    for (int i = 0; i < 3; i++) {
        do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/allow/x", &o);
        assert_true(o.v.by_policy);
    }
    metrics(e, HMQ_HOOK_AUTHORIZE, &m);
    uint64_t calls = m.calls;
    do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/allow/x", &o);
    assert_true(o.v.by_policy);
    metrics(e, HMQ_HOOK_AUTHORIZE, &m);
    assert_int_equal(m.calls, calls); /* open: not called */
    assert_true(server_start(&srv, "--port", port, NULL));
    ok = false;
    for (int tries = 0; tries < 200 && !ok; tries++) {
        do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/allow/x", &o);
        ok = !o.v.by_policy;
        if (!ok) sleep_loop(e, 50);
    }
    assert_true(ok);
    assert_int_equal(o.v.decision, HMQ_DECISION_ALLOW);
    env_free(e);
    server_stop(&srv);
}

/* A server reporting NOT_SERVING (draining) opens the breaker by the periodic health check, and
 * the probes keep it open. */
static void test_breaker_not_serving(void **state)
{
    (void)state;
    assert_true(server_start(&srv, NULL));
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%d", srv.port);
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    server_config(&cfg, eps);
    cfg.health_interval_ms = 50;
    cfg.breaker_open_ms = 100;
    env_t *e = env_new(&cfg);
    assert_true(wait_ready(e, 10000));
    authz_out_t o;
    do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/allow/x", &o);
    assert_false(o.v.by_policy);
    auth_out_t a;
    do_auth(e, "drain-1", &a);
    assert_false(a.res.by_policy);
    bool open = false;
    for (int i = 0; i < 100 && !open; i++) {
        sleep_loop(e, 20);
        do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/allow/x", &o);
        open = o.v.by_policy;
    }
    assert_true(open);
    sleep_loop(e, 500); /* probes answer NOT_SERVING: still open */
    do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/allow/x", &o);
    assert_true(o.v.by_policy);
    assert_true(o.ms < 50);
    env_free(e);
    server_stop(&srv);
}

/* Without a health service the breaker lets real calls through after open_ms: the first one
 * that succeeds closes it. */
static void test_breaker_no_health(void **state)
{
    (void)state;
    assert_true(server_start(&srv, "--no-health", NULL));
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%d", srv.port);
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    server_config(&cfg, eps);
    cfg.policy.deadline_ms[HMQ_HOOK_AUTHORIZE] = 100;
    cfg.breaker_failures = 2;
    cfg.breaker_open_ms = 200;
    cfg.health_interval_ms = 50;
    env_t *e = env_new(&cfg);
    assert_true(wait_ready(e, 10000));
    sleep_loop(e, 200); /* a periodic check learns there is no health service */
    authz_out_t o;
    for (int i = 0; i < 2; i++) {
        do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/hang/x", &o);
        assert_true(o.v.by_policy);
    }
    do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/allow/x", &o);
    assert_true(o.v.by_policy); /* open */
    assert_true(o.ms < 50);
    sleep_loop(e, 300);
    do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/allow/x", &o); /* half open: the call goes through */
    assert_false(o.v.by_policy);
    assert_int_equal(o.v.decision, HMQ_DECISION_ALLOW);
    do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/allow/x", &o); /* closed */
    assert_false(o.v.by_policy);
    env_free(e);
    server_stop(&srv);
}

/* A failed Handshake on a connected channel is retried with backoff (no connectivity change
 * needed). */
static void test_handshake_retry(void **state)
{
    (void)state;
    assert_true(server_start(&srv, "--fail-handshakes", "2", NULL));
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%d", srv.port);
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    server_config(&cfg, eps);
    env_t *e = env_new(&cfg);
    assert_true(wait_ready(e, 10000));
    assert_int_equal(server_stat(e, "handshakes_failed"), 2);
    env_free(e);
    server_stop(&srv);
}

/* ---- two endpoints ------------------------------------------------------------------------- */

/* Items (port, count) of the endpoint the next unary call goes to (round robin). */
static void stats_port(env_t *e, long *port, long *items)
{
    auth_out_t o;
    do_auth(e, "stats-1", &o);
    const char *p = strstr(o.reason, "\"port\": "), *q = strstr(o.reason, "\"items\": ");
    assert_non_null(p);
    assert_non_null(q);
    *port = strtol(p + strlen("\"port\": "), NULL, 10);
    *items = strtol(q + strlen("\"items\": "), NULL, 10);
}

static void publish_all(env_t *e, int n, int expect_ok)
{
    pub_t *ps = calloc(n, sizeof(*ps));
    hmq_hooks_client_t *cs = calloc(n, sizeof(*cs));
    char(*ids)[16] = calloc(n, sizeof(*ids));
    for (int i = 0; i < n; i++) {
        cs[i] = e->client;
        snprintf(ids[i], 16, "c%d", i % 20);
        cs[i].client_id = ids[i];
        pub_start_as(e, &ps[i], &cs[i], "count/x", "x");
    }
    for (int i = 0; i < n; i++) {
        assert_true(run_until(e, &ps[i].out.done, 10000));
        if (expect_ok) assert_false(ps[i].out.v.by_policy);
    }
    free(ps);
    free(cs);
    free(ids);
}

/* Two server processes behind one server config: the stream items spread over both (by client
 * id), and when one dies the other takes every request. */
static void test_two_endpoints(void **state)
{
    (void)state;
    static pyserver_t b = {.in = -1};
    server_stop(&b); /* a previous failed run */
    assert_true(server_start(&srv, NULL));
    assert_true(server_start(&b, NULL));
    char ea[64], eb[64];
    snprintf(ea, sizeof(ea), "127.0.0.1:%d", srv.port);
    snprintf(eb, sizeof(eb), "127.0.0.1:%d", b.port);
    const char *eps[] = {ea, eb};
    hmq_hooks_server_config_t cfg;
    server_config(&cfg, eps);
    cfg.n_endpoints = 2;
    cfg.policy.deadline_ms[HMQ_HOOK_ON_PUBLISH] = 5000;
    env_t *e = env_new(&cfg);
    assert_true(wait_ready(e, 10000));
    sleep_loop(e, 500); /* both endpoints handshaken */
    publish_all(e, 200, 1);
    long pa = 0, pb = 0, ia = 0, ib = 0, port, items;
    for (int i = 0; i < 4; i++) {
        stats_port(e, &port, &items);
        if (port == srv.port) pa = port, ia = items;
        if (port == b.port) pb = port, ib = items;
    }
    assert_true(pa && pb); /* unary calls alternate */
    print_message("items per endpoint: %ld + %ld\n", ia, ib);
    assert_int_equal(ia + ib, 200);
    assert_true(ia > 0 && ib > 0);

    server_kill(&srv);
    sleep_loop(e, 300);
    publish_all(e, 200, 1); /* all through b */
    stats_port(e, &port, &items);
    assert_int_equal(port, b.port);
    assert_int_equal(items, ib + 200);
    env_free(e);
    server_stop(&b);
}

/* ---- unix socket ---------------------------------------------------------------------------- */

static void test_unix_socket(void **state)
{
    (void)state;
    char path[300], endpoint[320];
    snprintf(path, sizeof(path), "%s/hooks.sock", tmpdir);
    assert_true(server_start(&srv, "--unix", path, NULL));
    snprintf(endpoint, sizeof(endpoint), "unix:%s", path);
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    server_config(&cfg, eps);
    env_t *e = env_new(&cfg);
    assert_true(wait_ready(e, 10000));
    auth_out_t a;
    do_auth(e, "good-1", &a);
    assert_int_equal(a.res.decision, HMQ_DECISION_ALLOW);
    assert_false(a.res.by_policy);
    authz_out_t o;
    do_authz(e, HMQ_ACTION_PUBLISH, "pub/deny/x", &o); /* the stream works too */
    assert_int_equal(o.v.decision, HMQ_DECISION_DENY);
    assert_int_equal(o.v.reason_code, 0x97);
    env_free(e);
    server_stop(&srv);
}

/* ---- TLS ------------------------------------------------------------------------------------ */

static bool make_certs(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "(cd '%s' && "
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 "
             "-subj /CN=test-ca && "
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 1 "
             "-subj /CN=other-ca && "
             "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
             "-subj /CN=localhost && "
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' "
             "> server.ext && "
             "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out server.crt -days 1 -extfile server.ext && "
             "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr "
             "-subj /CN=broker && "
             "printf 'extendedKeyUsage=clientAuth\\n' > client.ext && "
             "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out client.crt -days 1 -extfile client.ext) >/dev/null 2>&1",
             tmpdir);
    return system(cmd) == 0;
}

static void file(char *out, const char *name)
{
    snprintf(out, 300, "%s/%s", tmpdir, name);
}

/* A TLS engine: ready (handshaken) within ms, or not. */
static env_t *tls_env(const char *endpoint, const char *ca, const char *cert, const char *key,
                      const char *const *eps_storage)
{
    (void)endpoint;
    hmq_hooks_server_config_t *cfg = calloc(1, sizeof(*cfg)); /* copied by hmq_hooks_new */
    server_config(cfg, eps_storage);
    cfg->tls_ca_file = ca;
    cfg->tls_cert_file = cert;
    cfg->tls_key_file = key;
    cfg->policy.deadline_ms[HMQ_HOOK_AUTHENTICATE] = 1000;
    env_t *e = env_new(cfg);
    free(cfg);
    return e;
}

static void test_tls(void **state)
{
    (void)state;
    assert_true(make_certs()); /* openssl is installed by scripts/deps.sh */
    char crt[300], key[300], ca[300], other[300], ccrt[300], ckey[300];
    file(crt, "server.crt");
    file(key, "server.key");
    file(ca, "ca.crt");
    file(other, "other.crt");
    file(ccrt, "client.crt");
    file(ckey, "client.key");
    assert_true(server_start(&srv, "--tls", crt, key, "--client-ca", ca, NULL));
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "localhost:%d", srv.port);
    const char *eps[] = {endpoint};

    env_t *e = tls_env(endpoint, ca, ccrt, ckey, eps); /* mTLS: the right CA and a client cert */
    assert_true(wait_ready(e, 10000));
    auth_out_t a;
    do_auth(e, "good-1", &a);
    assert_int_equal(a.res.decision, HMQ_DECISION_ALLOW);
    assert_false(a.res.by_policy);
    authz_out_t o;
    do_authz(e, HMQ_ACTION_PUBLISH, "pub/allow/x", &o);
    assert_int_equal(o.v.decision, HMQ_DECISION_ALLOW);
    env_free(e);

    e = tls_env(endpoint, other, ccrt, ckey, eps); /* the wrong CA: never handshaken */
    assert_false(wait_ready(e, 1500));
    do_auth(e, "good-1", &a);
    assert_int_equal(a.res.decision, HMQ_DECISION_DENY);
    assert_int_equal(a.res.reason_code, HMQ_RC_SERVER_UNAVAILABLE);
    assert_true(a.res.by_policy);
    env_free(e);

    e = tls_env(endpoint, ca, NULL, NULL, eps); /* no client certificate: refused by the server */
    assert_false(wait_ready(e, 1500));
    env_free(e);
    server_stop(&srv);
}


int main(void)
{
    find_src_dir();
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/hmq-grpc-test-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_breaker, srv_teardown),
        cmocka_unit_test_teardown(test_breaker_not_serving, srv_teardown),
        cmocka_unit_test_teardown(test_breaker_no_health, srv_teardown),
        cmocka_unit_test_teardown(test_handshake_retry, srv_teardown),
        cmocka_unit_test_teardown(test_two_endpoints, srv_teardown),
        cmocka_unit_test_teardown(test_unix_socket, srv_teardown),
        cmocka_unit_test_teardown(test_tls, srv_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) rc = rc ? rc : 1;
    return rc;
}
