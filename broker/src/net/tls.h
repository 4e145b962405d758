/* tls.h - TLS server engine over caller memory (OpenSSL 3): no sockets, no threads, no buffers.
 *
 * A listener builds one hmq_tls_ctx_t from a hmq_tls_config_t (certificate, key, client CA, CRL,
 * versions, ciphers, SNI certificates, session resumption). Each accepted connection gets a
 * hmq_tls_t; core/conn.c feeds it the ciphertext it reads from the socket and receives:
 *   - cb->send(t, ciphertext): append to the connection's output buffer; the connection writes
 *     it once per loop turn (handshake messages, records, alerts, close_notify all come here);
 *   - cb->recv(t, plaintext): decrypted application data, in the caller's plaintext buffer;
 *   - cb->handshake(t): the handshake completed (identity accessors are valid from now on).
 * Ciphertext is read straight from the caller's buffer during hmq_tls_feed() (a BIO over caller
 * memory, no copy, no per-connection queue) and SSL_MODE_RELEASE_BUFFERS is on, so an idle
 * connection holds no record buffers.
 *
 * Threads: a hmq_tls_ctx_t is shared by all workers (SSL_CTX is thread-safe for SSL_new, the
 * reference count is atomic, ticket keys have a lock). A hmq_tls_t belongs to one thread.
 *
 * Reload: hmq_tls_ctx_reload() builds a new context from the same configuration (re-reading the
 * files). The listener then hands the new context to new connections and unrefs the old one;
 * existing connections keep a reference to the context they started with. Session ticket keys
 * are shared across reloads, so clients keep resuming; a resumed session's client certificate
 * is checked again against the current CA/CRL and its expiry (see docs/security.md).
 */
#ifndef HMQ_TLS_H
#define HMQ_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hmq_tls_ctx hmq_tls_ctx_t;
typedef struct hmq_tls hmq_tls_t;

enum hmq_tls_err {
    HMQ_TLS_E_CONFIG = -1001,    /* context: a file or option is wrong (see the error text) */
    HMQ_TLS_E_NOMEM = -1002,     /* out of memory */
    HMQ_TLS_E_HANDSHAKE = -1003, /* handshake failed (alert queued); see hmq_tls_error() */
    HMQ_TLS_E_PROTOCOL = -1004, /* TLS error after the handshake (bad record, unexpected message) */
    HMQ_TLS_E_STATE = -1005,    /* call not valid now (write before handshake or after close) */
};
#define HMQ_TLS_CLOSED 1 /* hmq_tls_feed(): the peer sent close_notify */

typedef enum {
    HMQ_TLS_CLIENT_CERT_NONE = 0, /* no CertificateRequest */
    HMQ_TLS_CLIENT_CERT_OPTIONAL, /* requested; a presented certificate must verify */
    HMQ_TLS_CLIENT_CERT_REQUIRED, /* requested and mandatory */
} hmq_tls_client_cert_t;

typedef enum { HMQ_TLS_V1_2 = 12, HMQ_TLS_V1_3 = 13 } hmq_tls_version_t;

/* One extra certificate selected by SNI. server_name: "mqtt.example.com" (exact) or
 * "*.example.com" (exactly one more label); case-insensitive. */
typedef struct {
    const char *server_name;
    const char *cert_file;
    const char *key_file;
    const char *key_passphrase; /* NULL: unencrypted key */
} hmq_tls_sni_cert_t;

typedef struct {
    const char *cert_file;      /* PEM: leaf certificate first, then intermediates */
    const char *key_file;       /* PEM private key */
    const char *key_passphrase; /* NULL: unencrypted key */
    const char *ca_file;        /* PEM CA bundle for client certificates (needed unless NONE) */
    const char *crl_file;       /* PEM CRL(s); when set, X509_V_FLAG_CRL_CHECK|CRL_CHECK_ALL:
                                 * every CA of a client chain needs a valid CRL in this file */
    hmq_tls_client_cert_t client_cert; /* default NONE */
    int verify_depth;                  /* max intermediates in a client chain; default 5 */
    hmq_tls_version_t min_version;     /* default 1.2 */
    hmq_tls_version_t max_version;     /* default 1.3 */
    const char *ciphers;           /* TLS 1.2 cipher list; NULL: ECDHE + AEAD only (see tls.c) */
    const char *ciphersuites;      /* TLS 1.3 suites; NULL: AES-128-GCM, AES-256-GCM, CHACHA20 */
    const char *groups;            /* key exchange groups; NULL: "X25519:P-256:P-384" */
    const char *alpn;              /* comma-separated protocols to accept, e.g. "mqtt"; NULL: none.
                                    * A client offering none of them gets no ALPN (not an error). */
    const hmq_tls_sni_cert_t *sni; /* extra certificates by server name (copied) */
    size_t sni_count;
    /* Resumption. Tickets (default on): stateless, in TLS 1.2 and 1.3, encrypted with keys
     * kept in memory, rotated every session_timeout seconds, the previous key still accepted,
     * shared across reloads. Session cache (default 0 = off): a server-side cache of that many
     * sessions per context for clients without ticket support (memory per cached session,
     * lost on reload). Both off: every handshake is a full one. */
    bool session_tickets;
    uint32_t session_timeout;    /* seconds a session may be resumed; default 7200 */
    uint32_t session_cache_size; /* default 0 */
    uint32_t tls13_tickets;      /* tickets sent after a TLS 1.3 full handshake; default 1 */
} hmq_tls_config_t;

/* Defaults as documented above (all files NULL). */
void hmq_tls_config_init(hmq_tls_config_t *cfg);

/* Build a context: reads every file now. Returns 0, or HMQ_TLS_E_CONFIG / HMQ_TLS_E_NOMEM with a
 * message such as "key_file /etc/k.pem: bad decrypt" in err (may be NULL). The configuration
 * is copied (passphrases are wiped on free). The new context has one reference. */
int hmq_tls_ctx_new(hmq_tls_ctx_t **out, const hmq_tls_config_t *cfg, char *err, size_t errlen);
/* Build a new context from old's configuration (renewed files), sharing its ticket keys. On
 * error old is untouched and stays usable. */
int hmq_tls_ctx_reload(hmq_tls_ctx_t **out, hmq_tls_ctx_t *old, char *err, size_t errlen);
hmq_tls_ctx_t *hmq_tls_ctx_ref(hmq_tls_ctx_t *ctx);
void hmq_tls_ctx_unref(hmq_tls_ctx_t *ctx);
/* Start a new ticket key now (the previous one is still accepted, the one before is wiped). */
void hmq_tls_ctx_rotate_ticket_keys(hmq_tls_ctx_t *ctx);

/* ---- one connection ----------------------------------------------------------------------- */

typedef struct {
    /* Required. Ciphertext for the peer, valid during the call: copy it to the output buffer.
     * Return 0, or < 0 to fail the connection (that value is returned by the engine call). */
    int (*send)(hmq_tls_t *t, const uint8_t *data, size_t len);
    /* Required. Decrypted application data (inside the plaintext buffer given to
     * hmq_tls_feed). Return 0, or < 0 to stop: hmq_tls_feed returns that value. */
    int (*recv)(hmq_tls_t *t, const uint8_t *data, size_t len);
    /* Optional. The handshake completed. Return 0, or < 0 to refuse the connection. */
    int (*handshake)(hmq_tls_t *t);
} hmq_tls_cb_t;

/* A server-side engine on ctx (referenced until hmq_tls_free). cb must outlive it. NULL: OOM. */
hmq_tls_t *hmq_tls_new(hmq_tls_ctx_t *ctx, const hmq_tls_cb_t *cb, void *data);
void hmq_tls_free(hmq_tls_t *t);
void *hmq_tls_data(const hmq_tls_t *t);
/* Re-point the callbacks' data (the connection moved to another worker with its engine). */
void hmq_tls_set_data(hmq_tls_t *t, void *data);

/* Ciphertext from the socket. Consumes all of it: drives the handshake, delivers plaintext to
 * cb->recv (decrypted into plain[0..plain_cap), e.g. the worker's shared buffer; 16 KiB holds
 * any record), and replies through cb->send. Returns 0, HMQ_TLS_CLOSED after the peer's
 * close_notify, or < 0 (HMQ_TLS_E_HANDSHAKE, HMQ_TLS_E_PROTOCOL, a callback's value): then
 * flush what cb->send got (it may hold an alert) and close. Errors are sticky. */
int hmq_tls_feed(hmq_tls_t *t, const uint8_t *in, size_t len, uint8_t *plain, size_t plain_cap);
/* Encrypt application data; records go to cb->send before this returns. 0 or < 0. */
int hmq_tls_write(hmq_tls_t *t, const uint8_t *data, size_t len);
/* Send close_notify (through cb->send). Further writes fail with HMQ_TLS_E_STATE. */
int hmq_tls_shutdown(hmq_tls_t *t);

bool hmq_tls_handshake_done(const hmq_tls_t *t);
bool hmq_tls_peer_closed(const hmq_tls_t *t);
/* Why the connection failed, e.g. "certificate verify failed: certificate revoked"; NULL when
 * it has not failed (or failed in a callback). */
const char *hmq_tls_error(const hmq_tls_t *t);

/* ---- identity (valid after the handshake) ------------------------------------------------- */

const char *hmq_tls_version(const hmq_tls_t *t); /* "TLSv1.3" */
const char *hmq_tls_cipher(const hmq_tls_t *t);  /* "TLS_AES_128_GCM_SHA256" */
const char *hmq_tls_sni(const hmq_tls_t *t);     /* server name sent by the client, or NULL */
bool hmq_tls_resumed(const hmq_tls_t *t);
bool hmq_tls_has_peer_cert(const hmq_tls_t *t);

typedef enum {
    HMQ_TLS_SAN_DNS = 1,
    HMQ_TLS_SAN_IP, /* textual: "192.0.2.1", "2001:db8::1" */
    HMQ_TLS_SAN_URI,
    HMQ_TLS_SAN_EMAIL,
} hmq_tls_san_type_t;

typedef struct {
    hmq_tls_san_type_t type;
    const char *value;
} hmq_tls_san_t;

/* One allocation (hmq_tls_identity_free); strings are NUL terminated, never hold NUL or
 * non-printable ASCII in SANs, and are NULL when absent. */
typedef struct {
    const char *version, *cipher, *sni, *alpn;
    bool resumed;
    bool has_cert;                 /* the fields below are set only when true */
    long verify_result;            /* X509_V_OK (0) when verified */
    const char *verify_error;      /* "ok", "certificate revoked", ... */
    const char *subject;           /* RFC 2253, UTF-8: "CN=device-42,O=Acme Pay,C=CN" */
    const char *issuer;            /* RFC 2253 */
    const char *cn;                /* first commonName, UTF-8 */
    const char *serial;            /* uppercase hex, "0A1F..." */
    const char *sha256;            /* fingerprint of the DER, 64 lowercase hex digits */
    int64_t not_before, not_after; /* Unix seconds */
    size_t san_count;
    const hmq_tls_san_t *sans; /* DNS, IP, URI and email SANs in certificate order */
} hmq_tls_identity_t;

/* Snapshot of the peer's identity. Returns 0, HMQ_TLS_E_STATE before the handshake, or
 * HMQ_TLS_E_NOMEM. Cost is paid only when asked (nothing is cached per connection). */
int hmq_tls_identity(const hmq_tls_t *t, hmq_tls_identity_t **out);
void hmq_tls_identity_free(hmq_tls_identity_t *id);

/* Where a username or client id can be taken from (listener options such as
 * `use_identity_as: cn`). */
typedef enum {
    HMQ_TLS_NAME_CN = 1,
    HMQ_TLS_NAME_SAN,     /* first DNS/IP/URI/email SAN */
    HMQ_TLS_NAME_SAN_DNS, /* first of that type */
    HMQ_TLS_NAME_SAN_IP,
    HMQ_TLS_NAME_SAN_URI,
    HMQ_TLS_NAME_SAN_EMAIL,
    HMQ_TLS_NAME_SUBJECT,
    HMQ_TLS_NAME_SERIAL,
    HMQ_TLS_NAME_SHA256,
} hmq_tls_name_t;
/* The name, or NULL when there is no verified certificate or no such field. */
const char *hmq_tls_identity_name(const hmq_tls_identity_t *id, hmq_tls_name_t which);

/* The client's verified chain as PEM: its certificate, the intermediates, the CA from ca_file
 * (after a resumption only the client's certificate is known). malloc'ed, NUL terminated, *len
 * set when len != NULL; NULL when there is none. */
char *hmq_tls_peer_chain_pem(const hmq_tls_t *t, size_t *len);

#endif
