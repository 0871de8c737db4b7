/*
 * Copyright (C) the gobi authors
 *
 * The client's ignore rules (.gobiignore, gitignore-like) and its conflict
 * copy names.  The client's sources are compiled in directly: the unit
 * build links lib/ only.
 */

#include "unit.h"

#include "../../client/gobi_util.c"
#include "../../client/gobi_ignore.c"


static int
ign(const char *rules, const char *path)
{
    gobi_ignore_t  *ig;
    int             r;

    ig = gobi_ignore_new(rules, rules ? strlen(rules) : 0);
    r = gobi_ignore_path(ig, path);
    gobi_ignore_free(ig);

    return r;
}


int
main(void)
{
    /* glob */
    ok(gobi_ignore_glob("*.txt", "a.txt"), "star");
    ok(!gobi_ignore_glob("*.txt", "d/a.txt"), "star stops at /");
    ok(gobi_ignore_glob("**/a.txt", "a.txt"), "**/ matches zero folders");
    ok(gobi_ignore_glob("**/a.txt", "x/y/a.txt"), "**/ matches folders");
    ok(gobi_ignore_glob("a/**", "a/b/c"), "trailing **");
    ok(gobi_ignore_glob("a/**/b", "a/b"), "a/**/b, zero");
    ok(gobi_ignore_glob("a/**/b", "a/x/y/b"), "a/**/b, two");
    ok(gobi_ignore_glob("f?o", "foo"), "question mark");
    ok(!gobi_ignore_glob("f?o", "f/o"), "question mark not /");
    ok(gobi_ignore_glob("[a-c]x", "bx"), "range");
    ok(!gobi_ignore_glob("[!a-c]x", "bx"), "negated range");
    ok(gobi_ignore_glob("[]]", "]"), "] first in a class");
    ok(gobi_ignore_glob("a[", "a["), "unclosed [ is literal");
    ok(gobi_ignore_glob("\\*", "*"), "escaped star");
    ok(!gobi_ignore_glob("\\*", "x"), "escaped star is literal");

    /* defaults */
    ok(ign(NULL, ".a.txt.swp"), "vim swap");
    ok(ign(NULL, "d/~$report.docx"), "office lock");
    ok(ign(NULL, ".#notes.org"), "emacs lock");
    ok(ign(NULL, "4913"), "vim probe");
    ok(ign(NULL, "notes.txt~"), "backup");
    ok(ign(NULL, ".gobi/state.db"), ".gobi");
    ok(!ign(NULL, "d/.gobi/x"), ".gobi only at the root");
    ok(!ign(NULL, "notes.txt"), "plain file");

    /* .gobiignore */
    ok(ign("*.log\n", "a/b/c.log"), "unanchored matches at depth");
    ok(ign("/top.txt\n", "top.txt"), "anchored");
    ok(!ign("/top.txt\n", "d/top.txt"), "anchored not at depth");
    ok(ign("doc/*.tmp\n", "doc/x.tmp"), "slash anchors");
    ok(!ign("doc/*.tmp\n", "a/doc/x.tmp"), "slash anchors to the root");
    ok(ign("build/\n", "build/x/y.o"), "folder pattern covers contents");
    ok(!ign("build/\n", "build"), "folder pattern not a file");
    ok(ign("*.log\n!keep.log\n", "x.log"), "negation: others");
    ok(!ign("*.log\n!keep.log\n", "keep.log"), "negation re-includes");
    ok(ign("*.log\n!keep.log\n*.log\n", "keep.log"), "last match wins");
    ok(!ign("# *.txt\n\n", "a.txt"), "comment");
    ok(ign("\\#x\n", "#x"), "escaped #");
    ok(ign("a.txt   \n", "a.txt"), "trailing spaces trimmed");
    ok(ign("a.txt\r\n", "a.txt"), "CRLF");
    ok(ign("**/tmp/**\n", "x/tmp/y/z"), "** both sides");

    done_testing();
}
