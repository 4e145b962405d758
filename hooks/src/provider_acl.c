/* provider_acl.c - the ACL-file provider: authorize publishes (write) and subscriptions (read)
 * from a mosquitto acl_file style file, as one provider of the hook chain.
 *
 *   # comment
 *   topic read public/#              general rules: every client, anonymous ones included
 *   pattern readwrite dev/%c/#       patterns (anywhere in the file): every client, with %c the
 *                                    client id and %u the user name substituted
 *   user alice                       the rules below apply to user alice only (until the next
 *   topic write alice/#              "user" line); sections of the same user are merged
 *   topic deny alice/secret/#
 *
 * Access: read, write, readwrite (also when omitted) or deny. Evaluation: any applicable deny
 * rule that matches refuses (0x87); else any rule with the access asked for that matches
 * allows; else DENY 0x87 - the file is a whitelist. A publish matches when the rule's filter
 * matches the topic; a subscription is allowed when the rule's filter covers the requested
 * filter, and denied when a deny rule's filter overlaps it (delivery is not checked per
 * message, so "#" is refused when "topic deny secret/#" exists). A %c / %u value that is missing,
 * empty or contains '+', '#' or '/' makes the pattern not apply. Answers are synchronous and
 * cached by the engine (CACHE_TTL_MS) per client, action and topic.
 *
 * Added by the broker (hooks.acl_file) through hmq_acl_provider_add(); reload (SIGHUP) swaps
 * a new immutable table in under the write lock, a bad file keeps the old one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookmq/providers.h"
#include "hooks_int.h"
#include "util/log.h"

#define CACHE_TTL_MS 60000
#define ACC_READ 1
#define ACC_WRITE 2
#define ACC_DENY 4

typedef struct {
    char *filter;
    uint8_t access;
} acl_rule_t;

typedef struct {
    acl_rule_t *r;
    size_t n, cap;
} rules_t;

typedef struct {
    char *name;
    size_t seq; /* file order of the section (merging keeps rule order) */
    rules_t rules;
} acl_user_t;

typedef struct {
    rules_t general, patterns;
    acl_user_t *users; /* sorted by name, one per name after loading */
    size_t n_users, cap_users;
} acl_table_t;

typedef struct {
    char *path;
    uv_rwlock_t lock; /* guards table (the pointer; tables are immutable) */
    acl_table_t *table;
} acl_t;

static const hmq_hooks_provider_ops_t acl_ops;

/* ---- loading --------------------------------------------------------------------------------- */

static void rules_free(rules_t *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->r[i].filter);
    free(rs->r);
}

static void table_free(acl_table_t *t)
{
    if (!t) return;
    rules_free(&t->general);
    rules_free(&t->patterns);
    for (size_t i = 0; i < t->n_users; i++) {
        free(t->users[i].name);
        rules_free(&t->users[i].rules);
    }
    free(t->users);
    free(t);
}

static bool rules_add(rules_t *rs, char *filter, uint8_t access)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 8;
        acl_rule_t *r = realloc(rs->r, cap * sizeof(*r));
        if (!r) return false;
        rs->r = r;
        rs->cap = cap;
    }
    rs->r[rs->n++] = (acl_rule_t){.filter = filter, .access = access};
    return true;
}

static bool valid_filter(const char *f)
{
    if (!*f || strlen(f) > 65535) return false;
    for (const char *b = f;;) {
        const char *e = b + strcspn(b, "/");
        for (const char *c = b; c < e; c++) {
            if (*c == '#' && (e - b != 1 || *e)) return false;
            if (*c == '+' && e - b != 1) return false;
        }
        if (!*e) return true;
        b = e + 1;
    }
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* "topic|pattern [access] filter": the access word and filter from rest into *access / *filter.
 * As mosquitto: a single word is the filter (readwrite), so "topic read" is the topic "read". */
static const char *parse_rule(char *rest, uint8_t *access, char **filter)
{
    if (!*rest) return "missing topic filter";
    char *word = rest, *sp = rest + strcspn(rest, " \t");
    char *f = *sp ? trim(sp + 1) : sp;
    if (!*f) {
        *access = ACC_READ | ACC_WRITE;
        f = word;
    } else {
        *sp = '\0';
        if (!strcmp(word, "read"))
            *access = ACC_READ;
        else if (!strcmp(word, "write"))
            *access = ACC_WRITE;
        else if (!strcmp(word, "readwrite"))
            *access = ACC_READ | ACC_WRITE;
        else if (!strcmp(word, "deny"))
            *access = ACC_DENY;
        else
            return "expected read, write, readwrite or deny";
    }
    if (!valid_filter(f)) return "invalid topic filter";
    *filter = f;
    return NULL;
}

/* Applies one line to t; *cur is the current user section (SIZE_MAX = none). NULL or an error. */
static const char *parse_line(acl_table_t *t, char *line, size_t *cur)
{
    char *s = trim(line);
    if (!*s || *s == '#') return NULL;
    char *kw = s, *rest = s + strcspn(s, " \t");
    if (*rest) *rest++ = '\0';
    rest = trim(rest);
    if (!strcmp(kw, "user")) {
        if (!*rest) return "user needs a name";
        if (t->n_users == t->cap_users) {
            size_t cap = t->cap_users ? t->cap_users * 2 : 8;
            acl_user_t *u = realloc(t->users, cap * sizeof(*u));
            if (!u) return "out of memory";
            t->users = u;
            t->cap_users = cap;
        }
        acl_user_t *u = &t->users[t->n_users];
        *u = (acl_user_t){.name = strdup(rest), .seq = t->n_users};
        if (!u->name) return "out of memory";
        *cur = t->n_users++;
        return NULL;
    }
    bool pattern = !strcmp(kw, "pattern");
    if (!pattern && strcmp(kw, "topic") != 0)
        return "unknown keyword (expected topic, pattern or user)";
    uint8_t access;
    char *f, *copy;
    const char *err = parse_rule(rest, &access, &f);
    if (err) return err;
    if (!(copy = strdup(f))) return "out of memory";
    rules_t *rs = pattern ? &t->patterns : *cur == SIZE_MAX ? &t->general : &t->users[*cur].rules;
    if (!rules_add(rs, copy, access)) {
        free(copy);
        return "out of memory";
    }
    return NULL;
}

static int user_cmp(const void *a, const void *b)
{
    const acl_user_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the sections and merges those of the same user (in file order). */
static bool merge_users(acl_table_t *t)
{
    if (t->n_users > 1) qsort(t->users, t->n_users, sizeof(*t->users), user_cmp);
    size_t out = 0;
    for (size_t i = 0; i < t->n_users; i++) {
        acl_user_t *u = &t->users[i];
        if (out && !strcmp(t->users[out - 1].name, u->name)) {
            rules_t *dst = &t->users[out - 1].rules;
            for (size_t k = 0; k < u->rules.n; k++) {
                if (!rules_add(dst, u->rules.r[k].filter, u->rules.r[k].access)) return false;
                u->rules.r[k].filter = NULL; /* moved */
            }
            rules_free(&u->rules);
            free(u->name);
            *u = (acl_user_t){0}; /* freeable again if a later merge fails */
            continue;
        }
        if (out != i) {
            t->users[out] = *u;
            *u = (acl_user_t){0};
        }
        out++;
    }
    t->n_users = out;
    return true;
}

static int table_load(const char *path, acl_table_t **out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        LOG_ERROR("acl_file_error", "file=%s error=\"cannot open\"", path);
        return HMQ_HOOKS_EINVAL;
    }
    acl_table_t *t = calloc(1, sizeof(*t));
    char *buf = NULL;
    size_t cap = 0, lineno = 0, cur = SIZE_MAX;
    const char *err = t ? NULL : "out of memory";
    while (!err && getline(&buf, &cap, f) >= 0) {
        lineno++;
        err = parse_line(t, buf, &cur);
    }
    free(buf);
    if (!err && ferror(f)) err = "read error";
    fclose(f);
    if (!err && !merge_users(t)) err = "out of memory";
    if (err) {
        LOG_ERROR("acl_file_error", "file=%s:%zu error=\"%s\"", path, lineno, err);
        table_free(t);
        return strcmp(err, "out of memory") ? HMQ_HOOKS_EINVAL : HMQ_HOOKS_ENOMEM;
    }
    *out = t;
    return 0;
}

/* ---- evaluation ------------------------------------------------------------------------------ */

typedef struct {
    const hmq_hooks_authz_req_t *req;
    char *buf; /* small, or malloc'd for long patterns */
    size_t cap;
    char small[256];
} eval_t;

/* pat with %c / %u substituted into ev->buf; false when the pattern does not apply to this
 * client (or no memory). */
static bool substitute(eval_t *ev, const char *pat)
{
    const hmq_hooks_client_t *c = ev->req->client;
    size_t len = 0;
    for (const char *p = pat; *p;) {
        const char *val = p;
        size_t n = 1;
        if (p[0] == '%' && (p[1] == 'c' || p[1] == 'u')) {
            val = p[1] == 'c' ? c->client_id : c->username;
            if (!val || !*val || strpbrk(val, "+#/")) return false;
            n = strlen(val);
            p += 2;
        } else {
            p++;
        }
        if (len + n + 1 > ev->cap) {
            size_t cap = (len + n + 1) * 2;
            char *nb = ev->buf == ev->small ? malloc(cap) : realloc(ev->buf, cap);
            if (!nb) return false;
            if (ev->buf == ev->small) memcpy(nb, ev->small, len);
            ev->buf = nb;
            ev->cap = cap;
        }
        memcpy(ev->buf + len, val, n);
        len += n;
    }
    ev->buf[len] = '\0';
    return true;
}

/* Does any rule of rs with access bits `want` match the request? */
static bool rules_match(eval_t *ev, const rules_t *rs, uint8_t want, bool subst)
{
    const hmq_hooks_authz_req_t *req = ev->req;
    bool pub = req->action == HMQ_ACTION_PUBLISH;
    for (size_t i = 0; i < rs->n; i++) {
        const acl_rule_t *r = &rs->r[i];
        if (!(r->access & want)) continue;
        const char *f = r->filter;
        if (subst && strchr(f, '%')) {
            if (!substitute(ev, f)) continue;
            f = ev->buf;
        }
        bool m = pub                ? hmq_topic_matches(f, req->topic)
                 : want == ACC_DENY ? hmq_filters_overlap(f, req->topic)
                                    : hmq_filter_covers(f, req->topic);
        if (m) return true;
    }
    return false;
}

/* HMQ_DECISION_ALLOW or HMQ_DECISION_DENY (*reason set). */
static int evaluate(const acl_table_t *t, const hmq_hooks_authz_req_t *req, const char **reason)
{
    eval_t ev = {.req = req, .cap = sizeof(ev.small)};
    ev.buf = ev.small;
    const acl_user_t *u = NULL;
    if (req->client->username) {
        for (size_t lo = 0, hi = t->n_users; lo < hi;) {
            size_t mid = lo + (hi - lo) / 2;
            int c = strcmp(req->client->username, t->users[mid].name);
            if (c == 0) {
                u = &t->users[mid];
                break;
            }
            if (c < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    uint8_t want = req->action == HMQ_ACTION_PUBLISH ? ACC_WRITE : ACC_READ;
    int d = HMQ_DECISION_DENY;
    *reason = "denied by ACL";
    if (rules_match(&ev, &t->general, ACC_DENY, false) ||
        (u && rules_match(&ev, &u->rules, ACC_DENY, false)) ||
        rules_match(&ev, &t->patterns, ACC_DENY, true))
        goto out;
    *reason = "no ACL rule allows this";
    if (rules_match(&ev, &t->general, want, false) ||
        (u && rules_match(&ev, &u->rules, want, false)) ||
        rules_match(&ev, &t->patterns, want, true)) {
        d = HMQ_DECISION_ALLOW;
        *reason = "";
    }
out:
    if (ev.buf != ev.small) free(ev.buf);
    return d;
}

/* ---- provider ops ---------------------------------------------------------------------------- */

static int acl_authorize(void *self, hmq_hooks_call_t *call, const hmq_hooks_authz_req_t *req,
                         uint32_t deadline_ms)
{
    acl_t *acl = self;
    const char *reason;
    if (!req->topic || !req->client) return HMQ_HOOKS_EINVAL;
    uv_rwlock_rdlock(&acl->lock);
    int d = evaluate(acl->table, req, &reason);
    uv_rwlock_rdunlock(&acl->lock);
    hmq_hooks_answer_t *a = hmq_hooks_call_answer(call);
    a->decision = d;
    a->reason_code = d == HMQ_DECISION_DENY ? HMQ_RC_NOT_AUTHORIZED : 0;
    a->reason = strdup(reason);
    a->cache_ttl_ms = CACHE_TTL_MS;
    hmq_hooks_call_done(call, HMQ_CALL_OK); /* the engine queues the completion */
    return 0;
}

static void acl_free(void *self)
{
    acl_t *acl = self;
    if (!acl) return;
    table_free(acl->table);
    uv_rwlock_destroy(&acl->lock);
    free(acl->path);
    free(acl);
}

static const hmq_hooks_provider_ops_t acl_ops = {
    .authorize = acl_authorize,
    .free = acl_free,
};

int hmq_acl_provider_add(hmq_hooks_t *h, const char *name, const char *path)
{
    if (!h || !name || !path) return HMQ_HOOKS_EINVAL;
    acl_t *acl = calloc(1, sizeof(*acl));
    if (!acl) return HMQ_HOOKS_ENOMEM;
    if (uv_rwlock_init(&acl->lock) != 0) {
        free(acl);
        return HMQ_HOOKS_ENOMEM;
    }
    int rc = HMQ_HOOKS_ENOMEM;
    if (!(acl->path = strdup(path))) goto fail;
    if ((rc = table_load(path, &acl->table)) < 0) goto fail;
    if ((rc = hmq_hooks_add_provider(h, name, &acl_ops, acl, NULL)) < 0) goto fail;
    LOG_INFO("acl_file_loaded", "provider=%s file=%s users=%zu", name, path, acl->table->n_users);
    return 0;
fail:
    acl_free(acl);
    return rc;
}

int hmq_acl_provider_reload(hmq_hooks_t *h, const char *name)
{
    acl_t *acl = NULL;
    for (size_t i = 0; h && name && i < h->n_added; i++)
        if (h->added[i]->ops == &acl_ops && strcmp(h->added[i]->name, name) == 0)
            acl = h->added[i]->self;
    if (!acl) return HMQ_HOOKS_EINVAL;
    acl_table_t *t, *old;
    int rc = table_load(acl->path, &t);
    if (rc < 0) {
        LOG_WARN("acl_file_kept", "provider=%s file=%s", name, acl->path);
        return rc;
    }
    uv_rwlock_wrlock(&acl->lock);
    old = acl->table;
    acl->table = t;
    uv_rwlock_wrunlock(&acl->lock);
    table_free(old);
    LOG_INFO("acl_file_reloaded", "provider=%s file=%s users=%zu", name, acl->path, t->n_users);
    hmq_hooks_provider_invalidate(h, name); /* cached answers of the old file go */
    return 0;
}
