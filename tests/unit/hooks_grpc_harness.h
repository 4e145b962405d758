/* hooks_grpc_harness.h - shared by the test_hooks_grpc*.c tests: starts tests/unit/hooks_server.py
 * (the Python SDK's virtualenv), builds an engine with one gRPC hook server, and runs requests
 * to completion on the test's loop. Header-only (static functions): each test is one binary. */
#ifndef HOOKS_GRPC_HARNESS_H
#define HOOKS_GRPC_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
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

static inline void find_src_dir(void)
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

typedef struct {
    pid_t pid;
    int in; /* its stdin: closing it stops the server */
    int port;
} pyserver_t;

/* Starts hooks_server.py with the extra arguments (NULL-terminated). The SDK's venv is made
 * first if needed (`make unit` has made it already); a venv that cannot be made fails the
 * test: these tests never skip. Returns true (kept for assert_true at call sites). */
static inline bool server_start(pyserver_t *ps, ...)
{
    char py[1200], script[1200];
    snprintf(py, sizeof(py), "%s/sdk-python/.venv/bin/python", src_dir);
    snprintf(script, sizeof(script), "%s/tests/unit/hooks_server.py", src_dir);
    char stamp[1200];
    snprintf(stamp, sizeof(stamp), "%s/sdk-python/.venv/.stamp", src_dir);
    if (access(stamp, F_OK) != 0) { /* create the venv once (test.sh serializes creators) */
        char cmd[1400];
        snprintf(cmd, sizeof(cmd), "'%s/sdk-python/scripts/test.sh' --venv-only >/dev/null 2>&1",
                 src_dir);
        if (system(cmd) == -1 || access(stamp, F_OK) != 0)
            fail_msg("the SDK venv (sdk-python/.venv) could not be made: run make sdk-venv");
    }
    char *argv[24] = {py, script};
    int argc = 2;
    va_list ap;
    va_start(ap, ps);
    for (const char *a; argc < 23 && (a = va_arg(ap, const char *));)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    int in[2], out[2];
    assert_int_equal(pipe2(in, O_CLOEXEC), 0); /* a second server must not inherit them */
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    assert_int_equal(posix_spawn(&ps->pid, py, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    ps->in = in[1];
    FILE *f = fdopen(out[0], "r");
    char line[128] = {0};
    ps->port = -1;
    if (fgets(line, sizeof(line), f)) sscanf(line, "PORT %d", &ps->port); /* after the bind */
    fclose(f);
    assert_true(ps->port >= 0);
    return true;
}

static inline void server_stop(pyserver_t *ps)
{
    if (ps->in < 0 || !ps->pid) return;
    close(ps->in); /* EOF: the server stops */
    ps->in = -1;
    int st;
    for (int i = 0; i < 500; i++) { /* 5 s, then it is killed (by its pid: ours) */
        if (waitpid(ps->pid, &st, WNOHANG) == ps->pid) {
            ps->pid = 0;
            return;
        }
        usleep(10000);
    }
    kill(ps->pid, SIGKILL);
    waitpid(ps->pid, &st, 0);
    ps->pid = 0;
}

static inline void server_kill(pyserver_t *ps) /* the process this test started, by its pid */
{
    if (!ps->pid) return;
    kill(ps->pid, SIGKILL);
    int st;
    waitpid(ps->pid, &st, 0);
    close(ps->in);
    ps->in = -1;
    ps->pid = 0;
}

/* ---- the engine ---------------------------------------------------------------------------- */

typedef struct {
    uv_loop_t loop;
    uv_timer_t guard;
    hmq_hooks_t *h;
    hmq_hooks_loop_t hl;
    hmq_hooks_client_t client;
} env_t;

static inline void on_guard(uv_timer_t *t)
{
    (void)t;
    fail_msg("timed out waiting for the engine");
}

static const char *const test_listeners[] = {"default"};

static inline void server_config(hmq_hooks_server_config_t *srv, const char *const *eps)
{
    memset(srv, 0, sizeof(*srv));
    srv->name = "py";
    srv->endpoints = eps;
    srv->n_endpoints = 1;
    srv->policy.mandatory = true;
}

static inline env_t *env_new(const hmq_hooks_server_config_t *srv)
{
    hmq_hooks_config_t cfg = {.node = "unit",
                              .servers = srv,
                              .n_servers = 1,
                              .listeners = test_listeners,
                              .n_listeners = 1};
    env_t *e = calloc(1, sizeof(*e));
    uv_loop_init(&e->loop);
    uv_timer_init(&e->loop, &e->guard);
    assert_int_equal(hmq_hooks_new(&e->h, &e->loop, &cfg), 0);
    assert_int_equal(hmq_hooks_start(e->h), 0);
    assert_int_equal(hmq_hooks_loop_init(e->h, &e->loop, &e->hl), 0);
    e->client = (hmq_hooks_client_t){.client_id = "c1",
                                     .username = "u1",
                                     .listener = "default",
                                     .protocol_version = 5,
                                     .peer_address = "127.0.0.1",
                                     .peer_port = 40000,
                                     .keepalive = 60,
                                     .clean_start = true};
    return e;
}

/* Runs the loop until *flag or ms pass; returns *flag. */
static inline bool run_until(env_t *e, const volatile int *flag, uint64_t ms)
{
    uint64_t end = uv_hrtime() + ms * 1000000ull;
    uv_timer_start(&e->guard, on_guard, ms + 5000, 0);
    while (!*flag && uv_hrtime() < end)
        uv_run(&e->loop, UV_RUN_NOWAIT), usleep(200);
    uv_timer_stop(&e->guard);
    return *flag != 0;
}

static inline void sleep_loop(env_t *e, uint64_t ms)
{
    int never = 0;
    run_until(e, &never, ms);
}

static inline bool wait_ready(env_t *e, uint64_t ms)
{
    uint64_t end = uv_hrtime() + ms * 1000000ull;
    while (!hmq_hooks_ready(e->h) && uv_hrtime() < end) {
        uv_run(&e->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    return hmq_hooks_ready(e->h);
}

static inline void env_free(env_t *e)
{
    hmq_hooks_close(e->h);
    hmq_hooks_loop_close(&e->hl, NULL);
    uv_close((uv_handle_t *)&e->guard, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    free(e);
}

static inline void metrics(env_t *e, hmq_hook_t hook, hmq_hooks_metrics_t *m)
{
    assert_int_equal(hmq_hooks_metrics(e->h, 0, hook, m), 0);
}

/* ---- requests, run to completion ----------------------------------------------------------- */

typedef struct {
    int done, status;
    hmq_hooks_auth_result_t res;
    char reason[2048];
} auth_out_t;

static inline void on_auth(hmq_hooks_auth_req_t *req, int status,
                           const hmq_hooks_auth_result_t *res)
{
    auth_out_t *o = req->data;
    o->done = 1;
    o->status = status;
    if (!res) return;
    o->res = *res;
    o->res.grants = NULL;
    o->res.attributes = NULL;
    snprintf(o->reason, sizeof(o->reason), "%s", res->reason);
}

static inline void do_auth(env_t *e, const char *cid, auth_out_t *o)
{
    hmq_hooks_client_t c = e->client;
    c.client_id = cid;
    hmq_hooks_auth_req_t req = {.data = o,
                                .client = &c,
                                .password = (const uint8_t *)"s3cret",
                                .password_len = 6,
                                .has_password = true};
    memset(o, 0, sizeof(*o));
    assert_int_equal(hmq_hooks_authenticate(&e->hl, &req, on_auth), 0);
    assert_true(run_until(e, &o->done, 10000));
}

/* The server's counters (hooks_server.py STATS), by name. */
static inline long server_stat(env_t *e, const char *name)
{
    auth_out_t o;
    do_auth(e, "stats-1", &o);
    char key[64];
    snprintf(key, sizeof(key), "\"%s\": ", name);
    const char *p = strstr(o.reason, key);
    if (!p) fail_msg("no %s in the server's stats: %s", name, o.reason);
    return strtol(p + strlen(key), NULL, 10);
}

typedef struct {
    int done, status;
    hmq_hooks_verdict_t v;
    char reason[256];
    uint64_t ms;
} authz_out_t;

static inline void on_authz(hmq_hooks_authz_req_t *req, int status, const hmq_hooks_verdict_t *v)
{
    authz_out_t *o = req->data;
    o->done = 1;
    o->status = status;
    if (!v) return;
    o->v = *v;
    snprintf(o->reason, sizeof(o->reason), "%s", v->reason);
}

static inline void do_authz(env_t *e, hmq_action_t action, const char *topic, authz_out_t *o)
{
    hmq_hooks_message_t msg = {
        .topic = topic, .payload = (const uint8_t *)"hello", .payload_len = 5, .qos = 1};
    hmq_hooks_authz_req_t req = {.data = o,
                                 .client = &e->client,
                                 .action = action,
                                 .topic = topic,
                                 .qos = 1,
                                 .message = action == HMQ_ACTION_PUBLISH ? &msg : NULL};
    memset(o, 0, sizeof(*o));
    uint64_t t0 = uv_hrtime();
    assert_int_equal(hmq_hooks_authorize(&e->hl, &req, on_authz), 0);
    assert_true(run_until(e, &o->done, 10000));
    o->ms = (uv_hrtime() - t0) / 1000000;
    assert_int_equal(o->status, 0);
}

typedef struct {
    int done, status;
    hmq_hooks_verdict_t v;
    uint32_t changed;
    char topic[128], payload[128], reason[128];
    hmq_hooks_pair_t props[4];
    char keys[4][32], values[4][32];
    size_t n_props;
} pub_out_t;

static inline void on_pub(hmq_hooks_publish_req_t *req, int status,
                          const hmq_hooks_publish_result_t *r)
{
    pub_out_t *o = req->data;
    o->done = 1;
    o->status = status;
    if (!r) return;
    o->v = r->verdict;
    o->changed = r->changed;
    snprintf(o->reason, sizeof(o->reason), "%s", r->verdict.reason);
    snprintf(o->topic, sizeof(o->topic), "%s", r->message->topic);
    snprintf(o->payload, sizeof(o->payload), "%.*s", (int)r->message->payload_len,
             (const char *)r->message->payload);
    o->n_props = r->message->n_user_properties;
    for (size_t i = 0; i < o->n_props && i < 4; i++) {
        snprintf(o->keys[i], 32, "%s", r->message->user_properties[i].key);
        snprintf(o->values[i], 32, "%s", r->message->user_properties[i].value);
    }
}

typedef struct {
    hmq_hooks_publish_req_t req;
    hmq_hooks_message_t msg;
    char topic[64];
    pub_out_t out;
} pub_t;

static inline void pub_start_as(env_t *e, pub_t *p, const hmq_hooks_client_t *client,
                                const char *topic, const char *payload)
{
    static const hmq_hooks_pair_t props[] = {{"k", "v"}};
    memset(p, 0, sizeof(*p));
    snprintf(p->topic, sizeof(p->topic), "%s", topic);
    p->msg = (hmq_hooks_message_t){.topic = p->topic,
                                   .payload = (const uint8_t *)payload,
                                   .payload_len = strlen(payload),
                                   .qos = 1,
                                   .user_properties = props,
                                   .n_user_properties = 1};
    p->req = (hmq_hooks_publish_req_t){.data = &p->out, .client = client, .message = &p->msg};
    assert_int_equal(hmq_hooks_on_publish(&e->hl, &p->req, on_pub), 0);
}

static inline void pub_start(env_t *e, pub_t *p, const char *topic, const char *payload)
{
    pub_start_as(e, p, &e->client, topic, payload);
}

/* The test's hook server, stopped after each test (also when it failed half-way). */
static pyserver_t srv = {.in = -1};

static inline int srv_teardown(void **state)
{
    (void)state;
    server_stop(&srv);
    return 0;
}

#endif
