/*
 * Copyright (C) the gobi authors
 *
 * What the client tells the user: plain lines and JSON for scripts (the
 * progress line is gobi_progress.h's).
 */

#ifndef _GOBI_OUT_H_INCLUDED_
#define _GOBI_OUT_H_INCLUDED_


#include <stdint.h>

#include <yajl/yajl_gen.h>

#include "gobi.h"


/* normal output (stdout): not with -q or --json */
void gobi_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* -v only (stdout) */
void gobi_out_v(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* warnings (stderr): not with -q */
void gobi_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* the final error line (stderr), and with --json an object on stdout */
void gobi_out_error(int code);

/* JSON output: a generator printing to stdout */
yajl_gen gobi_json_out_new(void);
void gobi_json_out_end(yajl_gen g);
void gobi_jstr(yajl_gen g, const char *s);
void gobi_jkv_str(yajl_gen g, const char *key, const char *val);
void gobi_jkv_int(yajl_gen g, const char *key, int64_t val);
void gobi_jkv_bool(yajl_gen g, const char *key, int val);

/* "2026-11-26 10:15:30" local time from unix ms */
const char *gobi_time_str(char *buf, size_t len, int64_t ms);


#endif /* _GOBI_OUT_H_INCLUDED_ */
