/* hooks.h - the hook engine: the broker's only interface to authentication and authorization
 * logic that lives outside the C core (hook servers over gRPC, built-in providers).
 *
 * Shape (libuv style): an engine (hmq_hooks_t) built from a configuration, one delivery handle
 * (hmq_hooks_loop_t) per worker loop, and requests (hmq_hooks_auth_req_t) owned by the caller,
 * with a `data` pointer and a completion callback that always runs on the loop the request was
 * started on. A worker never waits: a request is started from its loop thread and its callback
 * comes later (never from inside the start call).
 *
 * Threads: the engine owns one gRPC completion-queue thread. It never touches a loop except
 * through uv_async_send on a hmq_hooks_loop_t; everything else (chain, cache lookups, callbacks)
 * runs on loop threads. The cache and the metrics are shared by all loops (mutex / atomics).
 *
 * Life cycle:
 *   hmq_hooks_new(&h, home_loop, &cfg)      servers from cfg; nothing started yet
 *   hmq_hooks_add_provider(h, ...)          optional: built-in / test providers
 *   hmq_hooks_start(h)                      builds the chain, connects, handshakes (home loop)
 *   hmq_hooks_loop_init(h, loop, &hl)       once per worker loop, on that loop's thread
 *   ... hmq_hooks_authenticate(&hl, &req, cb) ...
 *   hmq_hooks_close(h)                      home loop: cancels calls, closes channels, joins
 *   hmq_hooks_loop_close(&hl)               each worker: remaining callbacks (HMQ_HOOKS_ECANCELED)
 *   (the engine memory goes when its home handle and every hmq_hooks_loop_t are closed)
 *
 * See docs/hooks.md for the configuration and the failure semantics this implements.
 */
#ifndef HMQ_HOOKS_H
#define HMQ_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Errors: 0 or one of these (negative). */
enum hmq_hooks_err {
    HMQ_HOOKS_EINVAL = -22,     /* bad configuration or argument */
    HMQ_HOOKS_ENOMEM = -12,     /* out of memory */
    HMQ_HOOKS_ECANCELED = -125, /* request cancelled (or engine closed) before an answer */
    HMQ_HOOKS_ESTATE = -1101,   /* call not valid in this state (e.g. before hmq_hooks_start) */
};

typedef enum {
    HMQ_HOOK_AUTHENTICATE = 0, /* CONNECT, MQTT 5 AUTH */
    HMQ_HOOK_AUTHORIZE,        /* publish / subscribe authorization */
    HMQ_HOOK_ON_PUBLISH,
    HMQ_HOOK_ON_SUBSCRIBE,
    HMQ_HOOK__COUNT
} hmq_hook_t;

typedef enum {
    HMQ_DECISION_CONTINUE = 1, /* no opinion (only seen by providers, never in a final result) */
    HMQ_DECISION_ALLOW = 2,
    HMQ_DECISION_DENY = 3,
} hmq_hooks_decision_t;

/* What a failed hook (deadline, unreachable, gRPC error, FAILURE answer) turns into. */
typedef enum {
    HMQ_ON_FAILURE_DENY = 0, /* CONNACK 0x88 server unavailable, other hooks 0x80 */
    HMQ_ON_FAILURE_ALLOW,    /* fail open */
    HMQ_ON_FAILURE_CONTINUE, /* as if the provider answered CONTINUE */
    HMQ_ON_FAILURE_STALE, /* last cached answer, even expired (<= cache_stale_ttl_ms); else deny */
} hmq_hooks_on_failure_t;

/* MQTT 5 reason codes the engine produces itself. */
#define HMQ_RC_UNSPECIFIED_ERROR 0x80
#define HMQ_RC_NOT_AUTHORIZED 0x87
#define HMQ_RC_SERVER_UNAVAILABLE 0x88
#define HMQ_RC_RETAIN_NOT_SUPPORTED 0x9A
#define HMQ_RC_QOS_NOT_SUPPORTED 0x9B

/* ------------------------------------------------------------------------------------------ */
/* Configuration (copied by hmq_hooks_new: the caller may free it afterwards)                  */
/* ------------------------------------------------------------------------------------------ */

/* Per provider: what the chain does when it cannot decide. Zero values take the defaults
 * (deadline: authenticate 500 ms, authorize/on_publish 200, on_subscribe 500; on_failure deny). */
typedef struct {
    uint32_t deadline_ms[HMQ_HOOK__COUNT];
    hmq_hooks_on_failure_t on_failure[HMQ_HOOK__COUNT];
    /* Answer "server unavailable" (0x88) until this provider has completed a handshake. */
    bool mandatory;
} hmq_hooks_policy_t;

/* One hook server (hooks.servers[] in the YAML). */
typedef struct {
    const char *name;             /* unique: logs, metrics, HandshakeRequest.server_name */
    const char *const *endpoints; /* "host:port", "ipv4:1.2.3.4:5", "unix:/path/sock" */
    size_t n_endpoints;
    /* TLS to the server; tls_ca_file NULL = plaintext (loopback, unix sockets). */
    const char *tls_ca_file;
    const char *tls_cert_file; /* client certificate (mTLS), optional */
    const char *tls_key_file;
    const char *tls_server_name; /* name checked in the server certificate, NULL = host */
    hmq_hooks_policy_t policy;
    /* Reconnection backoff of the channel (GRPC_ARG_{MIN,INITIAL,MAX}_RECONNECT_BACKOFF_MS).
     * 0 = 100 ms initial, 2000 ms max (gRPC's own max of 120 s turns outages into minutes). */
    uint32_t reconnect_initial_ms;
    uint32_t reconnect_max_ms;
} hmq_hooks_server_config_t;

typedef struct {
    const char *node;                         /* this broker node's name (metadata, handshake) */
    const hmq_hooks_server_config_t *servers; /* gRPC hook servers, in file order */
    size_t n_servers;
    /* Provider order by name (servers and added providers). NULL = added providers (built-ins)
     * in the order added, then servers in file order. */
    const char *const *chain;
    size_t n_chain;
    /* hooks.resolution: false = deny_wins (later providers are asked after an ALLOW and a DENY
     * overrides), true = first_decision (the first ALLOW or DENY ends the chain). */
    bool first_decision;
    /* hooks.default: the decision when every provider answered CONTINUE. Zero = DENY for
     * authenticate and authorize, ALLOW for on_publish and on_subscribe. */
    hmq_hooks_decision_t default_decision[HMQ_HOOK__COUNT];
    size_t cache_max_entries;     /* 0 = 100000 */
    uint32_t cache_stale_ttl_ms;  /* 0 = 300000 */
    const char *const *listeners; /* listener names sent in the handshake */
    size_t n_listeners;
} hmq_hooks_config_t;

typedef struct hmq_hooks hmq_hooks_t;

/* ------------------------------------------------------------------------------------------ */
/* Identity context                                                                            */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
    const char *key;
    const char *value;
} hmq_hooks_pair_t; /* MQTT 5 user property or a session attribute */

typedef struct {
    const char *version; /* "TLSv1.3" */
    const char *cipher;
    const char *sni; /* NULL/"" = none */
    const char *alpn;
    bool has_peer_certificate;
    const char *subject, *issuer, *common_name, *serial, *fingerprint_sha256;
    const char *const *san_dns;
    size_t n_san_dns;
    const char *const *san_ip;
    size_t n_san_ip;
    uint64_t not_before_unix_ms, not_after_unix_ms;
    const char *chain_pem; /* sent only to servers that asked for it (IdentityOptions.tls_chain) */
    bool via_proxy;
} hmq_hooks_tls_t;

/* Who is asking. Strings are NUL-terminated UTF-8 (MQTT forbids U+0000) and must stay valid
 * until the request's callback. */
typedef struct {
    const char *client_id;
    const char *username;     /* NULL = no username (distinct from "") */
    uint8_t protocol_version; /* 3, 4, 5 */
    const char *listener;
    const char *peer_address;
    uint16_t peer_port;
    uint16_t keepalive;
    bool clean_start;
    /* MQTT 5 CONNECT properties (has_properties false for MQTT 3). */
    bool has_properties;
    uint32_t session_expiry_interval, receive_maximum, maximum_packet_size;
    uint16_t topic_alias_maximum;
    bool request_response_information, request_problem_information;
    const char *authentication_method; /* NULL = none */
    const hmq_hooks_pair_t *user_properties;
    size_t n_user_properties;
    const hmq_hooks_tls_t *tls; /* NULL on plain TCP */
} hmq_hooks_client_t;

/* ------------------------------------------------------------------------------------------ */
/* Grants: an ACL from an authentication answer, enforced without any RPC (grants.c)          */
/* ------------------------------------------------------------------------------------------ */

typedef struct hmq_grants hmq_grants_t; /* immutable, reference-counted (atomic), any thread */

typedef enum { HMQ_ACTION_ALL = 0, HMQ_ACTION_PUBLISH = 1, HMQ_ACTION_SUBSCRIBE = 2 } hmq_action_t;

typedef enum {
    HMQ_GRANTS_NO_MATCH = 0, /* refuse (0x87), or ask authorize hooks if hmq_grants_fallthrough */
    HMQ_GRANTS_ALLOW,
    HMQ_GRANTS_DENY,
} hmq_grants_verdict_t;

typedef struct {
    const char *pattern; /* MQTT filter with %c, %u, %a{name} */
    hmq_action_t action;
    uint8_t max_qos; /* 0..2 (2 = no ceiling) */
    bool no_retain;
    bool deny;
} hmq_grant_rule_t;

/* Compile rules (copied). attrs: the session attributes for %a{name} (copied). NULL on bad
 * input (invalid pattern, max_qos > 2) or no memory. */
hmq_grants_t *hmq_grants_new(const hmq_grant_rule_t *rules, size_t n, bool fallthrough,
                             const hmq_hooks_pair_t *attrs, size_t n_attrs);
hmq_grants_t *hmq_grants_ref(hmq_grants_t *g);
void hmq_grants_unref(hmq_grants_t *g);
bool hmq_grants_fallthrough(const hmq_grants_t *g);
size_t hmq_grants_count(const hmq_grants_t *g);

/* First matching rule decides. Publish: topic is a topic name; qos above the rule's max_qos is
 * DENY with 0x9B, RETAIN on a no_retain rule DENY with 0x9A. Subscribe: topic is a filter, it
 * matches when the pattern covers it; *granted_qos gets the rule's ceiling (min with qos).
 * A deny rule gives 0x87. reason_code / granted_qos may be NULL. username NULL = none. */
hmq_grants_verdict_t hmq_grants_check(const hmq_grants_t *g, hmq_action_t action, const char *topic,
                                      uint8_t qos, bool retain, const char *client_id,
                                      const char *username, uint8_t *reason_code,
                                      uint8_t *granted_qos);

/* MQTT matching as the SDK's hookmq.filters defines it (also used for handshake filters). */
bool hmq_topic_matches(const char *filter, const char *topic);
bool hmq_filter_covers(const char *pattern, const char *filter);
bool hmq_filters_overlap(const char *a, const char *b);
bool hmq_glob_matches(const char *pattern, const char *value);

/* ------------------------------------------------------------------------------------------ */
/* Engine and loops                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* Per worker loop: where results of requests started on that loop are delivered. The struct is
 * public so that workers can embed it; its fields are private. */
typedef struct hmq_hooks_item hmq_hooks_item_t;
typedef struct hmq_hooks_loop {
    void *data;
    /* private */
    hmq_hooks_t *h;
    uv_async_t async;
    uv_mutex_t mu;
    hmq_hooks_item_t *head; /* pushed by any thread, drained by the loop */
    bool closing;
    void (*closed_cb)(struct hmq_hooks_loop *);
} hmq_hooks_loop_t;

int hmq_hooks_new(hmq_hooks_t **out, uv_loop_t *home, const hmq_hooks_config_t *cfg);
int hmq_hooks_start(hmq_hooks_t *h);
/* Home loop thread. Cancels every call, closes the channels, joins the gRPC thread: from then on
 * every outstanding request has been queued on its loop as cancelled. */
void hmq_hooks_close(hmq_hooks_t *h);

/* On the loop's thread. The engine stays alive until every loop handle is closed. */
int hmq_hooks_loop_init(hmq_hooks_t *h, uv_loop_t *loop, hmq_hooks_loop_t *hl);
/* After hmq_hooks_close(): runs the remaining callbacks, then closes the uv handle; cb (may be
 * NULL) runs when hl may be freed. */
void hmq_hooks_loop_close(hmq_hooks_loop_t *hl, void (*cb)(hmq_hooks_loop_t *));

/* Whether every mandatory provider has completed a handshake (listeners may accept CONNECTs). */
bool hmq_hooks_ready(hmq_hooks_t *h);

/* ------------------------------------------------------------------------------------------ */
/* Authenticate                                                                                */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
    hmq_hooks_decision_t decision; /* ALLOW or DENY */
    uint8_t reason_code;           /* DENY: >= 0x80 (0x87 default, 0x88 server unavailable) */
    const char *reason;            /* never NULL; "" = none; never a secret */
    const char *provider;          /* who decided; NULL = the configured default */
    bool by_policy;                /* an on_failure policy (or mandatory gating) decided */
    bool from_cache;
    /* ALLOW only. Borrowed: valid during the callback; hmq_grants_ref() to keep. */
    hmq_grants_t *grants; /* NULL = no grants: everything goes to authorize hooks */
    bool superuser;
    const hmq_hooks_pair_t *attributes;
    size_t n_attributes;
    uint64_t expires_unix_ms; /* credential expiry, 0 = none */
} hmq_hooks_auth_result_t;

typedef struct hmq_hooks_auth_req hmq_hooks_auth_req_t;
/* status 0: res is the decision. HMQ_HOOKS_ECANCELED: res is NULL. */
typedef void (*hmq_hooks_auth_cb)(hmq_hooks_auth_req_t *req, int status,
                                  const hmq_hooks_auth_result_t *res);

struct hmq_hooks_auth_req {
    void *data;
    /* Input, valid until the callback. */
    const hmq_hooks_client_t *client;
    const uint8_t *password; /* binary; never logged, hashed (HMAC) in cache keys */
    size_t password_len;
    bool has_password;
    /* private */
    struct hmq_auth_op *op;
};

/* Runs the chain for a CONNECT; cb runs later on hl's loop. */
int hmq_hooks_authenticate(hmq_hooks_loop_t *hl, hmq_hooks_auth_req_t *req, hmq_hooks_auth_cb cb);
/* The connection went away: cb still runs once, with HMQ_HOOKS_ECANCELED, as soon as the
 * provider call in flight has ended (gRPC calls are cancelled at once). */
void hmq_hooks_auth_cancel(hmq_hooks_auth_req_t *req);

/* ------------------------------------------------------------------------------------------ */
/* Metrics: per provider x hook, readable from any thread                                      */
/* ------------------------------------------------------------------------------------------ */

#define HMQ_HOOKS_LATENCY_BUCKETS 12
/* Upper bounds (ms) of the latency histogram buckets; the last one is +Inf. */
extern const uint32_t hmq_hooks_latency_bounds_ms[HMQ_HOOKS_LATENCY_BUCKETS - 1];

typedef struct {
    uint64_t calls;       /* calls started (RPCs or provider calls) */
    uint64_t failures;    /* every failed call, timeouts included */
    uint64_t timeouts;    /* deadline exceeded */
    uint64_t unavailable; /* server unreachable / not handshaken */
    uint64_t cache_hits;
    uint64_t in_flight;
    uint64_t latency[HMQ_HOOKS_LATENCY_BUCKETS]; /* completed calls, per bucket (not cumulative) */
} hmq_hooks_metrics_t;

size_t hmq_hooks_provider_count(const hmq_hooks_t *h);
const char *hmq_hooks_provider_name(const hmq_hooks_t *h, size_t i); /* chain order */
/* Index in chain order of the provider called name, or -1. */
int hmq_hooks_provider_index(const hmq_hooks_t *h, const char *name);
int hmq_hooks_metrics(const hmq_hooks_t *h, size_t provider, hmq_hook_t hook,
                      hmq_hooks_metrics_t *out);

/* ------------------------------------------------------------------------------------------ */
/* Providers: how built-in providers (password file, ACL file) and tests plug into the chain   */
/* ------------------------------------------------------------------------------------------ */

typedef struct hmq_hooks_call hmq_hooks_call_t; /* one provider call, owned by the engine */

/* How a provider call ended. */
typedef enum {
    HMQ_CALL_OK = 0,      /* the answer (hmq_hooks_call_answer) is filled in */
    HMQ_CALL_TIMEOUT,     /* deadline exceeded */
    HMQ_CALL_UNAVAILABLE, /* unreachable, not handshaken */
    HMQ_CALL_ERROR,       /* any other error status or a malformed answer */
    HMQ_CALL_CANCELLED,
} hmq_hooks_call_status_t;

/* The answer a provider fills in before hmq_hooks_call_done(call, HMQ_CALL_OK). Strings and
 * grants become the engine's (reason and attributes: malloc'd; grants: one reference). */
typedef struct {
    int decision; /* hmq_hooks_decision_t, or HMQ_DECISION_FAILURE */
    uint8_t reason_code;
    char *reason;
    uint32_t cache_ttl_ms; /* 0 = not cached */
    hmq_grants_t *grants;
    bool superuser;
    hmq_hooks_pair_t *attributes; /* malloc'd array of malloc'd strings */
    size_t n_attributes;
    uint64_t expires_unix_ms;
} hmq_hooks_answer_t;
#define HMQ_DECISION_FAILURE 4

/* What a provider does with a request. */
typedef enum {
    HMQ_ROUTE_CALL = 0,  /* call it */
    HMQ_ROUTE_SKIP,      /* it does not serve this request (filters): CONTINUE without a call */
    HMQ_ROUTE_NOT_READY, /* never handshaken: mandatory -> 0x88, else on_failure */
} hmq_hooks_route_t;

typedef struct {
    /* NULL = always HMQ_ROUTE_CALL. Any loop thread. */
    hmq_hooks_route_t (*route)(void *self, hmq_hook_t hook, const hmq_hooks_client_t *client);
    /* Start an authenticate call (on a loop thread); complete it later, from any thread, with
     * hmq_hooks_call_done() (never from inside this function... it may: completion is always
     * queued). Return <0 when it cannot start (counted as a failure). */
    int (*authenticate)(void *self, hmq_hooks_call_t *call, const hmq_hooks_auth_req_t *req,
                        uint32_t deadline_ms);
    /* Optional: make the call complete soon (HMQ_CALL_CANCELLED). */
    void (*cancel)(void *self, hmq_hooks_call_t *call);
    /* Optional: the engine is closing (cancel everything; no new calls come). */
    void (*close)(void *self);
    /* Optional: release self (after close and after every call completed). */
    void (*free)(void *self);
} hmq_hooks_provider_ops_t;

/* Before hmq_hooks_start. name unique (copied); ops static; self owned by the provider. */
int hmq_hooks_add_provider(hmq_hooks_t *h, const char *name, const hmq_hooks_provider_ops_t *ops,
                           void *self, const hmq_hooks_policy_t *policy);
hmq_hooks_answer_t *hmq_hooks_call_answer(hmq_hooks_call_t *call);
void *hmq_hooks_call_provider_data(hmq_hooks_call_t *call); /* free slot for the provider */
void hmq_hooks_call_set_provider_data(hmq_hooks_call_t *call, void *p);
/* Any thread, exactly once per started call. */
void hmq_hooks_call_done(hmq_hooks_call_t *call, hmq_hooks_call_status_t status);
/* A provider reports its first completed handshake (mandatory gating); any thread. */
void hmq_hooks_provider_set_handshaken(hmq_hooks_t *h, const char *name);

#endif
