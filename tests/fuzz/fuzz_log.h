/*
 * fuzz_log.h - glib messages of the given levels abort the target.
 *
 * g_log_set_always_fatal() stops on G_BREAKPOINT, a SIGTRAP, which
 * libFuzzer does not catch: the run ends with "Trace/breakpoint trap" and
 * no crash input is kept (a campaign of fuzz.ctl.reply lost the one that
 * found a critical that way). abort() is a crash libFuzzer saves the input
 * of. Messages of other levels go nowhere: a hostile input causes many.
 */
#ifndef BALLAST_FUZZ_LOG_H
#define BALLAST_FUZZ_LOG_H

#include <stdlib.h>

#include <glib.h>

static GLogWriterOutput fuzz_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n,
                                        gpointer data)
{
    GLogLevelFlags fatal = (GLogLevelFlags)GPOINTER_TO_INT(data);
    if (level & (fatal | G_LOG_LEVEL_ERROR)) {
        g_log_writer_standard_streams(level, fields, n, NULL); /* say what, then stop */
        abort();
    }
    return G_LOG_WRITER_HANDLED;
}

static inline void fuzz_log_fatal(GLogLevelFlags levels)
{
    g_log_set_writer_func(fuzz_log_writer, GINT_TO_POINTER((int)levels), NULL);
}

#endif
