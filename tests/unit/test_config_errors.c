/* test_config_errors.c - every kind of configuration error names the file, the line and the key
 * (or the environment variable), all errors are reported at once, and a failed load leaves
 * nothing to free. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

static char err[8192];

/* Load yaml (and env) expecting failure; returns the number of error lines. */
static int load_fails(const char *yaml, char *const *envp)
{
    hmq_config_t c;
    int rc =
        hmq_config_load_data(&c, "t.yaml", yaml, yaml ? strlen(yaml) : 0, envp, err, sizeof err);
    if (rc != -EINVAL) fail_msg("expected -EINVAL, got %d for:\n%s", rc, yaml ? yaml : "");
    /* A failed load holds nothing. */
    assert_int_equal(c.listener_count, 0);
    hmq_config_free(&c);
    int lines = 1;
    for (const char *p = err; *p; p++)
        lines += *p == '\n';
    return lines;
}

#define assert_error(needle)                                                                       \
    do {                                                                                           \
        if (!strstr(err, needle)) fail_msg("expected \"%s\" in:\n%s", needle, err);                \
    } while (0)

static void test_out_of_range(void **state)
{
    assert_int_equal(load_fails("# limits\n"
                                "limits:\n"
                                "  max_packet_size: 7\n",
                                NULL),
                     1);
    assert_string_equal(err, "t.yaml:3: limits.max_packet_size: must be between 16 and 268435460");

    load_fails("limits:\n  max_inflight: 0\n", NULL);
    assert_string_equal(err, "t.yaml:2: limits.max_inflight: must be between 1 and 65535");
    load_fails("limits:\n  max_keepalive: 65536\n", NULL);
    assert_error("t.yaml:2: limits.max_keepalive: must be between 0 and 65535");
    load_fails("limits:\n  max_session_expiry: 4294967296\n", NULL);
    assert_error("t.yaml:2: limits.max_session_expiry: must be between 0 and 4294967295");
    load_fails("mqtt:\n  maximum_qos: 3\n", NULL);
    assert_error("t.yaml:2: mqtt.maximum_qos: must be between 0 and 2");
    load_fails("broker:\n  workers: 99999999999999999999999999\n", NULL);
    assert_error("t.yaml:2: broker.workers: must be between 0 and 1024");
    load_fails("listeners:\n  - name: a\n    port: 65536\n", NULL);
    assert_string_equal(err, "t.yaml:3: listeners[0].port: must be between 0 and 65535");
}

static void test_wrong_types(void **state)
{
    const char *cases[][2] = {
        {"broker:\n  workers: abc\n", "t.yaml:2: broker.workers: expected an unsigned integer, "
                                      "got 'abc'"},
        /* What libcyaml alone would take as 12, 1, 16, -1 and 8. */
        {"broker:\n  workers: 12abc\n", "t.yaml:2: broker.workers: expected an unsigned"},
        {"limits:\n  max_queued: 1e3\n", "t.yaml:2: limits.max_queued: expected an unsigned"},
        {"limits:\n  max_queued: 0x10\n", "t.yaml:2: limits.max_queued: expected an unsigned"},
        {"limits:\n  max_queued: -1\n", "t.yaml:2: limits.max_queued: expected an unsigned"},
        {"limits:\n  max_queued: 1.5\n", "t.yaml:2: limits.max_queued: expected an unsigned"},
        {"mqtt:\n  retain_available: maybe\n",
         "t.yaml:2: mqtt.retain_available: expected true or false, got 'maybe'"},
        {"mqtt:\n  retain_available: 2\n", "t.yaml:2: mqtt.retain_available: expected true or"},
        {"limits:\n  max_inflight: [1, 2]\n",
         "t.yaml:2: limits.max_inflight: expected a single value, got a list"},
        {"limits:\n  max_inflight:\n    a: 1\n",
         "t.yaml:2: limits.max_inflight: expected a single value, got a mapping"},
        {"limits: 5\n", "t.yaml:1: limits: expected a mapping of keys, got a value"},
        {"limits:\n  - 5\n", "t.yaml:1: limits: expected a mapping of keys, got a list"},
        {"listeners:\n  name: a\n", "t.yaml:1: listeners: expected a list of listeners, got a"},
        {"listeners:\n  - a\n", "t.yaml:2: listeners[0]: expected a mapping"},
        {"[1, 2]\n", "t.yaml:1: the configuration must be a mapping of sections"},
        {"hello\n", "t.yaml:1: the configuration must be a mapping of sections"},
        {"log:\n  level:\n", "t.yaml:2: log.level: has no value"},
        {"log:\n  level: ~\n", "t.yaml:2: log.level: has no value"},
        {"listeners:\n  - name: \"\"\n", "t.yaml:2: listeners[0].name: has no value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(load_fails(cases[i][0], NULL), 1);
        assert_error(cases[i][1]);
    }
}

static void test_bad_enums_and_strings(void **state)
{
    load_fails("\nlog:\n  level: verbose\n", NULL);
    assert_string_equal(err, "t.yaml:3: log.level: expected one of trace, debug, info, warn, "
                             "error, got 'verbose'");
    load_fails("limits: {queue_policy: drop_all}\n", NULL);
    assert_error("t.yaml:1: limits.queue_policy: expected one of drop_newest, drop_oldest, got "
                 "'drop_all'");
    load_fails("listeners:\n  - name: a\n    type: quic\n", NULL);
    assert_error("t.yaml:3: listeners[0].type: expected one of tcp, tls, ws, wss, got 'quic'");
    load_fails("listeners:\n  - name: a\n    type: tls\n", NULL);
    assert_error("t.yaml:2: listeners[0]: type tls needs tls_cert_file and tls_key_file");
    load_fails("listeners:\n  - name: a\n    type: tls\n    tls_cert_file: c.pem\n"
               "    tls_key_file: k.pem\n    tls_client_cert: required\n",
               NULL);
    assert_error("t.yaml:2: listeners[0]: tls_client_cert required needs tls_ca_file");
    load_fails("listeners:\n  - name: a\n    tls_min_version: 1.1\n", NULL);
    assert_error("t.yaml:3: listeners[0].tls_min_version: expected one of 1.2, 1.3, got '1.1'");
    load_fails("listeners:\n  - name: a\n    bind: localhost\n", NULL);
    assert_error("t.yaml:3: listeners[0].bind: must be an IPv4 or IPv6 address");
    load_fails("listeners:\n  - name: has space\n", NULL);
    assert_error("t.yaml:2: listeners[0].name: may contain only letters, digits");
}

static void test_tls_sni_certs(void **state)
{
    load_fails("listeners:\n  - name: a\n    tls_session_timeout_s: 0\n"
               "    tls_sni_certs: a.example:/a.pem:/a.key, b.example:/b.pem\n",
               NULL);
    assert_error("t.yaml:3: listeners[0].tls_session_timeout_s: must be between 1 and 604800");
    assert_error("t.yaml:4: listeners[0].tls_sni_certs: each entry must be "
                 "server_name:cert_file:key_file");
    char *env[] = {"HOOKMQ_LISTENERS__0__TLS_SNI_CERTS=*x.example:/a.pem:/a.key", NULL};
    load_fails("listeners:\n  - name: a\n", env);
    assert_error("environment HOOKMQ_LISTENERS__0__TLS_SNI_CERTS: a server_name must be");

    hmq_config_sni_t e[4];
    char text[] = "a.example:/a.pem:/a.key,\n  *.B.example:/b.pem:/b.key ";
    const char *why = NULL;
    assert_int_equal(hmq_config_sni_split(text, e, 4, &why), 2);
    assert_string_equal(e[1].server_name, "*.B.example");
    assert_string_equal(e[1].cert_file, "/b.pem");
    assert_string_equal(e[1].key_file, "/b.key");
    char one[] = "a.example:/a.pem:/a.key";
    assert_int_equal(hmq_config_sni_split(one, e, 0, &why), -1);
    assert_string_equal(why, "too many entries");
}

static void test_unknown_keys(void **state)
{
    assert_int_equal(load_fails("limits:\n"
                                "  max_pakcet_size: 1\n"
                                "  max_inflight: 5\n"
                                "  frobnicate: 1\n"
                                "limit:\n"
                                "  a: 1\n"
                                "listeners:\n"
                                "  - name: a\n"
                                "    prot: 1\n"
                                "zzz: {deep: {deeper: [1, 2, {x: y}]}}\n",
                                NULL),
                     5);
    assert_error("t.yaml:2: limits.max_pakcet_size: unknown key (did you mean 'max_packet_size'?)");
    assert_error("t.yaml:4: limits.frobnicate: unknown key");
    assert_error("t.yaml:5: limit: unknown key (did you mean 'limits'?)");
    assert_error("t.yaml:9: listeners[0].prot: unknown key (did you mean 'port'?)");
    assert_error("t.yaml:10: zzz: unknown key (sections: broker, listeners, limits, mqtt, auth, "
                 "log, hooks)");
    /* Errors come in the order of the file. */
    assert_true(strstr(err, "t.yaml:2:") < strstr(err, "t.yaml:10:"));
    /* Keys are case-sensitive, as in YAML. */
    load_fails("Limits: {}\n", NULL);
    assert_error("t.yaml:1: Limits: unknown key (did you mean 'limits'?)");
    load_fails("? [a, b]\n: 1\n", NULL);
    assert_error("t.yaml:1: ");
}

static void test_yaml_syntax_errors(void **state)
{
    load_fails("broker:\n  workers: 1\n limits: 2\n", NULL);
    assert_error("t.yaml:3: YAML syntax error: ");
    load_fails("limits:\n  max_inflight: 1\n  max_queued: [1\n\nlog: {}\n", NULL);
    assert_error("t.yaml:5: YAML syntax error: ");
    load_fails("a: 'unterminated\n\n", NULL);
    assert_error("t.yaml:3: YAML syntax error: found unexpected end of stream");
    load_fails("broker:\n\tworkers: 1\n", NULL);
    assert_error("t.yaml:2: YAML syntax error: ");
    load_fails("log:\n  level: \"\xff\"\n", NULL);
    assert_error("t.yaml:2: YAML syntax error: invalid ");
}

static void test_structure_errors(void **state)
{
    load_fails("limits:\n  max_inflight: 5\n  max_inflight: 6\n", NULL);
    assert_string_equal(err, "t.yaml:3: limits.max_inflight: duplicate key");
    load_fails("limits: {}\nlog: {}\nlimits: {}\n", NULL);
    assert_string_equal(err, "t.yaml:3: limits: duplicate key");
    load_fails("limits:\n  max_inflight: &n 5\n  max_queued: *n\n", NULL);
    assert_error("t.yaml:3: limits.max_queued: YAML aliases are not supported");
    load_fails("log: {level: info}\n---\nlog: {level: debug}\n", NULL);
    assert_string_equal(err, "t.yaml:2: only one YAML document is allowed");
    load_fails("listeners: []\n", NULL);
    assert_string_equal(err, "t.yaml:1: listeners: must list 1 to 32 listeners, got 0");
    char yaml[4096] = "listeners:\n";
    for (int i = 0; i <= HMQ_MAX_LISTENERS; i++)
        snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml), "  - {name: l%d}\n", i);
    load_fails(yaml, NULL);
    assert_string_equal(err, "t.yaml:1: listeners: must list 1 to 32 listeners, got 33");
    load_fails("limits:\n  max_inflight: \"1\\u00002\"\n", NULL);
    assert_error("t.yaml:2: limits.max_inflight: contains a NUL byte");
}

static void test_listener_checks(void **state)
{
    load_fails("listeners:\n  - port: 1\n  - name: b\n  - {bind: \"::\"}\n", NULL);
    assert_error("t.yaml:2: listeners[0]: name is required");
    assert_error("t.yaml:4: listeners[2]: name is required");
    load_fails("listeners:\n  - name: a\n    port: 1\n  - name: a\n    port: 2\n", NULL);
    assert_string_equal(err, "t.yaml:4: listeners[1].name: listener name 'a' is already used by "
                             "listeners[0]");
    load_fails("listeners:\n"
               "  - {name: a, port: 1883, bind: 10.0.0.1}\n"
               "  - {name: b, port: 1884, bind: 10.0.0.1}\n"
               "  - {name: c, port: 1883, bind: 10.0.0.2}\n"
               "  - {name: d, port: 1883, bind: 0.0.0.0}\n",
               NULL);
    assert_string_equal(err, "t.yaml:5: listeners[3].port: 0.0.0.0 port 1883 collides with "
                             "listener 'a' on 10.0.0.1 port 1883\n"
                             "t.yaml:5: listeners[3].port: 0.0.0.0 port 1883 collides with "
                             "listener 'c' on 10.0.0.2 port 1883");
    /* A port already reported invalid is not compared. */
    assert_int_equal(load_fails("listeners:\n  - {name: a}\n  - {name: b, port: x}\n", NULL), 1);
}

static void test_all_errors_reported(void **state)
{
    assert_int_equal(load_fails("broker:\n"
                                "  workers: 5000\n"
                                "limits:\n"
                                "  max_packet_size: 1\n"
                                "  max_inflight: 0\n"
                                "mqtt:\n"
                                "  maximum_qos: 9\n"
                                "log:\n"
                                "  level: loud\n",
                                NULL),
                     5);
    assert_error("t.yaml:2: broker.workers:");
    assert_error("t.yaml:4: limits.max_packet_size:");
    assert_error("t.yaml:5: limits.max_inflight:");
    assert_error("t.yaml:7: mqtt.maximum_qos:");
    assert_error("t.yaml:9: log.level:");
}

/* Unknown keys do not hide bad values; a misplaced list does (the values are not read). */
static void test_values_checked_past_unknown_keys(void **state)
{
    assert_int_equal(load_fails("limits:\n"
                                "  max_pakcet_size: 1\n"
                                "  max_inflight: 0\n"
                                "listeners:\n"
                                "  - {name: a, colour: blue, port: 99999}\n"
                                "nope: {a: [1, 2]}\n",
                                NULL),
                     5);
    assert_error("t.yaml:2: limits.max_pakcet_size: unknown key");
    assert_error("t.yaml:3: limits.max_inflight: must be between 1 and 65535");
    assert_error("t.yaml:5: listeners[0].colour: unknown key");
    assert_error("t.yaml:5: listeners[0].port: must be between 0 and 65535");
    assert_error("t.yaml:6: nope: unknown key");
    assert_int_equal(load_fails("limits:\n  max_inflight: 0\n  max_queued: [1]\n", NULL), 1);
    assert_error("t.yaml:3: limits.max_queued: expected a single value, got a list");
}

static void test_env_errors(void **state)
{
    char *env[] = {"HOOKMQ_LIMITS__MAX_PACKET_SIZE=7",
                   "HOOKMQ_LIMITS__MAX_PAKCET_SIZE=70000",
                   "HOOKMQ_NOPE__X=1",
                   "HOOKMQ_LOG__LEVEL=",
                   "HOOKMQ_LISTENERS__1__PORT=1",
                   "HOOKMQ_LISTENERS__X__PORT=1",
                   "HOOKMQ_LISTENERS__0__PROT=1",
                   "HOOKMQ_LISTENERS__0__PORT=http",
                   "HOOKMQ_BROKER__WORKERS__X=1",
                   "HOOKMQ_MQTT__RETAIN_AVAILABLE=1",
                   NULL};
    assert_int_equal(load_fails("log: {format: json}\n", env), 10);
    assert_error("environment HOOKMQ_LIMITS__MAX_PACKET_SIZE: must be between 16 and 268435460");
    assert_error("environment HOOKMQ_LIMITS__MAX_PAKCET_SIZE: does not match any configuration "
                 "key (did you mean HOOKMQ_LIMITS__MAX_PACKET_SIZE?)");
    assert_error("environment HOOKMQ_NOPE__X: does not match any configuration key");
    assert_error("environment HOOKMQ_LOG__LEVEL: has no value");
    assert_error("environment HOOKMQ_LISTENERS__1__PORT: there is no listener 1");
    assert_error("environment HOOKMQ_LISTENERS__X__PORT: does not match");
    assert_error("environment HOOKMQ_LISTENERS__0__PROT: does not match");
    assert_error("environment HOOKMQ_LISTENERS__0__PORT: expected an unsigned integer, got 'http'");
    assert_error("environment HOOKMQ_BROKER__WORKERS__X: does not match");
    assert_error("environment HOOKMQ_MQTT__RETAIN_AVAILABLE: expected true or false, got '1'");
}

static void test_env_and_file_errors_together(void **state)
{
    char *env[] = {"HOOKMQ_LISTENERS__0__NAME=a", NULL};
    assert_int_equal(load_fails("listeners:\n  - {name: x}\n  - {name: a, port: 2}\n"
                                "limits: {max_inflight: 0}\n",
                                env),
                     2);
    assert_error("t.yaml:4: limits.max_inflight: must be between 1 and 65535");
    assert_error("listeners[1].name: listener name 'a' is already used by listeners[0]");
}

static void test_hook_server_errors(void **state)
{
    assert_int_equal(load_fails("hooks:\n"
                                "  servers:\n"
                                "    - name: a\n"
                                "      endpoints: 127.0.0.1:1\n"
                                "      authorize_on_failure: maybe\n"
                                "      tls_cert_file: /c.pem\n"
                                "    - name: a\n"
                                "      endpoints: [127.0.0.1:2]\n"
                                "    - name: c\n"
                                "      deadline_ms: 600001\n"
                                "    - endpoints: nocolon\n"
                                "      tls_key_file: /k.pem\n"
                                "    - {name: password_file, endpoints: \"a:1,,b:2\"}\n"
                                "    - {name: f, endpoints: a:1, reconnect_initial_ms: 9, "
                                "reconnect_max_ms: 8}\n",
                                NULL),
                     11);
    assert_error("t.yaml:5: hooks.servers[0].authorize_on_failure: expected one of deny, allow, "
                 "continue, stale, got 'maybe'");
    assert_error("t.yaml:6: hooks.servers[0].tls_cert_file: needs tls_key_file");
    assert_error("t.yaml:7: hooks.servers[1].name: hook server name 'a' is already used by "
                 "hooks.servers[0]");
    assert_error("t.yaml:10: hooks.servers[2].deadline_ms: must be between 0 and 600000");
    assert_error("t.yaml:9: hooks.servers[2]: endpoints is required");
    assert_error("t.yaml:11: hooks.servers[3].endpoints: expected host:port, ipv4:address:port or "
                 "unix:/path, got 'nocolon'");
    assert_error("t.yaml:11: hooks.servers[3]: name is required");
    assert_error("t.yaml:12: hooks.servers[3].tls_key_file: needs tls_cert_file");
    assert_error("t.yaml:13: hooks.servers[4].endpoints: an item is empty");
    assert_error("t.yaml:13: hooks.servers[4].name: 'password_file' is the name of a built-in");
    assert_error("t.yaml:14: hooks.servers[5]: reconnect_initial_ms is above reconnect_max_ms");
}

static void test_hook_server_shape_errors(void **state)
{
    const char *cases[][2] = {
        {"hooks:\n  servers: {name: a}\n",
         "t.yaml:2: hooks.servers: expected a list of servers, got a mapping"},
        {"hooks:\n  servers: []\n", "t.yaml:2: hooks.servers: must list 1 to 16 entries, got 0"},
        {"hooks:\n  servers:\n    - a:1\n", "t.yaml:3: hooks.servers[0]: expected a mapping"},
        {"hooks:\n  servers:\n    - name: a\n      endpoints: [[a:1]]\n",
         "t.yaml:4: hooks.servers[0].endpoints[0]: expected a single value, got a list"},
        {"hooks:\n  servers:\n    - name: a\n      endpoints: []\n",
         "t.yaml:4: hooks.servers[0].endpoints: has no value (an empty list)"},
        {"hooks:\n  servers:\n    - name: a\n      endpoints:\n        - ~\n",
         "t.yaml:5: hooks.servers[0].endpoints[0]: has no value"},
        {"hooks:\n  chain: {a: b}\n", "t.yaml:2: hooks.chain: expected a single value, got a "
                                      "mapping"},
        {"hooks:\n  chain:\n", "t.yaml:2: hooks.chain: has no value"},
        {"hooks:\n  servers:\n    - name: a\n      mandatory: [true]\n",
         "t.yaml:4: hooks.servers[0].mandatory: expected a single value, got a list"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(load_fails(cases[i][0], NULL), 1);
        assert_error(cases[i][1]);
    }
    /* Unknown keys of a server are reported with a suggestion; the values are still checked. */
    assert_int_equal(load_fails("hooks:\n  servers:\n    - name: a\n      endpoints: a:1\n"
                                "      dedline_ms: 5\n      max_batch: x\n",
                                NULL),
                     2);
    assert_error("t.yaml:5: hooks.servers[0].dedline_ms: unknown key (did you mean "
                 "'deadline_ms'?)");
    assert_error("t.yaml:6: hooks.servers[0].max_batch: expected an unsigned integer, got 'x'");
}

static void test_hook_chain_errors(void **state)
{
    assert_int_equal(load_fails("hooks:\n"
                                "  servers:\n"
                                "    - {name: a, endpoints: a:1}\n"
                                "    - {name: b, endpoints: b:1}\n"
                                "  chain: [a, nope, password_file]\n",
                                NULL),
                     3);
    assert_error("t.yaml:5: hooks.chain: 'nope' is not a hook server name");
    assert_error("t.yaml:5: hooks.chain: 'password_file' is a built-in provider, but "
                 "hooks.password_file is not set");
    assert_error("t.yaml:5: hooks.chain: does not list 'b'");
    load_fails("hooks:\n  acl_file: /acl\n  chain: a, a\n", NULL);
    assert_error("t.yaml:3: hooks.chain: 'a' is listed twice");
    load_fails("hooks:\n  acl_file: /acl\n  chain: [acl_file, \"x y\"]\n", NULL);
    assert_error("t.yaml:3: hooks.chain: may contain only letters, digits, '_', '-' and '.', got "
                 "'x y'");
    /* The short form's server is "hooks" unless `server` names it. */
    load_fails("hooks:\n  endpoints: a:1\n  server: auth\n  chain: hooks\n", NULL);
    assert_error("t.yaml:4: hooks.chain: 'hooks' is not a hook server name");
}

static void test_hooks_short_form_errors(void **state)
{
    assert_int_equal(load_fails("hooks:\n"
                                "  endpoints: 127.0.0.1:1\n"
                                "  on_failure: allow\n"
                                "  servers:\n"
                                "    - {name: a, endpoints: a:1}\n",
                                NULL),
                     2);
    assert_error("t.yaml:2: hooks.endpoints: hooks.endpoints (one server, short form) and "
                 "hooks.servers cannot be combined");
    assert_error("t.yaml:3: hooks.on_failure: belongs to the one-server short form");
    load_fails("hooks:\n  endpoints: 127.0.0.1:1\n  tls_cert_file: /c.pem\n", NULL);
    assert_string_equal(err, "t.yaml:3: hooks.tls_cert_file: needs tls_key_file (the "
                             "certificate's key)");
    load_fails("hooks:\n  on_failure: later\n", NULL);
    assert_error("t.yaml:2: hooks.on_failure: expected one of deny, allow, continue, stale, got "
                 "'later'");
}

static void test_hook_env_errors(void **state)
{
    char *env[] = {"HOOKMQ_HOOKS__SERVERS__5__NAME=x",
                   "HOOKMQ_HOOKS__SERVERS__0__DEADLNE_MS=1",
                   "HOOKMQ_HOOKS__SERVERS__X__NAME=x",
                   "HOOKMQ_HOOKS__SERVERS=x",
                   "HOOKMQ_HOOKS__SERVERS__0__ON_PUBLISH_ON_FAILURE=maybe",
                   "HOOKMQ_HOOKS__ENDPOINTS=127.0.0.1:9",
                   "HOOKMQ_HOOKS__CHAIN=a,b",
                   NULL};
    assert_int_equal(load_fails("hooks:\n  servers:\n    - {name: a, endpoints: a:1}\n", env), 7);
    assert_error("environment HOOKMQ_HOOKS__SERVERS__5__NAME: there is no hook server 5: the "
                 "configuration has 1 (indexes from 0)");
    assert_error("environment HOOKMQ_HOOKS__SERVERS__0__DEADLNE_MS: does not match any "
                 "configuration key (did you mean HOOKMQ_HOOKS__SERVERS__<INDEX>__DEADLINE_MS?)");
    assert_error("environment HOOKMQ_HOOKS__SERVERS__X__NAME: does not match any configuration "
                 "key (expected HOOKMQ_HOOKS__SERVERS__<INDEX>__<KEY>)");
    assert_error("environment HOOKMQ_HOOKS__SERVERS: is a list of entries");
    assert_error("environment HOOKMQ_HOOKS__SERVERS__0__ON_PUBLISH_ON_FAILURE: expected one of");
    assert_error("environment HOOKMQ_HOOKS__ENDPOINTS: hooks.endpoints (one server, short form) "
                 "and hooks.servers cannot be combined");
    assert_error("environment HOOKMQ_HOOKS__CHAIN: 'b' is not a hook server name");
}

static void test_missing_file(void **state)
{
    hmq_config_t c;
    assert_int_equal(hmq_config_load(&c, "/nonexistent/hookmq.yaml", NULL, err, sizeof err),
                     -ENOENT);
    assert_string_equal(err, "/nonexistent/hookmq.yaml: cannot read: No such file or directory");
    hmq_config_free(&c);
}

static void test_small_error_buffer(void **state)
{
    char small[16];
    memset(small, 'x', sizeof small);
    hmq_config_t c;
    const char *yaml = "limits: {max_inflight: 0, max_queued: 0}\n";
    assert_int_equal(
        hmq_config_load_data(&c, "t.yaml", yaml, strlen(yaml), NULL, small, sizeof small), -EINVAL);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, "t.yaml:1: limit", 15);
    assert_int_equal(hmq_config_load_data(&c, "t.yaml", yaml, strlen(yaml), NULL, NULL, 0),
                     -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_bad_enums_and_strings),
        cmocka_unit_test(test_tls_sni_certs),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_yaml_syntax_errors),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_listener_checks),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_values_checked_past_unknown_keys),
        cmocka_unit_test(test_env_errors),
        cmocka_unit_test(test_env_and_file_errors_together),
        cmocka_unit_test(test_hook_server_errors),
        cmocka_unit_test(test_hook_server_shape_errors),
        cmocka_unit_test(test_hook_chain_errors),
        cmocka_unit_test(test_hooks_short_form_errors),
        cmocka_unit_test(test_hook_env_errors),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_small_error_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
