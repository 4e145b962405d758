/* test_route_bench.c - micro-benchmark: the cost of matching one topic with 10 and 100k (and,
 * with HOOKMQ_BENCH_BIG=1 in the environment, 1M) unrelated subscriptions in the index, siblings
 * under the same parents included. Prints ns/match (best of 5 runs); asserts only that the
 * result is the same, never a time (see CONVENTIONS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "route_test.h"

#define ROUNDS 200000
#define RUNS 5

static void count_cb(void *ctx, const hmq_sub_entry_t *e, const char *group, size_t glen)
{
    (void)e;
    (void)group;
    (void)glen;
    (*(size_t *)ctx)++;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Builds an index with `unrelated` extra subscriptions, returns ns per match of the topic. */
static double measure(size_t unrelated, size_t *matched)
{
    static const char *const related[] = {"pay/merchant42/notify", "pay/+/notify", "pay/#",
                                          "$share/svc/pay/+/notify"};
    const char *topic = "pay/merchant42/notify";
    hmq_topic_index_t *idx = hmq_topic_index_new();
    hmq_subscriber_t *s = hmq_subscriber_new(1, 0);
    atomic_store(&s->online, true);
    char f[64];
    for (size_t i = 0; i < unrelated; i++) {
        switch (i % 4) { /* siblings of the matching path, other subtrees, other wildcards */
        case 0:
            snprintf(f, sizeof f, "pay/m%zu/notify", i);
            break;
        case 1:
            snprintf(f, sizeof f, "dev/%zu/+/cmd", i);
            break;
        case 2:
            snprintf(f, sizeof f, "pay/+/n%zu", i);
            break;
        default:
            snprintf(f, sizeof f, "$share/g%zu/dev/%zu/evt", i % 8, i);
            break;
        }
        assert_int_equal(route_add(idx, f, s, 1, 0), 1);
    }
    for (size_t i = 0; i < sizeof related / sizeof related[0]; i++)
        assert_int_equal(route_add(idx, related[i], s, 1, 0), 1);

    size_t n = 0;
    for (int i = 0; i < ROUNDS / 10; i++) /* warm up */
        hmq_topic_index_match(idx, topic, strlen(topic), count_cb, &n);
    uint64_t best = UINT64_MAX;
    for (int r = 0; r < RUNS; r++) {
        n = 0;
        uint64_t t0 = now_ns();
        for (int i = 0; i < ROUNDS; i++)
            hmq_topic_index_match(idx, topic, strlen(topic), count_cb, &n);
        uint64_t t = now_ns() - t0;
        if (t < best) best = t;
    }
    *matched = n / ROUNDS;
    hmq_topic_index_free(idx);
    hmq_subscriber_unref(s);
    rcu_barrier();
    return (double)best / ROUNDS;
}

static void test_match_cost_independent_of_unrelated(void **state)
{
    (void)state;
    static const size_t sizes[] = {10, 100000, 1000000};
    const char *big = getenv("HOOKMQ_BENCH_BIG");
    const int nsizes = big && *big == '1' ? 3 : 2;
    double ns[3];
    size_t matched[3];
    for (int i = 0; i < nsizes; i++) {
        ns[i] = measure(sizes[i], &matched[i]);
        print_message("match with %7zu unrelated subscriptions: %6.1f ns (%zu matches)\n", sizes[i],
                      ns[i], matched[i]);
        assert_int_equal(matched[i], 4);
    }
    print_message("ratio 100k/10: %.2f\n", ns[1] / ns[0]);
    if (nsizes == 3) print_message("ratio 1M/10: %.2f\n", ns[2] / ns[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_cost_independent_of_unrelated),
    };
    return cmocka_run_group_tests(tests, route_group_setup, route_group_teardown);
}
