/* test_config.c - configuration loading that succeeds: embedded defaults, the shipped
 * config/hookmq.yaml (equal to the defaults, every key present, every key documented), partial
 * files, listener lists and environment overrides. Errors are in test_config_errors.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/config_internal.h"

static char err[4096];

static int load(hmq_config_t *cfg, const char *yaml, char *const *envp)
{
    int rc =
        hmq_config_load_data(cfg, "t.yaml", yaml, yaml ? strlen(yaml) : 0, envp, err, sizeof err);
    if (rc != 0) print_message("unexpected errors:\n%s\n", err);
    return rc;
}

static char *read_source_file(const char *rel)
{
    const char *dir = getenv("HOOKMQ_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", rel);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (set HOOKMQ_SOURCE_DIR to the repository)", path);
    static char buf[1 << 18];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* Every key of the table, compared field by field, plus the listener list. */
static void assert_config_equal(const hmq_config_t *a, const hmq_config_t *b)
{
    for (const hmq_config_key_t *k = hmq_config_keys; k->name; k++) {
        if (k->section == HMQ_SECTION_LISTENERS || k->section == HMQ_SECTION_HOOK_SERVERS) continue;
        if (k->type == HMQ_KEY_LIST) {
            const hmq_config_list_t *x = (const void *)((const char *)a + k->offset);
            const hmq_config_list_t *y = (const void *)((const char *)b + k->offset);
            assert_int_equal(x->n, y->n);
            for (uint32_t i = 0; i < x->n; i++)
                assert_string_equal(x->v[i], y->v[i]);
        } else if (memcmp((const char *)a + k->offset, (const char *)b + k->offset, k->size) != 0)
            fail_msg("%s.%s differs", hmq_config_sections[k->section], k->name);
    }
    assert_int_equal(a->hook_server_count, b->hook_server_count);
    assert_int_equal(a->listener_count, b->listener_count);
    for (uint32_t i = 0; i < a->listener_count; i++) {
        const hmq_listener_config_t *x = &a->listeners[i], *y = &b->listeners[i];
        assert_string_equal(x->name, y->name);
        assert_string_equal(x->bind, y->bind);
        assert_int_equal(x->kind, y->kind);
        assert_int_equal(x->port, y->port);
        assert_int_equal(x->max_connections, y->max_connections);
    }
}

static void test_defaults(void **state)
{
    hmq_config_t c;
    hmq_config_defaults(&c);
    assert_int_equal(c.workers, 0);
    assert_int_equal(c.sys_interval, 10);
    assert_int_equal(c.listener_count, 1);
    assert_string_equal(c.listeners[0].name, "default");
    assert_int_equal(c.listeners[0].kind, HMQ_LISTENER_TCP);
    assert_string_equal(c.listeners[0].bind, "127.0.0.1");
    assert_int_equal(c.listeners[0].port, 1883);
    assert_int_equal(c.listeners[0].max_connections, 0);
    assert_int_equal(c.max_connections, 0);
    assert_int_equal(c.max_packet_size, 1048576);
    assert_int_equal(c.max_inflight, 64);
    assert_int_equal(c.max_queued, 1000);
    assert_int_equal(c.queue_policy, HMQ_QUEUE_DROP_NEWEST);
    assert_int_equal(c.max_topic_length, 1024);
    assert_int_equal(c.max_topic_levels, 32);
    assert_int_equal(c.connect_timeout_ms, 10000);
    assert_int_equal(c.max_keepalive, 0);
    assert_int_equal(c.topic_alias_maximum, 64);
    assert_int_equal(c.max_session_expiry, 4294967295u);
    assert_int_equal(c.max_subscriptions, 0);
    assert_int_equal(c.max_outbuf, 4194304);
    assert_int_equal(c.maximum_qos, 2);
    assert_true(c.retain_available);
    assert_true(c.wildcard_subscriptions);
    assert_true(c.shared_subscriptions);
    assert_true(c.subscription_identifiers);
    assert_true(c.allow_zero_length_client_id);
    assert_true(c.allow_anonymous);
    assert_int_equal(c.log_level, HMQ_LOG_INFO);
    assert_int_equal(c.log_format, HMQ_LOG_FMT_LOGFMT);
    hmq_config_free(&c);
    assert_int_equal(c.listener_count, 0);
    hmq_config_free(&c); /* twice is harmless */
}

static void test_no_file_gives_defaults(void **state)
{
    hmq_config_t c, d;
    hmq_config_defaults(&d);
    assert_int_equal(hmq_config_load(&c, NULL, NULL, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_config_equal(&c, &d);
    hmq_config_free(&c);
    /* Empty text, comments only, an empty document, an empty section: nothing changes. */
    const char *empty[] = {"", "# nothing\n", "---\n", "~\n", "limits:\n", "mqtt: ~\nlog:\n"};
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
        assert_int_equal(load(&c, empty[i], NULL), 0);
        assert_config_equal(&c, &d);
        hmq_config_free(&c);
    }
    hmq_config_free(&d);
}

static void test_shipped_file_equals_defaults(void **state)
{
    const char *dir = getenv("HOOKMQ_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/config/hookmq.yaml", dir ? dir : ".");
    hmq_config_t c, d;
    hmq_config_defaults(&d);
    int rc = hmq_config_load(&c, path, NULL, err, sizeof err);
    if (rc) fail_msg("%s", err);
    assert_config_equal(&c, &d);
    hmq_config_free(&c);
    hmq_config_free(&d);
}

/* The loader keeps per-key state in arrays of HMQ_SECTION_KEYS_MAX slots per section. */
static void test_key_slots_fit(void **state)
{
    unsigned count[HMQ_SECTION_COUNT] = {0};
    for (const hmq_config_key_t *k = hmq_config_keys; k->name; k++) {
        assert_int_equal(hmq_config_key_slot(k), count[k->section]);
        count[k->section]++;
        assert_true(count[k->section] <= HMQ_SECTION_KEYS_MAX);
    }
}

/* The shipped file sets every key (so it documents every key), and the reference names each
 * key with its environment variable. */
static void test_every_key_shipped_and_documented(void **state)
{
    const char *yaml = read_source_file("config/hookmq.yaml");
    char needle[128];
    /* The one-server short form of hooks conflicts with hooks.servers: shown commented out. */
    static const char short_form[] = " server endpoints tls_ca_file tls_cert_file tls_key_file "
                                     "authenticate_deadline_ms on_failure mandatory ";
    for (const hmq_config_key_t *k = hmq_config_keys; k->name; k++) {
        bool listener = k->section == HMQ_SECTION_LISTENERS;
        char commented[128], word[72];
        snprintf(word, sizeof word, " %s ", k->name);
        if (k->section == HMQ_SECTION_HOOK_SERVERS) { /* in the commented servers example */
            snprintf(needle, sizeof needle, "\n  #     %s: ", k->name);
            snprintf(commented, sizeof commented, "\n  #   - %s: ", k->name);
            if (!strstr(yaml, needle) && !strstr(yaml, commented))
                fail_msg("config/hookmq.yaml lacks hooks.servers[].%s", k->name);
            continue;
        }
        snprintf(needle, sizeof needle, listener ? " %s: " : "\n  %s: ", k->name);
        /* A key without a default (a file name, an address, a list) is shown commented out. */
        snprintf(commented, sizeof commented, "\n  # %s:", k->name);
        bool optional = k->type == HMQ_KEY_STRING || k->type == HMQ_KEY_LIST ||
                        k->type == HMQ_KEY_ENTRIES ||
                        (k->section == HMQ_SECTION_HOOKS && strstr(short_form, word));
        if (!strstr(yaml, needle) && !(optional && strstr(yaml, commented)))
            fail_msg("config/hookmq.yaml lacks %s.%s", hmq_config_sections[k->section], k->name);
    }
    const char *doc = read_source_file("docs/configuration.md");
    for (const hmq_config_key_t *k = hmq_config_keys; k->name; k++) {
        char up[64];
        size_t i;
        for (i = 0; k->name[i]; i++)
            up[i] = (char)(k->name[i] - 32 * (k->name[i] >= 'a'));
        up[i] = 0;
        if (k->section == HMQ_SECTION_LISTENERS) {
            snprintf(needle, sizeof needle, "HOOKMQ_LISTENERS__<i>__%s`", up);
        } else if (k->section == HMQ_SECTION_HOOK_SERVERS) {
            snprintf(needle, sizeof needle, "`HOOKMQ_HOOKS__SERVERS__<i>__%s`", up);
        } else if (k->type == HMQ_KEY_ENTRIES) {
            snprintf(needle, sizeof needle, "`HOOKMQ_HOOKS__%s__<i>__<KEY>`", up);
        } else {
            char sec[32];
            for (i = 0; hmq_config_sections[k->section][i]; i++)
                sec[i] = (char)(hmq_config_sections[k->section][i] - 32);
            sec[i] = 0;
            snprintf(needle, sizeof needle, "`HOOKMQ_%s__%s`", sec, up);
        }
        if (!strstr(doc, needle)) fail_msg("docs/configuration.md lacks %s", needle);
    }
}

static void test_partial_file(void **state)
{
    hmq_config_t c, d;
    hmq_config_defaults(&d);
    assert_int_equal(load(&c,
                          "# only what changes\n"
                          "limits:\n"
                          "  max_packet_size: 65536\n"
                          "  queue_policy: drop_oldest\n"
                          "log: {level: debug, format: json}\n"
                          "mqtt:\n"
                          "  retain_available: false\n"
                          "  maximum_qos: 1\n"
                          "  shared_subscriptions: \"no\"\n"
                          "auth:\n"
                          "  allow_anonymous: False\n",
                          NULL),
                     0);
    assert_int_equal(c.max_packet_size, 65536);
    assert_int_equal(c.queue_policy, HMQ_QUEUE_DROP_OLDEST);
    assert_int_equal(c.log_level, HMQ_LOG_DEBUG);
    assert_int_equal(c.log_format, HMQ_LOG_FMT_JSON);
    assert_false(c.retain_available);
    assert_int_equal(c.maximum_qos, 1);
    assert_false(c.shared_subscriptions);
    assert_false(c.allow_anonymous);
    /* Untouched keys keep their defaults, the default listener included. */
    c.max_packet_size = d.max_packet_size;
    c.queue_policy = d.queue_policy;
    c.log_level = d.log_level;
    c.log_format = d.log_format;
    c.retain_available = d.retain_available;
    c.maximum_qos = d.maximum_qos;
    c.shared_subscriptions = d.shared_subscriptions;
    c.allow_anonymous = d.allow_anonymous;
    assert_config_equal(&c, &d);
    hmq_config_free(&c);
    hmq_config_free(&d);
}

static void test_limits_at_the_edges(void **state)
{
    hmq_config_t c;
    assert_int_equal(load(&c,
                          "limits:\n"
                          "  max_packet_size: 268435460\n"
                          "  max_inflight: 65535\n"
                          "  max_keepalive: 65535\n"
                          "  max_session_expiry: 0\n"
                          "  max_outbuf: 4294967295\n"
                          "  max_connections: 4294967295\n"
                          "broker: {workers: 1024, sys_interval: 0}\n"
                          "mqtt: {maximum_qos: 0}\n",
                          NULL),
                     0);
    assert_int_equal(c.max_packet_size, 268435460);
    assert_int_equal(c.max_inflight, 65535);
    assert_int_equal(c.max_keepalive, 65535);
    assert_int_equal(c.max_session_expiry, 0);
    assert_int_equal(c.max_outbuf, 4294967295u);
    assert_int_equal(c.max_connections, 4294967295u);
    assert_int_equal(c.workers, 1024);
    assert_int_equal(c.sys_interval, 0);
    assert_int_equal(c.maximum_qos, 0);
    hmq_config_free(&c);
}

static void test_listeners_replace_the_default(void **state)
{
    hmq_config_t c;
    assert_int_equal(load(&c,
                          "listeners:\n"
                          "  - name: public\n"
                          "    type: tcp\n"
                          "    bind: 0.0.0.0\n"
                          "    port: 8883\n"
                          "    max_connections: 50000\n"
                          "  - name: local-v6\n"
                          "    bind: \"::1\"\n"
                          "  - {name: tests.a, port: 0}\n"
                          "  - {name: tests.b, port: 0}\n",
                          NULL),
                     0);
    assert_int_equal(c.listener_count, 4);
    assert_string_equal(c.listeners[0].name, "public");
    assert_string_equal(c.listeners[0].bind, "0.0.0.0");
    assert_int_equal(c.listeners[0].port, 8883);
    assert_int_equal(c.listeners[0].max_connections, 50000);
    /* Keys an entry leaves out take the defaults of the default listener. */
    assert_string_equal(c.listeners[1].name, "local-v6");
    assert_string_equal(c.listeners[1].bind, "::1");
    assert_int_equal(c.listeners[1].port, 1883);
    assert_int_equal(c.listeners[1].kind, HMQ_LISTENER_TCP);
    assert_int_equal(c.listeners[1].max_connections, 0);
    /* Port 0 (pick a free port) may be used by several listeners. */
    assert_int_equal(c.listeners[2].port, 0);
    assert_string_equal(c.listeners[2].bind, "127.0.0.1");
    assert_int_equal(c.listeners[3].port, 0);
    hmq_config_free(&c);
}

static void test_max_listeners(void **state)
{
    char yaml[4096] = "listeners:\n";
    for (int i = 0; i < HMQ_MAX_LISTENERS; i++)
        snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml), "  - {name: l%d, port: %d}\n", i,
                 2000 + i);
    hmq_config_t c;
    assert_int_equal(load(&c, yaml, NULL), 0);
    assert_int_equal(c.listener_count, HMQ_MAX_LISTENERS);
    assert_string_equal(c.listeners[HMQ_MAX_LISTENERS - 1].name, "l31");
    assert_int_equal(c.listeners[HMQ_MAX_LISTENERS - 1].port, 2031);
    hmq_config_free(&c);
}

static void test_env_overrides(void **state)
{
    char *env[] = {"PATH=/usr/bin",
                   "HOOKMQ_SOURCE_DIR=/src", /* not an override: no "__" */
                   "HOOKMQ_LIMITS__MAX_PACKET_SIZE=65536",
                   "HOOKMQ_BROKER__WORKERS=4",
                   "HOOKMQ_LOG__LEVEL=DEBUG",
                   "hookmq_log__format=json", /* not ours: the prefix is upper case */
                   "HOOKMQ_MQTT__RETAIN_AVAILABLE=off",
                   "HOOKMQ_Auth__Allow_Anonymous=false",
                   "HOOKMQ_LISTENERS__0__PORT=1884",
                   "HOOKMQ_LISTENERS__0__BIND=0.0.0.0",
                   "HOOKMQ_LISTENERS__0__NAME=from-env",
                   NULL};
    hmq_config_t c;
    assert_int_equal(load(&c, NULL, env), 0);
    assert_int_equal(c.max_packet_size, 65536);
    assert_int_equal(c.workers, 4);
    assert_int_equal(c.log_level, HMQ_LOG_DEBUG);
    assert_int_equal(c.log_format, HMQ_LOG_FMT_LOGFMT);
    assert_false(c.retain_available);
    assert_false(c.allow_anonymous);
    assert_int_equal(c.listeners[0].port, 1884);
    assert_string_equal(c.listeners[0].bind, "0.0.0.0");
    assert_string_equal(c.listeners[0].name, "from-env");
    hmq_config_free(&c);
}

static void test_env_applies_after_the_file(void **state)
{
    char *env[] = {"HOOKMQ_LIMITS__MAX_INFLIGHT=10", "HOOKMQ_LISTENERS__1__PORT=9001",
                   "HOOKMQ_LISTENERS__2__NAME=named-by-env", NULL};
    hmq_config_t c;
    assert_int_equal(load(&c,
                          "limits: {max_inflight: 20, max_queued: 30}\n"
                          "listeners:\n"
                          "  - {name: a, port: 9000}\n"
                          "  - {name: b, port: 9000, bind: 10.0.0.1}\n"
                          "  - {port: 9002}\n",
                          env),
                     0);
    assert_int_equal(c.max_inflight, 10);
    assert_int_equal(c.max_queued, 30);
    assert_int_equal(c.listeners[1].port, 9001);
    assert_string_equal(c.listeners[2].name, "named-by-env");
    hmq_config_free(&c);
}

static void test_hooks_defaults(void **state)
{
    hmq_config_t c;
    hmq_config_defaults(&c);
    assert_int_equal(c.hook_server_count, 0);
    assert_int_equal(c.hooks_endpoints.n, 0);
    assert_int_equal(c.hooks_chain.n, 0);
    assert_int_equal(c.hooks_resolution, HMQ_HOOK_DENY_WINS);
    assert_int_equal(c.hooks_default[HMQ_CFG_AUTHENTICATE], HMQ_HOOK_DEFAULT_DENY);
    assert_int_equal(c.hooks_default[HMQ_CFG_AUTHORIZE], HMQ_HOOK_DEFAULT_DENY);
    assert_int_equal(c.hooks_default[HMQ_CFG_ON_PUBLISH], HMQ_HOOK_DEFAULT_ALLOW);
    assert_int_equal(c.hooks_default[HMQ_CFG_ON_SUBSCRIBE], HMQ_HOOK_DEFAULT_ALLOW);
    assert_int_equal(c.hooks_cache_max_entries, 100000);
    assert_int_equal(c.hooks_cache_stale_ttl_ms, 300000);
    assert_int_equal(c.hooks_max_inflight, 64);
    assert_null(c.hooks_password_file);
    assert_null(c.hooks_acl_file);
    assert_int_equal(c.hooks_auth_deadline_ms, 500);
    assert_int_equal(c.hooks_on_failure, HMQ_HOOK_FAIL_DENY);
    hmq_config_free(&c);
}

static void test_hook_servers(void **state)
{
    hmq_config_t c;
    assert_int_equal(load(&c,
                          "hooks:\n"
                          "  servers:\n"
                          "    - name: registry\n"
                          "      endpoints: [\"10.0.0.11:5\", \"ipv4:10.0.0.12:5,10.0.0.13:5\"]\n"
                          "      tls_ca_file: /ca.pem\n"
                          "      tls_cert_file: /c.pem\n"
                          "      tls_key_file: /c.key\n"
                          "      tls_server_name: registry.internal\n"
                          "      mandatory: true\n"
                          "      deadline_ms: 300\n"
                          "      on_failure: continue\n"
                          "      authenticate_deadline_ms: 800\n"
                          "      authorize_on_failure: stale\n"
                          "      reconnect_initial_ms: 50\n"
                          "      reconnect_max_ms: 5000\n"
                          "      max_batch: 64\n"
                          "      breaker_failures: 20\n"
                          "      breaker_open_ms: 500\n"
                          "      breaker_open_max_ms: 60000\n"
                          "      health_interval_ms: 2000\n"
                          "      events_max_bytes: 8589934592\n"
                          "      events_max_batch: 100\n"
                          "    - {name: payments, endpoints: \"unix:/run/p , 127.0.0.1:7000\"}\n"
                          "  chain:\n"
                          "    - payments\n"
                          "    - password_file\n"
                          "    - registry\n"
                          "  password_file: /etc/hookmq/passwd\n"
                          "  resolution: first_decision\n"
                          "  default_authorize: allow\n"
                          "  default_on_publish: DENY\n"
                          "  cache_max_entries: 500\n"
                          "  cache_stale_ttl_ms: 0\n"
                          "  max_inflight_per_connection: 8\n",
                          NULL),
                     0);
    assert_int_equal(c.hook_server_count, 2);
    const hmq_hook_server_config_t *r = &c.hook_servers[0], *p = &c.hook_servers[1];
    assert_string_equal(r->name, "registry");
    assert_int_equal(r->endpoints.n, 2);
    assert_string_equal(r->endpoints.v[0], "10.0.0.11:5");
    assert_string_equal(r->endpoints.v[1], "ipv4:10.0.0.12:5,10.0.0.13:5"); /* a list: kept whole */
    assert_string_equal(r->tls_ca_file, "/ca.pem");
    assert_string_equal(r->tls_cert_file, "/c.pem");
    assert_string_equal(r->tls_key_file, "/c.key");
    assert_string_equal(r->tls_server_name, "registry.internal");
    assert_true(r->mandatory);
    /* Per hook: the hook's own key, else deadline_ms / on_failure of the server. */
    assert_int_equal(r->hook_deadline_ms[HMQ_CFG_AUTHENTICATE], 800);
    assert_int_equal(r->hook_deadline_ms[HMQ_CFG_AUTHORIZE], 300);
    assert_int_equal(r->hook_deadline_ms[HMQ_CFG_ON_PUBLISH], 300);
    assert_int_equal(r->hook_deadline_ms[HMQ_CFG_ON_SUBSCRIBE], 300);
    assert_int_equal(r->hook_on_failure[HMQ_CFG_AUTHENTICATE], HMQ_HOOK_FAIL_CONTINUE);
    assert_int_equal(r->hook_on_failure[HMQ_CFG_AUTHORIZE], HMQ_HOOK_FAIL_STALE);
    assert_int_equal(r->hook_on_failure[HMQ_CFG_ON_PUBLISH], HMQ_HOOK_FAIL_CONTINUE);
    assert_int_equal(r->hook_on_failure[HMQ_CFG_ON_SUBSCRIBE], HMQ_HOOK_FAIL_CONTINUE);
    assert_int_equal(r->reconnect_initial_ms, 50);
    assert_int_equal(r->reconnect_max_ms, 5000);
    assert_int_equal(r->max_batch, 64);
    assert_int_equal(r->breaker_failures, 20);
    assert_int_equal(r->breaker_open_ms, 500);
    assert_int_equal(r->breaker_open_max_ms, 60000);
    assert_int_equal(r->health_interval_ms, 2000);
    assert_true(r->events_max_bytes == 8589934592ull);
    assert_int_equal(r->events_max_batch, 100);
    /* A server that sets nothing: zeros (the engine's defaults), deny. */
    assert_string_equal(p->name, "payments");
    assert_int_equal(p->endpoints.n, 2);
    assert_string_equal(p->endpoints.v[0], "unix:/run/p");
    assert_string_equal(p->endpoints.v[1], "127.0.0.1:7000");
    assert_false(p->mandatory);
    assert_null(p->tls_ca_file);
    for (int h = 0; h < HMQ_CFG_HOOKS; h++) {
        assert_int_equal(p->hook_deadline_ms[h], 0);
        assert_int_equal(p->hook_on_failure[h], HMQ_HOOK_FAIL_DENY);
    }
    assert_int_equal(p->reconnect_max_ms + p->max_batch + p->breaker_failures, 0);
    assert_int_equal(c.hooks_chain.n, 3);
    assert_string_equal(c.hooks_chain.v[0], "payments");
    assert_string_equal(c.hooks_chain.v[1], "password_file");
    assert_string_equal(c.hooks_chain.v[2], "registry");
    assert_string_equal(c.hooks_password_file, "/etc/hookmq/passwd");
    assert_null(c.hooks_acl_file);
    assert_int_equal(c.hooks_resolution, HMQ_HOOK_FIRST_DECISION);
    assert_int_equal(c.hooks_default[HMQ_CFG_AUTHENTICATE], HMQ_HOOK_DEFAULT_DENY);
    assert_int_equal(c.hooks_default[HMQ_CFG_AUTHORIZE], HMQ_HOOK_DEFAULT_ALLOW);
    assert_int_equal(c.hooks_default[HMQ_CFG_ON_PUBLISH], HMQ_HOOK_DEFAULT_DENY);
    assert_int_equal(c.hooks_default[HMQ_CFG_ON_SUBSCRIBE], HMQ_HOOK_DEFAULT_ALLOW);
    assert_int_equal(c.hooks_cache_max_entries, 500);
    assert_int_equal(c.hooks_cache_stale_ttl_ms, 0);
    assert_int_equal(c.hooks_max_inflight, 8);
    hmq_config_free(&c);
    assert_int_equal(c.hook_server_count, 0);
    assert_null(c.hooks_chain.v);
}

static void test_hook_servers_env(void **state)
{
    char *env[] = {"HOOKMQ_HOOKS__SERVERS__1__DEADLINE_MS=700",
                   "HOOKMQ_HOOKS__SERVERS__0__ENDPOINTS=10.0.0.1:1, 10.0.0.2:2",
                   "hookmq_hooks__servers__0__name=x", /* not ours: the prefix is upper case */
                   "HOOKMQ_Hooks__Servers__0__Authorize_On_Failure=allow",
                   "HOOKMQ_HOOKS__CHAIN=b, acl_file,a",
                   "HOOKMQ_HOOKS__ACL_FILE=/etc/hookmq/acl",
                   "HOOKMQ_HOOKS__MAX_INFLIGHT_PER_CONNECTION=1000",
                   NULL};
    hmq_config_t c;
    assert_int_equal(load(&c,
                          "hooks:\n"
                          "  servers:\n"
                          "    - {name: a, endpoints: 127.0.0.1:1, on_failure: allow}\n"
                          "    - {name: b, endpoints: 127.0.0.1:2, authorize_deadline_ms: 50}\n"
                          "  chain: [a, b, acl_file]\n",
                          env),
                     0);
    assert_string_equal(c.hook_servers[0].name, "a");
    assert_int_equal(c.hook_servers[0].endpoints.n, 2);
    assert_string_equal(c.hook_servers[0].endpoints.v[1], "10.0.0.2:2");
    assert_int_equal(c.hook_servers[0].hook_on_failure[HMQ_CFG_AUTHORIZE], HMQ_HOOK_FAIL_ALLOW);
    assert_int_equal(c.hook_servers[1].hook_deadline_ms[HMQ_CFG_AUTHENTICATE], 700);
    assert_int_equal(c.hook_servers[1].hook_deadline_ms[HMQ_CFG_AUTHORIZE], 50);
    assert_int_equal(c.hooks_chain.n, 3);
    assert_string_equal(c.hooks_chain.v[0], "b");
    assert_string_equal(c.hooks_chain.v[1], "acl_file");
    assert_string_equal(c.hooks_acl_file, "/etc/hookmq/acl");
    assert_int_equal(c.hooks_max_inflight, 1000);
    hmq_config_free(&c);
}

/* The one-server short form keeps working; listeners after hooks do not wipe it. */
static void test_hooks_short_form(void **state)
{
    hmq_config_t c;
    assert_int_equal(load(&c,
                          "hooks:\n"
                          "  server: auth\n"
                          "  endpoints: 127.0.0.1:50051,127.0.0.1:50052\n"
                          "  on_failure: allow\n"
                          "  authenticate_deadline_ms: 300\n"
                          "  mandatory: true\n"
                          "  chain: [auth]\n"
                          "listeners:\n"
                          "  - {name: a, port: 0}\n",
                          NULL),
                     0);
    assert_int_equal(c.hook_server_count, 0);
    assert_string_equal(c.hooks_server, "auth");
    assert_int_equal(c.hooks_endpoints.n, 2);
    assert_string_equal(c.hooks_endpoints.v[1], "127.0.0.1:50052");
    assert_int_equal(c.hooks_on_failure, HMQ_HOOK_FAIL_ALLOW);
    assert_int_equal(c.hooks_auth_deadline_ms, 300);
    assert_true(c.hooks_mandatory);
    hmq_config_free(&c);
    /* Without `server`, the short-form server is called "hooks" (also in the chain). */
    assert_int_equal(load(&c, "hooks: {endpoints: [\"unix:/tmp/h.sock\"], chain: hooks}\n", NULL),
                     0);
    assert_int_equal(c.hooks_endpoints.n, 1);
    hmq_config_free(&c);
}

static void test_load_from_a_file(void **state)
{
    char path[] = "/tmp/test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *yaml = "broker:\n  workers: 3\n";
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    hmq_config_t c;
    assert_int_equal(hmq_config_load(&c, path, NULL, err, sizeof err), 0);
    assert_int_equal(c.workers, 3);
    hmq_config_free(&c);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_no_file_gives_defaults),
        cmocka_unit_test(test_shipped_file_equals_defaults),
        cmocka_unit_test(test_every_key_shipped_and_documented),
        cmocka_unit_test(test_key_slots_fit),
        cmocka_unit_test(test_partial_file),
        cmocka_unit_test(test_limits_at_the_edges),
        cmocka_unit_test(test_listeners_replace_the_default),
        cmocka_unit_test(test_max_listeners),
        cmocka_unit_test(test_env_overrides),
        cmocka_unit_test(test_env_applies_after_the_file),
        cmocka_unit_test(test_hooks_defaults),
        cmocka_unit_test(test_hook_servers),
        cmocka_unit_test(test_hook_servers_env),
        cmocka_unit_test(test_hooks_short_form),
        cmocka_unit_test(test_load_from_a_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
