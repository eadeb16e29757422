/* The scripted fake QMP server; see fake_qmp.h. */
#include "fake_qmp.h"

#include <errno.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct FakeQmp {
    const FakeStep *steps;
    guint step;
    guint split_offset;
    char *dir;
    char *path;
    int listen_fd;
    int client_fd;
    guint listen_watch;
    guint client_watch;
    guint timer;
    GString *in;
    GString *out;
    GQueue commands; /* JsonNode* received, not yet matched */
    GQueue lines;    /* char*: each command's line as it came */
    GPtrArray *held; /* JsonNode* (the command) */
    GString *failure;
    guint accepted;
    guint claimed;
    gboolean closing;
    gboolean finished;
};

static void fake_advance(FakeQmp *fake);
static gboolean fake_on_client(gint fd, GIOCondition cond, gpointer data);
static gboolean fake_on_listen(gint fd, GIOCondition cond, gpointer data);

static void fake_fail(FakeQmp *fake, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void fake_fail(FakeQmp *fake, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (!fake->failure)
        fake->failure = g_string_new(NULL);
    g_string_append_printf(fake->failure, "step %u: %s; ", fake->step, msg);
    fprintf(stderr, "fake_qmp: step %u: %s\n", fake->step, msg);
}

static void fake_close_client(FakeQmp *fake)
{
    if (fake->client_watch)
        g_source_remove(fake->client_watch);
    fake->client_watch = 0;
    if (fake->client_fd >= 0)
        close(fake->client_fd);
    fake->client_fd = -1;
    g_string_truncate(fake->in, 0);
    g_string_truncate(fake->out, 0);
    fake->closing = FALSE;
    if (!fake->listen_watch && fake->listen_fd >= 0)
        fake->listen_watch = g_unix_fd_add(fake->listen_fd, G_IO_IN, fake_on_listen, fake);
    g_queue_clear_full(&fake->commands, (GDestroyNotify)json_node_unref);
    g_queue_clear_full(&fake->lines, g_free);
}

/* Writes what the socket takes; the rest waits for G_IO_OUT. */
static void fake_flush(FakeQmp *fake)
{
    while (fake->client_fd >= 0 && fake->out->len > 0) {
        ssize_t n =
            send(fake->client_fd, fake->out->str, fake->out->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break; /* EAGAIN, or the client is gone (EPIPE): read side sees it */
        g_string_erase(fake->out, 0, n);
    }
    if (fake->client_fd < 0)
        return;
    if (fake->closing && fake->out->len == 0) {
        fake_close_client(fake);
        return;
    }
    if (fake->client_watch)
        g_source_remove(fake->client_watch);
    fake->client_watch = g_unix_fd_add(fake->client_fd, G_IO_IN | (fake->out->len ? G_IO_OUT : 0),
                                       fake_on_client, fake);
}

static void fake_write(FakeQmp *fake, const char *text, gsize len)
{
    g_string_append_len(fake->out, text, len);
    fake_flush(fake);
}

static void fake_reply(FakeQmp *fake, JsonNode *command, const char *text)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) reply = json_from_string(text, &error);
    if (!reply || !JSON_NODE_HOLDS_OBJECT(reply)) {
        fake_fail(fake, "bad reply text in script: %s", text);
        return;
    }
    JsonNode *id = json_object_get_member(json_node_get_object(command), "id");
    if (id)
        json_object_set_member(json_node_get_object(reply), "id", json_node_copy(id));
    g_autofree char *line = json_to_string(reply, FALSE);
    fake_write(fake, line, strlen(line));
    fake_write(fake, "\r\n", 2);
}

static gboolean fake_on_client(gint fd, GIOCondition cond, gpointer data)
{
    FakeQmp *fake = data;
    if (cond & G_IO_OUT) {
        fake->client_watch = 0; /* fake_flush installs a new watch */
        fake_flush(fake);
        fake_advance(fake);
        return G_SOURCE_REMOVE;
    }
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        fake->client_watch = 0;
        fake_close_client(fake);
        fake_advance(fake);
        return G_SOURCE_REMOVE;
    }
    g_string_append_len(fake->in, buf, n);
    char *nl;
    while ((nl = memchr(fake->in->str, '\n', fake->in->len))) {
        char *line = g_strndup(fake->in->str, nl - fake->in->str);
        g_string_erase(fake->in, 0, nl - fake->in->str + 1);
        g_autoptr(GError) error = NULL;
        JsonNode *cmd = json_from_string(line, &error);
        if (!cmd || !JSON_NODE_HOLDS_OBJECT(cmd)) {
            fake_fail(fake, "client sent invalid JSON: %s", line);
            if (cmd)
                json_node_unref(cmd);
            g_free(line);
            continue;
        }
        g_queue_push_tail(&fake->commands, cmd);
        g_queue_push_tail(&fake->lines, line);
    }
    fake_advance(fake);
    return G_SOURCE_CONTINUE;
}

static gboolean fake_on_listen(gint fd, GIOCondition cond, gpointer data)
{
    FakeQmp *fake = data;
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0)
        return G_SOURCE_CONTINUE;
    fake->client_fd = c;
    fake->accepted++;
    fake->client_watch = g_unix_fd_add(c, G_IO_IN, fake_on_client, fake);
    /* Like QEMU's monitor: one client at a time, the next one waits in the
     * backlog until this one is gone. */
    fake->listen_watch = 0;
    fake_advance(fake);
    return G_SOURCE_REMOVE;
}

static gboolean fake_on_timer(gpointer data)
{
    FakeQmp *fake = data;
    fake->timer = 0;
    const FakeStep *s = &fake->steps[fake->step];
    if (s->kind == FAKE_DELAY)
        fake->step++;
    fake_advance(fake);
    return G_SOURCE_REMOVE;
}

/* The command against the step: name, id, arguments, bytes. */
static void fake_check_command(FakeQmp *fake, const FakeStep *s, JsonObject *o, const char *line)
{
    JsonNode *exec = json_object_get_member(o, "execute");
    const char *name = exec && JSON_NODE_HOLDS_VALUE(exec) ? json_node_get_string(exec) : NULL;
    if (!name || strcmp(name, s->command) != 0)
        fake_fail(fake, "expected %s, got %s", s->command, name ? name : "(no execute)");
    JsonNode *id = json_object_get_member(o, "id");
    if (!id || json_node_get_value_type(id) != G_TYPE_INT64)
        fake_fail(fake, "%s sent without an integer id", s->command);
    JsonNode *got = json_object_get_member(o, "arguments");
    g_autoptr(JsonNode) want = s->args ? json_from_string(s->args, NULL) : NULL;
    if (s->args ? !want || !got || !json_node_equal(want, got) : got != NULL) {
        g_autofree char *got_text = got ? json_to_string(got, FALSE) : g_strdup("(none)");
        fake_fail(fake, "%s: arguments %s, expected %s", s->command, got_text,
                  s->args ? s->args : "(none)");
    }
    if (s->line && strcmp(line, s->line) != 0)
        fake_fail(fake, "%s: sent %s, expected the bytes %s", s->command, line, s->line);
}

static gboolean fake_expect(FakeQmp *fake, const FakeStep *s)
{
    JsonNode *cmd = g_queue_pop_head(&fake->commands);
    if (!cmd)
        return FALSE;
    g_autofree char *line = g_queue_pop_head(&fake->lines);
    fake_check_command(fake, s, json_node_get_object(cmd), line);
    if (s->text)
        fake_reply(fake, cmd, s->text);
    else
        g_ptr_array_add(fake->held, json_node_ref(cmd));
    json_node_unref(cmd);
    return TRUE;
}

/* Runs steps until one has to wait for the client or a timer. */
static void fake_advance(FakeQmp *fake)
{
    while (!fake->finished && !fake->timer) {
        const FakeStep *s = &fake->steps[fake->step];
        switch (s->kind) {
        case FAKE_END:
            fake->finished = TRUE;
            if (!g_queue_is_empty(&fake->commands))
                fake_fail(fake, "unexpected command after the script ended");
            return;
        case FAKE_ACCEPT:
            /* Each ACCEPT takes a connection no earlier ACCEPT took. */
            if (fake->client_fd < 0 || fake->accepted <= fake->claimed)
                return;
            fake->claimed = fake->accepted;
            break;
        case FAKE_SEND:
            if (fake->client_fd >= 0)
                fake_write(fake, s->text, strlen(s->text));
            break;
        case FAKE_SEND_SPLIT:
            if (fake->client_fd >= 0 && fake->split_offset < strlen(s->text)) {
                fake_write(fake, s->text + fake->split_offset, 1);
                fake->split_offset++;
                fake->timer = g_timeout_add(1, fake_on_timer, fake);
                return;
            }
            fake->split_offset = 0;
            break;
        case FAKE_SEND_BIG: {
            GString *big = g_string_sized_new(s->n + 16);
            g_string_append(big, "{\"return\": \"");
            while (big->len < s->n)
                g_string_append_c(big, 'x');
            g_string_append(big, "\"}\r\n");
            fake_write(fake, big->str, big->len);
            g_string_free(big, TRUE);
            break;
        }
        case FAKE_EXPECT:
            if (!fake_expect(fake, s))
                return;
            break;
        case FAKE_REPLY_HELD:
            if (s->n >= fake->held->len)
                fake_fail(fake, "no held command %u", s->n);
            else
                fake_reply(fake, g_ptr_array_index(fake->held, s->n), s->text);
            break;
        case FAKE_DELAY:
            fake->timer = g_timeout_add(s->n, fake_on_timer, fake);
            return;
        case FAKE_CLOSE:
            if (fake->client_fd >= 0) {
                fake->closing = TRUE;
                fake_flush(fake);
                if (fake->client_fd >= 0)
                    return; /* output still draining */
            }
            break;
        }
        fake->step++;
    }
}

FakeQmp *fake_qmp_new(const FakeStep *steps)
{
    FakeQmp *fake = g_new0(FakeQmp, 1);
    fake->steps = steps;
    fake->client_fd = -1;
    fake->in = g_string_new(NULL);
    fake->out = g_string_new(NULL);
    fake->held = g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);
    g_queue_init(&fake->commands);
    g_queue_init(&fake->lines);
    fake->dir = g_dir_make_tmp("fake-qmp-XXXXXX", NULL);
    g_assert(fake->dir);
    fake->path = g_build_filename(fake->dir, "qmp.sock", NULL);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    g_assert(strlen(fake->path) < sizeof(addr.sun_path));
    strcpy(addr.sun_path, fake->path);
    fake->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    g_assert(fake->listen_fd >= 0);
    g_assert(bind(fake->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    g_assert(listen(fake->listen_fd, 4) == 0);
    fake->listen_watch = g_unix_fd_add(fake->listen_fd, G_IO_IN, fake_on_listen, fake);
    fake_advance(fake);
    return fake;
}

void fake_qmp_free(FakeQmp *fake)
{
    if (!fake)
        return;
    int listen_fd = fake->listen_fd;
    fake->listen_fd = -1; /* fake_close_client must not re-arm accept */
    fake_close_client(fake);
    if (fake->timer)
        g_source_remove(fake->timer);
    if (fake->listen_watch)
        g_source_remove(fake->listen_watch);
    close(listen_fd);
    unlink(fake->path);
    rmdir(fake->dir);
    g_ptr_array_free(fake->held, TRUE);
    g_string_free(fake->in, TRUE);
    g_string_free(fake->out, TRUE);
    if (fake->failure)
        g_string_free(fake->failure, TRUE);
    g_free(fake->path);
    g_free(fake->dir);
    g_free(fake);
}

const char *fake_qmp_socket_path(FakeQmp *fake)
{
    return fake->path;
}

gboolean fake_qmp_finished(FakeQmp *fake)
{
    return fake->finished;
}

const char *fake_qmp_failure(FakeQmp *fake)
{
    return fake->failure ? fake->failure->str : NULL;
}

guint fake_qmp_accepted(FakeQmp *fake)
{
    return fake->accepted;
}

static gboolean on_guard(gpointer data)
{
    *(gboolean *)data = TRUE;
    return G_SOURCE_REMOVE;
}

gboolean fake_run_until(const gboolean *flag, guint timeout_ms)
{
    gboolean expired = FALSE;
    guint guard = g_timeout_add(timeout_ms, on_guard, &expired);
    while (!*flag && !expired)
        g_main_context_iteration(NULL, TRUE);
    if (!expired)
        g_source_remove(guard);
    return *flag;
}

gboolean fake_run_until_finished(FakeQmp *fake, guint timeout_ms)
{
    return fake_run_until(&fake->finished, timeout_ms);
}
