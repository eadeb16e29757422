/*
 * Init duties when the agent is PID 1 of the tiny guest: mount what the
 * kernel did not (idempotently: /init may already have), reap every orphan
 * so no zombie piles up, and start the workload the kernel command line
 * names. PID 1 must never exit (the kernel panics), so nothing here fails
 * hard: a missing mount or a dead workload is logged and life goes on.
 */
#include "agent.h"

#include "procfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROC_SUPER_MAGIC    0x9fa0
#define SYSFS_MAGIC         0x62656572
#define TMPFS_MAGIC         0x01021994
#define CGROUP2_SUPER_MAGIC 0x63677270

#define WORKLOAD_PATH "/bin/ballast-workload"
#define WORKLOAD_KEY  "ballast.workload"

static pid_t workload_pid;

static void mount_once(const char *source, const char *target, const char *type,
                       unsigned long magic)
{
    struct statfs st;
    if (statfs(target, &st) == 0 && (unsigned long)st.f_type == magic)
        return; /* already there: mounting proc twice would stack it */
    mkdir(target, 0755);
    if (mount(source, target, type, MS_NOSUID | MS_NOEXEC * (magic != TMPFS_MAGIC), NULL) < 0 &&
        errno != EBUSY)
        agent_log("mount %s on %s: %s", type, target, strerror(errno));
}

void agent_pid1_mounts(void)
{
    mount_once("proc", "/proc", "proc", PROC_SUPER_MAGIC);
    mount_once("sysfs", "/sys", "sysfs", SYSFS_MAGIC);
    mount_once("devtmpfs", "/dev", "devtmpfs", TMPFS_MAGIC);
    mount_once("cgroup2", "/sys/fs/cgroup", "cgroup2", CGROUP2_SUPER_MAGIC);
}

int agent_cmdline_value(const char *cmdline, const char *key, char *out, size_t out_len)
{
    size_t key_len = strlen(key);
    const char *p = cmdline;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        const char *word = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n')
            p++;
        size_t len = (size_t)(p - word);
        if (len > key_len && memcmp(word, key, key_len) == 0 && word[key_len] == '=') {
            size_t vlen = len - key_len - 1;
            if (vlen >= out_len)
                return -ENAMETOOLONG;
            memcpy(out, word + key_len + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
    }
    return -ENOENT;
}

void agent_pid1_start_workload(const char *proc_root)
{
    char cmdline[4096], spec[512];
    int fd = procfile_open(proc_root, "cmdline", O_RDONLY);
    if (fd < 0)
        return;
    ssize_t n = read(fd, cmdline, sizeof(cmdline) - 1);
    close(fd);
    if (n <= 0)
        return;
    cmdline[n] = '\0';
    if (agent_cmdline_value(cmdline, WORKLOAD_KEY, spec, sizeof(spec)) < 0)
        return;
    pid_t pid = fork();
    if (pid < 0) {
        agent_log("workload: fork: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        char *argv[] = {(char *)WORKLOAD_PATH, spec, NULL};
        execv(WORKLOAD_PATH, argv);
        agent_log("workload: exec %s: %s", WORKLOAD_PATH, strerror(errno));
        _exit(127);
    }
    workload_pid = pid;
    agent_log("workload started: pid %d, %s", (int)pid, spec);
}

void agent_pid1_reap(void)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        if (pid != workload_pid)
            continue;
        workload_pid = 0;
        if (WIFEXITED(status))
            agent_log("workload exited with %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
            agent_log("workload killed by signal %d", WTERMSIG(status));
    }
}
