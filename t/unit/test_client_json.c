/*
 * Copyright (C) the gobi authors
 *
 * The client's reader of server answers: nesting is bounded before yajl
 * (whose tree is freed recursively), brackets in strings do not count.
 * Found by the client fuzzer (t/fuzz/fuzz_client.c).
 */

#include "unit.h"

#include "../../client/gobi_util.c"
#include "../../client/gobi_json.c"


static yajl_val
parse(const char *s, char *err)
{
    return gobi_json_parse(s, strlen(s), err, 128);
}


int
main(void)
{
    char      err[128], *deep;
    size_t    i, n;
    yajl_val  v;

    v = parse("{\"seq\":3,\"files\":[{\"path\":\"a[{\\\"\"}]}", err);
    ok(v != NULL, "an answer parses, brackets in strings left alone");
    yajl_tree_free(v);

    n = 1000000;
    deep = malloc(2 * n + 1);
    for (i = 0; i < n; i++) {
        deep[i] = '[';
        deep[n + i] = ']';
    }
    deep[2 * n] = '\0';

    err[0] = '\0';
    ok(parse(deep, err) == NULL, "a million levels are refused");
    is_str(err, "JSON nested more than 64 deep", "saying why");
    free(deep);

    deep = malloc(129);
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    v = parse(deep, err);
    ok(v != NULL, "64 levels are fine");
    yajl_tree_free(v);
    free(deep);

    ok(parse("{\"a\":1 /* [[[ */}", err) == NULL, "a comment is refused");
    ok(gobi_json_parse("[[[[", 4, NULL, 0) == NULL, "no error buffer: fine");

    done_testing();
}
