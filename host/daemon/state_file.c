/* ballastd's state file (see state_file.h). */
#include "state_file.h"

#include "json_depth.h"
#include "json_glib_leak.h"
#include "json_writer.h"
#include "procfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

/* --- writing ------------------------------------------------------------------------------ */

static void encode_overrides(struct json_writer *w, const struct config_vm_layer *l)
{
    if (!l->set)
        return;
    json_writer_key(w, "overrides");
    json_writer_object_begin(w);
    const struct config_key_info *k;
    char buf[48];
    for (size_t i = 0; (k = config_vm_key_at(i)); i++)
        if (config_vm_layer_exact(l, i, buf, sizeof(buf)))
            json_writer_member_string(w, k->name, buf);
    json_writer_object_end(w);
}

static void encode_vm(struct json_writer *w, const struct vm_saved *r)
{
    json_writer_object_begin(w);
    json_writer_member_string(w, "name", r->name);
    if (r->qemu_pid > 0) {
        json_writer_member_int(w, "qemu_pid", r->qemu_pid);
        json_writer_member_int(w, "qemu_start_ticks", (int64_t)r->qemu_start_ticks);
    }
    if (r->target_bytes)
        json_writer_member_int(w, "target_bytes", (int64_t)r->target_bytes);
    if (r->grown)
        json_writer_member_int(w, "grow_ms", r->grow_ms);
    if (r->deflate_held)
        json_writer_member_int(w, "deflate_hold_until_ms", r->deflate_hold_until_ms);
    if (r->guest_deflate_events)
        json_writer_member_int(w, "guest_deflate_events", (int64_t)r->guest_deflate_events);
    if (r->stalled_at_bytes) {
        json_writer_member_int(w, "stalled_at_bytes", (int64_t)r->stalled_at_bytes);
        json_writer_member_int(w, "stalled_until_ms", r->stalled_until_ms);
    }
    if (r->foreign_bytes) {
        json_writer_member_int(w, "foreign_bytes", (int64_t)r->foreign_bytes);
        json_writer_member_int(w, "foreign_since_s", r->foreign_since_s);
    }
    encode_overrides(w, &r->overrides);
    json_writer_object_end(w);
}

char *state_file_encode_host(struct vm_saved *const *recs, size_t n, const char *boot_id,
                             const struct state_file_host *host, size_t *len)
{
    struct json_writer w;
    json_writer_init_pretty(&w, g_string_sized_new(256 + n * 256));
    json_writer_object_begin(&w);
    json_writer_member_string(&w, "format", STATE_FILE_FORMAT);
    json_writer_member_int(&w, "version", STATE_FILE_VERSION);
    json_writer_member_string(&w, "boot_id", boot_id);
    if (host && host->ksmd_started)
        json_writer_member_bool(&w, "ksmd_started", true);
    json_writer_key(&w, "vms");
    json_writer_array_begin(&w);
    for (size_t i = 0; i < n; i++)
        encode_vm(&w, recs[i]);
    json_writer_array_end(&w);
    json_writer_object_end(&w);
    g_string_append_c(w.out, '\n');
    if (len)
        *len = w.out->len;
    return g_string_free(w.out, FALSE);
}

char *state_file_encode(struct vm_saved *const *recs, size_t n, const char *boot_id, size_t *len)
{
    return state_file_encode_host(recs, n, boot_id, NULL, len);
}

/* --- reading ------------------------------------------------------------------------------ */

G_GNUC_PRINTF(3, 4) static int refuse(char **why, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return rc;
}

/* An integer member within [lo, hi]; false with *why when it is not one. */
static bool get_int(JsonNode *node, const char *name, int64_t lo, int64_t hi, int64_t *out,
                    char **why)
{
    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64) {
        *why = g_strdup_printf("%s: not an integer", name);
        return false;
    }
    int64_t v = json_node_get_int(node);
    if (v < lo || v > hi) {
        *why = g_strdup_printf("%s = %" G_GINT64_FORMAT ": out of range", name, v);
        return false;
    }
    *out = v;
    return true;
}

/* "overrides": {"key": "value"}, each through set-policy's one parser. */
static bool decode_overrides(JsonNode *node, struct config_vm_layer *l, char **why)
{
    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        *why = g_strdup("overrides: not an object");
        return false;
    }
    JsonObjectIter it;
    const char *key;
    JsonNode *value;
    json_object_iter_init(&it, json_node_get_object(node));
    while (json_object_iter_next(&it, &key, &value)) {
        int i = config_vm_key_index(key);
        if (i < 0 || !(config_vm_key_at((size_t)i)->where & CONFIG_IN_RUNTIME)) {
            *why = g_strdup_printf("overrides: '%.40s' is not a set-policy key", key);
            return false;
        }
        if (!JSON_NODE_HOLDS_VALUE(value) || json_node_get_value_type(value) != G_TYPE_STRING) {
            *why = g_strdup_printf("overrides: %s: not a string", key);
            return false;
        }
        g_autofree char *msg = NULL;
        if (config_vm_layer_set(l, (size_t)i, NULL, json_node_get_string(value), &msg) < 0) {
            *why = g_strdup_printf("overrides: %s", msg);
            return false;
        }
    }
    return true;
}

/* A VM's integer members, each with its range. */
enum int_member {
    M_PID,
    M_START_TICKS,
    M_TARGET,
    M_GROW,
    M_DEFLATE_UNTIL,
    M_DEFLATE_EVENTS,
    M_STALLED_AT,
    M_STALLED_UNTIL,
    M_FOREIGN,
    M_FOREIGN_SINCE,
};
static const struct {
    const char *name;
    int64_t lo, hi;
} int_members[] = {
    [M_PID] = {"qemu_pid", 1, VM_SAVED_MAX_PID},
    [M_START_TICKS] = {"qemu_start_ticks", 0, INT64_MAX},
    [M_TARGET] = {"target_bytes", 1, (int64_t)VM_SAVED_MAX_BYTES},
    [M_GROW] = {"grow_ms", 0, INT64_MAX},
    [M_DEFLATE_UNTIL] = {"deflate_hold_until_ms", 0, INT64_MAX},
    [M_DEFLATE_EVENTS] = {"guest_deflate_events", 0, 1LL << 53},
    [M_STALLED_AT] = {"stalled_at_bytes", 1, (int64_t)VM_SAVED_MAX_BYTES},
    [M_STALLED_UNTIL] = {"stalled_until_ms", 0, INT64_MAX},
    [M_FOREIGN] = {"foreign_bytes", 1, (int64_t)VM_SAVED_MAX_BYTES},
    [M_FOREIGN_SINCE] = {"foreign_since_s", 0, INT64_MAX},
};

static void set_int(struct vm_saved *r, enum int_member m, int64_t v)
{
    switch (m) {
    case M_PID:
        r->qemu_pid = v;
        break;
    case M_START_TICKS:
        r->qemu_start_ticks = (uint64_t)v;
        break;
    case M_TARGET:
        r->target_bytes = (uint64_t)v;
        break;
    case M_GROW:
        r->grown = true;
        r->grow_ms = v;
        break;
    case M_DEFLATE_UNTIL:
        r->deflate_held = true;
        r->deflate_hold_until_ms = v;
        break;
    case M_DEFLATE_EVENTS:
        r->guest_deflate_events = (uint64_t)v;
        break;
    case M_STALLED_AT:
        r->stalled_at_bytes = (uint64_t)v;
        break;
    case M_STALLED_UNTIL:
        r->stalled_until_ms = v;
        break;
    case M_FOREIGN:
        r->foreign_bytes = (uint64_t)v;
        break;
    case M_FOREIGN_SINCE:
        r->foreign_since_s = v;
        break;
    }
}

/* One member of a VM's object into r; false with *why. */
static bool decode_member(const char *key, JsonNode *node, struct vm_saved *r, char **why)
{
    if (strcmp(key, "name") == 0) {
        const char *name =
            JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING
                ? json_node_get_string(node)
                : NULL;
        if (!name || strlen(name) >= sizeof(r->name)) {
            *why = g_strdup("name: not a VM name");
            return false;
        }
        g_strlcpy(r->name, name, sizeof(r->name));
        return true;
    }
    if (strcmp(key, "overrides") == 0)
        return decode_overrides(node, &r->overrides, why);
    for (size_t m = 0; m < G_N_ELEMENTS(int_members); m++) {
        if (strcmp(key, int_members[m].name) != 0)
            continue;
        int64_t v;
        if (!get_int(node, key, int_members[m].lo, int_members[m].hi, &v, why))
            return false;
        set_int(r, (enum int_member)m, v);
        return true;
    }
    *why = g_strdup_printf("unknown member '%.40s'", key);
    return false;
}

/* One element of "vms"; NULL with *why. */
static struct vm_saved *decode_vm(JsonNode *node, guint index, int64_t now_boot_ms, char **why)
{
    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        *why = g_strdup_printf("vms[%u]: not an object", index);
        return NULL;
    }
    g_autofree struct vm_saved *r = g_new0(struct vm_saved, 1);
    JsonObject *o = json_node_get_object(node);
    JsonObjectIter it;
    const char *key;
    JsonNode *value;
    json_object_iter_init(&it, o);
    while (json_object_iter_next(&it, &key, &value)) {
        g_autofree char *what = NULL;
        if (!decode_member(key, value, r, &what)) {
            *why = g_strdup_printf("vms[%u]: %s", index, what);
            return NULL;
        }
    }
    bool stall_pair = (r->stalled_at_bytes != 0) == json_object_has_member(o, "stalled_until_ms");
    const char *bad = stall_pair ? vm_saved_check(r, now_boot_ms)
                                 : "stalled_at_bytes and stalled_until_ms go together";
    if (bad) {
        *why = g_strdup_printf("vms[%u] (%.63s): %s", index, r->name, bad);
        return NULL;
    }
    return g_steal_pointer(&r);
}

/* "ksmd_started" (version 2): a boolean. */
static int decode_host(JsonObject *root, int64_t version, struct state_file_host *host, char **why)
{
    *host = (struct state_file_host){0};
    JsonNode *ks = json_object_get_member(root, "ksmd_started");
    if (!ks)
        return 0;
    if (version < 2)
        return refuse(why, -EINVAL, "unknown member 'ksmd_started' (version %" G_GINT64_FORMAT ")",
                      version);
    if (!JSON_NODE_HOLDS_VALUE(ks) || json_node_get_value_type(ks) != G_TYPE_BOOLEAN)
        return refuse(why, -EINVAL, "ksmd_started: not true or false");
    host->ksmd_started = json_node_get_boolean(ks);
    return 0;
}

/* A string member, or NULL when it is missing or not a string (json-glib's
 * getter raises a critical on an object or array: a foreign file must not). */
static const char *member_str(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);
    if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
        return NULL;
    return json_node_get_string(n);
}

/* The root's members: format and version first, then the boot, the host, then the VMs. */
static int decode_root(JsonObject *root, const char *boot_id, struct state_file_host *host,
                       char **why)
{
    JsonObjectIter it;
    const char *key;
    JsonNode *value;
    json_object_iter_init(&it, root);
    while (json_object_iter_next(&it, &key, &value))
        if (strcmp(key, "format") && strcmp(key, "version") && strcmp(key, "boot_id") &&
            strcmp(key, "ksmd_started") && strcmp(key, "vms"))
            return refuse(why, -EINVAL, "unknown member '%.40s'", key);
    const char *format = member_str(root, "format");
    if (!format || strcmp(format, STATE_FILE_FORMAT) != 0)
        return refuse(why, -EPROTONOSUPPORT, "not a ballastd state file (no \"format\": \"%s\")",
                      STATE_FILE_FORMAT);
    JsonNode *version = json_object_get_member(root, "version");
    int64_t v;
    g_autofree char *bad = NULL;
    if (!version ||
        !get_int(version, "version", STATE_FILE_VERSION_MIN, STATE_FILE_VERSION, &v, &bad))
        return refuse(why, -EPROTONOSUPPORT, "version not %d..%d (what this ballastd reads)",
                      STATE_FILE_VERSION_MIN, STATE_FILE_VERSION);
    const char *boot = member_str(root, "boot_id");
    if (!boot)
        return refuse(why, -EINVAL, "no boot_id");
    if (strcmp(boot, boot_id) != 0)
        return refuse(why, -ESTALE, "written in another boot (%.40s, now %.40s)", boot, boot_id);
    JsonNode *vms = json_object_get_member(root, "vms");
    if (!vms || !JSON_NODE_HOLDS_ARRAY(vms))
        return refuse(why, -EINVAL, "vms: not an array");
    guint n = json_array_get_length(json_node_get_array(vms));
    if (n > STATE_FILE_MAX_VMS)
        return refuse(why, -EINVAL, "%u VMs (at most %d)", n, STATE_FILE_MAX_VMS);
    return decode_host(root, v, host, why);
}

/* Every element of "vms", each name once; all or nothing. */
static int decode_vms(JsonArray *vms, int64_t now_boot_ms, GPtrArray **out, char **why)
{
    g_autoptr(GPtrArray) recs = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < json_array_get_length(vms); i++) {
        struct vm_saved *r = decode_vm(json_array_get_element(vms, i), i, now_boot_ms, why);
        if (!r)
            return -EINVAL;
        g_ptr_array_add(recs, r);
        if (!g_hash_table_add(names, r->name))
            return refuse(why, -EINVAL, "vms[%u]: %.63s twice", i, r->name);
    }
    *out = g_steal_pointer(&recs);
    return 0;
}

int state_file_decode(const char *text, size_t len, const char *boot_id, int64_t now_boot_ms,
                      GPtrArray **out, char **why)
{
    return state_file_decode_host(text, len, boot_id, now_boot_ms, out, NULL, why);
}

int state_file_decode_host(const char *text, size_t len, const char *boot_id, int64_t now_boot_ms,
                           GPtrArray **out, struct state_file_host *host, char **why)
{
    struct state_file_host ignored;
    if (!host)
        host = &ignored;
    *host = (struct state_file_host){0};
    *out = NULL;
    *why = NULL;
    if (len > STATE_FILE_MAX_BYTES)
        return refuse(why, -EFBIG, "%zu bytes (at most %u)", len, STATE_FILE_MAX_BYTES);
    if (memchr(text, '\0', len))
        return refuse(why, -EINVAL, "a NUL byte: not text");
    if (json_depth(text, len) > STATE_FILE_MAX_DEPTH)
        return refuse(why, -EINVAL, "nested deeper than %d", STATE_FILE_MAX_DEPTH);
    const char *leak = json_glib_leak(text, len);
    if (leak)
        return refuse(why, -EINVAL, "%s", leak);
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GError) err = NULL;
    if (!json_parser_load_from_data(parser, text, (gssize)len, &err))
        return refuse(why, -EINVAL, "not JSON: %s", err->message);
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return refuse(why, -EPROTONOSUPPORT, "not a ballastd state file (not an object)");
    struct state_file_host h = {0};
    int rc = decode_root(json_node_get_object(root), boot_id, &h, why);
    if (rc < 0)
        return rc;
    JsonNode *vms = json_object_get_member(json_node_get_object(root), "vms");
    rc = decode_vms(json_node_get_array(vms), now_boot_ms, out, why);
    if (rc == 0)
        *host = h; /* all or nothing */
    return rc;
}

/* The file is a regular file of ours that nobody else may write; then its
 * text, at most the cap (+1 byte, to tell a longer one). */
static int read_capped(int fd, char **text, size_t *len, char **why)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return refuse(why, -errno, "%s", g_strerror(errno));
    if (!S_ISREG(st.st_mode))
        return refuse(why, -EPERM, "not a regular file");
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
        return refuse(why, -EPERM, "not ballastd's own (owner uid %u, mode %04o)",
                      (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    if (st.st_size > (off_t)STATE_FILE_MAX_BYTES)
        return refuse(why, -EFBIG, "%lld bytes (at most %u)", (long long)st.st_size,
                      STATE_FILE_MAX_BYTES);
    size_t got = 0, room = (size_t)st.st_size + 1;
    g_autofree char *buf = g_malloc(room);
    while (got < room) {
        ssize_t n = read(fd, buf + got, room - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return refuse(why, -errno, "%s", g_strerror(errno));
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got >= room) /* it grew while we read: not a file at rest */
        return refuse(why, -EFBIG, "changed while read");
    *text = g_steal_pointer(&buf);
    *len = got;
    return 0;
}

int state_file_read(const char *path, const char *boot_id, int64_t now_boot_ms, GPtrArray **out,
                    char **why)
{
    return state_file_read_host(path, boot_id, now_boot_ms, out, NULL, why);
}

int state_file_read_host(const char *path, const char *boot_id, int64_t now_boot_ms,
                         GPtrArray **out, struct state_file_host *host, char **why)
{
    if (host)
        *host = (struct state_file_host){0};
    *out = NULL;
    *why = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT)
            return -ENOENT;
        return refuse(why, err == ELOOP ? -EPERM : -err, "%s",
                      err == ELOOP ? "a symbolic link" : g_strerror(err));
    }
    g_autofree char *text = NULL;
    size_t len = 0;
    int rc = read_capped(fd, &text, &len, why);
    close(fd);
    if (rc < 0)
        return rc;
    return state_file_decode_host(text, len, boot_id, now_boot_ms, out, host, why);
}

static int write_all(int fd, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        text += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync of the directory holding path: the rename itself must be durable. */
static int sync_dir(const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int state_file_write(const char *path, const char *text, size_t len)
{
    g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    int rc = write_all(fd, text, len);
    if (rc == 0 && fchmod(fd, 0600) < 0) /* a tmp file left by someone else keeps its mode */
        rc = -errno;
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    return sync_dir(path);
}

char *state_file_default_path(const char *socket_path)
{
    if (g_str_has_suffix(socket_path, ".sock"))
        return g_strdup_printf("%.*s.state.json", (int)(strlen(socket_path) - strlen(".sock")),
                               socket_path);
    return g_strconcat(socket_path, ".state.json", NULL);
}

void state_file_boot_id(const char *proc_root, char *buf, size_t len)
{
    size_t n = 0;
    if (procfile_read(proc_root, "sys/kernel/random/boot_id", buf, len, &n) < 0) {
        if (len)
            buf[0] = '\0';
        return;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isxdigit(buf[i]) && buf[i] != '-') {
            buf[0] = '\0'; /* not a boot id: treat as unknown */
            return;
        }
}
