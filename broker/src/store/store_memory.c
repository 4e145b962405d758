/* store_memory.c - the "memory" store (see store.h): state lives only in the core's own
 * session and retained structures, so there is nothing to record. */
#include "store/store.h"

static const hmq_store_ops_t memory_ops = {0};
static hmq_store_t memory_store = {.ops = &memory_ops, .name = "memory"};

hmq_store_t *hmq_store_memory(void)
{
    return &memory_store;
}
