/*
 * Copyright (C) the gobi authors
 *
 * The path rules: what a vault path, a vault name and a username may be.
 */

#include "unit.h"

#include "gobi_path.h"


/* a printable form of p for test names: TAP lines must not break */
static const char *
show(const char *p)
{
    static char   buf[4][256];
    static int    k;
    char         *d;
    size_t        i;

    d = buf[k++ & 3];

    for (i = 0; p[i] && i < 60; i++) {
        if ((unsigned char) p[i] < 0x20 || (unsigned char) p[i] >= 0x7f) {
            d += sprintf(d, "\\x%02x", (unsigned char) p[i]);

        } else {
            *d++ = p[i];
        }
    }

    *d = '\0';

    return buf[(k - 1) & 3];
}


static int
path_ok(const char *p)
{
    return gobi_path_check(p, strlen(p)) == NULL;
}


/* percent-decodes like a request URI, then checks */
static const char *
escaped_check(const char *src)
{
    static char  buf[GOBI_PATH_MAX * 3 + 1];
    ssize_t      n;

    n = gobi_path_unescape(buf, src, strlen(src));
    if (n < 0) {
        return "bad escape";
    }

    return gobi_path_check(buf, (size_t) n);
}


static void
test_valid(void)
{
    static const char  *good[] = {
        "a", "a.txt", "dir/file", "a/b/c/d/e", "...", "..a", "a..", ".a",
        "a/.hidden", "with space", "tab-less", "-", "a b/c d",
        "\xc3\xa9t\xc3\xa9.md",                      /* été.md */
        "\xe6\x97\xa5\xe6\x9c\xac/\xe8\xaa\x9e",     /* 日本/語 */
        "\xf0\x9f\x98\x80.png",                      /* U+1F600 */
        "\xf4\x8f\xbf\xbf",                          /* U+10FFFF */
        "\xef\xbf\xbd",                              /* U+FFFD */
        "~", "a~b", "a:b", "a\\b", "%", "a%b", "*", "?", "#",
        NULL
    };
    int                 i;

    for (i = 0; good[i]; i++) {
        ok(path_ok(good[i]), "valid: \"%s\"", show(good[i]));
    }
}


static void
test_invalid(void)
{
    static const char  *bad[] = {
        "", "/", "/a", "//a", "a/", "a//b", "a/b/", ".", "..", "./a",
        "../a", "a/..", "a/../b", "a/./b", "a/.", "/..", "../..", "a///b",
        "a\x01", "\x1f", "a\tb", "a\nb", "a\rb", "a\x7f", "dir/\x7fx",
        "\x80", "\xc0\xaf", "\xc1\xbf",              /* overlong '/' */
        "\xe0\x80\xaf", "\xf0\x80\x80\xaf",          /* overlong '/' */
        "\xc0\xae\xc0\xae",                          /* overlong ".." */
        "\xed\xa0\x80", "\xed\xbf\xbf",              /* surrogates */
        "\xf4\x90\x80\x80",                          /* > U+10FFFF */
        "\xf5\x80\x80\x80", "\xff", "\xfe",
        "\xc3", "a\xe6\x97", "\xf0\x9f\x98",         /* truncated */
        "\xc3\x28",                                  /* bad continuation */
        NULL
    };
    const char         *err;
    int                 i;

    for (i = 0; bad[i]; i++) {
        err = gobi_path_check(bad[i], strlen(bad[i]));
        ok(err != NULL, "invalid: \"%s\" (%s)", show(bad[i]),
           err ? err : "accepted");
    }

    /* the length counts, not the NUL terminator */
    ok(gobi_path_check("a\0b", 3) != NULL, "embedded NUL");
    ok(gobi_path_check("a\0", 2) != NULL, "trailing NUL");
    ok(gobi_path_check("\0", 1) != NULL, "lone NUL");
    ok(gobi_path_check("abc", 2) == NULL, "len shorter than the string");
    ok(gobi_path_check("abc/", 3) == NULL, "bytes past len are not read");
    ok(gobi_path_check("a/..", 3) != NULL, "\"a/..\" cut to \"a/.\"");
}


static void
test_messages(void)
{
    is_str(gobi_path_check("", 0), "empty path", "message: empty");
    is_str(gobi_path_check("/a", 2), "absolute paths are not allowed",
           "message: absolute");
    is_str(gobi_path_check("a/../b", 6),
           "\".\" and \"..\" are not allowed in paths", "message: ..");
    is_str(gobi_path_check("a//b", 4), "empty path component",
           "message: //");
    is_str(gobi_path_check("a\0", 2), "NUL is not allowed in paths",
           "message: NUL");
    is_str(gobi_path_check("a\x01", 2),
           "control characters are not allowed in paths", "message: ctl");
    is_str(gobi_path_check("\xc0\xae", 2), "path is not valid UTF-8",
           "message: utf8");
}


static void
test_escapes(void)
{
    char     buf[64];
    ssize_t  n;

    n = gobi_path_unescape(buf, "a%2Fb", 5);
    is_int(n, 3, "unescape %%2F length");
    is_str(buf, "a/b", "unescape %%2F");

    n = gobi_path_unescape(buf, "%41%62%63", 9);
    is_int(n, 3, "unescape upper/lower hex");
    is_str(buf, "Abc", "unescape result");

    n = gobi_path_unescape(buf, "%e2%82%ac", 9);
    is_str(buf, "\xe2\x82\xac", "unescape to UTF-8 euro");

    n = gobi_path_unescape(buf, "plain", 5);
    is_int(n, 5, "no escapes");
    is_str(buf, "plain", "no escapes, same string");

    n = gobi_path_unescape(buf, "", 0);
    is_int(n, 0, "empty unescape");
    is_str(buf, "", "empty unescape is NUL-terminated");

    is_int(gobi_path_unescape(buf, "%", 1), -1, "lone %%");
    is_int(gobi_path_unescape(buf, "a%4", 3), -1, "truncated escape");
    is_int(gobi_path_unescape(buf, "%4g", 3), -1, "bad hex digit");
    is_int(gobi_path_unescape(buf, "%g4", 3), -1, "bad first hex digit");
    is_int(gobi_path_unescape(buf, "%%41", 4), -1, "%%%% is not an escape");

    /* only once: %252e stays "%2e" */
    n = gobi_path_unescape(buf, "%252e%252e", 10);
    is_str(buf, "%2e%2e", "decoded once");
    ok(gobi_path_check(buf, n) == NULL, "%%2e%%2e as a literal name is ok");

    n = gobi_path_unescape(buf, "a%00b", 5);
    is_int(n, 3, "%%00 decodes to a NUL byte");
    ok(buf[1] == '\0' && buf[2] == 'b', "NUL kept in the middle");

    ok(escaped_check("%2e%2e") != NULL, "%%2e%%2e");
    ok(escaped_check("%2E%2E") != NULL, "%%2E%%2E");
    ok(escaped_check("a/%2e%2e/b") != NULL, "a/%%2e%%2e/b");
    ok(escaped_check("%2e%2e%2fetc%2fpasswd") != NULL, "%%2e%%2e%%2fetc");
    ok(escaped_check(".%2e/x") != NULL, ".%%2e/x");
    ok(escaped_check("%2e") != NULL, "%%2e");
    ok(escaped_check("%2fetc") != NULL, "%%2fetc (absolute)");
    ok(escaped_check("a%2f%2fb") != NULL, "a%%2f%%2fb (//)");
    ok(escaped_check("a%2f") != NULL, "a%%2f (trailing /)");
    ok(escaped_check("a%00") != NULL, "a%%00 (NUL)");
    ok(escaped_check("a%00.txt") != NULL, "a%%00.txt (NUL)");
    ok(escaped_check("a%0a") != NULL, "a%%0a (newline)");
    ok(escaped_check("a%7f") != NULL, "a%%7f (DEL)");
    ok(escaped_check("%c0%ae%c0%ae") != NULL, "overlong .. via escapes");
    ok(escaped_check("%ed%a0%80") != NULL, "surrogate via escapes");
    ok(escaped_check("a%zz") != NULL, "malformed escape");
    ok(escaped_check("dir%2ffile") == NULL, "dir%%2ffile is dir/file");
    ok(escaped_check("%c3%a9") == NULL, "%%c3%%a9 is a valid name");
    ok(escaped_check("a%20b") == NULL, "space via escape");
}


static void
test_lengths(void)
{
    static char  buf[GOBI_PATH_MAX + 2];
    size_t       i, n;

    /* one component of exactly GOBI_NAME_MAX bytes, then one more */
    memset(buf, 'x', GOBI_NAME_MAX + 1);
    ok(gobi_path_check(buf, GOBI_NAME_MAX) == NULL, "component of 255");
    ok(gobi_path_check(buf, GOBI_NAME_MAX + 1) != NULL, "component of 256");

    /* multi-byte: 85 x 3-byte characters = 255 bytes */
    for (i = 0; i < 86; i++) {
        memcpy(buf + i * 3, "\xe6\x97\xa5", 3);
    }
    ok(gobi_path_check(buf, 255) == NULL, "255 bytes of 3-byte chars");
    ok(gobi_path_check(buf, 258) != NULL, "258 bytes of 3-byte chars");
    ok(gobi_path_check(buf, 256) != NULL, "cut inside a character");

    /* whole path of exactly GOBI_PATH_MAX bytes: "xxx...x/" repeated */
    n = 0;
    while (n < GOBI_PATH_MAX + 1) {
        buf[n] = (n % 100 == 99) ? '/' : 'y';
        n++;
    }
    buf[GOBI_PATH_MAX - 1] = 'y';
    buf[GOBI_PATH_MAX] = 'y';
    ok(gobi_path_check(buf, GOBI_PATH_MAX) == NULL, "path of 4096 bytes");
    ok(gobi_path_check(buf, GOBI_PATH_MAX + 1) != NULL, "path of 4097");
    is_str(gobi_path_check(buf, GOBI_PATH_MAX + 1), "path too long",
           "message: too long");
}


static void
test_vault_names(void)
{
    char  buf[130];

    ok(gobi_vault_name_check("notes", 5) == NULL, "vault: notes");
    ok(gobi_vault_name_check("My Vault", 8) == NULL, "vault: space");
    ok(gobi_vault_name_check("\xc3\xa9", 2) == NULL, "vault: UTF-8");
    ok(gobi_vault_name_check("", 0) != NULL, "vault: empty");
    ok(gobi_vault_name_check("a/b", 3) != NULL, "vault: slash");
    ok(gobi_vault_name_check("/", 1) != NULL, "vault: /");
    ok(gobi_vault_name_check(".", 1) != NULL, "vault: .");
    ok(gobi_vault_name_check("..", 2) != NULL, "vault: ..");
    ok(gobi_vault_name_check("a\0", 2) != NULL, "vault: NUL");
    ok(gobi_vault_name_check("a\n", 2) != NULL, "vault: newline");
    ok(gobi_vault_name_check("\xc0\xae", 2) != NULL, "vault: overlong");
    memset(buf, 'v', sizeof(buf));
    ok(gobi_vault_name_check(buf, 128) == NULL, "vault: 128 bytes");
    ok(gobi_vault_name_check(buf, 129) != NULL, "vault: 129 bytes");
}


static void
test_usernames(void)
{
    char  buf[66];

    ok(gobi_username_check("alice", 5) == NULL, "user: alice");
    ok(gobi_username_check("a.b_c@d-e9", 10) == NULL, "user: all classes");
    ok(gobi_username_check("", 0) != NULL, "user: empty");
    ok(gobi_username_check("a b", 3) != NULL, "user: space");
    ok(gobi_username_check("a/b", 3) != NULL, "user: slash");
    ok(gobi_username_check("a+b", 3) != NULL, "user: plus");
    ok(gobi_username_check("\xc3\xa9", 2) != NULL, "user: non-ASCII");
    ok(gobi_username_check("a\0", 2) != NULL, "user: NUL");

    memset(buf, 'u', sizeof(buf));
    ok(gobi_username_check(buf, 64) == NULL, "user: 64 chars");
    ok(gobi_username_check(buf, 65) != NULL, "user: 65 chars");
}


int
main(void)
{
    test_valid();
    test_invalid();
    test_messages();
    test_escapes();
    test_lengths();
    test_vault_names();
    test_usernames();

    done_testing();
}
