/* config_yaml.c - applies a YAML configuration file over the defaults.
 *
 * The text is read twice:
 *  1. A libyaml event pass records every node down to listeners[i].<key>: its path, line and
 *     shape (value, mapping, list). It reports syntax errors, duplicate keys, aliases and extra
 *     documents at their exact line, then the nodes are checked against the key table, so every
 *     unknown key and every misplaced mapping or list is reported with its line (libcyaml stops
 *     at the first problem and reports the parser's position, not the key's).
 *  2. libcyaml, with a schema built from the key table, loads the document as a tree of strings.
 *     Each value is then parsed by config_keys.c exactly as an environment variable is:
 *     libcyaml's own number parsing takes "12abc" and "1e3" for 12 and 1.
 *
 * Called by hmq_config_load_data() in config.c.
 */
#include "config/config_internal.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_NODES 1024 /* a full configuration has about 250 */
#define MAX_DEPTH 32
#define KEY_MAX 63 /* longer keys are unknown anyway */
#define LEAF_DEPTH(section) ((section) == HMQ_SECTION_LISTENERS ? 3u : 2u)

/* ---- Pass 1: where everything is ------------------------------------------------------------ */

enum { N_SCALAR, N_MAPPING, N_SEQUENCE, N_ALIAS };

typedef struct {
    int parent; /* -1 for the document's root */
    int index;  /* position in the parent list; -1 in a mapping */
    unsigned depth, key_line, line;
    unsigned count; /* entries of a mapping or list */
    unsigned char kind;
    bool key_ok;      /* a scalar key without NUL bytes, at most KEY_MAX bytes */
    bool key_complex; /* the key is a mapping, a list or an alias */
    bool duplicate, null, nul_byte;
    char key[KEY_MAX + 1];
    /* Set by the check: */
    bool valid;
    int section;               /* depth 1 */
    const hmq_config_key_t *k; /* leaves */
} node_t;

typedef struct {
    int node; /* the container's node, -1 when not recorded */
    bool mapping, want_key, key_ok, key_complex;
    unsigned depth; /* of the entries */
    unsigned key_line, count;
    char key[KEY_MAX + 1];
} frame_t;

typedef struct {
    node_t nodes[MAX_NODES];
    unsigned n;
    frame_t stack[MAX_DEPTH];
    unsigned top;
    unsigned unknown;    /* unknown keys reported by the check */
    unsigned fatal_line; /* 0: none */
    char fatal[256];
    bool oom;
} yindex_t;

static bool fatal(yindex_t *ix, unsigned line, const char *msg)
{
    ix->fatal_line = line ? line : 1;
    snprintf(ix->fatal, sizeof ix->fatal, "%s", msg);
    return false;
}

static bool push(yindex_t *ix, int node, bool mapping, unsigned depth, unsigned line)
{
    if (ix->top == MAX_DEPTH) return fatal(ix, line, "nested too deeply");
    ix->stack[ix->top++] =
        (frame_t){.node = node, .mapping = mapping, .want_key = mapping, .depth = depth};
    return true;
}

static void pop(yindex_t *ix)
{
    if (ix->top == 0) return;
    frame_t *f = &ix->stack[--ix->top];
    if (f->node >= 0) ix->nodes[f->node].count = f->count;
}

static bool is_null(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static void record(yindex_t *ix, frame_t *f, node_t *nd, const yaml_event_t *ev, unsigned line)
{
    *nd = (node_t){.parent = f->node,
                   .index = -1,
                   .depth = f->depth,
                   .line = line,
                   .key_line = line,
                   .key_ok = true,
                   .section = -1};
    if (f->mapping) {
        nd->key_line = f->key_line;
        nd->key_ok = f->key_ok;
        nd->key_complex = f->key_complex;
        memcpy(nd->key, f->key, sizeof nd->key);
        for (unsigned j = 0; j < ix->n - 1 && nd->key_ok; j++) {
            const node_t *o = &ix->nodes[j];
            if (o->parent == nd->parent && o->key_ok && !strcmp(o->key, nd->key))
                nd->duplicate = true;
        }
    } else {
        nd->index = (int)f->count;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        nd->kind = N_SCALAR;
        nd->null = is_null(ev);
        nd->nul_byte = memchr(ev->data.scalar.value, 0, ev->data.scalar.length) != NULL;
        break;
    case YAML_MAPPING_START_EVENT:
        nd->kind = N_MAPPING;
        break;
    case YAML_SEQUENCE_START_EVENT:
        nd->kind = N_SEQUENCE;
        break;
    default:
        nd->kind = N_ALIAS;
        break;
    }
}

/* A scalar, alias, mapping or list starts. */
static bool on_node(yindex_t *ix, const yaml_event_t *ev)
{
    unsigned line = (unsigned)ev->start_mark.line + 1;
    if (ix->top == 0) return fatal(ix, line, "YAML syntax error: content outside a document");
    frame_t *f = &ix->stack[ix->top - 1];
    bool opens = ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT;

    if (f->mapping && f->want_key) {
        f->want_key = false;
        f->key_line = line;
        f->key_ok = false;
        f->key_complex = ev->type != YAML_SCALAR_EVENT;
        f->key[0] = 0;
        if (ev->type == YAML_SCALAR_EVENT) {
            size_t n = ev->data.scalar.length;
            const void *v = ev->data.scalar.value;
            f->key_ok = n <= KEY_MAX && !memchr(v, 0, n);
            memcpy(f->key, v, n <= KEY_MAX ? n : KEY_MAX);
            f->key[n <= KEY_MAX ? n : KEY_MAX] = 0;
        }
        /* A mapping or list as a key: read through it, it is reported with its value. */
        return opens ? push(ix, -1, ev->type == YAML_MAPPING_START_EVENT, MAX_DEPTH, line) : true;
    }

    int id = -1;
    if (f->depth <= 3 && (f->depth == 0 || f->node >= 0)) {
        if (ix->n == MAX_NODES) return fatal(ix, line, "too many keys");
        id = (int)ix->n++;
        record(ix, f, &ix->nodes[id], ev, line);
    }
    f->count++;
    f->want_key = f->mapping;
    return opens ? push(ix, id, ev->type == YAML_MAPPING_START_EVENT, f->depth + 1, line) : true;
}

static unsigned line_of_offset(const char *data, size_t len, size_t off)
{
    unsigned line = 1;
    for (size_t i = 0; i < off && i < len; i++)
        line += data[i] == '\n';
    return line;
}

static void syntax_error(yindex_t *ix, const yaml_parser_t *p, const char *data, size_t len)
{
    char msg[256];
    unsigned line = (unsigned)p->problem_mark.line + 1;
    if (p->error == YAML_MEMORY_ERROR) {
        ix->oom = true;
        return;
    }
    if (p->error == YAML_READER_ERROR) line = line_of_offset(data, len, p->problem_offset);
    int n = snprintf(msg, sizeof msg, "YAML syntax error: %s", p->problem ? p->problem : "?");
    if (p->context && n > 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, " (%s on line %u)", p->context,
                 (unsigned)p->context_mark.line + 1);
    fatal(ix, line, msg);
}

static void index_build(yindex_t *ix, const char *data, size_t len)
{
    yaml_parser_t p;
    yaml_event_t ev;
    unsigned docs = 0;
    bool go = true;

    if (!yaml_parser_initialize(&p)) {
        ix->oom = true;
        return;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
    while (go) {
        if (!yaml_parser_parse(&p, &ev)) {
            syntax_error(ix, &p, data, len);
            break;
        }
        unsigned line = (unsigned)ev.start_mark.line + 1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            go = false;
            break;
        case YAML_DOCUMENT_START_EVENT:
            go = ++docs == 1 ? push(ix, -1, false, 0, line)
                             : fatal(ix, line, "only one YAML document is allowed");
            break;
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            go = on_node(ix, &ev);
            break;
        case YAML_DOCUMENT_END_EVENT:
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            pop(ix);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
}

/* ---- Checking the structure against the key table ------------------------------------------- */

static const char *path_of(const yindex_t *ix, const node_t *nd, char *buf, size_t len)
{
    char q[48];
    const node_t *parent = nd->parent >= 0 ? &ix->nodes[nd->parent] : NULL;
    const char *key = hmq_config_quote(nd->key, q, sizeof q);
    if (!parent || parent->parent < 0)
        snprintf(buf, len, "%s", key);
    else if (nd->index >= 0)
        snprintf(buf, len, "%s[%d]", parent->key, nd->index);
    else if (parent->index >= 0)
        snprintf(buf, len, "listeners[%d].%s", parent->index, key);
    else
        snprintf(buf, len, "%s.%s", parent->key, key);
    return buf;
}

static const char *kind_name(const node_t *nd)
{
    return nd->kind == N_MAPPING ? "a mapping" : nd->kind == N_SEQUENCE ? "a list" : "a value";
}

/* Check the key of a node in a mapping; set *k (leaves) or *section (depth 1). */
static bool check_key(hmq_config_loader_t *ld, yindex_t *ix, node_t *nd,
                      const hmq_config_origin_t *at, const char *path, int section)
{
    if (nd->key_ok && section < 0) nd->section = hmq_config_section_find(nd->key);
    if (nd->key_ok && section >= 0) nd->k = hmq_config_key_find(section, nd->key);
    if (nd->key_complex) {
        hmq_config_error(ld, at, NULL, "keys must be names, not mappings, lists or aliases");
        return false;
    }
    if (!nd->key_ok || (section < 0 ? nd->section < 0 : !nd->k)) {
        const char *hint = nd->key_ok ? hmq_config_key_suggest(section, nd->key) : NULL;
        ix->unknown++;
        if (hint)
            hmq_config_error(ld, at, path, "unknown key (did you mean '%s'?)", hint);
        else if (section < 0)
            hmq_config_error(ld, at, path,
                             "unknown key (sections: broker, listeners, limits, mqtt, auth, log, hooks)");
        else
            hmq_config_error(ld, at, path, "unknown key");
        return false;
    }
    if (nd->duplicate) {
        hmq_config_error(ld, at, path, "duplicate key");
        return false;
    }
    return true;
}

static void check_node(hmq_config_loader_t *ld, yindex_t *ix, node_t *nd, const char *file)
{
    hmq_config_origin_t at = {.file = file, .line = nd->key_line};
    char path[128];
    node_t *parent = nd->parent >= 0 ? &ix->nodes[nd->parent] : NULL;

    if (!parent) { /* the document */
        nd->valid = nd->kind == N_MAPPING || (nd->kind == N_SCALAR && nd->null);
        if (!nd->valid)
            hmq_config_error(ld, &at, NULL,
                             "the configuration must be a mapping of sections "
                             "(broker, listeners, limits, mqtt, auth, log, hooks)");
        return;
    }
    if (!parent->valid) return;
    path_of(ix, nd, path, sizeof path);
    if (nd->kind == N_ALIAS) {
        hmq_config_error(ld, &at, path, "YAML aliases are not supported");
        return;
    }
    if (nd->depth == 1) {
        if (!check_key(ld, ix, nd, &at, path, -1)) return;
        if (nd->section == HMQ_SECTION_LISTENERS) {
            if (nd->kind != N_SEQUENCE)
                hmq_config_error(ld, &at, path, "expected a list of listeners, got %s",
                                 kind_name(nd));
            else if (nd->count == 0 || nd->count > HMQ_MAX_LISTENERS)
                hmq_config_error(ld, &at, path, "must list 1 to %d listeners, got %u",
                                 HMQ_MAX_LISTENERS, nd->count);
            else
                nd->valid = true;
        } else if (nd->kind == N_MAPPING || (nd->kind == N_SCALAR && nd->null)) {
            nd->valid = true;
        } else {
            hmq_config_error(ld, &at, path, "expected a mapping of keys, got %s", kind_name(nd));
        }
        return;
    }
    if (nd->index >= 0) { /* a listener entry */
        nd->valid = nd->kind == N_MAPPING;
        if (!nd->valid)
            hmq_config_error(ld, &at, path,
                             "expected a mapping (name, type, bind, port, max_connections), got %s",
                             nd->null ? "nothing" : kind_name(nd));
        return;
    }
    int section = parent->index >= 0 ? HMQ_SECTION_LISTENERS : parent->section;
    if (!check_key(ld, ix, nd, &at, path, section)) return;
    if (nd->kind != N_SCALAR)
        hmq_config_error(ld, &at, path, "expected a single value, got %s", kind_name(nd));
    else if (nd->nul_byte)
        hmq_config_error(ld, &at, path, "contains a NUL byte");
    else
        nd->valid = true;
}

/* ---- Pass 2: libcyaml loads the values as strings ------------------------------------------- */

typedef struct {
    char *v[HMQ_SECTION_KEYS_MAX]; /* by hmq_config_key_slot() */
} raw_map_t;

typedef struct {
    raw_map_t *section[HMQ_SECTION_COUNT]; /* NULL: absent or empty (listeners: unused) */
    raw_map_t *listeners;
    unsigned listener_count;
} raw_doc_t;

typedef struct {
    cyaml_schema_field_t fields[HMQ_SECTION_COUNT][HMQ_SECTION_KEYS_MAX + 1];
    cyaml_schema_value_t listener;
    cyaml_schema_field_t top[HMQ_SECTION_COUNT + 1];
    cyaml_schema_value_t root;
} schema_t;

static void schema_build(schema_t *sc)
{
    memset(sc, 0, sizeof *sc); /* every field list ends with a zeroed entry: CYAML_FIELD_END */
    for (const hmq_config_key_t *k = hmq_config_keys; k->name; k++) {
        unsigned slot = hmq_config_key_slot(k);
        sc->fields[k->section][slot] = (cyaml_schema_field_t){
            .key = k->name,
            .data_offset = (uint32_t)(slot * sizeof(char *)),
            .value = {.type = CYAML_STRING,
                      .flags = (enum cyaml_flag)(CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL),
                      .data_size = sizeof(char),
                      .string = {.min = 0, .max = CYAML_UNLIMITED}},
        };
    }
    sc->listener = (cyaml_schema_value_t){
        .type = CYAML_MAPPING,
        .data_size = sizeof(raw_map_t),
        .mapping = {.fields = sc->fields[HMQ_SECTION_LISTENERS]},
    };
    for (int s = 0; s < HMQ_SECTION_COUNT; s++) {
        cyaml_schema_field_t *f = &sc->top[s];
        f->key = hmq_config_sections[s];
        if (s == HMQ_SECTION_LISTENERS) {
            f->data_offset = offsetof(raw_doc_t, listeners);
            f->count_offset = offsetof(raw_doc_t, listener_count);
            f->count_size = sizeof(unsigned);
            f->value = (cyaml_schema_value_t){
                .type = CYAML_SEQUENCE,
                .flags = (enum cyaml_flag)(CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL),
                .data_size = sizeof(raw_map_t),
                .sequence = {.entry = &sc->listener, .min = 1, .max = HMQ_MAX_LISTENERS},
            };
        } else {
            f->data_offset = (uint32_t)(offsetof(raw_doc_t, section) + s * sizeof(raw_map_t *));
            f->value = (cyaml_schema_value_t){
                .type = CYAML_MAPPING,
                .flags = (enum cyaml_flag)(CYAML_FLAG_POINTER_NULL_STR | CYAML_FLAG_OPTIONAL),
                .data_size = sizeof(raw_map_t),
                .mapping = {.fields = sc->fields[s]},
            };
        }
    }
    sc->root = (cyaml_schema_value_t){
        .type = CYAML_MAPPING,
        .flags = CYAML_FLAG_POINTER_NULL_STR,
        .data_size = sizeof(raw_doc_t),
        .mapping = {.fields = sc->top},
    };
}

/* libcyaml's error and the line of its backtrace, in case it rejects what pass 1 accepted. */
typedef struct {
    char msg[96];
    unsigned line;
} cyaml_failure_t;

static void cyaml_capture(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    cyaml_failure_t *c = ctx;
    char text[256];
    if (level < CYAML_LOG_ERROR) return;
    vsnprintf(text, sizeof text, fmt, args);
    text[strcspn(text, "\n")] = 0;
    const char *at = strstr(text, "(line: ");
    if (at && !c->line)
        c->line = (unsigned)strtoul(at + 7, NULL, 10);
    else if (!at && !c->msg[0] && !strstr(text, "Backtrace"))
        hmq_config_quote(strncmp(text, "Load: ", 6) ? text : text + 6, c->msg, sizeof c->msg);
}

/* ---- Applying the values --------------------------------------------------------------------- */

static void replace_listeners(hmq_config_loader_t *ld, const yindex_t *ix, const node_t *list,
                              const char *file)
{
    hmq_config_t *cfg = ld->cfg;
    hmq_config_free(cfg);
    memset(ld->listener_key_at, 0, sizeof ld->listener_key_at);
    for (unsigned i = 0; i < list->count; i++) {
        if (hmq_config_listener_init(&cfg->listeners[i]) < 0) ld->oom = true;
        cfg->listener_count = i + 1;
    }
    for (const node_t *nd = list + 1; nd < ix->nodes + ix->n; nd++)
        if (nd->parent == list - ix->nodes && nd->index >= 0 && (unsigned)nd->index < list->count)
            ld->listener_at[nd->index] = (hmq_config_origin_t){.file = file, .line = nd->line};
}

static void apply(hmq_config_loader_t *ld, const yindex_t *ix, const raw_doc_t *raw,
                  const char *file)
{
    for (const node_t *nd = ix->nodes; nd < ix->nodes + ix->n; nd++) {
        if (nd->valid && nd->depth == 1 && nd->section == HMQ_SECTION_LISTENERS)
            replace_listeners(ld, ix, nd, file);
        if (!nd->valid || !nd->k || nd->depth != LEAF_DEPTH(nd->k->section)) continue;

        hmq_config_origin_t at = {.file = file, .line = nd->line};
        unsigned slot = hmq_config_key_slot(nd->k);
        const raw_map_t *m;
        unsigned entry = 0;
        if (nd->k->section == HMQ_SECTION_LISTENERS) {
            entry = (unsigned)ix->nodes[nd->parent].index;
            m = entry < raw->listener_count && entry < ld->cfg->listener_count
                    ? &raw->listeners[entry]
                    : NULL;
        } else {
            m = raw->section[nd->k->section];
        }
        const char *text = m ? m->v[slot] : NULL;
        if (!text) continue; /* cannot happen: both passes read the same text */
        if (nd->null) {
            char path[128];
            hmq_config_error(ld, &at, path_of(ix, nd, path, sizeof path), "has no value");
            if (nd->k->section == HMQ_SECTION_LISTENERS)
                ld->listener_key_at[entry][slot] =
                    (hmq_config_origin_t){.file = file, .line = nd->line, .invalid = true};
        } else if (nd->k->section == HMQ_SECTION_LISTENERS) {
            hmq_config_set_listener_key(ld, entry, nd->k, text, &at);
        } else {
            hmq_config_set_key(ld, nd->k, text, &at);
        }
    }
}

void hmq_config_apply_yaml(hmq_config_loader_t *ld, const char *file, const char *data, size_t len)
{
    yindex_t *ix = calloc(1, sizeof *ix);
    if (!ix) {
        ld->oom = true;
        return;
    }
    unsigned before = ld->errors;
    index_build(ix, data, len);
    if (ix->fatal_line) {
        hmq_config_origin_t at = {.file = file, .line = ix->fatal_line};
        hmq_config_error(ld, &at, NULL, "%s", ix->fatal);
    }
    for (unsigned i = 0; !ix->fatal_line && !ix->oom && i < ix->n; i++)
        check_node(ld, ix, &ix->nodes[i], file);
    if (ix->oom) ld->oom = true;
    /* Past unknown keys (only), the values are still worth checking: libcyaml skips the keys. */
    bool shape_errors = ld->errors - before > ix->unknown;
    if (shape_errors || ld->oom || ix->n == 0 || !ix->nodes[0].valid ||
        ix->nodes[0].kind != N_MAPPING) {
        ld->file_failed = shape_errors || ld->oom;
        free(ix);
        return;
    }

    schema_t sc;
    cyaml_failure_t failure = {{0}, 0};
    schema_build(&sc);
    cyaml_config_t cc = {.log_fn = cyaml_capture,
                         .log_ctx = &failure,
                         .mem_fn = cyaml_mem,
                         .log_level = CYAML_LOG_ERROR,
                         .flags = ix->unknown ? CYAML_CFG_NO_ALIAS | CYAML_CFG_IGNORE_UNKNOWN_KEYS
                                              : CYAML_CFG_NO_ALIAS};
    raw_doc_t *raw = NULL;
    cyaml_err_t rc =
        cyaml_load_data((const uint8_t *)data, len, &cc, &sc.root, (cyaml_data_t **)&raw, NULL);
    if (rc == CYAML_ERR_OOM) {
        ld->oom = true;
    } else if (rc != CYAML_OK && !ix->unknown) {
        hmq_config_origin_t at = {.file = file, .line = failure.line ? failure.line : 1};
        hmq_config_error(ld, &at, NULL, "%s (libcyaml: %s)",
                         failure.msg[0] ? failure.msg : "cannot load", cyaml_strerror(rc));
    } else if (rc == CYAML_OK && raw) {
        apply(ld, ix, raw, file);
    }
    ld->file_failed = rc != CYAML_OK;
    cyaml_free(&cc, &sc.root, raw, 0);
    free(ix);
}
