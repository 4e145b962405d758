/* tls_ctx.c - TLS contexts: configuration copy, SSL_CTX setup (versions, ciphers, certificates,
 * client CA/CRL, resumption), SNI selection, ALPN, session ticket keys, reload.
 *
 * Called by listeners at start and on reload (SIGHUP); the callbacks run inside OpenSSL during
 * handshakes on any worker thread.
 */
#include "net/tls_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

/* Forward secrecy first, then AEAD only: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305. */
#define DEFAULT_CIPHERS                                                                            \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define DEFAULT_CIPHERSUITES                                                                       \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define DEFAULT_GROUPS "X25519:P-256:P-384"
#define SESSION_ID_CONTEXT "hookmq"

void hmq_tls_config_init(hmq_tls_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->client_cert = HMQ_TLS_CLIENT_CERT_NONE;
    cfg->verify_depth = 5;
    cfg->min_version = HMQ_TLS_V1_2;
    cfg->max_version = HMQ_TLS_V1_3;
    cfg->session_tickets = true;
    cfg->session_timeout = 7200;
    cfg->session_cache_size = 0;
    cfg->tls13_tickets = 1;
}

/* ---- errors -------------------------------------------------------------------------------- */

/* "what: reason of the first queued OpenSSL error" (or just what). Clears the queue. */
static int config_error(char *err, size_t errlen, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    unsigned long e = ERR_get_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    if (e && ERR_GET_LIB(e) == ERR_LIB_SYS) reason = strerror(ERR_GET_REASON(e));
    if (err && errlen) {
        if (reason)
            snprintf(err, errlen, "%s: %s", what, reason);
        else
            snprintf(err, errlen, "%s", what);
    }
    ERR_clear_error();
    return HMQ_TLS_E_CONFIG;
}

/* ---- configuration copy -------------------------------------------------------------------- */

static char *dup_str(const char *s, bool *oom)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *oom = true;
    return d;
}

static void free_secret(const char *s)
{
    if (!s) return;
    OPENSSL_cleanse((void *)s, strlen(s));
    free((void *)s);
}

static void config_free(hmq_tls_config_t *c)
{
    free((void *)c->cert_file);
    free((void *)c->key_file);
    free_secret(c->key_passphrase);
    free((void *)c->ca_file);
    free((void *)c->crl_file);
    free((void *)c->ciphers);
    free((void *)c->ciphersuites);
    free((void *)c->groups);
    free((void *)c->alpn);
    hmq_tls_sni_cert_t *sni = (hmq_tls_sni_cert_t *)c->sni;
    for (size_t i = 0; sni && i < c->sni_count; i++) {
        free((void *)sni[i].server_name);
        free((void *)sni[i].cert_file);
        free((void *)sni[i].key_file);
        free_secret(sni[i].key_passphrase);
    }
    free(sni);
    memset(c, 0, sizeof(*c));
}

static int config_copy(hmq_tls_config_t *d, const hmq_tls_config_t *s)
{
    bool oom = false;
    *d = *s;
    d->cert_file = dup_str(s->cert_file, &oom);
    d->key_file = dup_str(s->key_file, &oom);
    d->key_passphrase = dup_str(s->key_passphrase, &oom);
    d->ca_file = dup_str(s->ca_file, &oom);
    d->crl_file = dup_str(s->crl_file, &oom);
    d->ciphers = dup_str(s->ciphers, &oom);
    d->ciphersuites = dup_str(s->ciphersuites, &oom);
    d->groups = dup_str(s->groups, &oom);
    d->alpn = dup_str(s->alpn, &oom);
    d->sni = NULL;
    d->sni_count = 0;
    if (s->sni_count) {
        hmq_tls_sni_cert_t *sni = calloc(s->sni_count, sizeof(*sni));
        if (!sni) oom = true;
        for (size_t i = 0; sni && i < s->sni_count; i++) {
            sni[i].server_name = dup_str(s->sni[i].server_name, &oom);
            sni[i].cert_file = dup_str(s->sni[i].cert_file, &oom);
            sni[i].key_file = dup_str(s->sni[i].key_file, &oom);
            sni[i].key_passphrase = dup_str(s->sni[i].key_passphrase, &oom);
        }
        d->sni = sni;
        d->sni_count = sni ? s->sni_count : 0;
    }
    if (oom) config_free(d);
    return oom ? HMQ_TLS_E_NOMEM : 0;
}

/* ---- session ticket keys ------------------------------------------------------------------- */

typedef struct {
    uint8_t name[16];
    uint8_t aes[32];
    uint8_t hmac[32];
    time_t created;
    bool valid;
} ticket_key_t;

struct hmq_ticket_keys {
    atomic_int refs;
    pthread_mutex_t lock;
    uint32_t rotate_s;
    ticket_key_t key[2]; /* [0] encrypts new tickets, [1] still decrypts */
    EVP_CIPHER *cipher;
};

static int keys_new_key(ticket_key_t *k)
{
    if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_priv_bytes(k->aes, sizeof(k->aes)) != 1 ||
        RAND_priv_bytes(k->hmac, sizeof(k->hmac)) != 1)
        return -1;
    k->created = time(NULL);
    k->valid = true;
    return 0;
}

static void keys_rotate_locked(hmq_ticket_keys_t *keys)
{
    ticket_key_t fresh;
    if (keys_new_key(&fresh) < 0) return; /* keep the current key rather than none */
    OPENSSL_cleanse(&keys->key[1], sizeof(keys->key[1]));
    keys->key[1] = keys->key[0];
    keys->key[0] = fresh;
    OPENSSL_cleanse(&fresh, sizeof(fresh));
}

static hmq_ticket_keys_t *keys_new(uint32_t rotate_s)
{
    hmq_ticket_keys_t *keys = calloc(1, sizeof(*keys));
    if (!keys) return NULL;
    atomic_init(&keys->refs, 1);
    pthread_mutex_init(&keys->lock, NULL);
    keys->rotate_s = rotate_s ? rotate_s : 7200;
    keys->cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    if (!keys->cipher || keys_new_key(&keys->key[0]) < 0) {
        EVP_CIPHER_free(keys->cipher);
        pthread_mutex_destroy(&keys->lock);
        free(keys);
        return NULL;
    }
    return keys;
}

static void keys_unref(hmq_ticket_keys_t *keys)
{
    if (!keys || atomic_fetch_sub(&keys->refs, 1) != 1) return;
    EVP_CIPHER_free(keys->cipher);
    pthread_mutex_destroy(&keys->lock);
    OPENSSL_cleanse(keys->key, sizeof(keys->key));
    free(keys);
}

static int ticket_key_init(hmq_ticket_keys_t *keys, const ticket_key_t *k, uint8_t *iv,
                           EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, sizeof(k->hmac)),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_CTX_set_params(hctx, params)) return -1;
    int ok = enc ? EVP_EncryptInit_ex(cctx, keys->cipher, NULL, k->aes, iv)
                 : EVP_DecryptInit_ex(cctx, keys->cipher, NULL, k->aes, iv);
    return ok ? 0 : -1;
}

/* OpenSSL's ticket key callback: 1 = ok, 2 = ok but issue a fresh ticket, 0 = unknown key (full
 * handshake), -1 = error. */
static int ticket_key_cb(SSL *s, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx,
                         EVP_MAC_CTX *hctx, int enc)
{
    hmq_tls_ctx_t *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(s));
    hmq_ticket_keys_t *keys = ctx ? ctx->keys : NULL;
    if (!keys) return enc ? -1 : 0;
    int rc = 0;
    pthread_mutex_lock(&keys->lock);
    time_t now = time(NULL);
    if (now - keys->key[0].created >= (time_t)keys->rotate_s || now < keys->key[0].created)
        keys_rotate_locked(keys);
    if (enc) {
        const ticket_key_t *k = &keys->key[0];
        memcpy(name, k->name, sizeof(k->name));
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(keys->cipher)) != 1 ||
            ticket_key_init(keys, k, iv, cctx, hctx, 1) < 0)
            rc = -1;
        else
            rc = 1;
    } else {
        for (int i = 0; i < 2; i++) {
            const ticket_key_t *k = &keys->key[i];
            if (!k->valid || memcmp(name, k->name, sizeof(k->name)) != 0) continue;
            rc = ticket_key_init(keys, k, iv, cctx, hctx, 0) < 0 ? -1 : i == 0 ? 1 : 2;
            break;
        }
    }
    pthread_mutex_unlock(&keys->lock);
    return rc;
}

/* A resumed session skips certificate verification: check its client certificate again against
 * the current trust store (CA, CRL, validity dates). If it no longer verifies, ignore the
 * ticket: the client does a full handshake, which then fails for the right reason. */
static SSL_TICKET_RETURN ticket_decrypt_cb(SSL *s, SSL_SESSION *ss, const unsigned char *keyname,
                                           size_t keyname_len, SSL_TICKET_STATUS status, void *arg)
{
    hmq_tls_ctx_t *ctx = arg;
    if (status != SSL_TICKET_SUCCESS && status != SSL_TICKET_SUCCESS_RENEW)
        return status == SSL_TICKET_EMPTY || status == SSL_TICKET_NO_DECRYPT
                   ? SSL_TICKET_RETURN_IGNORE_RENEW
                   : SSL_TICKET_RETURN_IGNORE;
    X509 *peer = SSL_SESSION_get0_peer(ss);
    if (peer && ctx->store) {
        X509_STORE_CTX *vctx = X509_STORE_CTX_new();
        bool ok = vctx && X509_STORE_CTX_init(vctx, ctx->store, peer, NULL) &&
                  X509_STORE_CTX_set_default(vctx, "ssl_client");
        if (ok) {
            X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(vctx), ctx->cfg.verify_depth);
            ok = X509_verify_cert(vctx) == 1;
        }
        X509_STORE_CTX_free(vctx);
        ERR_clear_error();
        if (!ok) return SSL_TICKET_RETURN_IGNORE_RENEW;
    }
    /* TLS 1.3 clients use a ticket once: always give them the next one, or every other
     * reconnection would be a full handshake */
    if (status == SSL_TICKET_SUCCESS_RENEW || SSL_version(s) >= TLS1_3_VERSION)
        return SSL_TICKET_RETURN_USE_RENEW;
    return SSL_TICKET_RETURN_USE;
}

void hmq_tls_ctx_rotate_ticket_keys(hmq_tls_ctx_t *ctx)
{
    if (!ctx->keys) return;
    pthread_mutex_lock(&ctx->keys->lock);
    keys_rotate_locked(ctx->keys);
    pthread_mutex_unlock(&ctx->keys->lock);
}

/* ---- SNI and ALPN -------------------------------------------------------------------------- */

static bool sni_match(const char *pattern, const char *name)
{
    if (strcasecmp(pattern, name) == 0) return true;
    if (pattern[0] != '*' || pattern[1] != '.') return false;
    const char *dot = strchr(name, '.');
    return dot && dot != name && strcasecmp(dot, pattern + 1) == 0;
}

static int servername_cb(SSL *s, int *alert, void *arg)
{
    hmq_tls_ctx_t *ctx = arg;
    const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_NOACK;
    /* exact names win over wildcards */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < ctx->sni_count; i++) {
            const char *pat = ctx->sni[i].name;
            bool wild = pat[0] == '*';
            if (wild != (pass == 1) || !sni_match(pat, name)) continue;
            if (!SSL_set_SSL_CTX(s, ctx->sni[i].ssl)) {
                *alert = SSL_AD_INTERNAL_ERROR;
                return SSL_TLSEXT_ERR_ALERT_FATAL;
            }
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_OK; /* unknown name: the default certificate */
}

static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    hmq_tls_ctx_t *ctx = arg;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, ctx->alpn, (unsigned)ctx->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* "mqtt,x-amzn-mqtt-ca" -> "\x04mqtt\x0ex-amzn-mqtt-ca" */
static int alpn_wire(hmq_tls_ctx_t *ctx, char *err, size_t errlen)
{
    const char *list = ctx->cfg.alpn;
    if (!list || !*list) return 0;
    size_t n = strlen(list);
    ctx->alpn = malloc(n + 1);
    if (!ctx->alpn) return HMQ_TLS_E_NOMEM;
    size_t w = 0;
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len > 255)
            return config_error(err, errlen, "alpn \"%s\": bad protocol", list);
        ctx->alpn[w++] = (uint8_t)len;
        memcpy(ctx->alpn + w, p, len);
        w += len;
        p += len + (end ? 1 : 0);
    }
    ctx->alpn_len = w;
    return 0;
}

/* ---- SSL_CTX construction ------------------------------------------------------------------ */

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
    const char *pass = u;
    if (!pass) return 0;
    size_t n = strlen(pass);
    if (n > (size_t)size) return 0;
    memcpy(buf, pass, n);
    return (int)n;
}

static int load_key(SSL_CTX *s, const char *file, const char *pass, char *err, size_t errlen)
{
    BIO *bio = BIO_new_file(file, "r");
    if (!bio) return config_error(err, errlen, "key_file %s", file);
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, (void *)pass);
    BIO_free(bio);
    if (!pkey) return config_error(err, errlen, "key_file %s", file);
    int ok = SSL_CTX_use_PrivateKey(s, pkey);
    EVP_PKEY_free(pkey);
    if (!ok) return config_error(err, errlen, "key_file %s", file);
    if (!SSL_CTX_check_private_key(s))
        return config_error(err, errlen, "key_file %s does not match the certificate", file);
    return 0;
}

static int version_of(hmq_tls_version_t v)
{
    return v == HMQ_TLS_V1_3 ? TLS1_3_VERSION : v == HMQ_TLS_V1_2 ? TLS1_2_VERSION : 0;
}

static int setup_protocol(hmq_tls_ctx_t *ctx, SSL_CTX *s, char *err, size_t errlen)
{
    const hmq_tls_config_t *c = &ctx->cfg;
    int min = version_of(c->min_version), max = version_of(c->max_version);
    if (!min || !max || min > max)
        return config_error(err, errlen, "min_version/max_version: must be 1.2 or 1.3, min <= max");
    if (!SSL_CTX_set_min_proto_version(s, min) || !SSL_CTX_set_max_proto_version(s, max))
        return config_error(err, errlen, "tls versions");
    /* server order, except that a client preferring ChaCha20 (no AES hardware: most
     * microcontrollers) gets it */
    SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_PRIORITIZE_CHACHA | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(s, SSL_MODE_RELEASE_BUFFERS);
    const char *ciphers = c->ciphers ? c->ciphers : DEFAULT_CIPHERS;
    if (!SSL_CTX_set_cipher_list(s, ciphers))
        return config_error(err, errlen, "ciphers \"%s\"", ciphers);
    const char *suites = c->ciphersuites ? c->ciphersuites : DEFAULT_CIPHERSUITES;
    if (!SSL_CTX_set_ciphersuites(s, suites))
        return config_error(err, errlen, "ciphersuites \"%s\"", suites);
    const char *groups = c->groups ? c->groups : DEFAULT_GROUPS;
    if (!SSL_CTX_set1_groups_list(s, groups))
        return config_error(err, errlen, "groups \"%s\"", groups);
    if (ctx->alpn_len) SSL_CTX_set_alpn_select_cb(s, alpn_cb, ctx);
    return 0;
}

/* OpenSSL's verification, then a trim of what the connection keeps: the certificates a client
 * sends after its own (OpenSSL clients send their CA too, by default) stay decoded in the session
 * for the connection's life, ~5 KB each. Those the verified chain does not use (a CA the chain
 * took from our ca_file instead) are dropped from the sent list (X509_STORE_CTX's untrusted list
 * is the list the session keeps); the verified chain itself shares the ca_file's copies. */
static int verify_and_trim(X509_STORE_CTX *vctx, void *arg)
{
    (void)arg;
    int ok = X509_verify_cert(vctx);
    STACK_OF(X509) *sent = X509_STORE_CTX_get0_untrusted(vctx);
    STACK_OF(X509) *used = X509_STORE_CTX_get0_chain(vctx);
    if (ok != 1 || !sent || !used) return ok;
    for (int i = sk_X509_num(sent) - 1; i >= 1; i--) { /* [0] is the client's certificate */
        X509 *c = sk_X509_value(sent, i);
        bool in_chain = false;
        for (int j = 0; j < sk_X509_num(used) && !in_chain; j++)
            in_chain = sk_X509_value(used, j) == c;
        if (!in_chain) X509_free(sk_X509_delete(sent, i));
    }
    return ok;
}

static int setup_verify(hmq_tls_ctx_t *ctx, SSL_CTX *s, STACK_OF(X509_NAME) * ca_names)
{
    const hmq_tls_config_t *c = &ctx->cfg;
    if (c->client_cert == HMQ_TLS_CLIENT_CERT_NONE) return 0;
    int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
    if (c->client_cert == HMQ_TLS_CLIENT_CERT_REQUIRED) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(s, mode, NULL);
    SSL_CTX_set_cert_verify_callback(s, verify_and_trim, NULL);
    SSL_CTX_set_verify_depth(s, c->verify_depth);
    if (!X509_STORE_up_ref(ctx->store)) return HMQ_TLS_E_NOMEM;
    SSL_CTX_set_cert_store(s, ctx->store);
    if (ca_names) {
        STACK_OF(X509_NAME) *copy = SSL_dup_CA_list(ca_names);
        if (!copy) return HMQ_TLS_E_NOMEM;
        SSL_CTX_set_client_CA_list(s, copy);
    }
    return 0;
}

static void setup_resumption(hmq_tls_ctx_t *ctx, SSL_CTX *s)
{
    const hmq_tls_config_t *c = &ctx->cfg;
    SSL_CTX_set_session_id_context(s, (const unsigned char *)SESSION_ID_CONTEXT,
                                   sizeof(SESSION_ID_CONTEXT) - 1);
    SSL_CTX_set_timeout(s, c->session_timeout ? c->session_timeout : 7200);
    if (c->session_cache_size) {
        SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(s, c->session_cache_size);
    } else {
        SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    }
    if (ctx->keys) {
        SSL_CTX_set_tlsext_ticket_key_evp_cb(s, ticket_key_cb);
        SSL_CTX_set_session_ticket_cb(s, NULL, ticket_decrypt_cb, ctx);
        SSL_CTX_set_num_tickets(s, c->tls13_tickets);
    } else {
        SSL_CTX_set_options(s, SSL_OP_NO_TICKET);
        /* with the cache on, TLS 1.3 then issues stateful tickets (session ids) */
        SSL_CTX_set_num_tickets(s, c->session_cache_size ? c->tls13_tickets : 0);
    }
}

static SSL_CTX *build_ssl_ctx(hmq_tls_ctx_t *ctx, const char *cert, const char *key,
                              const char *pass, STACK_OF(X509_NAME) * ca_names, char *err,
                              size_t errlen, int *rc)
{
    SSL_CTX *s = SSL_CTX_new(TLS_server_method());
    if (!s) {
        *rc = HMQ_TLS_E_NOMEM;
        return NULL;
    }
    SSL_CTX_set_app_data(s, ctx);
    *rc = setup_protocol(ctx, s, err, errlen);
    if (*rc == 0 && (!cert || !key))
        *rc = config_error(err, errlen, "cert_file and key_file are required");
    if (*rc == 0 && !SSL_CTX_use_certificate_chain_file(s, cert))
        *rc = config_error(err, errlen, "cert_file %s", cert);
    if (*rc == 0) *rc = load_key(s, key, pass, err, errlen);
    if (*rc == 0) *rc = setup_verify(ctx, s, ca_names);
    if (*rc == 0) setup_resumption(ctx, s);
    if (*rc != 0) {
        SSL_CTX_free(s);
        return NULL;
    }
    return s;
}

/* Client CA bundle and CRLs into one X509_STORE shared by the default and SNI contexts. */
static int build_store(hmq_tls_ctx_t *ctx, STACK_OF(X509_NAME) * *ca_names, char *err,
                       size_t errlen)
{
    const hmq_tls_config_t *c = &ctx->cfg;
    if (c->client_cert == HMQ_TLS_CLIENT_CERT_NONE) return 0;
    if (!c->ca_file) return config_error(err, errlen, "ca_file is required to verify clients");
    ctx->store = X509_STORE_new();
    if (!ctx->store) return HMQ_TLS_E_NOMEM;
    if (!X509_STORE_load_file(ctx->store, c->ca_file))
        return config_error(err, errlen, "ca_file %s", c->ca_file);
    *ca_names = SSL_load_client_CA_file(c->ca_file);
    if (!*ca_names) return config_error(err, errlen, "ca_file %s: no certificate", c->ca_file);
    if (c->crl_file) {
        X509_LOOKUP *lookup = X509_STORE_add_lookup(ctx->store, X509_LOOKUP_file());
        if (!lookup || X509_load_crl_file(lookup, c->crl_file, X509_FILETYPE_PEM) <= 0)
            return config_error(err, errlen, "crl_file %s", c->crl_file);
        X509_STORE_set_flags(ctx->store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    }
    return 0;
}

static void ctx_free(hmq_tls_ctx_t *ctx)
{
    SSL_CTX_free(ctx->ssl);
    for (size_t i = 0; i < ctx->sni_count; i++) {
        SSL_CTX_free(ctx->sni[i].ssl);
        free(ctx->sni[i].name);
    }
    free(ctx->sni);
    X509_STORE_free(ctx->store);
    keys_unref(ctx->keys);
    free(ctx->alpn);
    config_free(&ctx->cfg);
    free(ctx);
}

static int build_sni(hmq_tls_ctx_t *ctx, STACK_OF(X509_NAME) * ca_names, char *err, size_t errlen)
{
    const hmq_tls_config_t *c = &ctx->cfg;
    if (!c->sni_count) return 0;
    ctx->sni = calloc(c->sni_count, sizeof(*ctx->sni));
    if (!ctx->sni) return HMQ_TLS_E_NOMEM;
    for (size_t i = 0; i < c->sni_count; i++) {
        const hmq_tls_sni_cert_t *e = &c->sni[i];
        if (!e->server_name || !*e->server_name)
            return config_error(err, errlen, "sni[%zu]: server_name is required", i);
        ctx->sni[i].name = strdup(e->server_name);
        if (!ctx->sni[i].name) return HMQ_TLS_E_NOMEM;
        for (char *p = ctx->sni[i].name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        ctx->sni_count = i + 1;
        int rc;
        char sub[256];
        ctx->sni[i].ssl = build_ssl_ctx(ctx, e->cert_file, e->key_file, e->key_passphrase, ca_names,
                                        sub, sizeof(sub), &rc);
        if (!ctx->sni[i].ssl) {
            if (err && errlen) snprintf(err, errlen, "sni %s: %s", e->server_name, sub);
            return rc;
        }
    }
    return 0;
}

static int ctx_build(hmq_tls_ctx_t **out, const hmq_tls_config_t *cfg, hmq_ticket_keys_t *keys,
                     char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen) err[0] = 0;
    ERR_clear_error();
    hmq_tls_ctx_t *ctx = calloc(1, sizeof(*ctx));
    if (!ctx) return HMQ_TLS_E_NOMEM;
    atomic_init(&ctx->refs, 1);
    if (config_copy(&ctx->cfg, cfg) < 0) {
        free(ctx);
        return HMQ_TLS_E_NOMEM;
    }
    if (ctx->cfg.verify_depth <= 0) ctx->cfg.verify_depth = 5;
    if (ctx->cfg.session_tickets) {
        if (keys) atomic_fetch_add(&keys->refs, 1);
        ctx->keys = keys ? keys : keys_new(ctx->cfg.session_timeout);
        if (!ctx->keys) {
            ctx_free(ctx);
            return HMQ_TLS_E_NOMEM;
        }
    }
    STACK_OF(X509_NAME) *ca_names = NULL;
    int rc = alpn_wire(ctx, err, errlen);
    if (rc == 0) rc = build_store(ctx, &ca_names, err, errlen);
    if (rc == 0)
        ctx->ssl = build_ssl_ctx(ctx, ctx->cfg.cert_file, ctx->cfg.key_file,
                                 ctx->cfg.key_passphrase, ca_names, err, errlen, &rc);
    if (rc == 0) rc = build_sni(ctx, ca_names, err, errlen);
    if (rc == 0 && ctx->sni_count) {
        SSL_CTX_set_tlsext_servername_callback(ctx->ssl, servername_cb);
        SSL_CTX_set_tlsext_servername_arg(ctx->ssl, ctx);
    }
    sk_X509_NAME_pop_free(ca_names, X509_NAME_free);
    ERR_clear_error();
    if (rc != 0) {
        if (rc == HMQ_TLS_E_NOMEM && err && errlen) snprintf(err, errlen, "out of memory");
        ctx_free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

int hmq_tls_ctx_new(hmq_tls_ctx_t **out, const hmq_tls_config_t *cfg, char *err, size_t errlen)
{
    return ctx_build(out, cfg, NULL, err, errlen);
}

int hmq_tls_ctx_reload(hmq_tls_ctx_t **out, hmq_tls_ctx_t *old, char *err, size_t errlen)
{
    return ctx_build(out, &old->cfg, old->keys, err, errlen);
}

hmq_tls_ctx_t *hmq_tls_ctx_ref(hmq_tls_ctx_t *ctx)
{
    atomic_fetch_add(&ctx->refs, 1);
    return ctx;
}

void hmq_tls_ctx_unref(hmq_tls_ctx_t *ctx)
{
    if (ctx && atomic_fetch_sub(&ctx->refs, 1) == 1) ctx_free(ctx);
}
