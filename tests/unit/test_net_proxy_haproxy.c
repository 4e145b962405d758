/* test_net_proxy_haproxy.c - the PROXY parser against a real sender: haproxy (skipped when
 * haproxy is not installed; `apt-get install haproxy`).
 *
 * haproxy listens on three free ports and forwards to a socket of this test with `send-proxy`
 * (v1), `send-proxy-v2` with every TLV option and CRC32C, and the same behind TLS termination
 * with client certificates (the load balancer in front of payment devices). Each test connects
 * a client, reads the header haproxy wrote, parses it with hmq_proxy_parse() and checks the
 * addresses against the client socket and the TLVs against what the client did.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "net/proxy.h"
#include "net_test.h"

static const char *haproxy_bin;
static pid_t haproxy_pid;
static int backend_fd = -1;
static uint16_t port_v1, port_v2, port_tls;

static uint16_t local_port(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

static int listen_any(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) abort();
    return fd;
}

static uint16_t free_port(void)
{
    int fd = listen_any();
    uint16_t port = local_port(fd);
    close(fd);
    return port;
}

static int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read one connection haproxy opened to us until a whole PROXY header (and `extra` more
 * bytes) are in; returns the parse result, data in buf. */
static int read_one(int fd, uint8_t *buf, size_t cap, size_t *len, hmq_proxy_info_t *info,
                    size_t extra)
{
    *len = 0;
    int rc = 0;
    for (int i = 0; i < 100; i++) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 5000) != 1) break;
        ssize_t n = read(fd, buf + *len, cap - *len);
        if (n <= 0) break;
        *len += (size_t)n;
        rc = hmq_proxy_parse(buf, *len, info);
        if (rc < 0 || (rc > 0 && *len >= (size_t)rc + extra)) break;
    }
    return rc;
}

/* The header of the connection made for the client whose source port is `client_port`
 * (haproxy also forwards the probes made while waiting for it to start: skipped). */
static int read_header(uint8_t *buf, size_t cap, size_t *len, hmq_proxy_info_t *info, size_t extra,
                       uint16_t client_port)
{
    for (int i = 0; i < 20; i++) {
        struct pollfd pfd = {backend_fd, POLLIN, 0};
        if (poll(&pfd, 1, 5000) != 1) return -100;
        int fd = accept(backend_fd, NULL, NULL);
        int rc = read_one(fd, buf, cap, len, info, extra);
        close(fd);
        const struct sockaddr_in *src = (const struct sockaddr_in *)&info->src;
        if (rc > 0 && src->sin_family == AF_INET && ntohs(src->sin_port) != client_port) continue;
        return rc;
    }
    return -101;
}

static bool wait_port(uint16_t port)
{
    for (int i = 0; i < 100; i++) {
        int fd = connect_to(port);
        if (fd >= 0) {
            close(fd);
            return true;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static int setup(void **state)
{
    (void)state;
    static const char *paths[] = {"/usr/sbin/haproxy", "/usr/local/sbin/haproxy",
                                  "/usr/bin/haproxy"};
    for (int i = 0; i < 3 && !haproxy_bin; i++)
        if (access(paths[i], X_OK) == 0) haproxy_bin = paths[i];
    if (!haproxy_bin) return 0;
    backend_fd = listen_any();
    port_v1 = free_port();
    port_v2 = free_port();
    port_tls = free_port();
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cat %s %s > %s", net_test_path("server.pem"),
             net_test_path("server.key"), net_test_path("haproxy.pem"));
    if (system(cmd) != 0) return -1;
    FILE *f = fopen(net_test_path("haproxy.cfg"), "w");
    fprintf(f,
            "global\n  maxconn 100\n"
            "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 10s\n"
            "  timeout server 10s\n"
            "frontend v1\n  bind 127.0.0.1:%u\n  default_backend b_v1\n"
            "frontend v2\n  bind 127.0.0.1:%u\n  default_backend b_v2\n"
            "frontend tls\n  bind 127.0.0.1:%u ssl crt %s ca-file %s verify optional "
            "ca-ignore-err all crt-ignore-err all alpn mqtt\n"
            "  unique-id-format conn-%%ci-%%cp\n  default_backend b_v2\n"
            "backend b_v1\n  server s 127.0.0.1:%u send-proxy\n"
            "backend b_v2\n  server s 127.0.0.1:%u send-proxy-v2 proxy-v2-options "
            "crc32c,authority,unique-id,ssl,cert-cn,ssl-cipher,cert-sig,cert-key\n",
            port_v1, port_v2, port_tls, net_test_path("haproxy.pem"), net_test_path("ca.pem"),
            local_port(backend_fd), local_port(backend_fd));
    fclose(f);
    haproxy_pid = fork();
    if (haproxy_pid == 0) {
        const char *cfg = net_test_path("haproxy.cfg");
        execl(haproxy_bin, haproxy_bin, "-db", "-q", "-f", cfg, (char *)NULL);
        _exit(127);
    }
    if (!wait_port(port_v1) || !wait_port(port_v2) || !wait_port(port_tls)) {
        fprintf(stderr, "haproxy did not start\n");
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (haproxy_pid > 0) {
        kill(haproxy_pid, SIGTERM);
        waitpid(haproxy_pid, NULL, 0);
    }
    if (backend_fd >= 0) close(backend_fd);
    net_test_cleanup();
    return 0;
}

static void assert_loopback(const struct sockaddr_storage *ss, uint16_t port)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
    assert_int_equal(ntohs(sin->sin_port), port);
}

static void test_haproxy_v1(void **state)
{
    (void)state;
    if (!haproxy_bin) skip();
    int c = connect_to(port_v1);
    assert_true(c >= 0);
    assert_int_equal(write(c, "hello", 5), 5);
    uint8_t buf[512];
    size_t len;
    hmq_proxy_info_t info;
    int rc = read_header(buf, sizeof(buf), &len, &info, 5, local_port(c));
    assert_true(rc > 0);
    assert_int_equal(info.version, 1);
    assert_int_equal(info.family, HMQ_PROXY_FAMILY_TCP4);
    assert_loopback(&info.src, local_port(c));
    assert_loopback(&info.dst, port_v1);
    assert_int_equal(len, (size_t)rc + 5);
    assert_memory_equal(buf + rc, "hello", 5);
    close(c);
}

static void test_haproxy_v2(void **state)
{
    (void)state;
    if (!haproxy_bin) skip();
    int c = connect_to(port_v2);
    assert_true(c >= 0);
    assert_int_equal(write(c, "hello", 5), 5);
    uint8_t buf[1024];
    size_t len;
    hmq_proxy_info_t info;
    int rc = read_header(buf, sizeof(buf), &len, &info, 5, local_port(c));
    assert_true(rc > 0);
    assert_int_equal(info.version, 2);
    assert_int_equal(info.command, HMQ_PROXY_CMD_PROXY);
    assert_int_equal(info.family, HMQ_PROXY_FAMILY_TCP4);
    assert_loopback(&info.src, local_port(c));
    assert_loopback(&info.dst, port_v2);
    assert_true(info.has_crc32c); /* and it matched, or rc would be HMQ_PROXY_E_CRC */
    assert_false(hmq_proxy_client_verified(&info));
    assert_memory_equal(buf + rc, "hello", 5);
    /* one flipped bit anywhere in the header: CRC error (or a malformed header) */
    buf[rc - 5] ^= 0x10;
    assert_true(hmq_proxy_parse(buf, len, &info) < 0);
    close(c);
}

/* haproxy terminates TLS (with client certificate) and tells us who the client was. */
static int tls_client_through_haproxy(const char *cert, SSL **ssl_out)
{
    SSL_CTX *cctx = net_client_ctx(cert, 0);
    SSL_CTX_set_alpn_protos(cctx, (const uint8_t *)"\x04mqtt", 5);
    int c = connect_to(port_tls);
    assert_true(c >= 0);
    SSL *ssl = SSL_new(cctx);
    SSL_set_fd(ssl, c);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    assert_int_equal(SSL_connect(ssl), 1);
    assert_int_equal(SSL_write(ssl, "hello", 5), 5);
    SSL_CTX_free(cctx);
    *ssl_out = ssl;
    return c;
}

static void assert_slice_str(hmq_proxy_slice_t s, const char *text)
{
    assert_int_equal(s.len, strlen(text));
    assert_memory_equal(s.p, text, s.len);
}

static void test_haproxy_v2_tls_client_cert(void **state)
{
    (void)state;
    if (!haproxy_bin) skip();
    SSL *ssl;
    int c = tls_client_through_haproxy("client", &ssl);
    uint8_t buf[2048];
    size_t len;
    hmq_proxy_info_t info;
    int rc = read_header(buf, sizeof(buf), &len, &info, 5, local_port(c));
    assert_true(rc > 0);
    assert_loopback(&info.src, local_port(c));
    assert_loopback(&info.dst, port_tls);
    assert_true(info.has_crc32c);
    assert_slice_str(info.authority, "localhost");
    assert_slice_str(info.alpn, "mqtt");
    char uid[64];
    snprintf(uid, sizeof(uid), "conn-127.0.0.1-%u", local_port(c));
    assert_slice_str(info.unique_id, uid);
    assert_true(info.ssl.present);
    assert_true(info.ssl.client & HMQ_PP2_CLIENT_SSL);
    assert_true(info.ssl.client & HMQ_PP2_CLIENT_CERT_CONN);
    assert_int_equal(info.ssl.verify, 0);
    assert_true(hmq_proxy_client_verified(&info));
    assert_slice_str(info.ssl.cn, "device-42");
    assert_slice_str(info.ssl.version, SSL_get_version(ssl));
    assert_slice_str(info.ssl.cipher, SSL_get_cipher_name(ssl));
    assert_slice_str(info.ssl.sig_alg, "ecdsa-with-SHA256");
    assert_slice_str(info.ssl.key_alg, "EC256");
    assert_memory_equal(buf + rc, "hello", 5); /* the decrypted stream follows */
    SSL_free(ssl);
    close(c);
}

/* A certificate from another CA gets through haproxy (crt-ignore-err all) but is reported as
 * not verified: its CN must not be taken as an identity. */
static void test_haproxy_v2_tls_unverified(void **state)
{
    (void)state;
    if (!haproxy_bin) skip();
    SSL *ssl;
    int c = tls_client_through_haproxy("rogue", &ssl);
    uint8_t buf[2048];
    size_t len;
    hmq_proxy_info_t info;
    int rc = read_header(buf, sizeof(buf), &len, &info, 5, local_port(c));
    assert_true(rc > 0);
    assert_true(info.ssl.present);
    assert_true(info.ssl.client & HMQ_PP2_CLIENT_CERT_CONN);
    assert_int_not_equal(info.ssl.verify, 0);
    assert_slice_str(info.ssl.cn, "device-42");     /* the claim ... */
    assert_false(hmq_proxy_client_verified(&info)); /* ... is not an identity */
    SSL_free(ssl);
    close(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    net_test_certs();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_haproxy_v1),
        cmocka_unit_test(test_haproxy_v2),
        cmocka_unit_test(test_haproxy_v2_tls_client_cert),
        cmocka_unit_test(test_haproxy_v2_tls_unverified),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
