/*
 * Which host process is a libvirt domain's QEMU. libvirt's public API does
 * not say (the pid file's place differs between qemu:///system and
 * session), but libvirt always starts QEMU with `-name guest=NAME,...`, so
 * the process is found by its command line. ballastd needs the pid for the
 * per-process KSM figures (/proc/PID/ksm_stat).
 */
#ifndef BALLAST_LV_PID_H
#define BALLAST_LV_PID_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * True when cmdline (NUL-separated argv, as in /proc/PID/cmdline, len bytes)
 * has "-name" followed by "guest=NAME" or "guest=NAME,..." (commas in NAME
 * doubled, as libvirt escapes them) or a bare "NAME". Pure.
 */
bool lv_cmdline_is_guest(const char *cmdline, size_t len, const char *name);

/* Scans <proc_root>/[0-9]* for the guest's QEMU; its pid, or -1. */
pid_t lv_find_qemu_pid(const char *proc_root, const char *name);

/* Whether <proc_root>/PID is still that guest's QEMU. */
bool lv_pid_is_guest(const char *proc_root, pid_t pid, const char *name);

#endif
