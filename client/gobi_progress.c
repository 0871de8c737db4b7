/*
 * Copyright (C) the gobi authors
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "gobi.h"
#include "gobi_progress.h"
#include "gobi_progress_fmt.h"


#define GOBI_PROGRESS_EVERY_MS  100        /* at most 10 redraws a second */
#define GOBI_PROGRESS_QUIET_MS  1000       /* a small transfer waits this */
#define GOBI_PROGRESS_TAU_MS    3000       /* the rate's smoothing */
#define GOBI_PROGRESS_FILES     64         /* "many files" */
#define GOBI_PROGRESS_BYTES     (8 * 1024 * 1024)   /* "big" */


typedef struct {
    int            tty;                    /* stderr is a terminal */
    int            active;                 /* between start and end */
    int            shown;                  /* drawn in this transfer */
    int            drawn;                  /* a line is on the screen */
    const char    *phase;
    int64_t        files;
    int64_t        files_total;
    int64_t        bytes;
    int64_t        bytes_total;
    int64_t        start;
    int64_t        last_draw;
    int64_t        last_bytes;             /* bytes at last_draw */
    double         rate;
} gobi_progress_t;


static gobi_progress_t  gobi_prog;


static void gobi_progress_tick(void);
static void gobi_progress_draw(int final);


void
gobi_progress_init(void)
{
    const char  *term;

    term = getenv("TERM");

    gobi_prog.tty = isatty(STDERR_FILENO)
                    && !(term && strcmp(term, "dumb") == 0)
                    && gobi_opts.verbose >= 0 && !gobi_opts.json;
}


void
gobi_progress_start(const char *phase, int64_t files, int64_t bytes)
{
    gobi_progress_end();

    gobi_prog.active = gobi_prog.tty;
    gobi_prog.shown = 0;
    gobi_prog.phase = phase;
    gobi_prog.files = 0;
    gobi_prog.files_total = files;
    gobi_prog.bytes = 0;
    gobi_prog.bytes_total = bytes;
    gobi_prog.start = gobi_mono_ms();
    gobi_prog.last_draw = gobi_prog.start;
    gobi_prog.last_bytes = 0;
    gobi_prog.rate = -1;

    if (gobi_prog.active && (files >= GOBI_PROGRESS_FILES
                             || bytes >= GOBI_PROGRESS_BYTES))
    {
        gobi_progress_draw(0);
    }
}


void
gobi_progress_add_total(int64_t files, int64_t bytes)
{
    gobi_prog.files_total += files;
    gobi_prog.bytes_total += bytes;
}


void
gobi_progress_bytes(int64_t n)
{
    gobi_prog.bytes += n;
    gobi_progress_tick();
}


void
gobi_progress_file_done(int64_t size, int64_t flowed)
{
    gobi_prog.files++;
    gobi_prog.bytes += size - flowed;
    gobi_progress_tick();
}


void
gobi_progress_end(void)
{
    if (!gobi_prog.active) {
        return;
    }

    if (gobi_prog.shown) {
        gobi_progress_draw(1);
        fputc('\n', stderr);
        gobi_prog.drawn = 0;
    }

    gobi_prog.active = 0;
}


void
gobi_progress_clear(void)
{
    if (gobi_prog.drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        gobi_prog.drawn = 0;
    }
}


static void
gobi_progress_tick(void)
{
    int64_t  now;

    if (!gobi_prog.active) {
        return;
    }

    now = gobi_mono_ms();

    if (now - gobi_prog.last_draw < GOBI_PROGRESS_EVERY_MS
        || (!gobi_prog.shown
            && now - gobi_prog.start < GOBI_PROGRESS_QUIET_MS))
    {
        return;
    }

    gobi_prog.rate = gobi_progress_rate(gobi_prog.rate,
                                        gobi_prog.bytes - gobi_prog.last_bytes,
                                        now - gobi_prog.last_draw,
                                        GOBI_PROGRESS_TAU_MS);
    gobi_prog.last_draw = now;
    gobi_prog.last_bytes = gobi_prog.bytes;

    gobi_progress_draw(0);
}


static void
gobi_progress_draw(int final)
{
    gobi_progress_view_t  v;
    struct winsize        ws;
    char                  line[512];
    int                   width;

    width = 80;

    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        width = ws.ws_col < sizeof(line) ? ws.ws_col : sizeof(line) - 1;
    }

    v.phase = gobi_prog.phase;
    v.files = gobi_prog.files;
    v.files_total = gobi_prog.files_total;
    v.bytes = gobi_prog.bytes;
    v.bytes_total = gobi_prog.bytes_total;
    v.rate = gobi_prog.rate;
    v.elapsed_ms = gobi_mono_ms() - gobi_prog.start;
    v.final = final;

    /* stdout first: a line printed there must not land inside ours */
    fflush(stdout);

    fprintf(stderr, "\r\033[K%s",
            gobi_progress_line(line, sizeof(line), &v, width));
    fflush(stderr);

    gobi_prog.shown = 1;
    gobi_prog.drawn = 1;
}
