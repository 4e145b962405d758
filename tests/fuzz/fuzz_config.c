/* fuzz_config.c - libFuzzer target for the configuration loader: arbitrary bytes as a YAML file.
 *
 * An input may end with a line "%%env" followed by NAME=VALUE lines, which are passed as the
 * environment, so the override parser is fuzzed too. Checks: no crash, no leak (ASan), the error
 * text is NUL terminated and within its buffer, a failed load leaves nothing behind, and every
 * error names a location ("file:line: " or "environment VAR: ").
 *
 * Seeds: tests/fuzz/corpus/config/. Run: build-fuzz/fuzz_config tests/fuzz/corpus/config
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#define MAX_ENV 16

/* Every line starts with a location and holds only printable characters (a line cut by the end
 * of the buffer may be shorter than its location). */
static bool check_errors(const char *err, size_t cap)
{
    size_t len = strlen(err);
    for (const char *line = err; *line;) {
        bool cut = len == cap - 1 && !strchr(line, '\n');
        if (!cut && strncmp(line, "fuzz.yaml:", 10) != 0 &&
            strncmp(line, "environment HOOKMQ_", 19) != 0 &&
            strncmp(line, "out of memory", 13) != 0)
            return false;
        for (; *line && *line != '\n'; line++)
            if ((unsigned char)*line < 0x20 || (unsigned char)*line >= 0x7f) return false;
        if (*line) line++;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;

    size_t yaml_len = size;
    char *env[MAX_ENV + 1] = {0};
    char *mark = memmem(text, size, "\n%%env\n", 7);
    if (mark) {
        yaml_len = (size_t)(mark - text) + 1;
        char *p = mark + 7;
        for (int n = 0; n < MAX_ENV && p < text + size; n++) {
            env[n] = p;
            char *nl = strchr(p, '\n');
            if (!nl) break;
            *nl = 0;
            p = nl + 1;
        }
    }

    hmq_config_t cfg;
    char err[1024];
    memset(err, 'x', sizeof err);
    int rc = hmq_config_load_data(&cfg, "fuzz.yaml", text, yaml_len, env, err, sizeof err);
    if (!memchr(err, 0, sizeof err)) abort();
    bool ok = true;
    if (rc == 0) {
        ok = !err[0] && cfg.listener_count > 0 && cfg.listener_count <= HMQ_MAX_LISTENERS;
        for (uint32_t i = 0; ok && i < cfg.listener_count; i++)
            ok = cfg.listeners[i].name && cfg.listeners[i].bind;
    } else {
        ok = cfg.listener_count == 0 && err[0] && check_errors(err, sizeof err);
    }
    if (!ok) {
        fprintf(stderr, "rc=%d errors:\n%s\n", rc, err);
        abort();
    }
    hmq_config_free(&cfg);
    free(text);
    return 0;
}
