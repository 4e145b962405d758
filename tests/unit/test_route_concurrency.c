/* test_route_concurrency.c - readers match continuously while a writer adds, replaces and
 * removes subscriptions (plain and shared). Every reader must always see each permanent
 * subscription exactly once and each permanent group exactly once; under the ASan build this
 * also catches any entry, node or subscriber freed before the grace period. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "route_test.h"

#define READERS 4
#ifndef WRITES
#define WRITES 4000 /* raise it (-DWRITES=...) for a longer stress run */
#endif
#define WINDOW 2048 /* churn subscribers alive at once: enough to resize the hash tables */
#define TOPICS 16

enum { UID_PLUS = 1, UID_HASH = 2, UID_G1 = 3, UID_G2 = 4, UID_CHURN = 100 };

typedef struct {
    hmq_topic_index_t *idx;
    hmq_subscriber_t *plus; /* the permanent "t/+/x" subscriber, re-subscribed by the writer */
    atomic_bool stop;
    atomic_uint errors;
    atomic_ulong matches;
} shared_t;

typedef struct {
    size_t plus, hash, group_g, other;
} tally_t;

static void on_match(void *ctx, const hmq_sub_entry_t *e, const char *group, size_t glen)
{
    tally_t *t = ctx;
    /* Touch the subscriber: ASan reports it if it was freed too early. */
    uint64_t uid = e->sub->uid;
    (void)atomic_load(&e->sub->online);
    if (group && glen == 1 && group[0] == 'g')
        t->group_g++;
    else if (!group && uid == UID_PLUS)
        t->plus++;
    else if (!group && uid == UID_HASH)
        t->hash++;
    else
        t->other++;
}

static void *reader(void *arg)
{
    shared_t *sh = arg;
    char topic[32];
    rcu_register_thread();
    for (unsigned i = 0; !atomic_load(&sh->stop); i++) {
        int n = snprintf(topic, sizeof topic, "t/%u/x", i % TOPICS);
        tally_t t = {0};
        hmq_topic_index_match(sh->idx, topic, (size_t)n, on_match, &t);
        if (t.plus != 1 || t.hash != 1 || t.group_g != 1) atomic_fetch_add(&sh->errors, 1);
        atomic_fetch_add_explicit(&sh->matches, 1, memory_order_relaxed);
    }
    rcu_unregister_thread();
    return NULL;
}

#define NF 5

/* The filters of churn subscriber k. */
static void churn_filters(unsigned k, char f[NF][48])
{
    snprintf(f[0], 48, "t/%u/x", k % TOPICS);
    snprintf(f[1], 48, "t/%u/#", k % TOPICS);
    snprintf(f[2], 48, "$share/g/t/+/x");
    snprintf(f[3], 48, "$share/h%u/t/%u/+/deep/%u", k % 3, k % TOPICS, k);
    snprintf(f[4], 48, "u/%u/v", k);
}

/* cmocka's asserts must stay on the main thread: other threads count failures. */
#define CHECK(sh, cond) ((cond) ? (void)0 : (void)atomic_fetch_add(&(sh)->errors, 1))

static void *writer(void *arg)
{
    shared_t *sh = arg;
    static hmq_subscriber_t *live[WINDOW];
    char f[NF][48];
    rcu_register_thread();
    for (unsigned k = 0; k < WRITES; k++) {
        unsigned slot = k % WINDOW;
        if (live[slot]) { /* the subscriber of k - WINDOW leaves */
            churn_filters(k - WINDOW, f);
            for (int i = 0; i < NF; i++)
                CHECK(sh, route_remove(sh->idx, f[i], live[slot]) == 0);
            live[slot] = NULL; /* the index held the last reference */
        }
        hmq_subscriber_t *s = hmq_subscriber_new(UID_CHURN + k, 0);
        atomic_store(&s->online, k % 2);
        churn_filters(k, f);
        for (int i = 0; i < NF; i++)
            CHECK(sh, route_add(sh->idx, f[i], s, 1, k) == 1);
        live[slot] = s;
        hmq_subscriber_unref(s);
        /* Replace the permanent "+" subscription's options (and its entry) all the time. */
        CHECK(sh, route_add(sh->idx, "t/+/x", sh->plus, (uint8_t)(k % 3), k) == 0);
    }
    for (unsigned k = WRITES - WINDOW; k < WRITES; k++) {
        churn_filters(k, f);
        for (int i = 0; i < NF; i++)
            CHECK(sh, route_remove(sh->idx, f[i], live[k % WINDOW]) == 0);
    }
    rcu_unregister_thread();
    return NULL;
}

static void test_readers_and_writer(void **state)
{
    (void)state;
    shared_t sh = {.idx = hmq_topic_index_new()};
    hmq_subscriber_t *plus = hmq_subscriber_new(UID_PLUS, 0),
                     *hash = hmq_subscriber_new(UID_HASH, 1), *g1 = hmq_subscriber_new(UID_G1, 2),
                     *g2 = hmq_subscriber_new(UID_G2, 3);
    atomic_store(&g1->online, true);
    assert_int_equal(route_add(sh.idx, "t/+/x", plus, 0, 0), 1);
    assert_int_equal(route_add(sh.idx, "t/#", hash, 0, 0), 1);
    assert_int_equal(route_add(sh.idx, "$share/g/t/+/x", g1, 0, 0), 1);
    assert_int_equal(route_add(sh.idx, "$share/g/t/+/x", g2, 0, 0), 1);
    size_t base_nodes = hmq_topic_index_node_count(sh.idx);
    sh.plus = plus;

    pthread_t r[READERS], w;
    for (int i = 0; i < READERS; i++)
        pthread_create(&r[i], NULL, reader, &sh);
    pthread_create(&w, NULL, writer, &sh);
    pthread_join(w, NULL);
    atomic_store(&sh.stop, true);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);

    print_message("%lu matches by %d readers during %d subscription changes\n",
                  atomic_load(&sh.matches), READERS, WRITES * (2 * NF + 1));
    assert_int_equal(atomic_load(&sh.errors), 0);
    assert_true(atomic_load(&sh.matches) > 0);
    assert_int_equal(hmq_topic_index_count(sh.idx), 4);
    assert_int_equal(hmq_topic_index_node_count(sh.idx), base_nodes);

    assert_int_equal(route_remove(sh.idx, "t/+/x", plus), 0);
    assert_int_equal(route_remove(sh.idx, "t/#", hash), 0);
    assert_int_equal(route_remove(sh.idx, "$share/g/t/+/x", g1), 0);
    assert_int_equal(route_remove(sh.idx, "$share/g/t/+/x", g2), 0);
    assert_int_equal(hmq_topic_index_count(sh.idx), 0);
    assert_int_equal(hmq_topic_index_node_count(sh.idx), 0);
    rcu_barrier();
    assert_int_equal(refs_of(plus), 1);
    assert_int_equal(refs_of(hash), 1);
    assert_int_equal(refs_of(g1), 1);
    assert_int_equal(refs_of(g2), 1);
    hmq_subscriber_unref(plus);
    hmq_subscriber_unref(hash);
    hmq_subscriber_unref(g1);
    hmq_subscriber_unref(g2);
    hmq_topic_index_free(sh.idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readers_and_writer),
    };
    return cmocka_run_group_tests(tests, route_group_setup, route_group_teardown);
}
