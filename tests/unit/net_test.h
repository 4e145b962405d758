/* net_test.h - helpers for the TLS engine tests (test_net_tls*.c): real certificates made with
 * the openssl command in a temporary directory, and an in-process OpenSSL client paired with a
 * hmq_tls_t server engine over memory, pumped until both sides stop making progress.
 */
#ifndef HMQ_NET_TEST_H
#define HMQ_NET_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/tls.h"

/* ---- certificates ---------------------------------------------------------------------------
 * ca.pem/ca.key        test CA (EC P-256)
 * server.pem/.key      localhost, 127.0.0.1 (ECDSA P-256), signed by ca
 * server-enc.key       server.key encrypted with passphrase "hunter2"
 * sni.pem/.key         mqtt.example.com;  wild.pem/.key  *.pay.example.com
 * renewed.pem/.key     localhost again (CN "localhost renewed"), for reload
 * client.pem/.key      CN device-42 with DNS, IP, URI and email SANs
 * client43.pem/.key    CN device-43 (revoked later by crl2.pem)
 * revoked.pem/.key     CN device-revoked, listed in crl.pem
 * expired.pem/.key     CN device-expired, valid 2020-01-01..2020-01-02
 * rogue.pem/.key       CN device-42 signed by another CA (rogue-ca.pem)
 * crl.pem              CRL of ca revoking device-revoked;  crl2.pem: also device-43
 * rsa.pem/.key         localhost with an RSA 2048 key (RSA cipher suites)
 */
static const char *net_test_gen_script =
    "set -e\n"
    "cat > ca.cnf <<'EOF'\n"
    "[ ca ]\ndefault_ca = CA_default\n"
    "[ CA_default ]\ndir = .\ndatabase = ./index.txt\nnew_certs_dir = ./newcerts\n"
    "certificate = ./ca.pem\nprivate_key = ./ca.key\nserial = ./serial\ncrlnumber = ./crlnumber\n"
    "default_md = sha256\ndefault_days = 365\ndefault_crl_days = 30\npolicy = policy_any\n"
    "copy_extensions = none\nunique_subject = no\n"
    "[ policy_any ]\ncommonName = supplied\norganizationName = optional\ncountryName = optional\n"
    "[ v3_ca ]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
    "subjectKeyIdentifier = hash\n"
    "[ server_ext ]\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature,keyEncipherment\n"
    "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost,IP:127.0.0.1\n"
    "[ sni_ext ]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n"
    "subjectAltName = DNS:mqtt.example.com\n"
    "[ wild_ext ]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n"
    "subjectAltName = DNS:*.pay.example.com\n"
    "[ client_ext ]\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature\n"
    "extendedKeyUsage = clientAuth\n"
    "subjectAltName = DNS:device-42.iot.example.com,IP:10.1.2.3,URI:urn:dev:42,"
    "email:ops@example.com,IP:2001:db8::42\n"
    "[ plain_client_ext ]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = clientAuth\n"
    "EOF\n"
    "mkdir -p newcerts && : > index.txt && echo 1000 > serial && echo 01 > crlnumber\n"
    "ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1.key "
    "2>/dev/null; }\n"
    "sign() { # name subject ext [extra ca args]\n"
    "  n=$1; s=$2; e=$3; shift 3\n"
    "  openssl req -new -key $n.key -subj \"$s\" -out $n.csr\n"
    "  openssl ca -batch -config ca.cnf -extensions $e -in $n.csr -out $n.pem -notext -preserveDN "
    "\"$@\" "
    "2>/dev/null\n"
    "}\n"
    "ec ca\n"
    "openssl req -new -x509 -key ca.key -subj '/C=CN/O=Acme Pay/CN=Acme Test CA' -days 3650 "
    "-config ca.cnf -extensions v3_ca -out ca.pem\n"
    "ec server; sign server '/CN=localhost' server_ext\n"
    "openssl pkey -in server.key -aes256 -passout pass:hunter2 -out server-enc.key\n"
    "ec sni; sign sni '/CN=mqtt.example.com' sni_ext\n"
    "ec wild; sign wild '/CN=*.pay.example.com' wild_ext\n"
    "ec renewed; sign renewed '/CN=localhost renewed' server_ext\n"
    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null\n"
    "sign rsa '/CN=localhost' server_ext\n"
    "ec client; sign client '/C=CN/O=Acme Pay/CN=device-42' client_ext\n"
    "ec client43; sign client43 '/CN=device-43' plain_client_ext\n"
    "ec revoked; sign revoked '/CN=device-revoked' plain_client_ext\n"
    "ec expired; sign expired '/CN=device-expired' plain_client_ext "
    "-startdate 20200101000000Z -enddate 20200102000000Z\n"
    "openssl ca -batch -config ca.cnf -revoke revoked.pem 2>/dev/null\n"
    "openssl ca -batch -config ca.cnf -gencrl -out crl.pem 2>/dev/null\n"
    "openssl ca -batch -config ca.cnf -revoke client43.pem 2>/dev/null\n"
    "openssl ca -batch -config ca.cnf -gencrl -out crl2.pem 2>/dev/null\n"
    "ec rogue-ca\n"
    "openssl req -new -x509 -key rogue-ca.key -subj '/CN=Rogue CA' -days 30 -out rogue-ca.pem\n"
    "ec rogue; openssl req -new -key rogue.key -subj '/C=CN/O=Acme Pay/CN=device-42' -out "
    "rogue.csr\n"
    "openssl x509 -req -in rogue.csr -CA rogue-ca.pem -CAkey rogue-ca.key -CAcreateserial "
    "-days 30 -out rogue.pem 2>/dev/null\n"
    "openssl x509 -in client.pem -noout -serial | cut -d= -f2 > client.serial\n"
    "openssl x509 -in client.pem -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : "
    "| tr A-F a-f > client.sha256\n"
    "openssl x509 -in client.pem -noout -enddate | cut -d= -f2 > client.enddate\n";

static char net_test_dir[256];

/* Make the certificates once per process; returns the directory. */
static inline const char *net_test_certs(void)
{
    if (net_test_dir[0]) return net_test_dir;
    snprintf(net_test_dir, sizeof(net_test_dir), "/tmp/hmq-tls-test-XXXXXX");
    if (!mkdtemp(net_test_dir)) abort();
    char path[512];
    snprintf(path, sizeof(path), "%s/gen.sh", net_test_dir);
    FILE *f = fopen(path, "w");
    if (!f) abort();
    fputs(net_test_gen_script, f);
    fclose(f);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cd %s && sh gen.sh >gen.log 2>&1", net_test_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "certificate generation failed, see %s/gen.log\n", net_test_dir);
        abort();
    }
    return net_test_dir;
}

static inline void net_test_cleanup(void)
{
    if (!net_test_dir[0]) return;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", net_test_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", net_test_dir);
    net_test_dir[0] = 0;
}

/* Path of a file in the certificate directory (rotating static buffers). */
static inline const char *net_test_path(const char *name)
{
    static char bufs[16][512];
    static int next;
    char *b = bufs[next++ % 16];
    snprintf(b, 512, "%s/%s", net_test_certs(), name);
    return b;
}

/* ---- an OpenSSL client paired with a server engine ----------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} net_buf_t;

static inline void net_buf_add(net_buf_t *b, const uint8_t *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) abort();
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

typedef struct {
    SSL *cli;
    BIO *cli_in, *cli_out; /* cli_in: what the client reads; cli_out: what it wrote */
    hmq_tls_t *srv;
    net_buf_t out;   /* server ciphertext not yet given to the client */
    net_buf_t plain; /* plaintext received by the server */
    int srv_rc;      /* last hmq_tls_feed result */
    int cli_rc;      /* 1 when the client handshake completed, < 0 when it failed */
    int handshakes;  /* cb->handshake calls */
    int sends;       /* cb->send calls */
    int send_fail;   /* when != 0, cb->send returns it */
    size_t chunk;    /* feed the server this many bytes at a time (0: all) */
} net_pair_t;

static inline int net_pair_send(hmq_tls_t *t, const uint8_t *data, size_t len)
{
    net_pair_t *p = hmq_tls_data(t);
    p->sends++;
    if (p->send_fail) return p->send_fail;
    net_buf_add(&p->out, data, len);
    return 0;
}

static inline int net_pair_recv(hmq_tls_t *t, const uint8_t *data, size_t len)
{
    net_pair_t *p = hmq_tls_data(t);
    net_buf_add(&p->plain, data, len);
    return 0;
}

static inline int net_pair_handshake(hmq_tls_t *t)
{
    net_pair_t *p = hmq_tls_data(t);
    p->handshakes++;
    return 0;
}

static const hmq_tls_cb_t net_pair_cb = {net_pair_send, net_pair_recv, net_pair_handshake};

/* Client context trusting ca.pem (and verifying "localhost" unless verify_name is NULL), with an
 * optional client certificate "name" (name.pem / name.key). */
static inline SSL_CTX *net_client_ctx(const char *cert, int max_version)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (!c) abort();
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    if (!SSL_CTX_load_verify_locations(c, net_test_path("ca.pem"), NULL)) abort();
    if (max_version) SSL_CTX_set_max_proto_version(c, max_version);
    if (cert) {
        char pem[64], key[64];
        snprintf(pem, sizeof(pem), "%s.pem", cert);
        snprintf(key, sizeof(key), "%s.key", cert);
        if (!SSL_CTX_use_certificate_chain_file(c, net_test_path(pem)) ||
            !SSL_CTX_use_PrivateKey_file(c, net_test_path(key), SSL_FILETYPE_PEM))
            abort();
    }
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT);
    return c;
}

static inline void net_pair_init(net_pair_t *p, SSL_CTX *cctx, hmq_tls_ctx_t *sctx, const char *sni)
{
    memset(p, 0, sizeof(*p));
    p->cli = SSL_new(cctx);
    p->cli_in = BIO_new(BIO_s_mem());
    p->cli_out = BIO_new(BIO_s_mem());
    SSL_set_bio(p->cli, p->cli_in, p->cli_out);
    SSL_set_connect_state(p->cli);
    SSL_set_tlsext_host_name(p->cli, (char *)(sni ? sni : "localhost"));
    SSL_set1_host(p->cli, sni ? sni : "localhost");
    p->srv = hmq_tls_new(sctx, &net_pair_cb, p);
    if (!p->cli || !p->srv) abort();
}

static inline void net_pair_free(net_pair_t *p)
{
    SSL_free(p->cli);
    hmq_tls_free(p->srv);
    free(p->out.p);
    free(p->plain.p);
    memset(p, 0, sizeof(*p));
}

/* Move bytes both ways until nothing moves. Returns the number of rounds that moved bytes. */
static inline int net_pair_pump(net_pair_t *p)
{
    static uint8_t plain[16384];
    int rounds = 0;
    for (int i = 0; i < 100; i++) {
        bool moved = false;
        if (p->cli_rc == 0) {
            ERR_clear_error();
            int r = SSL_do_handshake(p->cli);
            if (r == 1)
                p->cli_rc = 1;
            else if (SSL_get_error(p->cli, r) != SSL_ERROR_WANT_READ)
                p->cli_rc = -1;
        } else if (p->cli_rc == 1) {
            /* let the client process post-handshake messages (TLS 1.3 tickets) */
            uint8_t tmp[1];
            ERR_clear_error();
            if (SSL_peek(p->cli, tmp, 1) <= 0) ERR_clear_error();
        }
        char *data;
        long n = BIO_get_mem_data(p->cli_out, &data);
        if (n > 0) {
            size_t chunk = p->chunk ? p->chunk : (size_t)n;
            for (long off = 0; off < n; off += (long)chunk) {
                size_t len = (size_t)(n - off) < chunk ? (size_t)(n - off) : chunk;
                p->srv_rc = hmq_tls_feed(p->srv, (uint8_t *)data + off, len, plain, sizeof(plain));
            }
            (void)BIO_reset(p->cli_out);
            moved = true;
        }
        if (p->out.len) {
            BIO_write(p->cli_in, p->out.p, (int)p->out.len);
            p->out.len = 0;
            moved = true;
        }
        if (!moved) break;
        rounds++;
    }
    return rounds;
}

/* Handshake; returns true when both sides completed it. */
static inline bool net_pair_handshake_ok(net_pair_t *p)
{
    net_pair_pump(p);
    return p->cli_rc == 1 && p->srv_rc == 0 && hmq_tls_handshake_done(p->srv);
}

/* Handshake a client (optional certificate) against ctx; returns the pair for inspection. */
static inline bool net_connect(net_pair_t *p, hmq_tls_ctx_t *ctx, const char *cert, int max_version)
{
    SSL_CTX *c = net_client_ctx(cert, max_version);
    net_pair_init(p, c, ctx, NULL);
    SSL_CTX_free(c); /* the SSL keeps its reference */
    return net_pair_handshake_ok(p);
}

/* Client -> server application data; returns what the server received (NUL terminated). */
static inline const char *net_pair_c2s(net_pair_t *p, const char *msg)
{
    p->plain.len = 0;
    if (SSL_write(p->cli, msg, (int)strlen(msg)) <= 0) return NULL;
    net_pair_pump(p);
    uint8_t zero = 0;
    net_buf_add(&p->plain, &zero, 1);
    p->plain.len--;
    return (const char *)p->plain.p;
}

/* Server -> client; returns the bytes the client read (static buffer, NUL terminated). */
static inline const char *net_pair_s2c(net_pair_t *p, const char *msg)
{
    static char buf[4096];
    if (hmq_tls_write(p->srv, (const uint8_t *)msg, strlen(msg)) != 0) return NULL;
    net_pair_pump(p);
    int n = SSL_read(p->cli, buf, sizeof(buf) - 1);
    if (n <= 0) return NULL;
    buf[n] = 0;
    return buf;
}

#endif
