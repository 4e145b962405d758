/* hist.h - log-linear latency histogram (HdrHistogram layout, fixed range, no allocation).
 *
 * Values are nanoseconds. Each power of two is split into 128 linear sub-buckets, so a recorded
 * value is known to within 1/128 (< 0.8 %); exact up to 255 ns; range up to 2^44 ns (~4.9 h),
 * larger values are clamped. Used by load.c (one histogram per thread, no locks) and merged by
 * main.c after the threads have stopped.
 */
#ifndef HB_HIST_H
#define HB_HIST_H

#include <stdint.h>

#define HB_HIST_SUB_BITS 7
#define HB_HIST_BUCKETS 37
#define HB_HIST_SLOTS ((HB_HIST_BUCKETS + 1) << HB_HIST_SUB_BITS)

typedef struct {
    uint64_t counts[HB_HIST_SLOTS];
    uint64_t total;
    uint64_t min, max;
    double sum;
} hb_hist_t;

void hb_hist_init(hb_hist_t *h);
void hb_hist_record(hb_hist_t *h, uint64_t v);
void hb_hist_merge(hb_hist_t *into, const hb_hist_t *from);
/* Value at quantile q (0..1): the highest value equivalent to the bucket holding the rank, capped
 * by the exact maximum. 0 when empty. */
uint64_t hb_hist_quantile(const hb_hist_t *h, double q);
double hb_hist_mean(const hb_hist_t *h);

#endif
