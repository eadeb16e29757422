/*
 * The agent's one logging function: a line to stderr, which is the console
 * when the agent is PID 1. Formats on the stack, one write(): no stdio
 * buffering to lose when the guest dies.
 */
#include "agent.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void agent_log(const char *fmt, ...)
{
    char line[256];
    static const char prefix[] = "ballast-agent: ";
    memcpy(line, prefix, sizeof(prefix) - 1);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + sizeof(prefix) - 1, sizeof(line) - sizeof(prefix), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len =
        sizeof(prefix) - 1 +
        ((size_t)n < sizeof(line) - sizeof(prefix) ? (size_t)n : sizeof(line) - sizeof(prefix) - 1);
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
