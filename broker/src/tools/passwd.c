/* passwd.c - `hookmq passwd`: add, change or delete a user of a password file, modelled on
 * mosquitto_passwd (same "user:$7$..." lines, so files work with both).
 *
 *   hookmq passwd [-c] [-H pbkdf2|scrypt] [-I cost] FILE USER    password from the terminal
 *                                        (asked twice, no echo) or one line of stdin
 *   hookmq passwd [-c] -b [-H ...] [-I ...] FILE USER PASSWORD   password on the command line
 *   hookmq passwd -D FILE USER                                    delete USER
 *
 * -c creates (or overwrites) FILE. Other lines of an existing file are kept as they are. The
 * file is replaced atomically (temporary file in the same directory, fsync, rename) with mode
 * 0600. Called from main(); hashing is hooks/src/passwd_hash.c (hookmq/providers.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "hookmq/providers.h"
#include "tools/passwd.h"

#define PW_MAX 65535 /* MQTT binary data */

typedef struct {
    char **line; /* without newline */
    size_t n, cap;
} lines_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: hookmq passwd [-c] [-H pbkdf2|scrypt] [-I cost] FILE USER\n"
            "       hookmq passwd [-c] -b [-H pbkdf2|scrypt] [-I cost] FILE USER PASSWORD\n"
            "       hookmq passwd -D FILE USER\n"
            "  -c  create or overwrite FILE          -b  password on the command line\n"
            "  -D  delete USER                       -H  hash: pbkdf2 (default, $7$) or "
            "scrypt\n"
            "  -I  PBKDF2 iterations (default %d) or scrypt N (default %d)\n",
            HMQ_PASSWD_PBKDF2_DEFAULT_ITERATIONS, HMQ_PASSWD_SCRYPT_DEFAULT_N);
}

static void lines_free(lines_t *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        OPENSSL_cleanse(ls->line[i], strlen(ls->line[i]));
        free(ls->line[i]);
    }
    free(ls->line);
}

static int lines_add(lines_t *ls, char *s)
{
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 16;
        char **l = realloc(ls->line, cap * sizeof(*l));
        if (!l) return -1;
        ls->line = l;
        ls->cap = cap;
    }
    ls->line[ls->n++] = s;
    return 0;
}

static int read_file(const char *path, lines_t *ls)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "hookmq passwd: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&buf, &cap, f)) >= 0) {
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = '\0';
        char *s = strdup(buf);
        if (!s || lines_add(ls, s) < 0) {
            free(s);
            rc = -1;
        }
    }
    free(buf);
    if (ferror(f)) rc = -1;
    fclose(f);
    if (rc < 0) fprintf(stderr, "hookmq passwd: %s: cannot read\n", path);
    return rc;
}

/* Writes the lines to a temporary file next to path, then renames it over path. */
static int write_file(const char *path, const lines_t *ls)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) return -1;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "hookmq passwd: %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    int ok = f && fchmod(fd, 0600) == 0;
    for (size_t i = 0; ok && i < ls->n; i++)
        ok = fprintf(f, "%s\n", ls->line[i]) >= 0;
    ok = ok && fflush(f) == 0 && fsync(fd) == 0;
    if (f ? fclose(f) != 0 : close(fd) != 0) ok = 0;
    if (ok && rename(tmp, path) == 0) return 0;
    fprintf(stderr, "hookmq passwd: %s: %s\n", path, strerror(errno));
    unlink(tmp);
    return -1;
}

/* One line from fd (newline removed); terminal echo off when it is a tty. NULL at EOF. */
static char *read_line(FILE *in, const char *prompt, int tty)
{
    struct termios old, noecho;
    if (tty) { /* echo off before the prompt: what is typed after it is never shown */
        tcgetattr(fileno(in), &old);
        noecho = old;
        noecho.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fileno(in), TCSAFLUSH, &noecho);
        fprintf(stderr, "%s", prompt);
        fflush(stderr);
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = getline(&buf, &cap, in);
    if (tty) {
        tcsetattr(fileno(in), TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    if (n < 0) {
        free(buf);
        return NULL;
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return buf;
}

static void secret_free(char *s)
{
    if (!s) return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

/* The password: twice from a terminal, or one line of stdin. NULL on error (reported). */
static char *ask_password(void)
{
    int tty = isatty(STDIN_FILENO);
    char *a = read_line(stdin, "Password: ", tty), *b = NULL;
    if (!a) {
        fprintf(stderr, "hookmq passwd: no password given\n");
        return NULL;
    }
    if (tty) {
        b = read_line(stdin, "Reenter password: ", tty);
        if (!b || strcmp(a, b) != 0) {
            fprintf(stderr, "hookmq passwd: passwords do not match\n");
            secret_free(a);
            secret_free(b);
            return NULL;
        }
        secret_free(b);
    }
    if (!*a) {
        fprintf(stderr, "hookmq passwd: empty password\n");
        secret_free(a);
        return NULL;
    }
    return a;
}

/* USER's line (its slot in ls), or NULL. */
static char **find_user(const lines_t *ls, const char *user)
{
    size_t ul = strlen(user);
    for (size_t i = 0; i < ls->n; i++)
        if (!strncmp(ls->line[i], user, ul) && ls->line[i][ul] == ':') return &ls->line[i];
    return NULL;
}

static int set_user(lines_t *ls, const char *user, const char *method, uint32_t cost,
                    const char *pw)
{
    char hash[HMQ_PASSWD_HASH_MAX];
    size_t len = strlen(pw);
    if (len > PW_MAX) {
        fprintf(stderr, "hookmq passwd: password too long\n");
        return -1;
    }
    if (hmq_passwd_hash(method, cost, (const uint8_t *)pw, len, hash) < 0) {
        fprintf(stderr, "hookmq passwd: cannot hash with -H %s -I %u\n", method, cost);
        return -1;
    }
    size_t n = strlen(user) + 1 + strlen(hash) + 1;
    char *line = malloc(n);
    if (!line) return -1;
    snprintf(line, n, "%s:%s", user, hash);
    char **slot = find_user(ls, user);
    if (slot) {
        secret_free(*slot);
        *slot = line;
        return 0;
    }
    if (lines_add(ls, line) < 0) {
        free(line);
        return -1;
    }
    return 0;
}

static int valid_user(const char *user)
{
    if (!*user || strlen(user) > 65535) return 0;
    for (const char *c = user; *c; c++)
        if (*c == ':' || (unsigned char)*c < 0x20 || *c == 0x7f) return 0;
    return 1;
}

int hmq_passwd_main(int argc, char **argv)
{
    int create = 0, batch = 0, del = 0, i = 1;
    const char *method = "pbkdf2";
    unsigned long cost = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-c"))
            create = 1;
        else if (!strcmp(o, "-b"))
            batch = 1;
        else if (!strcmp(o, "-D"))
            del = 1;
        else if (!strcmp(o, "-H") && i + 1 < argc)
            method = argv[++i];
        else if (!strcmp(o, "-I") && i + 1 < argc) {
            char *end;
            cost = strtoul(argv[++i], &end, 10);
            if (*end || !cost) {
                usage(stderr);
                return 2;
            }
        } else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    int rest = argc - i;
    if ((del && (create || batch || rest != 2)) || (!del && rest != 2 + batch) ||
        cost > UINT32_MAX) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[i], *user = argv[i + 1];
    if (!valid_user(user)) {
        fprintf(stderr, "hookmq passwd: bad user name (empty, or contains ':' or a control "
                        "character)\n");
        return 1;
    }
    lines_t ls = {0};
    if (!create && read_file(path, &ls) < 0) {
        lines_free(&ls);
        return 1;
    }
    int rc = 0;
    if (del) {
        char **slot = find_user(&ls, user);
        if (!slot) {
            fprintf(stderr, "hookmq passwd: user %s not found in %s\n", user, path);
            rc = -1;
        } else {
            size_t at = (size_t)(slot - ls.line);
            secret_free(*slot);
            memmove(slot, slot + 1, (ls.n - at - 1) * sizeof(char *));
            ls.n--;
        }
    } else {
        char *pw = batch ? argv[i + 2] : ask_password();
        rc = pw ? set_user(&ls, user, method, (uint32_t)cost, pw) : -1;
        if (!batch) secret_free(pw);
    }
    if (rc == 0) rc = write_file(path, &ls);
    lines_free(&ls);
    return rc == 0 ? 0 : 1;
}
