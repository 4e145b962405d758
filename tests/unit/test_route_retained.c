/* test_route_retained.c - retained store: set/replace/clear, wildcard and '$' matching, empty
 * levels, expiry during a match, pruning, re-entrant callbacks, wide and deep tries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/retained.h"

#define SEEN_MAX 64

typedef struct {
    char topics[SEEN_MAX][64];
    size_t n;
    hmq_retained_t *r; /* set: the callback clears what it sees (re-entrancy) */
} seen_t;

static void on_msg(void *ctx, hmq_msg_t *m)
{
    seen_t *s = ctx;
    if (s->n < SEEN_MAX) snprintf(s->topics[s->n], sizeof s->topics[0], "%s", m->topic);
    s->n++;
    if (s->r) hmq_retained_set(s->r, m->topic, m->topic_len, NULL);
}

static size_t match(hmq_retained_t *r, const char *filter, uint64_t now, seen_t *s)
{
    s->n = 0;
    hmq_retained_match(r, filter, strlen(filter), now, on_msg, s);
    return s->n;
}

static bool saw(const seen_t *s, const char *topic)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n && i < SEEN_MAX; i++)
        k += strcmp(s->topics[i], topic) == 0;
    return k == 1;
}

static hmq_msg_t *msg(const char *topic, const char *payload)
{
    return hmq_msg_new(topic, strlen(topic), payload, strlen(payload), NULL, 0, 1, true);
}

static void retain(hmq_retained_t *r, const char *topic, const char *payload)
{
    hmq_msg_t *m = msg(topic, payload);
    hmq_retained_set(r, topic, strlen(topic), m);
    hmq_msg_unref(m);
}

static void test_set_replace_clear(void **state)
{
    (void)state;
    hmq_retained_t *r = hmq_retained_new();
    hmq_msg_t *a = msg("a/b", "one"), *b = msg("a/b", "three");
    hmq_retained_set(r, "a/b", 3, a);
    assert_int_equal(hmq_retained_count(r), 1);
    assert_int_equal(hmq_retained_bytes(r), 3 + 3);
    assert_int_equal(atomic_load(&a->refs), 2);
    hmq_retained_set(r, "a/b", 3, b); /* replace */
    assert_int_equal(hmq_retained_count(r), 1);
    assert_int_equal(hmq_retained_bytes(r), 3 + 5);
    assert_int_equal(atomic_load(&a->refs), 1);
    seen_t s = {0};
    assert_int_equal(match(r, "a/b", 0, &s), 1);
    assert_int_equal(atomic_load(&b->refs), 2); /* the match's reference was released */

    hmq_msg_t *empty = hmq_msg_new("a/b", 3, NULL, 0, NULL, 0, 0, true);
    hmq_retained_set(r, "a/b", 3, empty); /* empty payload clears */
    assert_int_equal(hmq_retained_count(r), 0);
    assert_int_equal(hmq_retained_bytes(r), 0);
    assert_int_equal(hmq_retained_node_count(r), 0);
    assert_int_equal(atomic_load(&b->refs), 1);
    assert_int_equal(atomic_load(&empty->refs), 1); /* never stored */
    assert_int_equal(match(r, "#", 0, &s), 0);

    retain(r, "a/b/c", "x");
    retain(r, "a", "y");
    hmq_retained_set(r, "a/b/c", 5, NULL); /* NULL clears too; "a" keeps its node */
    hmq_retained_set(r, "nothing/here", 12, NULL);
    assert_int_equal(hmq_retained_count(r), 1);
    assert_int_equal(hmq_retained_node_count(r), 1);
    assert_int_equal(match(r, "#", 0, &s), 1);
    assert_true(saw(&s, "a"));
    hmq_msg_unref(a);
    hmq_msg_unref(b);
    hmq_msg_unref(empty);
    hmq_retained_free(r);
}

static const char *const topics[] = {
    "sport/tennis/player1",
    "sport/tennis/player1/ranking",
    "sport/tennis/player2",
    "sport",
    "sport/",
    "/finance",
    "finance",
    "$SYS/monitor/Clients",
    "$SYS",
    "a//b",
    "a/x/b",
    "/",
    "//",
};

static const struct {
    const char *filter;
    const char *expect[16];
} cases[] = {
    {"sport/tennis/player1/#", {"sport/tennis/player1", "sport/tennis/player1/ranking"}},
    {"sport/#",
     {"sport", "sport/", "sport/tennis/player1", "sport/tennis/player1/ranking",
      "sport/tennis/player2"}},
    {"sport/tennis/+", {"sport/tennis/player1", "sport/tennis/player2"}},
    {"sport/+", {"sport/"}},
    {"+", {"sport", "finance"}},
    {"+/+", {"sport/", "/finance", "/"}},
    {"/+", {"/finance", "/"}},
    {"+/+/+", {"sport/tennis/player1", "sport/tennis/player2", "a//b", "a/x/b", "//"}},
    {"a/+/b", {"a//b", "a/x/b"}},
    {"a//b", {"a//b"}},
    {"#",
     {"sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis/player2", "sport",
      "sport/", "/finance", "finance", "a//b", "a/x/b", "/", "//"}},
    {"+/monitor/Clients", {NULL}},
    {"$SYS/#", {"$SYS/monitor/Clients", "$SYS"}},
    {"$SYS/monitor/+", {"$SYS/monitor/Clients"}},
    {"$SYS", {"$SYS"}},
    {"finance", {"finance"}},
    {"Finance", {NULL}},
    {"sport/tennis", {NULL}},
};

static void test_wildcards_dollar_and_empty_levels(void **state)
{
    (void)state;
    hmq_retained_t *r = hmq_retained_new();
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        retain(r, topics[i], "p");
    assert_int_equal(hmq_retained_count(r), sizeof topics / sizeof topics[0]);
    seen_t s = {0};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t expected = 0;
        for (; cases[c].expect[expected]; expected++) {
        }
        match(r, cases[c].filter, 0, &s);
        for (size_t i = 0; i < expected; i++)
            if (!saw(&s, cases[c].expect[i]))
                fail_msg("filter '%s' should match '%s'", cases[c].filter, cases[c].expect[i]);
        if (s.n != expected)
            fail_msg("filter '%s': %zu matches, expected %zu", cases[c].filter, s.n, expected);
    }
    hmq_retained_free(r);
}

static void test_expired_removed_during_match(void **state)
{
    (void)state;
    hmq_retained_t *r = hmq_retained_new();
    hmq_msg_t *m = msg("e/x/1", "payload");
    m->expiry_at_ms = 1000;
    hmq_retained_set(r, "e/x/1", 5, m);
    retain(r, "e/x/2", "kept");
    retain(r, "e/y", "kept");
    hmq_msg_t *deep = msg("e/z/q/r", "deep");
    deep->expiry_at_ms = 1000;
    hmq_retained_set(r, "e/z/q/r", 7, deep);
    assert_int_equal(hmq_retained_count(r), 4);
    size_t bytes = hmq_retained_bytes(r);
    assert_int_equal(hmq_retained_node_count(r), 8);

    seen_t s = {0};
    assert_int_equal(match(r, "e/+/1", 999, &s), 1); /* not expired yet */
    assert_int_equal(match(r, "e/+/1", 1000, &s), 0);
    assert_int_equal(hmq_retained_count(r), 3);
    assert_int_equal(hmq_retained_bytes(r), bytes - (5 + 7));
    assert_int_equal(atomic_load(&m->refs), 1); /* the store let go of it */
    assert_int_equal(hmq_retained_node_count(r), 7);

    assert_int_equal(match(r, "#", 5000, &s), 2); /* e/z/q/r expires inside a '#' walk */
    assert_true(saw(&s, "e/x/2"));
    assert_true(saw(&s, "e/y"));
    assert_int_equal(hmq_retained_count(r), 2);
    assert_int_equal(hmq_retained_node_count(r), 4); /* e, e/x, e/x/2, e/y */
    hmq_msg_unref(m);
    hmq_msg_unref(deep);
    hmq_retained_free(r);
}

static void test_callback_may_reenter(void **state)
{
    (void)state;
    hmq_retained_t *r = hmq_retained_new();
    retain(r, "k/1", "a");
    retain(r, "k/2", "b");
    seen_t s = {.r = r};
    assert_int_equal(match(r, "k/#", 0, &s), 2);
    assert_int_equal(hmq_retained_count(r), 0);
    assert_int_equal(hmq_retained_node_count(r), 0);
    hmq_retained_free(r);
}

static void count_msg(void *ctx, hmq_msg_t *m)
{
    (void)m;
    (*(size_t *)ctx)++;
}

static size_t count(hmq_retained_t *r, const char *filter)
{
    size_t n = 0;
    hmq_retained_match(r, filter, strlen(filter), 0, count_msg, &n);
    return n;
}

static void test_wide_and_deep(void **state)
{
    (void)state;
    hmq_retained_t *r = hmq_retained_new();
    char t[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(t, sizeof t, "dev/%d/state", i);
        retain(r, t, "s");
    }
    assert_int_equal(hmq_retained_count(r), 20000);
    assert_int_equal(count(r, "dev/+/state"), 20000);
    assert_int_equal(count(r, "dev/4242/state"), 1);
    assert_int_equal(count(r, "dev/4242/+"), 1);
    assert_int_equal(count(r, "dev/+"), 0);
    for (int i = 0; i < 20000; i += 2) {
        snprintf(t, sizeof t, "dev/%d/state", i);
        hmq_retained_set(r, t, strlen(t), NULL);
    }
    assert_int_equal(count(r, "dev/#"), 10000);
    for (int i = 1; i < 20000; i += 2) { /* tombstones are reused or rehashed away */
        snprintf(t, sizeof t, "dev/%d/state", i + 100000);
        retain(r, t, "s");
    }
    assert_int_equal(count(r, "dev/+/state"), 20000);
    assert_int_equal(count(r, "dev/100001/state"), 1);
    assert_int_equal(count(r, "dev/4242/state"), 0);
    assert_int_equal(count(r, "dev/4243/state"), 1);

    /* 20000 levels: '#' walks and frees it without recursion. */
    size_t len = 2 * 20000 - 1;
    char *deep = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        deep[i] = i % 2 ? '/' : 'd';
    deep[len] = 0;
    hmq_msg_t *m = hmq_msg_new(deep, len, "x", 1, NULL, 0, 0, true);
    hmq_retained_set(r, deep, len, m);
    assert_int_equal(count(r, "d/#"), 1);
    assert_int_equal(count(r, "#"), 20001);
    hmq_msg_unref(m);
    free(deep);
    hmq_retained_free(r); /* frees the remaining 20001 messages: ASan checks for leaks */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_replace_clear),
        cmocka_unit_test(test_wildcards_dollar_and_empty_levels),
        cmocka_unit_test(test_expired_removed_during_match),
        cmocka_unit_test(test_callback_may_reenter),
        cmocka_unit_test(test_wide_and_deep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
