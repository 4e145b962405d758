/* test_hooks_grpc.c - the hook engine against a real hook server: tests/unit/hooks_server.py,
 * built with the Python SDK, over gRPC on a free port. Allow (with grants), deny (cached),
 * deadline expiry, a FAILURE answer, filters evaluated in C, and the server going away
 * (UNAVAILABLE -> on_failure). Skipped only when the SDK's venv cannot be created. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hookmq/hooks.h"

extern char **environ;

/* gRPC / c-ares keep a few process-lifetime allocations (DEPENDENCY-NOTES §3). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libcares.so\nleak:libgrpc.so\nleak:libgpr.so\nleak:libabsl\n";
}

static char src_dir[1024];
static pid_t server_pid;
static int server_stdin = -1;

static void find_src_dir(void)
{
    const char *env = getenv("HOOKMQ_SOURCE_DIR");
    if (env) {
        snprintf(src_dir, sizeof(src_dir), "%s", env);
        return;
    }
    snprintf(src_dir, sizeof(src_dir), "%s", __FILE__);
    char *p = strstr(src_dir, "/tests/unit/");
    if (p) *p = '\0';
}

/* Starts hooks_server.py; returns its port, or 0 when the venv is absent. */
static int start_server(void)
{
    char py[1200], script[1200];
    snprintf(py, sizeof(py), "%s/sdk-python/.venv/bin/python", src_dir);
    snprintf(script, sizeof(script), "%s/tests/unit/hooks_server.py", src_dir);
    if (access(py, X_OK) != 0) { /* create the venv once (exits 5: no test selected) */
        char cmd[1400];
        snprintf(cmd, sizeof(cmd),
                 "'%s/sdk-python/scripts/test.sh' -q -k nonexistent >/dev/null 2>&1", src_dir);
        if (system(cmd) == -1) return 0;
        if (access(py, X_OK) != 0) return 0;
    }
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *argv[] = {py, script, NULL};
    assert_int_equal(posix_spawn(&server_pid, py, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    server_stdin = in[1];
    FILE *f = fdopen(out[0], "r");
    char line[128] = {0};
    int port = 0;
    if (fgets(line, sizeof(line), f)) sscanf(line, "PORT %d", &port); /* waits for the bind */
    fclose(f);
    assert_true(port > 0);
    return port;
}

static void stop_server(void)
{
    if (server_stdin < 0) return;
    close(server_stdin); /* EOF: the server stops */
    server_stdin = -1;
    int st;
    waitpid(server_pid, &st, 0);
}

typedef struct {
    uv_loop_t loop;
    uv_timer_t guard;
    hmq_hooks_t *h;
    hmq_hooks_loop_t hl;
    int done, status;
    hmq_hooks_auth_result_t res;
    char reason[64];
    hmq_grants_t *grants;
    char merchant[32];
} env_t;

static void on_guard(uv_timer_t *t)
{
    (void)t;
    fail_msg("timed out waiting for the engine");
}

static void on_auth(hmq_hooks_auth_req_t *req, int status, const hmq_hooks_auth_result_t *res)
{
    env_t *e = req->data;
    e->done = 1;
    e->status = status;
    if (!res) return;
    e->res = *res;
    snprintf(e->reason, sizeof(e->reason), "%s", res->reason);
    if (e->grants) hmq_grants_unref(e->grants);
    e->grants = hmq_grants_ref(res->grants);
    e->merchant[0] = '\0';
    for (size_t i = 0; i < res->n_attributes; i++)
        if (strcmp(res->attributes[i].key, "merchant") == 0)
            snprintf(e->merchant, sizeof(e->merchant), "%s", res->attributes[i].value);
}

static void auth(env_t *e, const char *cid, const char *user, const char *pw)
{
    hmq_hooks_client_t c = {.client_id = cid,
                            .username = user,
                            .listener = "default",
                            .protocol_version = 5,
                            .peer_address = "127.0.0.1",
                            .peer_port = 40000,
                            .keepalive = 60,
                            .clean_start = true};
    hmq_hooks_auth_req_t req = {.data = e,
                                .client = &c,
                                .password = (const uint8_t *)pw,
                                .password_len = pw ? strlen(pw) : 0,
                                .has_password = pw != NULL};
    e->done = 0;
    uv_timer_start(&e->guard, on_guard, 10000, 0);
    assert_int_equal(hmq_hooks_authenticate(&e->hl, &req, on_auth), 0);
    while (!e->done)
        uv_run(&e->loop, UV_RUN_ONCE);
    uv_timer_stop(&e->guard);
    assert_int_equal(e->status, 0);
}

static void metrics(env_t *e, hmq_hooks_metrics_t *m)
{
    assert_int_equal(hmq_hooks_metrics(e->h, 0, HMQ_HOOK_AUTHENTICATE, m), 0);
}

static void test_against_python_server(void **state)
{
    (void)state;
    int port = start_server();
    if (!port) skip();
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%d", port);
    const char *eps[] = {endpoint};
    const char *listeners[] = {"default"};
    hmq_hooks_server_config_t srv = {.name = "py", .endpoints = eps, .n_endpoints = 1};
    srv.policy.mandatory = true;
    srv.policy.deadline_ms[HMQ_HOOK_AUTHENTICATE] = 300;
    srv.policy.on_failure[HMQ_HOOK_AUTHENTICATE] = HMQ_ON_FAILURE_DENY;
    hmq_hooks_config_t cfg = {
        .node = "unit", .servers = &srv, .n_servers = 1, .listeners = listeners, .n_listeners = 1};
    env_t *e = calloc(1, sizeof(*e));
    uv_loop_init(&e->loop);
    uv_timer_init(&e->loop, &e->guard);
    assert_int_equal(hmq_hooks_new(&e->h, &e->loop, &cfg), 0);
    assert_int_equal(hmq_hooks_start(e->h), 0);
    assert_int_equal(hmq_hooks_loop_init(e->h, &e->loop, &e->hl), 0);

    /* mandatory: until the handshake is done, clients get "server unavailable" */
    uv_timer_start(&e->guard, on_guard, 10000, 0);
    while (!hmq_hooks_ready(e->h))
        uv_run(&e->loop, UV_RUN_ONCE);
    uv_timer_stop(&e->guard);

    hmq_hooks_metrics_t m;
    auth(e, "good-1", "u1", "s3cret");
    assert_int_equal(e->res.decision, HMQ_DECISION_ALLOW);
    assert_string_equal(e->res.provider, "py");
    assert_false(e->res.by_policy);
    assert_non_null(e->grants);
    assert_string_equal(e->merchant, "M001");
    assert_int_equal(e->res.expires_unix_ms, 4102444800000ull);
    uint8_t rc;
    assert_int_equal(hmq_grants_check(e->grants, HMQ_ACTION_PUBLISH, "dev/good-1/up/t", 1, false,
                                      "good-1", "u1", &rc, NULL),
                     HMQ_GRANTS_ALLOW);
    assert_int_equal(hmq_grants_check(e->grants, HMQ_ACTION_PUBLISH, "dev/good-1/up/t", 2, false,
                                      "good-1", "u1", &rc, NULL),
                     HMQ_GRANTS_DENY);
    assert_int_equal(rc, HMQ_RC_QOS_NOT_SUPPORTED);
    assert_int_equal(hmq_grants_check(e->grants, HMQ_ACTION_SUBSCRIBE, "pay/u1/notify", 1, false,
                                      "good-1", "u1", NULL, NULL),
                     HMQ_GRANTS_ALLOW);

    auth(e, "good-1", "u1", "wrong"); /* not cached: another key, another call */
    assert_int_equal(e->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(e->res.reason_code, 0x86);

    auth(e, "bad-1", "u1", "x");
    assert_int_equal(e->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(e->res.reason_code, 0x86);
    assert_string_equal(e->reason, "banned");
    assert_false(e->res.from_cache);
    auth(e, "bad-1", "u1", "x"); /* cache_ttl=60 */
    assert_true(e->res.from_cache);
    assert_int_equal(e->res.reason_code, 0x86);
    metrics(e, &m);
    assert_int_equal(m.calls, 3);
    assert_int_equal(m.cache_hits, 1);

    /* the filter username="?*" is evaluated in C: no call, the default (deny) decides */
    auth(e, "good-2", NULL, "s3cret");
    assert_int_equal(e->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(e->res.reason_code, HMQ_RC_NOT_AUTHORIZED);
    assert_null(e->res.provider);
    metrics(e, &m);
    assert_int_equal(m.calls, 3);

    uint64_t t0 = uv_hrtime();
    auth(e, "slow-1", "u1", "x"); /* the server sleeps 2 s, the deadline is 300 ms */
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_int_equal(e->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(e->res.reason_code, HMQ_RC_SERVER_UNAVAILABLE);
    assert_true(e->res.by_policy);
    assert_true(ms >= 250 && ms < 1500);
    metrics(e, &m);
    assert_int_equal(m.timeouts, 1);

    auth(e, "fail-1", "u1", "x"); /* the handler raises: FAILURE -> on_failure */
    assert_int_equal(e->res.reason_code, HMQ_RC_SERVER_UNAVAILABLE);
    metrics(e, &m);
    assert_int_equal(m.failures, 2);
    assert_int_equal(m.in_flight, 0);

    stop_server();
    auth(e, "good-1", "u1", "s3cret"); /* UNAVAILABLE -> on_failure deny */
    assert_int_equal(e->res.decision, HMQ_DECISION_DENY);
    assert_int_equal(e->res.reason_code, HMQ_RC_SERVER_UNAVAILABLE);
    assert_true(e->res.by_policy);
    metrics(e, &m);
    assert_int_equal(m.unavailable, 1);
    assert_int_equal(m.timeouts, 1);
    assert_true(hmq_hooks_ready(e->h)); /* handshaken once: outages are on_failure's */

    hmq_hooks_close(e->h);
    hmq_hooks_loop_close(&e->hl, NULL);
    uv_close((uv_handle_t *)&e->guard, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    if (e->grants) hmq_grants_unref(e->grants);
    free(e);
}

static int teardown(void **state)
{
    (void)state;
    stop_server();
    return 0;
}

int main(void)
{
    find_src_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_against_python_server, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
