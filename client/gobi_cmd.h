/*
 * Copyright (C) the gobi authors
 *
 * The commands.  Each gets its positional arguments (options are parsed
 * into gobi_opts by main) and returns an exit code.
 */

#ifndef _GOBI_CMD_H_INCLUDED_
#define _GOBI_CMD_H_INCLUDED_


int gobi_cmd_login(int argc, char **argv);
int gobi_cmd_logout(int argc, char **argv);
int gobi_cmd_vaults(int argc, char **argv);
int gobi_cmd_vault(int argc, char **argv);
int gobi_cmd_clone(int argc, char **argv);
int gobi_cmd_sync(int argc, char **argv);
int gobi_cmd_watch(int argc, char **argv);
int gobi_cmd_status(int argc, char **argv);
int gobi_cmd_log(int argc, char **argv);
int gobi_cmd_conflicts(int argc, char **argv);
int gobi_cmd_resolve(int argc, char **argv);
int gobi_cmd_history(int argc, char **argv);
int gobi_cmd_restore(int argc, char **argv);
int gobi_cmd_trash(int argc, char **argv);


#endif /* _GOBI_CMD_H_INCLUDED_ */
