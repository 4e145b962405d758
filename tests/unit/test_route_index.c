/* test_route_index.c - topic index: MQTT §4.7 matching, '$' topics, empty levels, overlapping
 * filters, replace, remove, pruning and reference counting of subscriber handles. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "route_test.h"

/* One subscriber per filter; uid = index in this table + 1. */
static const char *const filters[] = {
    "sport/tennis/player1/#", /* 1 */
    "sport/#",                /* 2 */
    "#",                      /* 3 */
    "sport/tennis/#",         /* 4 */
    "sport/tennis/+",         /* 5 */
    "sport/+",                /* 6 */
    "+/+",                    /* 7 */
    "/+",                     /* 8 */
    "+",                      /* 9 */
    "+/tennis/#",             /* 10 */
    "sport/+/player1",        /* 11 */
    "$SYS/#",                 /* 12 */
    "+/monitor/Clients",      /* 13 */
    "$SYS/monitor/+",         /* 14 */
    "ACCOUNTS",               /* 15 */
    "/finance",               /* 16 */
    "finance",                /* 17 */
    "a//b",                   /* 18 */
    "a/+/b",                  /* 19 */
    "+/+/+",                  /* 20 */
    "Accounts payable",       /* 21 */
    "$SYS",                   /* 22 */
    "a/b/",                   /* 23 */
};
#define NFILTERS (sizeof filters / sizeof filters[0])

/* Expected uids per topic, 0 terminated. */
static const struct {
    const char *topic;
    uint64_t uids[NFILTERS + 1];
} cases[] = {
    /* §4.7.1.2: '#' matches the parent level and any number of child levels */
    {"sport/tennis/player1", {1, 2, 3, 4, 5, 10, 11, 20}},
    {"sport/tennis/player1/ranking", {1, 2, 3, 4, 10}},
    {"sport/tennis/player1/score/wimbledon", {1, 2, 3, 4, 10}},
    {"sport", {2, 3, 9}},
    /* §4.7.1.3: '+' matches exactly one level, possibly empty */
    {"sport/tennis/player2", {2, 3, 4, 5, 10, 20}},
    {"sport/", {2, 3, 6, 7}},
    {"/finance", {3, 7, 8, 16}},
    {"finance", {3, 9, 17}},
    /* §4.7.2: '$' topics are not matched by a wildcard in the first level */
    {"$SYS/monitor/Clients", {12, 14}},
    {"$SYS", {12, 22}},
    {"$SYS/", {12}},
    /* §4.7.3: case sensitive, spaces allowed, '/' is significant */
    {"ACCOUNTS", {3, 9, 15}},
    {"Accounts", {3, 9}},
    {"Accounts payable", {3, 9, 21}},
    /* empty levels are real levels */
    {"a//b", {3, 18, 19, 20}},
    {"a/x/b", {3, 19, 20}},
    {"a/b", {3, 7}},
    {"a/b/", {3, 20, 23}},
    {"/", {3, 7, 8}},
    {"//", {3, 20}},
    {"nothing/matches/this/one", {3}},
};

static void test_spec_examples(void **state)
{
    (void)state;
    hmq_topic_index_t *idx = hmq_topic_index_new();
    assert_non_null(idx);
    hmq_subscriber_t *subs[NFILTERS];
    for (size_t i = 0; i < NFILTERS; i++) {
        subs[i] = hmq_subscriber_new(i + 1, 0);
        assert_int_equal(route_add(idx, filters[i], subs[i], 1, 0), 1);
    }
    assert_int_equal(hmq_topic_index_count(idx), NFILTERS);
    hits_t h;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t expected = 0;
        for (const uint64_t *u = cases[c].uids; *u; u++)
            expected++;
        hits_match(idx, cases[c].topic, &h);
        for (size_t i = 0; i < expected; i++) {
            if (hits_count(&h, cases[c].uids[i], NULL) != 1)
                fail_msg("topic '%s': filter '%s' should match once", cases[c].topic,
                         filters[cases[c].uids[i] - 1]);
        }
        if (h.n != expected) {
            for (size_t i = 0; i < h.n; i++)
                print_message("topic '%s' matched '%s'\n", cases[c].topic, filters[h.v[i].uid - 1]);
            fail_msg("topic '%s': %zu matches, expected %zu", cases[c].topic, h.n, expected);
        }
    }
    hmq_topic_index_free(idx);
    for (size_t i = 0; i < NFILTERS; i++)
        hmq_subscriber_unref(subs[i]);
}

static void test_overlapping_filters_reported_once_each(void **state)
{
    (void)state;
    hmq_topic_index_t *idx = hmq_topic_index_new();
    hmq_subscriber_t *a = hmq_subscriber_new(7, 0), *b = hmq_subscriber_new(8, 0);
    assert_int_equal(route_add(idx, "a/b", a, 0, 1), 1);
    assert_int_equal(route_add(idx, "a/+", a, 1, 2), 1);
    assert_int_equal(route_add(idx, "#", a, 2, 3), 1);
    assert_int_equal(route_add(idx, "a/#", a, 0, 4), 1);
    assert_int_equal(route_add(idx, "a/b", b, 0, 9), 1);
    hits_t h;
    assert_int_equal(hits_match(idx, "a/b", &h), 5);
    assert_int_equal(hits_count(&h, 7, NULL), 4);
    unsigned seen = 0;
    for (size_t i = 0; i < h.n; i++)
        if (h.v[i].uid == 7) seen |= 1u << h.v[i].sub_id;
    assert_int_equal(seen, 0x1e); /* sub ids 1..4, once each */
    assert_int_equal(hits_count(&h, 8, NULL), 1);
    assert_int_equal(hits_match(idx, "a", &h), 2); /* "#" and "a/#" */
    hmq_topic_index_free(idx);
    hmq_subscriber_unref(a);
    hmq_subscriber_unref(b);
}

static void test_replace_updates_options(void **state)
{
    (void)state;
    hmq_topic_index_t *idx = hmq_topic_index_new();
    hmq_subscriber_t *a = hmq_subscriber_new(1, 0);
    assert_int_equal(route_add(idx, "a/+", a, 0, 0), 1);
    assert_int_equal(route_add(idx, "a/+", a, 2, 7), 0);
    assert_int_equal(hmq_topic_index_count(idx), 1);
    hits_t h;
    assert_int_equal(hits_match(idx, "a/x", &h), 1);
    assert_int_equal(h.v[0].qos, 2);
    assert_int_equal(h.v[0].sub_id, 7);
    rcu_barrier(); /* the replaced entry released its reference after the grace period */
    assert_int_equal(refs_of(a), 2);
    hmq_topic_index_free(idx);
    rcu_barrier();
    assert_int_equal(refs_of(a), 1);
    hmq_subscriber_unref(a);
}

static void test_remove(void **state)
{
    (void)state;
    hmq_topic_index_t *idx = hmq_topic_index_new();
    hmq_subscriber_t *a = hmq_subscriber_new(1, 0), *b = hmq_subscriber_new(2, 0);
    assert_int_equal(route_add(idx, "x/y", a, 0, 0), 1);
    assert_int_equal(route_add(idx, "x/y", b, 0, 0), 1);
    assert_int_equal(route_remove(idx, "x/y", a), 0);
    assert_int_equal(route_remove(idx, "x/y", a), -ENOENT);
    assert_int_equal(route_remove(idx, "x/z", b), -ENOENT);
    assert_int_equal(route_remove(idx, "x", b), -ENOENT);
    assert_int_equal(route_remove(idx, "$share/g/x/y", b), -ENOENT);
    assert_int_equal(hmq_topic_index_count(idx), 1);
    hits_t h;
    assert_int_equal(hits_match(idx, "x/y", &h), 1);
    assert_int_equal(h.v[0].uid, 2);
    rcu_barrier();
    assert_int_equal(refs_of(a), 1);
    assert_int_equal(refs_of(b), 2);
    hmq_topic_index_free(idx);
    hmq_subscriber_unref(a);
    hmq_subscriber_unref(b);
}

static void test_prune_to_empty(void **state)
{
    (void)state;
    static const char *const fs[] = {"a/b/c",        "a/b",    "a/+/c", "a/#",
                                     "+/+",          "#",      "/",     "$share/g/a/b/c",
                                     "$share/h/a/+", "$SYS/x", "a//"};
    const size_t nf = sizeof fs / sizeof fs[0];
    hmq_topic_index_t *idx = hmq_topic_index_new();
    hmq_subscriber_t *a = hmq_subscriber_new(1, 0), *b = hmq_subscriber_new(2, 0);
    for (size_t i = 0; i < nf; i++) {
        assert_int_equal(route_add(idx, fs[i], a, 0, 0), 1);
        assert_int_equal(route_add(idx, fs[i], b, 0, 0), 1);
    }
    assert_int_equal(hmq_topic_index_count(idx), 2 * nf);
    assert_true(hmq_topic_index_node_count(idx) >= 10);
    assert_int_equal(refs_of(a), 1 + nf);

    /* Removing a prefix filter keeps the deeper ones reachable. */
    for (size_t i = 0; i < nf; i++)
        assert_int_equal(route_remove(idx, fs[i], a), 0);
    assert_int_equal(route_remove(idx, "a/b", b), 0);
    hits_t h;
    assert_int_equal(hits_match(idx, "a/b/c", &h), 5); /* a/b/c a/+/c a/# # share g */
    assert_int_equal(hits_count(&h, 2, "g"), 1);

    for (size_t i = 0; i < nf; i++)
        if (strcmp(fs[i], "a/b") != 0) assert_int_equal(route_remove(idx, fs[i], b), 0);
    assert_int_equal(hmq_topic_index_count(idx), 0);
    assert_int_equal(hmq_topic_index_node_count(idx), 0);
    assert_int_equal(hits_match(idx, "a/b/c", &h), 0);
    rcu_barrier(); /* entries and nodes are freed after the grace period */
    assert_int_equal(refs_of(a), 1);
    assert_int_equal(refs_of(b), 1);

    /* The emptied index is fully usable again. */
    assert_int_equal(route_add(idx, "a/b/c", a, 0, 0), 1);
    assert_int_equal(hits_match(idx, "a/b/c", &h), 1);
    assert_int_equal(hmq_topic_index_node_count(idx), 3);
    hmq_topic_index_free(idx);
    hmq_subscriber_unref(a);
    hmq_subscriber_unref(b);
}

static void test_invalid_share_and_long_filter(void **state)
{
    (void)state;
    hmq_topic_index_t *idx = hmq_topic_index_new();
    hmq_subscriber_t *a = hmq_subscriber_new(1, 0);
    assert_int_equal(route_add(idx, "$share/g", a, 0, 0), -EINVAL);
    assert_int_equal(route_add(idx, "$share//a", a, 0, 0), -EINVAL);
    /* "$shared/x" is an ordinary filter */
    assert_int_equal(route_add(idx, "$shared/x", a, 0, 0), 1);
    hits_t h;
    assert_int_equal(hits_match(idx, "$shared/x", &h), 1);
    assert_int_equal(h.v[0].group[0], 0);
    /* A deep filter (10000 levels) neither overflows nor leaks. */
    static char deep[20000];
    for (size_t i = 0; i < 10000; i++)
        memcpy(deep + 2 * i, "x/", 2);
    deep[19999] = 0;
    assert_int_equal(hmq_topic_index_add(idx, deep, 19999, &(hmq_sub_entry_t){.sub = a}), 1);
    h.n = 0;
    hmq_topic_index_match(idx, deep, 19999, hits_collect, &h);
    assert_int_equal(h.n, 1);
    assert_int_equal(hmq_topic_index_remove(idx, deep, 19999, a), 0);
    assert_int_equal(hmq_topic_index_node_count(idx), 2);
    hmq_topic_index_free(idx);
    hmq_subscriber_unref(a);
}

/* 20000 filters make the writer grow both hash tables many times; removing them all shrinks
 * them again (a shrink waits for a grace period inside liburcu). Matches stay exact throughout. */
static void test_grow_and_shrink(void **state)
{
    (void)state;
    enum { N = 20000 };
    hmq_topic_index_t *idx = hmq_topic_index_new();
    hmq_subscriber_t *a = hmq_subscriber_new(1, 0), *b = hmq_subscriber_new(2, 0);
    char f[48];
    hits_t h;
    for (int i = 0; i < N; i++) {
        snprintf(f, sizeof f, "dev/%d/cmd", i);
        assert_int_equal(route_add(idx, f, a, 0, (uint32_t)i), 1);
        assert_int_equal(route_add(idx, f, b, 0, (uint32_t)i), 1);
    }
    assert_int_equal(hmq_topic_index_count(idx), 2 * N);
    assert_int_equal(hmq_topic_index_node_count(idx), 1 + 2 * N);
    for (int i = 0; i < N; i += 997) {
        snprintf(f, sizeof f, "dev/%d/cmd", i);
        assert_int_equal(hits_match(idx, f, &h), 2);
        assert_int_equal(h.v[0].sub_id, i);
    }
    for (int i = 0; i < N; i++) {
        snprintf(f, sizeof f, "dev/%d/cmd", i);
        assert_int_equal(route_remove(idx, f, a), 0);
        if (i % 2) assert_int_equal(route_remove(idx, f, b), 0);
    }
    assert_int_equal(hmq_topic_index_count(idx), N / 2);
    assert_int_equal(hits_match(idx, "dev/4242/cmd", &h), 1);
    assert_int_equal(hits_match(idx, "dev/4243/cmd", &h), 0);
    for (int i = 0; i < N; i += 2) {
        snprintf(f, sizeof f, "dev/%d/cmd", i);
        assert_int_equal(route_remove(idx, f, b), 0);
    }
    assert_int_equal(hmq_topic_index_count(idx), 0);
    assert_int_equal(hmq_topic_index_node_count(idx), 0);
    rcu_barrier();
    assert_int_equal(refs_of(a), 1);
    assert_int_equal(refs_of(b), 1);
    hmq_topic_index_free(idx);
    hmq_subscriber_unref(a);
    hmq_subscriber_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_examples),
        cmocka_unit_test(test_overlapping_filters_reported_once_each),
        cmocka_unit_test(test_replace_updates_options),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_prune_to_empty),
        cmocka_unit_test(test_invalid_share_and_long_filter),
        cmocka_unit_test(test_grow_and_shrink),
    };
    return cmocka_run_group_tests(tests, route_group_setup, route_group_teardown);
}
