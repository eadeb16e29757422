/*
 * AddressSanitizer defaults for every fuzz target (linked in by
 * ballast_fuzzer()); ASAN_OPTIONS still overrides each of them.
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
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=16";
}
