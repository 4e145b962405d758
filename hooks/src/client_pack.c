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

#define LOCKS 16 /* slot i is guarded by mu[i % LOCKS]: workers rarely meet on one */

struct hmq_client_pack {
    uv_mutex_t mu[LOCKS];
    size_t n;
    slot_t *slots;
};

hmq_client_pack_t *hmq_client_pack_new(size_t slots)
{
    hmq_client_pack_t *cp = calloc(1, sizeof(*cp));
    if (!cp || !(cp->slots = calloc(slots ? slots : 1, sizeof(slot_t)))) {
        if (cp) free(cp->slots);
        free(cp);
        return NULL;
    }
    for (size_t i = 0; i < LOCKS; i++)
        uv_mutex_init(&cp->mu[i]);
    cp->n = slots ? slots : 1;
    return cp;
}

void hmq_client_pack_free(hmq_client_pack_t *cp)
{
    if (!cp) return;
    for (size_t i = 0; i < cp->n; i++)
        free(cp->slots[i].bytes);
    free(cp->slots);
    for (size_t i = 0; i < LOCKS; i++)
        uv_mutex_destroy(&cp->mu[i]);
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

/* One allocation: the packed message m, then field `field` holding b[0..n). */
static uint8_t *build(size_t plen, uint32_t field, const uint8_t *b, size_t n, size_t *len)
{
    uint8_t head[20];
    size_t h = varint(((uint64_t)field << 3) | 2, head);
    h += varint(n, head + h);
    uint8_t *out = malloc(plen + h + n + 1);
    if (!out) return NULL;
    memcpy(out + plen, head, h);
    if (n) memcpy(out + plen + h, b, n);
    *len = plen + h + n;
    return out;
}

uint8_t *hmq_client_pack_message(hmq_client_pack_t *cp, const ProtobufCMessage *m,
                                 const hmq_hooks_client_t *c, const char *node, bool want_chain,
                                 uint32_t field, size_t *len)
{
    size_t plen = protobuf_c_message_get_packed_size(m);
    uint8_t *out = NULL;
    if (!c->uid || !cp) { /* not cacheable: encode for this message */
        size_t n;
        uint8_t *b = encode(c, node, want_chain, &n);
        if (b) out = build(plen, field, b, n, len);
        free(b);
    } else {
        size_t i = c->uid % cp->n;
        slot_t *s = &cp->slots[i];
        uv_mutex_t *mu = &cp->mu[i % LOCKS];
        uv_mutex_lock(mu);
        if (s->uid != c->uid || s->chain != want_chain || !s->bytes) {
            size_t n;
            uint8_t *b = encode(c, node, want_chain, &n);
            if (b) {
                free(s->bytes);
                s->bytes = b;
                s->len = n;
                s->uid = c->uid;
                s->chain = want_chain;
            }
        }
        if (s->uid == c->uid && s->chain == want_chain && s->bytes)
            out = build(plen, field, s->bytes, s->len, len);
        uv_mutex_unlock(mu);
    }
    if (out) protobuf_c_message_pack(m, out); /* the message's own fields, in front */
    return out;
}
