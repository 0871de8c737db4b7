/*
 * Copyright (C) the gobi authors
 *
 * The pull step: the server's changes since the cursor, applied to the
 * disk and the base; the cursor advanced once all of them are.
 */

#ifndef _GOBI_PULL_H_INCLUDED_
#define _GOBI_PULL_H_INCLUDED_


#include "gobi_sync.h"


int gobi_sync_pull(gobi_sync_t *s);


#endif /* _GOBI_PULL_H_INCLUDED_ */
