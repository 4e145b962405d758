/* client_pack.c - packed ClientInfo per connection (see client_pack.h). */
#include "client_pack.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "proto_convert.h"

typedef struct {
    uint64_t uid;
    bool chain;
    uint8_t *bytes;
    size_t len;
} slot_t;

struct hmq_client_pack {
    uv_mutex_t mu;
    size_t n;
    slot_t *slots;
};

hmq_client_pack_t *hmq_client_pack_new(size_t slots)
{
    hmq_client_pack_t *cp = calloc(1, sizeof(*cp));
    if (!cp || !(cp->slots = calloc(slots ? slots : 1, sizeof(slot_t))) ||
        uv_mutex_init(&cp->mu) != 0) {
        if (cp) free(cp->slots);
        free(cp);
        return NULL;
    }
    cp->n = slots ? slots : 1;
    return cp;
}

void hmq_client_pack_free(hmq_client_pack_t *cp)
{
    if (!cp) return;
    for (size_t i = 0; i < cp->n; i++)
        free(cp->slots[i].bytes);
    free(cp->slots);
    uv_mutex_destroy(&cp->mu);
    free(cp);
}

static uint8_t *encode(const hmq_hooks_client_t *c, const char *node, bool want_chain, size_t *len)
{
    hmq_pb_client_t pc;
    hmq_pb_identity_opts_t io = {.tls_chain = want_chain};
    if (hmq_pb_client_init(&pc, c, node, &io) < 0) return NULL;
    *len = hookmq__v1__client_info__get_packed_size(&pc.ci);
    uint8_t *b = malloc(*len ? *len : 1);
    if (b) hookmq__v1__client_info__pack(&pc.ci, b);
    hmq_pb_client_clear(&pc);
    return b;
}

static size_t varint(uint64_t v, uint8_t *out)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/* field tag + length + bytes at the end of *buf */
static int append(uint8_t **buf, size_t *len, uint32_t field, const uint8_t *b, size_t n)
{
    uint8_t head[20];
    size_t h = varint(((uint64_t)field << 3) | 2, head);
    h += varint(n, head + h);
    uint8_t *nb = realloc(*buf, *len + h + n);
    if (!nb) return -1;
    memcpy(nb + *len, head, h);
    if (n) memcpy(nb + *len + h, b, n);
    *buf = nb;
    *len += h + n;
    return 0;
}

int hmq_client_pack_append(hmq_client_pack_t *cp, const hmq_hooks_client_t *c, const char *node,
                           bool want_chain, uint32_t field, uint8_t **buf, size_t *len)
{
    if (!c->uid || !cp) { /* not cacheable: encode for this message */
        size_t n;
        uint8_t *b = encode(c, node, want_chain, &n);
        int rc = b ? append(buf, len, field, b, n) : -1;
        free(b);
        return rc;
    }
    slot_t *s = &cp->slots[c->uid % cp->n];
    uv_mutex_lock(&cp->mu);
    if (s->uid != c->uid || s->chain != want_chain || !s->bytes) {
        size_t n;
        uint8_t *b = encode(c, node, want_chain, &n);
        if (!b) {
            uv_mutex_unlock(&cp->mu);
            return -1;
        }
        free(s->bytes);
        s->bytes = b;
        s->len = n;
        s->uid = c->uid;
        s->chain = want_chain;
    }
    int rc = append(buf, len, field, s->bytes, s->len);
    uv_mutex_unlock(&cp->mu);
    return rc;
}
