/* fuzz_net_proxy.c - libFuzzer target for the PROXY protocol parser (broker/src/net/proxy.c).
 *
 * The first input byte picks the v2 cap; the rest is the header stream. Checks: no crash, no
 * out-of-bounds read (ASan), the result never exceeds the input, a complete header parses to
 * the same length from exactly its own bytes, every strict prefix of it asks for more, every
 * slice lies inside the header, strings hold no NUL, the TLV walk tiles the TLV area exactly,
 * and a present CRC32C really matches.
 *
 * Seeds: tests/fuzz/corpus/net_proxy/. Run: build-fuzz-net/fuzz_net_proxy
 * tests/fuzz/corpus/net_proxy
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/proxy.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_slice(hmq_proxy_slice_t s, const uint8_t *hdr, size_t len, bool string)
{
    if (s.len == 0) return;
    CHECK(s.p >= hdr && s.p + s.len <= hdr + len);
    if (string) CHECK(memchr(s.p, 0, s.len) == NULL);
}

static void check_info(const hmq_proxy_info_t *info, const uint8_t *hdr, size_t len)
{
    CHECK(info->header_len == len);
    CHECK(info->version == 1 || info->version == 2);
    CHECK(info->command <= HMQ_PROXY_CMD_PROXY && info->family <= HMQ_PROXY_FAMILY_UNIX);
    CHECK((info->family == HMQ_PROXY_FAMILY_UNSPEC) == (info->src.ss_family == AF_UNSPEC));
    CHECK(info->src.ss_family == info->dst.ss_family);
    if (info->version == 1) {
        CHECK(len <= HMQ_PROXY_V1_MAX && hdr[len - 2] == '\r' && hdr[len - 1] == '\n');
        CHECK(info->tlvs.len == 0 && !info->ssl.present && !info->has_crc32c);
        return;
    }
    check_slice(info->alpn, hdr, len, false);
    check_slice(info->authority, hdr, len, true);
    check_slice(info->unique_id, hdr, len, false);
    CHECK(info->unique_id.len <= 128);
    check_slice(info->netns, hdr, len, true);
    check_slice(info->ssl.version, hdr, len, true);
    check_slice(info->ssl.cn, hdr, len, true);
    check_slice(info->ssl.cipher, hdr, len, true);
    check_slice(info->ssl.sig_alg, hdr, len, true);
    check_slice(info->ssl.key_alg, hdr, len, true);
    if (info->tlvs.p) CHECK(info->tlvs.p >= hdr + 16 && info->tlvs.p + info->tlvs.len == hdr + len);
    size_t pos = 0, crcs = 0;
    uint8_t type;
    hmq_proxy_slice_t v;
    while (hmq_proxy_tlv_next(info, &pos, &type, &v)) {
        check_slice(v, hdr, len, false);
        if (type == HMQ_PP2_TYPE_CRC32C) {
            crcs++;
            /* recompute independently: copy, zero the field, checksum */
            uint8_t *copy = malloc(len);
            memcpy(copy, hdr, len);
            memset(copy + (v.p - hdr), 0, 4);
            CHECK(hmq_crc32c(0, copy, len) == info->crc32c);
            free(copy);
        }
    }
    CHECK(pos == info->tlvs.len);
    CHECK(crcs == (info->has_crc32c ? 1u : 0u));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const size_t caps[] = {HMQ_PROXY_DEFAULT_MAX, 107, 256, HMQ_PROXY_V2_MAX};
    size_t cap = caps[data[0] % 4];
    data++;
    size--;
    hmq_proxy_info_t info;
    int rc = hmq_proxy_parse_ex(data, size, cap, &info);
    CHECK(rc <= (int)size);
    if (rc < 0) CHECK(rc >= HMQ_PROXY_E_CRC && info.version == 0);
    if (rc <= 0) return 0;
    CHECK((size_t)rc <= cap || (size_t)rc <= HMQ_PROXY_V1_MAX);

    /* exactly the header, in a fresh allocation so ASan sees any read past it */
    uint8_t *hdr = malloc((size_t)rc);
    memcpy(hdr, data, (size_t)rc);
    hmq_proxy_info_t again;
    CHECK(hmq_proxy_parse_ex(hdr, (size_t)rc, cap, &again) == rc);
    check_info(&again, hdr, (size_t)rc);
    for (size_t i = 0; i < (size_t)rc; i += 1 + i / 8)
        CHECK(hmq_proxy_parse_ex(hdr, i, cap, &again) == 0);
    free(hdr);
    return 0;
}
