/* test_hooks_engine.c - the hook engine's chain, failure policy, mandatory gating, decision
 * cache and metrics, with scripted in-process providers (no network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hookmq/hooks.h"

/* A scripted provider: answers every call with `answer`/`status` (completed at once, or held
 * until cancelled when `hold` is set). */
typedef struct {
    int decision;
    uint8_t reason_code;
    uint32_t ttl_ms;
    hmq_hooks_call_status_t status;
    bool hold, not_ready, skip, with_grants;
    int calls;
    int fail_start;
    hmq_hooks_call_t *held;
} fake_t;

static hmq_hooks_route_t fake_route(void *self, hmq_hook_t hook, const hmq_hooks_client_t *c,
                                    const char *topic)
{
    (void)topic;
    fake_t *f = self;
    (void)hook;
    (void)c;
    return f->not_ready ? HMQ_ROUTE_NOT_READY : f->skip ? HMQ_ROUTE_SKIP : HMQ_ROUTE_CALL;
}

static int fake_auth(void *self, hmq_hooks_call_t *call, const hmq_hooks_auth_req_t *req,
                     uint32_t deadline_ms)
{
    fake_t *f = self;
    (void)req;
    (void)deadline_ms;
    f->calls++;
    if (f->fail_start) return -1;
    if (f->hold) {
        f->held = call;
        return 0;
    }
    hmq_hooks_answer_t *a = hmq_hooks_call_answer(call);
    a->decision = f->decision;
    a->reason_code = f->reason_code;
    a->reason = strdup("scripted");
    a->cache_ttl_ms = f->ttl_ms;
    if (f->with_grants) {
        hmq_grant_rule_t r = {.pattern = "dev/%c/#", .action = HMQ_ACTION_PUBLISH, .max_qos = 2};
        a->grants = hmq_grants_new(&r, 1, false, NULL, 0);
        a->superuser = true;
    }
    hmq_hooks_call_done(call, f->status);
    return 0;
}

static void fake_cancel(void *self, hmq_hooks_call_t *call)
{
    fake_t *f = self;
    assert_ptr_equal(f->held, call);
    f->held = NULL;
    hmq_hooks_call_done(call, HMQ_CALL_CANCELLED);
}

static const hmq_hooks_provider_ops_t fake_ops = {
    .route = fake_route, .authenticate = fake_auth, .cancel = fake_cancel};
static const hmq_hooks_provider_ops_t fake_ops_plain = {.authenticate = fake_auth,
                                                        .cancel = fake_cancel};

typedef struct {
    uv_loop_t loop;
    hmq_hooks_t *h;
    hmq_hooks_loop_t hl;
    int done;
    int status;
    hmq_hooks_auth_result_t res;
    char reason[64], provider[32];
    hmq_grants_t *grants;
} env_t;

static env_t *env_new(const hmq_hooks_config_t *cfg)
{
    env_t *e = calloc(1, sizeof(*e));
    uv_loop_init(&e->loop);
    assert_int_equal(hmq_hooks_new(&e->h, &e->loop, cfg), 0);
    return e;
}

static void env_start(env_t *e)
{
    assert_int_equal(hmq_hooks_start(e->h), 0);
    assert_int_equal(hmq_hooks_loop_init(e->h, &e->loop, &e->hl), 0);
}

static void env_free(env_t *e)
{
    hmq_hooks_close(e->h);
    hmq_hooks_loop_close(&e->hl, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    if (e->grants) hmq_grants_unref(e->grants);
    free(e);
}

static void on_auth(hmq_hooks_auth_req_t *req, int status, const hmq_hooks_auth_result_t *res)
{
    env_t *e = req->data;
    e->done++;
    e->status = status;
    if (res) {
        e->res = *res;
        snprintf(e->reason, sizeof(e->reason), "%s", res->reason);
        snprintf(e->provider, sizeof(e->provider), "%s", res->provider ? res->provider : "");
        if (e->grants) hmq_grants_unref(e->grants);
        e->grants = hmq_grants_ref(res->grants);
    }
}

static hmq_hooks_client_t client = {.client_id = "pos-1",
                                    .username = "u1",
                                    .listener = "default",
                                    .protocol_version = 5,
                                    .peer_address = "10.0.0.1"};

static void run_auth_pw(env_t *e, const char *password)
{
    hmq_hooks_auth_req_t req = {.data = e, .client = &client};
    if (password) {
        req.password = (const uint8_t *)password;
        req.password_len = strlen(password);
        req.has_password = true;
    }
    e->done = 0;
    assert_int_equal(hmq_hooks_authenticate(&e->hl, &req, on_auth), 0);
    assert_int_equal(e->done, 0); /* never from inside the call */
    while (!e->done)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_int_equal(e->done, 1);
}

static void run_auth(env_t *e)
{
    run_auth_pw(e, "pw");
}

static env_t *chain2(fake_t *a, fake_t *b, const hmq_hooks_config_t *cfg, hmq_hooks_policy_t *pol)
{
    hmq_hooks_config_t def = {0};
    env_t *e = env_new(cfg ? cfg : &def);
    assert_int_equal(hmq_hooks_add_provider(e->h, "a", &fake_ops, a, pol), 0);
    if (b) assert_int_equal(hmq_hooks_add_provider(e->h, "b", &fake_ops, b, pol), 0);
    env_start(e);
    return e;
}

static void test_deny_wins(void **state)
{
    (void)state;
    fake_t a = {.decision = HMQ_DECISION_ALLOW},
           b = {.decision = HMQ_DECISION_DENY, .reason_code = 0x86};
    env_t *e = chain2(&a, &b, NULL, NULL);
    run_auth(e);
    assert_int_equal(e->status, 0);
    assert_int_equal(e->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(e->res.reason_code, 0x86);
    assert_string_equal(e->provider, "b");
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    env_free(e);
}

static void test_first_decision_and_allow(void **state)
{
    (void)state;
    fake_t a = {.decision = HMQ_DECISION_ALLOW, .with_grants = true},
           b = {.decision = HMQ_DECISION_DENY};
    hmq_hooks_config_t cfg = {.first_decision = true};
    env_t *e = chain2(&a, &b, &cfg, NULL);
    run_auth(e);
    assert_int_equal(e->res.decision, HMQ_DECISION_ALLOW);
    assert_string_equal(e->provider, "a");
    assert_true(e->res.superuser);
    assert_non_null(e->grants);
    assert_int_equal(hmq_grants_check(e->grants, HMQ_ACTION_PUBLISH, "dev/pos-1/x", 0, false,
                                      "pos-1", NULL, NULL, NULL),
                     HMQ_GRANTS_ALLOW);
    assert_int_equal(b.calls, 0);
    env_free(e);
}

static void test_continue_then_default(void **state)
{
    (void)state;
    fake_t a = {.decision = HMQ_DECISION_CONTINUE}, b = {.decision = HMQ_DECISION_CONTINUE};
    env_t *e = chain2(&a, &b, NULL, NULL);
    run_auth(e); /* default for authenticate: deny */
    assert_int_equal(e->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(e->res.reason_code, HMQ_RC_NOT_AUTHORIZED);
    assert_null(e->res.provider);
    env_free(e);

    hmq_hooks_config_t cfg = {0};
    cfg.default_decision[HMQ_HOOK_AUTHENTICATE] = HMQ_DECISION_ALLOW;
    b.skip = true; /* filters say no: CONTINUE without a call */
    b.calls = 0;
    e = chain2(&a, &b, &cfg, NULL);
    run_auth(e);
    assert_int_equal(e->res.decision, HMQ_DECISION_ALLOW);
    assert_int_equal(b.calls, 0);
    env_free(e);
}

static void test_chain_order_config(void **state)
{
    (void)state;
    fake_t a = {.decision = HMQ_DECISION_ALLOW}, b = {.decision = HMQ_DECISION_DENY};
    const char *order[] = {"b", "a"};
    hmq_hooks_config_t cfg = {.first_decision = true, .chain = order, .n_chain = 2};
    env_t *e = chain2(&a, &b, &cfg, NULL);
    assert_string_equal(hmq_hooks_provider_name(e->h, 0), "b");
    run_auth(e);
    assert_int_equal(e->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(a.calls, 0);
    env_free(e);

    const char *unknown[] = {"nope"};
    hmq_hooks_config_t bad = {.chain = unknown, .n_chain = 1};
    e = env_new(&bad);
    assert_int_equal(hmq_hooks_add_provider(e->h, "a", &fake_ops, &a, NULL), 0);
    assert_int_equal(hmq_hooks_add_provider(e->h, "a", &fake_ops, &a, NULL), HMQ_HOOKS_EINVAL);
    assert_int_equal(hmq_hooks_start(e->h), HMQ_HOOKS_EINVAL);
    hmq_hooks_close(e->h);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    free(e);
}

/* Each on_failure policy for a timeout, an error status, a FAILURE answer. */
static void test_failure_policies(void **state)
{
    (void)state;
    struct {
        hmq_hooks_on_failure_t pol;
        hmq_hooks_call_status_t st;
        int decision;
        int expect;
        uint8_t code;
    } cases[] = {
        {HMQ_ON_FAILURE_DENY, HMQ_CALL_TIMEOUT, 0, HMQ_DECISION_DENY, HMQ_RC_SERVER_UNAVAILABLE},
        {HMQ_ON_FAILURE_DENY, HMQ_CALL_OK, HMQ_DECISION_FAILURE, HMQ_DECISION_DENY, 0x88},
        {HMQ_ON_FAILURE_DENY, HMQ_CALL_OK, 0 /* UNSPECIFIED */, HMQ_DECISION_DENY, 0x88},
        {HMQ_ON_FAILURE_ALLOW, HMQ_CALL_UNAVAILABLE, 0, HMQ_DECISION_ALLOW, 0},
        {HMQ_ON_FAILURE_CONTINUE, HMQ_CALL_ERROR, 0, HMQ_DECISION_ALLOW, 0},  /* b allows */
        {HMQ_ON_FAILURE_STALE, HMQ_CALL_TIMEOUT, 0, HMQ_DECISION_DENY, 0x88}, /* nothing cached */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake_t a = {.decision = cases[i].decision, .status = cases[i].st},
               b = {.decision = HMQ_DECISION_ALLOW};
        hmq_hooks_policy_t pol = {0};
        pol.on_failure[HMQ_HOOK_AUTHENTICATE] = cases[i].pol;
        env_t *e = chain2(&a, &b, NULL, &pol);
        run_auth(e);
        assert_int_equal(e->res.decision, cases[i].expect);
        if (cases[i].expect == HMQ_DECISION_DENY) {
            assert_int_equal(e->res.reason_code, cases[i].code);
            assert_true(e->res.by_policy);
            assert_int_equal(b.calls, 0);
        }
        hmq_hooks_metrics_t m;
        assert_int_equal(hmq_hooks_metrics(e->h, 0, HMQ_HOOK_AUTHENTICATE, &m), 0);
        assert_int_equal(m.calls, 1);
        assert_int_equal(m.failures, 1);
        assert_int_equal(m.timeouts, cases[i].st == HMQ_CALL_TIMEOUT);
        assert_int_equal(m.unavailable, cases[i].st == HMQ_CALL_UNAVAILABLE);
        assert_int_equal(m.in_flight, 0);
        env_free(e);
    }
}

static void test_stale_uses_expired_answer(void **state)
{
    (void)state;
    fake_t a = {.decision = HMQ_DECISION_DENY, .reason_code = 0x8A, .ttl_ms = 1};
    hmq_hooks_policy_t pol = {0};
    pol.on_failure[HMQ_HOOK_AUTHENTICATE] = HMQ_ON_FAILURE_STALE;
    env_t *e = chain2(&a, NULL, NULL, &pol);
    run_auth(e);
    assert_int_equal(e->res.reason_code, 0x8A);
    uint64_t t0 = uv_hrtime();
    while (uv_hrtime() - t0 < 3000000) { /* let the 1 ms TTL pass (no event to await) */
    }
    a.status = HMQ_CALL_TIMEOUT;
    run_auth(e);
    assert_int_equal(a.calls, 2); /* expired: the provider was asked */
    assert_int_equal(e->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(e->res.reason_code, 0x8A); /* ... and the stale answer used */
    assert_true(e->res.by_policy);
    assert_true(e->res.from_cache);
    env_free(e);
}

static void test_cache_ttl_and_keys(void **state)
{
    (void)state;
    fake_t a = {.decision = HMQ_DECISION_DENY, .reason_code = 0x86, .ttl_ms = 60000};
    env_t *e = chain2(&a, NULL, NULL, NULL);
    run_auth(e);
    run_auth(e);
    assert_int_equal(a.calls, 1);
    assert_true(e->res.from_cache);
    assert_int_equal(e->res.reason_code, 0x86);
    assert_string_equal(e->reason, "scripted");
    run_auth_pw(e, "other"); /* the password is part of the key */
    assert_int_equal(a.calls, 2);
    run_auth_pw(e, NULL); /* no password != empty password */
    assert_int_equal(a.calls, 3);
    run_auth_pw(e, "");
    assert_int_equal(a.calls, 4);
    hmq_hooks_metrics_t m;
    hmq_hooks_metrics(e->h, 0, HMQ_HOOK_AUTHENTICATE, &m);
    assert_int_equal(m.cache_hits, 1);
    assert_int_equal(m.calls, 4);
    uint64_t total = 0;
    for (int i = 0; i < HMQ_HOOKS_LATENCY_BUCKETS; i++)
        total += m.latency[i];
    assert_int_equal(total, 4);
    /* FAILURE answers are never cached */
    a.decision = HMQ_DECISION_FAILURE;
    run_auth_pw(e, "f");
    run_auth_pw(e, "f");
    assert_int_equal(a.calls, 6);
    env_free(e);
}

static void test_mandatory_and_not_ready(void **state)
{
    (void)state;
    fake_t a = {.decision = HMQ_DECISION_ALLOW, .not_ready = true};
    hmq_hooks_policy_t pol = {.mandatory = true};
    pol.on_failure[HMQ_HOOK_AUTHENTICATE] = HMQ_ON_FAILURE_ALLOW; /* mandatory overrides it */
    env_t *e = chain2(&a, NULL, NULL, &pol);
    assert_false(hmq_hooks_ready(e->h));
    run_auth(e);
    assert_int_equal(e->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(e->res.reason_code, HMQ_RC_SERVER_UNAVAILABLE);
    assert_int_equal(a.calls, 0);
    /* after a handshake, an outage goes to on_failure */
    hmq_hooks_provider_set_handshaken(e->h, "a");
    assert_true(hmq_hooks_ready(e->h));
    run_auth(e);
    assert_int_equal(e->res.decision, HMQ_DECISION_ALLOW);
    assert_true(e->res.by_policy);
    a.not_ready = false;
    run_auth(e);
    assert_int_equal(a.calls, 1);
    assert_false(e->res.by_policy);
    env_free(e);

    /* a provider without a route() needs no handshake */
    fake_t p = {.decision = HMQ_DECISION_ALLOW};
    hmq_hooks_config_t cfg = {0};
    e = env_new(&cfg);
    hmq_hooks_add_provider(e->h, "plain", &fake_ops_plain, &p, &pol);
    env_start(e);
    assert_true(hmq_hooks_ready(e->h));
    env_free(e);
}

static void test_cancel_and_close(void **state)
{
    (void)state;
    fake_t a = {.hold = true};
    env_t *e = chain2(&a, NULL, NULL, NULL);
    hmq_hooks_auth_req_t req = {.data = e, .client = &client};
    e->done = 0;
    assert_int_equal(hmq_hooks_authenticate(&e->hl, &req, on_auth), 0);
    while (!a.held)
        uv_run(&e->loop, UV_RUN_ONCE);
    hmq_hooks_metrics_t m;
    hmq_hooks_metrics(e->h, 0, HMQ_HOOK_AUTHENTICATE, &m);
    assert_int_equal(m.in_flight, 1);
    hmq_hooks_auth_cancel(&req);
    while (!e->done)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_int_equal(e->status, HMQ_HOOKS_ECANCELED);
    /* a start failure is a failure (policy deny) */
    a.hold = false;
    a.fail_start = 1;
    run_auth(e);
    assert_int_equal(e->res.reason_code, HMQ_RC_SERVER_UNAVAILABLE);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deny_wins),
        cmocka_unit_test(test_first_decision_and_allow),
        cmocka_unit_test(test_continue_then_default),
        cmocka_unit_test(test_chain_order_config),
        cmocka_unit_test(test_failure_policies),
        cmocka_unit_test(test_stale_uses_expired_answer),
        cmocka_unit_test(test_cache_ttl_and_keys),
        cmocka_unit_test(test_mandatory_and_not_ready),
        cmocka_unit_test(test_cancel_and_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
