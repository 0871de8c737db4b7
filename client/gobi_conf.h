/*
 * Copyright (C) the gobi authors
 *
 * Per-user configuration: the credentials file, one line per server,
 * the most recently used server first (the default).
 *
 *   ${GOBI_CONFIG_DIR:-${XDG_CONFIG_HOME:-~/.config}/gobi}/credentials
 *   <url> <username> <token> <expires_at ms>
 */

#ifndef _GOBI_CONF_H_INCLUDED_
#define _GOBI_CONF_H_INCLUDED_


#include <stdint.h>


typedef struct {
    char       *url;
    char       *username;
    char       *token;
    int64_t     expires_at;
} gobi_cred_t;


/* checks and canonicalises a server URL: scheme://host[:port][/prefix] */
int gobi_url_normalize(const char *in, char **out);

/* url NULL: the default server (--server, GOBI_SERVER, first line) */
int gobi_cred_load(const char *url, gobi_cred_t *out);
int gobi_cred_save(const gobi_cred_t *cred);
int gobi_cred_remove(const char *url);
void gobi_cred_free(gobi_cred_t *cred);

/* a default device name: hostname-xxxx */
char *gobi_device_default(void);


#endif /* _GOBI_CONF_H_INCLUDED_ */
