/* provider_passwd.c - the password-file provider: authenticate against a mosquitto_passwd style
 * file ("user:$7$..." lines, see passwd_hash.c), as one provider of the hook chain.
 *
 * Added by the broker (hooks.password_file) through hmq_passwd_provider_add(); the engine calls
 * its authenticate op on worker loop threads. Answers: no user name or unknown user -> CONTINUE
 * (another provider may know the client), no or wrong password -> DENY 0x86, right -> ALLOW.
 *
 * Threads: the worker only looks the user up (read lock, binary search). Hashing (~0.1 ms at
 * mosquitto's 101 PBKDF2 iterations, ~8 ms at hookmq's default 10000) runs on this provider's
 * own small pool of verifier threads, started at the first call, which complete the call with
 * hmq_hooks_call_done(). Its own pool rather than libuv's: the provider ops get no loop, and a
 * CONNECT storm must not starve libuv's shared pool (file I/O, DNS). The queue is bounded
 * (QUEUE_MAX) and a job that waited past its deadline completes as a timeout without hashing:
 * on_failure decides, as for a slow hook server.
 *
 * Reload (SIGHUP): hmq_passwd_provider_reload() parses the file into a new immutable table and
 * swaps it in under the write lock (a pointer exchange); a bad file keeps the old table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hookmq/providers.h"
#include "hooks_int.h"
#include "passwd_hash.h"
#include "util/log.h"

#define QUEUE_MAX 4096 /* verify jobs waiting; beyond that a call fails at once */
#define THREADS_MAX 4
#define RC_BAD_USER_OR_PASSWORD 0x86

typedef struct {
    char *user;
    size_t line;
    hmq_pwhash_t h;
} pw_entry_t;

typedef struct {
    pw_entry_t *e; /* sorted by user */
    size_t n;
} pw_table_t;

typedef struct job {
    struct job *next;
    hmq_hooks_call_t *call;
    hmq_pwhash_t h;
    uint64_t deadline_ns;
    size_t len;
    uint8_t pw[]; /* copy of the password, cleansed when done */
} job_t;

typedef struct {
    char *name, *path;
    uv_rwlock_t lock; /* guards table (the pointer; tables are immutable) */
    pw_table_t *table;
    uv_mutex_t mu; /* guards everything below */
    uv_cond_t cond;
    job_t *head, *tail;
    size_t queued;
    bool stop, overloaded;
    uv_thread_t threads[THREADS_MAX];
    size_t n_threads;
} passwd_t;

static const hmq_hooks_provider_ops_t passwd_ops;

/* ---- the file -------------------------------------------------------------------------------- */

static void table_free(pw_table_t *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->e[i].user);
        OPENSSL_cleanse(&t->e[i].h, sizeof(t->e[i].h));
    }
    free(t->e);
    free(t);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const pw_entry_t *)a)->user, ((const pw_entry_t *)b)->user);
}

/* One line without its newline: 0 and *e filled, 1 for a blank / comment line, or <0 with *err. */
static int parse_line(char *s, pw_entry_t *e, const char **err)
{
    size_t len = strlen(s);
    while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
        s[--len] = '\0';
    if (len == 0 || s[0] == '#') return 1;
    char *colon = strchr(s, ':');
    if (!colon) {
        *err = "expected user:hash";
        return HMQ_HOOKS_EINVAL;
    }
    if (colon == s) {
        *err = "empty user name";
        return HMQ_HOOKS_EINVAL;
    }
    *colon = '\0';
    if (!hmq_pwhash_parse(&e->h, colon + 1, strlen(colon + 1))) {
        *err = "bad password hash (expected $7$, $6$ or $scrypt$)";
        return HMQ_HOOKS_EINVAL;
    }
    if (!(e->user = strdup(s))) {
        *err = "out of memory";
        return HMQ_HOOKS_ENOMEM;
    }
    return 0;
}

/* Sorts t and returns the line of the first duplicate user (0 = none). */
static size_t sort_find_dup(pw_table_t *t)
{
    if (t->n > 1) qsort(t->e, t->n, sizeof(*t->e), entry_cmp);
    size_t dup = 0;
    for (size_t i = 1; i < t->n; i++) {
        if (strcmp(t->e[i - 1].user, t->e[i].user) != 0) continue;
        size_t later = t->e[i].line > t->e[i - 1].line ? t->e[i].line : t->e[i - 1].line;
        if (!dup || later < dup) dup = later;
    }
    return dup;
}

static int table_load(const char *path, pw_table_t **out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        LOG_ERROR("passwd_file_error", "file=%s error=\"cannot open\"", path);
        return HMQ_HOOKS_EINVAL;
    }
    pw_table_t *t = calloc(1, sizeof(*t));
    char *buf = NULL;
    size_t cap = 0, lineno = 0, alloc = 0, bad_line = 0;
    const char *err = "out of memory";
    int rc = t ? 0 : HMQ_HOOKS_ENOMEM;
    while (rc == 0 && getline(&buf, &cap, f) >= 0) {
        lineno++;
        buf[strcspn(buf, "\n")] = '\0';
        if (t->n == alloc) {
            alloc = alloc ? alloc * 2 : 16;
            pw_entry_t *e = realloc(t->e, alloc * sizeof(*e));
            if (!e) {
                rc = HMQ_HOOKS_ENOMEM;
                break;
            }
            t->e = e;
        }
        pw_entry_t *e = &t->e[t->n];
        e->line = lineno;
        int r = parse_line(buf, e, &err);
        if (r == 0) t->n++;
        if (r < 0) {
            rc = r;
            bad_line = lineno;
        }
    }
    if (buf) OPENSSL_cleanse(buf, cap);
    free(buf);
    if (rc == 0 && ferror(f)) {
        err = "read error";
        rc = HMQ_HOOKS_EINVAL;
    }
    fclose(f);
    size_t dup = t ? sort_find_dup(t) : 0;
    if (dup && (!bad_line || dup < bad_line)) {
        rc = HMQ_HOOKS_EINVAL;
        bad_line = dup;
        err = "duplicate user";
    }
    if (rc < 0) {
        LOG_ERROR("passwd_file_error", "file=%s:%zu error=\"%s\"", path, bad_line, err);
        table_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* Copies the hash of user into *h; false when the user is not in the file. */
static bool lookup(passwd_t *pw, const char *user, hmq_pwhash_t *h)
{
    uv_rwlock_rdlock(&pw->lock);
    pw_entry_t key = {.user = (char *)user};
    const pw_table_t *t = pw->table;
    const pw_entry_t *e = t->n ? bsearch(&key, t->e, t->n, sizeof(*t->e), entry_cmp) : NULL;
    if (e) *h = e->h;
    uv_rwlock_rdunlock(&pw->lock);
    return e != NULL;
}

/* ---- verifier threads ------------------------------------------------------------------------ */

static void answer(hmq_hooks_call_t *call, int decision, uint8_t code, const char *reason)
{
    hmq_hooks_answer_t *a = hmq_hooks_call_answer(call);
    a->decision = decision;
    a->reason_code = code;
    a->reason = strdup(reason);
    a->cache_ttl_ms = 0; /* see docs/hooks.md: a removed user or changed password acts at once */
    hmq_hooks_call_done(call, HMQ_CALL_OK);
}

static void job_free(job_t *j)
{
    OPENSSL_cleanse(j, sizeof(*j) + j->len);
    free(j);
}

static void job_run(job_t *j)
{
    if (uv_hrtime() > j->deadline_ns) { /* waited too long: a timeout, as for a slow server */
        hmq_hooks_call_done(j->call, HMQ_CALL_TIMEOUT);
        return;
    }
    if (hmq_pwhash_check(&j->h, j->pw, j->len))
        answer(j->call, HMQ_DECISION_ALLOW, 0, "");
    else
        answer(j->call, HMQ_DECISION_DENY, RC_BAD_USER_OR_PASSWORD, "bad user name or password");
}

static void verifier(void *arg)
{
    passwd_t *pw = arg;
    uv_mutex_lock(&pw->mu);
    for (;;) {
        while (!pw->head && !pw->stop)
            uv_cond_wait(&pw->cond, &pw->mu);
        if (pw->stop) break;
        job_t *j = pw->head;
        pw->head = j->next;
        if (!pw->head) pw->tail = NULL;
        pw->queued--;
        uv_mutex_unlock(&pw->mu);
        job_run(j);
        job_free(j);
        uv_mutex_lock(&pw->mu);
    }
    uv_mutex_unlock(&pw->mu);
}

/* Queues j, starting the threads on first use. mu held. */
static int enqueue_locked(passwd_t *pw, job_t *j)
{
    if (pw->stop) return HMQ_HOOKS_ESTATE;
    if (pw->queued >= QUEUE_MAX) {
        if (!pw->overloaded)
            LOG_WARN("passwd_overloaded", "provider=%s queued=%zu", pw->name, pw->queued);
        pw->overloaded = true;
        return HMQ_HOOKS_ENOMEM;
    }
    pw->overloaded = false;
    if (!pw->n_threads) {
        unsigned n = uv_available_parallelism();
        n = n < 1 ? 1 : n > THREADS_MAX ? THREADS_MAX : n;
        for (unsigned i = 0; i < n; i++)
            if (uv_thread_create(&pw->threads[pw->n_threads], verifier, pw) == 0) pw->n_threads++;
        if (!pw->n_threads) return HMQ_HOOKS_ENOMEM;
    }
    if (pw->tail)
        pw->tail->next = j;
    else
        pw->head = j;
    pw->tail = j;
    pw->queued++;
    uv_cond_signal(&pw->cond);
    return 0;
}

/* ---- provider ops ---------------------------------------------------------------------------- */

static int passwd_authenticate(void *self, hmq_hooks_call_t *call, const hmq_hooks_auth_req_t *req,
                               uint32_t deadline_ms)
{
    passwd_t *pw = self;
    hmq_pwhash_t h;
    const char *user = req->client->username;
    if (!user || !lookup(pw, user, &h)) {
        answer(call, HMQ_DECISION_CONTINUE, 0, "");
        return 0;
    }
    if (!req->has_password) {
        OPENSSL_cleanse(&h, sizeof(h));
        answer(call, HMQ_DECISION_DENY, RC_BAD_USER_OR_PASSWORD, "bad user name or password");
        return 0;
    }
    job_t *j = malloc(sizeof(*j) + req->password_len);
    if (!j) return HMQ_HOOKS_ENOMEM;
    j->next = NULL;
    j->call = call;
    j->h = h;
    OPENSSL_cleanse(&h, sizeof(h));
    j->deadline_ns = uv_hrtime() + (uint64_t)deadline_ms * 1000000u;
    j->len = req->password_len;
    if (j->len) memcpy(j->pw, req->password, j->len);
    uv_mutex_lock(&pw->mu);
    int rc = enqueue_locked(pw, j);
    uv_mutex_unlock(&pw->mu);
    if (rc < 0) job_free(j);
    return rc;
}

/* A queued job is completed as cancelled at once; one being hashed finishes normally (ms). */
static void passwd_cancel(void *self, hmq_hooks_call_t *call)
{
    passwd_t *pw = self;
    job_t *found = NULL;
    uv_mutex_lock(&pw->mu);
    for (job_t **pp = &pw->head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
        if ((*pp)->call != call) continue;
        found = *pp;
        *pp = found->next;
        if (pw->tail == found) pw->tail = prev;
        pw->queued--;
        break;
    }
    uv_mutex_unlock(&pw->mu);
    if (!found) return;
    hmq_hooks_call_done(call, HMQ_CALL_CANCELLED);
    job_free(found);
}

/* The engine is closing: stop the threads (a hash in progress ends first), cancel the rest. */
static void passwd_close(void *self)
{
    passwd_t *pw = self;
    uv_mutex_lock(&pw->mu);
    pw->stop = true;
    uv_cond_broadcast(&pw->cond);
    uv_mutex_unlock(&pw->mu);
    for (size_t i = 0; i < pw->n_threads; i++)
        uv_thread_join(&pw->threads[i]);
    pw->n_threads = 0;
    uv_mutex_lock(&pw->mu);
    job_t *j = pw->head;
    pw->head = pw->tail = NULL;
    pw->queued = 0;
    uv_mutex_unlock(&pw->mu);
    while (j) {
        job_t *next = j->next;
        hmq_hooks_call_done(j->call, HMQ_CALL_CANCELLED);
        job_free(j);
        j = next;
    }
}

static void passwd_free(void *self)
{
    passwd_t *pw = self;
    if (!pw) return;
    if (pw->n_threads) passwd_close(pw); /* never started the engine */
    table_free(pw->table);
    uv_rwlock_destroy(&pw->lock);
    uv_mutex_destroy(&pw->mu);
    uv_cond_destroy(&pw->cond);
    free(pw->name);
    free(pw->path);
    free(pw);
}

static const hmq_hooks_provider_ops_t passwd_ops = {
    .authenticate = passwd_authenticate,
    .cancel = passwd_cancel,
    .close = passwd_close,
    .free = passwd_free,
};

int hmq_passwd_provider_add(hmq_hooks_t *h, const char *name, const char *path)
{
    if (!h || !name || !path) return HMQ_HOOKS_EINVAL;
    passwd_t *pw = calloc(1, sizeof(*pw));
    if (!pw) return HMQ_HOOKS_ENOMEM;
    if (uv_rwlock_init(&pw->lock) != 0) {
        free(pw);
        return HMQ_HOOKS_ENOMEM;
    }
    if (uv_mutex_init(&pw->mu) != 0) {
        uv_rwlock_destroy(&pw->lock);
        free(pw);
        return HMQ_HOOKS_ENOMEM;
    }
    if (uv_cond_init(&pw->cond) != 0) {
        uv_mutex_destroy(&pw->mu);
        uv_rwlock_destroy(&pw->lock);
        free(pw);
        return HMQ_HOOKS_ENOMEM;
    }
    int rc = HMQ_HOOKS_ENOMEM;
    if (!(pw->name = strdup(name)) || !(pw->path = strdup(path))) goto fail;
    if ((rc = table_load(path, &pw->table)) < 0) goto fail;
    if ((rc = hmq_hooks_add_provider(h, name, &passwd_ops, pw, NULL)) < 0) goto fail;
    LOG_INFO("passwd_file_loaded", "provider=%s file=%s users=%zu", name, path, pw->table->n);
    return 0;
fail:
    passwd_free(pw);
    return rc;
}

int hmq_passwd_provider_reload(hmq_hooks_t *h, const char *name)
{
    passwd_t *pw = NULL;
    for (size_t i = 0; h && name && i < h->n_added; i++)
        if (h->added[i]->ops == &passwd_ops && strcmp(h->added[i]->name, name) == 0)
            pw = h->added[i]->self;
    if (!pw) return HMQ_HOOKS_EINVAL;
    pw_table_t *t, *old;
    int rc = table_load(pw->path, &t);
    if (rc < 0) {
        LOG_WARN("passwd_file_kept", "provider=%s file=%s", pw->name, pw->path);
        return rc;
    }
    uv_rwlock_wrlock(&pw->lock);
    old = pw->table;
    pw->table = t;
    uv_rwlock_wrunlock(&pw->lock);
    table_free(old);
    LOG_INFO("passwd_file_reloaded", "provider=%s file=%s users=%zu", pw->name, pw->path, t->n);
    hmq_hooks_provider_invalidate(h, name); /* answers of the old file are not reused */
    return 0;
}
