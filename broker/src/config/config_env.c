/* config_env.c - environment overrides, applied after the file:
 *
 *   HOOKMQ_<SECTION>__<KEY>=value           HOOKMQ_LIMITS__MAX_PACKET_SIZE=65536
 *   HOOKMQ_LISTENERS__<INDEX>__<KEY>=value  HOOKMQ_LISTENERS__0__PORT=1884 (existing listeners)
 *   HOOKMQ_HOOKS__SERVERS__<INDEX>__<KEY>=value  (hook servers that exist in the file)
 *
 * Names are matched without regard to case; values are parsed exactly like YAML values
 * (config_keys.c). A variable that starts with HOOKMQ_ and contains "__" is an override and must
 * name a key; other HOOKMQ_ variables (HOOKMQ_SOURCE_DIR, ...) are left alone.
 *
 * Called by hmq_config_load_data() in config.c.
 */
#include "config/config_internal.h"
#include "util/log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "HOOKMQ_"
#define PREFIX_LEN 7

/* Copy [s, end) lowercased into out (cap bytes); false when it does not fit. */
static bool lower_part(const char *s, const char *end, char *out, size_t cap)
{
    size_t n = (size_t)(end - s);
    if (n == 0 || n >= cap) return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = 0;
    return true;
}

static void unknown_variable(hmq_config_loader_t *ld, const hmq_config_origin_t *at, int section,
                             const char *key)
{
    const char *hint = key ? hmq_config_key_suggest(section, key) : NULL;
    char upper[64] = "", sect[32] = "";
    for (size_t i = 0; hint && hint[i] && i + 1 < sizeof upper; i++)
        upper[i] = (char)toupper((unsigned char)hint[i]), upper[i + 1] = 0;
    for (size_t i = 0; section >= 0 && hmq_config_sections[section][i]; i++)
        sect[i] = (char)toupper((unsigned char)hmq_config_sections[section][i]), sect[i + 1] = 0;
    if (section == HMQ_SECTION_HOOK_SERVERS)
        hmq_config_error(
            ld, at, NULL,
            "does not match any configuration key (%s" PREFIX "HOOKS__SERVERS__<INDEX>__%s%s)",
            hint ? "did you mean " : "expected ", hint ? upper : "<KEY>", hint ? "?" : "");
    else if (hint && section != HMQ_SECTION_LISTENERS)
        hmq_config_error(ld, at, NULL,
                         "does not match any configuration key (did you mean " PREFIX "%s__%s?)",
                         sect, upper);
    else
        hmq_config_error(ld, at, NULL,
                         "does not match any configuration key (expected " PREFIX
                         "<SECTION>__<KEY> or " PREFIX "LISTENERS__<INDEX>__<KEY>)");
}

/* <INDEX>__<KEY> of a listener or a hook server (`section`: the keys of the entry). */
static void apply_entry(hmq_config_loader_t *ld, const hmq_config_origin_t *at, int section,
                        const char *rest, const char *end, const char *value)
{
    const char *sep = strstr(rest, "__");
    char index[8], key[64];
    if (!sep || sep >= end || !lower_part(rest, sep, index, sizeof index) ||
        !lower_part(sep + 2, end, key, sizeof key) ||
        strspn(index, "0123456789") != strlen(index)) {
        unknown_variable(ld, at, section, NULL);
        return;
    }
    const hmq_config_key_t *k = hmq_config_key_find(section, key);
    if (!k) {
        unknown_variable(ld, at, section, key);
        return;
    }
    bool listener = section == HMQ_SECTION_LISTENERS;
    unsigned count = listener ? ld->cfg->listener_count : ld->cfg->hook_server_count;
    unsigned long i = strtoul(index, NULL, 10);
    if (i >= count) {
        if (!ld->file_failed) /* else the file's entries are unknown: nothing to say */
            hmq_config_error(ld, at, NULL,
                             "there is no %s %lu: the configuration has %u (indexes from 0)",
                             listener ? "listener" : "hook server", i, count);
        return;
    }
    hmq_config_set_key(ld, k, (unsigned)i, value, at);
}

static void apply_one(hmq_config_loader_t *ld, const char *var)
{
    const char *eq = strchr(var, '=');
    if (!eq || strncmp(var, PREFIX, PREFIX_LEN) != 0) return;
    const char *name = var + PREFIX_LEN, *sep = strstr(name, "__");
    if (!sep || sep >= eq) return; /* not an override */

    hmq_config_origin_t at = {.env = var, .envlen = (int)(eq - var)};
    char section[32], key[64];
    int s = lower_part(name, sep, section, sizeof section) ? hmq_config_section_find(section) : -1;
    LOG_DEBUG("config override", "variable=%.*s", at.envlen, var);
    if (s == HMQ_SECTION_LISTENERS) {
        apply_entry(ld, &at, s, sep + 2, eq, eq + 1);
        return;
    }
    /* HOOKMQ_HOOKS__SERVERS__<INDEX>__<KEY> */
    const char *sep2 = strstr(sep + 2, "__");
    if (s >= 0 && sep2 && sep2 < eq && lower_part(sep + 2, sep2, key, sizeof key)) {
        const hmq_config_key_t *k = hmq_config_key_find(s, key);
        if (k && k->type == HMQ_KEY_ENTRIES) {
            apply_entry(ld, &at, k->entries, sep2 + 2, eq, eq + 1);
            return;
        }
    }
    bool have_key = s >= 0 && lower_part(sep + 2, eq, key, sizeof key);
    const hmq_config_key_t *k = have_key ? hmq_config_key_find(s, key) : NULL;
    if (!k) {
        unknown_variable(ld, &at, s, have_key ? key : NULL);
        return;
    }
    hmq_config_set_key(ld, k, 0, eq + 1, &at);
}

void hmq_config_apply_env(hmq_config_loader_t *ld, char *const *envp)
{
    for (; envp && *envp; envp++)
        apply_one(ld, *envp);
}
