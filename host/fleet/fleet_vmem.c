/*
 * The virtio-mem actuator of a fleet guest: its name, its size rules and its
 * QEMU arguments (fleet_vmem.h). Sizes are checked here, once, before any
 * QEMU sees them: QEMU would refuse some of them only after daemonizing
 * half a fleet, and accept others (a requested size between blocks) that
 * the guest driver then never reaches.
 */
#include "fleet_vmem.h"

#include <errno.h>
#include <string.h>

static const char *const actuator_names[] = {
    [FLEET_ACTUATOR_BALLOON] = "balloon",
    [FLEET_ACTUATOR_VIRTIO_MEM] = "virtio-mem",
    [FLEET_ACTUATOR_BOTH] = "both",
};

const char *fleet_actuator_name(enum fleet_actuator a)
{
    return (unsigned)a < G_N_ELEMENTS(actuator_names) ? actuator_names[a] : "?";
}

int fleet_actuator_from_name(const char *name, enum fleet_actuator *out)
{
    for (size_t i = 0; name && i < G_N_ELEMENTS(actuator_names); i++) {
        if (strcmp(name, actuator_names[i]) == 0) {
            *out = (enum fleet_actuator)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool fleet_actuator_has_balloon(enum fleet_actuator a)
{
    return a == FLEET_ACTUATOR_BALLOON || a == FLEET_ACTUATOR_BOTH;
}

bool fleet_actuator_has_vmem(enum fleet_actuator a)
{
    return a == FLEET_ACTUATOR_VIRTIO_MEM || a == FLEET_ACTUATOR_BOTH;
}

static int refuse(char **why, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static int refuse(char **why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return -EINVAL;
}

#define MIB(b) ((unsigned long long)((b) >> 20))

int fleet_vmem_check(const struct fleet_vmem_sizes *s, uint64_t min_boot_bytes,
                     uint64_t max_bytes_limit, char **why)
{
    *why = NULL;
    const struct {
        const char *what;
        uint64_t bytes;
    } sizes[] = {
        {"--boot-memory", s->boot_bytes},
        {"--memory", s->nominal_bytes},
        {"--max-memory", s->max_bytes},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        if (sizes[i].bytes % FLEET_VMEM_BLOCK_BYTES != 0)
            return refuse(why,
                          "%s %llu MiB is not a multiple of virtio-mem's %llu MiB block "
                          "(the unit of plug and unplug)",
                          sizes[i].what, MIB(sizes[i].bytes), MIB(FLEET_VMEM_BLOCK_BYTES));
    }
    if (s->boot_bytes < min_boot_bytes)
        return refuse(why,
                      "--boot-memory %llu MiB is too small: the guest kernel needs at least "
                      "%llu MiB to boot",
                      MIB(s->boot_bytes), MIB(min_boot_bytes));
    if (s->boot_bytes > s->nominal_bytes)
        return refuse(why, "--boot-memory %llu MiB is more than --memory %llu MiB",
                      MIB(s->boot_bytes), MIB(s->nominal_bytes));
    if (s->nominal_bytes > s->max_bytes)
        return refuse(why, "--memory %llu MiB is more than --max-memory %llu MiB",
                      MIB(s->nominal_bytes), MIB(s->max_bytes));
    if (s->max_bytes == s->boot_bytes)
        return refuse(why,
                      "--max-memory %llu MiB equals --boot-memory: virtio-mem would have "
                      "nothing to plug (raise --max-memory or --memory, or lower --boot-memory)",
                      MIB(s->max_bytes));
    if (s->max_bytes > max_bytes_limit)
        return refuse(why, "--max-memory %llu MiB is more than %llu MiB per guest",
                      MIB(s->max_bytes), MIB(max_bytes_limit));
    return 0;
}

uint64_t fleet_vmem_region_bytes(const struct fleet_vmem_sizes *s)
{
    return s->max_bytes - s->boot_bytes;
}

uint64_t fleet_vmem_requested_bytes(const struct fleet_vmem_sizes *s)
{
    return s->nominal_bytes - s->boot_bytes;
}

char *fleet_vmem_memory_arg(const struct fleet_vmem_sizes *s)
{
    /*
     * maxmem > -m gives the machine a device memory region (QEMU 7.2 needs
     * no slots= for virtio-mem; slots count DIMMs), and with it an ACPI
     * NUMA node, which Linux needs to place hot-plugged memory.
     */
    return g_strdup_printf("%lluM,maxmem=%lluM", MIB(s->boot_bytes), MIB(s->max_bytes));
}

void fleet_vmem_add_args(GPtrArray *argv, const struct fleet_vmem_sizes *s, bool merge)
{
    /* Anonymous memory like -m's. The backend takes the machine's mem-merge
     * by default (checked with qom-get on QEMU 7.2); spelt out so that the
     * command line says what KSM may do with the plugged memory. */
    g_ptr_array_add(argv, g_strdup("-object"));
    g_ptr_array_add(argv, g_strdup_printf("memory-backend-ram,id=" FLEET_VMEM_MEMDEV_ID
                                          ",size=%lluM,merge=%s",
                                          MIB(fleet_vmem_region_bytes(s)), merge ? "on" : "off"));
    g_ptr_array_add(argv, g_strdup("-device"));
    g_ptr_array_add(argv, g_strdup_printf("virtio-mem-pci,id=" FLEET_VMEM_DEVICE_ID
                                          ",memdev=" FLEET_VMEM_MEMDEV_ID
                                          ",block-size=%lluM,requested-size=%lluM",
                                          MIB(FLEET_VMEM_BLOCK_BYTES),
                                          MIB(fleet_vmem_requested_bytes(s))));
}
