/*
 * Copyright (C) the gobi authors
 *
 * gobi: the command line.  Global options may stand anywhere.
 */

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gobi.h"
#include "gobi_out.h"
#include "gobi_progress.h"
#include "gobi_cmd.h"


typedef struct {
    const char   *name;
    int         (*run)(int argc, char **argv);
    int           min;
    int           max;
    const char   *usage;
} gobi_command_t;


static const gobi_command_t  gobi_commands[] = {
    { "login", gobi_cmd_login, 2, 2, "login <url> <username>" },
    { "logout", gobi_cmd_logout, 0, 1, "logout [url]" },
    { "vaults", gobi_cmd_vaults, 0, 0, "vaults" },
    { "vault", gobi_cmd_vault, 2, 4,
      "vault create <name>\n"
      "  gobi vault set <name> conflict-strategy <strategy>\n"
      "        (keep-both, last-writer-wins, server-wins or merge)" },
    { "clone", gobi_cmd_clone, 1, 2, "clone <vault> [dir]" },
    { "sync", gobi_cmd_sync, 0, 1, "sync [dir]" },
    { "watch", gobi_cmd_watch, 0, 1, "watch [dir]" },
    { "status", gobi_cmd_status, 0, 1, "status [dir] [-n N]" },
    { "log", gobi_cmd_log, 0, 1, "log [dir] [-n N]" },
    { "conflicts", gobi_cmd_conflicts, 0, 1, "conflicts [dir]" },
    { "resolve", gobi_cmd_resolve, 1, 2,
      "resolve <path> --keep local|remote|both [dir]" },
    { "history", gobi_cmd_history, 1, 1, "history <path>" },
    { "restore", gobi_cmd_restore, 0, 1,
      "restore <path> [--version N]\n"
      "  gobi restore --at <seq|time> [dir]" },
    { "trash", gobi_cmd_trash, 0, 1, "trash [dir]" },
    { NULL, NULL, 0, 0, NULL }
};


static void
gobi_usage(FILE *f)
{
    const gobi_command_t  *c;

    fprintf(f, "usage: gobi [options] <command> [arguments]\n\ncommands:\n");

    for (c = gobi_commands; c->name; c++) {
        fprintf(f, "  gobi %s\n", c->usage);
    }

    fprintf(f,
        "\noptions:\n"
        "  --json               machine-readable output on stdout\n"
        "  -q, --quiet          errors only\n"
        "  -v, --verbose        one line per file\n"
        "  --server URL         the server (default: the last logged in)\n"
        "  --device NAME        this device's name (clone)\n"
        "  -j, --jobs N         transfers in flight (default 16)\n"
        "  --allow-mass-delete  allow deleting more than half of the files\n"
        "  --keep WHICH         resolve: local, remote or both\n"
        "  -n N                 log: events shown; status: changes named "
        "(20)\n"
        "  --version N          restore: that version (default: the one "
        "before)\n"
        "  --at SEQ|TIME        restore: the vault as of a seq or a time:\n"
        "                       2026-12-03T10:15:00Z, local without Z, "
        "@unix-seconds\n"
        "\nexit codes: 0 ok, 1 error, 2 usage, 3 auth, 4 network or server "
        "down,\n  5 not found, 6 conflict, 7 disk full or local I/O, "
        "8 mass delete refused,\n  9 server error, 10 already exists, "
        "11 folder busy\n");
}


int
main(int argc, char **argv)
{
    const gobi_command_t  *c;
    int                    opt, rc, nargs, version;
    char                 **args;
    char                  *end;

    static const struct option  longopts[] = {
        { "json", no_argument, NULL, 'J' },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "server", required_argument, NULL, 'S' },
        { "device", required_argument, NULL, 'D' },
        { "jobs", required_argument, NULL, 'j' },
        { "allow-mass-delete", no_argument, NULL, 'M' },
        { "keep", required_argument, NULL, 'K' },
        { "at", required_argument, NULL, 'A' },
        { "help", no_argument, NULL, 'h' },
        /* gobi --version; restore <path> --version N */
        { "version", optional_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };

    gobi_opts.jobs = 16;
    gobi_opts.limit = 20;
    version = 0;

    while ((opt = getopt_long(argc, argv, "qvj:n:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'J':
            gobi_opts.json = 1;
            break;
        case 'q':
            gobi_opts.verbose = -1;
            break;
        case 'v':
            if (gobi_opts.verbose >= 0) {
                gobi_opts.verbose++;
            }
            break;
        case 'S':
            gobi_opts.server = optarg;
            break;
        case 'D':
            gobi_opts.device = optarg;
            break;
        case 'j':
            gobi_opts.jobs = (int) strtol(optarg, &end, 10);
            if (*end != '\0' || gobi_opts.jobs < 1 || gobi_opts.jobs > 256) {
                fprintf(stderr, "gobi: --jobs wants a number from 1 to "
                        "256\n");
                return GOBI_EXIT_USAGE;
            }
            break;
        case 'n':
            gobi_opts.limit = (int) strtol(optarg, &end, 10);
            if (*end != '\0' || gobi_opts.limit < 1
                || gobi_opts.limit > 100000)
            {
                fprintf(stderr, "gobi: -n wants a number from 1 to "
                        "100000\n");
                return GOBI_EXIT_USAGE;
            }
            break;
        case 'M':
            gobi_opts.allow_mass_delete = 1;
            break;
        case 'K':
            gobi_opts.keep = optarg;
            break;
        case 'A':
            gobi_opts.at = optarg;
            break;
        case 'h':
            gobi_usage(stdout);
            return GOBI_EXIT_OK;
        case 'V':
            /* a number after it is its argument, as for -n N */
            if (optarg == NULL && optind < argc && argv[optind][0] >= '0'
                && argv[optind][0] <= '9')
            {
                optarg = argv[optind++];
            }

            if (optarg == NULL) {
                version = 1;
                break;
            }

            gobi_opts.version = strtoll(optarg, &end, 10);
            if (*end != '\0' || gobi_opts.version < 1) {
                fprintf(stderr, "gobi: --version wants a version number "
                        "(see gobi history)\n");
                return GOBI_EXIT_USAGE;
            }
            break;
        default:
            gobi_usage(stderr);
            return GOBI_EXIT_USAGE;
        }
    }

    if (version && (optind >= argc || strcmp(argv[optind], "restore"))) {
        printf("gobi %s\n", GOBI_VERSION);
        return GOBI_EXIT_OK;
    }

    if (optind >= argc) {
        gobi_usage(stderr);
        return GOBI_EXIT_USAGE;
    }

    if (version) {
        fprintf(stderr, "gobi: --version wants a version number (see gobi "
                "history)\n");
        return GOBI_EXIT_USAGE;
    }

    if (strcmp(argv[optind], "help") == 0) {
        gobi_usage(stdout);
        return GOBI_EXIT_OK;
    }

    for (c = gobi_commands; c->name; c++) {
        if (strcmp(c->name, argv[optind]) == 0) {
            break;
        }
    }

    if (c->name == NULL) {
        fprintf(stderr, "gobi: unknown command \"%s\" (see gobi --help)\n",
                argv[optind]);
        return GOBI_EXIT_USAGE;
    }

    args = argv + optind + 1;
    nargs = argc - optind - 1;

    if (nargs < c->min || nargs > c->max) {
        fprintf(stderr, "usage: gobi %s\n", c->usage);
        return GOBI_EXIT_USAGE;
    }

    if (sodium_init() < 0) {
        fprintf(stderr, "gobi: cannot initialise libsodium\n");
        return GOBI_EXIT_ERROR;
    }

    signal(SIGPIPE, SIG_IGN);
    gobi_progress_init();

    rc = c->run(nargs, args);

    if (rc != GOBI_EXIT_OK && gobi_error_msg()[0] != '\0'
        && gobi_error_code() != 0)
    {
        gobi_out_error(rc);
    }

    return rc;
}
