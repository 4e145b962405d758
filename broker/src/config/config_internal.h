/* config_internal.h - what the files of config/ share: the table of keys, value parsing, error
 * reporting and the loader state passed from the YAML pass to the environment pass.
 *
 * Private to broker/src/config/ and the config unit tests (which check that the shipped
 * config/hookmq.yaml and docs/configuration.md cover every key of the table).
 */
#ifndef HMQ_CONFIG_INTERNAL_H
#define HMQ_CONFIG_INTERNAL_H

#include "config/config.h"

#include <stdarg.h>

/* Top-level sections, in the order of the documentation. */
enum {
    HMQ_SECTION_BROKER,
    HMQ_SECTION_LISTENERS,
    HMQ_SECTION_LIMITS,
    HMQ_SECTION_MQTT,
    HMQ_SECTION_AUTH,
    HMQ_SECTION_LOG,
    HMQ_SECTION_HOOKS,
    HMQ_SECTION_HOOK_SERVERS, /* not a section of the file: the keys of a hooks.servers entry */
    HMQ_SECTION_COUNT
};
#define HMQ_SECTION_TOP_COUNT HMQ_SECTION_HOOK_SERVERS /* the sections a file can name */
#define HMQ_SECTION_KEYS_MAX 40 /* most keys in one section (or one listener / server entry) */

typedef enum {
    HMQ_KEY_UINT,
    HMQ_KEY_BOOL,
    HMQ_KEY_ENUM,
    HMQ_KEY_STRING,
    HMQ_KEY_LIST,   /* hmq_config_list_t: a YAML list, or one comma-separated string */
    HMQ_KEY_ENTRIES /* a list of mappings with the keys of `entries` (hooks.servers) */
} hmq_key_type_t;

/* One configuration key. Keys of the listeners section are fields of hmq_listener_config_t,
 * keys of hooks.servers entries fields of hmq_hook_server_config_t, all others fields of
 * hmq_config_t. */
typedef struct {
    int section;      /* HMQ_SECTION_* */
    const char *name; /* "max_packet_size" */
    hmq_key_type_t type;
    size_t offset;                       /* of the field in its struct */
    size_t size;                         /* of the field */
    uint64_t min, max;                   /* UINT: accepted range; ENTRIES: most entries */
    const char *const *names;            /* ENUM: NULL-terminated; the index is the value */
    const char *(*check)(const char *s); /* STRING, LIST items: NULL if valid, else what is wrong */
    int entries;                         /* ENTRIES: the HMQ_SECTION_* of an entry's keys */
} hmq_config_key_t;

extern const char *const hmq_config_sections[HMQ_SECTION_COUNT];
extern const hmq_config_key_t hmq_config_keys[]; /* all sections, ends with a NULL name */

int hmq_config_section_find(const char *name); /* HMQ_SECTION_* or -1 */
const hmq_config_key_t *hmq_config_key_find(int section, const char *name);
/* Position of k among the keys of its section (< HMQ_SECTION_KEYS_MAX). */
unsigned hmq_config_key_slot(const hmq_config_key_t *k);
/* The key of `section` closest to `name` (for "did you mean"), or NULL. */
const char *hmq_config_key_suggest(int section, const char *name);

/* Parse `text` as the value of `k` and store it in `base` (the hmq_config_t, or the
 * hmq_listener_config_t for listener keys). Returns 0, -ENOMEM, or -EINVAL with what is wrong
 * in msg (no location: the caller knows it). */
int hmq_config_key_set(const hmq_config_key_t *k, void *base, const char *text, char *msg,
                       size_t msglen);
/* The same for a LIST key given as separate items (a YAML list): no splitting at commas. */
int hmq_config_key_set_list(const hmq_config_key_t *k, void *base, const char *const *items,
                            size_t n, char *msg, size_t msglen);
void hmq_config_list_free(hmq_config_list_t *l);

/* Where a value came from: a file and line, or an environment variable. */
typedef struct {
    const char *file;
    unsigned line;
    const char *env; /* "HOOKMQ_LIMITS__MAX_PACKET_SIZE=..." (in envp); wins over file */
    int envlen;      /* length of the variable's name in env */
    bool invalid;    /* the value there was rejected: skip checks that involve it */
} hmq_config_origin_t;

/* Everything one hmq_config_load call accumulates. */
typedef struct {
    hmq_config_t *cfg;
    char *err; /* caller's buffer, may be NULL */
    size_t errlen, errused;
    unsigned errors;
    bool oom;
    bool file_failed; /* the file could not be applied: listener indexes are unknown */
    hmq_config_origin_t listener_at[HMQ_MAX_LISTENERS];
    hmq_config_origin_t listener_key_at[HMQ_MAX_LISTENERS][HMQ_SECTION_KEYS_MAX];
    hmq_config_origin_t server_at[HMQ_MAX_HOOK_SERVERS];
    hmq_config_origin_t server_key_at[HMQ_MAX_HOOK_SERVERS][HMQ_SECTION_KEYS_MAX];
    hmq_config_origin_t key_at[HMQ_SECTION_TOP_COUNT][HMQ_SECTION_KEYS_MAX]; /* other keys */
} hmq_config_loader_t;

/* Add one error line: "file:line: key: message" or "environment VAR: message". */
void hmq_config_error(hmq_config_loader_t *ld, const hmq_config_origin_t *at, const char *key,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Copy `s` for an error message: truncated to fit len (>= 8) with "...", non-printable bytes
 * as '?'. Returns buf. */
const char *hmq_config_quote(const char *s, char *buf, size_t len);

/* Set key `k` from `text`, recording `at` for the checks across keys. `entry` is the index of
 * the listener or hook server for keys of those entries, ignored for other keys. */
void hmq_config_set_key(hmq_config_loader_t *ld, const hmq_config_key_t *k, unsigned entry,
                        const char *text, const hmq_config_origin_t *at);
/* The same for a LIST key written as a YAML list. */
void hmq_config_set_key_list(hmq_config_loader_t *ld, const hmq_config_key_t *k, unsigned entry,
                             const char *const *items, size_t n, const hmq_config_origin_t *at);
/* Reset listener i to the defaults of a listener entry (no name). */
int hmq_config_listener_init(hmq_listener_config_t *l);
/* Release the listeners (a listeners list in the file replaces the default one). */
void hmq_config_free_listeners(hmq_config_t *cfg);
/* The key of `section` that holds entries of section `entries`, or NULL. */
const hmq_config_key_t *hmq_config_entries_key(int entries);

/* The passes, in order. */
void hmq_config_apply_yaml(hmq_config_loader_t *ld, const char *file, const char *data, size_t len);
void hmq_config_apply_env(hmq_config_loader_t *ld, char *const *envp);

#endif
