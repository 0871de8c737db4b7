/*
 * Copyright (C) the gobi authors
 *
 * watch: stay running, push local changes (inotify), pull remote ones
 * (the WebSocket), through network loss and server restarts.
 */

#include "gobi.h"
#include "gobi_cmd.h"


int
gobi_cmd_watch(int argc, char **argv)
{
    (void) argc;
    (void) argv;

    return gobi_error(GOBI_EXIT_ERROR, "watch: not implemented yet");
}
