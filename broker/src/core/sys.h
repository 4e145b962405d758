/* sys.h - the $SYS topics: broker version, uptime, clients, messages and bytes in/out, drops.
 *
 * Worker 0 publishes them as retained messages every `broker.sys_interval` seconds (and once at
 * start), through the normal routing path.
 */
#ifndef HMQ_SYS_H
#define HMQ_SYS_H

#include "core/worker.h"

void hmq_sys_start(hmq_worker_t *w);
void hmq_sys_stop(hmq_worker_t *w);
/* Publish every $SYS topic now. */
void hmq_sys_publish(hmq_worker_t *w);

#endif
