/* test_util_map.c - the workers' hash map: bytes and integer keys, replace, delete, growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "util/map.h"

static void test_bytes_keys(void **state)
{
    hmq_map_t m;
    hmq_map_init(&m);
    char keys[2000][16];
    for (int i = 0; i < 2000; i++) {
        snprintf(keys[i], sizeof keys[i], "client-%d", i);
        assert_int_equal(hmq_map_put(&m, keys[i], strlen(keys[i]), (void *)(intptr_t)(i + 1)), 0);
    }
    assert_int_equal(m.count, 2000);
    for (int i = 0; i < 2000; i++)
        assert_int_equal((intptr_t)hmq_map_get(&m, keys[i], strlen(keys[i])), i + 1);
    assert_null(hmq_map_get(&m, "client-2000", 11));
    /* a key that is a prefix of another is a different key */
    assert_null(hmq_map_get(&m, "client-1", 7));
    assert_int_equal(hmq_map_put(&m, keys[5], strlen(keys[5]), (void *)77), 0);
    assert_int_equal(m.count, 2000);
    assert_int_equal((intptr_t)hmq_map_get(&m, keys[5], strlen(keys[5])), 77);
    assert_int_equal((intptr_t)hmq_map_del(&m, keys[5], strlen(keys[5])), 77);
    assert_null(hmq_map_get(&m, keys[5], strlen(keys[5])));
    assert_null(hmq_map_del(&m, keys[5], strlen(keys[5])));
    assert_int_equal(m.count, 1999);
    hmq_map_free(&m);
}

static void test_u64_keys(void **state)
{
    hmq_map_t m;
    hmq_map_init(&m);
    for (uint64_t i = 1; i <= 5000; i++)
        assert_int_equal(hmq_map_put_u64(&m, i * 7919, (void *)(uintptr_t)i), 0);
    for (uint64_t i = 1; i <= 5000; i++)
        assert_int_equal((uintptr_t)hmq_map_get_u64(&m, i * 7919), i);
    assert_null(hmq_map_get_u64(&m, 3));
    for (uint64_t i = 1; i <= 5000; i += 2)
        assert_non_null(hmq_map_del_u64(&m, i * 7919));
    assert_int_equal(m.count, 2500);
    assert_null(hmq_map_get_u64(&m, 7919));
    assert_int_equal((uintptr_t)hmq_map_get_u64(&m, 2 * 7919), 2);
    hmq_map_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_keys),
        cmocka_unit_test(test_u64_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
