/* tls_int.h - what tls.c (per-connection engine), tls_ctx.c (contexts, SNI, ALPN, ticket keys)
 * and tls_identity.c (certificate identity) share. Not for users of tls.h.
 */
#ifndef HMQ_TLS_INT_H
#define HMQ_TLS_INT_H

#include <stdatomic.h>

#include <openssl/ssl.h>

#include "net/tls.h"

typedef struct hmq_ticket_keys hmq_ticket_keys_t;

typedef struct {
    char *name; /* lowercase; "*.example.com" for a wildcard */
    SSL_CTX *ssl;
} hmq_tls_sni_ctx_t;

struct hmq_tls_ctx {
    atomic_int refs;
    SSL_CTX *ssl;           /* default certificate; the session context of every connection */
    hmq_tls_sni_ctx_t *sni; /* switched to in the servername callback */
    size_t sni_count;
    X509_STORE *store;       /* client CA + CRL, shared by all SSL_CTX of this context */
    hmq_ticket_keys_t *keys; /* shared with reloaded contexts; NULL when tickets are off */
    uint8_t *alpn;           /* wire format (length-prefixed protocols) */
    size_t alpn_len;
    hmq_tls_config_t cfg; /* deep copy, for reload */
};

/* The connection's SSL once the handshake is done, else NULL (for tls_identity.c). */
SSL *hmq_tls_ssl(const hmq_tls_t *t);

/* The BIO method of every engine (created once per process, never changed). */
const BIO_METHOD *hmq_tls_bio_method(void);

#endif
