/* test_hooks_passwd.c - the password-file provider (hooks/src/provider_passwd.c) and the hashes
 * it shares with `hookmq passwd` (hooks/src/passwd_hash.c): mosquitto_passwd compatibility
 * (tests/unit/data/mosquitto_passwd.txt), file errors with their line, the answers in the
 * chain, reload, and the verifier threads' deadline and cancellation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "provider_test.h"

static const char *fixture(void)
{
    static char p[512];
    const char *src = getenv("HOOKMQ_SOURCE_DIR");
    snprintf(p, sizeof(p), "%s/tests/unit/data/mosquitto_passwd.txt", src ? src : ".");
    return p;
}

static int verify(const char *hash, const char *pw)
{
    return hmq_passwd_verify(hash, (const uint8_t *)pw, strlen(pw));
}

/* ---- hashes ------------------------------------------------------------------------------- */

static void test_hash_roundtrip(void **state)
{
    (void)state;
    char h[HMQ_PASSWD_HASH_MAX], h2[HMQ_PASSWD_HASH_MAX];
    assert_int_equal(hmq_passwd_hash("pbkdf2", 0, (const uint8_t *)"s3cret", 6, h), 0);
    char want[32];
    snprintf(want, sizeof(want), "$7$%d$", HMQ_PASSWD_PBKDF2_DEFAULT_ITERATIONS);
    assert_memory_equal(h, want, strlen(want));
    assert_int_equal(verify(h, "s3cret"), 1);
    assert_int_equal(verify(h, "s3creT"), 0);
    assert_int_equal(verify(h, ""), 0);
    /* salted: the same password hashes differently */
    assert_int_equal(hmq_passwd_hash("sha512-pbkdf2", 0, (const uint8_t *)"s3cret", 6, h2), 0);
    assert_string_not_equal(h, h2);
    assert_int_equal(verify(h2, "s3cret"), 1);

    assert_int_equal(hmq_passwd_hash("pbkdf2", 50, (const uint8_t *)"", 0, h), 0);
    assert_memory_equal(h, "$7$50$", 6);
    assert_int_equal(verify(h, ""), 1);
    assert_int_equal(verify(h, "x"), 0);

    assert_int_equal(hmq_passwd_hash("scrypt", 1024, (const uint8_t *)"pw", 2, h), 0);
    assert_memory_equal(h, "$scrypt$1024$8$1$", 17);
    assert_int_equal(verify(h, "pw"), 1);
    assert_int_equal(verify(h, "pW"), 0);

    /* binary passwords (MQTT passwords are binary data) */
    const uint8_t bin[] = {0, 1, 0xff, 0}, bin2[] = {0, 1, 0xfe, 0};
    assert_int_equal(hmq_passwd_hash("pbkdf2", 10, bin, sizeof(bin), h), 0);
    assert_int_equal(hmq_passwd_verify(h, bin, sizeof(bin)), 1);
    assert_int_equal(hmq_passwd_verify(h, bin2, sizeof(bin2)), 0);
    assert_int_equal(hmq_passwd_verify(h, bin, 2), 0);

    assert_int_equal(hmq_passwd_hash("md5", 0, (const uint8_t *)"pw", 2, h), HMQ_HOOKS_EINVAL);
    assert_int_equal(hmq_passwd_hash("scrypt", 1000, (const uint8_t *)"pw", 2, h),
                     HMQ_HOOKS_EINVAL); /* N not a power of two */
    assert_int_equal(hmq_passwd_hash("pbkdf2", 20000000, (const uint8_t *)"pw", 2, h),
                     HMQ_HOOKS_EINVAL);
}

/* Lines written by Debian's mosquitto_passwd (and a mosquitto 1.x "$6$" one) verify. */
static void test_mosquitto_fixture(void **state)
{
    (void)state;
    FILE *f = fopen(fixture(), "r");
    assert_non_null(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#') continue;
        line[strcspn(line, "\n")] = '\0';
        char *colon = strchr(line, ':');
        assert_non_null(colon);
        *colon = '\0';
        const char *hash = colon + 1;
        const char *pw = !strcmp(line, "alice")   ? "secret"
                         : !strcmp(line, "bob")   ? "pässwörd with spaces"
                         : !strcmp(line, "carol") ? ""
                                                  : "legacy";
        assert_int_equal(verify(hash, pw), 1);
        assert_int_equal(verify(hash, "wrong"), 0);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 4);
}

static void test_malformed_hashes(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "plain-text-password",
        "$7$",
        "$7$101$8mrfGBpMIf6LFL/X",
        "$7$0$8mrfGBpMIf6LFL/X$WCWkNAes1qY+bLVgCSup/pmuECmlrLAJFHU+Lgei8v4=", /* 0 iterations */
        "$7$0101$8mrfGBpMIf6LFL/X$WCWkNAes1qY+bLVgCSup/pmuECmlrLAJFHU+Lgei8v4=",
        "$7$-1$8mrfGBpMIf6LFL/X$WCWkNAes1qY+bLVgCSup/pmuECmlrLAJFHU+Lgei8v4=",
        "$7$101$8mrf*BpMIf6LFL/X$WCWkNAes1qY+bLVgCSup/pmuECmlrLAJFHU+Lgei8v4=", /* base64 */
        "$7$101$8mrfGBpMIf6LFL/$WCWkNAes1qY+bLVgCSup/pmuECmlrLAJFHU+Lgei8v4=",  /* length */
        "$7$101$8mrfGBpMIf6LFL/X$WCWk",                                         /* short hash */
        "$7$101$8mrfGBpMIf6LFL/X$WCWkNAes1qY+bLVgCSup/pmuECmlrLAJFHU+Lgei8v4=$x",
        "$6$8mrfGBpMIf6LFL/X$WCWkNAes1qY+bLVgCSup/pmuECmlrLAJFHU+Lgei8v4=", /* $6$ needs 64 */
        "$scrypt$1000$8$1$8mrfGBpMIf6LFL/X$WCWkNAes1qY+bLVgCSup/pmuECmlrLAJFHU+Lgei8v4=",
        "$scrypt$1048576$32$1$8mrfGBpMIf6LFL/X$WCWkNAes1qY+bLVgCSup/pmuECmlrLAJFHU+Lgei8v4=",
        "$2y$10$abcdefghijklmnopqrstuv",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (verify(bad[i], "x") != HMQ_HOOKS_EINVAL) fail_msg("accepted: %s", bad[i]);
    }
    assert_int_equal(hmq_passwd_verify(NULL, (const uint8_t *)"x", 1), HMQ_HOOKS_EINVAL);
}

/* ---- the file ------------------------------------------------------------------------------ */

static void expect_bad_file(const char *content, const char *where)
{
    const char *path = pt_write("bad.passwd", content);
    pt_env_t *e = pt_env_new(NULL);
    pt_capture_start();
    int rc = hmq_passwd_provider_add(e->h, "password_file", path);
    const char *log = pt_capture_end();
    assert_int_equal(rc, HMQ_HOOKS_EINVAL);
    char want[300];
    snprintf(want, sizeof(want), "file=%s%s", path, where);
    if (!strstr(log, want)) fail_msg("expected %s in log: %s", want, log);
    assert_null(strstr(log, "hunter2")); /* never a password (or a line) in the log */
    pt_env_start(e);
    assert_int_equal(hmq_hooks_provider_count(e->h), 0);
    pt_env_free(e);
}

static void test_file_errors(void **state)
{
    (void)state;
    const char *ok = "alice:$7$101$8mrfGBpMIf6LFL/X$WCWkNAes1qY+bLVgCSup/pmuECmlrLAJFHU+Lgei8v4=\n";
    char buf[1024];
    snprintf(buf, sizeof(buf), "# users\n\n%sbob:hunter2\n", ok);
    expect_bad_file(buf, ":4 error=\"bad password hash");
    snprintf(buf, sizeof(buf), "%sbob\n", ok);
    expect_bad_file(buf, ":2 error=\"expected user:hash\"");
    snprintf(buf, sizeof(buf), "%s:%s", ok, ok + 6);
    expect_bad_file(buf, ":2 error=\"empty user name\"");
    snprintf(buf, sizeof(buf), "%s\n%s", ok, ok);
    expect_bad_file(buf, ":3 error=\"duplicate user\"");
    /* the first bad line wins, a duplicate included */
    snprintf(buf, sizeof(buf), "%s%sbob:hunter2\n", ok, ok);
    expect_bad_file(buf, ":2 error=\"duplicate user\"");
}

static void test_file_missing_and_empty(void **state)
{
    (void)state;
    pt_env_t *e = pt_env_new(NULL);
    pt_capture_start();
    int rc = hmq_passwd_provider_add(e->h, "password_file", "/nonexistent/passwd");
    const char *log = pt_capture_end();
    assert_int_equal(rc, HMQ_HOOKS_EINVAL);
    assert_non_null(strstr(log, "file=/nonexistent/passwd"));
    /* an empty file is valid: nobody is known, everyone gets CONTINUE */
    assert_int_equal(hmq_passwd_provider_add(e->h, "password_file", pt_write("e", "# none\n")), 0);
    assert_int_equal(hmq_passwd_provider_add(e->h, "password_file2", pt_write("e0", "")), 0);
    pt_env_start(e);
    assert_int_equal(pt_auth(e, "alice", "secret"), HMQ_DECISION_DENY);
    assert_string_equal(e->provider, ""); /* the default decided */
    pt_env_free(e);
}

/* ---- in the chain -------------------------------------------------------------------------- */

static void test_authenticate(void **state)
{
    (void)state;
    pt_env_t *e = pt_env_new(NULL);
    assert_int_equal(hmq_passwd_provider_add(e->h, "password_file", fixture()), 0);
    pt_env_start(e);

    assert_int_equal(pt_auth(e, "alice", "secret"), HMQ_DECISION_ALLOW);
    assert_string_equal(e->provider, "password_file");
    assert_false(e->from_cache);
    assert_int_equal(pt_auth(e, "bob", "pässwörd with spaces"), HMQ_DECISION_ALLOW);
    assert_int_equal(pt_auth(e, "carol", ""), HMQ_DECISION_ALLOW);
    assert_int_equal(pt_auth(e, "dave", "legacy"), HMQ_DECISION_ALLOW);

    assert_int_equal(pt_auth(e, "alice", "Secret"), HMQ_DECISION_DENY);
    assert_int_equal(e->reason_code, 0x86);
    assert_string_equal(e->provider, "password_file");
    assert_string_equal(e->reason, "bad user name or password");
    assert_int_equal(pt_auth(e, "alice", NULL), HMQ_DECISION_DENY); /* no password */
    assert_int_equal(e->reason_code, 0x86);
    assert_int_equal(pt_auth(e, "carol", NULL), HMQ_DECISION_DENY); /* "" is not "none" */

    /* unknown user, no user name: CONTINUE, so the default (deny 0x87) decides */
    assert_int_equal(pt_auth(e, "mallory", "secret"), HMQ_DECISION_DENY);
    assert_int_equal(e->reason_code, HMQ_RC_NOT_AUTHORIZED);
    assert_string_equal(e->provider, "");
    assert_int_equal(pt_auth(e, NULL, "secret"), HMQ_DECISION_DENY);
    assert_string_equal(e->provider, "");

    /* not cached (cache_ttl_ms 0): every CONNECT is verified again */
    assert_int_equal(pt_auth(e, "alice", "secret"), HMQ_DECISION_ALLOW);
    assert_false(e->from_cache);
    hmq_hooks_metrics_t m;
    assert_int_equal(hmq_hooks_metrics(e->h, 0, HMQ_HOOK_AUTHENTICATE, &m), 0);
    assert_int_equal(m.cache_hits, 0);
    assert_int_equal(m.failures, 0);
    pt_env_free(e);
}

/* Unknown users go on to the next provider; with the default allow, CONTINUE lets them in. */
static void test_chain_continue(void **state)
{
    (void)state;
    hmq_hooks_config_t cfg = {0};
    cfg.default_decision[HMQ_HOOK_AUTHENTICATE] = HMQ_DECISION_ALLOW;
    pt_env_t *e = pt_env_new(&cfg);
    assert_int_equal(hmq_passwd_provider_add(e->h, "password_file", fixture()), 0);
    pt_env_start(e);
    assert_int_equal(pt_auth(e, "mallory", "x"), HMQ_DECISION_ALLOW);
    assert_string_equal(e->provider, "");
    assert_int_equal(pt_auth(e, "alice", "x"), HMQ_DECISION_DENY); /* known: its DENY wins */
    assert_int_equal(e->reason_code, 0x86);
    pt_env_free(e);
}

static void test_reload(void **state)
{
    (void)state;
    char line[HMQ_PASSWD_HASH_MAX + 64], h[HMQ_PASSWD_HASH_MAX];
    assert_int_equal(hmq_passwd_hash("pbkdf2", 100, (const uint8_t *)"one", 3, h), 0);
    snprintf(line, sizeof(line), "erin:%s\n", h);
    const char *path = pt_write("reload.passwd", line);
    pt_env_t *e = pt_env_new(NULL);
    assert_int_equal(hmq_passwd_provider_add(e->h, "password_file", path), 0);
    pt_env_start(e);
    assert_int_equal(pt_auth(e, "erin", "one"), HMQ_DECISION_ALLOW);

    assert_int_equal(hmq_passwd_hash("pbkdf2", 100, (const uint8_t *)"two", 3, h), 0);
    snprintf(line, sizeof(line), "erin:%s\n", h);
    pt_write("reload.passwd", line);
    assert_int_equal(hmq_passwd_provider_reload(e->h, "password_file"), 0);
    assert_int_equal(pt_auth(e, "erin", "one"), HMQ_DECISION_DENY);
    assert_int_equal(pt_auth(e, "erin", "two"), HMQ_DECISION_ALLOW);

    pt_write("reload.passwd", "erin\n"); /* bad: the old table stays */
    pt_capture_start();
    int rc = hmq_passwd_provider_reload(e->h, "password_file");
    const char *log = pt_capture_end();
    assert_int_equal(rc, HMQ_HOOKS_EINVAL);
    assert_non_null(strstr(log, ":1 error=\"expected user:hash\""));
    assert_int_equal(pt_auth(e, "erin", "two"), HMQ_DECISION_ALLOW);

    assert_int_equal(hmq_passwd_provider_reload(e->h, "nope"), HMQ_HOOKS_EINVAL);
    assert_int_equal(hmq_acl_provider_reload(e->h, "password_file"), HMQ_HOOKS_EINVAL);
    pt_env_free(e);
}

/* Reloads from another thread while the loop authenticates: every answer is right (the swap
 * is atomic for readers), nothing races (run under TSan). */
static int reload_failures;

static void reloader(void *arg) /* no cmocka asserts off the test's thread */
{
    pt_env_t *e = arg;
    for (int i = 0; i < 50; i++)
        reload_failures += hmq_passwd_provider_reload(e->h, "password_file") != 0;
}

static void test_reload_concurrent(void **state)
{
    (void)state;
    char line[2 * HMQ_PASSWD_HASH_MAX + 64], h[HMQ_PASSWD_HASH_MAX];
    assert_int_equal(hmq_passwd_hash("pbkdf2", 10, (const uint8_t *)"pw", 2, h), 0);
    snprintf(line, sizeof(line), "# many users\nerin:%s\nfred:%s\n", h, h);
    pt_env_t *e = pt_env_new(NULL);
    assert_int_equal(hmq_passwd_provider_add(e->h, "password_file", pt_write("c", line)), 0);
    pt_env_start(e);
    uv_thread_t t;
    assert_int_equal(uv_thread_create(&t, reloader, e), 0);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(pt_auth(e, i % 2 ? "erin" : "fred", "pw"), HMQ_DECISION_ALLOW);
        assert_int_equal(pt_auth(e, "erin", "nope"), HMQ_DECISION_DENY);
    }
    uv_thread_join(&t);
    assert_int_equal(reload_failures, 0);
    pt_env_free(e);
}

/* A user "slow" whose hash takes `iterations` to check (and never matches: answers 0x86). */
static const char *slow_line(int iterations)
{
    static char line[256];
    snprintf(line, sizeof(line),
             "slow:$7$%d$8mrfGBpMIf6LFL/X$WCWkNAes1qY+bLVgCSup/pmuECmlrLAJFHU+Lgei8v51E2DJixy1W5"
             "/NTt8lZhiSkowiiK4mH60v0joW9KFoVA==\n",
             iterations);
    return line;
}

/* Slow hashes: jobs that waited past the deadline (500 ms) time out without hashing (the
 * on_failure policy, deny, answers 0x88); a queued request can be cancelled at once. */
static void on_slow(hmq_hooks_auth_req_t *req, int status, const hmq_hooks_auth_result_t *r)
{
    int *out = req->data;
    *out = status == HMQ_HOOKS_ECANCELED ? -1 : r->reason_code == 0 ? 1 : r->reason_code;
}

static void test_deadline_and_cancel(void **state)
{
    (void)state;
    /* ~1.6 s per verify on the project's machine: well past the 500 ms deadline */
    pt_env_t *e = pt_env_new(NULL);
    assert_int_equal(
        hmq_passwd_provider_add(e->h, "password_file", pt_write("s", slow_line(2000000))), 0);
    pt_env_start(e);
    enum { N = 7 }; /* more than the verifier threads (at most 4) */
    hmq_hooks_client_t c = {.client_id = "c1", .username = "slow", .listener = "default"};
    hmq_hooks_auth_req_t req[N];
    int res[N];
    for (int i = 0; i < N; i++) {
        res[i] = 0;
        req[i] = (hmq_hooks_auth_req_t){.data = &res[i],
                                        .client = &c,
                                        .password = (const uint8_t *)"pw",
                                        .password_len = 2,
                                        .has_password = true};
        assert_int_equal(hmq_hooks_authenticate(&e->hl, &req[i], on_slow), 0);
    }
    uv_run(&e->loop, UV_RUN_NOWAIT); /* the calls start */
    hmq_hooks_auth_cancel(&req[N - 1]);
    while (!res[N - 1])
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_int_equal(res[N - 1], -1);
    for (int i = 0; i < N - 1; i++) /* at once: no hash has finished yet */
        assert_int_equal(res[i], 0);
    for (int i = 0; i < N - 1; i++)
        while (!res[i])
            uv_run(&e->loop, UV_RUN_ONCE);
    int verified = 0, timed_out = 0;
    for (int i = 0; i < N - 1; i++) {
        verified += res[i] == 0x86;
        timed_out += res[i] == HMQ_RC_SERVER_UNAVAILABLE;
    }
    assert_int_equal(verified + timed_out, N - 1);
    assert_true(verified >= 1);
    assert_true(timed_out >= 2);
    hmq_hooks_metrics_t m;
    assert_int_equal(hmq_hooks_metrics(e->h, 0, HMQ_HOOK_AUTHENTICATE, &m), 0);
    assert_int_equal(m.timeouts, (uint64_t)timed_out);
    pt_env_free(e);
}

/* Closing the engine with verifications queued: every request still gets its callback. */
static void test_close_with_queued(void **state)
{
    (void)state;
    pt_env_t *e = pt_env_new(NULL);
    assert_int_equal(
        hmq_passwd_provider_add(e->h, "password_file", pt_write("s", slow_line(200000))), 0);
    pt_env_start(e);
    enum { N = 6 };
    hmq_hooks_client_t c = {.client_id = "c1", .username = "slow", .listener = "default"};
    hmq_hooks_auth_req_t req[N];
    int res[N];
    for (int i = 0; i < N; i++) {
        res[i] = 0;
        req[i] = (hmq_hooks_auth_req_t){.data = &res[i],
                                        .client = &c,
                                        .password = (const uint8_t *)"pw",
                                        .password_len = 2,
                                        .has_password = true};
        assert_int_equal(hmq_hooks_authenticate(&e->hl, &req[i], on_slow), 0);
    }
    uv_run(&e->loop, UV_RUN_NOWAIT);
    hmq_hooks_close(e->h);
    hmq_hooks_loop_close(&e->hl, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < N; i++)
        assert_int_equal(res[i], -1);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    free(e);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_roundtrip),         cmocka_unit_test(test_mosquitto_fixture),
        cmocka_unit_test(test_malformed_hashes),       cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_file_missing_and_empty), cmocka_unit_test(test_authenticate),
        cmocka_unit_test(test_chain_continue),         cmocka_unit_test(test_reload),
        cmocka_unit_test(test_reload_concurrent),      cmocka_unit_test(test_deadline_and_cancel),
        cmocka_unit_test(test_close_with_queued),
    };
    return cmocka_run_group_tests(tests, pt_setup, pt_teardown);
}
