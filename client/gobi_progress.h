/*
 * Copyright (C) the gobi authors
 *
 * The progress line of a transfer (a pull's downloads, a push's uploads):
 * on stderr, only when stderr is a terminal and neither -q nor --json was
 * given; redrawn at most 10 times a second with \r and clear-to-end; a
 * final line stays.  A small transfer (few files, few bytes) shows only
 * once it has taken more than a second, so a quick pass stays quiet.
 *
 * The steps give the totals before the first byte moves; the HTTP layer
 * reports bytes as they flow (gobi_req_t.flow), so a big file moves the
 * line too; a finished file settles its bytes.
 */

#ifndef _GOBI_PROGRESS_H_INCLUDED_
#define _GOBI_PROGRESS_H_INCLUDED_


#include <stdint.h>


/* once, after the options are read: is there a terminal to draw on */
void gobi_progress_init(void);

void gobi_progress_start(const char *phase, int64_t files, int64_t bytes);
void gobi_progress_add_total(int64_t files, int64_t bytes);
/* body bytes sent or received (< 0: taken back, a request restarted) */
void gobi_progress_bytes(int64_t n);
/* a file is done (or skipped): size bytes in all, flowed already counted */
void gobi_progress_file_done(int64_t size, int64_t flowed);
/* the final line, if a line was shown; safe to call twice */
void gobi_progress_end(void);

/* takes the line off the screen before other output (redrawn later) */
void gobi_progress_clear(void);


#endif /* _GOBI_PROGRESS_H_INCLUDED_ */
