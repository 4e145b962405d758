/* provider_test.h - helpers for the built-in provider tests (test_hooks_passwd.c,
 * test_hooks_acl.c): files in a temporary directory, stderr capture (to check the logged
 * path:line of a bad line), and an engine on a uv loop driving authenticate / authorize. */
#ifndef HMQ_PROVIDER_TEST_H
#define HMQ_PROVIDER_TEST_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookmq/hooks.h"
#include "hookmq/providers.h"

/* ---- files -------------------------------------------------------------------------------- */

static char pt_dir[64];

static inline void pt_mkdir(void)
{
    snprintf(pt_dir, sizeof(pt_dir), "/tmp/hmq-prov-XXXXXX");
    assert_non_null(mkdtemp(pt_dir));
}

static inline void pt_rmdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pt_dir);
    assert_int_equal(system(cmd), 0);
}

/* Writes content to <dir>/name; returns the path (static buffer per name slot). */
static const char *pt_write(const char *name, const char *content)
{
    static char paths[4][256];
    static int slot;
    char *p = paths[slot++ % 4];
    snprintf(p, 256, "%s/%s", pt_dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return p;
}

/* ---- stderr capture ------------------------------------------------------------------------ */

static int pt_saved_fd = -1;
static char pt_cap_path[256];

static inline void pt_capture_start(void)
{
    snprintf(pt_cap_path, sizeof(pt_cap_path), "%s/stderr.log", pt_dir);
    fflush(stderr);
    pt_saved_fd = dup(STDERR_FILENO);
    int fd = open(pt_cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

/* Restores stderr and returns what was written (static buffer). */
static const char *pt_capture_end(void)
{
    static char buf[8192];
    fflush(stderr);
    dup2(pt_saved_fd, STDERR_FILENO);
    close(pt_saved_fd);
    FILE *f = fopen(pt_cap_path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ---- an engine on a loop ------------------------------------------------------------------- */

typedef struct {
    uv_loop_t loop;
    hmq_hooks_t *h;
    hmq_hooks_loop_t hl;
    int done, status;
    int decision;
    uint8_t reason_code;
    bool by_policy, from_cache;
    char provider[32], reason[64];
} pt_env_t;

static pt_env_t *pt_env_new(const hmq_hooks_config_t *cfg)
{
    hmq_hooks_config_t def = {0};
    pt_env_t *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    assert_int_equal(uv_loop_init(&e->loop), 0);
    assert_int_equal(hmq_hooks_new(&e->h, &e->loop, cfg ? cfg : &def), 0);
    return e;
}

static inline void pt_env_start(pt_env_t *e)
{
    assert_int_equal(hmq_hooks_start(e->h), 0);
    assert_int_equal(hmq_hooks_loop_init(e->h, &e->loop, &e->hl), 0);
}

static inline void pt_env_free(pt_env_t *e)
{
    hmq_hooks_close(e->h);
    hmq_hooks_loop_close(&e->hl, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    free(e);
}

static inline void pt_record(pt_env_t *e, int status, int decision, uint8_t code,
                             const char *reason, const char *provider, bool policy, bool cache)
{
    e->done++;
    e->status = status;
    e->decision = decision;
    e->reason_code = code;
    e->by_policy = policy;
    e->from_cache = cache;
    snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
    snprintf(e->provider, sizeof(e->provider), "%s", provider ? provider : "");
}

static inline void pt_on_auth(hmq_hooks_auth_req_t *req, int status,
                              const hmq_hooks_auth_result_t *r)
{
    if (r)
        pt_record(req->data, status, r->decision, r->reason_code, r->reason, r->provider,
                  r->by_policy, r->from_cache);
    else
        pt_record(req->data, status, 0, 0, NULL, NULL, false, false);
}

static inline void pt_on_authz(hmq_hooks_authz_req_t *req, int status, const hmq_hooks_verdict_t *r)
{
    if (r)
        pt_record(req->data, status, r->decision, r->reason_code, r->reason, r->provider,
                  r->by_policy, r->from_cache);
    else
        pt_record(req->data, status, 0, 0, NULL, NULL, false, false);
}

static inline void pt_wait(pt_env_t *e, int n)
{
    while (e->done < n)
        uv_run(&e->loop, UV_RUN_ONCE);
}

/* Authenticates (username NULL = none, password NULL = none) and returns the decision. */
static inline int pt_auth(pt_env_t *e, const char *username, const char *password)
{
    hmq_hooks_client_t c = {.client_id = "c1",
                            .username = username,
                            .protocol_version = 5,
                            .listener = "default",
                            .peer_address = "127.0.0.1"};
    hmq_hooks_auth_req_t req = {.data = e, .client = &c};
    if (password) {
        req.password = (const uint8_t *)password;
        req.password_len = strlen(password);
        req.has_password = true;
    }
    e->done = 0;
    assert_int_equal(hmq_hooks_authenticate(&e->hl, &req, pt_on_auth), 0);
    pt_wait(e, 1);
    assert_int_equal(e->status, 0);
    return e->decision;
}

/* Authorizes a publish (topic name) or a subscription (filter) and returns the decision. */
static inline int pt_authz(pt_env_t *e, const char *client_id, const char *username,
                           hmq_action_t action, const char *topic)
{
    hmq_hooks_client_t c = {.client_id = client_id,
                            .username = username,
                            .protocol_version = 5,
                            .listener = "default",
                            .peer_address = "127.0.0.1"};
    hmq_hooks_message_t m = {.topic = topic, .qos = 1};
    hmq_hooks_authz_req_t req = {
        .data = e, .client = &c, .action = action, .topic = topic, .qos = 1};
    if (action == HMQ_ACTION_PUBLISH) req.message = &m;
    e->done = 0;
    assert_int_equal(hmq_hooks_authorize(&e->hl, &req, pt_on_authz), 0);
    pt_wait(e, 1);
    assert_int_equal(e->status, 0);
    return e->decision;
}

/* cmocka group setup / teardown: the scratch directory of the test files. */
static inline int pt_setup(void **state)
{
    (void)state;
    pt_mkdir();
    return 0;
}

static inline int pt_teardown(void **state)
{
    (void)state;
    pt_rmdir();
    return 0;
}

#endif
