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
    HMQ_HOOK_EVENTS, /* notifications (no decision, no deadline; metrics: calls = events
                        offered, failures = events dropped) */
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
    /* MessageHooks stream: most requests in one MessageBatch (0 = 256). */
    uint32_t max_batch;
    /* Circuit breaker: after breaker_failures consecutive failed calls (0 = 5) the server is
     * "open": calls fail at once (on_failure decides) for breaker_open_ms (0 = 1000), doubled
     * on every failed probe up to breaker_open_max_ms (0 = 30000); then one grpc.health.v1
     * check (or, if the server has no health service, one real call) closes it again. */
    uint32_t breaker_failures;
    uint32_t breaker_open_ms;
    uint32_t breaker_open_max_ms;
    /* Periodic grpc.health.v1.Health/Check while connected (0 = 5000 ms; a NOT_SERVING answer
     * opens the breaker). */
    uint32_t health_interval_ms;
    /* Events: spool bound in bytes (0 = 16 MiB) and events per EventBatch (0 = 500). */
    size_t events_max_bytes;
    uint32_t events_max_batch;
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
    /* Unique per connection and never reused (0 = unknown): lets providers encode the identity
     * once per connection instead of once per message. Must not change while it is 0 or not. */
    uint64_t uid;
    /* Session attributes from the authentication answer (empty during Authenticate). */
    const hmq_hooks_pair_t *attributes;
    size_t n_attributes;
} hmq_hooks_client_t;

/* A PUBLISH as hooks see it (PublishMessage in hooks.proto). Strings NUL-terminated. */
typedef struct {
    const char *topic; /* topic name (no wildcards) */
    const uint8_t *payload;
    size_t payload_len;
    uint8_t qos;
    bool retain;
    bool has_message_expiry;
    uint32_t message_expiry_interval;
    uint8_t payload_format;
    const char *content_type;   /* NULL = none */
    const char *response_topic; /* NULL = none */
    const uint8_t *correlation_data;
    size_t correlation_len;
    bool has_correlation_data;
    const hmq_hooks_pair_t *user_properties;
    size_t n_user_properties;
    uint64_t received_unix_ms;
} hmq_hooks_message_t;

/* Fields an OnPublish answer replaced (MessageField in hooks.proto), as a bit set. */
enum {
    HMQ_MSG_TOPIC = 1u << 0,
    HMQ_MSG_PAYLOAD = 1u << 1,
    HMQ_MSG_QOS = 1u << 2,
    HMQ_MSG_RETAIN = 1u << 3,
    HMQ_MSG_EXPIRY = 1u << 4,
    HMQ_MSG_USER_PROPERTIES = 1u << 5,
    HMQ_MSG_CONTENT_TYPE = 1u << 6,
    HMQ_MSG_PAYLOAD_FORMAT = 1u << 7,
    HMQ_MSG_RESPONSE_TOPIC = 1u << 8,
    HMQ_MSG_CORRELATION_DATA = 1u << 9,
};

/* One subscription of a SUBSCRIBE (Subscription in hooks.proto). */
typedef struct {
    const char *filter;      /* without "$share/<group>/" */
    const char *share_group; /* NULL = not shared */
    uint8_t qos;
    bool no_local, retain_as_published;
    uint8_t retain_handling;
} hmq_hooks_subscription_t;

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
    /* MQTT 5 enhanced authentication. challenge: the provider wants another round (decision is
     * CONTINUE): send AUTH 0x18 with auth_data and pass auth_state back in the next request.
     * ALLOW: auth_data (may be empty) goes into the CONNACK / AUTH 0x00. Borrowed. */
    bool challenge;
    const uint8_t *auth_data;
    size_t auth_data_len;
    const uint8_t *auth_state;
    size_t auth_state_len;
} hmq_hooks_auth_result_t;

typedef struct hmq_hooks_auth_req hmq_hooks_auth_req_t;
#define HMQ_AUTH_PHASE_CONNECT 1        /* AuthPhase in hooks.proto */
#define HMQ_AUTH_PHASE_CONTINUE 2       /* the client's AUTH 0x18 answering a challenge */
#define HMQ_AUTH_PHASE_REAUTHENTICATE 3 /* AUTH 0x19 from a connected client */
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
    /* MQTT 5 enhanced authentication (client->authentication_method set): never cached. */
    uint8_t phase; /* HMQ_AUTH_PHASE_*: 0 = CONNECT */
    const uint8_t *auth_data;
    size_t auth_data_len;
    const uint8_t *auth_state; /* from the previous challenge */
    size_t auth_state_len;
    uint32_t step;             /* 1 for the CONNECT, then +1 per AUTH round */
    const char *auth_provider; /* CONTINUE: the provider that challenged (only it is asked) */
    /* private */
    struct hmq_hooks_op *op;
};

/* Runs the chain for a CONNECT; cb runs later on hl's loop. */
int hmq_hooks_authenticate(hmq_hooks_loop_t *hl, hmq_hooks_auth_req_t *req, hmq_hooks_auth_cb cb);
/* The connection went away: cb still runs once, with HMQ_HOOKS_ECANCELED, as soon as the
 * provider call in flight has ended (gRPC calls are cancelled at once). */
void hmq_hooks_auth_cancel(hmq_hooks_auth_req_t *req);

/* ------------------------------------------------------------------------------------------ */
/* Authorize, OnPublish, OnSubscribe                                                           */
/* ------------------------------------------------------------------------------------------ */

/* Is any provider of the chain interested (route != SKIP, the op exists)? Cheap, no call, any
 * loop thread: the broker keeps its synchronous path when nothing is. topic: publish topic
 * name or subscription filter; NULL for authenticate. */
bool hmq_hooks_wants(hmq_hooks_t *h, hmq_hook_t hook, const hmq_hooks_client_t *client,
                     const char *topic);

/* The answer of authorize (and the common part of the others). */
typedef struct {
    hmq_hooks_decision_t decision; /* ALLOW or DENY */
    uint8_t reason_code;           /* DENY: >= 0x80 */
    const char *reason;            /* never NULL */
    const char *provider;          /* NULL = the configured default */
    bool by_policy, from_cache;
} hmq_hooks_verdict_t;

typedef struct hmq_hooks_op hmq_hooks_op_t; /* private: one request walking the chain */

typedef struct hmq_hooks_authz_req hmq_hooks_authz_req_t;
typedef void (*hmq_hooks_authz_cb)(hmq_hooks_authz_req_t *req, int status,
                                   const hmq_hooks_verdict_t *res);
struct hmq_hooks_authz_req {
    void *data;
    /* Input, valid until the callback. */
    const hmq_hooks_client_t *client;
    hmq_action_t action;     /* HMQ_ACTION_PUBLISH or HMQ_ACTION_SUBSCRIBE */
    const char *topic;       /* publish: topic name; subscribe: filter w/o $share/<group>/ */
    const char *share_group; /* NULL = none */
    uint8_t qos;
    bool retain;
    const hmq_hooks_message_t *message; /* publish: the message (servers may want the payload) */
    /* private */
    hmq_hooks_op_t *op;
};
/* Publish authorization travels on the MessageHooks stream, subscribe on a unary call. The
 * answer is cached per provider (scope topic: client x action x topic). */
int hmq_hooks_authorize(hmq_hooks_loop_t *hl, hmq_hooks_authz_req_t *req, hmq_hooks_authz_cb cb);

typedef struct hmq_hooks_publish_req hmq_hooks_publish_req_t;
typedef struct {
    hmq_hooks_verdict_t verdict; /* ALLOW: deliver `message`; DENY: drop (reason_code to ack) */
    uint32_t changed;            /* HMQ_MSG_* fields any provider replaced; 0 = unchanged */
    const hmq_hooks_message_t *message; /* what to deliver (req->message when unchanged);
                                           borrowed during the callback */
} hmq_hooks_publish_result_t;
typedef void (*hmq_hooks_publish_cb)(hmq_hooks_publish_req_t *req, int status,
                                     const hmq_hooks_publish_result_t *res);
struct hmq_hooks_publish_req {
    void *data;
    const hmq_hooks_client_t *client;
    const hmq_hooks_message_t *message;
    hmq_hooks_op_t *op;
};
/* OnPublish: each provider sees the message as changed by the ones before it; a DENY drops it.
 * When every provider said CONTINUE the default decides (ALLOW = deliver unchanged). */
int hmq_hooks_on_publish(hmq_hooks_loop_t *hl, hmq_hooks_publish_req_t *req,
                         hmq_hooks_publish_cb cb);

typedef struct hmq_hooks_subscribe_req hmq_hooks_subscribe_req_t;
typedef struct {
    hmq_hooks_decision_t decision; /* ALLOW or DENY */
    uint8_t reason_code;           /* DENY: >= 0x80 */
    const char *reason;
    const char *filter; /* ALLOW: the filter to subscribe (rewritten, or the original) */
    uint8_t max_qos;    /* ALLOW: QoS ceiling 0..2 (2 = none) */
} hmq_hooks_sub_result_t;
typedef void (*hmq_hooks_subscribe_cb)(hmq_hooks_subscribe_req_t *req, int status,
                                       const hmq_hooks_sub_result_t *results /* n_subs */);
struct hmq_hooks_subscribe_req {
    void *data;
    const hmq_hooks_client_t *client;
    const hmq_hooks_subscription_t *subs;
    size_t n_subs;
    uint32_t subscription_id; /* 0 = none */
    const hmq_hooks_pair_t *user_properties;
    size_t n_user_properties;
    hmq_hooks_op_t *op;
};
/* OnSubscribe: per filter, deny wins; a rewrite is what later providers see. */
int hmq_hooks_on_subscribe(hmq_hooks_loop_t *hl, hmq_hooks_subscribe_req_t *req,
                           hmq_hooks_subscribe_cb cb);

/* The requester went away: the callback still runs once, with HMQ_HOOKS_ECANCELED. req is any
 * of the request structs above (its `op` member). */
void hmq_hooks_op_cancel(hmq_hooks_op_t *op);

/* ------------------------------------------------------------------------------------------ */
/* Events: notifications, never delaying the caller (events.c)                                */
/* ------------------------------------------------------------------------------------------ */

typedef enum {
    HMQ_EVENT_CONNECTED = 1, /* values as EventType in hooks.proto */
    HMQ_EVENT_DISCONNECTED = 2,
    HMQ_EVENT_SUBSCRIBED = 3,
    HMQ_EVENT_UNSUBSCRIBED = 4,
    HMQ_EVENT_DELIVERED = 5,
    HMQ_EVENT_ACKED = 6,
    HMQ_EVENT_DROPPED = 7,
    HMQ_EVENT_SESSION_CREATED = 8,
    HMQ_EVENT_SESSION_TERMINATED = 9,
} hmq_hooks_event_type_t;

typedef struct {
    hmq_hooks_event_type_t type;
    uint64_t timestamp_unix_ms; /* 0 = now */
    const hmq_hooks_client_t *client;
    /* CONNECTED */
    bool session_present;
    uint32_t session_expiry_interval;
    /* DISCONNECTED (reason: "client", "takeover", ...), DROPPED (reason: "hook", ...) */
    uint8_t reason_code;
    const char *reason;
    bool will_published;
    /* SUBSCRIBED, UNSUBSCRIBED */
    const hmq_hooks_subscription_t *subscription;
    uint8_t granted_qos;
    /* DELIVERED, ACKED, DROPPED */
    const hmq_hooks_message_t *message;
    const char *from_client_id;
    uint16_t packet_id;
} hmq_hooks_event_t;

/* Whether any provider subscribed to events of this type (a bit test; call before building
 * an event). */
bool hmq_hooks_wants_event(hmq_hooks_t *h, hmq_hooks_event_type_t type);
/* Copies (encodes) the event into each interested provider's bounded spool and returns; never
 * blocks, never fails the caller. A full spool drops the event and counts it. Any loop thread. */
void hmq_hooks_event(hmq_hooks_t *h, const hmq_hooks_event_t *ev);
/* Events dropped so far (spool full), all providers. */
uint64_t hmq_hooks_events_dropped(const hmq_hooks_t *h);

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
    uint8_t cache_scope;   /* authorize: HMQ_SCOPE_*; 0 = topic (the decision's own key) */
    hmq_grants_t *grants;
    bool superuser;
    hmq_hooks_pair_t *attributes; /* malloc'd array of malloc'd strings */
    size_t n_attributes;
    uint64_t expires_unix_ms;
    /* on_publish: fields replaced (HMQ_MSG_*) and their values; every pointer in `changes` is
     * malloc'd and becomes the engine's (user_properties: array and strings). */
    /* authenticate, enhanced: a challenge (decision CONTINUE) or the final data of an ALLOW
     * (malloc'd; the engine frees them). */
    bool challenge;
    uint8_t *auth_data;
    size_t auth_data_len;
    uint8_t *auth_state;
    size_t auth_state_len;
    uint32_t changed;
    hmq_hooks_message_t changes;
    /* on_subscribe: one entry per subscription passed to the provider, same order (malloc'd
     * array; the engine frees it and its strings). */
    struct hmq_hooks_sub_answer *subs;
    size_t n_subs;
} hmq_hooks_answer_t;

typedef struct hmq_hooks_sub_answer {
    int decision; /* CONTINUE / ALLOW / DENY (FAILURE: this filter failed) */
    uint8_t reason_code;
    char *reason;    /* malloc'd or NULL */
    char *filter;    /* malloc'd rewrite, NULL = unchanged */
    uint8_t max_qos; /* ceiling 0..2, 3 = none */
} hmq_hooks_sub_answer_t;
#define HMQ_DECISION_FAILURE 4
/* Cache scopes of an authorize answer (CacheScope in hooks.proto). */
#define HMQ_SCOPE_TOPIC 1    /* this client, action and topic/filter */
#define HMQ_SCOPE_FILTER 2   /* same as topic for subscriptions */
#define HMQ_SCOPE_CLIENT 3   /* this client, every topic of the action */
#define HMQ_SCOPE_USERNAME 4 /* every client of this username, every topic of the action */

/* What a provider does with a request. */
typedef enum {
    HMQ_ROUTE_CALL = 0,  /* call it */
    HMQ_ROUTE_SKIP,      /* it does not serve this request (filters): CONTINUE without a call */
    HMQ_ROUTE_NOT_READY, /* never handshaken: mandatory -> 0x88, else on_failure */
} hmq_hooks_route_t;

typedef struct {
    /* NULL = always HMQ_ROUTE_CALL (for the hooks whose op below exists). Any loop thread.
     * topic: publish topic name / subscription filter; NULL for authenticate. For
     * HMQ_HOOK_EVENTS it is asked with topic NULL and client NULL ("any events at all?"). */
    hmq_hooks_route_t (*route)(void *self, hmq_hook_t hook, const hmq_hooks_client_t *client,
                               const char *topic);
    /* Start an authenticate call (on a loop thread); complete it later, from any thread, with
     * hmq_hooks_call_done() (never from inside this function... it may: completion is always
     * queued). Return <0 when it cannot start (counted as a failure). */
    int (*authenticate)(void *self, hmq_hooks_call_t *call, const hmq_hooks_auth_req_t *req,
                        uint32_t deadline_ms);
    /* Optional (NULL = the provider does not serve the hook: CONTINUE without a call). Same
     * contract as authenticate. */
    int (*authorize)(void *self, hmq_hooks_call_t *call, const hmq_hooks_authz_req_t *req,
                     uint32_t deadline_ms);
    int (*on_publish)(void *self, hmq_hooks_call_t *call, const hmq_hooks_client_t *client,
                      const hmq_hooks_message_t *message, uint32_t deadline_ms);
    /* subs: the subscriptions routed to this provider (filters as rewritten so far). */
    int (*on_subscribe)(void *self, hmq_hooks_call_t *call, const hmq_hooks_subscribe_req_t *req,
                        const hmq_hooks_subscription_t *subs, size_t n_subs, uint32_t deadline_ms);
    /* Optional: take a copy of an event (never blocks). false = dropped (spool full): the
     * engine counts it (hmq_hooks_events_dropped, metrics[HMQ_HOOK_EVENTS].failures). */
    bool (*event)(void *self, const hmq_hooks_event_t *ev);
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
hmq_hook_t hmq_hooks_call_hook(const hmq_hooks_call_t *call);
void *hmq_hooks_call_provider_data(hmq_hooks_call_t *call); /* free slot for the provider */
void hmq_hooks_call_set_provider_data(hmq_hooks_call_t *call, void *p);
/* Any thread, exactly once per started call. */
void hmq_hooks_call_done(hmq_hooks_call_t *call, hmq_hooks_call_status_t status);
/* A provider reports its first completed handshake (mandatory gating); any thread. */
void hmq_hooks_provider_set_handshaken(hmq_hooks_t *h, const char *name);

#endif
