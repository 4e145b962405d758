/* providers.h - built-in providers of the hook chain: a password file (authenticate) and an
 * ACL file (authorize). They sit in the same chain as the gRPC hook servers and follow the same
 * rules (CONTINUE / ALLOW / DENY, hooks.resolution, caching); see docs/hooks.md
 * "Built-in providers".
 *
 * Both are added with hmq_hooks_add_provider() before hmq_hooks_start(): the file is read and
 * checked at once; a bad line is logged (LOG_ERROR, path:line) and the call fails.
 * Reload (SIGHUP): hmq_*_provider_reload() parses the file into a new immutable table on the
 * calling thread, then swaps it in under a write lock held only for the pointer exchange
 * (workers hold the read lock for a lookup, never while hashing; a queued verification keeps
 * its own copy of the hash). A bad file keeps the old table.
 */
#ifndef HMQ_PROVIDERS_H
#define HMQ_PROVIDERS_H

#include "hookmq/hooks.h"

/* Password file, mosquitto_passwd compatible: "user:$7$<iterations>$<b64 salt>$<b64 hash>"
 * (PBKDF2-HMAC-SHA512) and "user:$scrypt$<N>$<r>$<p>$<b64 salt>$<b64 hash>". Authenticate
 * only: unknown user or no user name -> CONTINUE, wrong or missing password -> DENY 0x86,
 * right password -> ALLOW. Hashes are checked on the provider's own verifier threads (at most
 * 4), never on the worker; a check still queued at its deadline fails as a timeout. */
int hmq_passwd_provider_add(hmq_hooks_t *h, const char *name, const char *path);

/* ACL file, mosquitto acl_file style ("user", "topic", "pattern" with %c / %u). Authorize
 * only (read = subscribe, write = publish); no matching rule -> DENY 0x87 (a whitelist). */
int hmq_acl_provider_add(hmq_hooks_t *h, const char *name, const char *path);

/* Re-read the file of the provider added as `name` (any thread; returns 0, HMQ_HOOKS_EINVAL
 * for an unknown name or a bad file - the previous table stays - or HMQ_HOOKS_ENOMEM). */
int hmq_passwd_provider_reload(hmq_hooks_t *h, const char *name);
int hmq_acl_provider_reload(hmq_hooks_t *h, const char *name);

/* Password hashes, shared by the provider and `hookmq passwd`. */
#define HMQ_PASSWD_HASH_MAX 256                    /* longest hash string, NUL included */
#define HMQ_PASSWD_PBKDF2_DEFAULT_ITERATIONS 10000 /* ~8 ms per verify, see docs/hooks.md */
#define HMQ_PASSWD_SCRYPT_DEFAULT_N 16384          /* r 8, p 1: ~45 ms and 16 MiB per verify */

/* Writes a new salted hash of pw into out: method "pbkdf2" ("$7$", cost = iterations) or
 * "scrypt" (cost = N, a power of two); cost 0 = the default. 0 or HMQ_HOOKS_EINVAL. */
int hmq_passwd_hash(const char *method, uint32_t cost, const uint8_t *pw, size_t len,
                    char out[HMQ_PASSWD_HASH_MAX]);
/* 1 = pw matches hash ("$7$", "$6$" or "$scrypt$"), 0 = it does not, HMQ_HOOKS_EINVAL = the
 * hash is malformed. Constant time in the hash comparison. */
int hmq_passwd_verify(const char *hash, const uint8_t *pw, size_t len);

#endif
