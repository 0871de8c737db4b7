/*
 * Copyright (C) the gobi authors
 *
 * The push step: the queue to the server, in order, each entry re-checked
 * against the base; a 412 sets s->need_pull.
 */

#ifndef _GOBI_PUSH_H_INCLUDED_
#define _GOBI_PUSH_H_INCLUDED_


#include "gobi_sync.h"


int gobi_sync_push(gobi_sync_t *s);


#endif /* _GOBI_PUSH_H_INCLUDED_ */
