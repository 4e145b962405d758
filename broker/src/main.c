/* main.c - the hookmq executable: command line, configuration, signals, broker life cycle.
 *
 *   hookmq                      serve with the embedded defaults (127.0.0.1:1883)
 *   hookmq --config FILE        serve with FILE (plus HOOKMQ_* environment overrides)
 *   hookmq --check-config [--config FILE]   validate and exit (errors as file:line: message)
 *   hookmq passwd ...           manage a password file (tools/passwd.c)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <urcu/urcu-memb.h>
#include <uv.h>

#include "config/config.h"
#include "core/auth.h"
#include "core/hooks_setup.h"
#include "core/broker.h"
#include "tools/passwd.h"
#include "util/log.h"

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f, "usage: hookmq [--config FILE] [--check-config] [--version]\n"
               "       hookmq passwd [-c] [-b] [-D] FILE USER [PASSWORD]\n");
}

/* The process may hold as many sockets as the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void on_hup(uv_signal_t *s, int signum)
{
    LOG_INFO("reload", "signal=%d", signum);
    hmq_broker_reload_tls(s->data);
    hmq_hooks_reload(s->data);
}

static void on_signal(uv_signal_t *s, int signum)
{
    LOG_INFO("shutdown", "signal=%d", signum);
    uv_stop(s->loop);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "passwd")) return hmq_passwd_main(argc - 1, argv + 1);
    const char *config_path = NULL;
    bool check_only = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config_path = argv[++i];
        else if (!strcmp(argv[i], "--check-config"))
            check_only = true;
        else if (!strcmp(argv[i], "--version")) {
            printf("hookmq %s\n", HOOKMQ_VERSION);
            return 0;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }

    hmq_config_t cfg;
    char err[4096];
    if (hmq_config_load(&cfg, config_path, environ, err, sizeof err) < 0) {
        fprintf(stderr, "%s", err);
        if (err[0] && err[strlen(err) - 1] != '\n') fputc('\n', stderr);
        return 1;
    }
    if (check_only) {
        printf("%s: configuration ok\n", config_path ? config_path : "(embedded defaults)");
        hmq_config_free(&cfg);
        return 0;
    }
    hmq_log_setup(cfg.log_level, cfg.log_format);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    urcu_memb_register_thread();

    /* Signal handlers first: a SIGTERM right after "listening" must still shut down cleanly. */
    uv_loop_t *loop = uv_default_loop();
    uv_signal_t sigint, sigterm;
    uv_signal_init(loop, &sigint);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_start(&sigterm, on_signal, SIGTERM);

    hmq_broker_t broker;
    int rc = hmq_broker_start(&broker, &cfg, loop);
    if (rc < 0) {
        LOG_ERROR("start_failed", "error=\"%s\"", rc <= -1000 ? "see above" : uv_strerror(rc));
        return 1;
    }
    uv_signal_t sighup;
    uv_signal_init(loop, &sighup);
    sighup.data = &broker;
    uv_signal_start(&sighup, on_hup, SIGHUP);
    LOG_INFO("started", "version=%s workers=%u", HOOKMQ_VERSION, broker.nworkers);

    uv_run(loop, UV_RUN_DEFAULT);

    hmq_auth_engine_close(&broker); /* cancels calls in flight; their clients are closed next */
    hmq_broker_stop(&broker);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sighup, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    urcu_memb_barrier(); /* let call_rcu frees run before exit (leak checkers) */
    urcu_memb_unregister_thread();
    hmq_config_free(&cfg);
    LOG_INFO("stopped", NULL);
    return 0;
}
