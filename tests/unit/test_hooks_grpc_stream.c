/* test_hooks_grpc_stream.c - decision hooks of a real hook server (tests/unit/hooks_server.py):
 * subscribe Authorize (unary), publish Authorize and OnPublish over the MessageHooks stream
 * (changes, drops, 10k requests in flight batched, the server's credits, deadlines with late
 * answers, the server killed mid-stream and restarted), OnSubscribe (rewrite, QoS ceiling,
 * deny per filter) and events delivered over the Events stream (with a redelivery). */
#include "hooks_grpc_harness.h"


static env_t *start(pyserver_t *ps, hmq_hooks_server_config_t *cfg, char *endpoint,
                    const char *const *eps)
{
    snprintf(endpoint, 64, "127.0.0.1:%d", ps->port);
    server_config(cfg, eps);
    env_t *e = env_new(cfg);
    assert_true(wait_ready(e, 10000));
    return e;
}

/* ---- authorize ---------------------------------------------------------------------------- */

static void test_authorize(void **state)
{
    (void)state;
    assert_true(server_start(&srv, NULL));
    char endpoint[64];
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    env_t *e = start(&srv, &cfg, endpoint, eps);
    authz_out_t o;
    hmq_hooks_metrics_t m;

    do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/allow/x", &o); /* unary Authorize */
    assert_int_equal(o.v.decision, HMQ_DECISION_ALLOW);
    assert_string_equal(o.v.provider, "py");
    assert_false(o.v.by_policy);
    do_authz(e, HMQ_ACTION_SUBSCRIBE, "sub/deny/x", &o);
    assert_int_equal(o.v.decision, HMQ_DECISION_DENY);
    assert_int_equal(o.v.reason_code, HMQ_RC_NOT_AUTHORIZED);
    assert_string_equal(o.reason, "no sub");
    assert_string_equal(o.v.provider, "py");
    metrics(e, HMQ_HOOK_AUTHORIZE, &m);
    assert_int_equal(m.calls, 2);
    /* outside the registration's filters: no call, the default (deny) decides */
    do_authz(e, HMQ_ACTION_SUBSCRIBE, "other/x", &o);
    assert_int_equal(o.v.decision, HMQ_DECISION_DENY);
    assert_null(o.v.provider);
    metrics(e, HMQ_HOOK_AUTHORIZE, &m);
    assert_int_equal(m.calls, 2);
    long batches = server_stat(e, "batches");
    assert_int_equal(batches, 0); /* subscriptions are unary */

    /* publish authorization travels on the MessageHooks stream, payload included */
    do_authz(e, HMQ_ACTION_PUBLISH, "pub/allow/x", &o);
    assert_int_equal(o.v.decision, HMQ_DECISION_ALLOW);
    assert_false(o.v.by_policy);
    do_authz(e, HMQ_ACTION_PUBLISH, "pub/deny/x", &o);
    assert_int_equal(o.v.decision, HMQ_DECISION_DENY);
    assert_int_equal(o.v.reason_code, 0x97);
    assert_string_equal(o.reason, "no pub");
    assert_int_equal(server_stat(e, "batches"), 2);
    /* a publish to a topic only the subscribe registration covers: CONTINUE, nothing sent */
    do_authz(e, HMQ_ACTION_PUBLISH, "sub/allow/x", &o);
    assert_int_equal(o.v.decision, HMQ_DECISION_DENY);
    assert_null(o.v.provider);
    assert_int_equal(server_stat(e, "batches"), 2);
    env_free(e);
    server_stop(&srv);
}

/* ---- on_publish --------------------------------------------------------------------------- */

static void test_on_publish(void **state)
{
    (void)state;
    assert_true(server_start(&srv, NULL));
    char endpoint[64];
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    env_t *e = start(&srv, &cfg, endpoint, eps);
    pub_t *p = calloc(1, sizeof(*p));

    pub_start(e, p, "mod/a", "abc");
    assert_true(run_until(e, &p->out.done, 10000));
    assert_int_equal(p->out.status, 0);
    assert_int_equal(p->out.v.decision, HMQ_DECISION_ALLOW);
    assert_int_equal(p->out.changed, HMQ_MSG_TOPIC | HMQ_MSG_PAYLOAD | HMQ_MSG_USER_PROPERTIES);
    assert_string_equal(p->out.topic, "modded/a");
    assert_string_equal(p->out.payload, "ABC");
    assert_int_equal(p->out.n_props, 2);
    assert_string_equal(p->out.keys[0], "k");
    assert_string_equal(p->out.values[0], "v");
    assert_string_equal(p->out.keys[1], "hooked");
    assert_string_equal(p->out.values[1], "yes");

    pub_start(e, p, "drop/a", "abc");
    assert_true(run_until(e, &p->out.done, 10000));
    assert_int_equal(p->out.v.decision, HMQ_DECISION_DENY);
    assert_int_equal(p->out.v.reason_code, 0x99);
    assert_string_equal(p->out.reason, "bad payload");
    assert_false(p->out.v.by_policy);

    pub_start(e, p, "count/a", "abc"); /* unchanged */
    assert_true(run_until(e, &p->out.done, 10000));
    assert_int_equal(p->out.v.decision, HMQ_DECISION_ALLOW);
    assert_int_equal(p->out.changed, 0);
    assert_string_equal(p->out.topic, "count/a");
    free(p);
    env_free(e);
    server_stop(&srv);
}

/* 10k requests at once: all answered, in far fewer MessageBatch messages. */
static void test_many_in_flight(void **state)
{
    (void)state;
    assert_true(server_start(&srv, NULL));
    char endpoint[64];
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    snprintf(endpoint, 64, "127.0.0.1:%d", srv.port);
    server_config(&cfg, eps);
    cfg.policy.deadline_ms[HMQ_HOOK_ON_PUBLISH] = 20000;
    env_t *e = env_new(&cfg);
    assert_true(wait_ready(e, 10000));
    enum { N = 10000 };
    pub_t *ps = calloc(N, sizeof(*ps));
    for (int i = 0; i < N; i++) {
        char t[32];
        snprintf(t, sizeof(t), "count/%d", i);
        pub_start(e, &ps[i], t, "x");
    }
    for (int i = 0; i < N; i++) {
        assert_true(run_until(e, &ps[i].out.done, 30000));
        assert_int_equal(ps[i].out.status, 0);
        assert_int_equal(ps[i].out.v.decision, HMQ_DECISION_ALLOW);
        assert_false(ps[i].out.v.by_policy);
    }
    long batches = server_stat(e, "batches"), items = server_stat(e, "items");
    print_message("10000 on_publish calls in %ld MessageBatch messages\n", batches);
    assert_int_equal(items, N);
    assert_true(batches < N / 4);
    assert_true(server_stat(e, "max_batch") <= 256);
    hmq_hooks_metrics_t m;
    metrics(e, HMQ_HOOK_ON_PUBLISH, &m);
    assert_int_equal(m.calls, N);
    assert_int_equal(m.failures, 0);
    assert_int_equal(m.in_flight, 0);
    free(ps);
    env_free(e);
    server_stop(&srv);
}

/* A server granting 8 credits never has more than 8 requests outstanding. */
static void test_credits(void **state)
{
    (void)state;
    assert_true(server_start(&srv, "--window", "8", NULL));
    char endpoint[64];
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    snprintf(endpoint, 64, "127.0.0.1:%d", srv.port);
    server_config(&cfg, eps);
    cfg.policy.deadline_ms[HMQ_HOOK_ON_PUBLISH] = 20000;
    env_t *e = env_new(&cfg);
    assert_true(wait_ready(e, 10000));
    enum { N = 200 };
    pub_t *ps = calloc(N, sizeof(*ps));
    for (int i = 0; i < N; i++)
        pub_start(e, &ps[i], "win/x", "x");
    for (int i = 0; i < N; i++) {
        assert_true(run_until(e, &ps[i].out.done, 30000));
        assert_int_equal(ps[i].out.v.decision, HMQ_DECISION_ALLOW);
        assert_false(ps[i].out.v.by_policy);
    }
    long max_running = server_stat(e, "max_running");
    print_message("window 8: at most %ld handlers running\n", max_running);
    assert_true(max_running >= 2 && max_running <= 8);
    assert_true(server_stat(e, "max_batch") <= 8);
    assert_true(server_stat(e, "batches") >= N / 8);
    free(ps);
    env_free(e);
    server_stop(&srv);
}

/* The deadline passes on the stream: TIMEOUT -> on_failure; the late answer is ignored. */
static void test_stream_deadline(void **state)
{
    (void)state;
    assert_true(server_start(&srv, NULL));
    char endpoint[64];
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    snprintf(endpoint, 64, "127.0.0.1:%d", srv.port);
    server_config(&cfg, eps);
    cfg.policy.deadline_ms[HMQ_HOOK_ON_PUBLISH] = 150;
    env_t *e = env_new(&cfg);
    assert_true(wait_ready(e, 10000));
    pub_t *p = calloc(1, sizeof(*p));
    uint64_t t0 = uv_hrtime();
    pub_start(e, p, "hold/a", "abc"); /* the server answers after 1 s */
    assert_true(run_until(e, &p->out.done, 5000));
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_int_equal(p->out.v.decision, HMQ_DECISION_DENY); /* on_failure deny */
    assert_int_equal(p->out.v.reason_code, HMQ_RC_UNSPECIFIED_ERROR);
    assert_true(p->out.v.by_policy);
    assert_true(ms >= 140 && ms < 800);
    hmq_hooks_metrics_t m;
    metrics(e, HMQ_HOOK_ON_PUBLISH, &m);
    assert_int_equal(m.timeouts, 1);
    assert_int_equal(m.in_flight, 0);
    sleep_loop(e, 1200); /* the late answer arrives and is ignored */
    pub_start(e, p, "mod/b", "abc");
    assert_true(run_until(e, &p->out.done, 5000));
    assert_int_equal(p->out.v.decision, HMQ_DECISION_ALLOW);
    assert_string_equal(p->out.topic, "modded/b");
    metrics(e, HMQ_HOOK_ON_PUBLISH, &m);
    assert_int_equal(m.timeouts, 1);
    assert_int_equal(m.failures, 1);
    free(p);
    env_free(e);
    server_stop(&srv);
}

/* The server dies with requests outstanding: they fail at once (UNAVAILABLE), not at their
 * deadline; after a restart on the same port the stream reopens and calls succeed again. */
static void test_server_killed(void **state)
{
    (void)state;
    assert_true(server_start(&srv, NULL));
    char port[16];
    snprintf(port, sizeof(port), "%d", srv.port);
    char endpoint[64];
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    snprintf(endpoint, 64, "127.0.0.1:%d", srv.port);
    server_config(&cfg, eps);
    cfg.policy.deadline_ms[HMQ_HOOK_ON_PUBLISH] = 10000;
    cfg.breaker_open_ms = 200;
    env_t *e = env_new(&cfg);
    assert_true(wait_ready(e, 10000));
    enum { N = 50 };
    pub_t *ps = calloc(N, sizeof(*ps));
    for (int i = 0; i < N; i++)
        pub_start(e, &ps[i], "hold/x", "x");
    sleep_loop(e, 200); /* sent and held by the server */
    uint64_t t0 = uv_hrtime();
    server_kill(&srv);
    for (int i = 0; i < N; i++) {
        assert_true(run_until(e, &ps[i].out.done, 5000));
        assert_true(ps[i].out.v.by_policy);
    }
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_true(ms < 3000);
    hmq_hooks_metrics_t m;
    metrics(e, HMQ_HOOK_ON_PUBLISH, &m);
    assert_int_equal(m.unavailable, N);
    assert_int_equal(m.timeouts, 0);

    assert_true(server_start(&srv, "--port", port, NULL));
    bool ok = false;
    for (int tries = 0; tries < 100 && !ok; tries++) {
        pub_start(e, &ps[0], "mod/r", "abc");
        assert_true(run_until(e, &ps[0].out.done, 5000));
        ok = !ps[0].out.v.by_policy;
        if (!ok) sleep_loop(e, 100);
    }
    assert_true(ok);
    assert_string_equal(ps[0].out.topic, "modded/r");
    free(ps);
    env_free(e);
    server_stop(&srv);
}

/* Cancel: the request ends at once (ECANCELED) and the server's later answer is ignored; engine
 * close: every outstanding request ends ECANCELED. */
static void test_cancel_and_close(void **state)
{
    (void)state;
    assert_true(server_start(&srv, NULL));
    char endpoint[64];
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    snprintf(endpoint, 64, "127.0.0.1:%d", srv.port);
    server_config(&cfg, eps);
    cfg.policy.deadline_ms[HMQ_HOOK_ON_PUBLISH] = 10000;
    env_t *e = env_new(&cfg);
    assert_true(wait_ready(e, 10000));
    enum { N = 20 };
    pub_t *ps = calloc(N, sizeof(*ps));
    pub_start(e, &ps[0], "hold/c", "x");
    sleep_loop(e, 100); /* sent */
    uint64_t t0 = uv_hrtime();
    hmq_hooks_op_cancel(ps[0].req.op);
    assert_true(run_until(e, &ps[0].out.done, 5000));
    assert_int_equal(ps[0].out.status, HMQ_HOOKS_ECANCELED);
    assert_true((uv_hrtime() - t0) / 1000000 < 100);
    sleep_loop(e, 1100); /* the answer comes and is ignored */
    pub_start(e, &ps[0], "mod/c", "x");
    assert_true(run_until(e, &ps[0].out.done, 5000));
    assert_string_equal(ps[0].out.topic, "modded/c");

    for (int i = 0; i < N; i++)
        pub_start(e, &ps[i], "hold/d", "x");
    sleep_loop(e, 100);
    hmq_hooks_close(e->h);
    hmq_hooks_loop_close(&e->hl, NULL);
    for (int i = 0; i < N; i++) {
        assert_true(ps[i].out.done);
        assert_int_equal(ps[i].out.status, HMQ_HOOKS_ECANCELED);
    }
    uv_close((uv_handle_t *)&e->guard, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    free(e);
    free(ps);
    server_stop(&srv);
}

/* ---- on_subscribe ------------------------------------------------------------------------- */

typedef struct {
    int done, status;
    hmq_hooks_sub_result_t r[8];
    char filters[8][64], reasons[8][64];
} sub_out_t;

static void on_sub(hmq_hooks_subscribe_req_t *req, int status, const hmq_hooks_sub_result_t *r)
{
    sub_out_t *o = req->data;
    o->done = 1;
    o->status = status;
    for (size_t i = 0; r && i < req->n_subs && i < 8; i++) {
        o->r[i] = r[i];
        snprintf(o->filters[i], 64, "%s", r[i].filter);
        snprintf(o->reasons[i], 64, "%s", r[i].reason ? r[i].reason : "");
    }
}

static void test_on_subscribe(void **state)
{
    (void)state;
    assert_true(server_start(&srv, NULL));
    char endpoint[64];
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    env_t *e = start(&srv, &cfg, endpoint, eps);
    hmq_hooks_subscription_t subs[] = {{.filter = "rw/a", .qos = 1},
                                       {.filter = "q/b", .qos = 2},
                                       {.filter = "sd/c", .qos = 1},
                                       {.filter = "other/d", .qos = 1},
                                       {.filter = "rwbad/e", .qos = 1}};
    static const hmq_hooks_pair_t props[] = {{"a", "b"}};
    sub_out_t o = {0};
    hmq_hooks_subscribe_req_t req = {.data = &o,
                                     .client = &e->client,
                                     .subs = subs,
                                     .n_subs = 5,
                                     .subscription_id = 7,
                                     .user_properties = props,
                                     .n_user_properties = 1};
    assert_int_equal(hmq_hooks_on_subscribe(&e->hl, &req, on_sub), 0);
    assert_true(run_until(e, &o.done, 10000));
    assert_int_equal(o.status, 0);
    assert_int_equal(o.r[0].decision, HMQ_DECISION_ALLOW);
    assert_string_equal(o.filters[0], "rewritten/a");
    assert_int_equal(o.r[0].max_qos, 2);
    assert_int_equal(o.r[1].decision, HMQ_DECISION_ALLOW);
    assert_string_equal(o.filters[1], "q/b");
    assert_int_equal(o.r[1].max_qos, 0);
    assert_int_equal(o.r[2].decision, HMQ_DECISION_DENY);
    assert_int_equal(o.r[2].reason_code, HMQ_RC_NOT_AUTHORIZED);
    assert_string_equal(o.reasons[2], "sd");
    assert_int_equal(o.r[3].decision, HMQ_DECISION_ALLOW); /* not routed: the default */
    assert_string_equal(o.filters[3], "other/d");
    /* an invalid rewrite fails that filter alone (on_failure deny: 0x80) */
    assert_int_equal(o.r[4].decision, HMQ_DECISION_DENY);
    assert_int_equal(o.r[4].reason_code, HMQ_RC_UNSPECIFIED_ERROR);
    hmq_hooks_metrics_t m;
    metrics(e, HMQ_HOOK_ON_SUBSCRIBE, &m);
    assert_int_equal(m.calls, 1); /* one call for the whole packet */
    assert_int_equal(m.failures, 0);
    env_free(e);
    server_stop(&srv);
}

/* ---- events ------------------------------------------------------------------------------- */

static bool wait_stat(env_t *e, const char *name, long want, uint64_t ms)
{
    uint64_t end = uv_hrtime() + ms * 1000000ull;
    while (uv_hrtime() < end) {
        if (server_stat(e, name) >= want) return true;
        sleep_loop(e, 50);
    }
    return false;
}

static void test_events(void **state)
{
    (void)state;
    assert_true(server_start(&srv, NULL));
    char endpoint[64];
    const char *eps[] = {endpoint};
    hmq_hooks_server_config_t cfg;
    env_t *e = start(&srv, &cfg, endpoint, eps);
    assert_true(hmq_hooks_wants_event(e->h, HMQ_EVENT_CONNECTED));
    hmq_hooks_client_t c = e->client;
    c.client_id = "ev-1";
    hmq_hooks_event_t ev = {.type = HMQ_EVENT_CONNECTED, .client = &c, .session_present = true};
    for (int i = 0; i < 5; i++)
        hmq_hooks_event(e->h, &ev);
    hmq_hooks_subscription_t sub = {.filter = "a/b", .qos = 1};
    hmq_hooks_event_t ev2 = {
        .type = HMQ_EVENT_SUBSCRIBED, .client = &c, .subscription = &sub, .granted_qos = 1};
    hmq_hooks_event(e->h, &ev2);
    assert_true(wait_stat(e, "events", 6, 5000));

    /* the server refuses a batch once (RetryLater): it comes again after a backoff */
    c.client_id = "retry-1";
    hmq_hooks_event(e->h, &ev);
    assert_true(wait_stat(e, "events", 7, 5000));
    assert_int_equal(server_stat(e, "retried"), 1);
    assert_int_equal(hmq_hooks_events_dropped(e->h), 0);
    env_free(e);
    server_stop(&srv);
}


int main(void)
{
    find_src_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_authorize, srv_teardown),
        cmocka_unit_test_teardown(test_on_publish, srv_teardown),
        cmocka_unit_test_teardown(test_on_subscribe, srv_teardown),
        cmocka_unit_test_teardown(test_many_in_flight, srv_teardown),
        cmocka_unit_test_teardown(test_credits, srv_teardown),
        cmocka_unit_test_teardown(test_stream_deadline, srv_teardown),
        cmocka_unit_test_teardown(test_server_killed, srv_teardown),
        cmocka_unit_test_teardown(test_cancel_and_close, srv_teardown),
        cmocka_unit_test_teardown(test_events, srv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
