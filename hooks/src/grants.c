/* grants.c - grant sets (the ACL an authentication answer carries) and MQTT topic matching.
 *
 * A hmq_grants_t is compiled once per authentication answer and then checked by the broker on
 * every PUBLISH / SUBSCRIBE of the session with no RPC: rules in order, the first whose action
 * and pattern match decides. %c, %u and %a{name} are substituted at check time; a value that is
 * missing, empty or contains '+', '#' or '/' makes the rule never match (a client id cannot
 * widen its grants). Semantics are those of sdk-python's hookmq.testing.evaluate_grants and
 * hookmq.filters, which are the executable specification.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hookmq/hooks.h"

typedef struct {
    char *pattern;
    hmq_action_t action;
    uint8_t max_qos;
    bool no_retain;
    bool deny;
    bool has_subst; /* pattern contains '%' */
} rule_t;

struct hmq_grants {
    atomic_int refs;
    bool fallthrough;
    size_t n;
    rule_t *rules;
    size_t n_attrs;
    hmq_hooks_pair_t *attrs;
};

/* ---- MQTT matching ------------------------------------------------------------------------ */

/* Next level of s starting at *p: sets [*b, *e); returns false past the end. */
static bool next_level(const char **p, const char **b, const char **e, bool *done)
{
    if (*done) return false;
    *b = *p;
    const char *slash = strchr(*p, '/');
    if (slash) {
        *e = slash;
        *p = slash + 1;
    } else {
        *e = *p + strlen(*p);
        *done = true;
    }
    return true;
}

static bool level_is(const char *b, const char *e, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(e - b) == n && memcmp(b, lit, n) == 0;
}

static bool level_eq(const char *b1, const char *e1, const char *b2, const char *e2)
{
    return e1 - b1 == e2 - b2 && memcmp(b1, b2, (size_t)(e1 - b1)) == 0;
}

static bool wild_first(const char *s)
{
    return (s[0] == '+' || s[0] == '#') && (s[1] == '\0' || s[1] == '/');
}

bool hmq_topic_matches(const char *filter, const char *topic)
{
    if (topic[0] == '$' && wild_first(filter)) return false;
    const char *fp = filter, *tp = topic, *fb, *fe, *tb, *te;
    bool fdone = false, tdone = false;
    while (next_level(&fp, &fb, &fe, &fdone)) {
        if (level_is(fb, fe, "#")) return true;
        if (!next_level(&tp, &tb, &te, &tdone)) return false;
        if (!level_is(fb, fe, "+") && !level_eq(fb, fe, tb, te)) return false;
    }
    return tdone; /* same number of levels */
}

bool hmq_filter_covers(const char *pattern, const char *filter)
{
    if (filter[0] == '$' && wild_first(pattern)) return false;
    const char *pp = pattern, *fp = filter, *pb, *pe, *fb, *fe;
    bool pdone = false, fdone = false;
    while (next_level(&pp, &pb, &pe, &pdone)) {
        if (level_is(pb, pe, "#")) return true;
        if (!next_level(&fp, &fb, &fe, &fdone)) return false;
        if (level_is(fb, fe, "#")) return false;
        if (!level_is(pb, pe, "+") && (level_is(fb, fe, "+") || !level_eq(pb, pe, fb, fe)))
            return false;
    }
    return fdone;
}

bool hmq_filters_overlap(const char *a, const char *b)
{
    if ((wild_first(a) && b[0] == '$') || (wild_first(b) && a[0] == '$')) return false;
    const char *ap = a, *bp = b, *ab, *ae, *bb, *be;
    bool adone = false, bdone = false;
    for (;;) {
        bool ha = next_level(&ap, &ab, &ae, &adone);
        bool hb = next_level(&bp, &bb, &be, &bdone);
        if ((ha && level_is(ab, ae, "#")) || (hb && level_is(bb, be, "#"))) return true;
        if (!ha || !hb) return ha == hb;
        if (!level_is(ab, ae, "+") && !level_is(bb, be, "+") && !level_eq(ab, ae, bb, be))
            return false;
    }
}

bool hmq_glob_matches(const char *p, const char *s)
{
    const char *star = NULL, *retry = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            retry = s;
        } else if (*p == '?' || (*p && *p == *s)) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++retry;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

/* ---- grants ------------------------------------------------------------------------------- */

static bool valid_filter(const char *f)
{
    if (!*f) return false;
    const char *p = f, *b, *e;
    bool done = false;
    while (next_level(&p, &b, &e, &done)) {
        for (const char *c = b; c < e; c++) {
            if (*c == '#' && (e - b != 1 || !done)) return false;
            if (*c == '+' && e - b != 1) return false;
        }
    }
    return true;
}

static void grants_free(hmq_grants_t *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->rules[i].pattern);
    for (size_t i = 0; i < g->n_attrs; i++) {
        free((char *)g->attrs[i].key);
        free((char *)g->attrs[i].value);
    }
    free(g->rules);
    free(g->attrs);
    free(g);
}

hmq_grants_t *hmq_grants_new(const hmq_grant_rule_t *rules, size_t n, bool fallthrough,
                             const hmq_hooks_pair_t *attrs, size_t n_attrs)
{
    hmq_grants_t *g = calloc(1, sizeof(*g));
    if (!g) return NULL;
    atomic_init(&g->refs, 1);
    g->fallthrough = fallthrough;
    g->rules = calloc(n ? n : 1, sizeof(rule_t));
    g->attrs = calloc(n_attrs ? n_attrs : 1, sizeof(hmq_hooks_pair_t));
    if (!g->rules || !g->attrs) goto fail;
    for (size_t i = 0; i < n_attrs; i++) {
        g->attrs[i].key = strdup(attrs[i].key ? attrs[i].key : "");
        g->attrs[i].value = strdup(attrs[i].value ? attrs[i].value : "");
        g->n_attrs++;
        if (!g->attrs[i].key || !g->attrs[i].value) goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const hmq_grant_rule_t *r = &rules[i];
        /* The pattern is validated with placeholders as literal text: a substituted value never
         * contains '+', '#' or '/', so validity cannot change. */
        if (!r->pattern || !valid_filter(r->pattern) || r->max_qos > 2 ||
            r->action > HMQ_ACTION_SUBSCRIBE)
            goto fail;
        rule_t *d = &g->rules[g->n];
        if (!(d->pattern = strdup(r->pattern))) goto fail;
        g->n++;
        d->action = r->action;
        d->max_qos = r->max_qos;
        d->no_retain = r->no_retain;
        d->deny = r->deny;
        d->has_subst = strchr(r->pattern, '%') != NULL;
    }
    return g;
fail:
    grants_free(g);
    return NULL;
}

hmq_grants_t *hmq_grants_ref(hmq_grants_t *g)
{
    if (g) atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
    return g;
}

void hmq_grants_unref(hmq_grants_t *g)
{
    if (g && atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1) grants_free(g);
}

bool hmq_grants_fallthrough(const hmq_grants_t *g)
{
    return g->fallthrough;
}

size_t hmq_grants_count(const hmq_grants_t *g)
{
    return g->n;
}

static const char *attr_get(const hmq_grants_t *g, const char *name, size_t len)
{
    for (size_t i = 0; i < g->n_attrs; i++)
        if (strlen(g->attrs[i].key) == len && memcmp(g->attrs[i].key, name, len) == 0)
            return g->attrs[i].value;
    return NULL;
}

typedef struct {
    char *p;
    size_t len, cap;
    char small[512];
} sbuf_t;

static bool sb_put(sbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *np = b->p == b->small ? malloc(cap) : realloc(b->p, cap);
        if (!np) return false;
        if (b->p == b->small) memcpy(np, b->small, b->len);
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

/* Substitutes into b; false when the rule cannot match (missing / unsafe value, no memory). */
static bool substitute(const hmq_grants_t *g, const char *pat, const char *client_id,
                       const char *username, sbuf_t *b)
{
    b->len = 0;
    b->p[0] = '\0';
    for (const char *c = pat; *c;) {
        const char *val = NULL;
        if (c[0] == '%' && c[1] == 'c') {
            val = client_id;
            c += 2;
        } else if (c[0] == '%' && c[1] == 'u') {
            val = username;
            c += 2;
        } else if (c[0] == '%' && c[1] == 'a' && c[2] == '{' && strchr(c + 3, '}')) {
            const char *end = strchr(c + 3, '}');
            val = attr_get(g, c + 3, (size_t)(end - (c + 3)));
            c = end + 1;
        } else {
            if (!sb_put(b, c, 1)) return false;
            c++;
            continue;
        }
        if (!val || !*val || strpbrk(val, "+#/")) return false;
        if (!sb_put(b, val, strlen(val))) return false;
    }
    return true;
}

hmq_grants_verdict_t hmq_grants_check(const hmq_grants_t *g, hmq_action_t action, const char *topic,
                                      uint8_t qos, bool retain, const char *client_id,
                                      const char *username, uint8_t *reason_code,
                                      uint8_t *granted_qos)
{
    sbuf_t b = {.cap = sizeof(b.small)};
    b.p = b.small;
    hmq_grants_verdict_t v = HMQ_GRANTS_NO_MATCH;
    uint8_t rc = HMQ_RC_NOT_AUTHORIZED, gq = qos;
    for (size_t i = 0; i < g->n; i++) {
        const rule_t *r = &g->rules[i];
        if (r->action != HMQ_ACTION_ALL && r->action != action) continue;
        const char *pat = r->pattern;
        if (r->has_subst) {
            if (!substitute(g, r->pattern, client_id, username, &b)) continue;
            pat = b.p;
        }
        bool ok = action == HMQ_ACTION_PUBLISH ? hmq_topic_matches(pat, topic)
                                               : hmq_filter_covers(pat, topic);
        if (!ok) continue;
        if (r->deny) {
            v = HMQ_GRANTS_DENY;
        } else if (action == HMQ_ACTION_PUBLISH && qos > r->max_qos) {
            v = HMQ_GRANTS_DENY;
            rc = HMQ_RC_QOS_NOT_SUPPORTED;
        } else if (action == HMQ_ACTION_PUBLISH && retain && r->no_retain) {
            v = HMQ_GRANTS_DENY;
            rc = HMQ_RC_RETAIN_NOT_SUPPORTED;
        } else {
            v = HMQ_GRANTS_ALLOW;
            rc = 0;
            if (gq > r->max_qos) gq = r->max_qos;
        }
        break;
    }
    if (b.p != b.small) free(b.p);
    if (reason_code) *reason_code = v == HMQ_GRANTS_ALLOW ? 0 : rc;
    if (granted_qos) *granted_qos = gq;
    return v;
}
