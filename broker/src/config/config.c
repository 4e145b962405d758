/* config.c - the embedded defaults, hmq_config_load() (defaults, then the YAML file, then
 * HOOKMQ_* environment overrides, then checks across keys) and hmq_config_free().
 *
 * Called by main.c at start-up and for --check-config. The passes themselves are in
 * config_yaml.c and config_env.c; the keys and value parsing in config_keys.c.
 */
#include "config/config_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FILE_SIZE (1u << 20) /* a configuration file is a few kilobytes */

int hmq_config_listener_init(hmq_listener_config_t *l)
{
    *l = (hmq_listener_config_t){.kind = HMQ_LISTENER_TCP,
                                 .port = 1883,
                                 .max_connections = 0,
                                 .tls_session_tickets = true,
                                 .tls_session_cache_size = 0,
                                 .tls_session_timeout_s = 7200};
    l->bind = strdup("127.0.0.1");
    return l->bind ? 0 : -ENOMEM;
}

void hmq_config_defaults(hmq_config_t *cfg)
{
    *cfg = (hmq_config_t){
        .workers = 0,
        .sys_interval = 10,
        .listener_count = 1,
        .max_connections = 0,
        .max_packet_size = 1048576,
        .max_inflight = 64,
        .max_queued = 1000,
        .queue_policy = HMQ_QUEUE_DROP_NEWEST,
        .max_topic_length = 1024,
        .max_topic_levels = 32,
        .connect_timeout_ms = 10000,
        .max_keepalive = 0,
        .topic_alias_maximum = 64,
        .max_session_expiry = UINT32_MAX,
        .max_subscriptions = 0,
        .max_outbuf = 4194304,
        .maximum_qos = 2,
        .retain_available = true,
        .wildcard_subscriptions = true,
        .shared_subscriptions = true,
        .subscription_identifiers = true,
        .allow_anonymous = true,
        .allow_zero_length_client_id = true,
        .log_level = HMQ_LOG_INFO,
        .log_format = HMQ_LOG_FMT_LOGFMT,
        .hooks_auth_deadline_ms = 500,
        .hooks_on_failure = HMQ_HOOK_FAIL_DENY,
        .hooks_resolution = HMQ_HOOK_DENY_WINS,
        .hooks_default = {[HMQ_CFG_AUTHENTICATE] = HMQ_HOOK_DEFAULT_DENY,
                          [HMQ_CFG_AUTHORIZE] = HMQ_HOOK_DEFAULT_DENY,
                          [HMQ_CFG_ON_PUBLISH] = HMQ_HOOK_DEFAULT_ALLOW,
                          [HMQ_CFG_ON_SUBSCRIBE] = HMQ_HOOK_DEFAULT_ALLOW},
        .hooks_cache_max_entries = 100000,
        .hooks_cache_stale_ttl_ms = 300000,
        .hooks_max_inflight = 64,
    };
    hmq_config_listener_init(&cfg->listeners[0]);
    cfg->listeners[0].name = strdup("default");
}

void hmq_config_free_listeners(hmq_config_t *cfg)
{
    for (uint32_t i = 0; i < cfg->listener_count && i < HMQ_MAX_LISTENERS; i++) {
        hmq_listener_config_t *l = &cfg->listeners[i];
        char **strings[] = {&l->name,         &l->bind,
                            &l->ws_path,      &l->tls_cert_file,
                            &l->tls_key_file, &l->tls_key_passphrase,
                            &l->tls_ca_file,  &l->tls_crl_file,
                            &l->tls_ciphers,  &l->tls_ciphersuites,
                            &l->tls_groups,   &l->tls_sni_certs};
        for (size_t k = 0; k < sizeof strings / sizeof *strings; k++) {
            if (*strings[k] == l->tls_key_passphrase && l->tls_key_passphrase)
                explicit_bzero(l->tls_key_passphrase, strlen(l->tls_key_passphrase));
            free(*strings[k]);
            *strings[k] = NULL;
        }
    }
    cfg->listener_count = 0;
}

static void free_strings(char **const *strings, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free(*strings[k]);
        *strings[k] = NULL;
    }
}

void hmq_config_free(hmq_config_t *cfg)
{
    hmq_config_free_listeners(cfg);
    char **strings[] = {&cfg->hooks_server,        &cfg->hooks_tls_ca_file,
                        &cfg->hooks_tls_cert_file, &cfg->hooks_tls_key_file,
                        &cfg->hooks_password_file, &cfg->hooks_acl_file};
    free_strings(strings, sizeof strings / sizeof *strings);
    hmq_config_list_free(&cfg->hooks_endpoints);
    hmq_config_list_free(&cfg->hooks_chain);
    for (uint32_t i = 0; i < cfg->hook_server_count && i < HMQ_MAX_HOOK_SERVERS; i++) {
        hmq_hook_server_config_t *h = &cfg->hook_servers[i];
        char **server_strings[] = {&h->name, &h->tls_ca_file, &h->tls_cert_file, &h->tls_key_file,
                                   &h->tls_server_name};
        free_strings(server_strings, sizeof server_strings / sizeof *server_strings);
        hmq_config_list_free(&h->endpoints);
    }
    cfg->hook_server_count = 0;
}

void hmq_config_error(hmq_config_loader_t *ld, const hmq_config_origin_t *at, const char *key,
                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    ld->errors++;
    if (!ld->err || ld->errused + 1 >= ld->errlen) return;
    char *p = ld->err + ld->errused;
    size_t room = ld->errlen - ld->errused;
    const char *sep = ld->errused ? "\n" : "";
    int n;
    if (at && at->env) {
        char name[96], shown[96];
        snprintf(name, sizeof name, "%.*s", at->envlen, at->env);
        n = snprintf(p, room, "%senvironment %s: %s", sep,
                     hmq_config_quote(name, shown, sizeof shown), msg);
    } else if (at && at->file && key)
        n = snprintf(p, room, "%s%s:%u: %s: %s", sep, at->file, at->line, key, msg);
    else if (at && at->file)
        n = snprintf(p, room, "%s%s:%u: %s", sep, at->file, at->line, msg);
    else
        n = snprintf(p, room, "%s%s%s%s", sep, key ? key : "", key ? ": " : "", msg);
    ld->errused += (n < 0 || (size_t)n >= room) ? room - 1 : (size_t)n;
}

static void set_failed(hmq_config_loader_t *ld, int rc, const hmq_config_origin_t *at,
                       const char *path, const char *msg)
{
    if (rc == -ENOMEM)
        ld->oom = true;
    else
        hmq_config_error(ld, at, path, "%s", msg);
}

/* The struct that holds key k, where its origin is recorded, and its name in messages. */
static void *key_place(hmq_config_loader_t *ld, const hmq_config_key_t *k, unsigned entry,
                       hmq_config_origin_t **where, char *path, size_t pathlen)
{
    unsigned slot = hmq_config_key_slot(k);
    switch (k->section) {
    case HMQ_SECTION_LISTENERS:
        *where = &ld->listener_key_at[entry][slot];
        snprintf(path, pathlen, "listeners[%u].%s", entry, k->name);
        return &ld->cfg->listeners[entry];
    case HMQ_SECTION_HOOK_SERVERS:
        *where = &ld->server_key_at[entry][slot];
        snprintf(path, pathlen, "hooks.servers[%u].%s", entry, k->name);
        return &ld->cfg->hook_servers[entry];
    default:
        *where = &ld->key_at[k->section][slot];
        snprintf(path, pathlen, "%s.%s", hmq_config_sections[k->section], k->name);
        return ld->cfg;
    }
}

void hmq_config_set_key(hmq_config_loader_t *ld, const hmq_config_key_t *k, unsigned entry,
                        const char *text, const hmq_config_origin_t *at)
{
    char msg[256], path[64];
    hmq_config_origin_t *where;
    void *base = key_place(ld, k, entry, &where, path, sizeof path);
    *where = *at;
    int rc = hmq_config_key_set(k, base, text, msg, sizeof msg);
    if (rc < 0) {
        where->invalid = true;
        set_failed(ld, rc, at, path, msg);
    }
}

void hmq_config_set_key_list(hmq_config_loader_t *ld, const hmq_config_key_t *k, unsigned entry,
                             const char *const *items, size_t n, const hmq_config_origin_t *at)
{
    char msg[256], path[64];
    hmq_config_origin_t *where;
    void *base = key_place(ld, k, entry, &where, path, sizeof path);
    *where = *at;
    int rc = hmq_config_key_set_list(k, base, items, n, msg, sizeof msg);
    if (rc < 0) {
        where->invalid = true;
        set_failed(ld, rc, at, path, msg);
    }
}

/* Two listeners on one port collide when their addresses are equal or either is a wildcard. */
static bool addresses_collide(const char *a, const char *b)
{
    unsigned char x[16] = {0}, y[16] = {0}, any[16] = {0};
    int fx = inet_pton(AF_INET, a, x) == 1 ? 4 : inet_pton(AF_INET6, a, x) == 1 ? 16 : 0;
    int fy = inet_pton(AF_INET, b, y) == 1 ? 4 : inet_pton(AF_INET6, b, y) == 1 ? 16 : 0;
    if (!fx || !fy) return false;
    if (memcmp(x, any, 16) == 0 || memcmp(y, any, 16) == 0) return true;
    return fx == fy && memcmp(x, y, 16) == 0;
}

/* Checks on the final listener list: every one has a name (a listener from the file may get it
 * from the environment), names are unique, no two listen on the same address and port. */
static void check_listeners(hmq_config_loader_t *ld)
{
    const hmq_config_key_t *kname = hmq_config_key_find(HMQ_SECTION_LISTENERS, "name");
    const hmq_config_key_t *kport = hmq_config_key_find(HMQ_SECTION_LISTENERS, "port");
    const hmq_config_key_t *kbind = hmq_config_key_find(HMQ_SECTION_LISTENERS, "bind");
    unsigned sn = hmq_config_key_slot(kname), sp = hmq_config_key_slot(kport);
    unsigned sb = hmq_config_key_slot(kbind);
    const hmq_config_t *cfg = ld->cfg;
    char path[64];

    for (unsigned i = 0; i < cfg->listener_count; i++) {
        const hmq_listener_config_t *l = &cfg->listeners[i];
        const hmq_config_origin_t *at = ld->listener_key_at[i];
        if (!l->name && !at[sn].line && !at[sn].env)
            hmq_config_error(ld, &ld->listener_at[i], NULL, "listeners[%u]: name is required", i);
        bool tls = l->kind == HMQ_LISTENER_TLS || l->kind == HMQ_LISTENER_WSS;
        if (tls && (!l->tls_cert_file || !l->tls_key_file))
            hmq_config_error(ld, &ld->listener_at[i], NULL,
                             "listeners[%u]: type %s needs tls_cert_file and tls_key_file", i,
                             l->kind == HMQ_LISTENER_TLS ? "tls" : "wss");
        if (l->ws_path && l->ws_path[0] != '/')
            hmq_config_error(ld, &ld->listener_at[i], NULL,
                             "listeners[%u]: ws_path must start with '/'", i);
        if (tls && l->tls_client_cert != HMQ_TLS_CERT_NONE && !l->tls_ca_file)
            hmq_config_error(ld, &ld->listener_at[i], NULL,
                             "listeners[%u]: tls_client_cert %s needs tls_ca_file", i,
                             l->tls_client_cert == HMQ_TLS_CERT_REQUIRED ? "required" : "optional");
        for (unsigned j = 0; j < i; j++) {
            const hmq_listener_config_t *o = &cfg->listeners[j];
            const hmq_config_origin_t *oat = ld->listener_key_at[j];
            if (l->name && o->name && !at[sn].invalid && !oat[sn].invalid &&
                strcmp(l->name, o->name) == 0) {
                snprintf(path, sizeof path, "listeners[%u].name", i);
                hmq_config_error(ld, at[sn].line || at[sn].env ? &at[sn] : &ld->listener_at[i],
                                 path, "listener name '%s' is already used by listeners[%u]",
                                 l->name, j);
            }
            if (l->port && l->port == o->port && !at[sp].invalid && !oat[sp].invalid &&
                !at[sb].invalid && !oat[sb].invalid && addresses_collide(l->bind, o->bind)) {
                snprintf(path, sizeof path, "listeners[%u].port", i);
                hmq_config_error(ld, at[sp].line || at[sp].env ? &at[sp] : &ld->listener_at[i],
                                 path, "%s port %u collides with listener '%s' on %s port %u",
                                 l->bind, l->port, o->name ? o->name : "?", o->bind, o->port);
            }
        }
    }
}

/* ---- hooks: servers, the short form, the chain --------------------------------------------- */

static const char *const hook_names[HMQ_CFG_HOOKS] = {"authenticate", "authorize", "on_publish",
                                                      "on_subscribe"};

/* Where key `name` of hooks (entry < 0) or of hooks.servers[entry] was set; NULL if it was not. */
static const hmq_config_origin_t *given(const hmq_config_loader_t *ld, int entry, const char *name)
{
    int section = entry < 0 ? HMQ_SECTION_HOOKS : HMQ_SECTION_HOOK_SERVERS;
    const hmq_config_key_t *k = hmq_config_key_find(section, name);
    unsigned slot = hmq_config_key_slot(k);
    const hmq_config_origin_t *o =
        entry < 0 ? &ld->key_at[HMQ_SECTION_HOOKS][slot] : &ld->server_key_at[entry][slot];
    return o->line || o->env ? o : NULL;
}

/* Per-hook keys a server does not set take its deadline_ms and on_failure. */
static void resolve_hook_policy(hmq_config_loader_t *ld, unsigned i)
{
    hmq_hook_server_config_t *s = &ld->cfg->hook_servers[i];
    char key[64];
    for (int h = 0; h < HMQ_CFG_HOOKS; h++) {
        snprintf(key, sizeof key, "%s_on_failure", hook_names[h]);
        if (!given(ld, (int)i, key)) s->hook_on_failure[h] = s->on_failure;
        if (!s->hook_deadline_ms[h]) s->hook_deadline_ms[h] = s->deadline_ms;
    }
}

/* A client certificate comes with its key. `what`: "hooks" or "hooks.servers[i]". */
static void check_tls_pair(hmq_config_loader_t *ld, int entry, const hmq_config_origin_t *at,
                           const char *what, const char *cert, const char *key)
{
    const hmq_config_origin_t *c = given(ld, entry, "tls_cert_file");
    const hmq_config_origin_t *k = given(ld, entry, "tls_key_file");
    char path[64];
    if ((c && c->invalid) || (k && k->invalid)) return;
    if (cert && !key) {
        snprintf(path, sizeof path, "%s.tls_cert_file", what);
        hmq_config_error(ld, c ? c : at, path, "needs tls_key_file (the certificate's key)");
    }
    if (key && !cert) {
        snprintf(path, sizeof path, "%s.tls_key_file", what);
        hmq_config_error(ld, k ? k : at, path, "needs tls_cert_file");
    }
}

static void check_hook_servers(hmq_config_loader_t *ld)
{
    hmq_config_t *cfg = ld->cfg;
    char path[64];
    for (unsigned i = 0; i < cfg->hook_server_count; i++) {
        hmq_hook_server_config_t *s = &cfg->hook_servers[i];
        const hmq_config_origin_t *at = &ld->server_at[i], *name_at = given(ld, (int)i, "name");
        snprintf(path, sizeof path, "hooks.servers[%u]", i);
        if (!s->name && !name_at) hmq_config_error(ld, at, path, "name is required");
        if (!s->endpoints.n && !given(ld, (int)i, "endpoints"))
            hmq_config_error(ld, at, path, "endpoints is required (host:port or unix:/path)");
        check_tls_pair(ld, (int)i, at, path, s->tls_cert_file, s->tls_key_file);
        if (s->reconnect_initial_ms && s->reconnect_max_ms &&
            s->reconnect_initial_ms > s->reconnect_max_ms)
            hmq_config_error(ld, at, path, "reconnect_initial_ms is above reconnect_max_ms");
        if (s->breaker_open_ms && s->breaker_open_max_ms &&
            s->breaker_open_ms > s->breaker_open_max_ms)
            hmq_config_error(ld, at, path, "breaker_open_ms is above breaker_open_max_ms");
        resolve_hook_policy(ld, i);
        if (!s->name || (name_at && name_at->invalid)) continue;
        snprintf(path, sizeof path, "hooks.servers[%u].name", i);
        if (!strcmp(s->name, "password_file") || !strcmp(s->name, "acl_file"))
            hmq_config_error(ld, name_at ? name_at : at, path,
                             "'%s' is the name of a built-in provider", s->name);
        for (unsigned j = 0; j < i; j++) {
            const hmq_hook_server_config_t *o = &cfg->hook_servers[j];
            const hmq_config_origin_t *o_at = given(ld, (int)j, "name");
            if (o->name && !(o_at && o_at->invalid) && !strcmp(s->name, o->name))
                hmq_config_error(ld, name_at ? name_at : at, path,
                                 "hook server name '%s' is already used by hooks.servers[%u]",
                                 s->name, j);
        }
    }
}

/* The one-server short form (hooks.endpoints, ...) and hooks.servers exclude each other. */
static void check_short_form(hmq_config_loader_t *ld)
{
    static const char *const keys[] = {"endpoints",     "server",       "tls_ca_file",
                                       "tls_cert_file", "tls_key_file", "authenticate_deadline_ms",
                                       "on_failure",    "mandatory"};
    const hmq_config_t *cfg = ld->cfg;
    char path[64];
    if (!cfg->hook_server_count) {
        check_tls_pair(ld, -1, NULL, "hooks", cfg->hooks_tls_cert_file, cfg->hooks_tls_key_file);
        return;
    }
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const hmq_config_origin_t *at = given(ld, -1, keys[i]);
        if (!at) continue;
        snprintf(path, sizeof path, "hooks.%s", keys[i]);
        if (i == 0)
            hmq_config_error(ld, at, path,
                             "hooks.endpoints (one server, short form) and hooks.servers cannot "
                             "be combined: list this server under hooks.servers");
        else
            hmq_config_error(ld, at, path,
                             "belongs to the one-server short form; with hooks.servers, set it "
                             "on each server");
    }
}

/* Every name in hooks.chain is a provider, and every provider is in it. */
static void check_chain(hmq_config_loader_t *ld)
{
    const hmq_config_t *cfg = ld->cfg;
    const hmq_config_origin_t *at = given(ld, -1, "chain");
    if (!at || at->invalid) return;
    const char *providers[HMQ_MAX_HOOK_SERVERS + 2];
    size_t n = 0;
    bool complete = true; /* every provider's name is known */
    for (unsigned i = 0; i < cfg->hook_server_count; i++) {
        if (cfg->hook_servers[i].name)
            providers[n++] = cfg->hook_servers[i].name;
        else
            complete = false;
    }
    if (!cfg->hook_server_count && cfg->hooks_endpoints.n)
        providers[n++] = cfg->hooks_server ? cfg->hooks_server : "hooks";
    if (cfg->hooks_password_file) providers[n++] = "password_file";
    if (cfg->hooks_acl_file) providers[n++] = "acl_file";

    for (uint32_t c = 0; c < cfg->hooks_chain.n; c++) {
        const char *name = cfg->hooks_chain.v[c];
        size_t p = 0;
        while (p < n && strcmp(providers[p], name) != 0)
            p++;
        if (p < n) continue;
        if (!strcmp(name, "password_file") || !strcmp(name, "acl_file"))
            hmq_config_error(ld, at, "hooks.chain",
                             "'%s' is a built-in provider, but hooks.%s is not set", name, name);
        else
            hmq_config_error(ld, at, "hooks.chain",
                             "'%s' is not a hook server name (nor password_file, acl_file)", name);
    }
    for (size_t p = 0; complete && p < n; p++) {
        uint32_t c = 0;
        while (c < cfg->hooks_chain.n && strcmp(providers[p], cfg->hooks_chain.v[c]) != 0)
            c++;
        if (c == cfg->hooks_chain.n)
            hmq_config_error(ld, at, "hooks.chain",
                             "does not list '%s': every hook server and built-in provider needs "
                             "its place in the chain",
                             providers[p]);
    }
}

static void check_hooks(hmq_config_loader_t *ld)
{
    check_hook_servers(ld);
    check_short_form(ld);
    check_chain(ld);
}

int hmq_config_load_data(hmq_config_t *cfg, const char *name, const char *data, size_t len,
                         char *const *envp, char *err, size_t errlen)
{
    hmq_config_loader_t *ld = calloc(1, sizeof *ld);
    if (err && errlen) err[0] = 0;
    hmq_config_defaults(cfg);
    if (!ld || !cfg->listeners[0].name || !cfg->listeners[0].bind) {
        free(ld);
        hmq_config_free(cfg);
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    ld->cfg = cfg;
    ld->err = err;
    ld->errlen = errlen;

    if (data && len) hmq_config_apply_yaml(ld, name ? name : "<config>", data, len);
    hmq_config_apply_env(ld, envp);
    if (!ld->oom) check_listeners(ld);
    if (!ld->oom) check_hooks(ld);

    int rc = ld->oom ? -ENOMEM : ld->errors ? -EINVAL : 0;
    if (ld->oom && err && errlen) snprintf(err, errlen, "out of memory");
    free(ld);
    if (rc < 0) hmq_config_free(cfg);
    return rc;
}

/* Read the whole file (a pipe or /dev/stdin works too). */
static int read_file(const char *path, char **out, size_t *outlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : -ENOMEM;
    while (rc == 0) {
        if (len == cap) {
            char *bigger = cap >= MAX_FILE_SIZE ? NULL : realloc(buf, cap * 2);
            if (!bigger) {
                rc = cap >= MAX_FILE_SIZE ? -EFBIG : -ENOMEM;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) rc = -errno;
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

int hmq_config_load(hmq_config_t *cfg, const char *path, char *const *envp, char *err,
                    size_t errlen)
{
    if (!path) return hmq_config_load_data(cfg, NULL, NULL, 0, envp, err, errlen);

    char *data = NULL;
    size_t len = 0;
    int rc = read_file(path, &data, &len);
    if (rc < 0) {
        *cfg = (hmq_config_t){0};
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot read: %s", path,
                     rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
        return rc;
    }
    rc = hmq_config_load_data(cfg, path, data, len, envp, err, errlen);
    free(data);
    return rc;
}
