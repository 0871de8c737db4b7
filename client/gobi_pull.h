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

/*
 * Events from the WebSocket for the next pull (copied); a seq that does
 * not follow the cursor or the last one offered, or gobi_sync_offer_gap(),
 * makes that pull read the server's log as usual.
 */
void gobi_sync_offer(gobi_sync_t *s, const gobi_event_t *ev, size_t n);
void gobi_sync_offer_gap(gobi_sync_t *s);
void gobi_sync_offer_clear(gobi_sync_t *s);


#endif /* _GOBI_PULL_H_INCLUDED_ */
