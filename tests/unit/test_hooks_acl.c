/* test_hooks_acl.c - the ACL-file provider (hooks/src/provider_acl.c) through the engine's
 * authorize: file errors with their line, general / user / pattern rules, read vs write, deny
 * precedence, subscription filters (coverage, deny overlap), %c / %u safety, the decision
 * cache, reload, and the provider next to the password file in one chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "provider_test.h"

#define PUB HMQ_ACTION_PUBLISH
#define SUB HMQ_ACTION_SUBSCRIBE
#define ALLOW HMQ_DECISION_ALLOW
#define DENY HMQ_DECISION_DENY

static const char *acl_text = "# hookmq ACL\n"
                              "topic read public/#\n"
                              "topic   readwrite   chat/+/room  \n"
                              "topic deny public/secret/#\n"
                              "pattern readwrite dev/%c/#\n"
                              "pattern write users/%u/out\n"
                              "pattern read users/%u/in/#\n"
                              "\n"
                              "user alice\n"
                              "topic write alice/#\n"
                              "topic deny alice/private/#\n"
                              "topic sensors/temp\n"
                              "user bob\n"
                              "topic read sensors/#\n"
                              "user alice\n"
                              "topic read alice/inbox\n";

static pt_env_t *acl_env(const char *text)
{
    pt_env_t *e = pt_env_new(NULL);
    assert_int_equal(hmq_acl_provider_add(e->h, "acl_file", pt_write("acl", text)), 0);
    pt_env_start(e);
    return e;
}

/* ---- the file ------------------------------------------------------------------------------ */

static void expect_bad(const char *content, const char *where)
{
    const char *path = pt_write("bad.acl", content);
    pt_env_t *e = pt_env_new(NULL);
    pt_capture_start();
    int rc = hmq_acl_provider_add(e->h, "acl_file", path);
    const char *log = pt_capture_end();
    assert_int_equal(rc, HMQ_HOOKS_EINVAL);
    char want[300];
    snprintf(want, sizeof(want), "file=%s%s", path, where);
    if (!strstr(log, want)) fail_msg("expected %s in log: %s", want, log);
    pt_env_start(e);
    assert_int_equal(hmq_hooks_provider_count(e->h), 0);
    pt_env_free(e);
}

static void test_file_errors(void **state)
{
    (void)state;
    expect_bad("topic a\nfoo bar\n", ":2 error=\"unknown keyword");
    expect_bad("# x\n\ntopic\n", ":3 error=\"missing topic filter\"");
    expect_bad("user\n", ":1 error=\"user needs a name\"");
    expect_bad("topic readx a/b\n", ":1 error=\"expected read, write, readwrite or deny\"");
    expect_bad("topic read a/#/b\n", ":1 error=\"invalid topic filter\"");
    expect_bad("user x\npattern write a+/b\n", ":2 error=\"invalid topic filter\"");
    expect_bad("topic read a/b\ntopic read a/b/#\nTopic read c\n", ":3 error=\"unknown keyword");
    pt_env_t *e = pt_env_new(NULL);
    pt_capture_start();
    int rc = hmq_acl_provider_add(e->h, "acl_file", "/nonexistent/acl");
    const char *log = pt_capture_end();
    assert_int_equal(rc, HMQ_HOOKS_EINVAL);
    assert_non_null(strstr(log, "file=/nonexistent/acl"));
    pt_env_start(e);
    pt_env_free(e);
}

/* ---- rules --------------------------------------------------------------------------------- */

static void test_general_rules(void **state)
{
    (void)state;
    pt_env_t *e = acl_env(acl_text);
    /* everyone, anonymous included */
    assert_int_equal(pt_authz(e, "c1", NULL, SUB, "public/news"), ALLOW);
    assert_string_equal(e->provider, "acl_file");
    assert_int_equal(pt_authz(e, "c1", "zoe", SUB, "public/news/+"), ALLOW);
    /* covered by "read public/#" but overlapping "deny public/secret/#" (which also matches
     * public/secret itself) */
    assert_int_equal(pt_authz(e, "c1", "zoe", SUB, "public/#"), DENY);
    assert_int_equal(pt_authz(e, "c1", "zoe", SUB, "public/+"), DENY);
    assert_string_equal(e->reason, "denied by ACL");
    assert_int_equal(pt_authz(e, "c1", NULL, PUB, "public/news"), DENY); /* read only */
    assert_int_equal(e->reason_code, HMQ_RC_NOT_AUTHORIZED);
    assert_string_equal(e->provider, "acl_file");
    assert_string_equal(e->reason, "no ACL rule allows this");
    assert_int_equal(pt_authz(e, "c1", NULL, PUB, "chat/x/room"), ALLOW); /* trimmed, rw */
    assert_int_equal(pt_authz(e, "c1", NULL, SUB, "chat/+/room"), ALLOW);
    /* deny wins over the broader read rule */
    assert_int_equal(pt_authz(e, "c1", NULL, SUB, "public/secret/x"), DENY);
    assert_string_equal(e->reason, "denied by ACL");
    /* no rule at all: a whitelist */
    assert_int_equal(pt_authz(e, "c1", "zoe", PUB, "other/topic"), DENY);
    assert_int_equal(e->reason_code, HMQ_RC_NOT_AUTHORIZED);
    pt_env_free(e);
}

static void test_user_rules(void **state)
{
    (void)state;
    pt_env_t *e = acl_env(acl_text);
    assert_int_equal(pt_authz(e, "c1", "alice", PUB, "alice/a/b"), ALLOW);
    assert_int_equal(pt_authz(e, "c1", "alice", SUB, "alice/a/b"), DENY); /* write only */
    assert_int_equal(pt_authz(e, "c1", "alice", PUB, "alice/private/x"), DENY);
    assert_int_equal(pt_authz(e, "c1", "alice", PUB, "sensors/temp"), ALLOW); /* rw default */
    assert_int_equal(pt_authz(e, "c1", "alice", SUB, "sensors/temp"), ALLOW);
    assert_int_equal(pt_authz(e, "c1", "alice", SUB, "alice/inbox"), ALLOW); /* merged section */
    assert_int_equal(pt_authz(e, "c1", "alice", SUB, "public/a"), ALLOW);    /* general too */
    /* other users do not get alice's rules */
    assert_int_equal(pt_authz(e, "c1", "bob", PUB, "alice/a"), DENY);
    assert_int_equal(pt_authz(e, "c1", NULL, PUB, "alice/a"), DENY);
    assert_int_equal(pt_authz(e, "c1", "alicex", PUB, "alice/a"), DENY);
    assert_int_equal(pt_authz(e, "c1", "bob", SUB, "sensors/temp"), ALLOW);
    assert_int_equal(pt_authz(e, "c1", "bob", PUB, "sensors/temp"), DENY);
    pt_env_free(e);
}

static void test_patterns(void **state)
{
    (void)state;
    pt_env_t *e = acl_env(acl_text);
    assert_int_equal(pt_authz(e, "pos-1", NULL, PUB, "dev/pos-1/up"), ALLOW);
    assert_int_equal(pt_authz(e, "pos-1", NULL, SUB, "dev/pos-1/#"), ALLOW);
    assert_int_equal(pt_authz(e, "pos-1", NULL, PUB, "dev/pos-2/up"), DENY);
    assert_int_equal(pt_authz(e, "pos-1", "u7", PUB, "users/u7/out"), ALLOW);
    assert_int_equal(pt_authz(e, "pos-1", "u7", SUB, "users/u7/out"), DENY); /* write only */
    assert_int_equal(pt_authz(e, "pos-1", "u7", SUB, "users/u7/in/+"), ALLOW);
    assert_int_equal(pt_authz(e, "pos-1", "u7", PUB, "users/u8/out"), DENY);
    /* %u without a user name, or values that would widen the rule, never apply */
    assert_int_equal(pt_authz(e, "pos-1", NULL, PUB, "users//out"), DENY);
    assert_int_equal(pt_authz(e, "pos-1", "", PUB, "users//out"), DENY);
    assert_int_equal(pt_authz(e, "a/b", NULL, PUB, "dev/a/b/x"), DENY);
    assert_int_equal(pt_authz(e, "+", NULL, PUB, "dev/x/y"), DENY);
    assert_int_equal(pt_authz(e, "#", NULL, SUB, "dev/#"), DENY);
    assert_int_equal(pt_authz(e, "c", "#", SUB, "users/#"), DENY);
    pt_env_free(e);
}

/* Subscriptions: allowed when a rule covers the whole filter, refused when a deny overlaps. */
static void test_subscribe_filters(void **state)
{
    (void)state;
    pt_env_t *e = acl_env("topic read a/#\n"
                          "topic read b/+/c\n"
                          "topic deny a/secret/#\n"
                          "user u\n"
                          "topic read x/+\n");
    assert_int_equal(pt_authz(e, "c", "u", SUB, "a/b/c"), ALLOW);
    assert_int_equal(pt_authz(e, "c", "u", SUB, "a/x/+"), ALLOW);
    assert_int_equal(pt_authz(e, "c", "u", SUB, "b/x/c"), ALLOW);
    assert_int_equal(pt_authz(e, "c", "u", SUB, "b/+/c"), ALLOW);
    assert_int_equal(pt_authz(e, "c", "u", SUB, "b/#"), DENY); /* wider than b/+/c */
    assert_int_equal(pt_authz(e, "c", "u", SUB, "x/#"), DENY); /* wider than x/+ */
    assert_int_equal(pt_authz(e, "c", "u", SUB, "#"), DENY);
    /* a/# is covered by "read a/#" but overlaps the deny: messages of a/secret would leak */
    assert_int_equal(pt_authz(e, "c", "u", SUB, "a/#"), DENY);
    assert_int_equal(pt_authz(e, "c", "u", SUB, "a/+/x"), DENY);    /* a/secret/x */
    assert_int_equal(pt_authz(e, "c", "u", SUB, "a/secret"), DENY); /* a/secret/# matches it */
    assert_int_equal(pt_authz(e, "c", "u", SUB, "a/secretx"), ALLOW);
    assert_int_equal(pt_authz(e, "c", "u", SUB, "a/public/#"), ALLOW);
    /* publish: a deny only refuses the topics it matches */
    assert_int_equal(pt_authz(e, "c", "u", PUB, "a/x"), DENY); /* no write rule */
    pt_env_free(e);

    /* "#" does not cover $SYS topics (MQTT: wildcards at the first level skip "$") */
    e = acl_env("topic readwrite #\n");
    assert_int_equal(pt_authz(e, "c", "u", PUB, "any/thing"), ALLOW);
    assert_int_equal(pt_authz(e, "c", "u", SUB, "$SYS/#"), DENY);
    assert_int_equal(pt_authz(e, "c", "u", PUB, "$SYS/x"), DENY);
    pt_env_free(e);
}

/* Answers are cached per client, action and topic: the second identical request is a hit. */
static void test_cache(void **state)
{
    (void)state;
    pt_env_t *e = acl_env(acl_text);
    assert_int_equal(pt_authz(e, "c1", "alice", PUB, "alice/x"), ALLOW);
    assert_false(e->from_cache);
    assert_int_equal(pt_authz(e, "c1", "alice", PUB, "alice/x"), ALLOW);
    assert_true(e->from_cache);
    assert_int_equal(pt_authz(e, "c1", "alice", PUB, "nope"), DENY);
    assert_int_equal(pt_authz(e, "c1", "alice", PUB, "nope"), DENY);
    assert_true(e->from_cache);
    assert_int_equal(pt_authz(e, "c1", "bob", PUB, "alice/x"), DENY); /* another client */
    assert_false(e->from_cache);
    hmq_hooks_metrics_t m;
    assert_int_equal(hmq_hooks_metrics(e->h, 0, HMQ_HOOK_AUTHORIZE, &m), 0);
    assert_int_equal(m.calls, 3);
    assert_int_equal(m.cache_hits, 2);
    pt_env_free(e);
}

static void test_reload(void **state)
{
    (void)state;
    const char *path = pt_write("reload.acl", "topic write a\n");
    pt_env_t *e = pt_env_new(NULL);
    assert_int_equal(hmq_acl_provider_add(e->h, "acl_file", path), 0);
    pt_env_start(e);
    assert_int_equal(pt_authz(e, "c", NULL, PUB, "a"), ALLOW);
    assert_int_equal(pt_authz(e, "c", NULL, PUB, "b"), DENY);
    pt_write("reload.acl", "topic write b\n");
    assert_int_equal(hmq_acl_provider_reload(e->h, "acl_file"), 0);
    assert_int_equal(pt_authz(e, "c2", NULL, PUB, "b"), ALLOW); /* c2: not in the cache */
    assert_int_equal(pt_authz(e, "c2", NULL, PUB, "a"), DENY);
    pt_write("reload.acl", "topic write b\nbogus\n");
    pt_capture_start();
    int rc = hmq_acl_provider_reload(e->h, "acl_file");
    const char *log = pt_capture_end();
    assert_int_equal(rc, HMQ_HOOKS_EINVAL);
    assert_non_null(strstr(log, ":2 error=\"unknown keyword"));
    assert_int_equal(pt_authz(e, "c3", NULL, PUB, "b"), ALLOW); /* old table kept */
    assert_int_equal(hmq_acl_provider_reload(e->h, "nope"), HMQ_HOOKS_EINVAL);
    assert_int_equal(hmq_passwd_provider_reload(e->h, "acl_file"), HMQ_HOOKS_EINVAL);
    pt_env_free(e);
}

/* Both built-ins in one chain: authenticate is the password file's, authorize the ACL's. */
static void test_with_password_file(void **state)
{
    (void)state;
    char h[HMQ_PASSWD_HASH_MAX], line[HMQ_PASSWD_HASH_MAX + 16];
    assert_int_equal(hmq_passwd_hash("pbkdf2", 100, (const uint8_t *)"pw", 2, h), 0);
    snprintf(line, sizeof(line), "alice:%s\n", h);
    pt_env_t *e = pt_env_new(NULL);
    assert_int_equal(hmq_passwd_provider_add(e->h, "password_file", pt_write("pw", line)), 0);
    assert_int_equal(hmq_acl_provider_add(e->h, "acl_file", pt_write("acl", acl_text)), 0);
    pt_env_start(e);
    assert_int_equal(pt_auth(e, "alice", "pw"), ALLOW);
    assert_string_equal(e->provider, "password_file");
    assert_int_equal(pt_authz(e, "c1", "alice", PUB, "alice/x"), ALLOW);
    assert_string_equal(e->provider, "acl_file");
    hmq_hooks_metrics_t m;
    assert_int_equal(hmq_hooks_metrics(e->h, 1, HMQ_HOOK_AUTHENTICATE, &m), 0);
    assert_int_equal(m.calls, 0); /* the ACL provider has no authenticate op */
    assert_int_equal(hmq_hooks_metrics(e->h, 0, HMQ_HOOK_AUTHORIZE, &m), 0);
    assert_int_equal(m.calls, 0);
    pt_env_free(e);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_general_rules),
        cmocka_unit_test(test_user_rules),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_subscribe_filters),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_with_password_file),
    };
    return cmocka_run_group_tests(tests, pt_setup, pt_teardown);
}
