/* topic_index.c - the shared subscription index (see topic_index.h), read under RCU.
 *
 * Every worker calls hmq_topic_index_match for each PUBLISH (no lock: RCU read side) and
 * add/remove on (UN)SUBSCRIBE and session end (serialized by idx->lock). Layout:
 *  - a trie node per filter level. Children are found through ONE lock-free hash table
 *    (cds_lfht) keyed by (parent node, level), so a level costs one probe whatever the fan-out;
 *    the '+' and '#' children are in that table too and also cached in the parent;
 *  - per node, an RCU list of plain subscriptions, one record per (filter, subscriber), plus a
 *    second table (node, subscriber) -> record used by writers, so that add/remove stay O(1)
 *    when many thousands of sessions subscribe to the same filter;
 *  - per node, an RCU list of shared groups ($share/{group}/{filter} lives at {filter}'s node),
 *    each a copy-on-write member array and a round-robin cursor.
 * Whatever is unlinked is freed by call_rcu after a grace period; empty nodes are pruned.
 *
 * The two tables are sized by the writer (cds_lfht_resize to a power of two, about one bucket
 * per entry) rather than with CDS_LFHT_AUTO_RESIZE: with liburcu 0.13 we saw auto-resized
 * tables randomly stop growing (20+ us per match at 250k filters instead of ~0.3 us). Likely
 * cause: the lazy launcher sets resize_initiated after queueing the work, so a worker that
 * finishes first leaves the flag set and no later resize is ever queued.
 */
#include "core/topic_index.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Small helpers (rcu_dereference...) inline; allowed for any licence, see liburcu's README. */
#define URCU_INLINE_SMALL_FUNCTIONS
#include <urcu.h> /* memb flavour: the default of <urcu.h> */
#include <urcu/rculfhash.h>
#include <urcu/rculist.h>

typedef struct tnode {
    struct cds_lfht_node ht;     /* in idx->nodes, key (parent, level) */
    struct tnode *parent;        /* NULL for the root */
    struct tnode *plus;          /* RCU: the '+' child */
    struct tnode *hash;          /* RCU: the '#' child */
    struct cds_list_head subs;   /* RCU list of tsub_t */
    struct cds_list_head groups; /* RCU list of tgroup_t */
    struct rcu_head rcu;
    uint32_t nkids; /* writer only */
    uint16_t len;
    char level[];
} tnode_t;

/* One plain (non-shared) subscription. */
typedef struct {
    struct cds_list_head link; /* in node->subs */
    struct cds_lfht_node ht;   /* in idx->subs, key (node, e.sub) */
    tnode_t *node;
    struct rcu_head rcu;
    hmq_sub_entry_t e;
} tsub_t;

/* The members of a shared group; replaced as a whole (copy on write), never empty. */
typedef struct {
    struct rcu_head rcu;
    hmq_subscriber_t *drop; /* reference released when this array is freed (member that left) */
    uint32_t n;
    hmq_sub_entry_t e[];
} tmembers_t;

typedef struct {
    struct cds_list_head link; /* in node->groups */
    tmembers_t *m;             /* RCU */
    atomic_uint cursor;        /* index of the member that got the previous message */
    struct rcu_head rcu;
    uint16_t len;
    char name[];
} tgroup_t;

#define TABLE_MIN 1024ul

struct hmq_topic_index {
    struct cds_lfht *nodes; /* (parent, level) -> tnode_t */
    struct cds_lfht *subs;  /* (node, subscriber) -> tsub_t, for writers */
    tnode_t *root;
    uint64_t seed;
    pthread_mutex_t lock;                /* serializes writers; protects the fields below it */
    unsigned long nodes_size, subs_size; /* buckets */
    size_t nsubs;                        /* plain subscription records */
    atomic_size_t count;
    atomic_size_t nnodes;
};

/* A topic or filter split into "$share/{group}/" and the rest. */
typedef struct {
    const char *group; /* NULL when not shared */
    size_t glen;
    const char *inner;
    size_t ilen;
} fparts_t;

typedef struct {
    const tnode_t *parent;
    const char *p;
    size_t len;
} nkey_t;

/* MurmurHash64A (Austin Appleby, public domain), seeded per index. */
uint64_t hmq_topic_hash(uint64_t seed, const void *data, size_t len)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const unsigned char *p = data;
    uint64_t h = seed ^ (len * m);
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        k *= m;
        k ^= k >> 47;
        k *= m;
        h ^= k;
        h *= m;
    }
    if (len) {
        uint64_t k = 0; /* little-endian tail, built in registers (no store forwarding stall) */
        while (len--)
            k = (k << 8) | p[len];
        h ^= k;
        h *= m;
    }
    h ^= h >> 47;
    h *= m;
    h ^= h >> 47;
    return h;
}

uint64_t hmq_topic_hash_seed(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed) return seed;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ((uint64_t)ts.tv_sec * 1000000007ULL) ^ (uint64_t)ts.tv_nsec ^ (uintptr_t)&seed;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static unsigned long node_hash(const hmq_topic_index_t *idx, const tnode_t *parent, const char *p,
                               size_t len)
{
    return (unsigned long)hmq_topic_hash(idx->seed ^ mix64((uintptr_t)parent), p, len);
}

static unsigned long sub_hash(const hmq_topic_index_t *idx, const tnode_t *n,
                              const hmq_subscriber_t *s)
{
    return (unsigned long)mix64(idx->seed ^ mix64((uintptr_t)n) ^ (uintptr_t)s);
}

static int node_match(struct cds_lfht_node *ht, const void *key)
{
    const tnode_t *n = caa_container_of(ht, tnode_t, ht);
    const nkey_t *k = key;
    return n->parent == k->parent && n->len == k->len && memcmp(n->level, k->p, k->len) == 0;
}

static int sub_match(struct cds_lfht_node *ht, const void *key)
{
    const tsub_t *s = caa_container_of(ht, tsub_t, ht);
    const tsub_t *k = key;
    return s->node == k->node && s->e.sub == k->e.sub;
}

static bool is_wild(const char *p, size_t len, char c)
{
    return len == 1 && p[0] == c;
}

/* The child of `parent` whose level is exactly p[0..len). Inside rcu_read_lock. */
static tnode_t *node_lookup(hmq_topic_index_t *idx, const tnode_t *parent, const char *p,
                            size_t len)
{
    struct cds_lfht_iter it;
    nkey_t k = {parent, p, len};
    cds_lfht_lookup(idx->nodes, node_hash(idx, parent, p, len), node_match, &k, &it);
    struct cds_lfht_node *ht = cds_lfht_iter_get_node(&it);
    return ht ? caa_container_of(ht, tnode_t, ht) : NULL;
}

static tnode_t *child_find(hmq_topic_index_t *idx, tnode_t *n, const char *p, size_t len)
{
    if (is_wild(p, len, '+')) return rcu_dereference(n->plus);
    if (is_wild(p, len, '#')) return rcu_dereference(n->hash);
    return node_lookup(idx, n, p, len);
}

static tsub_t *sub_lookup(hmq_topic_index_t *idx, tnode_t *n, hmq_subscriber_t *s)
{
    struct cds_lfht_iter it;
    tsub_t k = {.node = n, .e = {.sub = s}};
    cds_lfht_lookup(idx->subs, sub_hash(idx, n, s), sub_match, &k, &it);
    struct cds_lfht_node *ht = cds_lfht_iter_get_node(&it);
    return ht ? caa_container_of(ht, tsub_t, ht) : NULL;
}

static int split_filter(const char *f, size_t len, fparts_t *out)
{
    static const char share[] = "$share/";
    const size_t plen = sizeof share - 1;
    out->group = NULL;
    out->glen = 0;
    out->inner = f;
    out->ilen = len;
    if (len < plen || memcmp(f, share, plen) != 0) return 0;
    const char *g = f + plen;
    const char *slash = memchr(g, '/', len - plen);
    if (!slash || slash == g) return -EINVAL;
    out->group = g;
    out->glen = (size_t)(slash - g);
    out->inner = slash + 1;
    out->ilen = len - plen - out->glen - 1;
    return 1;
}

/* ---- reclamation (call_rcu callbacks) ---- */

static void node_free_rcu(struct rcu_head *head)
{
    free(caa_container_of(head, tnode_t, rcu));
}

static void sub_free_rcu(struct rcu_head *head)
{
    tsub_t *s = caa_container_of(head, tsub_t, rcu);
    hmq_subscriber_unref(s->e.sub);
    free(s);
}

static void members_free_rcu(struct rcu_head *head)
{
    tmembers_t *m = caa_container_of(head, tmembers_t, rcu);
    hmq_subscriber_unref(m->drop);
    free(m);
}

static void group_free_rcu(struct rcu_head *head)
{
    tgroup_t *g = caa_container_of(head, tgroup_t, rcu);
    for (uint32_t i = 0; i < g->m->n; i++)
        hmq_subscriber_unref(g->m->e[i].sub);
    free(g->m);
    free(g);
}

/* ---- writer side: under idx->lock and rcu_read_lock ---- */

static tnode_t *node_new(hmq_topic_index_t *idx, tnode_t *parent, const char *p, size_t len)
{
    tnode_t *c = calloc(1, sizeof *c + len);
    if (!c) return NULL;
    c->parent = parent;
    CDS_INIT_LIST_HEAD(&c->subs);
    CDS_INIT_LIST_HEAD(&c->groups);
    cds_lfht_node_init(&c->ht);
    c->len = (uint16_t)len;
    memcpy(c->level, p, len);
    cds_lfht_add(idx->nodes, node_hash(idx, parent, p, len), &c->ht);
    if (is_wild(p, len, '+')) rcu_assign_pointer(parent->plus, c);
    if (is_wild(p, len, '#')) rcu_assign_pointer(parent->hash, c);
    parent->nkids++;
    atomic_fetch_add_explicit(&idx->nnodes, 1, memory_order_relaxed);
    return c;
}

static bool node_empty(tnode_t *n)
{
    return !n->nkids && cds_list_empty(&n->subs) && cds_list_empty(&n->groups);
}

/* Unlink n and its ancestors while they are empty; readers may still hold them until the
 * grace period ends. */
static void prune(hmq_topic_index_t *idx, tnode_t *n)
{
    while (n != idx->root && node_empty(n)) {
        tnode_t *p = n->parent;
        cds_lfht_del(idx->nodes, &n->ht);
        if (p->plus == n) rcu_set_pointer(&p->plus, NULL);
        if (p->hash == n) rcu_set_pointer(&p->hash, NULL);
        p->nkids--;
        atomic_fetch_sub_explicit(&idx->nnodes, 1, memory_order_relaxed);
        call_rcu(&n->rcu, node_free_rcu);
        n = p;
    }
}

/* The node of filter f (no "$share/" prefix), created if `create`. NULL: absent or -ENOMEM. */
static tnode_t *node_path(hmq_topic_index_t *idx, const char *f, size_t len, bool create)
{
    tnode_t *n = idx->root;
    const char *p = f, *end = f + len;
    for (;;) {
        const char *q = memchr(p, '/', (size_t)(end - p));
        size_t l = q ? (size_t)(q - p) : (size_t)(end - p);
        tnode_t *c = child_find(idx, n, p, l);
        if (!c && create) c = node_new(idx, n, p, l);
        if (!c) {
            if (create) prune(idx, n);
            return NULL;
        }
        n = c;
        if (!q) return n;
        p = q + 1;
    }
}

static int sub_add(hmq_topic_index_t *idx, tnode_t *n, const hmq_sub_entry_t *e)
{
    tsub_t *old = sub_lookup(idx, n, e->sub);
    tsub_t *s = malloc(sizeof *s);
    if (!s) return -ENOMEM;
    s->node = n;
    s->e = *e;
    hmq_subscriber_ref(e->sub);
    cds_lfht_node_init(&s->ht);
    if (old) {
        /* Readers see the old or the new options, never neither nor both. */
        cds_list_replace_rcu(&old->link, &s->link);
        cds_lfht_del(idx->subs, &old->ht);
        call_rcu(&old->rcu, sub_free_rcu);
    } else {
        cds_list_add_tail_rcu(&s->link, &n->subs);
        idx->nsubs++;
    }
    cds_lfht_add(idx->subs, sub_hash(idx, n, e->sub), &s->ht);
    return old ? 0 : 1;
}

static int sub_remove(hmq_topic_index_t *idx, tnode_t *n, hmq_subscriber_t *sub)
{
    tsub_t *s = sub_lookup(idx, n, sub);
    if (!s) return -ENOENT;
    cds_list_del_rcu(&s->link);
    cds_lfht_del(idx->subs, &s->ht);
    call_rcu(&s->rcu, sub_free_rcu);
    idx->nsubs--;
    return 0;
}

static tgroup_t *group_find(tnode_t *n, const char *name, size_t len)
{
    tgroup_t *g;
    cds_list_for_each_entry_rcu(g, &n->groups, link)
    {
        if (g->len == len && memcmp(g->name, name, len) == 0) return g;
    }
    return NULL;
}

static uint32_t member_index(const tmembers_t *m, const hmq_subscriber_t *sub)
{
    uint32_t i = 0;
    while (i < m->n && m->e[i].sub != sub)
        i++;
    return i;
}

static tmembers_t *members_new(uint32_t n)
{
    tmembers_t *m = malloc(sizeof *m + n * sizeof m->e[0]);
    if (!m) return NULL;
    m->drop = NULL;
    m->n = n;
    return m;
}

/* Publish `m` as the group's members; the old array goes after the grace period, releasing
 * the reference of `drop` (the member that left or whose entry was replaced). */
static void members_swap(tgroup_t *g, tmembers_t *m, hmq_subscriber_t *drop)
{
    tmembers_t *old = g->m;
    old->drop = drop;
    rcu_assign_pointer(g->m, m);
    call_rcu(&old->rcu, members_free_rcu);
}

static int group_add(tnode_t *n, const char *name, size_t len, const hmq_sub_entry_t *e)
{
    tgroup_t *g = group_find(n, name, len);
    if (!g) {
        g = calloc(1, sizeof *g + len);
        tmembers_t *m = members_new(1);
        if (!g || !m) {
            free(g);
            free(m);
            return -ENOMEM;
        }
        m->e[0] = *e;
        g->m = m;
        atomic_init(&g->cursor, 0);
        g->len = (uint16_t)len;
        memcpy(g->name, name, len);
        hmq_subscriber_ref(e->sub);
        cds_list_add_tail_rcu(&g->link, &n->groups);
        return 1;
    }
    const tmembers_t *old = g->m;
    uint32_t i = member_index(old, e->sub);
    bool fresh = i == old->n;
    tmembers_t *m = members_new(old->n + fresh);
    if (!m) return -ENOMEM;
    memcpy(m->e, old->e, old->n * sizeof old->e[0]);
    m->e[i] = *e;
    hmq_subscriber_ref(e->sub);
    members_swap(g, m, fresh ? NULL : e->sub);
    return fresh;
}

static int group_remove(tnode_t *n, const char *name, size_t len, hmq_subscriber_t *sub)
{
    tgroup_t *g = group_find(n, name, len);
    if (!g) return -ENOENT;
    const tmembers_t *old = g->m;
    uint32_t i = member_index(old, sub);
    if (i == old->n) return -ENOENT;
    if (old->n == 1) {
        cds_list_del_rcu(&g->link);
        call_rcu(&g->rcu, group_free_rcu);
        return 0;
    }
    tmembers_t *m = members_new(old->n - 1);
    if (!m) return -ENOMEM;
    memcpy(m->e, old->e, i * sizeof old->e[0]);
    memcpy(m->e + i, old->e + i + 1, (old->n - i - 1) * sizeof old->e[0]);
    members_swap(g, m, sub);
    return 0;
}

/* ---- public API ---- */

hmq_topic_index_t *hmq_topic_index_new(void)
{
    hmq_topic_index_t *idx = calloc(1, sizeof *idx);
    if (!idx) return NULL;
    idx->root = calloc(1, sizeof *idx->root);
    idx->nodes = cds_lfht_new(TABLE_MIN, TABLE_MIN, 0, 0, NULL);
    idx->subs = cds_lfht_new(TABLE_MIN, TABLE_MIN, 0, 0, NULL);
    idx->nodes_size = idx->subs_size = TABLE_MIN;
    if (!idx->root || !idx->nodes || !idx->subs) {
        if (idx->nodes) cds_lfht_destroy(idx->nodes, NULL);
        if (idx->subs) cds_lfht_destroy(idx->subs, NULL);
        free(idx->root);
        free(idx);
        return NULL;
    }
    CDS_INIT_LIST_HEAD(&idx->root->subs);
    CDS_INIT_LIST_HEAD(&idx->root->groups);
    idx->seed = hmq_topic_hash_seed();
    pthread_mutex_init(&idx->lock, NULL);
    atomic_init(&idx->count, 0);
    atomic_init(&idx->nnodes, 0);
    return idx;
}

/* Hands a node and its groups to call_rcu (used by hmq_topic_index_free). */
static void node_release(tnode_t *n)
{
    tgroup_t *g, *tmp;
    cds_list_for_each_entry_safe(g, tmp, &n->groups, link) call_rcu(&g->rcu, group_free_rcu);
    call_rcu(&n->rcu, node_free_rcu);
}

void hmq_topic_index_free(hmq_topic_index_t *idx)
{
    if (!idx) return;
    struct cds_lfht_iter it;
    tsub_t *s;
    tnode_t *n;
    struct cds_lfht_node *ht;
    /* Plain iteration: cds_lfht_for_each_entry applies container_of to the final NULL, which
     * UBSan reports as pointer arithmetic on NULL. */
    rcu_read_lock();
    for (cds_lfht_first(idx->subs, &it); (ht = cds_lfht_iter_get_node(&it)) != NULL;
         cds_lfht_next(idx->subs, &it)) {
        s = caa_container_of(ht, tsub_t, ht);
        cds_lfht_del(idx->subs, &s->ht);
        call_rcu(&s->rcu, sub_free_rcu);
    }
    for (cds_lfht_first(idx->nodes, &it); (ht = cds_lfht_iter_get_node(&it)) != NULL;
         cds_lfht_next(idx->nodes, &it)) {
        n = caa_container_of(ht, tnode_t, ht);
        cds_lfht_del(idx->nodes, &n->ht);
        node_release(n);
    }
    rcu_read_unlock();
    node_release(idx->root);
    cds_lfht_destroy(idx->subs, NULL);
    cds_lfht_destroy(idx->nodes, NULL);
    pthread_mutex_destroy(&idx->lock);
    free(idx);
}

/* Keep about one bucket per entry: grow by doubling, shrink (which waits for a grace period
 * inside liburcu) only when 8 times too big. Under idx->lock, outside any read-side section. */
static void table_fit(struct cds_lfht *ht, unsigned long *size, size_t n)
{
    unsigned long want = TABLE_MIN;
    while (want < n)
        want *= 2;
    if (want > *size || want * 8 <= *size) {
        if (want < *size) want *= 2;
        cds_lfht_resize(ht, want); /* a power of two: other sizes never converge */
        *size = want;
    }
}

static void tables_fit(hmq_topic_index_t *idx)
{
    table_fit(idx->nodes, &idx->nodes_size, atomic_load(&idx->nnodes));
    table_fit(idx->subs, &idx->subs_size, idx->nsubs);
}

int hmq_topic_index_add(hmq_topic_index_t *idx, const char *filter, size_t len,
                        const hmq_sub_entry_t *e)
{
    fparts_t fp;
    int rc = split_filter(filter, len, &fp);
    if (rc < 0) return rc;
    if (len > UINT16_MAX || !e->sub) return -EINVAL;
    pthread_mutex_lock(&idx->lock);
    rcu_read_lock();
    tnode_t *n = node_path(idx, fp.inner, fp.ilen, true);
    if (!n)
        rc = -ENOMEM;
    else if (fp.group)
        rc = group_add(n, fp.group, fp.glen, e);
    else
        rc = sub_add(idx, n, e);
    if (rc < 0 && n) prune(idx, n);
    if (rc == 1) atomic_fetch_add_explicit(&idx->count, 1, memory_order_relaxed);
    rcu_read_unlock();
    tables_fit(idx);
    pthread_mutex_unlock(&idx->lock);
    return rc;
}

int hmq_topic_index_remove(hmq_topic_index_t *idx, const char *filter, size_t len,
                           hmq_subscriber_t *sub)
{
    fparts_t fp;
    int rc = split_filter(filter, len, &fp);
    if (rc < 0) return -ENOENT;
    pthread_mutex_lock(&idx->lock);
    rcu_read_lock();
    tnode_t *n = node_path(idx, fp.inner, fp.ilen, false);
    if (!n)
        rc = -ENOENT;
    else if (fp.group)
        rc = group_remove(n, fp.group, fp.glen, sub);
    else
        rc = sub_remove(idx, n, sub);
    if (rc == 0) {
        atomic_fetch_sub_explicit(&idx->count, 1, memory_order_relaxed);
        prune(idx, n);
    }
    rcu_read_unlock();
    tables_fit(idx);
    pthread_mutex_unlock(&idx->lock);
    return rc;
}

/* ---- reader side: inside rcu_read_lock ---- */

/* Round robin among online members (all members when none is online), excluding `not`.
 * The cursor remembers the last pick, so an offline member does not double its successor's
 * share. */
static const hmq_sub_entry_t *group_pick(tgroup_t *g, const hmq_subscriber_t * not )
{
    const tmembers_t *m = rcu_dereference(g->m);
    unsigned cur = atomic_load_explicit(&g->cursor, memory_order_relaxed);
    for (;;) {
        uint32_t pick = UINT32_MAX, any = UINT32_MAX;
        uint32_t j = cur < m->n ? cur : 0; /* the array may have shrunk */
        for (uint32_t k = 0; k < m->n; k++) {
            if (++j == m->n) j = 0;
            hmq_subscriber_t *s = m->e[j].sub;
            if (s == not ) continue;
            if (any == UINT32_MAX) any = j;
            if (atomic_load_explicit(&s->online, memory_order_relaxed)) {
                pick = j;
                break;
            }
        }
        if (pick == UINT32_MAX) pick = any;
        if (pick == UINT32_MAX) return NULL;
        if (atomic_compare_exchange_weak_explicit(&g->cursor, &cur, pick, memory_order_relaxed,
                                                  memory_order_relaxed))
            return &m->e[pick];
    }
}

typedef struct {
    hmq_topic_index_t *idx;
    const char *end;
    bool dollar; /* the topic starts with '$' */
    hmq_topic_match_cb cb;
    void *ctx;
} mctx_t;

static void report(const mctx_t *m, tnode_t *n)
{
    tsub_t *s;
    cds_list_for_each_entry_rcu(s, &n->subs, link) m->cb(m->ctx, &s->e, NULL, 0);
    tgroup_t *g;
    cds_list_for_each_entry_rcu(g, &n->groups, link)
    {
        const hmq_sub_entry_t *e = group_pick(g, NULL);
        if (e) m->cb(m->ctx, e, g->name, g->len);
    }
}

/* Match the levels from p (NULL: all consumed) against the filters below n. Recurses only
 * into '+' children, so the depth is bounded by the deepest subscribed filter. */
static void match_from(const mctx_t *m, tnode_t *n, const char *p, bool first)
{
    for (;;) {
        if (!p) {
            report(m, n);
            tnode_t *h = rcu_dereference(n->hash); /* "a/#" matches "a" */
            if (h) report(m, h);
            return;
        }
        const char *q = memchr(p, '/', (size_t)(m->end - p));
        size_t l = q ? (size_t)(q - p) : (size_t)(m->end - p);
        const char *next = q ? q + 1 : NULL;
        if (!first || !m->dollar) {
            tnode_t *h = rcu_dereference(n->hash);
            if (h) report(m, h);
            tnode_t *w = rcu_dereference(n->plus);
            if (w) match_from(m, w, next, false);
        }
        if (is_wild(p, l, '+') || is_wild(p, l, '#')) return; /* not a valid topic level */
        n = node_lookup(m->idx, n, p, l);
        if (!n) return;
        p = next;
        first = false;
    }
}

void hmq_topic_index_match(hmq_topic_index_t *idx, const char *topic, size_t len,
                           hmq_topic_match_cb cb, void *ctx)
{
    mctx_t m = {idx, topic + len, len > 0 && topic[0] == '$', cb, ctx};
    rcu_read_lock();
    match_from(&m, idx->root, topic, true);
    rcu_read_unlock();
}

bool hmq_topic_index_pick_shared(hmq_topic_index_t *idx, const char *filter, size_t len,
                                 hmq_subscriber_t * not, hmq_sub_entry_t *out)
{
    fparts_t fp;
    if (split_filter(filter, len, &fp) != 1) return false;
    bool ok = false;
    rcu_read_lock();
    tnode_t *n = node_path(idx, fp.inner, fp.ilen, false);
    tgroup_t *g = n ? group_find(n, fp.group, fp.glen) : NULL;
    const hmq_sub_entry_t *e = g ? group_pick(g, not ) : NULL;
    if (e) {
        *out = *e;
        ok = true;
    }
    rcu_read_unlock();
    return ok;
}

size_t hmq_topic_index_count(hmq_topic_index_t *idx)
{
    return atomic_load_explicit(&idx->count, memory_order_relaxed);
}

size_t hmq_topic_index_node_count(hmq_topic_index_t *idx)
{
    return atomic_load_explicit(&idx->nnodes, memory_order_relaxed);
}
