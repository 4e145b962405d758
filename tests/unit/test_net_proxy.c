/* test_net_proxy.c - PROXY protocol v1/v2 parser (broker/src/net/proxy.c).
 *
 * Byte-exact vectors: the v1 lines of haproxy's proxy-protocol.txt (example line, the longest
 * TCP4/TCP6/UNKNOWN lines of section 2.1) and v2 headers laid out byte by byte from section 2.2
 * (CRC32C values computed independently, RFC 3720 B.4 check values for the CRC itself). Every
 * valid vector is also fed one byte at a time: every strict prefix must ask for more (0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cmocka.h>

#include "net/proxy.h"

static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = 0;
    for (; s[0] && s[1]; s += 2) {
        unsigned v;
        sscanf(s, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* Every strict prefix needs more; the whole buffer (plus trailing bytes) parses to len. */
static void assert_prefixes_need_more(const uint8_t *buf, size_t len)
{
    hmq_proxy_info_t info;
    for (size_t i = 0; i < len; i++)
        assert_int_equal(hmq_proxy_parse_ex(buf, i, 70000, &info), 0);
    uint8_t *more = malloc(len + 5);
    memcpy(more, buf, len);
    memcpy(more + len, "\x10\x0c\x00\x04M", 5); /* an MQTT CONNECT follows */
    assert_int_equal(hmq_proxy_parse_ex(more, len + 5, 70000, &info), (int)len);
    free(more);
}

static void assert_v4(const struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    char text[INET_ADDRSTRLEN];
    assert_int_equal(sin->sin_family, AF_INET);
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    assert_string_equal(text, ip);
    assert_int_equal(ntohs(sin->sin_port), port);
}

static void assert_v6(const struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    char text[INET6_ADDRSTRLEN];
    assert_int_equal(sin6->sin6_family, AF_INET6);
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
    assert_string_equal(text, ip);
    assert_int_equal(ntohs(sin6->sin6_port), port);
}

static void assert_slice(hmq_proxy_slice_t s, const char *text)
{
    assert_int_equal(s.len, strlen(text));
    assert_memory_equal(s.p, text, s.len);
}

static int parse_str(const char *s, hmq_proxy_info_t *info)
{
    return hmq_proxy_parse((const uint8_t *)s, strlen(s), info);
}

/* ---- CRC32C ---- */

static void test_crc32c_vectors(void **state)
{
    (void)state;
    uint8_t buf[32];
    assert_int_equal(hmq_crc32c(0, "123456789", 9), 0xE3069283u);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(hmq_crc32c(0, buf, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(hmq_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(hmq_crc32c(0, buf, 32), 0x46DD794Eu);
    /* streaming equals one shot */
    assert_int_equal(hmq_crc32c(hmq_crc32c(0, buf, 7), buf + 7, 25), 0x46DD794Eu);
}

/* ---- v1 ---- */

static void test_v1_spec_example(void **state)
{
    (void)state;
    const char *line = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
    char wire[128];
    snprintf(wire, sizeof(wire), "%sGET / HTTP/1.1\r\n", line);
    hmq_proxy_info_t info;
    assert_int_equal(parse_str(wire, &info), 47);
    assert_int_equal(strlen(line), 47);
    assert_int_equal(info.version, 1);
    assert_int_equal(info.command, HMQ_PROXY_CMD_PROXY);
    assert_int_equal(info.family, HMQ_PROXY_FAMILY_TCP4);
    assert_int_equal(info.header_len, 47);
    assert_v4(&info.src, "192.168.0.1", 56324);
    assert_v4(&info.dst, "192.168.0.11", 443);
    assert_null(info.tlvs.p);
    assert_false(info.ssl.present);
    assert_prefixes_need_more((const uint8_t *)line, 47);
}

static void test_v1_longest_lines(void **state)
{
    (void)state;
    hmq_proxy_info_t info;
    const char *v4 = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
    assert_int_equal(parse_str(v4, &info), 56); /* "=> 56 chars" */
    assert_v4(&info.src, "255.255.255.255", 65535);

    const char *v6 = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_int_equal(parse_str(v6, &info), 104); /* "=> 104 chars" */
    assert_int_equal(info.family, HMQ_PROXY_FAMILY_TCP6);
    assert_v6(&info.src, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
    assert_prefixes_need_more((const uint8_t *)v6, 104);

    assert_int_equal(parse_str("PROXY UNKNOWN\r\n", &info), 15); /* "=> 15 chars" */
    assert_int_equal(info.family, HMQ_PROXY_FAMILY_UNSPEC);
    assert_int_equal(info.src.ss_family, AF_UNSPEC);

    const char *worst = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_int_equal(parse_str(worst, &info), 107); /* "=> 107 chars" */
    assert_int_equal(info.family, HMQ_PROXY_FAMILY_UNSPEC);
    assert_prefixes_need_more((const uint8_t *)worst, 107);

    /* one more character: no CRLF within 107 bytes */
    const char *too_long = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                           "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655350\r\n";
    assert_int_equal(parse_str(too_long, &info), HMQ_PROXY_E_MALFORMED);
}

static void test_v1_ipv6_forms(void **state)
{
    (void)state;
    hmq_proxy_info_t info;
    assert_int_equal(parse_str("PROXY TCP6 2001:db8::1 ::1 1 0\r\n", &info), 32);
    assert_v6(&info.src, "2001:db8::1", 1);
    assert_v6(&info.dst, "::1", 0);
    /* IPv4-mapped (what inet_ntop prints, so what haproxy sends) */
    assert_true(parse_str("PROXY TCP6 ::ffff:10.0.0.1 ::ffff:10.0.0.2 5 6\r\n", &info) > 0);
    assert_v6(&info.src, "::ffff:10.0.0.1", 5);
}

static void test_v1_malformed(void **state)
{
    (void)state;
    static const char *bad[] = {
        "PROXY TCP4 192.168.0.01 192.168.0.11 56324 443\r\n", /* leading zero */
        "PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n", /* leading zero port */
        "PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n",  /* port range */
        "PROXY TCP4 256.168.0.1 192.168.0.11 1 2\r\n",        /* octet range */
        "PROXY TCP4 192.168.0 192.168.0.11 1 2\r\n",          /* 3 octets */
        "PROXY TCP4 1.2.3.4.5 192.168.0.11 1 2\r\n",          /* 5 octets */
        "PROXY TCP4 1..3.4 192.168.0.11 1 2\r\n",             /* empty octet */
        "PROXY TCP4  192.168.0.1 192.168.0.11 1 2\r\n",       /* two spaces */
        "PROXY TCP4 192.168.0.1 192.168.0.11 1 2 \r\n",       /* trailing space */
        "PROXY TCP4 192.168.0.1 192.168.0.11 1 2 3\r\n",      /* extra field */
        "PROXY TCP4 192.168.0.1 192.168.0.11 1\r\n",          /* missing port */
        "PROXY TCP4 192.168.0.1 192.168.0.11 1 2\n",          /* LF alone */
        "PROXY TCP4 192.168.0.1 192.168.0.11 1 2\rX",         /* CR alone */
        "PROXY TCP4 ::1 ::1 1 2\r\n",                         /* v6 in TCP4 */
        "PROXY TCP6 1.2.3.4 1.2.3.4 1 2\r\n",                 /* v4 in TCP6 */
        "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",                /* zone id */
        "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n",           /* 144 bits */
        "PROXY tcp4 1.2.3.4 1.2.3.4 1 2\r\n",                 /* case */
        "PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n",
        "PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n",
        "PROXY  TCP4 1.2.3.4 1.2.3.4 1 2\r\n",
        "PROXY UNKNOWNX\r\n",
        "PROXY UNKNOWN\n",
        "PROXY UNKNOWN garbage\n\r\n",
        "PROXY\r\n",
        "PROXYTCP4 1.2.3.4 1.2.3.4 1 2\r\n",
        "PROXY TCP4 1.2.3.4 1.2.3.4 +1 2\r\n",
        "PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n",
    };
    hmq_proxy_info_t info;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse_str(bad[i], &info);
        if (rc != HMQ_PROXY_E_MALFORMED) fail_msg("accepted or wrong error %d: %s", rc, bad[i]);
        assert_int_equal(info.version, 0); /* zeroed on failure */
    }
}

/* Invalid bytes are rejected at once, without waiting for the CRLF. */
static void test_v1_early_reject(void **state)
{
    (void)state;
    hmq_proxy_info_t info;
    assert_int_equal(parse_str("PROXY TCP4 1.2.3.4X", &info), HMQ_PROXY_E_MALFORMED);
    assert_int_equal(parse_str("PROXY TCPX", &info), HMQ_PROXY_E_MALFORMED);
    assert_int_equal(parse_str("PROXY TCP4 1.2.3.4 1.2.3.4 0", &info), 0);
    assert_int_equal(parse_str("PROXY TCP4 1.2.3.4 1.2.3.4 123456", &info), HMQ_PROXY_E_MALFORMED);
    assert_int_equal(parse_str("PROXY TCP4 1234567890123456", &info), HMQ_PROXY_E_MALFORMED);
    assert_int_equal(parse_str("PROXY UNK", &info), 0);
    assert_int_equal(parse_str("PROXY UNKX", &info), HMQ_PROXY_E_MALFORMED);
    assert_int_equal(parse_str("PRO", &info), 0);
    assert_int_equal(parse_str("PROX!", &info), HMQ_PROXY_E_NOT_PROXY);
    /* UNKNOWN without CRLF: waits up to 107 bytes, then fails */
    char line[200] = "PROXY UNKNOWN ";
    memset(line + 14, 'a', 93);
    line[107] = 0;
    assert_int_equal(hmq_proxy_parse((uint8_t *)line, 106, &info), 0);
    assert_int_equal(hmq_proxy_parse((uint8_t *)line, 107, &info), HMQ_PROXY_E_MALFORMED);
}

/* ---- v2 ---- */

#define SIG "0d0a0d0a000d0a515549540a"

static void test_v2_tcp4(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = unhex(SIG "2111000c"
                         "c0a80001"
                         "c0a8000b"
                         "dc04"
                         "01bb",
                     buf);
    assert_int_equal(n, 28);
    hmq_proxy_info_t info;
    assert_int_equal(hmq_proxy_parse(buf, n, &info), 28);
    assert_int_equal(info.version, 2);
    assert_int_equal(info.command, HMQ_PROXY_CMD_PROXY);
    assert_int_equal(info.family, HMQ_PROXY_FAMILY_TCP4);
    assert_v4(&info.src, "192.168.0.1", 56324);
    assert_v4(&info.dst, "192.168.0.11", 443);
    assert_false(info.has_crc32c);
    assert_int_equal(info.tlvs.len, 0);
    assert_prefixes_need_more(buf, n);
}

static void test_v2_tcp4_crc(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = unhex(SIG "21110013c0a80001c0a8000bdc0401bb"
                         "030004"
                         "1c1ae9c6",
                     buf);
    hmq_proxy_info_t info;
    assert_int_equal(hmq_proxy_parse(buf, n, &info), 35);
    assert_true(info.has_crc32c);
    assert_int_equal(info.crc32c, 0x1c1ae9c6u);
    buf[20] ^= 0x01; /* flip a bit in the destination address */
    assert_int_equal(hmq_proxy_parse(buf, n, &info), HMQ_PROXY_E_CRC);
    assert_int_equal(info.family, 0);
}

/* TCP6 with every registered TLV, a NOOP, an AWS-style custom TLV and a CRC32C. */
/* clang-format off */
static const char *full6 =
    SIG "212100bc"
    "20010db8000000000000000000000001" "20010db8000000000000000000000002" "c822" "22b3"
    "010004" "6d717474"                                     /* ALPN mqtt */
    "02000f" "696f742e6578616d706c652e636f6d"               /* AUTHORITY iot.example.com */
    "050008" "0102030405060708"                             /* UNIQUE_ID */
    "200050" "07" "00000000"                                /* SSL: client 7, verify 0 */
    "210007" "544c5376312e33"                               /*   VERSION TLSv1.3 */
    "220009" "6465766963652d3432"                           /*   CN device-42 */
    "230016" "544c535f4145535f3132385f47434d5f534841323536" /*   CIPHER */
    "240011" "65636473612d776974682d534841323536"           /*   SIG_ALG */
    "250005" "4543323536"                                   /*   KEY_ALG EC256 */
    "300004" "626c7565"                                     /* NETNS blue */
    "040003" "000000"                                       /* NOOP */
    "ea000a" "01767063652d30313233"                         /* custom 0xEA */
    "030004" "7dee2205";                                    /* CRC32C */
/* clang-format on */

static void test_v2_tcp6_all_tlvs(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = unhex(full6, buf);
    assert_int_equal(n, 204);
    hmq_proxy_info_t info;
    assert_int_equal(hmq_proxy_parse(buf, n, &info), 204);
    assert_int_equal(info.family, HMQ_PROXY_FAMILY_TCP6);
    assert_v6(&info.src, "2001:db8::1", 51234);
    assert_v6(&info.dst, "2001:db8::2", 8883);
    assert_slice(info.alpn, "mqtt");
    assert_slice(info.authority, "iot.example.com");
    assert_int_equal(info.unique_id.len, 8);
    assert_memory_equal(info.unique_id.p, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_slice(info.netns, "blue");
    assert_true(info.has_crc32c);
    assert_int_equal(info.crc32c, 0x7dee2205u);
    assert_true(info.ssl.present);
    assert_int_equal(info.ssl.client,
                     HMQ_PP2_CLIENT_SSL | HMQ_PP2_CLIENT_CERT_CONN | HMQ_PP2_CLIENT_CERT_SESS);
    assert_int_equal(info.ssl.verify, 0);
    assert_slice(info.ssl.version, "TLSv1.3");
    assert_slice(info.ssl.cn, "device-42");
    assert_slice(info.ssl.cipher, "TLS_AES_128_GCM_SHA256");
    assert_slice(info.ssl.sig_alg, "ecdsa-with-SHA256");
    assert_slice(info.ssl.key_alg, "EC256");
    assert_true(hmq_proxy_client_verified(&info));
    /* slices point into the caller's buffer */
    assert_true(info.ssl.cn.p > buf && info.ssl.cn.p < buf + n);

    /* the TLV walk sees every TLV including NOOP and the custom one, in order */
    static const uint8_t types[] = {0x01, 0x02, 0x05, 0x20, 0x30, 0x04, 0xEA, 0x03};
    size_t pos = 0, i = 0;
    uint8_t type;
    hmq_proxy_slice_t v;
    while (hmq_proxy_tlv_next(&info, &pos, &type, &v)) {
        assert_true(i < sizeof(types));
        assert_int_equal(type, types[i++]);
        if (type == 0xEA) assert_memory_equal(v.p, "\x01vpce-0123", 10);
    }
    assert_int_equal(i, sizeof(types));
    assert_prefixes_need_more(buf, n);
}

static void test_v2_bad_crc(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = unhex(full6, buf);
    hmq_proxy_info_t info;
    buf[n - 1] ^= 0x01; /* the checksum itself */
    assert_int_equal(hmq_proxy_parse(buf, n, &info), HMQ_PROXY_E_CRC);
    buf[n - 1] ^= 0x01;
    buf[62] ^= 0x20; /* a byte of the authority TLV ("iot" -> "Iot") */
    assert_int_equal(hmq_proxy_parse(buf, n, &info), HMQ_PROXY_E_CRC);
    assert_false(info.ssl.present);
}

static void test_v2_local_and_fallbacks(void **state)
{
    (void)state;
    uint8_t buf[300];
    hmq_proxy_info_t info;
    /* LOCAL (health check) with no address */
    size_t n = unhex(SIG "20000000", buf);
    assert_int_equal(hmq_proxy_parse(buf, n, &info), 16);
    assert_int_equal(info.command, HMQ_PROXY_CMD_LOCAL);
    assert_int_equal(info.family, HMQ_PROXY_FAMILY_UNSPEC);
    /* LOCAL with an IPv4 block: the addresses are ignored, the length is honoured */
    n = unhex(SIG "2011000c"
                  "c0a80001c0a8000bdc0401bb",
              buf);
    assert_int_equal(hmq_proxy_parse(buf, n, &info), 28);
    assert_int_equal(info.family, HMQ_PROXY_FAMILY_UNSPEC);
    assert_int_equal(info.src.ss_family, AF_UNSPEC);
    /* UDP over IPv4: falls back to UNSPEC */
    n = unhex(SIG "2112000c"
                  "c0a80001c0a8000bdc0401bb",
              buf);
    assert_int_equal(hmq_proxy_parse(buf, n, &info), 28);
    assert_int_equal(info.family, HMQ_PROXY_FAMILY_UNSPEC);
    /* PROXY + UNSPEC with a TLV */
    n = unhex(SIG "21000007"
                  "0200046d717474",
              buf);
    assert_int_equal(hmq_proxy_parse(buf, n, &info), 23);
    assert_int_equal(info.family, HMQ_PROXY_FAMILY_UNSPEC);
    assert_slice(info.authority, "mqtt");
}

static void test_v2_unix(void **state)
{
    (void)state;
    uint8_t buf[16 + 216];
    memcpy(buf, "\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a\x21\x31\x00\xd8", 16);
    memset(buf + 16, 0, 216);
    memcpy(buf + 16, "/run/lb.sock", 12);
    memcpy(buf + 16 + 108, "/run/hookmq.sock", 16);
    hmq_proxy_info_t info;
    assert_int_equal(hmq_proxy_parse(buf, sizeof(buf), &info), 232);
    assert_int_equal(info.family, HMQ_PROXY_FAMILY_UNIX);
    const struct sockaddr_un *s = (const struct sockaddr_un *)&info.src;
    const struct sockaddr_un *d = (const struct sockaddr_un *)&info.dst;
    assert_int_equal(s->sun_family, AF_UNIX);
    assert_string_equal(s->sun_path, "/run/lb.sock");
    assert_string_equal(d->sun_path, "/run/hookmq.sock");
}

static void test_v2_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        int rc;
    } cases[] = {
        {SIG "1111000cc0a80001c0a8000bdc0401bb", HMQ_PROXY_E_MALFORMED},     /* version 1 */
        {SIG "3111000cc0a80001c0a8000bdc0401bb", HMQ_PROXY_E_MALFORMED},     /* version 3 */
        {SIG "2211000cc0a80001c0a8000bdc0401bb", HMQ_PROXY_E_MALFORMED},     /* command 2 */
        {SIG "2113000cc0a80001c0a8000bdc0401bb", HMQ_PROXY_E_MALFORMED},     /* protocol 3 */
        {SIG "2141000cc0a80001c0a8000bdc0401bb", HMQ_PROXY_E_MALFORMED},     /* family 4 */
        {SIG "2101000cc0a80001c0a8000bdc0401bb", HMQ_PROXY_E_MALFORMED},     /* UNSPEC/STREAM */
        {SIG "2111000bc0a80001c0a8000bdc0401", HMQ_PROXY_E_MALFORMED},       /* short addresses */
        {SIG "21210010c0a80001c0a8000bdc0401bb0000", HMQ_PROXY_E_MALFORMED}, /* v6 in 16 */
        {SIG "2111000ec0a80001c0a8000bdc0401bb0100", HMQ_PROXY_E_MALFORMED}, /* 2 bytes TLV */
        {SIG "21110010c0a80001c0a8000bdc0401bb01000561", HMQ_PROXY_E_MALFORMED}, /* overflow */
        {SIG "21000007"
             "02000161"
             "020001",
         HMQ_PROXY_E_MALFORMED}, /* cut TLV */
        {SIG "21000008"
             "0200016102000162",
         HMQ_PROXY_E_MALFORMED}, /* dup authority */
        {SIG "21000004"
             "02000100",
         HMQ_PROXY_E_MALFORMED}, /* NUL in string */
        {SIG "21000006"
             "030003000000",
         HMQ_PROXY_E_MALFORMED}, /* CRC len 3 */
        {SIG "21000007"
             "20000407000000",
         HMQ_PROXY_E_MALFORMED}, /* SSL len 4 */
        {SIG "2100000b"
             "2000080100000000220005",
         HMQ_PROXY_E_MALFORMED}, /* sub overflow */
        {SIG "21000010"
             "20000d01000000002200016122000162",
         HMQ_PROXY_E_MALFORMED}, /* dup CN */
        {SIG "2100000b"
             "2000080100000000220001",
         HMQ_PROXY_E_MALFORMED}, /* cut sub */
        {SIG "2100000c"
             "200009010000000022000100",
         HMQ_PROXY_E_MALFORMED}, /* NUL CN */
        {SIG "21000006"
             "300003626c00",
         HMQ_PROXY_E_MALFORMED}, /* NUL netns */
        {SIG "21000006"
             "030004000000",
         HMQ_PROXY_E_MALFORMED},                             /* CRC cut */
        {"0d0a0d0a000d0a515549540b", HMQ_PROXY_E_NOT_PROXY}, /* signature */
        {"0d0a0d0a010d0a515549540a", HMQ_PROXY_E_NOT_PROXY},
        {"0d0a", 0},
        {SIG "21", 0},
        {SIG "2111", 0},
        {SIG "2111000c", 0},
        {SIG "2111000cc0a80001c0a8000bdc0401", 0},
    };
    uint8_t buf[128];
    hmq_proxy_info_t info;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = unhex(cases[i].hex, buf);
        int rc = hmq_proxy_parse(buf, n, &info);
        if (rc != cases[i].rc) fail_msg("case %zu: got %d, want %d", i, rc, cases[i].rc);
    }
    /* a 129-byte unique id is too long, 128 is fine */
    uint8_t uid[16 + 3 + 129];
    unhex(SIG "21000084"
              "050081",
          uid);
    memset(uid + 19, 0x55, 129);
    assert_int_equal(hmq_proxy_parse(uid, sizeof(uid), &info), HMQ_PROXY_E_MALFORMED);
    unhex(SIG "21000083"
              "050080",
          uid);
    assert_int_equal(hmq_proxy_parse(uid, sizeof(uid) - 1, &info), (int)sizeof(uid) - 1);
    assert_int_equal(info.unique_id.len, 128);
}

/* The cap is checked as soon as the 16-byte preamble is in, not after buffering the body. */
static void test_v2_cap(void **state)
{
    (void)state;
    size_t total = 16 + 65535;
    uint8_t *buf = calloc(1, total);
    unhex(SIG "2100ffff", buf);
    /* the body: NOOP TLVs tiling 65535 bytes (65535 = 3 + 65532) */
    unhex("04fffc", buf + 16);
    hmq_proxy_info_t info;
    assert_int_equal(hmq_proxy_parse(buf, 16, &info), HMQ_PROXY_E_TOO_LARGE);
    assert_int_equal(hmq_proxy_parse_ex(buf, 16, 4096, &info), HMQ_PROXY_E_TOO_LARGE);
    assert_int_equal(hmq_proxy_parse_ex(buf, 16, HMQ_PROXY_V2_MAX, &info), 0);
    assert_int_equal(hmq_proxy_parse_ex(buf, total, HMQ_PROXY_V2_MAX, &info), (int)total);
    assert_int_equal(hmq_proxy_parse_ex(buf, total, SIZE_MAX, &info), (int)total); /* clamped */
    /* a cap below 107 is raised to 107: a 28-byte v2 and a 56-byte v1 header still pass */
    uint8_t small[28];
    unhex(SIG "2111000cc0a80001c0a8000bdc0401bb", small);
    assert_int_equal(hmq_proxy_parse_ex(small, 28, 1, &info), 28);
    unhex(SIG "2100005c", buf); /* 16 + 92 = 108 > 107 */
    assert_int_equal(hmq_proxy_parse_ex(buf, 16, 1, &info), HMQ_PROXY_E_TOO_LARGE);
    free(buf);
}

/* Other protocols on a PROXY listener are refused at their first byte. */
static void test_not_proxy(void **state)
{
    (void)state;
    hmq_proxy_info_t info;
    static const uint8_t client_hello[] = {0x16, 0x03, 0x01, 0x00, 0xc8, 0x01};
    static const uint8_t mqtt_connect[] = {0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T'};
    assert_int_equal(hmq_proxy_parse(client_hello, 1, &info), HMQ_PROXY_E_NOT_PROXY);
    assert_int_equal(hmq_proxy_parse(client_hello, 6, &info), HMQ_PROXY_E_NOT_PROXY);
    assert_int_equal(hmq_proxy_parse(mqtt_connect, 8, &info), HMQ_PROXY_E_NOT_PROXY);
    assert_int_equal(parse_str("GET / HTTP/1.1\r\n", &info), HMQ_PROXY_E_NOT_PROXY);
    assert_int_equal(parse_str("POST / HTTP/1.1\r\n", &info), HMQ_PROXY_E_NOT_PROXY);
    assert_int_equal(hmq_proxy_parse(NULL, 0, &info), 0);
    assert_string_equal(hmq_proxy_strerror(HMQ_PROXY_E_CRC), "PROXY protocol v2 CRC32C mismatch");
}

/* Random bytes, and random mutations of valid headers: never a crash, never a result beyond
 * the buffer, the signature rule always holds. */
static void test_garbage(void **state)
{
    (void)state;
    uint8_t base[256], buf[256];
    size_t n = unhex(full6, base);
    uint32_t seed = 12345;
    hmq_proxy_info_t info;
    for (int iter = 0; iter < 200000; iter++) {
        size_t len;
        seed = seed * 1103515245u + 12345u;
        if (iter & 1) {
            len = (seed >> 16) % sizeof(buf);
            for (size_t i = 0; i < len; i++) {
                seed = seed * 1103515245u + 12345u;
                buf[i] = (uint8_t)(seed >> 16);
            }
        } else {
            memcpy(buf, base, n);
            len = n;
            for (int k = 0; k < 3; k++) {
                seed = seed * 1103515245u + 12345u;
                buf[(seed >> 8) % n] ^= (uint8_t)(1u << ((seed >> 4) % 8));
            }
        }
        int rc = hmq_proxy_parse(buf, len, &info);
        assert_true(rc <= (int)len);
        assert_true(rc >= HMQ_PROXY_E_CRC);
        if (len && buf[0] != 'P' && buf[0] != 0x0d) assert_int_equal(rc, HMQ_PROXY_E_NOT_PROXY);
        if (rc > 0) assert_int_equal(info.header_len, rc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_v1_spec_example),
        cmocka_unit_test(test_v1_longest_lines),
        cmocka_unit_test(test_v1_ipv6_forms),
        cmocka_unit_test(test_v1_malformed),
        cmocka_unit_test(test_v1_early_reject),
        cmocka_unit_test(test_v2_tcp4),
        cmocka_unit_test(test_v2_tcp4_crc),
        cmocka_unit_test(test_v2_tcp6_all_tlvs),
        cmocka_unit_test(test_v2_bad_crc),
        cmocka_unit_test(test_v2_local_and_fallbacks),
        cmocka_unit_test(test_v2_unix),
        cmocka_unit_test(test_v2_malformed),
        cmocka_unit_test(test_v2_cap),
        cmocka_unit_test(test_not_proxy),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
