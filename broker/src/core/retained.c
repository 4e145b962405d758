/* retained.c - the retained message store (see retained.h): a trie over topic levels.
 *
 * Called by any worker: hmq_retained_set on a PUBLISH with RETAIN, hmq_retained_match on
 * SUBSCRIBE. One mutex guards the trie. Each node finds its children through its own
 * open-addressing table (linear probing; deletions leave tombstones so a walk can prune while it
 * iterates), so a filter walks only what it can match: an exact level is one probe, '+' iterates
 * one node's children, '#' one subtree. Matches are collected (one reference each) under the
 * lock and reported after it is released, so a callback may call back into the store.
 */
#include "core/retained.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/topic_index.h" /* hmq_topic_hash */

typedef struct rnode {
    struct rnode *parent;
    struct rnode **kids; /* cap slots: NULL empty, TOMB deleted, else a child */
    uint32_t cap;        /* 0 or a power of two */
    uint32_t used;       /* live children + tombstones, at most 3/4 of cap */
    uint32_t nkids;      /* live children */
    uint32_t slot;       /* index in parent->kids */
    hmq_msg_t *msg;      /* the retained message of exactly this topic, or NULL */
    uint64_t hash;
    uint16_t len;
    char level[];
} rnode_t;

static char tomb_mark;
#define TOMB ((rnode_t *)(void *)&tomb_mark)

struct hmq_retained {
    pthread_mutex_t lock;
    rnode_t *root; /* zero levels: never holds a message, never pruned */
    uint64_t seed;
    size_t count, bytes, nodes;
};

static bool live(const rnode_t *c)
{
    return c && c != TOMB;
}

static size_t msg_bytes(const hmq_msg_t *m)
{
    return (size_t)m->topic_len + m->props_len + m->payload_len;
}

/* ---- per-node child table ---- */

static rnode_t *kid_find(const rnode_t *n, const char *p, size_t len, uint64_t h)
{
    if (!n->cap) return NULL;
    uint32_t mask = n->cap - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        rnode_t *c = n->kids[i];
        if (!c) return NULL;
        if (c != TOMB && c->hash == h && c->len == len && memcmp(c->level, p, len) == 0) return c;
    }
}

static void kid_place(rnode_t *n, rnode_t *c)
{
    uint32_t mask = n->cap - 1, i = (uint32_t)c->hash & mask;
    while (live(n->kids[i]))
        i = (i + 1) & mask;
    if (!n->kids[i]) n->used++;
    n->kids[i] = c;
    c->slot = i;
}

/* Never called during a walk: a rehash moves children. */
static int kid_insert(rnode_t *n, rnode_t *c)
{
    if ((uint64_t)(n->used + 1) * 4 > (uint64_t)n->cap * 3) {
        uint32_t cap = 4;
        while (cap < (n->nkids + 1) * 2)
            cap *= 2;
        rnode_t **kids = calloc(cap, sizeof *kids);
        if (!kids) return -1;
        rnode_t **old = n->kids;
        uint32_t ocap = n->cap;
        n->kids = kids;
        n->cap = cap;
        n->used = 0;
        for (uint32_t i = 0; i < ocap; i++)
            if (live(old[i])) kid_place(n, old[i]);
        free(old);
    }
    kid_place(n, c);
    n->nkids++;
    return 0;
}

/* Leaves a tombstone, so iterating n->kids by index stays valid. */
static void kid_remove(rnode_t *n, rnode_t *c)
{
    n->kids[c->slot] = TOMB;
    if (--n->nkids == 0) {
        free(n->kids);
        n->kids = NULL;
        n->cap = n->used = 0;
    }
}

/* ---- nodes ---- */

static rnode_t *node_new(hmq_retained_t *r, rnode_t *parent, const char *p, size_t len, uint64_t h)
{
    rnode_t *c = calloc(1, sizeof *c + len);
    if (!c) return NULL;
    c->parent = parent;
    c->hash = h;
    c->len = (uint16_t)len;
    memcpy(c->level, p, len);
    if (kid_insert(parent, c) < 0) {
        free(c);
        return NULL;
    }
    r->nodes++;
    return c;
}

static void drop_msg(hmq_retained_t *r, rnode_t *n)
{
    r->count--;
    r->bytes -= msg_bytes(n->msg);
    hmq_msg_unref(n->msg);
    n->msg = NULL;
}

/* Frees n if it holds nothing; returns whether it did. */
static bool prune_node(hmq_retained_t *r, rnode_t *n)
{
    if (n == r->root || n->msg || n->nkids) return false;
    kid_remove(n->parent, n);
    free(n);
    r->nodes--;
    return true;
}

static void prune_up(hmq_retained_t *r, rnode_t *n)
{
    while (n != r->root) {
        rnode_t *p = n->parent;
        if (!prune_node(r, n)) return;
        n = p;
    }
}

/* ---- public API ---- */

hmq_retained_t *hmq_retained_new(void)
{
    hmq_retained_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->root = calloc(1, sizeof *r->root);
    if (!r->root) {
        free(r);
        return NULL;
    }
    r->seed = hmq_topic_hash_seed();
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void hmq_retained_free(hmq_retained_t *r)
{
    if (!r) return;
    /* Post-order without recursion: descend to the first child, free on the way back up and
     * resume the parent's scan after the freed child's slot. */
    rnode_t *n = r->root;
    uint32_t i = 0;
    for (;;) {
        while (i < n->cap && !live(n->kids[i]))
            i++;
        if (i < n->cap) {
            n = n->kids[i];
            i = 0;
            continue;
        }
        rnode_t *p = n->parent;
        i = n->slot + 1;
        hmq_msg_unref(n->msg);
        free(n->kids);
        free(n);
        if (!p) break;
        n = p;
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void hmq_retained_set(hmq_retained_t *r, const char *topic, size_t len, hmq_msg_t *msg)
{
    bool clear = !msg || msg->payload_len == 0;
    if (len > UINT16_MAX) return;
    pthread_mutex_lock(&r->lock);
    rnode_t *n = r->root;
    const char *p = topic, *end = topic + len;
    for (;;) {
        const char *q = memchr(p, '/', (size_t)(end - p));
        size_t l = q ? (size_t)(q - p) : (size_t)(end - p);
        uint64_t h = hmq_topic_hash(r->seed, p, l);
        rnode_t *c = kid_find(n, p, l, h);
        if (!c && !clear) c = node_new(r, n, p, l, h);
        if (!c) { /* nothing to clear, or out of memory: the message is not retained */
            prune_up(r, n);
            goto out;
        }
        n = c;
        if (!q) break;
        p = q + 1;
    }
    if (n->msg) drop_msg(r, n);
    if (clear) {
        prune_up(r, n);
    } else {
        n->msg = hmq_msg_ref(msg);
        r->count++;
        r->bytes += msg_bytes(msg);
    }
out:
    pthread_mutex_unlock(&r->lock);
}

/* ---- matching ---- */

typedef struct {
    hmq_retained_t *r;
    const char *end;
    uint64_t now;
    hmq_msg_t **v; /* collected, one reference each */
    size_t n, cap;
    hmq_msg_t *local[32];
} rmatch_t;

static void visit(rmatch_t *m, rnode_t *n)
{
    if (!n->msg) return;
    if (hmq_msg_expired(n->msg, m->now)) {
        drop_msg(m->r, n); /* the caller prunes n */
        return;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap * 2;
        hmq_msg_t **v = m->v == m->local ? malloc(cap * sizeof *v) : realloc(m->v, cap * sizeof *v);
        if (!v) return; /* out of memory: this one is not reported */
        if (m->v == m->local) memcpy(v, m->local, sizeof m->local);
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n++] = hmq_msg_ref(n->msg);
}

static bool is_dollar(const rnode_t *c)
{
    return c->len && c->level[0] == '$';
}

static bool is_wild(const char *p, size_t len, char c)
{
    return len == 1 && p[0] == c;
}

/* Every message in top's subtree (top included), pruning what expires on the way; iterative,
 * so deep topics cannot exhaust the stack. top itself is left to the caller to prune. */
static void walk_subtree(rmatch_t *m, rnode_t *top)
{
    rnode_t *n = top;
    uint32_t i = 0;
    visit(m, n);
    for (;;) {
        while (i < n->cap && !live(n->kids[i]))
            i++;
        if (i < n->cap) {
            n = n->kids[i];
            i = 0;
            visit(m, n);
            continue;
        }
        if (n == top) return;
        rnode_t *p = n->parent;
        i = n->slot + 1;
        prune_node(m->r, n);
        n = p;
    }
}

/* Filter levels from p (NULL: all consumed) below n. Recursion depth = filter levels. Loops
 * over n->kids re-read cap/kids each step: pruning a child may free the table. */
static void walk_filter(rmatch_t *m, rnode_t *n, const char *p, bool first)
{
    if (!p) {
        visit(m, n);
        return;
    }
    const char *q = memchr(p, '/', (size_t)(m->end - p));
    size_t l = q ? (size_t)(q - p) : (size_t)(m->end - p);
    const char *next = q ? q + 1 : NULL;
    if (is_wild(p, l, '#') || is_wild(p, l, '+')) {
        bool hash = p[0] == '#';
        if (hash) visit(m, n); /* "sport/#" matches "sport" (the root holds nothing) */
        for (uint32_t i = 0; i < n->cap; i++) {
            rnode_t *c = n->kids[i];
            if (!live(c) || (first && is_dollar(c))) continue;
            if (hash)
                walk_subtree(m, c);
            else
                walk_filter(m, c, next, false);
            prune_node(m->r, c);
        }
        return;
    }
    rnode_t *c = kid_find(n, p, l, hmq_topic_hash(m->r->seed, p, l));
    if (!c) return;
    walk_filter(m, c, next, false);
    prune_node(m->r, c);
}

void hmq_retained_match(hmq_retained_t *r, const char *filter, size_t len, uint64_t now_ms,
                        hmq_retained_cb cb, void *ctx)
{
    rmatch_t m = {.r = r, .end = filter + len, .now = now_ms};
    m.v = m.local;
    m.cap = sizeof m.local / sizeof m.local[0];
    pthread_mutex_lock(&r->lock);
    walk_filter(&m, r->root, filter, true);
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; i < m.n; i++) {
        cb(ctx, m.v[i]);
        hmq_msg_unref(m.v[i]);
    }
    if (m.v != m.local) free(m.v);
}

size_t hmq_retained_count(hmq_retained_t *r)
{
    pthread_mutex_lock(&r->lock);
    size_t n = r->count;
    pthread_mutex_unlock(&r->lock);
    return n;
}

size_t hmq_retained_bytes(hmq_retained_t *r)
{
    pthread_mutex_lock(&r->lock);
    size_t n = r->bytes;
    pthread_mutex_unlock(&r->lock);
    return n;
}

size_t hmq_retained_node_count(hmq_retained_t *r)
{
    pthread_mutex_lock(&r->lock);
    size_t n = r->nodes;
    pthread_mutex_unlock(&r->lock);
    return n;
}
