/* tls_identity.c - the client's identity after a TLS handshake: protocol facts and the peer
 * certificate's subject, issuer, CN, SANs, serial, fingerprint, validity, verify result, and
 * the PEM chain on request.
 *
 * Called by core/conn.c once per connection (to authenticate and to fill the hook request);
 * nothing is cached in the engine: the snapshot is one allocation owned by the caller.
 */
#include "net/tls_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* Strings are gathered in a growing buffer first, then copied into one block with the struct.
 * Offsets are stored +1 so that 0 means NULL. */
typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} arena_t;

static size_t put(arena_t *a, const char *s, size_t n)
{
    if (!s) return 0;
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 512;
        while (cap < a->len + n + 1)
            cap *= 2;
        char *b = realloc(a->buf, cap);
        if (!b) {
            a->oom = true;
            return 0;
        }
        a->buf = b;
        a->cap = cap;
    }
    size_t off = a->len;
    memcpy(a->buf + off, s, n);
    a->buf[off + n] = 0;
    a->len += n + 1;
    return off + 1;
}

static size_t put_str(arena_t *a, const char *s)
{
    return s ? put(a, s, strlen(s)) : 0;
}

/* RFC 2253 with UTF-8 kept as UTF-8 (only RFC 2253 specials and controls escaped). */
static size_t put_name(arena_t *a, const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio) return 0;
    size_t off = 0;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *p;
        long n = BIO_get_mem_data(bio, &p);
        off = put(a, p, (size_t)n);
    }
    BIO_free(bio);
    return off;
}

static size_t put_cn(arena_t *a, const X509_NAME *name)
{
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0) return 0;
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, s);
    size_t off = 0;
    /* a CN with an embedded NUL could pass for a shorter name: treat it as absent */
    if (n >= 0 && memchr(utf8, 0, (size_t)n) == NULL) off = put(a, (const char *)utf8, (size_t)n);
    OPENSSL_free(utf8);
    return off;
}

static size_t put_hex(arena_t *a, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    if (n > EVP_MAX_MD_SIZE) return 0;
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[p[i] >> 4];
        hex[2 * i + 1] = digits[p[i] & 15];
    }
    return put(a, hex, 2 * n);
}

static size_t put_serial(arena_t *a, const X509 *cert)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    size_t off = put_str(a, hex);
    OPENSSL_free(hex);
    BN_free(bn);
    return off;
}

static int64_t unix_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm)) return 0;
    return (int64_t)timegm(&tm);
}

/* Printable ASCII only: SANs are IA5String; anything else is not a name we hand on. */
static bool printable(const unsigned char *p, int n)
{
    for (int i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e) return false;
    return n > 0;
}

typedef struct {
    hmq_tls_san_type_t type;
    size_t off;
} san_off_t;

static size_t collect_sans(arena_t *a, X509 *cert, san_off_t **out)
{
    *out = NULL;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (!names) return 0;
    int total = sk_GENERAL_NAME_num(names);
    san_off_t *sans = calloc((size_t)total + 1, sizeof(*sans));
    size_t n = 0;
    for (int i = 0; sans && i < total; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        const ASN1_STRING *s = NULL;
        hmq_tls_san_type_t type;
        switch (g->type) {
        case GEN_DNS:
            s = g->d.dNSName;
            type = HMQ_TLS_SAN_DNS;
            break;
        case GEN_URI:
            s = g->d.uniformResourceIdentifier;
            type = HMQ_TLS_SAN_URI;
            break;
        case GEN_EMAIL:
            s = g->d.rfc822Name;
            type = HMQ_TLS_SAN_EMAIL;
            break;
        case GEN_IPADD:
            s = g->d.iPAddress;
            type = HMQ_TLS_SAN_IP;
            break;
        default:
            continue;
        }
        const unsigned char *p = ASN1_STRING_get0_data(s);
        int len = ASN1_STRING_length(s);
        size_t off = 0;
        if (type == HMQ_TLS_SAN_IP) {
            char text[INET6_ADDRSTRLEN];
            int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
            if (af && inet_ntop(af, p, text, sizeof(text))) off = put_str(a, text);
        } else if (printable(p, len)) {
            off = put(a, (const char *)p, (size_t)len);
        }
        if (off) sans[n++] = (san_off_t){type, off};
    }
    GENERAL_NAMES_free(names);
    if (!sans) a->oom = true;
    *out = sans;
    return n;
}

typedef struct {
    size_t version, cipher, sni, alpn, verify_error, subject, issuer, cn, serial, sha256;
} offsets_t;

static void collect_cert(arena_t *a, SSL *ssl, X509 *cert, offsets_t *o, hmq_tls_identity_t *id)
{
    id->has_cert = true;
    id->verify_result = SSL_get_verify_result(ssl);
    o->verify_error = put_str(a, X509_verify_cert_error_string(id->verify_result));
    o->subject = put_name(a, X509_get_subject_name(cert));
    o->issuer = put_name(a, X509_get_issuer_name(cert));
    o->cn = put_cn(a, X509_get_subject_name(cert));
    o->serial = put_serial(a, cert);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (X509_digest(cert, EVP_sha256(), md, &mdlen)) o->sha256 = put_hex(a, md, mdlen);
    id->not_before = unix_time(X509_get0_notBefore(cert));
    id->not_after = unix_time(X509_get0_notAfter(cert));
}

static const char *at(const char *base, size_t off)
{
    return off ? base + off - 1 : NULL;
}

int hmq_tls_identity(const hmq_tls_t *t, hmq_tls_identity_t **out)
{
    *out = NULL;
    SSL *ssl = hmq_tls_ssl(t);
    if (!ssl) return HMQ_TLS_E_STATE;
    arena_t a = {0};
    offsets_t o = {0};
    hmq_tls_identity_t id = {0};
    o.version = put_str(&a, SSL_get_version(ssl));
    o.cipher = put_str(&a, SSL_get_cipher_name(ssl));
    o.sni = put_str(&a, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
    const unsigned char *alpn;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn_len) o.alpn = put(&a, (const char *)alpn, alpn_len);
    id.resumed = SSL_session_reused(ssl) == 1;
    X509 *cert = SSL_get0_peer_certificate(ssl);
    san_off_t *sans = NULL;
    size_t nsans = 0;
    if (cert) {
        collect_cert(&a, ssl, cert, &o, &id);
        nsans = collect_sans(&a, cert, &sans);
    }
    ERR_clear_error();
    size_t head = sizeof(hmq_tls_identity_t) + nsans * sizeof(hmq_tls_san_t);
    hmq_tls_identity_t *r = a.oom ? NULL : malloc(head + a.len);
    if (!r) {
        free(a.buf);
        free(sans);
        return HMQ_TLS_E_NOMEM;
    }
    char *base = (char *)r + head;
    if (a.len) memcpy(base, a.buf, a.len);
    *r = id;
    r->version = at(base, o.version);
    r->cipher = at(base, o.cipher);
    r->sni = at(base, o.sni);
    r->alpn = at(base, o.alpn);
    r->verify_error = at(base, o.verify_error);
    r->subject = at(base, o.subject);
    r->issuer = at(base, o.issuer);
    r->cn = at(base, o.cn);
    r->serial = at(base, o.serial);
    r->sha256 = at(base, o.sha256);
    hmq_tls_san_t *out_sans = (hmq_tls_san_t *)(r + 1);
    for (size_t i = 0; i < nsans; i++)
        out_sans[i] = (hmq_tls_san_t){sans[i].type, at(base, sans[i].off)};
    r->san_count = nsans;
    r->sans = nsans ? out_sans : NULL;
    free(a.buf);
    free(sans);
    *out = r;
    return 0;
}

void hmq_tls_identity_free(hmq_tls_identity_t *id)
{
    free(id);
}

static const char *first_san(const hmq_tls_identity_t *id, hmq_tls_san_type_t type)
{
    for (size_t i = 0; i < id->san_count; i++)
        if (type == 0 || id->sans[i].type == type) return id->sans[i].value;
    return NULL;
}

const char *hmq_tls_identity_name(const hmq_tls_identity_t *id, hmq_tls_name_t which)
{
    if (!id || !id->has_cert || id->verify_result != 0) return NULL;
    switch (which) {
    case HMQ_TLS_NAME_CN:
        return id->cn;
    case HMQ_TLS_NAME_SAN:
        return first_san(id, 0);
    case HMQ_TLS_NAME_SAN_DNS:
        return first_san(id, HMQ_TLS_SAN_DNS);
    case HMQ_TLS_NAME_SAN_IP:
        return first_san(id, HMQ_TLS_SAN_IP);
    case HMQ_TLS_NAME_SAN_URI:
        return first_san(id, HMQ_TLS_SAN_URI);
    case HMQ_TLS_NAME_SAN_EMAIL:
        return first_san(id, HMQ_TLS_SAN_EMAIL);
    case HMQ_TLS_NAME_SUBJECT:
        return id->subject;
    case HMQ_TLS_NAME_SERIAL:
        return id->serial;
    case HMQ_TLS_NAME_SHA256:
        return id->sha256;
    }
    return NULL;
}

char *hmq_tls_peer_chain_pem(const hmq_tls_t *t, size_t *len)
{
    SSL *ssl = hmq_tls_ssl(t);
    X509 *leaf = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
    if (!leaf) return NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio) return NULL;
    bool ok = PEM_write_bio_X509(bio, leaf);
    /* the verified chain (leaf, intermediates, our CA); after a resumption only the leaf */
    STACK_OF(X509) *chain = SSL_get0_verified_chain(ssl);
    for (int i = 0; ok && chain && i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);
        if (X509_cmp(c, leaf) != 0) ok = PEM_write_bio_X509(bio, c);
    }
    char *p, *pem = NULL;
    long n = BIO_get_mem_data(bio, &p);
    if (ok && n > 0 && (pem = malloc((size_t)n + 1))) {
        memcpy(pem, p, (size_t)n);
        pem[n] = 0;
        if (len) *len = (size_t)n;
    }
    BIO_free(bio);
    ERR_clear_error();
    return pem;
}
