/*
 * `fleet start --wait`'s progress on stack structs: when "guests ready
 * n/N" is shown (a terminal redraws on a change and every second; a log
 * gets a line per change at most every 2 s and a sign of life every 30 s),
 * and the exact text of both.
 */
#include "cunit_main.h"
#include "fleet_progress.h"

#include <string.h>

static void test_first_call_always_due(void)
{
    struct fleet_progress lines = fleet_progress_init(FLEET_PROGRESS_LINES, 8);
    struct fleet_progress tty = fleet_progress_init(FLEET_PROGRESS_TTY, 8);
    CU_ASSERT_TRUE(fleet_progress_due(&lines, 0, 100.0));
    CU_ASSERT_TRUE(fleet_progress_due(&tty, 0, 100.0));
}

static void test_lines_per_change_rate_limited(void)
{
    struct fleet_progress p = fleet_progress_init(FLEET_PROGRESS_LINES, 8);
    fleet_progress_shown(&p, 0, 10.0);
    CU_ASSERT_FALSE(fleet_progress_due(&p, 0, 11.0)); /* nothing changed */
    CU_ASSERT_FALSE(fleet_progress_due(&p, 3, 11.9)); /* changed, but 1.9 s after the last */
    CU_ASSERT_TRUE(fleet_progress_due(&p, 3, 12.0));  /* 2 s: the change is said */
    fleet_progress_shown(&p, 3, 12.0);
    CU_ASSERT_FALSE(fleet_progress_due(&p, 3, 41.9)); /* quiet */
    CU_ASSERT_TRUE(fleet_progress_due(&p, 3, 42.0));  /* 30 s of nothing: still waiting */
    fleet_progress_shown(&p, 3, 42.0);
    CU_ASSERT_TRUE(fleet_progress_due(&p, 8, 44.5));
}

/* 48 guests coming up one every 100 ms poll: a log gets a line every 2 s, not 48. */
static void test_lines_burst_bounded(void)
{
    struct fleet_progress p = fleet_progress_init(FLEET_PROGRESS_LINES, 48);
    unsigned lines = 0;
    for (unsigned i = 0; i <= 48; i++) {
        double now = 20.0 + i / 10.0; /* exact at the 2 s marks */
        if (fleet_progress_due(&p, i, now)) {
            fleet_progress_shown(&p, i, now);
            lines++;
        }
    }
    CU_ASSERT_EQUAL(lines, 3); /* at 20.0, 22.0 and 24.0 s */
    CU_ASSERT_EQUAL(p.shown_ready, 40);
}

static void test_tty_redraws_on_change_and_each_second(void)
{
    struct fleet_progress p = fleet_progress_init(FLEET_PROGRESS_TTY, 8);
    fleet_progress_shown(&p, 0, 10.0);
    CU_ASSERT_FALSE(fleet_progress_due(&p, 0, 10.5));
    CU_ASSERT_TRUE(fleet_progress_due(&p, 1, 10.1)); /* a change at once */
    CU_ASSERT_TRUE(fleet_progress_due(&p, 0, 11.0)); /* the time ticks */
}

static void test_format(void)
{
    char buf[96];
    struct fleet_progress lines = fleet_progress_init(FLEET_PROGRESS_LINES, 8);
    struct fleet_progress tty = fleet_progress_init(FLEET_PROGRESS_TTY, 8);
    int n = fleet_progress_format(&lines, 3, 12.44, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "fleet: guests ready 3/8 (12.4 s)\n");
    CU_ASSERT_EQUAL(n, (int)strlen(buf));
    fleet_progress_format(&tty, 8, 80.0, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "\r\033[Kfleet: guests ready 8/8 (80.0 s)");
    fleet_progress_format(&lines, 0, -0.01, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "fleet: guests ready 0/8 (0.0 s)\n");
    /* Cut, never overrun; the wanted length still returned. */
    n = fleet_progress_format(&lines, 3, 1.0, buf, 8);
    CU_ASSERT_STRING_EQUAL(buf, "fleet: ");
    CU_ASSERT_EQUAL(n, (int)strlen("fleet: guests ready 3/8 (1.0 s)\n"));
}

static void test_clear(void)
{
    struct fleet_progress lines = fleet_progress_init(FLEET_PROGRESS_LINES, 2);
    struct fleet_progress tty = fleet_progress_init(FLEET_PROGRESS_TTY, 2);
    CU_ASSERT_STRING_EQUAL(fleet_progress_clear(&tty), ""); /* nothing drawn yet */
    fleet_progress_shown(&tty, 1, 1.0);
    fleet_progress_shown(&lines, 1, 1.0);
    CU_ASSERT_STRING_EQUAL(fleet_progress_clear(&tty), "\r\033[K");
    CU_ASSERT_STRING_EQUAL(fleet_progress_clear(&lines), ""); /* a log keeps its lines */
}

static void test_style(void)
{
    CU_ASSERT_EQUAL(fleet_progress_style_for(NULL, true), FLEET_PROGRESS_TTY);
    CU_ASSERT_EQUAL(fleet_progress_style_for(NULL, false), FLEET_PROGRESS_LINES);
    CU_ASSERT_EQUAL(fleet_progress_style_for("auto", true), FLEET_PROGRESS_TTY);
    CU_ASSERT_EQUAL(fleet_progress_style_for("lines", true), FLEET_PROGRESS_LINES);
    CU_ASSERT_EQUAL(fleet_progress_style_for("tty", false), FLEET_PROGRESS_TTY);
    CU_ASSERT_EQUAL(fleet_progress_style_for("TTY", false), FLEET_PROGRESS_LINES);
}

static CU_TestInfo progress_tests[] = {
    {"style: the terminal test, BALLAST_PROGRESS over it", test_style},
    {"first call always due", test_first_call_always_due},
    {"log: a line per change, rate-limited", test_lines_per_change_rate_limited},
    {"log: a burst of guests bounded", test_lines_burst_bounded},
    {"terminal: redraw on change and each second", test_tty_redraws_on_change_and_each_second},
    {"text", test_format},
    {"clear", test_clear},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"fleet progress", NULL, NULL, NULL, NULL, progress_tests},
    CU_SUITE_INFO_NULL,
};
