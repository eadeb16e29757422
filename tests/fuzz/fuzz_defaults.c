/*
 * Defaults for every fuzz target (linked in by ballast_fuzzer()); the
 * environment still overrides each of them.
 *
 * G_SLICE=always-malloc: GLib's slice allocator (json-glib takes every
 * node, object and array from it) keeps freed chunks in its own caches and
 * carves new ones out of pages it got in bulk, so LeakSanitizer sees
 * neither a leak through it (the chunk is inside a live page, and stale
 * pointers in the caches keep it "reachable") nor a use after free (ASan
 * never saw the chunk freed). Every slice is a malloc of its own instead.
 * It also made the targets slow: libFuzzer runs LeakSanitizer's full scan
 * when an input mallocs more than it frees twice in a row, which a leak
 * hidden this way does every time, and it turns leak detection off for the
 * rest of the run after 1,000 such scans (a campaign of 1e7 inputs would
 * have run most of its inputs without it). fuzz.qmp.framing spent half its
 * time in those scans; they found json-glib's leak of a second top-level
 * value ("5[1]", json_glib_leak.h) at once with this set.
 *
 * quarantine_size_mb=16 (ASan's default is 256): freed memory waits in the
 * quarantine before it is handed out again, so a use after free is caught
 * while the chunk is still there. One input of any target frees far less
 * than 16 MiB, so every use after free within an input (and across many
 * inputs) is still caught. With 256 MiB every allocation of a run's first
 * 256 MiB comes from fresh pages: the page faults took a third of the time
 * of the JSON and config targets on this machine (fuzz.qmp.framing 2,200
 * -> 5,300 exec/s, fuzz.config.load 3,200 -> 7,100).
 */
#include <stdlib.h>
#include <unistd.h>

/* GLib reads G_SLICE in its own constructor, before this one runs (and
 * g_slice_set_config() is refused by then), so the variable must be in the
 * environment the process starts with: without it, the target runs itself
 * again with it (glibc hands constructors main's arguments). scripts/fuzz,
 * ctest and a target run by hand all get the same allocator this way. */
__attribute__((constructor)) static void fuzz_glib_defaults(int argc, char **argv, char **envp)
{
    (void)argc, (void)envp;
    if (getenv("G_SLICE"))
        return; /* set: by this function before the exec, or on purpose */
    setenv("G_SLICE", "always-malloc", 1);
    execv("/proc/self/exe", argv);
    /* No exec: the run goes on, slices still from GLib's caches. */
}

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=16";
}
