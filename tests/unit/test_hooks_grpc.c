/* test_hooks_grpc.c - the hook engine against a real hook server: tests/unit/hooks_server.py,
 * built with the Python SDK, over gRPC on a free port. Authenticate: allow (with grants), deny
 * (cached), deadline expiry, a FAILURE answer, filters evaluated in C, and the server going away
 * (UNAVAILABLE -> on_failure). Skipped only when the SDK's venv cannot be created. The other
 * hooks: test_hooks_grpc_stream.c; breaker, unix sockets, TLS: test_hooks_grpc_resilience.c. */
#include "hooks_grpc_harness.h"


typedef struct {
    int done, status;
    hmq_hooks_auth_result_t res;
    char reason[64];
    hmq_grants_t *grants;
    char merchant[32];
} out_t;

static void on_auth_grants(hmq_hooks_auth_req_t *req, int status,
                           const hmq_hooks_auth_result_t *res)
{
    out_t *o = req->data;
    o->done = 1;
    o->status = status;
    if (!res) return;
    o->res = *res;
    snprintf(o->reason, sizeof(o->reason), "%s", res->reason);
    if (o->grants) hmq_grants_unref(o->grants);
    o->grants = hmq_grants_ref(res->grants);
    o->merchant[0] = '\0';
    for (size_t i = 0; i < res->n_attributes; i++)
        if (strcmp(res->attributes[i].key, "merchant") == 0)
            snprintf(o->merchant, sizeof(o->merchant), "%s", res->attributes[i].value);
}

static void auth(env_t *e, out_t *o, const char *cid, const char *user, const char *pw)
{
    hmq_hooks_client_t c = e->client;
    c.client_id = cid;
    c.username = user;
    hmq_hooks_auth_req_t req = {.data = o,
                                .client = &c,
                                .password = (const uint8_t *)pw,
                                .password_len = pw ? strlen(pw) : 0,
                                .has_password = pw != NULL};
    o->done = 0;
    assert_int_equal(hmq_hooks_authenticate(&e->hl, &req, on_auth_grants), 0);
    assert_true(run_until(e, &o->done, 10000));
    assert_int_equal(o->status, 0);
}

static void test_against_python_server(void **state)
{
    (void)state;
    assert_true(server_start(&srv, NULL));
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%d", srv.port);
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    server_config(&cfg, eps); /* mandatory */
    cfg.policy.deadline_ms[HMQ_HOOK_AUTHENTICATE] = 300;
    cfg.policy.on_failure[HMQ_HOOK_AUTHENTICATE] = HMQ_ON_FAILURE_DENY;
    env_t *e = env_new(&cfg);
    out_t *o = calloc(1, sizeof(*o));

    /* mandatory: until the handshake is done, clients get "server unavailable" */
    assert_true(wait_ready(e, 10000));

    hmq_hooks_metrics_t m;
    auth(e, o, "good-1", "u1", "s3cret");
    assert_int_equal(o->res.decision, HMQ_DECISION_ALLOW);
    assert_string_equal(o->res.provider, "py");
    assert_false(o->res.by_policy);
    assert_non_null(o->grants);
    assert_string_equal(o->merchant, "M001");
    assert_int_equal(o->res.expires_unix_ms, 4102444800000ull);
    uint8_t rc;
    assert_int_equal(hmq_grants_check(o->grants, HMQ_ACTION_PUBLISH, "dev/good-1/up/t", 1, false,
                                      "good-1", "u1", &rc, NULL),
                     HMQ_GRANTS_ALLOW);
    assert_int_equal(hmq_grants_check(o->grants, HMQ_ACTION_PUBLISH, "dev/good-1/up/t", 2, false,
                                      "good-1", "u1", &rc, NULL),
                     HMQ_GRANTS_DENY);
    assert_int_equal(rc, HMQ_RC_QOS_NOT_SUPPORTED);
    assert_int_equal(hmq_grants_check(o->grants, HMQ_ACTION_SUBSCRIBE, "pay/u1/notify", 1, false,
                                      "good-1", "u1", NULL, NULL),
                     HMQ_GRANTS_ALLOW);

    auth(e, o, "good-1", "u1", "wrong"); /* not cached: another key, another call */
    assert_int_equal(o->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(o->res.reason_code, 0x86);

    auth(e, o, "bad-1", "u1", "x");
    assert_int_equal(o->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(o->res.reason_code, 0x86);
    assert_string_equal(o->reason, "banned");
    assert_false(o->res.from_cache);
    auth(e, o, "bad-1", "u1", "x"); /* cache_ttl=60 */
    assert_true(o->res.from_cache);
    assert_int_equal(o->res.reason_code, 0x86);
    metrics(e, HMQ_HOOK_AUTHENTICATE, &m);
    assert_int_equal(m.calls, 3);
    assert_int_equal(m.cache_hits, 1);

    /* the filter username="?*" is evaluated in C: no call, the default (deny) decides */
    auth(e, o, "good-2", NULL, "s3cret");
    assert_int_equal(o->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(o->res.reason_code, HMQ_RC_NOT_AUTHORIZED);
    assert_null(o->res.provider);
    metrics(e, HMQ_HOOK_AUTHENTICATE, &m);
    assert_int_equal(m.calls, 3);

    uint64_t t0 = uv_hrtime();
    auth(e, o, "slow-1", "u1", "x"); /* the server sleeps 2 s, the deadline is 300 ms */
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_int_equal(o->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(o->res.reason_code, HMQ_RC_SERVER_UNAVAILABLE);
    assert_true(o->res.by_policy);
    assert_true(ms >= 250 && ms < 1500);
    metrics(e, HMQ_HOOK_AUTHENTICATE, &m);
    assert_int_equal(m.timeouts, 1);

    auth(e, o, "fail-1", "u1", "x"); /* the handler raises: FAILURE -> on_failure */
    assert_int_equal(o->res.reason_code, HMQ_RC_SERVER_UNAVAILABLE);
    metrics(e, HMQ_HOOK_AUTHENTICATE, &m);
    assert_int_equal(m.failures, 2);
    assert_int_equal(m.in_flight, 0);

    server_stop(&srv);
    auth(e, o, "good-1", "u1", "s3cret"); /* UNAVAILABLE -> on_failure deny */
    assert_int_equal(o->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(o->res.reason_code, HMQ_RC_SERVER_UNAVAILABLE);
    assert_true(o->res.by_policy);
    metrics(e, HMQ_HOOK_AUTHENTICATE, &m);
    assert_int_equal(m.unavailable, 1);
    assert_int_equal(m.timeouts, 1);
    assert_true(hmq_hooks_ready(e->h)); /* handshaken once: outages are on_failure's */

    env_free(e);
    if (o->grants) hmq_grants_unref(o->grants);
    free(o);
}


int main(void)
{
    find_src_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_against_python_server, srv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
