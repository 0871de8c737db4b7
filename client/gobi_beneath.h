/*
 * Copyright (C) the gobi authors
 *
 * Paths beneath the vault root, never through a symbolic link.  Whatever
 * the client creates, replaces, renames, deletes or reads in the folder
 * (downloads, conflict copies, temp files, folders, .gobi/, uploads) goes
 * through here, so a link in the folder cannot send a write outside it.
 *
 * The folder that holds the last component is opened beneath the root
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or where the
 * kernel has no openat2 (before 5.6) one component at a time with
 * O_NOFOLLOW; the operation is then done on the last component relative
 * to that folder, where it does not follow a link either (O_NOFOLLOW;
 * rename and unlink act on a link itself, mkdir does not replace one).
 *
 * Like the system calls: -1 and errno on failure; ELOOP when a component
 * of the path is a symbolic link.  Paths are relative to rootfd, without
 * empty, "." or ".." components (vault paths, and .gobi/...).
 * GOBI_NO_OPENAT2=1 in the environment takes the fallback (for tests).
 */

#ifndef _GOBI_BENEATH_H_INCLUDED_
#define _GOBI_BENEATH_H_INCLUDED_


#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>


/* the folder holding path's last component; *name: that component */
int gobi_beneath_parent(int rootfd, const char *path, const char **name);
/* a folder (path itself), O_PATH: for *at() calls */
int gobi_beneath_dir(int rootfd, const char *path);

/* openat() with O_NOFOLLOW and O_CLOEXEC added */
int gobi_beneath_open(int rootfd, const char *path, int flags, mode_t mode);
/* lstat(): a link at the end is reported as one (S_ISLNK) */
int gobi_beneath_stat(int rootfd, const char *path, struct stat *st);
int gobi_beneath_mkdir(int rootfd, const char *path, mode_t mode);
/* mkdir -p of the folders above path's last component */
int gobi_beneath_mkparents(int rootfd, const char *path, mode_t mode);
/* renameat2() with flags (RENAME_NOREPLACE), 0: renameat() */
int gobi_beneath_rename(int rootfd, const char *from, const char *to,
    unsigned int flags);
/* unlinkat(), flags: AT_REMOVEDIR */
int gobi_beneath_unlink(int rootfd, const char *path, int flags);

/*
 * The length of the leading part of path that is a symbolic link here
 * ("a/b" of "a/b/c" when a/b is a link), 0 when none is.  For messages
 * and for telling "not here" from "behind a link".
 */
size_t gobi_beneath_link(int rootfd, const char *path);


#endif /* _GOBI_BENEATH_H_INCLUDED_ */
