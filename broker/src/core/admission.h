/* admission.h - admission control before any expensive work (TLS handshake, CONNECT): token
 * buckets for new connections per listener and per client address.
 *
 * Each worker keeps its own buckets with 1/N of the configured rates (SO_REUSEPORT spreads a
 * client's connections over the workers), so no lock is taken on the accept path. Called by
 * worker.c on accept, and by conn.c once a PROXY header revealed the real client address.
 */
#ifndef HMQ_ADMISSION_H
#define HMQ_ADMISSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/worker.h"

/* May the listener take one more connection now? */
bool hmq_admit_listener(hmq_worker_t *w, uint32_t listener);
/* May this client address open one more connection now? */
bool hmq_admit_address(hmq_worker_t *w, uint32_t listener, const struct sockaddr *addr);
/* Forget addresses whose buckets are full again (worker sweep). */
void hmq_admission_sweep(hmq_worker_t *w, uint64_t now);
void hmq_admission_free(hmq_worker_t *w);

#endif
