/* test_route_shared.c - shared subscriptions in the topic index: one member per group per
 * message, round robin, online preference, distinct groups, pick_shared, members leaving. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "route_test.h"

#define NSUB 4

typedef struct {
    hmq_topic_index_t *idx;
    hmq_subscriber_t *s[NSUB]; /* uids 1..NSUB, online */
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->idx = hmq_topic_index_new();
    for (int i = 0; i < NSUB; i++) {
        f->s[i] = hmq_subscriber_new((uint64_t)i + 1, (uint32_t)i);
        atomic_store(&f->s[i]->online, true);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    hmq_topic_index_free(f->idx);
    rcu_barrier();
    for (int i = 0; i < NSUB; i++) {
        assert_int_equal(refs_of(f->s[i]), 1); /* the index released every reference */
        hmq_subscriber_unref(f->s[i]);
    }
    free(f);
    return 0;
}

static void test_round_robin_one_member_per_message(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(route_add(f->idx, "$share/g/s/+", f->s[i], 1, 0), 1);
    assert_int_equal(route_add(f->idx, "s/+", f->s[3], 0, 0), 1); /* plain, same filter */
    assert_int_equal(hmq_topic_index_count(f->idx), 4);
    size_t got[NSUB + 1] = {0};
    uint64_t prev = 0;
    hits_t h;
    for (int m = 0; m < 300; m++) {
        assert_int_equal(hits_match(f->idx, "s/x", &h), 2);
        assert_int_equal(hits_count(&h, 4, ""), 1);
        size_t in_group = 0;
        for (size_t i = 0; i < h.n; i++) {
            if (strcmp(h.v[i].group, "g") != 0) continue;
            in_group++;
            assert_int_not_equal(h.v[i].uid, prev); /* strict rotation */
            prev = h.v[i].uid;
            got[h.v[i].uid]++;
        }
        assert_int_equal(in_group, 1);
    }
    assert_int_equal(got[1], 100);
    assert_int_equal(got[2], 100);
    assert_int_equal(got[3], 100);
    assert_int_equal(hits_match(f->idx, "s", &h), 0);
    assert_int_equal(hits_match(f->idx, "s/x/y", &h), 0);
}

static void test_online_members_preferred(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(route_add(f->idx, "$share/g/s/#", f->s[i], 1, 0), 1);
    atomic_store(&f->s[1]->online, false);
    size_t got[NSUB + 1] = {0};
    hits_t h;
    for (int m = 0; m < 100; m++) {
        assert_int_equal(hits_match(f->idx, "s/a/b", &h), 1);
        got[h.v[0].uid]++;
    }
    assert_int_equal(got[1], 50); /* the offline member's turn does not go to its successor */
    assert_int_equal(got[2], 0);
    assert_int_equal(got[3], 50);

    /* Nobody online: round robin among everyone (the message is queued offline). */
    for (int i = 0; i < 3; i++)
        atomic_store(&f->s[i]->online, false);
    memset(got, 0, sizeof got);
    for (int m = 0; m < 90; m++) {
        assert_int_equal(hits_match(f->idx, "s", &h), 1); /* "s/#" matches "s" */
        got[h.v[0].uid]++;
    }
    assert_int_equal(got[1], 30);
    assert_int_equal(got[2], 30);
    assert_int_equal(got[3], 30);
}

static void test_groups_are_distinct_by_name_and_filter(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(route_add(f->idx, "$share/g/s/+", f->s[0], 0, 0), 1);
    assert_int_equal(route_add(f->idx, "$share/g/s/+", f->s[1], 0, 0), 1);
    assert_int_equal(route_add(f->idx, "$share/h/s/+", f->s[2], 0, 0), 1);
    assert_int_equal(route_add(f->idx, "$share/g/s/#", f->s[3], 0, 0), 1);
    assert_int_equal(route_add(f->idx, "$share/g/s/#", f->s[0], 0, 0), 1);
    hits_t h;
    for (int m = 0; m < 10; m++) {
        assert_int_equal(hits_match(f->idx, "s/x", &h), 3); /* g on s/+, h on s/+, g on s/# */
        size_t g = 0;
        for (size_t i = 0; i < h.n; i++)
            g += strcmp(h.v[i].group, "g") == 0;
        assert_int_equal(g, 2);
        assert_int_equal(hits_count(&h, 3, "h"), 1);
    }
    assert_int_equal(hits_match(f->idx, "s", &h), 1); /* only g on s/# */
    /* A subscriber is in "$share/g/s/#" and in "$share/g/s/+" independently. */
    assert_int_equal(route_remove(f->idx, "$share/g/s/#", f->s[0]), 0);
    assert_int_equal(route_remove(f->idx, "$share/g/s/#", f->s[0]), -ENOENT);
    for (int m = 0; m < 4; m++) {
        assert_int_equal(hits_match(f->idx, "s", &h), 1);
        assert_int_equal(h.v[0].uid, 4);
    }
    assert_int_equal(hits_match(f->idx, "$SYS/x", &h), 0);
}

static void test_replace_and_leave(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(route_add(f->idx, "$share/g/a", f->s[0], 0, 0), 1);
    assert_int_equal(route_add(f->idx, "$share/g/a", f->s[1], 0, 0), 1);
    assert_int_equal(route_add(f->idx, "$share/g/a", f->s[0], 2, 5), 0); /* options updated */
    assert_int_equal(hmq_topic_index_count(f->idx), 2);
    hits_t h;
    for (int m = 0; m < 4; m++) {
        assert_int_equal(hits_match(f->idx, "a", &h), 1);
        if (h.v[0].uid == 1) {
            assert_int_equal(h.v[0].qos, 2);
            assert_int_equal(h.v[0].sub_id, 5);
        }
    }
    assert_int_equal(route_remove(f->idx, "$share/g/a", f->s[0]), 0);
    for (int m = 0; m < 4; m++) {
        assert_int_equal(hits_match(f->idx, "a", &h), 1);
        assert_int_equal(h.v[0].uid, 2);
    }
    rcu_barrier();
    assert_int_equal(refs_of(f->s[0]), 1);
    assert_int_equal(route_remove(f->idx, "$share/g/a", f->s[1]), 0);
    assert_int_equal(hits_match(f->idx, "a", &h), 0);
    assert_int_equal(hmq_topic_index_count(f->idx), 0);
    assert_int_equal(hmq_topic_index_node_count(f->idx), 0);
}

static void test_pick_shared(void **state)
{
    fixture_t *f = *state;
    const char *flt = "$share/g/p/+";
    hmq_sub_entry_t out;
    assert_false(hmq_topic_index_pick_shared(f->idx, flt, strlen(flt), NULL, &out));
    assert_int_equal(route_add(f->idx, flt, f->s[0], 1, 0), 1);
    /* The only member is excluded. */
    assert_false(hmq_topic_index_pick_shared(f->idx, flt, strlen(flt), f->s[0], &out));
    assert_true(hmq_topic_index_pick_shared(f->idx, flt, strlen(flt), NULL, &out));
    assert_ptr_equal(out.sub, f->s[0]);
    assert_int_equal(out.qos, 1);

    assert_int_equal(route_add(f->idx, flt, f->s[1], 2, 0), 1);
    assert_int_equal(route_add(f->idx, flt, f->s[2], 0, 0), 1);
    atomic_store(&f->s[1]->online, false);
    for (int m = 0; m < 6; m++) {
        rcu_read_lock(); /* out.sub is valid inside the caller's read-side section */
        assert_true(hmq_topic_index_pick_shared(f->idx, flt, strlen(flt), f->s[0], &out));
        assert_ptr_equal(out.sub, f->s[2]); /* online preferred, s[0] excluded */
        rcu_read_unlock();
    }
    atomic_store(&f->s[2]->online, false); /* no other online member: offline ones qualify */
    assert_true(hmq_topic_index_pick_shared(f->idx, flt, strlen(flt), f->s[0], &out));
    assert_true(out.sub == f->s[1] || out.sub == f->s[2]);

    const char *other = "$share/h/p/+", *plain = "p/+", *nonode = "$share/g/q";
    assert_false(hmq_topic_index_pick_shared(f->idx, other, strlen(other), NULL, &out));
    assert_false(hmq_topic_index_pick_shared(f->idx, plain, strlen(plain), NULL, &out));
    assert_false(hmq_topic_index_pick_shared(f->idx, nonode, strlen(nonode), NULL, &out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_robin_one_member_per_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_online_members_preferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups_are_distinct_by_name_and_filter, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_replace_and_leave, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pick_shared, setup, teardown),
    };
    return cmocka_run_group_tests(tests, route_group_setup, route_group_teardown);
}
