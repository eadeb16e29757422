/*
 * The metrics listener (metrics_http.c): the pure request parser on every
 * answer it can give, then the real listener on a loopback port: GET
 * /metrics answered 200 with the body, another path 404, another method
 * 405, headers too large 431, a busy port a clear error, more clients than
 * allowed closed at once, and the daemon side never blocked by a client
 * that does not read.
 */
#include "cunit_main.h"
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

static int parse(const char *req, bool *head)
{
    return metrics_http_parse(req, strlen(req), head);
}

static void test_parse(void)
{
    bool head;
    CU_ASSERT_EQUAL(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &head), 200);
    CU_ASSERT_FALSE(head);
    CU_ASSERT_EQUAL(parse("GET /metrics HTTP/1.0\n\n", &head), 200); /* bare newlines */
    CU_ASSERT_EQUAL(parse("GET /metrics?x=1 HTTP/1.1\r\n\r\n", &head), 200);
    CU_ASSERT_EQUAL(parse("HEAD /metrics HTTP/1.1\r\n\r\n", &head), 200);
    CU_ASSERT_TRUE(head);
    CU_ASSERT_EQUAL(parse("GET / HTTP/1.1\r\n\r\n", &head), 404);
    CU_ASSERT_EQUAL(parse("GET /metricsx HTTP/1.1\r\n\r\n", &head), 404);
    CU_ASSERT_EQUAL(parse("GET /metrics/ HTTP/1.1\r\n\r\n", &head), 404);
    CU_ASSERT_EQUAL(parse("GET /../metrics HTTP/1.1\r\n\r\n", &head), 404);
    CU_ASSERT_EQUAL(parse("POST /metrics HTTP/1.1\r\n\r\n", &head), 405);
    CU_ASSERT_EQUAL(parse("get /metrics HTTP/1.1\r\n\r\n", &head), 405);
    CU_ASSERT_EQUAL(parse("GET /metrics\r\n\r\n", &head), 400); /* HTTP/0.9 */
    CU_ASSERT_EQUAL(parse("GET /metrics HTTP/2.0\r\n\r\n", &head), 400);
    CU_ASSERT_EQUAL(parse("GET  /metrics HTTP/1.1\r\n\r\n", &head), 400);  /* two spaces */
    CU_ASSERT_EQUAL(parse("GET /met\trics HTTP/1.1\r\n\r\n", &head), 400); /* control byte */
    CU_ASSERT_EQUAL(parse("GET /metrics HTTP/1.1 x\r\n\r\n", &head), 400);
    static const char nul[] = "GET /m\0trics HTTP/1.1\r\n\r\n";
    CU_ASSERT_EQUAL(metrics_http_parse(nul, sizeof(nul) - 1, &head), 400);
    /* Not complete yet: 0, however it is cut. */
    static const char full[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    for (size_t n = 0; n + 1 < sizeof(full) - 1; n++)
        CU_ASSERT_EQUAL(metrics_http_parse(full, n, &head), 0);
    /* Headers that never end: 431 once the buffer is full, not before. */
    g_autofree char *big = g_strnfill(METRICS_HTTP_MAX_REQUEST_BYTES, 'a');
    CU_ASSERT_EQUAL(metrics_http_parse(big, METRICS_HTTP_MAX_REQUEST_BYTES - 1, &head), 0);
    CU_ASSERT_EQUAL(metrics_http_parse(big, METRICS_HTTP_MAX_REQUEST_BYTES, &head), 431);
    /* A request line too long for any path of ours. */
    g_autofree char *long_path = g_strnfill(300, 'p');
    g_autofree char *req = g_strdup_printf("GET /%s HTTP/1.1\r\n\r\n", long_path);
    CU_ASSERT_EQUAL(parse(req, &head), 400);
}

/* ---- the real listener ----------------------------------------------------------------- */

static int bodies; /* how often the body was made */

static char *body(void *ctx)
{
    bodies++;
    return g_strdup(ctx);
}

/* A free loopback port: bound to port 0, read back, closed. */
static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

struct job {
    uint16_t port;
    const char *request;
    size_t request_len;
    GString *reply;
    gint done;
};

static int connect_port(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* In a thread: send the request, read to EOF. */
static gpointer client(gpointer data)
{
    struct job *j = data;
    int fd = connect_port(j->port);
    if (fd >= 0) {
        send(fd, j->request, j->request_len, MSG_NOSIGNAL);
        char buf[4096];
        ssize_t n;
        while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
            g_string_append_len(j->reply, buf, n);
        close(fd);
    }
    g_atomic_int_set(&j->done, 1);
    return NULL;
}

static void run(struct job *j)
{
    GThread *t = g_thread_new("client", client, j);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!g_atomic_int_get(&j->done) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE) ? 0 : g_usleep(1000);
    g_thread_join(t);
}

static GString *ask(uint16_t port, const char *request, size_t len)
{
    struct job j = {
        .port = port, .request = request, .request_len = len, .reply = g_string_new(NULL)};
    run(&j);
    return j.reply;
}

static void test_listener(void)
{
    struct listen_addr a;
    const char *why;
    g_autofree char *addr = g_strdup_printf("127.0.0.1:%u", (unsigned)free_port());
    CU_ASSERT_EQUAL_FATAL(listen_addr_parse(addr, &a, &why), 0);
    GError *error = NULL;
    static char text[] = "# HELP ballast_x X.\n# TYPE ballast_x gauge\nballast_x 1\n";
    struct metrics_http *h = metrics_http_new(&a, body, text, &error);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);

    static const char get[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    GString *r = ask(a.port, get, strlen(get));
    CU_ASSERT_TRUE(g_str_has_prefix(r->str, "HTTP/1.0 200 OK\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r->str, "Content-Type: text/plain; version=0.0.4"));
    g_autofree char *cl = g_strdup_printf("Content-Length: %zu\r\n", strlen(text));
    CU_ASSERT_PTR_NOT_NULL(strstr(r->str, cl));
    CU_ASSERT_TRUE(g_str_has_suffix(r->str, text));
    CU_ASSERT_EQUAL(bodies, 1);
    g_string_free(r, TRUE);

    static const char other[] = "GET /debug HTTP/1.1\r\n\r\n";
    r = ask(a.port, other, strlen(other));
    CU_ASSERT_TRUE(g_str_has_prefix(r->str, "HTTP/1.0 404 Not Found\r\n"));
    CU_ASSERT_PTR_NULL(strstr(r->str, "ballast_x"));
    g_string_free(r, TRUE);

    static const char post[] = "POST /metrics HTTP/1.1\r\n\r\n";
    r = ask(a.port, post, strlen(post));
    CU_ASSERT_TRUE(g_str_has_prefix(r->str, "HTTP/1.0 405 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(r->str, "Allow: GET, HEAD\r\n"));
    g_string_free(r, TRUE);

    g_autofree char *flood = g_strnfill(3 * METRICS_HTTP_MAX_REQUEST_BYTES, 'h');
    r = ask(a.port, flood, strlen(flood));
    CU_ASSERT_TRUE(g_str_has_prefix(r->str, "HTTP/1.0 431 "));
    g_string_free(r, TRUE);
    CU_ASSERT_EQUAL(bodies, 1); /* only the GET made one */

    /* A second listener on the same port: a clear error, naming the address. */
    struct metrics_http *dup = metrics_http_new(&a, body, text, &error);
    CU_ASSERT_PTR_NULL(dup);
    CU_ASSERT_TRUE(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE));
    CU_ASSERT_PTR_NOT_NULL(error ? strstr(error->message, addr) : NULL);
    g_clear_error(&error);

    /* More clients than allowed, all silent: the extra ones are closed at once,
     * and the listener still answers once they are gone. */
    int fds[METRICS_HTTP_MAX_CLIENTS + 2];
    for (size_t i = 0; i < G_N_ELEMENTS(fds); i++) {
        fds[i] = connect_port(a.port);
        for (int k = 0; k < 20; k++)
            g_main_context_iteration(NULL, FALSE);
    }
    struct metrics_http_stats st;
    metrics_http_get_stats(h, &st);
    CU_ASSERT_EQUAL(st.busy, 2);
    for (size_t i = 0; i < G_N_ELEMENTS(fds); i++)
        close(fds[i]);
    for (int k = 0; k < 50; k++)
        g_main_context_iteration(NULL, FALSE);
    r = ask(a.port, get, strlen(get));
    CU_ASSERT_TRUE(g_str_has_prefix(r->str, "HTTP/1.0 200 OK\r\n"));
    g_string_free(r, TRUE);
    metrics_http_get_stats(h, &st);
    CU_ASSERT_EQUAL(st.served, 2);
    CU_ASSERT_EQUAL(st.not_found, 1);
    CU_ASSERT_EQUAL(st.refused, 2);
    metrics_http_free(h);
}

/* A client that asks and never reads a large reply: the reply waits in our
 * buffer, the loop goes on (this test would hang otherwise). */
static void test_slow_reader(void)
{
    struct listen_addr a;
    const char *why;
    g_autofree char *addr = g_strdup_printf("127.0.0.1:%u", (unsigned)free_port());
    CU_ASSERT_EQUAL_FATAL(listen_addr_parse(addr, &a, &why), 0);
    g_autofree char *huge = g_strnfill(8 << 20, 'x'); /* more than any socket buffer */
    GError *error = NULL;
    struct metrics_http *h = metrics_http_new(&a, body, huge, &error);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    int fd = connect_port(a.port);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    static const char get[] = "GET /metrics HTTP/1.0\r\n\r\n";
    send(fd, get, strlen(get), MSG_NOSIGNAL);
    gint64 start = g_get_monotonic_time();
    for (int k = 0; k < 200; k++) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    /* 200 iterations in well under a second: nothing blocked on the reader. */
    CU_ASSERT_TRUE(g_get_monotonic_time() - start < 2 * G_USEC_PER_SEC);
    struct metrics_http_stats st;
    metrics_http_get_stats(h, &st);
    CU_ASSERT_EQUAL(st.served, 1);
    close(fd);
    metrics_http_free(h); /* with the half-sent reply: freed, no leak (ASan build) */
}

static CU_TestInfo http_tests[] = {
    {"request parser", test_parse},
    {"listener: 200, 404, 405, 431, busy port, too many clients", test_listener},
    {"a client that does not read blocks nothing", test_slow_reader},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"metrics_http", NULL, NULL, NULL, NULL, http_tests},
    CU_SUITE_INFO_NULL,
};
