/*
 * Copyright (C) the gobi authors
 *
 * The progress line's pieces: sizes, durations, the smoothed rate, the
 * ETA, and the line itself at several widths.
 */

#include "unit.h"

#include "gobi_progress_fmt.h"


static void
test_bytes(void)
{
    char  b[32];

    is_str(gobi_fmt_bytes(b, sizeof(b), 0), "0 B", "0");
    is_str(gobi_fmt_bytes(b, sizeof(b), 1023), "1023 B", "1023");
    is_str(gobi_fmt_bytes(b, sizeof(b), 1024), "1.0 KiB", "1 KiB");
    is_str(gobi_fmt_bytes(b, sizeof(b), 1536), "1.5 KiB", "1.5 KiB");
    is_str(gobi_fmt_bytes(b, sizeof(b), 1024 * 1024 - 1), "1.0 MiB",
           "just under 1 MiB is not 1024.0 KiB");
    is_str(gobi_fmt_bytes(b, sizeof(b), 64.0 * 1024 * 1024), "64.0 MiB",
           "64 MiB");
    is_str(gobi_fmt_bytes(b, sizeof(b), 3.0 * 1024 * 1024 * 1024 * 1024 *
                          1024), "3072.0 TiB", "TiB is the largest unit");
    is_str(gobi_fmt_bytes(b, sizeof(b), -5), "0 B", "negative: 0");
}


static void
test_duration(void)
{
    char  b[32];

    is_str(gobi_fmt_duration(b, sizeof(b), 0), "0:00", "0");
    is_str(gobi_fmt_duration(b, sizeof(b), 0.2), "0:01", "rounds up");
    is_str(gobi_fmt_duration(b, sizeof(b), 7), "0:07", "7 s");
    is_str(gobi_fmt_duration(b, sizeof(b), 754), "12:34", "12:34");
    is_str(gobi_fmt_duration(b, sizeof(b), 3723), "1:02:03", "hours");
    is_str(gobi_fmt_duration(b, sizeof(b), -1), "--:--", "unknown");
    is_str(gobi_fmt_duration(b, sizeof(b), 400000), "--:--",
           "over 99 hours: unknown");
}


static void
test_rate(void)
{
    double  r;
    int     i;

    r = gobi_progress_rate(-1, 1000, 100, 2000);
    ok(r > 9999 && r < 10001, "the first sample is the rate: %.1f", r);

    r = gobi_progress_rate(r, 0, 0, 2000);
    ok(r > 9999 && r < 10001, "no time passed: unchanged");

    r = gobi_progress_rate(r, 0, 100, 2000);
    ok(r > 9000 && r < 10000, "one empty 100 ms moves it a little: %.1f", r);

    for (i = 0; i < 100; i++) {
        r = gobi_progress_rate(r, 5000, 100, 2000);
    }

    ok(r > 49000 && r < 51000, "a steady rate is reached: %.1f", r);

    r = gobi_progress_rate(r, -5000, 100, 2000);
    ok(r >= 0, "a retry's bytes taken back never make it negative");

    r = gobi_progress_rate(-1, -10, 100, 2000);
    ok(r == 0, "nor as the first sample");
}


static void
test_eta(void)
{
    gobi_progress_view_t  v;

    memset(&v, 0, sizeof(v));
    v.phase = "upload";
    v.files_total = 10;
    v.bytes_total = 1000;
    v.rate = -1;

    ok(gobi_progress_eta(&v) < 0, "no rate yet: unknown");

    v.bytes = 400;
    v.rate = 100;
    ok(gobi_progress_eta(&v) == 6, "bytes left at the rate");

    v.bytes_total = 0;
    v.bytes = 0;
    v.files = 2;
    v.elapsed_ms = 1000;
    ok(gobi_progress_eta(&v) == 4, "no bytes: files left at their pace");

    v.files = 0;
    ok(gobi_progress_eta(&v) < 0, "no file done yet: unknown");

    v.files = 10;
    ok(gobi_progress_eta(&v) == 0, "all done: 0");
}


static void
test_line(void)
{
    gobi_progress_view_t  v;
    char                  b[256];

    memset(&v, 0, sizeof(v));
    v.phase = "clone";
    v.files = 312;
    v.files_total = 501;
    v.bytes = 32 * 1024 * 1024;
    v.bytes_total = 64 * 1024 * 1024;
    v.rate = 16 * 1024 * 1024;
    v.elapsed_ms = 2000;

    is_str(gobi_progress_line(b, sizeof(b), &v, 100),
           "clone  50% [##########..........] 312/501 files, "
           "32.0 MiB/64.0 MiB, 16.0 MiB/s, ETA 0:02", "the line at 100");

    is_str(gobi_progress_line(b, sizeof(b), &v, 80),
           "clone  50% [#####......] 312/501 files, "
           "32.0 MiB/64.0 MiB, 16.0 MiB/s, ETA 0:02",
           "at 80 the bar is shorter");
    ok(strlen(b) == 79, "and the line fills 79 columns");

    is_str(gobi_progress_line(b, sizeof(b), &v, 70),
           "clone  50% 312/501 files, 32.0 MiB/64.0 MiB, 16.0 MiB/s, "
           "ETA 0:02", "at 70 no bar");

    gobi_progress_line(b, sizeof(b), &v, 30);
    ok(strlen(b) == 29, "at 30 cut to 29 columns: \"%s\"", b);

    v.rate = -1;
    is_str(gobi_progress_line(b, sizeof(b), &v, 70),
           "clone  50% 312/501 files, 32.0 MiB/64.0 MiB, --/s, ETA --:--",
           "no rate yet");

    v.final = 1;
    v.files = 501;
    v.bytes = v.bytes_total;
    is_str(gobi_progress_line(b, sizeof(b), &v, 100),
           "clone 501/501 files, 64.0 MiB in 0:02, 32.0 MiB/s, done",
           "the final line");

    v.files = 500;
    is_str(gobi_progress_line(b, sizeof(b), &v, 100),
           "clone 500/501 files, 64.0 MiB in 0:02, 32.0 MiB/s, stopped",
           "stopped early");

    memset(&v, 0, sizeof(v));
    v.phase = "upload";
    v.files = 1;
    v.files_total = 4;
    v.rate = 0;
    v.elapsed_ms = 500;
    is_str(gobi_progress_line(b, sizeof(b), &v, 50),
           "upload  25% 1/4 files, 0 B/0 B, 0 B/s, ETA 0:02",
           "deletions only: by files");
}


int
main(void)
{
    test_bytes();
    test_duration();
    test_rate();
    test_eta();
    test_line();

    done_testing();
}
