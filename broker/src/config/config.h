/* config.h - the broker's configuration: one struct, its embedded defaults, YAML loading,
 * HOOKMQ_<SECTION>__<KEY> environment overrides and validation.
 *
 * Called by main.c at start-up (and on --check-config). Everything else reads the resulting
 * hmq_config_t, which is immutable once loaded. docs/configuration.md documents every key.
 */
#ifndef HMQ_CONFIG_H
#define HMQ_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HMQ_MAX_LISTENERS 32

typedef enum {
    HMQ_LISTENER_TCP = 0,
    HMQ_LISTENER_TLS = 1,
    HMQ_LISTENER_WS = 2,
    HMQ_LISTENER_WSS = 3
} hmq_listener_kind_t;
typedef enum {
    HMQ_TLS_CERT_NONE = 0,
    HMQ_TLS_CERT_OPTIONAL,
    HMQ_TLS_CERT_REQUIRED
} hmq_tls_cert_mode_t;
typedef enum { HMQ_TLS_MIN_1_2 = 0, HMQ_TLS_MIN_1_3 } hmq_tls_min_t;
typedef enum { HMQ_CERT_ID_NONE = 0, HMQ_CERT_ID_CN, HMQ_CERT_ID_SAN } hmq_cert_id_t;

typedef struct {
    char *name;               /* "default" */
    hmq_listener_kind_t kind; /* tcp (tls, ws, wss come with the transports issue) */
    char *bind;               /* "127.0.0.1" */
    uint16_t port;            /* 1883; 0 = pick a free port (tests), reported in the log */
    uint32_t max_connections; /* 0 = unlimited (bounded by the process descriptor limit) */
    /* type: tls (docs/security.md) */
    char *tls_cert_file; /* PEM chain, leaf first */
    char *tls_key_file;
    char *tls_key_passphrase;
    char *tls_ca_file; /* CAs of client certificates */
    char *tls_crl_file;
    hmq_tls_cert_mode_t tls_client_cert;
    hmq_tls_min_t tls_min_version;
    char *tls_ciphers;      /* TLS 1.2 list; NULL = safe default */
    char *tls_ciphersuites; /* TLS 1.3 suites; NULL = safe default */
    char *tls_groups;
    hmq_cert_id_t tls_client_id_from; /* take the MQTT client id from the certificate */
    char *tls_sni_certs;      /* "name:cert:key[,name:cert:key...]": extra certificates by SNI */
    bool tls_session_tickets; /* resumption with stateless tickets; default true */
    uint32_t tls_session_cache_size; /* server-side session cache entries; 0 = off */
    uint32_t tls_session_timeout_s;  /* how long a session may be resumed; default 7200 */
    /* type: ws, wss */
    char *ws_path;           /* HTTP path of the upgrade; default /mqtt */
    bool ws_trust_forwarded; /* X-Forwarded-For / Forwarded name the client (trusted proxy) */
    /* PROXY protocol v1/v2 from a load balancer (mandatory on the listener when on) */
    bool proxy_protocol;
    /* admission control, checked before any TLS work (0 = no limit) */
    uint32_t max_connect_rate;        /* new connections per second, whole listener */
    uint32_t max_connect_rate_per_ip; /* new connections per second from one address */
} hmq_listener_config_t;

typedef enum {
    HMQ_LOG_TRACE,
    HMQ_LOG_DEBUG,
    HMQ_LOG_INFO,
    HMQ_LOG_WARN,
    HMQ_LOG_ERROR
} hmq_log_level_t;
typedef enum { HMQ_LOG_FMT_LOGFMT, HMQ_LOG_FMT_JSON } hmq_log_format_t;
typedef enum { HMQ_QUEUE_DROP_NEWEST, HMQ_QUEUE_DROP_OLDEST } hmq_queue_policy_t;
typedef enum {
    HMQ_HOOK_FAIL_DENY = 0,
    HMQ_HOOK_FAIL_ALLOW,
    HMQ_HOOK_FAIL_CONTINUE,
    HMQ_HOOK_FAIL_STALE
} hmq_hook_on_failure_t;
typedef enum { HMQ_HOOK_DENY_WINS = 0, HMQ_HOOK_FIRST_DECISION } hmq_hook_resolution_t;
typedef enum { HMQ_HOOK_DEFAULT_DENY = 0, HMQ_HOOK_DEFAULT_ALLOW } hmq_hook_default_t;
/* Hooks with a decision, as indexes of the per-hook arrays (the order of hmq_hook_t). */
enum {
    HMQ_CFG_AUTHENTICATE,
    HMQ_CFG_AUTHORIZE,
    HMQ_CFG_ON_PUBLISH,
    HMQ_CFG_ON_SUBSCRIBE,
    HMQ_CFG_HOOKS
};

#define HMQ_MAX_HOOK_SERVERS 16

/* A list of strings: in YAML a list, or one comma-separated string (also in the environment). */
typedef struct {
    char **v;
    uint32_t n;
} hmq_config_list_t;

/* One entry of hooks.servers (docs/hooks.md). 0 = the engine's default for every number. */
typedef struct {
    char *name;                  /* unique among servers; logs, metrics, handshake */
    hmq_config_list_t endpoints; /* "host:port", "ipv4:1.2.3.4:5", "unix:/path" */
    char *tls_ca_file;           /* TLS to the server (unset = plaintext) */
    char *tls_cert_file;         /* mTLS client certificate, with tls_key_file */
    char *tls_key_file;
    char *tls_server_name; /* name checked in the server certificate; unset = the host */
    bool mandatory;        /* refuse clients (server unavailable) until it handshook */
    uint32_t deadline_ms;  /* every hook, unless hook_deadline_ms says otherwise */
    hmq_hook_on_failure_t on_failure;
    /* Per hook (HMQ_CFG_*). After loading they hold the effective values: a hook without its
     * own key takes deadline_ms and on_failure. */
    uint32_t hook_deadline_ms[HMQ_CFG_HOOKS];
    hmq_hook_on_failure_t hook_on_failure[HMQ_CFG_HOOKS];
    uint32_t reconnect_initial_ms, reconnect_max_ms;
    uint32_t max_batch;
    uint32_t breaker_failures, breaker_open_ms, breaker_open_max_ms;
    uint32_t health_interval_ms;
    uint64_t events_max_bytes;
    uint32_t events_max_batch;
} hmq_hook_server_config_t;

typedef struct {
    /* broker: */
    uint32_t workers;      /* 0 = number of online CPUs */
    uint32_t sys_interval; /* seconds between $SYS updates; 0 disables $SYS */

    hmq_listener_config_t listeners[HMQ_MAX_LISTENERS];
    uint32_t listener_count;

    /* limits: */
    uint32_t max_connections; /* broker-wide; 0 = unlimited */
    uint32_t max_packet_size; /* bytes, 268435460 max; default 1 MiB */
    uint16_t max_inflight;    /* per session, outbound QoS 1/2 window; also our Receive Maximum */
    uint32_t max_queued;      /* per session, messages queued while offline or window full */
    hmq_queue_policy_t queue_policy;
    uint32_t max_topic_length; /* bytes */
    uint32_t max_topic_levels;
    uint32_t connect_timeout_ms;  /* time allowed between accept and CONNECT */
    uint16_t max_keepalive;       /* seconds; 0 = no maximum. v5 gets Server Keep Alive */
    uint16_t topic_alias_maximum; /* v5 Topic Alias Maximum we accept from clients */
    uint32_t max_session_expiry;  /* seconds; cap on v5 session expiry (and v3 persistent) */
    uint32_t max_subscriptions;   /* per session; 0 = unlimited */
    size_t max_outbuf;            /* bytes of unsent data per connection before QoS 0 drops */
    uint8_t maximum_qos;          /* 0..2 */
    bool retain_available;
    bool wildcard_subscriptions;
    bool shared_subscriptions;
    bool subscription_identifiers;
    bool allow_anonymous; /* no authentication configured: accept all */
    bool allow_zero_length_client_id;

    /* log: */
    hmq_log_level_t log_level;
    hmq_log_format_t log_format;

    /* hooks (docs/hooks.md), short form: one server; no endpoints = none */
    char *hooks_server;                /* its name in logs and metrics */
    hmq_config_list_t hooks_endpoints; /* "host:port", ... or "unix:/path" */
    char *hooks_tls_ca_file;           /* TLS to the hook server (unset = plaintext) */
    char *hooks_tls_cert_file;         /* mTLS client certificate */
    char *hooks_tls_key_file;
    uint32_t hooks_auth_deadline_ms;
    hmq_hook_on_failure_t hooks_on_failure;
    bool hooks_mandatory; /* refuse clients (server unavailable) until it handshook */
    /* hooks.servers: hook servers, in file order (the short form above is the other way) */
    hmq_hook_server_config_t hook_servers[HMQ_MAX_HOOK_SERVERS];
    uint32_t hook_server_count;
    hmq_config_list_t hooks_chain; /* provider order; empty = built-ins, then servers */
    hmq_hook_resolution_t hooks_resolution;
    hmq_hook_default_t hooks_default[HMQ_CFG_HOOKS]; /* when every provider says CONTINUE */
    uint32_t hooks_cache_max_entries;
    uint32_t hooks_cache_stale_ttl_ms;
    uint16_t hooks_max_inflight; /* publishes of one connection waiting for hooks */
    char *hooks_password_file;   /* built-in provider "password_file" */
    char *hooks_acl_file;        /* built-in provider "acl_file" */
} hmq_config_t;

/* Fill cfg with the embedded defaults (serve on 127.0.0.1:1883). The listener strings are
 * allocated: release them with hmq_config_free. */
void hmq_config_defaults(hmq_config_t *cfg);

/* Load `path` (NULL = defaults only), then apply HOOKMQ_* variables from `envp` (may be NULL),
 * then validate. On error returns a negative value and writes "file:line: message" lines into
 * err (NUL terminated, truncated to errlen).
 *
 * cfg need not be initialised. Errors: -EINVAL (every problem found, one per line; variables as
 * "environment HOOKMQ_X__Y: message"), -ENOMEM, or -errno when the file cannot be read. On error
 * cfg holds nothing to free (hmq_config_free is harmless); on success the caller frees it. */
int hmq_config_load(hmq_config_t *cfg, const char *path, char *const *envp, char *err,
                    size_t errlen);

/* The same with the YAML text in memory; `name` stands for the file in messages. For tests,
 * fuzzing and configuration that does not come from a file. */
int hmq_config_load_data(hmq_config_t *cfg, const char *name, const char *data, size_t len,
                         char *const *envp, char *err, size_t errlen);

/* One entry of a listener's tls_sni_certs. */
typedef struct {
    const char *server_name; /* "mqtt.example.com" or "*.example.com" */
    const char *cert_file;
    const char *key_file;
} hmq_config_sni_t;
#define HMQ_MAX_SNI_CERTS 64

/* Split tls_sni_certs text in place (buf is a writable copy): entries "name:cert_file:key_file"
 * separated by commas and/or whitespace. Returns the number of entries (pointers into buf), or
 * -1 with what is wrong in *why. */
int hmq_config_sni_split(char *buf, hmq_config_sni_t *out, size_t max, const char **why);

/* Release the strings owned by cfg. */
void hmq_config_free(hmq_config_t *cfg);

#endif
