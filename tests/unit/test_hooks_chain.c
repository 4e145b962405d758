/* test_hooks_chain.c - the chain for authorize, on_publish and on_subscribe (chain.c): deny
 * wins, changes threaded through providers, per-subscription decisions and rewrites, cache
 * scopes, failure policies per hook, cancellation. Scripted in-process providers, no network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hookmq/hooks.h"

typedef struct {
    int decision;
    uint8_t reason_code, scope;
    uint32_t ttl_ms;
    hmq_hooks_call_status_t status;
    int calls;
    char seen_topic[64];   /* what the provider was shown */
    const char *new_topic; /* on_publish: replace the topic (and the payload with "changed") */
    bool hold;
    hmq_hooks_call_t *held;
    /* on_subscribe: answer per subscription: 'D' deny, 'A' allow, 'C' continue, 'R' rewrite */
    const char *sub_script;
    size_t seen_subs;
} fake_t;

static void finish_call(fake_t *f, hmq_hooks_call_t *call)
{
    hmq_hooks_answer_t *a = hmq_hooks_call_answer(call);
    a->decision = f->decision;
    a->reason_code = f->reason_code;
    a->cache_ttl_ms = f->ttl_ms;
    a->cache_scope = f->scope;
    if (f->hold) {
        f->held = call;
        return;
    }
    hmq_hooks_call_done(call, f->status);
}

static int fake_authorize(void *self, hmq_hooks_call_t *call, const hmq_hooks_authz_req_t *req,
                          uint32_t deadline_ms)
{
    fake_t *f = self;
    (void)deadline_ms;
    f->calls++;
    snprintf(f->seen_topic, sizeof f->seen_topic, "%s", req->topic);
    finish_call(f, call);
    return 0;
}

static int fake_publish(void *self, hmq_hooks_call_t *call, const hmq_hooks_client_t *client,
                        const hmq_hooks_message_t *m, uint32_t deadline_ms)
{
    fake_t *f = self;
    (void)client;
    (void)deadline_ms;
    f->calls++;
    snprintf(f->seen_topic, sizeof f->seen_topic, "%s", m->topic);
    if (f->new_topic) {
        hmq_hooks_answer_t *a = hmq_hooks_call_answer(call);
        a->changed = HMQ_MSG_TOPIC | HMQ_MSG_PAYLOAD | HMQ_MSG_USER_PROPERTIES;
        a->changes.topic = strdup(f->new_topic);
        a->changes.payload = (uint8_t *)strdup("changed");
        a->changes.payload_len = 7;
        hmq_hooks_pair_t *up = calloc(1, sizeof *up);
        up->key = strdup("enriched");
        up->value = strdup("yes");
        a->changes.user_properties = up;
        a->changes.n_user_properties = 1;
    }
    finish_call(f, call);
    return 0;
}

static int fake_subscribe(void *self, hmq_hooks_call_t *call, const hmq_hooks_subscribe_req_t *req,
                          const hmq_hooks_subscription_t *subs, size_t n, uint32_t deadline_ms)
{
    fake_t *f = self;
    (void)req;
    (void)deadline_ms;
    f->calls++;
    f->seen_subs = n;
    snprintf(f->seen_topic, sizeof f->seen_topic, "%s", subs[0].filter);
    hmq_hooks_answer_t *a = hmq_hooks_call_answer(call);
    a->decision = HMQ_DECISION_CONTINUE;
    a->subs = calloc(n, sizeof *a->subs);
    a->n_subs = n;
    for (size_t i = 0; i < n; i++) {
        char c = f->sub_script ? f->sub_script[i] : 'C';
        a->subs[i].max_qos = 3;
        a->subs[i].decision = c == 'D'   ? HMQ_DECISION_DENY
                              : c == 'A' ? HMQ_DECISION_ALLOW
                              : c == 'R' ? HMQ_DECISION_ALLOW
                                         : HMQ_DECISION_CONTINUE;
        if (c == 'D') a->subs[i].reason_code = 0x87;
        if (c == 'R') {
            char buf[128];
            snprintf(buf, sizeof buf, "tenant/%s", subs[i].filter);
            a->subs[i].filter = strdup(buf);
            a->subs[i].max_qos = 0;
        }
    }
    hmq_hooks_call_done(call, f->status);
    return 0;
}

static void fake_cancel(void *self, hmq_hooks_call_t *call)
{
    fake_t *f = self;
    if (f->held == call) {
        f->held = NULL;
        hmq_hooks_call_done(call, HMQ_CALL_CANCELLED);
    }
}

static const hmq_hooks_provider_ops_t ops = {.authorize = fake_authorize,
                                             .on_publish = fake_publish,
                                             .on_subscribe = fake_subscribe,
                                             .cancel = fake_cancel};

typedef struct {
    uv_loop_t loop;
    hmq_hooks_t *h;
    hmq_hooks_loop_t hl;
    int done, status;
    hmq_hooks_verdict_t v;
    uint32_t changed;
    char topic[64], payload[64], prop[32], provider[16];
    hmq_hooks_sub_result_t subs[4];
    char sub_filters[4][64];
} env_t;

static env_t *env_new(fake_t *a, fake_t *b, const hmq_hooks_config_t *cfg,
                      const hmq_hooks_policy_t *pol)
{
    env_t *e = calloc(1, sizeof(*e));
    hmq_hooks_config_t def = {0};
    uv_loop_init(&e->loop);
    assert_int_equal(hmq_hooks_new(&e->h, &e->loop, cfg ? cfg : &def), 0);
    assert_int_equal(hmq_hooks_add_provider(e->h, "a", &ops, a, pol), 0);
    if (b) assert_int_equal(hmq_hooks_add_provider(e->h, "b", &ops, b, pol), 0);
    assert_int_equal(hmq_hooks_start(e->h), 0);
    assert_int_equal(hmq_hooks_loop_init(e->h, &e->loop, &e->hl), 0);
    return e;
}

static void env_free(env_t *e)
{
    hmq_hooks_close(e->h);
    hmq_hooks_loop_close(&e->hl, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    free(e);
}

static void wait_done(env_t *e)
{
    assert_int_equal(e->done, 0); /* never from inside the start call */
    while (!e->done)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_int_equal(e->done, 1);
}

static hmq_hooks_client_t client = {
    .client_id = "pos-1", .username = "u1", .listener = "default", .protocol_version = 5};

static void on_authz(hmq_hooks_authz_req_t *req, int status, const hmq_hooks_verdict_t *v)
{
    env_t *e = req->data;
    e->done++;
    e->status = status;
    if (v) e->v = *v;
}

static void authorize(env_t *e, const char *topic)
{
    hmq_hooks_authz_req_t req = {
        .data = e, .client = &client, .action = HMQ_ACTION_PUBLISH, .topic = topic, .qos = 1};
    e->done = 0;
    assert_int_equal(hmq_hooks_authorize(&e->hl, &req, on_authz), 0);
    wait_done(e);
}

static void on_pub(hmq_hooks_publish_req_t *req, int status, const hmq_hooks_publish_result_t *r)
{
    env_t *e = req->data;
    e->done++;
    e->status = status;
    if (!r) return;
    e->v = r->verdict;
    e->changed = r->changed;
    snprintf(e->provider, sizeof e->provider, "%s", r->verdict.provider ? r->verdict.provider : "");
    snprintf(e->topic, sizeof e->topic, "%s", r->message->topic);
    snprintf(e->payload, sizeof e->payload, "%.*s", (int)r->message->payload_len,
             (const char *)r->message->payload);
    e->prop[0] = 0;
    if (r->message->n_user_properties)
        snprintf(e->prop, sizeof e->prop, "%s=%s", r->message->user_properties[0].key,
                 r->message->user_properties[0].value);
}

static hmq_hooks_publish_req_t publish_req;
static hmq_hooks_message_t publish_msg;

static void publish_start(env_t *e, const char *topic)
{
    publish_msg = (hmq_hooks_message_t){
        .topic = topic, .payload = (const uint8_t *)"orig", .payload_len = 4, .qos = 1};
    publish_req = (hmq_hooks_publish_req_t){.data = e, .client = &client, .message = &publish_msg};
    e->done = 0;
    assert_int_equal(hmq_hooks_on_publish(&e->hl, &publish_req, on_pub), 0);
}

static void publish(env_t *e, const char *topic)
{
    publish_start(e, topic);
    wait_done(e);
}

static void test_authorize_deny_wins_and_default(void **state)
{
    (void)state;
    fake_t a = {.decision = HMQ_DECISION_ALLOW}, b = {.decision = HMQ_DECISION_DENY};
    env_t *e = env_new(&a, &b, NULL, NULL);
    authorize(e, "pay/1");
    assert_int_equal(e->status, 0);
    assert_int_equal(e->v.decision, HMQ_DECISION_DENY);
    assert_int_equal(e->v.reason_code, 0x87);
    assert_string_equal(e->v.provider, "b");
    assert_string_equal(a.seen_topic, "pay/1");
    b.decision = HMQ_DECISION_CONTINUE;
    authorize(e, "pay/2");
    assert_int_equal(e->v.decision, HMQ_DECISION_ALLOW);
    a.decision = HMQ_DECISION_CONTINUE;
    authorize(e, "pay/3"); /* everyone CONTINUE: authorize defaults to deny */
    assert_int_equal(e->v.decision, HMQ_DECISION_DENY);
    assert_null(e->v.provider);
    env_free(e);
}

static void test_authorize_cache_scopes(void **state)
{
    (void)state;
    fake_t a = {.decision = HMQ_DECISION_ALLOW, .ttl_ms = 60000, .scope = HMQ_SCOPE_TOPIC};
    env_t *e = env_new(&a, NULL, NULL, NULL);
    authorize(e, "t/1");
    authorize(e, "t/1");
    assert_int_equal(a.calls, 1); /* cached for this topic */
    assert_true(e->v.from_cache);
    authorize(e, "t/2");
    assert_int_equal(a.calls, 2); /* another topic: asked */
    a.scope = HMQ_SCOPE_CLIENT;
    authorize(e, "t/3");
    assert_int_equal(a.calls, 3);
    authorize(e, "t/4"); /* client scope: any topic of this client */
    assert_int_equal(a.calls, 3);
    assert_int_equal(e->v.decision, HMQ_DECISION_ALLOW);
    hmq_hooks_metrics_t m;
    assert_int_equal(hmq_hooks_metrics(e->h, 0, HMQ_HOOK_AUTHORIZE, &m), 0);
    assert_int_equal(m.calls, 3);
    assert_int_equal(m.cache_hits, 2);
    env_free(e);
}

static void test_on_publish_changes_thread_through(void **state)
{
    (void)state;
    fake_t a = {.decision = HMQ_DECISION_CONTINUE, .new_topic = "pay/enriched"},
           b = {.decision = HMQ_DECISION_ALLOW};
    env_t *e = env_new(&a, &b, NULL, NULL);
    publish(e, "pay/raw");
    assert_int_equal(e->status, 0);
    assert_int_equal(e->v.decision, HMQ_DECISION_ALLOW);
    assert_string_equal(b.seen_topic, "pay/enriched"); /* b saw a's change */
    assert_string_equal(e->topic, "pay/enriched");
    assert_string_equal(e->payload, "changed");
    assert_string_equal(e->prop, "enriched=yes");
    assert_int_equal(e->changed, HMQ_MSG_TOPIC | HMQ_MSG_PAYLOAD | HMQ_MSG_USER_PROPERTIES);
    assert_string_equal(e->provider, "b");
    env_free(e);
}

static void test_on_publish_drop_and_unchanged(void **state)
{
    (void)state;
    fake_t a = {.decision = HMQ_DECISION_DENY, .reason_code = 0x99},
           b = {.decision = HMQ_DECISION_ALLOW};
    env_t *e = env_new(&a, &b, NULL, NULL);
    publish(e, "pay/bad");
    assert_int_equal(e->v.decision, HMQ_DECISION_DENY);
    assert_int_equal(e->v.reason_code, 0x99);
    assert_int_equal(b.calls, 0); /* a drop ends the chain */
    a.decision = HMQ_DECISION_CONTINUE;
    b.decision = HMQ_DECISION_CONTINUE;
    publish(e, "pay/ok"); /* nobody decided: on_publish defaults to deliver, unchanged */
    assert_int_equal(e->v.decision, HMQ_DECISION_ALLOW);
    assert_int_equal(e->changed, 0);
    assert_string_equal(e->topic, "pay/ok");
    assert_string_equal(e->payload, "orig");
    env_free(e);
}

static void test_on_publish_failure_policies(void **state)
{
    (void)state;
    fake_t a = {.decision = HMQ_DECISION_ALLOW, .status = HMQ_CALL_TIMEOUT};
    hmq_hooks_policy_t pol = {0};
    pol.on_failure[HMQ_HOOK_ON_PUBLISH] = HMQ_ON_FAILURE_DENY;
    env_t *e = env_new(&a, NULL, NULL, &pol);
    publish(e, "p");
    assert_int_equal(e->v.decision, HMQ_DECISION_DENY);
    assert_int_equal(e->v.reason_code, HMQ_RC_UNSPECIFIED_ERROR);
    assert_true(e->v.by_policy);
    hmq_hooks_metrics_t m;
    assert_int_equal(hmq_hooks_metrics(e->h, 0, HMQ_HOOK_ON_PUBLISH, &m), 0);
    assert_int_equal(m.timeouts, 1);
    env_free(e);

    fake_t b = {.decision = HMQ_DECISION_DENY, .status = HMQ_CALL_UNAVAILABLE};
    pol.on_failure[HMQ_HOOK_ON_PUBLISH] = HMQ_ON_FAILURE_ALLOW;
    e = env_new(&b, NULL, NULL, &pol);
    publish(e, "p");
    assert_int_equal(e->v.decision, HMQ_DECISION_ALLOW);
    assert_true(e->v.by_policy);
    env_free(e);
}

static void test_on_publish_cancel(void **state)
{
    (void)state;
    fake_t a = {.decision = HMQ_DECISION_ALLOW, .hold = true};
    env_t *e = env_new(&a, NULL, NULL, NULL);
    publish_start(e, "p");
    while (!a.held)
        uv_run(&e->loop, UV_RUN_ONCE);
    hmq_hooks_op_cancel(publish_req.op);
    while (!e->done)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_int_equal(e->status, HMQ_HOOKS_ECANCELED);
    env_free(e);
}

static void on_sub(hmq_hooks_subscribe_req_t *req, int status, const hmq_hooks_sub_result_t *r)
{
    env_t *e = req->data;
    e->done++;
    e->status = status;
    for (size_t i = 0; r && i < req->n_subs && i < 4; i++) {
        e->subs[i] = r[i];
        snprintf(e->sub_filters[i], 64, "%s", r[i].filter ? r[i].filter : "");
    }
}

static void test_on_subscribe_per_filter(void **state)
{
    (void)state;
    fake_t a = {.sub_script = "DRC"}, b = {.sub_script = "AA"};
    env_t *e = env_new(&a, &b, NULL, NULL);
    hmq_hooks_subscription_t subs[3] = {{.filter = "secret/#", .qos = 1},
                                        {.filter = "news", .qos = 2},
                                        {.filter = "x/y", .qos = 1}};
    hmq_hooks_subscribe_req_t req = {.data = e, .client = &client, .subs = subs, .n_subs = 3};
    assert_int_equal(hmq_hooks_on_subscribe(&e->hl, &req, on_sub), 0);
    wait_done(e);
    assert_int_equal(e->status, 0);
    assert_int_equal(e->subs[0].decision, HMQ_DECISION_DENY);
    assert_int_equal(e->subs[0].reason_code, 0x87);
    assert_int_equal(e->subs[1].decision, HMQ_DECISION_ALLOW);
    assert_string_equal(e->sub_filters[1], "tenant/news"); /* rewritten by a */
    assert_int_equal(e->subs[1].max_qos, 0);
    assert_int_equal(e->subs[2].decision, HMQ_DECISION_ALLOW);
    assert_string_equal(e->sub_filters[2], "x/y");
    assert_int_equal(e->subs[2].max_qos, 2);
    assert_int_equal(b.seen_subs, 2);                 /* the denied filter is not sent on */
    assert_string_equal(b.seen_topic, "tenant/news"); /* b saw the rewrite */
    env_free(e);
}

static void test_provider_without_op_is_skipped(void **state)
{
    (void)state;
    static const hmq_hooks_provider_ops_t auth_only = {.authorize = fake_authorize};
    fake_t a = {.decision = HMQ_DECISION_DENY};
    env_t *e = calloc(1, sizeof(*e));
    hmq_hooks_config_t cfg = {0};
    uv_loop_init(&e->loop);
    assert_int_equal(hmq_hooks_new(&e->h, &e->loop, &cfg), 0);
    assert_int_equal(hmq_hooks_add_provider(e->h, "acl", &auth_only, &a, NULL), 0);
    assert_int_equal(hmq_hooks_start(e->h), 0);
    assert_int_equal(hmq_hooks_loop_init(e->h, &e->loop, &e->hl), 0);
    assert_false(hmq_hooks_wants(e->h, HMQ_HOOK_ON_PUBLISH, &client, "t"));
    assert_false(hmq_hooks_wants(e->h, HMQ_HOOK_AUTHENTICATE, &client, NULL));
    assert_true(hmq_hooks_wants(e->h, HMQ_HOOK_AUTHORIZE, &client, "t"));
    publish(e, "t");
    assert_int_equal(e->v.decision, HMQ_DECISION_ALLOW);
    assert_int_equal(a.calls, 0);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authorize_deny_wins_and_default),
        cmocka_unit_test(test_authorize_cache_scopes),
        cmocka_unit_test(test_on_publish_changes_thread_through),
        cmocka_unit_test(test_on_publish_drop_and_unchanged),
        cmocka_unit_test(test_on_publish_failure_policies),
        cmocka_unit_test(test_on_publish_cancel),
        cmocka_unit_test(test_on_subscribe_per_filter),
        cmocka_unit_test(test_provider_without_op_is_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
