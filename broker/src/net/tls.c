/* tls.c - the per-connection TLS server engine: a BIO over caller memory, handshake, records,
 * close_notify, readable errors.
 *
 * Driven by core/conn.c: hmq_tls_feed() with each socket read, hmq_tls_write() with MQTT output,
 * hmq_tls_shutdown() before closing. The BIO reads straight from the slice being fed and hands
 * every write to cb->send, so the engine keeps no input or output buffer of its own; with
 * SSL_MODE_RELEASE_BUFFERS OpenSSL frees its record buffers whenever they are empty.
 */
#include "net/tls_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

enum { ST_HANDSHAKE, ST_OPEN, ST_SHUTDOWN, ST_PEER_CLOSED, ST_FAILED };

struct hmq_tls {
    SSL *ssl;
    hmq_tls_ctx_t *ctx;
    const hmq_tls_cb_t *cb;
    void *data;
    const uint8_t *in; /* the slice being fed (only during hmq_tls_feed) */
    size_t in_len;
    int rc;      /* sticky error */
    int send_rc; /* what cb->send returned when it failed */
    uint8_t state;
    char *error; /* readable reason, allocated on failure */
};

/* ---- the BIO ------------------------------------------------------------------------------- */

static int bio_write(BIO *b, const char *data, int len)
{
    hmq_tls_t *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!t || t->send_rc < 0 || len < 0) return -1;
    int rc = t->cb->send(t, (const uint8_t *)data, (size_t)len);
    if (rc < 0) {
        t->send_rc = rc;
        return -1;
    }
    return len;
}

static int bio_read(BIO *b, char *out, int len)
{
    hmq_tls_t *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!t || len <= 0) return 0;
    if (t->in_len == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = t->in_len < (size_t)len ? t->in_len : (size_t)len;
    memcpy(out, t->in, n);
    t->in += n;
    t->in_len -= n;
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    hmq_tls_t *t = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
        return t ? (long)t->in_len : 0;
    case BIO_CTRL_WPENDING:
        return 0;
    default:
        return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOURCE_SINK | BIO_get_new_index(), "hmq_tls");
    if (!m) return;
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    bio_method = m;
}

const BIO_METHOD *hmq_tls_bio_method(void)
{
    pthread_once(&bio_once, bio_method_init);
    return bio_method;
}

/* ---- errors -------------------------------------------------------------------------------- */

static void set_error(hmq_tls_t *t, const char *fmt, const char *a, const char *b)
{
    if (t->error) return; /* keep the first cause */
    char buf[256];
    snprintf(buf, sizeof(buf), fmt, a, b);
    t->error = strdup(buf);
}

/* Fail with the reason OpenSSL gives, or the send callback's code when it caused the failure. */
static int fail(hmq_tls_t *t, int rc)
{
    if (t->send_rc < 0) {
        rc = t->send_rc;
        set_error(t, "%s%s", "send callback failed", "");
    } else if (rc == HMQ_TLS_E_HANDSHAKE || rc == HMQ_TLS_E_PROTOCOL) {
        unsigned long e = ERR_peek_error();
        const char *reason = e ? ERR_reason_error_string(e) : NULL;
        if (!reason) reason = e ? "unknown error" : "unexpected end of data";
        long vr = SSL_get_verify_result(t->ssl);
        if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
            vr != X509_V_OK)
            set_error(t, "%s: %s", reason, X509_verify_cert_error_string(vr));
        else
            set_error(t, "%s%s", reason, "");
    }
    ERR_clear_error();
    t->rc = rc;
    t->state = ST_FAILED;
    return rc;
}

/* ---- engine -------------------------------------------------------------------------------- */

hmq_tls_t *hmq_tls_new(hmq_tls_ctx_t *ctx, const hmq_tls_cb_t *cb, void *data)
{
    const BIO_METHOD *m = hmq_tls_bio_method();
    if (!m) return NULL;
    hmq_tls_t *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->cb = cb;
    t->data = data;
    t->ssl = SSL_new(ctx->ssl);
    BIO *bio = BIO_new(m);
    if (!t->ssl || !bio) {
        BIO_free(bio);
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    BIO_set_data(bio, t);
    SSL_set_bio(t->ssl, bio, bio);
    SSL_set_accept_state(t->ssl);
    SSL_set_app_data(t->ssl, t);
    t->ctx = hmq_tls_ctx_ref(ctx);
    return t;
}

void hmq_tls_free(hmq_tls_t *t)
{
    if (!t) return;
    /* OpenSSL drops the session of a connection freed without a close_notify exchange. Devices
     * mostly vanish without one (power, radio); keep their session resumable unless the
     * connection failed (a fatal alert has already removed it then). */
    if (t->state != ST_FAILED && SSL_is_init_finished(t->ssl))
        SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(t->ssl);
    hmq_tls_ctx_unref(t->ctx);
    free(t->error);
    free(t);
}

void hmq_tls_set_data(hmq_tls_t *t, void *data)
{
    t->data = data;
}

void *hmq_tls_data(const hmq_tls_t *t)
{
    return t->data;
}

static int do_handshake(hmq_tls_t *t)
{
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->state = ST_OPEN;
        if (t->cb->handshake) {
            int rc = t->cb->handshake(t);
            if (rc < 0) {
                t->rc = rc;
                t->state = ST_FAILED;
                return rc;
            }
        }
        return 0;
    }
    if (SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_READ && t->send_rc == 0) return 0;
    return fail(t, HMQ_TLS_E_HANDSHAKE);
}

static int do_read(hmq_tls_t *t, uint8_t *plain, size_t cap)
{
    for (;;) {
        size_t got = 0;
        if (SSL_read_ex(t->ssl, plain, cap, &got)) {
            int rc = t->cb->recv(t, plain, got);
            if (rc < 0) {
                t->rc = rc;
                t->state = ST_FAILED;
                return rc;
            }
            continue;
        }
        switch (SSL_get_error(t->ssl, 0)) {
        case SSL_ERROR_WANT_READ:
            return t->send_rc < 0 ? fail(t, 0) : 0;
        case SSL_ERROR_ZERO_RETURN:
            t->state = ST_PEER_CLOSED;
            return HMQ_TLS_CLOSED;
        default:
            return fail(t, HMQ_TLS_E_PROTOCOL);
        }
    }
}

int hmq_tls_feed(hmq_tls_t *t, const uint8_t *in, size_t len, uint8_t *plain, size_t plain_cap)
{
    if (t->state == ST_FAILED) return t->rc;
    if (t->state == ST_PEER_CLOSED) return HMQ_TLS_CLOSED;
    if (!plain || plain_cap == 0) return HMQ_TLS_E_STATE;
    t->in = in;
    t->in_len = len;
    ERR_clear_error();
    int rc = 0;
    if (t->state == ST_HANDSHAKE) rc = do_handshake(t);
    if (rc == 0 && t->state != ST_HANDSHAKE) rc = do_read(t, plain, plain_cap);
    t->in = NULL;
    t->in_len = 0;
    return rc;
}

int hmq_tls_write(hmq_tls_t *t, const uint8_t *data, size_t len)
{
    if (t->state == ST_FAILED) return t->rc;
    if (t->state != ST_OPEN) return HMQ_TLS_E_STATE;
    ERR_clear_error();
    while (len > 0) {
        size_t done = 0;
        if (!SSL_write_ex(t->ssl, data, len, &done)) return fail(t, HMQ_TLS_E_PROTOCOL);
        data += done;
        len -= done;
    }
    return 0;
}

int hmq_tls_shutdown(hmq_tls_t *t)
{
    if (t->state == ST_FAILED) return t->rc;
    if (t->state != ST_OPEN && t->state != ST_PEER_CLOSED) return 0;
    ERR_clear_error();
    int r = SSL_shutdown(t->ssl);
    if (t->state == ST_OPEN) t->state = ST_SHUTDOWN;
    if (r < 0) return fail(t, HMQ_TLS_E_PROTOCOL);
    return 0;
}

bool hmq_tls_handshake_done(const hmq_tls_t *t)
{
    return t->state != ST_HANDSHAKE && SSL_is_init_finished(t->ssl);
}

bool hmq_tls_peer_closed(const hmq_tls_t *t)
{
    return t->state == ST_PEER_CLOSED;
}

const char *hmq_tls_error(const hmq_tls_t *t)
{
    return t->error;
}

/* ---- connection facts ---------------------------------------------------------------------- */

const char *hmq_tls_version(const hmq_tls_t *t)
{
    return SSL_get_version(t->ssl);
}

const char *hmq_tls_cipher(const hmq_tls_t *t)
{
    return SSL_get_cipher_name(t->ssl);
}

const char *hmq_tls_sni(const hmq_tls_t *t)
{
    return SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
}

bool hmq_tls_resumed(const hmq_tls_t *t)
{
    return SSL_session_reused(t->ssl) == 1;
}

bool hmq_tls_has_peer_cert(const hmq_tls_t *t)
{
    return SSL_get0_peer_certificate(t->ssl) != NULL;
}

SSL *hmq_tls_ssl(const hmq_tls_t *t)
{
    return hmq_tls_handshake_done(t) ? t->ssl : NULL;
}
