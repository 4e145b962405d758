/* hooks_setup.h - the hook engine as the configuration describes it: hook servers (hooks.servers,
 * or the one-server short form), the built-in providers (hooks.password_file, hooks.acl_file),
 * the chain, its resolution, defaults and cache.
 *
 * Called by hmq_auth_engine_start() (auth.c) once, at start-up, on the home loop.
 */
#ifndef HMQ_HOOKS_SETUP_H
#define HMQ_HOOKS_SETUP_H

#include <uv.h>

#include "core/broker.h"

/* Build b->hooks from b->cfg, add the built-in providers, start it (connections and handshakes
 * go on in the background) and log hooks_started. Nothing configured: returns 0 with b->hooks
 * NULL. Errors: a negative HMQ_HOOKS_* code (logged as hooks_start_failed). */
int hmq_hooks_setup(hmq_broker_t *b, uv_loop_t *home);

/* SIGHUP: re-read the password and ACL files (a bad file keeps the old table; logged). Their
 * cached answers are forgotten. */
void hmq_hooks_reload(hmq_broker_t *b);

#endif
