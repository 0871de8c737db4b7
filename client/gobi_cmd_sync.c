/*
 * Copyright (C) the gobi authors
 *
 * clone, sync, watch.
 */

#include "gobi.h"
#include "gobi_cmd.h"


int
gobi_cmd_clone(int argc, char **argv)
{
    (void) argc;
    (void) argv;

    return gobi_error(GOBI_EXIT_ERROR, "clone: not implemented yet");
}


int
gobi_cmd_sync(int argc, char **argv)
{
    (void) argc;
    (void) argv;

    return gobi_error(GOBI_EXIT_ERROR, "sync: not implemented yet");
}


int
gobi_cmd_watch(int argc, char **argv)
{
    (void) argc;
    (void) argv;

    return gobi_error(GOBI_EXIT_ERROR, "watch: not implemented yet");
}
