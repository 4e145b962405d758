/* cache.c - the hook engine's decision cache, shared by all workers (one mutex).
 *
 * Keys are HMAC-SHA256 digests, under a random key drawn at start-up, of the request's identity
 * parts (provider, hook, listener, client id, username, password, ...): no key holds a secret or
 * an identity in plain text, and keys do not survive the process. An entry is fresh for its TTL
 * and then kept, for `on_failure: stale`, until stale_ttl_ms after it expired. At max_entries the
 * least recently used entry goes. Called by engine.c only.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hooks_int.h"
#include "proto_convert.h"
#include "util/map.h"

typedef struct entry {
    hmq_cache_key_t key;
    hmq_hooks_value_t *value;
    uint64_t expires_ms;
    struct entry *prev, *next; /* LRU: head = most recent */
} entry_t;

struct hmq_hooks_cache {
    uv_mutex_t mu;
    hmq_map_t map;
    entry_t *head, *tail;
    size_t max_entries;
    uint32_t stale_ttl_ms;
    uint8_t secret[32];
    /* HMAC-SHA256 with the secret, as two SHA-256 states that already absorbed the key blocks
     * (RFC 2104): a key costs two state copies and two short hashes, not a MAC fetch. */
    EVP_MD *sha256;
    EVP_MD_CTX *inner, *outer;
};

static int keyed_states(hmq_hooks_cache_t *c)
{
    uint8_t ipad[64], opad[64];
    memset(ipad, 0x36, sizeof ipad);
    memset(opad, 0x5c, sizeof opad);
    for (size_t i = 0; i < sizeof c->secret; i++) {
        ipad[i] ^= c->secret[i];
        opad[i] ^= c->secret[i];
    }
    int ok = (c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) && (c->inner = EVP_MD_CTX_new()) &&
             (c->outer = EVP_MD_CTX_new()) && EVP_DigestInit_ex(c->inner, c->sha256, NULL) &&
             EVP_DigestUpdate(c->inner, ipad, sizeof ipad) &&
             EVP_DigestInit_ex(c->outer, c->sha256, NULL) &&
             EVP_DigestUpdate(c->outer, opad, sizeof opad);
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
    return ok ? 0 : -1;
}

uint64_t hmq_hooks_now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

hmq_hooks_cache_t *hmq_hooks_cache_new(size_t max_entries, uint32_t stale_ttl_ms)
{
    hmq_hooks_cache_t *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    if (RAND_bytes(c->secret, sizeof(c->secret)) != 1 || keyed_states(c) < 0 ||
        uv_mutex_init(&c->mu) != 0) {
        EVP_MD_CTX_free(c->inner);
        EVP_MD_CTX_free(c->outer);
        EVP_MD_free(c->sha256);
        free(c);
        return NULL;
    }
    hmq_map_init(&c->map);
    c->max_entries = max_entries ? max_entries : 100000;
    c->stale_ttl_ms = stale_ttl_ms;
    return c;
}

static void unlink_entry(hmq_hooks_cache_t *c, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(hmq_hooks_cache_t *c, entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head) c->head->prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
}

static void drop_entry(hmq_hooks_cache_t *c, entry_t *e)
{
    unlink_entry(c, e);
    hmq_map_del(&c->map, e->key.b, sizeof(e->key.b));
    hmq_hooks_value_unref(e->value);
    free(e);
}

void hmq_hooks_cache_free(hmq_hooks_cache_t *c)
{
    if (!c) return;
    while (c->head)
        drop_entry(c, c->head);
    hmq_map_free(&c->map);
    uv_mutex_destroy(&c->mu);
    EVP_MD_CTX_free(c->inner);
    EVP_MD_CTX_free(c->outer);
    EVP_MD_free(c->sha256);
    OPENSSL_cleanse(c->secret, sizeof(c->secret));
    free(c);
}

void hmq_hooks_cache_key(const hmq_hooks_cache_t *c, hmq_cache_key_t *out, const void *const *parts,
                         const size_t *lens, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += 5 + (parts[i] ? lens[i] : 0);
    uint8_t small[1024], *buf = total <= sizeof(small) ? small : malloc(total);
    if (!buf) { /* no memory: a key nothing else can produce, so a miss */
        memset(out->b, 0xff, sizeof(out->b));
        return;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = parts[i] ? (uint32_t)lens[i] : 0;
        buf[off++] = parts[i] ? 1 : 0; /* absent != empty */
        memcpy(buf + off, &len, 4);
        off += 4;
        if (len) memcpy(buf + off, parts[i], len);
        off += len;
    }
    unsigned int md_len = sizeof(out->b);
    uint8_t ih[32];
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    if (!x || !EVP_MD_CTX_copy_ex(x, c->inner) || !EVP_DigestUpdate(x, buf, off) ||
        !EVP_DigestFinal_ex(x, ih, &md_len) || !EVP_MD_CTX_copy_ex(x, c->outer) ||
        !EVP_DigestUpdate(x, ih, sizeof ih) || !EVP_DigestFinal_ex(x, out->b, &md_len))
        memset(out->b, 0xff, sizeof(out->b)); /* a key nothing else produces: a miss */
    EVP_MD_CTX_free(x);
    OPENSSL_cleanse(buf, off); /* it may have held a password */
    if (buf != small) free(buf);
}

hmq_hooks_value_t *hmq_hooks_cache_get(hmq_hooks_cache_t *c, const hmq_cache_key_t *k,
                                       uint64_t now_ms, bool stale)
{
    hmq_hooks_value_t *v = NULL;
    uv_mutex_lock(&c->mu);
    entry_t *e = hmq_map_get(&c->map, k->b, sizeof(k->b));
    if (e) {
        if (now_ms >= e->expires_ms + c->stale_ttl_ms) {
            drop_entry(c, e);
        } else if (now_ms < e->expires_ms || stale) {
            unlink_entry(c, e);
            push_front(c, e);
            v = hmq_hooks_value_ref(e->value);
        }
    }
    uv_mutex_unlock(&c->mu);
    return v;
}

void hmq_hooks_cache_put(hmq_hooks_cache_t *c, const hmq_cache_key_t *k, hmq_hooks_value_t *v,
                         uint64_t now_ms, uint32_t ttl_ms)
{
    uv_mutex_lock(&c->mu);
    entry_t *e = hmq_map_get(&c->map, k->b, sizeof(k->b));
    if (e) {
        hmq_hooks_value_unref(e->value);
        unlink_entry(c, e);
    } else {
        while (c->map.count >= c->max_entries && c->tail)
            drop_entry(c, c->tail);
        e = calloc(1, sizeof(*e));
        if (!e) goto out;
        e->key = *k;
        if (hmq_map_put(&c->map, e->key.b, sizeof(e->key.b), e) != 0) {
            free(e);
            goto out;
        }
    }
    e->value = hmq_hooks_value_ref(v);
    e->expires_ms = now_ms + ttl_ms;
    push_front(c, e);
out:
    uv_mutex_unlock(&c->mu);
}

size_t hmq_hooks_cache_size(hmq_hooks_cache_t *c)
{
    uv_mutex_lock(&c->mu);
    size_t n = c->map.count;
    uv_mutex_unlock(&c->mu);
    return n;
}

/* ---- values ------------------------------------------------------------------------------ */

void hmq_hooks_answer_clear(hmq_hooks_answer_t *a)
{
    free(a->reason);
    hmq_grants_unref(a->grants);
    for (size_t i = 0; i < a->n_attributes; i++) {
        free((char *)a->attributes[i].key);
        free((char *)a->attributes[i].value);
    }
    free(a->attributes);
    hmq_hooks_message_free_owned(&a->changes);
    free(a->auth_data);
    free(a->auth_state);
    for (size_t i = 0; i < a->n_subs; i++) {
        free(a->subs[i].reason);
        free(a->subs[i].filter);
    }
    free(a->subs);
    memset(a, 0, sizeof(*a));
}

hmq_hooks_value_t *hmq_hooks_value_from_answer(hmq_hooks_answer_t *a)
{
    hmq_hooks_value_t *v = calloc(1, sizeof(*v));
    char *reason = strdup(a->reason ? a->reason : "");
    if (!v || !reason) {
        free(v);
        free(reason);
        return NULL;
    }
    atomic_init(&v->refs, 1);
    v->decision = a->decision;
    v->reason_code = a->reason_code;
    v->reason = reason;
    free(a->reason);
    a->reason = NULL;
    v->grants = a->grants;
    a->grants = NULL;
    v->superuser = a->superuser;
    v->attributes = a->attributes;
    v->n_attributes = a->n_attributes;
    a->attributes = NULL;
    a->n_attributes = 0;
    v->expires_unix_ms = a->expires_unix_ms;
    v->challenge = a->challenge;
    v->auth_data = a->auth_data;
    v->auth_data_len = a->auth_data_len;
    v->auth_state = a->auth_state;
    v->auth_state_len = a->auth_state_len;
    a->auth_data = a->auth_state = NULL;
    return v;
}

hmq_hooks_value_t *hmq_hooks_value_ref(hmq_hooks_value_t *v)
{
    if (v) atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    return v;
}

void hmq_hooks_value_unref(hmq_hooks_value_t *v)
{
    if (!v || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1) return;
    hmq_hooks_answer_t a = {.reason = v->reason,
                            .grants = v->grants,
                            .attributes = v->attributes,
                            .n_attributes = v->n_attributes,
                            .auth_data = v->auth_data,
                            .auth_state = v->auth_state};
    hmq_hooks_answer_clear(&a);
    free(v);
}

static size_t slen(const char *s)
{
    return s ? strlen(s) : 0;
}

/* ---- what decisions are cached under (chain.c) ---------------------------------------------- */

/* authenticate: provider, client identity and the (HMAC'd, never stored) password. */
void hmq_hooks_key_auth(const hmq_hooks_cache_t *cache, const provider_t *p,
                        const hmq_hooks_auth_req_t *req, hmq_cache_key_t *key)
{
    const hmq_hooks_client_t *c = req->client;
    uint8_t hook = HMQ_HOOK_AUTHENTICATE;
    const char *fp = c->tls && c->tls->has_peer_certificate ? c->tls->fingerprint_sha256 : NULL;
    const void *pw = req->has_password
                         ? (const void *)(req->password ? req->password : (const uint8_t *)"")
                         : NULL;
    unsigned gen = atomic_load(&p->generation);
    const void *parts[] = {p->name, &gen, &hook, c->listener, c->client_id, c->username, pw, fp};
    size_t lens[] = {
        strlen(p->name),   sizeof gen,        1,       slen(c->listener), slen(c->client_id),
        slen(c->username), req->password_len, slen(fp)};
    hmq_hooks_cache_key(cache, key, parts, lens, sizeof(parts) / sizeof(parts[0]));
}

/* authorize, by scope: topic (client + action + topic), client (client + action), username. */
void hmq_hooks_key_authz(const hmq_hooks_cache_t *cache, const provider_t *p,
                         const hmq_hooks_authz_req_t *req, uint8_t scope, hmq_cache_key_t *key)
{
    const hmq_hooks_client_t *c = req->client;
    uint8_t tag[2] = {HMQ_HOOK_AUTHORIZE, scope};
    uint8_t action = (uint8_t)req->action;
    bool user = scope == HMQ_SCOPE_USERNAME;
    bool topic = scope == HMQ_SCOPE_TOPIC;
    unsigned gen = atomic_load(&p->generation);
    const void *parts[] = {p->name,
                           &gen,
                           tag,
                           &action,
                           user ? NULL : c->client_id,
                           c->username,
                           topic ? req->topic : NULL,
                           topic ? req->share_group : NULL};
    size_t lens[] = {strlen(p->name),
                     sizeof gen,
                     2,
                     1,
                     user ? 0 : slen(c->client_id),
                     slen(c->username),
                     topic ? slen(req->topic) : 0,
                     topic ? slen(req->share_group) : 0};
    hmq_hooks_cache_key(cache, key, parts, lens, sizeof(parts) / sizeof(parts[0]));
}
