/* config_keys.c - the table of every configuration key (section, name, type, range, field) and
 * the one parser that turns a value's text into a field, used alike for YAML values and
 * HOOKMQ_* environment variables so both accept exactly the same spellings.
 *
 * Called by config_yaml.c, config_env.c and config.c. Adding a key: a field in config.h, a line
 * here, its default in hmq_config_defaults() (strings and lists: freed in hmq_config_free()),
 * config/hookmq.yaml and docs/configuration.md (the unit tests check the last two).
 */
#include "config/config_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const hmq_config_sections[HMQ_SECTION_COUNT] = {
    [HMQ_SECTION_BROKER] = "broker", [HMQ_SECTION_LISTENERS] = "listeners",
    [HMQ_SECTION_LIMITS] = "limits", [HMQ_SECTION_MQTT] = "mqtt",
    [HMQ_SECTION_AUTH] = "auth",     [HMQ_SECTION_LOG] = "log",
    [HMQ_SECTION_HOOKS] = "hooks",   [HMQ_SECTION_HOOK_SERVERS] = "hooks.servers",
};

static const char *const listener_types[] = {"tcp", "tls", "ws", "wss", NULL};
static const char *const tls_cert_modes[] = {"none", "optional", "required", NULL};
static const char *const tls_versions[] = {"1.2", "1.3", NULL};
static const char *const cert_ids[] = {"none", "cn", "san", NULL};
static const char *const on_failures[] = {"deny", "allow", "continue", "stale", NULL};
static const char *const queue_policies[] = {"drop_newest", "drop_oldest", NULL};
static const char *const log_levels[] = {"trace", "debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"logfmt", "json", NULL};
static const char *const resolutions[] = {"deny_wins", "first_decision", NULL};
static const char *const hook_defaults[] = {"deny", "allow", NULL};

/* A listener name appears in logs, metrics labels and hook filters: keep it a plain word. */
static const char *check_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return "must be 1 to 64 characters long";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.')
            return "may contain only letters, digits, '_', '-' and '.'";
    }
    return NULL;
}

static bool sni_name_ok(const char *n)
{
    if (n[0] == '*') {
        if (n[1] != '.' || !n[2]) return false;
        n += 2;
    }
    if (!*n || strlen(n) > 253) return false;
    for (; *n; n++)
        if (!isalnum((unsigned char)*n) && *n != '-' && *n != '.') return false;
    return true;
}

int hmq_config_sni_split(char *buf, hmq_config_sni_t *out, size_t max, const char **why)
{
    static const char seps[] = ", \t\r\n";
    size_t n = 0;
    char *save = NULL;
    for (char *e = strtok_r(buf, seps, &save); e; e = strtok_r(NULL, seps, &save)) {
        char *c1 = strchr(e, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || strchr(c2 + 1, ':') || c1 == e || c2 == c1 + 1 || !c2[1]) {
            *why = "each entry must be server_name:cert_file:key_file (no ':' in file names)";
            return -1;
        }
        *c1 = *c2 = 0;
        if (!sni_name_ok(e)) {
            *why = "a server_name must be a host name (letters, digits, '-', '.') or *.domain";
            return -1;
        }
        if (n == max) {
            *why = "too many entries";
            return -1;
        }
        out[n++] = (hmq_config_sni_t){.server_name = e, .cert_file = c1 + 1, .key_file = c2 + 1};
    }
    return (int)n;
}

static const char *check_sni_certs(const char *s)
{
    hmq_config_sni_t e[HMQ_MAX_SNI_CERTS];
    const char *why = "out of memory";
    char *buf = strdup(s);
    int n = buf ? hmq_config_sni_split(buf, e, HMQ_MAX_SNI_CERTS, &why) : -1;
    free(buf);
    return n < 0 ? why : NULL;
}

/* gRPC target: "host:port", "ipv4:1.2.3.4:5", "dns:///host:port", "unix:/path". */
static const char *check_endpoint(const char *s)
{
    if (!strchr(s, ':') || strpbrk(s, " \t\r\n"))
        return "expected host:port, ipv4:address:port or unix:/path";
    return NULL;
}

static const char *check_bind(const char *s)
{
    unsigned char addr[16];
    if (inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1) return NULL;
    return "must be an IPv4 or IPv6 address (0.0.0.0 or :: for all interfaces)";
}

#define FIELD(type, f) .offset = offsetof(type, f), .size = sizeof(((type *)0)->f)
#define UINT(sec, key, f, lo, hi)                                                                  \
    {                                                                                              \
        .section = (sec), .name = (key), .type = HMQ_KEY_UINT, FIELD(hmq_config_t, f),             \
        .min = (lo), .max = (hi)                                                                   \
    }
#define BOOL(sec, key, f)                                                                          \
    {                                                                                              \
        .section = (sec), .name = (key), .type = HMQ_KEY_BOOL, FIELD(hmq_config_t, f)              \
    }
#define ENUM(sec, key, f, n)                                                                       \
    {                                                                                              \
        .section = (sec), .name = (key), .type = HMQ_KEY_ENUM, FIELD(hmq_config_t, f),             \
        .names = (n)                                                                               \
    }
#define STRING(sec, key, f)                                                                        \
    {                                                                                              \
        .section = (sec), .name = (key), .type = HMQ_KEY_STRING, FIELD(hmq_config_t, f)            \
    }
#define L_UINT(key, f, lo, hi)                                                                     \
    {                                                                                              \
        .section = HMQ_SECTION_LISTENERS, .name = (key), .type = HMQ_KEY_UINT,                     \
        FIELD(hmq_listener_config_t, f), .min = (lo), .max = (hi)                                  \
    }
#define L_ENUM(key, f, n)                                                                          \
    {                                                                                              \
        .section = HMQ_SECTION_LISTENERS, .name = (key), .type = HMQ_KEY_ENUM,                     \
        FIELD(hmq_listener_config_t, f), .names = (n)                                              \
    }
#define L_BOOL(key, f)                                                                             \
    {                                                                                              \
        .section = HMQ_SECTION_LISTENERS, .name = (key), .type = HMQ_KEY_BOOL,                     \
        FIELD(hmq_listener_config_t, f)                                                            \
    }
#define L_STRING(key, f, chk)                                                                      \
    {                                                                                              \
        .section = HMQ_SECTION_LISTENERS, .name = (key), .type = HMQ_KEY_STRING,                   \
        FIELD(hmq_listener_config_t, f), .check = (chk)                                            \
    }

#define LIST(sec, key, f, chk)                                                                     \
    {                                                                                              \
        .section = (sec), .name = (key), .type = HMQ_KEY_LIST, FIELD(hmq_config_t, f),             \
        .check = (chk)                                                                             \
    }
#define ENTRIES(sec, key, most, keys)                                                              \
    {                                                                                              \
        .section = (sec), .name = (key), .type = HMQ_KEY_ENTRIES, .max = (most), .entries = (keys) \
    }
/* Keys of a hooks.servers entry. */
#define S_UINT(key, f, lo, hi)                                                                     \
    {                                                                                              \
        .section = HMQ_SECTION_HOOK_SERVERS, .name = (key), .type = HMQ_KEY_UINT,                  \
        FIELD(hmq_hook_server_config_t, f), .min = (lo), .max = (hi)                               \
    }
#define S_ENUM(key, f, n)                                                                          \
    {                                                                                              \
        .section = HMQ_SECTION_HOOK_SERVERS, .name = (key), .type = HMQ_KEY_ENUM,                  \
        FIELD(hmq_hook_server_config_t, f), .names = (n)                                           \
    }
#define S_BOOL(key, f)                                                                             \
    {                                                                                              \
        .section = HMQ_SECTION_HOOK_SERVERS, .name = (key), .type = HMQ_KEY_BOOL,                  \
        FIELD(hmq_hook_server_config_t, f)                                                         \
    }
#define S_STRING(key, f, chk)                                                                      \
    {                                                                                              \
        .section = HMQ_SECTION_HOOK_SERVERS, .name = (key), .type = HMQ_KEY_STRING,                \
        FIELD(hmq_hook_server_config_t, f), .check = (chk)                                         \
    }
#define S_LIST(key, f, chk)                                                                        \
    {                                                                                              \
        .section = HMQ_SECTION_HOOK_SERVERS, .name = (key), .type = HMQ_KEY_LIST,                  \
        FIELD(hmq_hook_server_config_t, f), .check = (chk)                                         \
    }
#define S_HOOK(prefix, i)                                                                          \
    S_UINT(prefix "_deadline_ms", hook_deadline_ms[i], 0, 600000),                                 \
        S_ENUM(prefix "_on_failure", hook_on_failure[i], on_failures)

enum { B = HMQ_SECTION_BROKER, LIM = HMQ_SECTION_LIMITS, Q = HMQ_SECTION_MQTT };
enum { H = HMQ_SECTION_HOOKS };

const hmq_config_key_t hmq_config_keys[] = {
    UINT(B, "workers", workers, 0, 1024),
    UINT(B, "sys_interval", sys_interval, 0, 86400),

    L_STRING("name", name, check_name),
    L_ENUM("type", kind, listener_types),
    L_STRING("bind", bind, check_bind),
    L_UINT("port", port, 0, 65535),
    L_UINT("max_connections", max_connections, 0, UINT32_MAX),
    L_STRING("tls_cert_file", tls_cert_file, NULL),
    L_STRING("tls_key_file", tls_key_file, NULL),
    L_STRING("tls_key_passphrase", tls_key_passphrase, NULL),
    L_STRING("tls_ca_file", tls_ca_file, NULL),
    L_STRING("tls_crl_file", tls_crl_file, NULL),
    L_ENUM("tls_client_cert", tls_client_cert, tls_cert_modes),
    L_ENUM("tls_min_version", tls_min_version, tls_versions),
    L_STRING("tls_ciphers", tls_ciphers, NULL),
    L_STRING("tls_ciphersuites", tls_ciphersuites, NULL),
    L_STRING("tls_groups", tls_groups, NULL),
    L_ENUM("tls_client_id_from", tls_client_id_from, cert_ids),
    L_STRING("tls_sni_certs", tls_sni_certs, check_sni_certs),
    L_BOOL("tls_session_tickets", tls_session_tickets),
    L_UINT("tls_session_cache_size", tls_session_cache_size, 0, 1000000),
    L_UINT("tls_session_timeout_s", tls_session_timeout_s, 1, 604800),
    L_BOOL("proxy_protocol", proxy_protocol),
    L_STRING("ws_path", ws_path, NULL),
    L_BOOL("ws_trust_forwarded", ws_trust_forwarded),
    L_UINT("max_connect_rate", max_connect_rate, 0, UINT32_MAX),
    L_UINT("max_connect_rate_per_ip", max_connect_rate_per_ip, 0, UINT32_MAX),

    UINT(LIM, "max_connections", max_connections, 0, UINT32_MAX),
    UINT(LIM, "max_packet_size", max_packet_size, 16, 268435460),
    UINT(LIM, "max_inflight", max_inflight, 1, 65535),
    UINT(LIM, "max_queued", max_queued, 1, UINT32_MAX),
    ENUM(LIM, "queue_policy", queue_policy, queue_policies),
    UINT(LIM, "max_topic_length", max_topic_length, 1, 65535),
    UINT(LIM, "max_topic_levels", max_topic_levels, 1, 65535),
    UINT(LIM, "connect_timeout_ms", connect_timeout_ms, 0, 3600000),
    UINT(LIM, "max_keepalive", max_keepalive, 0, 65535),
    UINT(LIM, "topic_alias_maximum", topic_alias_maximum, 0, 65535),
    UINT(LIM, "max_session_expiry", max_session_expiry, 0, UINT32_MAX),
    UINT(LIM, "max_subscriptions", max_subscriptions, 0, UINT32_MAX),
    UINT(LIM, "max_outbuf", max_outbuf, 4096, UINT32_MAX),

    UINT(Q, "maximum_qos", maximum_qos, 0, 2),
    BOOL(Q, "retain_available", retain_available),
    BOOL(Q, "wildcard_subscriptions", wildcard_subscriptions),
    BOOL(Q, "shared_subscriptions", shared_subscriptions),
    BOOL(Q, "subscription_identifiers", subscription_identifiers),
    BOOL(Q, "allow_zero_length_client_id", allow_zero_length_client_id),

    BOOL(HMQ_SECTION_AUTH, "allow_anonymous", allow_anonymous),

    ENUM(HMQ_SECTION_LOG, "level", log_level, log_levels),
    ENUM(HMQ_SECTION_LOG, "format", log_format, log_formats),

    /* hooks: the short form (one server) */
    STRING(H, "server", hooks_server),
    LIST(H, "endpoints", hooks_endpoints, check_endpoint),
    STRING(H, "tls_ca_file", hooks_tls_ca_file),
    STRING(H, "tls_cert_file", hooks_tls_cert_file),
    STRING(H, "tls_key_file", hooks_tls_key_file),
    UINT(H, "authenticate_deadline_ms", hooks_auth_deadline_ms, 1, 600000),
    ENUM(H, "on_failure", hooks_on_failure, on_failures),
    BOOL(H, "mandatory", hooks_mandatory),
    /* hooks: servers and the chain */
    ENTRIES(H, "servers", HMQ_MAX_HOOK_SERVERS, HMQ_SECTION_HOOK_SERVERS),
    LIST(H, "chain", hooks_chain, check_name),
    ENUM(H, "resolution", hooks_resolution, resolutions),
    ENUM(H, "default_authenticate", hooks_default[HMQ_CFG_AUTHENTICATE], hook_defaults),
    ENUM(H, "default_authorize", hooks_default[HMQ_CFG_AUTHORIZE], hook_defaults),
    ENUM(H, "default_on_publish", hooks_default[HMQ_CFG_ON_PUBLISH], hook_defaults),
    ENUM(H, "default_on_subscribe", hooks_default[HMQ_CFG_ON_SUBSCRIBE], hook_defaults),
    UINT(H, "cache_max_entries", hooks_cache_max_entries, 1, 100000000),
    UINT(H, "cache_stale_ttl_ms", hooks_cache_stale_ttl_ms, 0, 86400000),
    UINT(H, "max_inflight_per_connection", hooks_max_inflight, 1, 65535),
    STRING(H, "password_file", hooks_password_file),
    STRING(H, "acl_file", hooks_acl_file),

    S_STRING("name", name, check_name),
    S_LIST("endpoints", endpoints, check_endpoint),
    S_STRING("tls_ca_file", tls_ca_file, NULL),
    S_STRING("tls_cert_file", tls_cert_file, NULL),
    S_STRING("tls_key_file", tls_key_file, NULL),
    S_STRING("tls_server_name", tls_server_name, NULL),
    S_BOOL("mandatory", mandatory),
    S_UINT("deadline_ms", deadline_ms, 0, 600000),
    S_ENUM("on_failure", on_failure, on_failures),
    S_HOOK("authenticate", HMQ_CFG_AUTHENTICATE),
    S_HOOK("authorize", HMQ_CFG_AUTHORIZE),
    S_HOOK("on_publish", HMQ_CFG_ON_PUBLISH),
    S_HOOK("on_subscribe", HMQ_CFG_ON_SUBSCRIBE),
    S_UINT("reconnect_initial_ms", reconnect_initial_ms, 0, 3600000),
    S_UINT("reconnect_max_ms", reconnect_max_ms, 0, 3600000),
    S_UINT("max_batch", max_batch, 0, 65535),
    S_UINT("breaker_failures", breaker_failures, 0, 1000000),
    S_UINT("breaker_open_ms", breaker_open_ms, 0, 3600000),
    S_UINT("breaker_open_max_ms", breaker_open_max_ms, 0, 86400000),
    S_UINT("health_interval_ms", health_interval_ms, 0, 3600000),
    S_UINT("events_max_bytes", events_max_bytes, 0, 68719476736ull),
    S_UINT("events_max_batch", events_max_batch, 0, 100000),
    {.name = NULL},
};

int hmq_config_section_find(const char *name)
{
    for (int s = 0; s < HMQ_SECTION_TOP_COUNT; s++)
        if (strcmp(hmq_config_sections[s], name) == 0) return s;
    return -1;
}

const hmq_config_key_t *hmq_config_key_find(int section, const char *name)
{
    for (const hmq_config_key_t *k = hmq_config_keys; k->name; k++)
        if (k->section == section && strcmp(k->name, name) == 0) return k;
    return NULL;
}

const hmq_config_key_t *hmq_config_entries_key(int entries)
{
    for (const hmq_config_key_t *k = hmq_config_keys; k->name; k++)
        if (k->type == HMQ_KEY_ENTRIES && k->entries == entries) return k;
    return NULL;
}

unsigned hmq_config_key_slot(const hmq_config_key_t *k)
{
    unsigned slot = 0;
    for (const hmq_config_key_t *p = hmq_config_keys; p != k; p++)
        if (p->section == k->section) slot++;
    return slot;
}

/* Edit distance, capped: enough to catch typos such as max_pakcet_size. */
static unsigned distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) return 99;
    unsigned row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *hmq_config_key_suggest(int section, const char *name)
{
    const char *best = NULL;
    unsigned best_d = 3; /* suggest only within two edits */
    if (section < 0) {
        for (int s = 0; s < HMQ_SECTION_TOP_COUNT; s++) {
            unsigned d = distance(name, hmq_config_sections[s]);
            if (d < best_d) best_d = d, best = hmq_config_sections[s];
        }
        return best;
    }
    for (const hmq_config_key_t *k = hmq_config_keys; k->name; k++) {
        if (k->section != section) continue;
        unsigned d = distance(name, k->name);
        if (d < best_d) best_d = d, best = k->name;
    }
    return best;
}

const char *hmq_config_quote(const char *s, char *buf, size_t len)
{
    size_t o = 0, max = len - 4;
    for (; *s && o < max; s++)
        buf[o++] = (char)((*s >= 0x20 && *s < 0x7f) ? *s : '?');
    if (*s) buf[o++] = '.', buf[o++] = '.', buf[o++] = '.';
    buf[o] = 0;
    return buf;
}

/* Decimal digits only: no sign, no spaces, no 0x, no exponent. Saturates at UINT64_MAX. */
static bool parse_uint(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        unsigned d = (unsigned)(*s - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    *out = v;
    return true;
}

static int parse_bool(const char *s)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) return 1;
        if (strcasecmp(s, no[i]) == 0) return 0;
    }
    return -1;
}

static void store_uint(void *p, size_t size, uint64_t v)
{
    switch (size) {
    case 1:
        *(uint8_t *)p = (uint8_t)v;
        break;
    case 2:
        *(uint16_t *)p = (uint16_t)v;
        break;
    case 4:
        *(uint32_t *)p = (uint32_t)v;
        break;
    default:
        *(uint64_t *)p = v;
        break;
    }
}

/* "a, b,c": items separated by commas, spaces around them ignored ("a,,b" has an empty one). */
static int set_list_text(const hmq_config_key_t *k, void *base, const char *text, char *msg,
                         size_t msglen)
{
    static const char space[] = " \t\r\n";
    char *copy = strdup(text);
    const char *items[64];
    size_t n = 0;
    if (!copy) return -ENOMEM;
    for (char *p = copy;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        p += strspn(p, space);
        for (char *e = p + strlen(p); e > p && strchr(space, e[-1]); e--)
            e[-1] = 0;
        if (n == sizeof items / sizeof *items) {
            free(copy);
            snprintf(msg, msglen, "has more than %zu items", sizeof items / sizeof *items);
            return -EINVAL;
        }
        items[n++] = p;
        if (!comma) break;
        p = comma + 1;
    }
    int rc = hmq_config_key_set_list(k, base, items, n, msg, msglen);
    free(copy);
    return rc;
}

int hmq_config_key_set(const hmq_config_key_t *k, void *base, const char *text, char *msg,
                       size_t msglen)
{
    char *field = (char *)base + k->offset;
    char q[48];
    uint64_t v;
    int b;

    if (!*text) {
        snprintf(msg, msglen, "has no value");
        return -EINVAL;
    }
    switch (k->type) {
    case HMQ_KEY_UINT:
        if (!parse_uint(text, &v)) {
            snprintf(msg, msglen, "expected an unsigned integer, got '%s'",
                     hmq_config_quote(text, q, sizeof q));
            return -EINVAL;
        }
        if (v < k->min || v > k->max) {
            snprintf(msg, msglen, "must be between %llu and %llu", (unsigned long long)k->min,
                     (unsigned long long)k->max);
            return -EINVAL;
        }
        store_uint(field, k->size, v);
        return 0;
    case HMQ_KEY_BOOL:
        if ((b = parse_bool(text)) < 0) {
            snprintf(msg, msglen, "expected true or false, got '%s'",
                     hmq_config_quote(text, q, sizeof q));
            return -EINVAL;
        }
        *(bool *)field = b;
        return 0;
    case HMQ_KEY_ENUM: {
        for (unsigned i = 0; k->names[i]; i++) {
            if (strcasecmp(text, k->names[i]) == 0) {
                store_uint(field, k->size, i);
                return 0;
            }
        }
        size_t n = (size_t)snprintf(msg, msglen, "expected one of");
        for (unsigned i = 0; k->names[i] && n < msglen; i++)
            n += (size_t)snprintf(msg + n, msglen - n, "%s %s", i ? "," : "", k->names[i]);
        if (n < msglen)
            snprintf(msg + n, msglen - n, ", got '%s'", hmq_config_quote(text, q, sizeof q));
        return -EINVAL;
    }
    case HMQ_KEY_STRING: {
        const char *why = k->check ? k->check(text) : NULL;
        if (why) {
            snprintf(msg, msglen, "%s, got '%s'", why, hmq_config_quote(text, q, sizeof q));
            return -EINVAL;
        }
        char *copy = strdup(text);
        if (!copy) return -ENOMEM;
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case HMQ_KEY_LIST:
        return set_list_text(k, base, text, msg, msglen);
    case HMQ_KEY_ENTRIES:
        snprintf(msg, msglen, "is a list of entries: set their keys one by one");
        return -EINVAL;
    }
    return -EINVAL;
}

void hmq_config_list_free(hmq_config_list_t *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int hmq_config_key_set_list(const hmq_config_key_t *k, void *base, const char *const *items,
                            size_t n, char *msg, size_t msglen)
{
    char q[48];
    if (n == 0) {
        snprintf(msg, msglen, "has no value");
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *why = !*items[i] ? "an item is empty" : k->check ? k->check(items[i]) : NULL;
        if (why) {
            snprintf(msg, msglen, "%s, got '%s'", why, hmq_config_quote(items[i], q, sizeof q));
            return -EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(items[i], items[j]) == 0) {
                snprintf(msg, msglen, "'%s' is listed twice",
                         hmq_config_quote(items[i], q, sizeof q));
                return -EINVAL;
            }
        }
    }
    hmq_config_list_t l = {.v = calloc(n, sizeof(char *))};
    if (!l.v) return -ENOMEM;
    for (; l.n < n; l.n++) {
        if (!(l.v[l.n] = strdup(items[l.n]))) {
            hmq_config_list_free(&l);
            return -ENOMEM;
        }
    }
    hmq_config_list_t *field = (hmq_config_list_t *)((char *)base + k->offset);
    hmq_config_list_free(field);
    *field = l;
    return 0;
}
