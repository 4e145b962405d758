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
 *     List values (hooks.chain, endpoints) may be a YAML list or one comma-separated string,
 *     which a libcyaml schema cannot express: libcyaml skips them and pass 1 keeps their text.
 *
 * Depths: 1 sections; 2 keys of a section, listeners[i]; 3 listener keys, hooks.servers[i],
 * hooks.chain[i]; 4 keys of a hook server; 5 hooks.servers[i].endpoints[j].
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

#define MAX_NODES 2048 /* a full configuration has about 250; 32 listeners and 16 servers 1200 */
#define MAX_DEPTH 32
#define MAX_RECORDED 5 /* deepest recorded node: hooks.servers[i].endpoints[j] */
#define KEY_MAX 63     /* longer keys are unknown anyway */
#define LEAF_DEPTH(section)                                                                        \
    ((section) == HMQ_SECTION_LISTENERS ? 3u : (section) == HMQ_SECTION_HOOK_SERVERS ? 4u : 2u)

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
    char *text; /* scalars that are list items or values of list keys (malloc'd) */
    /* Set by the check: */
    bool valid;
    int section;               /* depth 1; entries of listeners and hooks.servers: their keys' */
    const hmq_config_key_t *k; /* keys */
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

/* Whether some key of the table named `key` takes a list (its text is kept by pass 1). */
static bool is_list_key(const char *key)
{
    for (const hmq_config_key_t *k = hmq_config_keys; k->name; k++)
        if (k->type == HMQ_KEY_LIST && strcmp(k->name, key) == 0) return true;
    return false;
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
        if (nd->index >= 0 || is_list_key(nd->key)) {
            nd->text = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
            if (!nd->text) ix->oom = true;
        }
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
    if (f->depth <= MAX_RECORDED && (f->depth == 0 || f->node >= 0)) {
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

/* "limits.max_inflight", "listeners[0].port", "hooks.servers[1].endpoints[0]". */
static size_t path_append(const yindex_t *ix, const node_t *nd, char *buf, size_t len)
{
    if (nd->parent < 0) {
        buf[0] = 0;
        return 0;
    }
    size_t n = path_append(ix, &ix->nodes[nd->parent], buf, len);
    char q[48];
    int w = nd->index >= 0 ? snprintf(buf + n, len - n, "[%d]", nd->index)
                           : snprintf(buf + n, len - n, "%s%s", n ? "." : "",
                                      hmq_config_quote(nd->key, q, sizeof q));
    return w < 0 || (size_t)w >= len - n ? len - 1 : n + (size_t)w;
}

static const char *path_of(const yindex_t *ix, const node_t *nd, char *buf, size_t len)
{
    path_append(ix, nd, buf, len);
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
            hmq_config_error(
                ld, at, path,
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

/* A value (a leaf key, or a list item): a scalar without NUL bytes. */
static void check_scalar(hmq_config_loader_t *ld, node_t *nd, const hmq_config_origin_t *at,
                         const char *path)
{
    if (nd->kind != N_SCALAR)
        hmq_config_error(ld, at, path, "expected a single value, got %s", kind_name(nd));
    else if (nd->nul_byte)
        hmq_config_error(ld, at, path, "contains a NUL byte");
    else
        nd->valid = true;
}

/* A node of a list: a listener, a hook server, or an item of a list value. */
static void check_item(hmq_config_loader_t *ld, node_t *nd, const node_t *parent,
                       const hmq_config_origin_t *at, const char *path)
{
    if (parent->k && parent->k->type == HMQ_KEY_LIST) {
        if (nd->kind == N_SCALAR && nd->null)
            hmq_config_error(ld, at, path, "has no value");
        else
            check_scalar(ld, nd, at, path);
        return;
    }
    bool listener = parent->depth == 1;
    if (!listener && !(parent->k && parent->k->type == HMQ_KEY_ENTRIES)) return; /* cannot be */
    nd->valid = nd->kind == N_MAPPING;
    nd->section = listener ? HMQ_SECTION_LISTENERS : parent->k->entries;
    if (!nd->valid)
        hmq_config_error(ld, at, path, "expected a mapping (%s), got %s",
                         listener ? "name, type, bind, port, max_connections"
                                  : "name, endpoints, deadline_ms, on_failure, ...",
                         nd->null ? "nothing" : kind_name(nd));
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
    if (nd->index >= 0) {
        check_item(ld, nd, parent, &at, path);
        return;
    }
    if (!check_key(ld, ix, nd, &at, path, parent->section)) return;
    if (nd->k->type == HMQ_KEY_ENTRIES) {
        if (nd->kind != N_SEQUENCE)
            hmq_config_error(ld, &at, path, "expected a list of %s, got %s", nd->k->name,
                             kind_name(nd));
        else if (nd->count == 0 || nd->count > nd->k->max)
            hmq_config_error(ld, &at, path, "must list 1 to %u entries, got %u",
                             (unsigned)nd->k->max, nd->count);
        else
            nd->valid = true;
    } else if (nd->k->type == HMQ_KEY_LIST && nd->kind == N_SEQUENCE) {
        nd->valid = nd->count > 0;
        if (!nd->valid) hmq_config_error(ld, &at, path, "has no value (an empty list)");
    } else {
        check_scalar(ld, nd, &at, path);
    }
}

/* ---- Pass 2: libcyaml loads the values as strings ------------------------------------------- */

typedef struct raw_map {
    char *v[HMQ_SECTION_KEYS_MAX]; /* by hmq_config_key_slot() */
    struct raw_map *entries;       /* the ENTRIES key of the section (hooks.servers) */
    unsigned n_entries;
} raw_map_t;

typedef struct {
    raw_map_t *section[HMQ_SECTION_TOP_COUNT]; /* NULL: absent or empty (listeners: unused) */
    raw_map_t *listeners;
    unsigned listener_count;
} raw_doc_t;

typedef struct {
    cyaml_schema_field_t fields[HMQ_SECTION_COUNT][HMQ_SECTION_KEYS_MAX + 1];
    cyaml_schema_value_t entry[HMQ_SECTION_COUNT]; /* one listener, one hook server */
    cyaml_schema_field_t top[HMQ_SECTION_TOP_COUNT + 1];
    cyaml_schema_value_t root;
} schema_t;

static cyaml_schema_value_t entries_value(const schema_t *sc, int section, unsigned max)
{
    return (cyaml_schema_value_t){
        .type = CYAML_SEQUENCE,
        .flags = (enum cyaml_flag)(CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL),
        .data_size = sizeof(raw_map_t),
        .sequence = {.entry = &sc->entry[section], .min = 1, .max = max},
    };
}

static void schema_build(schema_t *sc)
{
    memset(sc, 0, sizeof *sc); /* every field list ends with a zeroed entry: CYAML_FIELD_END */
    for (int s = 0; s < HMQ_SECTION_COUNT; s++)
        sc->entry[s] = (cyaml_schema_value_t){
            .type = CYAML_MAPPING,
            .data_size = sizeof(raw_map_t),
            .mapping = {.fields = sc->fields[s]},
        };
    for (const hmq_config_key_t *k = hmq_config_keys; k->name; k++) {
        unsigned slot = hmq_config_key_slot(k);
        cyaml_schema_field_t *f = &sc->fields[k->section][slot];
        f->key = k->name;
        if (k->type == HMQ_KEY_ENTRIES) {
            f->data_offset = offsetof(raw_map_t, entries);
            f->count_offset = offsetof(raw_map_t, n_entries);
            f->count_size = sizeof(unsigned);
            f->value = entries_value(sc, k->entries, (unsigned)k->max);
        } else if (k->type == HMQ_KEY_LIST) { /* pass 1 has the items */
            f->value = (cyaml_schema_value_t){.type = CYAML_IGNORE, .flags = CYAML_FLAG_OPTIONAL};
        } else {
            f->data_offset = (uint32_t)(slot * sizeof(char *));
            f->value = (cyaml_schema_value_t){
                .type = CYAML_STRING,
                .flags = (enum cyaml_flag)(CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL),
                .data_size = sizeof(char),
                .string = {.min = 0, .max = CYAML_UNLIMITED}};
        }
    }
    for (int s = 0; s < HMQ_SECTION_TOP_COUNT; s++) {
        cyaml_schema_field_t *f = &sc->top[s];
        f->key = hmq_config_sections[s];
        if (s == HMQ_SECTION_LISTENERS) {
            f->data_offset = offsetof(raw_doc_t, listeners);
            f->count_offset = offsetof(raw_doc_t, listener_count);
            f->count_size = sizeof(unsigned);
            f->value = entries_value(sc, HMQ_SECTION_LISTENERS, HMQ_MAX_LISTENERS);
        } else {
            f->data_offset = (uint32_t)(offsetof(raw_doc_t, section) + s * sizeof(raw_map_t *));
            f->value = sc->entry[s];
            f->value.flags = (enum cyaml_flag)(CYAML_FLAG_POINTER_NULL_STR | CYAML_FLAG_OPTIONAL);
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

/* A list in the file replaces the default entries (listeners: the default one; servers: none). */
static void replace_entries(hmq_config_loader_t *ld, const yindex_t *ix, const node_t *list,
                            const char *file)
{
    hmq_config_t *cfg = ld->cfg;
    bool listeners = list->depth == 1;
    hmq_config_origin_t *entry_at = listeners ? ld->listener_at : ld->server_at;
    if (listeners) {
        hmq_config_free_listeners(cfg);
        memset(ld->listener_key_at, 0, sizeof ld->listener_key_at);
        for (unsigned i = 0; i < list->count; i++) {
            if (hmq_config_listener_init(&cfg->listeners[i]) < 0) ld->oom = true;
            cfg->listener_count = i + 1;
        }
    } else {
        cfg->hook_server_count = list->count; /* zeroed: every default of a server is 0 */
    }
    for (const node_t *nd = list + 1; nd < ix->nodes + ix->n; nd++)
        if (nd->parent == list - ix->nodes && nd->index >= 0 && (unsigned)nd->index < list->count)
            entry_at[nd->index] = (hmq_config_origin_t){.file = file, .line = nd->line};
}

/* The raw values of the mapping that holds key node nd, and its entry index. */
static const raw_map_t *raw_map_of(const hmq_config_loader_t *ld, const yindex_t *ix,
                                   const node_t *nd, const raw_doc_t *raw, unsigned *entry)
{
    int section = nd->k->section;
    *entry = 0;
    if (section != HMQ_SECTION_LISTENERS && section != HMQ_SECTION_HOOK_SERVERS)
        return raw->section[section];
    *entry = (unsigned)ix->nodes[nd->parent].index;
    if (section == HMQ_SECTION_LISTENERS)
        return *entry < raw->listener_count && *entry < ld->cfg->listener_count
                   ? &raw->listeners[*entry]
                   : NULL;
    const raw_map_t *hooks = raw->section[HMQ_SECTION_HOOKS];
    return hooks && *entry < hooks->n_entries && *entry < ld->cfg->hook_server_count
               ? &hooks->entries[*entry]
               : NULL;
}

/* A LIST key written as a YAML list: its items, kept by pass 1. */
static void apply_list(hmq_config_loader_t *ld, const yindex_t *ix, const node_t *nd,
                       unsigned entry, const hmq_config_origin_t *at)
{
    const char *items[64];
    size_t n = 0;
    int id = (int)(nd - ix->nodes);
    for (const node_t *it = nd + 1; it < ix->nodes + ix->n && n < sizeof items / sizeof *items;
         it++)
        if (it->parent == id && it->text) items[n++] = it->text;
    hmq_config_set_key_list(ld, nd->k, entry, items, n, at);
}

static void apply(hmq_config_loader_t *ld, const yindex_t *ix, const raw_doc_t *raw,
                  const char *file)
{
    for (const node_t *nd = ix->nodes; nd < ix->nodes + ix->n; nd++) {
        if (nd->valid && ((nd->depth == 1 && nd->section == HMQ_SECTION_LISTENERS) ||
                          (nd->k && nd->k->type == HMQ_KEY_ENTRIES)))
            replace_entries(ld, ix, nd, file);
        if (!nd->valid || !nd->k || nd->k->type == HMQ_KEY_ENTRIES ||
            nd->depth != LEAF_DEPTH(nd->k->section))
            continue;

        hmq_config_origin_t at = {.file = file, .line = nd->line};
        unsigned entry;
        const raw_map_t *m = raw_map_of(ld, ix, nd, raw, &entry);
        if (!m) continue; /* cannot happen: both passes read the same text */
        if (nd->k->type == HMQ_KEY_LIST && nd->kind == N_SEQUENCE) {
            apply_list(ld, ix, nd, entry, &at);
            continue;
        }
        const char *text =
            nd->k->type == HMQ_KEY_LIST ? nd->text : m->v[hmq_config_key_slot(nd->k)];
        if (!text) continue; /* cannot happen */
        if (nd->null) {
            hmq_config_set_key(ld, nd->k, entry, "", &at); /* "has no value" */
        } else {
            hmq_config_set_key(ld, nd->k, entry, text, &at);
        }
    }
}

static void index_free(yindex_t *ix)
{
    for (unsigned i = 0; i < ix->n; i++)
        free(ix->nodes[i].text);
    free(ix);
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
        index_free(ix);
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
    index_free(ix);
}
