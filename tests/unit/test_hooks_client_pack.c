/* test_hooks_client_pack.c - the per-connection ClientInfo cache (hooks/src/client_pack.c): the
 * appended field decodes as the identity, is reused for the same connection uid, re-encoded for
 * another uid or when the chain PEM is wanted, and never cached for uid 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "client_pack.h"
#include "hookmq/v1/hooks.pb-c.h"

static Hookmq__V1__PublishRequest *with_client(hmq_client_pack_t *cp, const hmq_hooks_client_t *c,
                                               bool chain)
{
    Hookmq__V1__PublishRequest pr = HOOKMQ__V1__PUBLISH_REQUEST__INIT;
    pr.id = 42;
    size_t len = 0;
    uint8_t *buf = hmq_client_pack_message(cp, &pr.base, c, "node-a", chain, 5, &len);
    assert_non_null(buf);
    Hookmq__V1__PublishRequest *out = hookmq__v1__publish_request__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(out);
    assert_int_equal(out->id, 42);
    assert_non_null(out->client);
    return out;
}

static void test_appended_identity_decodes_and_is_reused(void **state)
{
    (void)state;
    hmq_client_pack_t *cp = hmq_client_pack_new(8);
    hmq_hooks_pair_t attrs[] = {{"tenant", "bank-1"}};
    hmq_hooks_tls_t tls = {.version = "TLSv1.3", .chain_pem = "-----PEM-----"};
    hmq_hooks_client_t c = {.client_id = "pos-1",
                            .username = "u1",
                            .protocol_version = 5,
                            .listener = "mqtts",
                            .uid = 7,
                            .attributes = attrs,
                            .n_attributes = 1,
                            .tls = &tls};
    Hookmq__V1__PublishRequest *r = with_client(cp, &c, false);
    assert_string_equal(r->client->client_id, "pos-1");
    assert_string_equal(r->client->username, "u1");
    assert_true(r->client->has_username);
    assert_string_equal(r->client->node, "node-a");
    assert_int_equal(r->client->n_attributes, 1);
    assert_string_equal(r->client->attributes[0]->value, "bank-1");
    assert_string_equal(r->client->tls->chain_pem, ""); /* not asked for */
    hookmq__v1__publish_request__free_unpacked(r, NULL);
    /* same uid: the cached bytes, even if the struct changed (it may not, by contract) */
    c.client_id = "changed";
    r = with_client(cp, &c, false);
    assert_string_equal(r->client->client_id, "pos-1");
    hookmq__v1__publish_request__free_unpacked(r, NULL);
    /* the chain asked for: encoded again, with the PEM */
    r = with_client(cp, &c, true);
    assert_string_equal(r->client->client_id, "changed");
    assert_string_equal(r->client->tls->chain_pem, "-----PEM-----");
    hookmq__v1__publish_request__free_unpacked(r, NULL);
    /* another connection in the same slot (7 + 8): its own identity */
    hmq_hooks_client_t d = {.client_id = "pos-2", .uid = 15};
    r = with_client(cp, &d, false);
    assert_string_equal(r->client->client_id, "pos-2");
    hookmq__v1__publish_request__free_unpacked(r, NULL);
    /* uid 0: never cached */
    hmq_hooks_client_t e = {.client_id = "e1"};
    r = with_client(cp, &e, false);
    assert_string_equal(r->client->client_id, "e1");
    hookmq__v1__publish_request__free_unpacked(r, NULL);
    e.client_id = "e2";
    r = with_client(cp, &e, false);
    assert_string_equal(r->client->client_id, "e2");
    hookmq__v1__publish_request__free_unpacked(r, NULL);
    hmq_client_pack_free(cp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appended_identity_decodes_and_is_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
