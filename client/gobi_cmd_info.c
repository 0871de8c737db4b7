/*
 * Copyright (C) the gobi authors
 *
 * status, log, conflicts, resolve.
 */

#include "gobi.h"
#include "gobi_cmd.h"


int
gobi_cmd_status(int argc, char **argv)
{
    (void) argc;
    (void) argv;

    return gobi_error(GOBI_EXIT_ERROR, "status: not implemented yet");
}


int
gobi_cmd_log(int argc, char **argv)
{
    (void) argc;
    (void) argv;

    return gobi_error(GOBI_EXIT_ERROR, "log: not implemented yet");
}


int
gobi_cmd_conflicts(int argc, char **argv)
{
    (void) argc;
    (void) argv;

    return gobi_error(GOBI_EXIT_ERROR, "conflicts: not implemented yet");
}


int
gobi_cmd_resolve(int argc, char **argv)
{
    (void) argc;
    (void) argv;

    return gobi_error(GOBI_EXIT_ERROR, "resolve: not implemented yet");
}
