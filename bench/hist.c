/* hist.c - log-linear latency histogram; see hist.h. Called by load.c (record) and main.c. */
#include "hist.h"

#include <math.h>
#include <string.h>

#define HALF (1u << HB_HIST_SUB_BITS)

static unsigned slot_of(uint64_t v)
{
    /* Bucket b holds [128 << b, 256 << b) with 128 sub-buckets of width 1 << b; bucket 0 also
     * holds 0..127 exactly. Slot = b * 128 + (v >> b). */
    unsigned b = (unsigned)(63 - __builtin_clzll(v | (2 * HALF - 1))) - HB_HIST_SUB_BITS;
    if (b >= HB_HIST_BUCKETS) return HB_HIST_SLOTS - 1;
    return b * HALF + (unsigned)(v >> b);
}

static uint64_t slot_highest(unsigned slot)
{
    if (slot < 2 * HALF) return slot;
    unsigned b = slot / HALF - 1;
    uint64_t sub = slot - (uint64_t)b * HALF;
    return ((sub + 1) << b) - 1;
}

void hb_hist_init(hb_hist_t *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

void hb_hist_record(hb_hist_t *h, uint64_t v)
{
    h->counts[slot_of(v)]++;
    h->total++;
    h->sum += (double)v;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
}

void hb_hist_merge(hb_hist_t *into, const hb_hist_t *from)
{
    for (unsigned i = 0; i < HB_HIST_SLOTS; i++)
        into->counts[i] += from->counts[i];
    into->total += from->total;
    into->sum += from->sum;
    if (from->min < into->min) into->min = from->min;
    if (from->max > into->max) into->max = from->max;
}

uint64_t hb_hist_quantile(const hb_hist_t *h, double q)
{
    if (h->total == 0) return 0;
    if (q >= 1.0) return h->max;
    uint64_t rank = (uint64_t)ceil(q * (double)h->total);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HB_HIST_SLOTS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = slot_highest(i);
            if (v > h->max) v = h->max;
            if (v < h->min) v = h->min;
            return v;
        }
    }
    return h->max;
}

double hb_hist_mean(const hb_hist_t *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}
