/* passwd_hash.h - parsed password hashes (passwd_hash.c), used by the password-file provider
 * (provider_passwd.c): lines are parsed once when the file is loaded, verified per CONNECT. */
#ifndef HMQ_PASSWD_HASH_H
#define HMQ_PASSWD_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HMQ_PWHASH_SALT_MAX 64
#define HMQ_PWHASH_HASH_MAX 64

typedef enum {
    HMQ_PWHASH_SHA512 = 6,        /* mosquitto "$6$": SHA-512(password || salt), legacy */
    HMQ_PWHASH_PBKDF2_SHA512 = 7, /* mosquitto "$7$": PBKDF2-HMAC-SHA512 */
    HMQ_PWHASH_SCRYPT = 100,      /* "$scrypt$<N>$<r>$<p>$<salt>$<hash>" */
} hmq_pwhash_kind_t;

typedef struct {
    hmq_pwhash_kind_t kind;
    uint64_t n; /* PBKDF2 iterations or scrypt N */
    uint32_t r, p;
    size_t salt_len, hash_len;
    uint8_t salt[HMQ_PWHASH_SALT_MAX];
    uint8_t hash[HMQ_PWHASH_HASH_MAX];
} hmq_pwhash_t;

/* Parses s[0..len) (no trailing newline). false = malformed or outside the limits. */
bool hmq_pwhash_parse(hmq_pwhash_t *out, const char *s, size_t len);
/* Computes the hash of pw with h's parameters and compares (CRYPTO_memcmp). */
bool hmq_pwhash_check(const hmq_pwhash_t *h, const uint8_t *pw, size_t len);

#endif
