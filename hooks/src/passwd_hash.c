/* passwd_hash.c - salted password hashes in mosquitto_passwd's formats, plus scrypt.
 *
 *   $7$<iterations>$<b64 salt>$<b64 hash>   PBKDF2-HMAC-SHA512 (mosquitto 2.x, 64-byte hash)
 *   $6$<b64 salt>$<b64 hash>                SHA-512(password || salt) (mosquitto 1.x, verify only)
 *   $scrypt$<N>$<r>$<p>$<b64 salt>$<b64 hash>   EVP_PBE_scrypt (hookmq's own)
 *
 * Base64 is OpenSSL's (EVP_EncodeBlock / EVP_DecodeBlock, standard alphabet, padded), salts come
 * from RAND_bytes, comparisons are CRYPTO_memcmp. Used by provider_passwd.c (verify) and by
 * `hookmq passwd` (broker/src/tools/passwd.c, create) through hookmq/providers.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hookmq/providers.h"
#include "passwd_hash.h"

#define PBKDF2_MAX_ITERATIONS 10000000u
#define SCRYPT_MAX_N (1u << 20)
#define SCRYPT_MAX_MEM (UINT64_C(256) << 20) /* 128 * N * r */
#define PBKDF2_SALT_LEN 12                   /* as mosquitto_passwd */
#define SCRYPT_SALT_LEN 16
#define HASH_LEN 64

/* ---- base64 (OpenSSL) ---------------------------------------------------------------------- */

static bool b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t tmp[3 * ((HMQ_PWHASH_SALT_MAX + HMQ_PWHASH_HASH_MAX) / 3 + 2)];
    if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof(tmp)) return false;
    size_t pad = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (c == '=') {
            if (i + 2 < n) return false; /* padding only in the last two places */
            pad++;
        } else if (pad || !(alnum || c == '+' || c == '/')) {
            return false;
        }
    }
    if (EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n) < 0) return false;
    size_t len = n / 4 * 3 - pad;
    if (len > cap) return false;
    memcpy(out, tmp, len);
    OPENSSL_cleanse(tmp, sizeof(tmp));
    *out_len = len;
    return true;
}

/* Appends the base64 of in[0..n) at *p (room checked by the caller's buffer size). */
static char *b64_append(char *p, const uint8_t *in, size_t n)
{
    int w = EVP_EncodeBlock((unsigned char *)p, in, (int)n);
    return p + w;
}

/* ---- parsing ------------------------------------------------------------------------------- */

/* Splits s[0..len) (starting with '$') at '$' into at most max fields. */
static size_t split(const char *s, size_t len, const char **f, size_t *fl, size_t max)
{
    if (len == 0 || s[0] != '$') return 0;
    size_t n = 0;
    const char *b = s + 1, *end = s + len;
    for (const char *c = b;; c++) {
        if (c == end || *c == '$') {
            if (n == max) return max + 1;
            f[n] = b;
            fl[n++] = (size_t)(c - b);
            if (c == end) break;
            b = c + 1;
        }
    }
    return n;
}

static bool parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 10 || (n > 1 && s[0] == '0')) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v == 0 || v > max) return false;
    *out = v;
    return true;
}

static bool field_is(const char *f, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(f, lit, n) == 0;
}

bool hmq_pwhash_parse(hmq_pwhash_t *h, const char *s, size_t len)
{
    const char *f[7];
    size_t fl[7], n = split(s, len, f, fl, 6);
    memset(h, 0, sizeof(*h));
    size_t salt_i;
    if (n == 3 && field_is(f[0], fl[0], "6")) {
        h->kind = HMQ_PWHASH_SHA512;
        salt_i = 1;
    } else if (n == 4 && field_is(f[0], fl[0], "7")) {
        h->kind = HMQ_PWHASH_PBKDF2_SHA512;
        if (!parse_u64(f[1], fl[1], PBKDF2_MAX_ITERATIONS, &h->n)) return false;
        salt_i = 2;
    } else if (n == 6 && field_is(f[0], fl[0], "scrypt")) {
        uint64_t r, p;
        h->kind = HMQ_PWHASH_SCRYPT;
        if (!parse_u64(f[1], fl[1], SCRYPT_MAX_N, &h->n) || h->n < 2 || (h->n & (h->n - 1)) ||
            !parse_u64(f[2], fl[2], 32, &r) || !parse_u64(f[3], fl[3], 16, &p) ||
            128 * h->n * r > SCRYPT_MAX_MEM)
            return false;
        h->r = (uint32_t)r;
        h->p = (uint32_t)p;
        salt_i = 4;
    } else {
        return false;
    }
    if (!b64_decode(f[salt_i], fl[salt_i], h->salt, sizeof(h->salt), &h->salt_len) ||
        !b64_decode(f[salt_i + 1], fl[salt_i + 1], h->hash, sizeof(h->hash), &h->hash_len))
        return false;
    if (h->kind == HMQ_PWHASH_SHA512 && h->hash_len != 64) return false;
    return h->hash_len >= 16;
}

/* ---- hashing ------------------------------------------------------------------------------- */

static bool compute(const hmq_pwhash_t *h, const uint8_t *pw, size_t len, uint8_t *out)
{
    static const uint8_t empty = 0;
    if (!pw) pw = &empty;
    switch (h->kind) {
    case HMQ_PWHASH_PBKDF2_SHA512:
        return PKCS5_PBKDF2_HMAC((const char *)pw, (int)len, h->salt, (int)h->salt_len, (int)h->n,
                                 EVP_sha512(), (int)h->hash_len, out) == 1;
    case HMQ_PWHASH_SCRYPT:
        return EVP_PBE_scrypt((const char *)pw, len, h->salt, h->salt_len, h->n, h->r, h->p,
                              2 * (uint64_t)SCRYPT_MAX_MEM, out, h->hash_len) == 1;
    case HMQ_PWHASH_SHA512: {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned int n = 0;
        bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
                  EVP_DigestUpdate(ctx, pw, len) == 1 &&
                  EVP_DigestUpdate(ctx, h->salt, h->salt_len) == 1 &&
                  EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == h->hash_len;
        EVP_MD_CTX_free(ctx);
        return ok;
    }
    }
    return false;
}

bool hmq_pwhash_check(const hmq_pwhash_t *h, const uint8_t *pw, size_t len)
{
    uint8_t out[HMQ_PWHASH_HASH_MAX];
    if (len > 65535) return false; /* MQTT binary data; keeps the int casts above safe */
    bool ok = compute(h, pw, len, out) && CRYPTO_memcmp(out, h->hash, h->hash_len) == 0;
    OPENSSL_cleanse(out, sizeof(out));
    return ok;
}

int hmq_passwd_verify(const char *hash, const uint8_t *pw, size_t len)
{
    hmq_pwhash_t h;
    if (!hash || !hmq_pwhash_parse(&h, hash, strlen(hash))) return HMQ_HOOKS_EINVAL;
    return hmq_pwhash_check(&h, pw, len) ? 1 : 0;
}

int hmq_passwd_hash(const char *method, uint32_t cost, const uint8_t *pw, size_t len,
                    char out[HMQ_PASSWD_HASH_MAX])
{
    hmq_pwhash_t h = {.hash_len = HASH_LEN};
    if (!method || !strcmp(method, "pbkdf2") || !strcmp(method, "sha512-pbkdf2")) {
        h.kind = HMQ_PWHASH_PBKDF2_SHA512;
        h.n = cost ? cost : HMQ_PASSWD_PBKDF2_DEFAULT_ITERATIONS;
        h.salt_len = PBKDF2_SALT_LEN;
        if (h.n > PBKDF2_MAX_ITERATIONS) return HMQ_HOOKS_EINVAL;
    } else if (!strcmp(method, "scrypt")) {
        h.kind = HMQ_PWHASH_SCRYPT;
        h.n = cost ? cost : HMQ_PASSWD_SCRYPT_DEFAULT_N;
        h.r = 8;
        h.p = 1;
        h.salt_len = SCRYPT_SALT_LEN;
        if (h.n < 2 || h.n > SCRYPT_MAX_N || (h.n & (h.n - 1)) || 128 * h.n * h.r > SCRYPT_MAX_MEM)
            return HMQ_HOOKS_EINVAL;
    } else {
        return HMQ_HOOKS_EINVAL;
    }
    if (len > 65535 || RAND_bytes(h.salt, (int)h.salt_len) != 1 || !compute(&h, pw, len, h.hash))
        return HMQ_HOOKS_EINVAL;
    char *p = out;
    if (h.kind == HMQ_PWHASH_PBKDF2_SHA512)
        p += snprintf(p, 32, "$7$%llu$", (unsigned long long)h.n);
    else
        p += snprintf(p, 48, "$scrypt$%llu$%u$%u$", (unsigned long long)h.n, h.r, h.p);
    p = b64_append(p, h.salt, h.salt_len);
    *p++ = '$';
    b64_append(p, h.hash, h.hash_len); /* at most 48 + 24 + 1 + 88 + NUL < 256 */
    OPENSSL_cleanse(&h, sizeof(h));
    return 0;
}
