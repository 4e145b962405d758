/* tls.c - TLS for hmq-bench connections (--tls): one OpenSSL client context per run, one SSL per
 * connection over two memory BIOs.
 *
 * Called by main.c (context) and conn.c (per connection). conn.c feeds what it reads through
 * hb_tls_input(), which hands the plaintext back to conn.c, and calls hb_tls_seal() once per loop
 * turn: the MQTT packets queued in `out` become records in `cout` (one SSL_write per turn, so a
 * turn's packets share records), which conn.c then writes with one uv_write.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

int hb_tls_ctx_new(hb_opts_t *o)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return -1;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* the session ticket a TLS 1.3 server sends is not used: no session cache */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    bool ok = true;
    if (o->tls_cafile) {
        ok = SSL_CTX_load_verify_locations(ctx, o->tls_cafile, NULL) == 1;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    if (ok && o->tls_cert)
        ok = SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) == 1 &&
             SSL_CTX_use_PrivateKey_file(ctx, o->tls_key ? o->tls_key : o->tls_cert,
                                         SSL_FILETYPE_PEM) == 1;
    if (!ok) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
        fprintf(stderr, "hmq-bench: TLS setup: %s\n", buf);
        SSL_CTX_free(ctx);
        return -1;
    }
    o->tls_ctx = ctx;
    return 0;
}

void hb_tls_ctx_free(hb_opts_t *o)
{
    SSL_CTX_free(o->tls_ctx);
    o->tls_ctx = NULL;
}

/* Start the handshake: the ClientHello waits in the write BIO for the next flush. */
int hb_tls_start(hb_conn_t *c)
{
    const hb_opts_t *o = c->th->run->opts;
    c->ssl = SSL_new(o->tls_ctx);
    BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !rbio || !wbio) {
        BIO_free(rbio);
        BIO_free(wbio);
        return -1;
    }
    BIO_set_mem_eof_return(rbio, -1); /* empty: "retry", not end of file */
    BIO_set_mem_eof_return(wbio, -1);
    SSL_set_bio(c->ssl, rbio, wbio);
    c->rbio = rbio;
    c->wbio = wbio;
    if (o->tls_servername) SSL_set_tlsext_host_name(c->ssl, o->tls_servername);
    SSL_set_connect_state(c->ssl);
    int r = SSL_do_handshake(c->ssl);
    return r == 1 || SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ ? 0 : -1;
}

void hb_tls_free(hb_conn_t *c)
{
    SSL_free(c->ssl); /* and both BIOs */
    c->ssl = NULL;
    c->rbio = c->wbio = NULL;
}

static const char *tls_why(const char *what)
{
    static _Thread_local char buf[200];
    unsigned long e = ERR_get_error();
    snprintf(buf, sizeof(buf), "%s: %s", what, e ? ERR_reason_error_string(e) : "closed");
    ERR_clear_error();
    return buf;
}

int hb_tls_input(hb_conn_t *c, const uint8_t *in, size_t len, uint8_t *plain, size_t cap,
                 uint64_t now_ns, const char **why)
{
    if (BIO_write(c->rbio, in, (int)len) != (int)len) {
        *why = "out of memory";
        return -1;
    }
    if (!SSL_is_init_finished(c->ssl)) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ) return 0;
            *why = tls_why("TLS handshake");
            return -1;
        }
    }
    for (;;) {
        size_t got = 0;
        if (SSL_read_ex(c->ssl, plain, cap, &got)) {
            hb_conn_plaintext(c, plain, got, now_ns);
            if (c->closing) return 0;
            continue;
        }
        int e = SSL_get_error(c->ssl, 0);
        if (e == SSL_ERROR_WANT_READ) return 0;
        *why = e == SSL_ERROR_ZERO_RETURN ? "TLS close_notify from the broker" : tls_why("TLS");
        return -1;
    }
}

int hb_tls_seal(hb_conn_t *c, hb_buf_t *cipher, const char **why)
{
    if (c->out.len && SSL_is_init_finished(c->ssl)) {
        size_t done = 0;
        if (!SSL_write_ex(c->ssl, c->out.p, c->out.len, &done) || done != c->out.len) {
            *why = tls_why("TLS write");
            return -1;
        }
        c->out.len = 0;
    }
    size_t pending = BIO_ctrl_pending(c->wbio);
    if (!pending) return 0;
    if (hb_buf_reserve(cipher, pending)) {
        *why = "out of memory";
        return -1;
    }
    int n = BIO_read(c->wbio, cipher->p + cipher->len, (int)pending);
    if (n > 0) cipher->len += (size_t)n;
    return 0;
}

bool hb_tls_pending(const hb_conn_t *c)
{
    return BIO_ctrl_pending(c->wbio) > 0 || (c->out.len && SSL_is_init_finished(c->ssl));
}
