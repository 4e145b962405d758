/* test_hooks_grants.c - grants and MQTT matching: the cases of sdk-python's test_filters.py and
 * test_testkit.py (evaluate_grants), which define the semantics the C side must reproduce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "hookmq/hooks.h"

static void test_topic_matches(void **state)
{
    (void)state;
    assert_true(hmq_topic_matches("pay/+/notify", "pay/0001/notify"));
    assert_false(hmq_topic_matches("pay/+/notify", "pay/0001/other"));
    assert_false(hmq_topic_matches("pay/+/notify", "pay/0001/notify/x"));
    assert_true(hmq_topic_matches("pay/#", "pay"));
    assert_true(hmq_topic_matches("pay/#", "pay/a/b/c"));
    assert_true(hmq_topic_matches("#", "anything/at/all"));
    assert_false(hmq_topic_matches("#", "$SYS/broker/uptime"));
    assert_false(hmq_topic_matches("+/x", "$SYS/x"));
    assert_true(hmq_topic_matches("$SYS/#", "$SYS/broker"));
    assert_true(hmq_topic_matches("a/+", "a/"));
    assert_false(hmq_topic_matches("a", "a/b"));
    assert_false(hmq_topic_matches("a/b", "a"));
}

static void test_filters_overlap(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        bool expected;
    } cases[] = {
        {"pay/#", "#", true},
        {"pay/#", "pay/+/notify", true},
        {"pay/+/notify", "+/1/notify", true},
        {"pay/+/notify", "pay/1/other", false},
        {"pay/+/notify", "pay/#", true},
        {"pay/+/notify", "dev/#", false},
        {"a/b", "a/b/c", false},
        {"#", "$SYS/#", false},
        {"$SYS/#", "$SYS/broker", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(hmq_filters_overlap(cases[i].a, cases[i].b), cases[i].expected);
        assert_int_equal(hmq_filters_overlap(cases[i].b, cases[i].a), cases[i].expected);
    }
}

static void test_filter_covers(void **state)
{
    (void)state;
    assert_true(hmq_filter_covers("pay/c1/#", "pay/c1/notify"));
    assert_true(hmq_filter_covers("pay/c1/#", "pay/c1/+"));
    assert_true(hmq_filter_covers("pay/c1/#", "pay/c1/#"));
    assert_false(hmq_filter_covers("pay/c1/#", "pay/+/notify"));
    assert_true(hmq_filter_covers("pay/+/notify", "pay/c1/notify"));
    assert_false(hmq_filter_covers("pay/+/notify", "pay/#"));
    assert_false(hmq_filter_covers("#", "$SYS/x"));
    assert_true(hmq_filter_covers("a/b", "a/b"));
    assert_false(hmq_filter_covers("a/b", "a/+"));
}

static void test_glob(void **state)
{
    (void)state;
    assert_true(hmq_glob_matches("pos-*", "pos-0001"));
    assert_false(hmq_glob_matches("pos-*", "spk-0001"));
    assert_true(hmq_glob_matches("pos-????", "pos-0001"));
    assert_false(hmq_glob_matches("pos-????", "pos-00011"));
    assert_true(hmq_glob_matches("*", ""));
    assert_false(hmq_glob_matches("?*", ""));
    assert_true(hmq_glob_matches("a.b[1]", "a.b[1]"));
    assert_false(hmq_glob_matches("a.b", "axb"));
    assert_true(hmq_glob_matches("*-*-x", "a-b-c-x"));
}

#define PUB HMQ_ACTION_PUBLISH
#define SUB HMQ_ACTION_SUBSCRIBE

/* test_testkit.py: test_authenticate_allow_with_grants_attributes_expiry */
static void test_grants_qos_retain(void **state)
{
    (void)state;
    hmq_grant_rule_t rules[] = {
        {.pattern = "dev/%c/up/#", .action = PUB, .max_qos = 1, .no_retain = true},
        {.pattern = "pay/%u/notify", .action = SUB, .max_qos = 2},
    };
    hmq_grants_t *g = hmq_grants_new(rules, 2, false, NULL, 0);
    assert_non_null(g);
    uint8_t rc = 0xff, gq = 0xff;
    assert_int_equal(
        hmq_grants_check(g, PUB, "dev/pos-1/up/status", 1, false, "pos-1", NULL, &rc, NULL),
        HMQ_GRANTS_ALLOW);
    assert_int_equal(rc, 0);
    assert_int_equal(
        hmq_grants_check(g, PUB, "dev/pos-1/up/status", 2, false, "pos-1", NULL, &rc, NULL),
        HMQ_GRANTS_DENY);
    assert_int_equal(rc, HMQ_RC_QOS_NOT_SUPPORTED);
    assert_int_equal(hmq_grants_check(g, PUB, "dev/pos-1/up/x", 0, true, "pos-1", NULL, &rc, NULL),
                     HMQ_GRANTS_DENY);
    assert_int_equal(rc, HMQ_RC_RETAIN_NOT_SUPPORTED);
    assert_int_equal(
        hmq_grants_check(g, PUB, "dev/pos-2/up/status", 0, false, "pos-1", NULL, &rc, NULL),
        HMQ_GRANTS_NO_MATCH);
    assert_int_equal(rc, HMQ_RC_NOT_AUTHORIZED);
    assert_int_equal(
        hmq_grants_check(g, SUB, "pay/pos-1/notify", 2, false, "pos-1", "pos-1", &rc, &gq),
        HMQ_GRANTS_ALLOW);
    assert_int_equal(gq, 2);
    assert_int_equal(
        hmq_grants_check(g, SUB, "pay/+/notify", 0, false, "pos-1", "pos-1", NULL, NULL),
        HMQ_GRANTS_NO_MATCH);
    /* a subscribe rule's max_qos lowers the granted QoS, it does not refuse */
    hmq_grant_rule_t r2 = {.pattern = "pay/%c/#", .action = SUB, .max_qos = 1};
    hmq_grants_t *g2 = hmq_grants_new(&r2, 1, true, NULL, 0);
    assert_int_equal(hmq_grants_check(g2, SUB, "pay/c1/x", 2, false, "c1", NULL, NULL, &gq),
                     HMQ_GRANTS_ALLOW);
    assert_int_equal(gq, 1);
    assert_true(hmq_grants_fallthrough(g2));
    assert_false(hmq_grants_fallthrough(g));
    hmq_grants_unref(g2);
    hmq_grants_t *again = hmq_grants_ref(g);
    hmq_grants_unref(g);
    assert_int_equal(hmq_grants_count(again), 2);
    hmq_grants_unref(again);
}

/* test_testkit.py: test_evaluate_grants_order_and_substitution */
static void test_grants_order_and_substitution(void **state)
{
    (void)state;
    hmq_grant_rule_t rules[] = {
        {.pattern = "pay/%c/admin", .action = HMQ_ACTION_ALL, .max_qos = 2, .deny = true},
        {.pattern = "pay/%c/#", .action = SUB, .max_qos = 1},
        {.pattern = "m/%a{merchant}/#", .action = PUB, .max_qos = 2},
        {.pattern = "u/%u/#", .action = PUB, .max_qos = 2},
    };
    hmq_hooks_pair_t attrs[] = {{"merchant", "M1"}};
    hmq_grants_t *g = hmq_grants_new(rules, 4, false, attrs, 1);
    hmq_grants_t *noattr = hmq_grants_new(rules, 4, false, NULL, 0);
    assert_non_null(g);
    uint8_t rc;
    assert_int_equal(hmq_grants_check(g, SUB, "pay/c1/admin", 0, false, "c1", NULL, &rc, NULL),
                     HMQ_GRANTS_DENY);
    assert_int_equal(rc, HMQ_RC_NOT_AUTHORIZED);
    assert_int_equal(hmq_grants_check(g, SUB, "pay/c1/+", 0, false, "c1", NULL, NULL, NULL),
                     HMQ_GRANTS_ALLOW);
    assert_int_equal(hmq_grants_check(g, PUB, "pay/c1/x", 0, false, "c1", NULL, NULL, NULL),
                     HMQ_GRANTS_NO_MATCH);
    assert_int_equal(hmq_grants_check(g, PUB, "m/M1/x", 0, false, "c1", NULL, NULL, NULL),
                     HMQ_GRANTS_ALLOW);
    assert_int_equal(hmq_grants_check(noattr, PUB, "m/M1/x", 0, false, "c1", NULL, NULL, NULL),
                     HMQ_GRANTS_NO_MATCH);
    assert_int_equal(hmq_grants_check(g, PUB, "u/bob/x", 0, false, "c1", NULL, NULL, NULL),
                     HMQ_GRANTS_NO_MATCH);
    assert_int_equal(hmq_grants_check(g, PUB, "u/bob/x", 0, false, "c1", "bob", NULL, NULL),
                     HMQ_GRANTS_ALLOW);
    /* a client id with wildcard characters cannot widen its grants */
    assert_int_equal(hmq_grants_check(g, SUB, "pay/#", 0, false, "#", NULL, NULL, NULL),
                     HMQ_GRANTS_NO_MATCH);
    assert_int_equal(hmq_grants_check(g, PUB, "u/a/b/x", 0, false, "c1", "a/b", NULL, NULL),
                     HMQ_GRANTS_NO_MATCH);
    assert_int_equal(hmq_grants_check(g, PUB, "u//x", 0, false, "c1", "", NULL, NULL),
                     HMQ_GRANTS_NO_MATCH);
    hmq_grants_unref(g);
    hmq_grants_unref(noattr);
}

static void test_grants_invalid_patterns(void **state)
{
    (void)state;
    const char *bad[] = {"", "a/#/b", "a#", "a/b+", "+a/b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hmq_grant_rule_t r = {.pattern = bad[i], .max_qos = 2};
        assert_null(hmq_grants_new(&r, 1, false, NULL, 0));
    }
    hmq_grant_rule_t q = {.pattern = "a", .max_qos = 3};
    assert_null(hmq_grants_new(&q, 1, false, NULL, 0));
    /* long substituted patterns go past the on-stack buffer */
    char cid[2000];
    memset(cid, 'x', sizeof(cid) - 1);
    cid[sizeof(cid) - 1] = '\0';
    char topic[2100];
    snprintf(topic, sizeof(topic), "d/%s/up", cid);
    hmq_grant_rule_t r = {.pattern = "d/%c/up", .action = PUB, .max_qos = 2};
    hmq_grants_t *g = hmq_grants_new(&r, 1, false, NULL, 0);
    assert_int_equal(hmq_grants_check(g, PUB, topic, 0, false, cid, NULL, NULL, NULL),
                     HMQ_GRANTS_ALLOW);
    hmq_grants_unref(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_matches),
        cmocka_unit_test(test_filters_overlap),
        cmocka_unit_test(test_filter_covers),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_grants_qos_retain),
        cmocka_unit_test(test_grants_order_and_substitution),
        cmocka_unit_test(test_grants_invalid_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
