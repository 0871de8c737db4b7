/*
 * Copyright (C) the gobi authors
 *
 * The header values of the file endpoints (lib/gobi_header.c).
 */

#include "unit.h"

#include "gobi_header.h"
#include "gobi_write.h"


#define S(s)  s, sizeof(s) - 1


static int64_t
if_match(const char *v, size_t len)
{
    int64_t  base;

    base = -42;

    if (gobi_header_if_match(v, len, &base) != 0) {
        return -2;
    }

    return base;
}


int
main(void)
{
    int64_t  n;
    char     hex[GOBI_HASH_HEX_LEN + 1];
    char     big[GOBI_HEADER_DEVICE_MAX + 1];

    /* If-Match */
    is_int(if_match(S("*")), GOBI_BASE_ANY, "If-Match: * is no precondition");
    is_int(if_match(S("\"7\"")), 7, "quoted version");
    is_int(if_match(S("7")), 7, "bare version");
    is_int(if_match(S("W/\"12\"")), 12, "weak version");
    is_int(if_match(S("W/12")), 12, "weak without quotes");
    is_int(if_match(S("999999999999999999")), 999999999999999999LL,
           "18 digits");
    is_int(if_match(S("1000000000000000000")), -2, "19 digits refused");
    is_int(if_match(S("\"0\"")), -2, "version 0 refused");
    is_int(if_match(S("")), -2, "empty refused");
    is_int(if_match(S("\"\"")), -2, "empty quotes refused");
    is_int(if_match(S("\"")), -2, "a lone quote refused");
    is_int(if_match(S("W/")), -2, "W/ alone refused");
    is_int(if_match(S("\"7")), -2, "unbalanced quote refused");
    is_int(if_match(S("-7")), -2, "negative refused");
    is_int(if_match(S("7, 8")), -2, "a list refused");
    is_int(if_match(S("W/\"*\"")), -2, "W/\"*\" refused");
    is_int(if_match("12", 1), 1, "length is honoured, not NUL");

    /* If-None-Match */
    is_int(gobi_header_if_none_match(S("*")), 0, "If-None-Match: *");
    is_int(gobi_header_if_none_match(S("\"3\"")), -1, "a version refused");
    is_int(gobi_header_if_none_match(S("")), -1, "empty refused");
    is_int(gobi_header_if_none_match(S("**")), -1, "** refused");

    /* X-Gobi-Mtime */
    n = -1;
    is_int(gobi_header_mtime(S("1700000000123"), &n), 0, "mtime");
    is_int(n, 1700000000123LL, "mtime value");
    is_int(gobi_header_mtime(S("0"), &n), 0, "mtime 0");
    is_int(n, 0, "mtime 0 value");
    is_int(gobi_header_mtime(S("999999999999999"), &n), 0, "15 digits");
    is_int(n, 999999999999999LL, "15 digits value");
    is_int(gobi_header_mtime(S("1000000000000000"), &n), -1,
           "16 digits refused");
    is_int(gobi_header_mtime(S(""), &n), -1, "empty mtime refused");
    is_int(gobi_header_mtime(S("-1"), &n), -1, "negative mtime refused");
    is_int(gobi_header_mtime(S("1.5"), &n), -1, "fraction refused");
    is_int(gobi_header_mtime(S(" 1"), &n), -1, "space refused");

    /* X-Gobi-Hash */
    is_int(gobi_header_hash(S("0123456789abcdef0123456789abcdef"
                              "0123456789abcdef0123456789abcdef"), hex), 0,
           "lowercase hash");
    is_int(gobi_header_hash(S("0123456789ABCDEF0123456789abcdef"
                              "0123456789abcdef0123456789ABCDEF"), hex), 0,
           "mixed case hash");
    is_str(hex, "0123456789abcdef0123456789abcdef"
                "0123456789abcdef0123456789abcdef", "lowercased");
    is_int(gobi_header_hash(S("0123456789abcdef0123456789abcdef"
                              "0123456789abcdef0123456789abcde"), hex), -1,
           "63 digits refused");
    is_int(gobi_header_hash(S("0123456789abcdef0123456789abcdef"
                              "0123456789abcdef0123456789abcdef0"), hex),
           -1, "65 digits refused");
    is_int(gobi_header_hash(S("g123456789abcdef0123456789abcdef"
                              "0123456789abcdef0123456789abcdef"), hex), -1,
           "non-hex refused");
    is_int(gobi_header_hash(S(""), hex), -1, "empty hash refused");

    /* X-Gobi-Device */
    memset(big, 'd', sizeof(big));
    ok(gobi_header_device(S("laptop")) == NULL, "device");
    ok(gobi_header_device(S("caf\xc3\xa9")) == NULL, "UTF-8 device");
    ok(gobi_header_device(big, GOBI_HEADER_DEVICE_MAX) == NULL, "64 bytes");
    is_str(gobi_header_device(big, GOBI_HEADER_DEVICE_MAX + 1),
           "X-Gobi-Device must be 1-64 bytes", "65 bytes refused");
    is_str(gobi_header_device(S("")), "X-Gobi-Device must be 1-64 bytes",
           "empty device refused");

    /* the fuzzer's find: raw bytes went into the events' JSON as they
     * were, which no client could read any more */
    is_str(gobi_header_device(S("pc\tone")),
           "X-Gobi-Device must be printable", "a tab is refused");
    is_str(gobi_header_device(S("pc\x7f")),
           "X-Gobi-Device must be printable", "DEL is refused");
    is_str(gobi_header_device(S("pc\xc2\x85")),
           "X-Gobi-Device must be printable", "a C1 control is refused");
    ok(gobi_header_device(S("pc\xc2\xa0")) == NULL,
       "U+00A0 is printable");
    is_str(gobi_header_device(S("\xff\xfe")), "X-Gobi-Device must be UTF-8",
           "a device that is not UTF-8 is refused");
    is_str(gobi_header_device(S("pc\xc3")), "X-Gobi-Device must be UTF-8",
           "a cut UTF-8 character is refused");

    done_testing();
}
