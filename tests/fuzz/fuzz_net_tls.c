/* fuzz_net_tls.c - libFuzzer target for the TLS server engine (broker/src/net/tls*.c): arbitrary
 * bytes as the client's side of a connection (ClientHello and whatever follows).
 *
 * The first input byte picks how the stream is cut into hmq_tls_feed() calls (1 byte at a time,
 * 5, 64, 1000, or all at once) and whether the engine writes and shuts down afterwards. Checks:
 * no crash, no leak (ASan/LSan), every ciphertext byte accounted for, feed results within the
 * documented set, errors sticky and described, OpenSSL's thread error queue left empty.
 *
 * The server context (made once at start-up, in a temporary directory, with a self-signed
 * P-256 certificate) asks for an optional client certificate, selects ALPN "mqtt", has one SNI
 * certificate and issues session tickets, so those extension parsers are reached.
 * Seeds: tests/fuzz/corpus/net_tls/ (ClientHellos of OpenSSL 3 clients: TLS 1.2 and 1.3, with
 * SNI, ALPN, a client certificate flight, a session ticket, HelloRetryRequest groups).
 * Run: build-fuzz-net/fuzz_net_tls tests/fuzz/corpus/net_tls
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "net/tls.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static hmq_tls_ctx_t *ctx;
static size_t sent, received;

static int on_send(hmq_tls_t *t, const uint8_t *data, size_t len)
{
    CHECK(len > 0 && len <= 16384 + 2048 + 5);
    sent += len;
    return 0;
}

static int on_recv(hmq_tls_t *t, const uint8_t *data, size_t len)
{
    received += len;
    return 0;
}

static const hmq_tls_cb_t cb = {on_send, on_recv, NULL};

/* A self-signed P-256 certificate and its key, written as PEM files into dir. */
static void make_cert(const char *dir, const char *name, const char *cn)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    CHECK(key && x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, n);
    CHECK(X509_sign(x, key, EVP_sha256()) > 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f && PEM_write_X509(f, x));
    fclose(f);
    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    f = fopen(path, "w");
    CHECK(f && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/hmq-fuzz-tls-XXXXXX";
    CHECK(mkdtemp(dir));
    make_cert(dir, "server", "localhost");
    make_cert(dir, "sni", "mqtt.example.com");
    char cert[600], key[600], sni_cert[600], sni_key[600];
    snprintf(cert, sizeof(cert), "%s/server.pem", dir);
    snprintf(key, sizeof(key), "%s/server.key", dir);
    snprintf(sni_cert, sizeof(sni_cert), "%s/sni.pem", dir);
    snprintf(sni_key, sizeof(sni_key), "%s/sni.key", dir);
    hmq_tls_sni_cert_t sni = {"mqtt.example.com", sni_cert, sni_key, NULL};
    hmq_tls_config_t cfg;
    hmq_tls_config_init(&cfg);
    cfg.cert_file = cert;
    cfg.key_file = key;
    cfg.ca_file = cert; /* the client CA list: its own self-signed certificate */
    cfg.client_cert = HMQ_TLS_CLIENT_CERT_OPTIONAL;
    cfg.alpn = "mqtt";
    cfg.sni = &sni;
    cfg.sni_count = 1;
    cfg.session_cache_size = 16;
    char err[256];
    if (hmq_tls_ctx_new(&ctx, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_net_tls: %s\n", err);
        abort();
    }
    /* the context has read everything it needs */
    unlink(cert);
    unlink(key);
    unlink(sni_cert);
    unlink(sni_key);
    rmdir(dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const size_t chunks[] = {1, 5, 64, 1000, SIZE_MAX};
    size_t chunk = chunks[data[0] % 5];
    bool write_after = data[0] & 0x80;
    data++;
    size--;
    static uint8_t plain[16384];
    hmq_tls_t *t = hmq_tls_new(ctx, &cb, NULL);
    CHECK(t);
    sent = received = 0;
    int rc = 0;
    for (size_t off = 0; off < size && rc == 0; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        rc = hmq_tls_feed(t, data + off, n, plain, sizeof(plain));
        CHECK(rc == 0 || rc == HMQ_TLS_CLOSED || rc == HMQ_TLS_E_HANDSHAKE ||
              rc == HMQ_TLS_E_PROTOCOL);
        CHECK(ERR_peek_error() == 0);
    }
    if (rc < 0) {
        CHECK(hmq_tls_error(t) != NULL);
        CHECK(hmq_tls_feed(t, data, size, plain, sizeof(plain)) == rc); /* sticky */
        CHECK(hmq_tls_write(t, (const uint8_t *)"x", 1) == rc);
    }
    if (rc == 0 && !hmq_tls_handshake_done(t)) {
        CHECK(received == 0);
        CHECK(hmq_tls_write(t, (const uint8_t *)"x", 1) == HMQ_TLS_E_STATE);
        hmq_tls_identity_t *id;
        CHECK(hmq_tls_identity(t, &id) == HMQ_TLS_E_STATE);
    }
    if (hmq_tls_handshake_done(t) && rc >= 0) {
        hmq_tls_identity_t *id = NULL;
        CHECK(hmq_tls_identity(t, &id) == 0);
        hmq_tls_identity_free(id);
        free(hmq_tls_peer_chain_pem(t, NULL));
    }
    if (write_after) {
        if (rc == 0 && hmq_tls_handshake_done(t))
            CHECK(hmq_tls_write(t, (const uint8_t *)"\x20\x02\x00\x00", 4) == 0);
        hmq_tls_shutdown(t);
    }
    CHECK(ERR_peek_error() == 0);
    hmq_tls_free(t);
    return 0;
}
