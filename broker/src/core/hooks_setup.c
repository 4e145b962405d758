/* hooks_setup.c - turns the hooks section of the configuration into a running hook engine
 * (see hooks_setup.h): one hmq_hooks_server_config_t per configured server, the built-in
 * providers, the chain, resolution, default decisions and cache; then hmq_hooks_start().
 *
 * Called by hmq_auth_engine_start() (auth.c). The engine copies its configuration: nothing built
 * here outlives the call.
 */
#include "core/hooks_setup.h"

#include <stdio.h>
#include <string.h>

#include "hookmq/hooks.h"
#include "hookmq/providers.h"
#include "util/log.h"

/* The engine's hook of each HMQ_CFG_* index. */
static const hmq_hook_t hook_of[HMQ_CFG_HOOKS] = {
    [HMQ_CFG_AUTHENTICATE] = HMQ_HOOK_AUTHENTICATE,
    [HMQ_CFG_AUTHORIZE] = HMQ_HOOK_AUTHORIZE,
    [HMQ_CFG_ON_PUBLISH] = HMQ_HOOK_ON_PUBLISH,
    [HMQ_CFG_ON_SUBSCRIBE] = HMQ_HOOK_ON_SUBSCRIBE,
};

static hmq_hooks_on_failure_t on_failure(hmq_hook_on_failure_t f)
{
    switch (f) {
    case HMQ_HOOK_FAIL_ALLOW:
        return HMQ_ON_FAILURE_ALLOW;
    case HMQ_HOOK_FAIL_CONTINUE:
        return HMQ_ON_FAILURE_CONTINUE;
    case HMQ_HOOK_FAIL_STALE:
        return HMQ_ON_FAILURE_STALE;
    default:
        return HMQ_ON_FAILURE_DENY;
    }
}

/* One entry of hooks.servers. Its per-hook values are already resolved by the config loader. */
static void server_from_entry(hmq_hooks_server_config_t *out, const hmq_hook_server_config_t *s)
{
    *out = (hmq_hooks_server_config_t){
        .name = s->name,
        .endpoints = (const char *const *)s->endpoints.v,
        .n_endpoints = s->endpoints.n,
        .tls_ca_file = s->tls_ca_file,
        .tls_cert_file = s->tls_cert_file,
        .tls_key_file = s->tls_key_file,
        .tls_server_name = s->tls_server_name,
        .reconnect_initial_ms = s->reconnect_initial_ms,
        .reconnect_max_ms = s->reconnect_max_ms,
        .max_batch = s->max_batch,
        .breaker_failures = s->breaker_failures,
        .breaker_open_ms = s->breaker_open_ms,
        .breaker_open_max_ms = s->breaker_open_max_ms,
        .health_interval_ms = s->health_interval_ms,
        .events_max_bytes = (size_t)s->events_max_bytes,
        .events_max_batch = s->events_max_batch,
    };
    out->policy.mandatory = s->mandatory;
    for (int h = 0; h < HMQ_CFG_HOOKS; h++) {
        out->policy.deadline_ms[hook_of[h]] = s->hook_deadline_ms[h];
        out->policy.on_failure[hook_of[h]] = on_failure(s->hook_on_failure[h]);
    }
}

/* The short form: hooks.endpoints, hooks.server, hooks.tls_*, ... define one server. */
static void server_from_short_form(hmq_hooks_server_config_t *out, const hmq_config_t *cfg)
{
    *out = (hmq_hooks_server_config_t){
        .name = cfg->hooks_server && *cfg->hooks_server ? cfg->hooks_server : "hooks",
        .endpoints = (const char *const *)cfg->hooks_endpoints.v,
        .n_endpoints = cfg->hooks_endpoints.n,
        .tls_ca_file = cfg->hooks_tls_ca_file,
        .tls_cert_file = cfg->hooks_tls_cert_file,
        .tls_key_file = cfg->hooks_tls_key_file,
    };
    out->policy.mandatory = cfg->hooks_mandatory;
    out->policy.deadline_ms[HMQ_HOOK_AUTHENTICATE] = cfg->hooks_auth_deadline_ms;
    for (int h = 0; h < HMQ_CFG_HOOKS; h++)
        out->policy.on_failure[hook_of[h]] = on_failure(cfg->hooks_on_failure);
}

/* names joined with commas into buf. */
static const char *join(const char *const *names, size_t count, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < count && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? "," : "", names[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    return buf;
}

/* The chain as the engine builds it: configured, or the built-ins then the servers. */
static const char *chain_text(const hmq_config_t *cfg, const hmq_hooks_server_config_t *servers,
                              size_t n, char *buf, size_t len)
{
    if (cfg->hooks_chain.n)
        return join((const char *const *)cfg->hooks_chain.v, cfg->hooks_chain.n, buf, len);
    const char *names[HMQ_MAX_HOOK_SERVERS + 2];
    size_t count = 0;
    if (cfg->hooks_password_file) names[count++] = "password_file";
    if (cfg->hooks_acl_file) names[count++] = "acl_file";
    for (size_t i = 0; i < n; i++)
        names[count++] = servers[i].name;
    return join(names, count, buf, len);
}

int hmq_hooks_setup(hmq_broker_t *b, uv_loop_t *home)
{
    const hmq_config_t *cfg = b->cfg;
    hmq_hooks_server_config_t servers[HMQ_MAX_HOOK_SERVERS];
    size_t n = 0;
    if (cfg->hook_server_count) {
        for (; n < cfg->hook_server_count && n < HMQ_MAX_HOOK_SERVERS; n++)
            server_from_entry(&servers[n], &cfg->hook_servers[n]);
    } else if (cfg->hooks_endpoints.n) {
        server_from_short_form(&servers[n++], cfg);
    }
    if (!n && !cfg->hooks_password_file && !cfg->hooks_acl_file) return 0; /* no hooks */

    const char *listeners[HMQ_MAX_LISTENERS];
    for (uint32_t i = 0; i < cfg->listener_count && i < HMQ_MAX_LISTENERS; i++)
        listeners[i] = cfg->listeners[i].name;
    hmq_hooks_config_t hc = {
        .node = "hookmq",
        .servers = servers,
        .n_servers = n,
        .chain = (const char *const *)cfg->hooks_chain.v,
        .n_chain = cfg->hooks_chain.n,
        .first_decision = cfg->hooks_resolution == HMQ_HOOK_FIRST_DECISION,
        .cache_max_entries = cfg->hooks_cache_max_entries,
        .cache_stale_ttl_ms = cfg->hooks_cache_stale_ttl_ms,
        .listeners = listeners,
        .n_listeners = cfg->listener_count,
    };
    for (int h = 0; h < HMQ_CFG_HOOKS; h++)
        hc.default_decision[hook_of[h]] = cfg->hooks_default[h] == HMQ_HOOK_DEFAULT_ALLOW
                                              ? HMQ_DECISION_ALLOW
                                              : HMQ_DECISION_DENY;

    const char *step = "engine";
    int rc = hmq_hooks_new(&b->hooks, home, &hc);
    if (rc == 0 && cfg->hooks_password_file) {
        step = "password_file";
        rc = hmq_passwd_provider_add(b->hooks, "password_file", cfg->hooks_password_file);
    }
    if (rc == 0 && cfg->hooks_acl_file) {
        step = "acl_file";
        rc = hmq_acl_provider_add(b->hooks, "acl_file", cfg->hooks_acl_file);
    }
    if (rc == 0) {
        step = "start";
        rc = hmq_hooks_start(b->hooks);
    }
    if (rc < 0) {
        LOG_ERROR("hooks_start_failed", "step=%s error=%d", step, rc);
        return rc;
    }
    char text[512];
    LOG_INFO("hooks_started", "servers=%zu chain=%s resolution=%s", n,
             chain_text(cfg, servers, n, text, sizeof text),
             hc.first_decision ? "first_decision" : "deny_wins");
    for (size_t i = 0; i < n; i++)
        LOG_INFO("hooks_server", "server=%s endpoints=%s tls=%d mandatory=%d", servers[i].name,
                 join(servers[i].endpoints, servers[i].n_endpoints, text, sizeof text),
                 servers[i].tls_ca_file != NULL, servers[i].policy.mandatory);
    return 0;
}

void hmq_hooks_reload(hmq_broker_t *b)
{
    const hmq_config_t *cfg = b->cfg;
    if (!b->hooks) return;
    if (cfg->hooks_password_file) hmq_passwd_provider_reload(b->hooks, "password_file");
    if (cfg->hooks_acl_file) hmq_acl_provider_reload(b->hooks, "acl_file");
}
