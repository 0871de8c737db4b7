/*
 * Copyright (C) the gobi authors
 *
 * WebSocket JSON messages: what clients send, read strictly; what the
 * server sends, byte for byte; each side's writers read back by the other
 * side's reader; hostile server messages refused.
 */

#include "unit.h"

#include "gobi_wsmsg.h"


static gobi_wsmsg_t  m;


/* parse len bytes, the last message freed first; returns 0 or -1 */
static int
parse_len(const char *s, size_t len)
{
    gobi_wsmsg_free(&m);
    return gobi_wsmsg_parse(&m, s, len);
}


static int
parse(const char *s)
{
    return parse_len(s, strlen(s));
}


/* expect a bad_message whose message is `want` */
#define BAD(json, want)                                                      \
    do {                                                                     \
        is_int(parse(json), -1, "refused: %s", want);                        \
        is_str(m.code, "bad_message", "code for: %s", want);                 \
        is_str(m.message, want, "message for: %s", want);                    \
    } while (0)


static void
test_hello(void)
{
    is_int(parse("{\"type\":\"hello\",\"vault\":\"notes\",\"since\":42,"
                 "\"device\":\"laptop\",\"protocol\":1}"), 0, "hello");
    is_int(m.type, GOBI_WSMSG_HELLO, "type hello");
    is_str(m.vault, "notes", "vault");
    is_int(m.since, 42, "since");
    is_str(m.device, "laptop", "device");
    is_int(m.protocol, 1, "protocol");
    ok(m.code == NULL, "no error code");

    is_int(parse("{\"since\":0,\"vault\":\"v\",\"type\":\"hello\"}"), 0,
           "hello in any key order, no device, no protocol");
    ok(m.device == NULL, "device NULL when missing");
    is_int(m.protocol, 1, "protocol defaults to 1");
    is_int(m.since, 0, "since 0");

    is_int(parse("{\"type\":\"hello\",\"vault\":\"v\",\"since\":1,"
                 "\"device\":null,\"protocol\":2,\"extra\":[1,{}]}"), 0,
           "device null, unknown fields ignored");
    ok(m.device == NULL, "device NULL when null");
    is_int(m.protocol, 2, "protocol 2 is read (the caller decides)");

    is_int(parse("{\"type\":\"hello\",\"vault\":\"\\u00e9t\\u00e9\","
                 "\"since\":9007199254740993}"), 0, "escapes, big since");
    is_str(m.vault, "\xc3\xa9t\xc3\xa9", "vault unescaped");
    is_int(m.since, 9007199254740993LL, "since beyond a double's precision");

    BAD("{\"type\":\"hello\",\"since\":1}", "missing \"vault\"");
    BAD("{\"type\":\"hello\",\"vault\":7,\"since\":1}",
        "\"vault\" must be a string");
    BAD("{\"type\":\"hello\",\"vault\":null,\"since\":1}",
        "\"vault\" must be a string");
    BAD("{\"type\":\"hello\",\"vault\":\"v\"}", "missing \"since\"");
    BAD("{\"type\":\"hello\",\"vault\":\"v\",\"since\":-1}",
        "\"since\" must be an integer >= 0");
    BAD("{\"type\":\"hello\",\"vault\":\"v\",\"since\":1.5}",
        "\"since\" must be an integer >= 0");
    BAD("{\"type\":\"hello\",\"vault\":\"v\",\"since\":1e3}",
        "\"since\" must be an integer >= 0");
    BAD("{\"type\":\"hello\",\"vault\":\"v\",\"since\":\"3\"}",
        "\"since\" must be an integer >= 0");
    BAD("{\"type\":\"hello\",\"vault\":\"v\",\"since\":"
        "99999999999999999999}", "\"since\" must be an integer >= 0");
    BAD("{\"type\":\"hello\",\"vault\":\"v\",\"since\":1,\"device\":5}",
        "\"device\" must be a string");
    BAD("{\"type\":\"hello\",\"vault\":\"v\",\"since\":1,"
        "\"device\":\"pc\\tone\"}", "X-Gobi-Device must be printable");
    BAD("{\"type\":\"hello\",\"vault\":\"v\",\"since\":1,\"device\":\""
        "0123456789012345678901234567890123456789012345678901234567890123"
        "4\"}", "X-Gobi-Device must be 1-64 bytes");
    BAD("{\"type\":\"hello\",\"vault\":\"v\",\"since\":1,\"protocol\":0}",
        "\"protocol\" must be an integer >= 1");
    BAD("{\"type\":\"hello\",\"vault\":\"v\",\"since\":1,\"protocol\":\"1\"}",
        "\"protocol\" must be an integer >= 1");
}


static void
test_ops(void)
{
    is_int(parse("{\"type\":\"rename\",\"id\":\"op-1\",\"from\":\"a.md\","
                 "\"to\":\"dir/b.md\",\"base_version\":17}"), 0, "rename");
    is_int(m.type, GOBI_WSMSG_RENAME, "type rename");
    is_str(m.id, "\"op-1\"", "string id as JSON text");
    is_int(m.id_len, 6, "id length");
    is_str(m.from, "a.md", "from");
    is_str(m.path, "dir/b.md", "to");
    is_int(m.base_version, 17, "base_version");

    is_int(parse("{\"type\":\"delete\",\"id\":12,\"path\":\"x\","
                 "\"base_version\":3}"), 0, "delete");
    is_int(m.type, GOBI_WSMSG_DELETE, "type delete");
    is_str(m.id, "12", "number id as JSON text");
    is_str(m.path, "x", "path");
    is_int(m.base_version, 3, "base_version");

    /* ids are echoed as written */
    parse("{\"type\":\"delete\",\"id\":1.50e3,\"path\":\"x\","
          "\"base_version\":0}");
    is_str(m.id, "1.50e3", "number id keeps its text");
    parse("{\"type\":\"delete\",\"id\":-0,\"path\":\"x\",\"base_version\":0}");
    is_str(m.id, "-0", "-0 stays -0");
    parse("{\"type\":\"delete\",\"id\":123456789012345678901234567890,"
          "\"path\":\"x\",\"base_version\":0}");
    is_str(m.id, "123456789012345678901234567890", "huge number id");
    parse("{\"type\":\"delete\",\"id\":\"a\\\"b\\\\c\\n\\u0001\\u00e9/\","
          "\"path\":\"x\",\"base_version\":0}");
    is_str(m.id, "\"a\\\"b\\\\c\\u000a\\u0001\xc3\xa9/\"",
           "string id re-escaped");
    parse("{\"type\":\"delete\",\"id\":\"\",\"path\":\"x\","
          "\"base_version\":0}");
    is_str(m.id, "\"\"", "empty string id");
    is_int(m.id_len, 2, "empty string id has a length");

    /* paths are taken as sent: checking them is the caller's */
    is_int(parse("{\"type\":\"delete\",\"id\":1,\"path\":\"../x\","
                 "\"base_version\":0}"), 0, "a bad path parses");
    is_str(m.path, "../x", "as sent");

    BAD("{\"type\":\"rename\",\"from\":\"a\",\"to\":\"b\",\"base_version\":1}",
        "missing \"id\"");
    BAD("{\"type\":\"rename\",\"id\":true,\"from\":\"a\",\"to\":\"b\","
        "\"base_version\":1}", "\"id\" must be a string or a number");
    BAD("{\"type\":\"rename\",\"id\":null,\"from\":\"a\",\"to\":\"b\","
        "\"base_version\":1}", "\"id\" must be a string or a number");
    BAD("{\"type\":\"rename\",\"id\":{},\"from\":\"a\",\"to\":\"b\","
        "\"base_version\":1}", "\"id\" must be a string or a number");
    BAD("{\"type\":\"rename\",\"id\":[1],\"from\":\"a\",\"to\":\"b\","
        "\"base_version\":1}", "\"id\" must be a string or a number");

    BAD("{\"type\":\"rename\",\"id\":5,\"to\":\"b\",\"base_version\":1}",
        "missing \"from\"");
    is_str(m.id, "5", "the id is known for the error reply");
    is_int(m.id_len, 1, "its length too");
    BAD("{\"type\":\"rename\",\"id\":5,\"from\":\"a\",\"base_version\":1}",
        "missing \"to\"");
    BAD("{\"type\":\"rename\",\"id\":5,\"from\":[],\"to\":\"b\","
        "\"base_version\":1}", "\"from\" must be a string");
    BAD("{\"type\":\"rename\",\"id\":5,\"from\":\"a\",\"to\":\"b\"}",
        "missing \"base_version\"");
    BAD("{\"type\":\"rename\",\"id\":5,\"from\":\"a\",\"to\":\"b\","
        "\"base_version\":-2}", "\"base_version\" must be an integer >= 0");
    BAD("{\"type\":\"rename\",\"id\":5,\"from\":\"a\",\"to\":\"b\","
        "\"base_version\":\"2\"}", "\"base_version\" must be an integer >= 0");
    BAD("{\"type\":\"rename\",\"id\":5,\"from\":\"a\",\"to\":\"b\","
        "\"base_version\":null}", "\"base_version\" must be an integer >= 0");

    BAD("{\"type\":\"delete\",\"id\":5,\"base_version\":1}",
        "missing \"path\"");
    BAD("{\"type\":\"delete\",\"id\":5,\"path\":false,\"base_version\":1}",
        "\"path\" must be a string");
    BAD("{\"type\":\"delete\",\"path\":\"p\",\"base_version\":1}",
        "missing \"id\"");
    is_int(m.id_len, 0, "no id, no id length");
}


static void
test_ids(void)
{
    char  buf[1024];
    int   n;

    /* 256 bytes of JSON text is the limit */
    n = snprintf(buf, sizeof(buf), "{\"type\":\"delete\",\"id\":\"%0254d\","
                 "\"path\":\"x\",\"base_version\":0}", 0);
    ok(n > 0, "built");
    is_int(parse(buf), 0, "string id of 256 bytes as JSON");
    is_int(m.id_len, 256, "256");

    snprintf(buf, sizeof(buf), "{\"type\":\"delete\",\"id\":\"%0255d\","
             "\"path\":\"x\",\"base_version\":0}", 0);
    BAD(buf, "\"id\" is too long");

    snprintf(buf, sizeof(buf), "{\"type\":\"delete\",\"id\":1%0256d,"
             "\"path\":\"x\",\"base_version\":0}", 0);
    BAD(buf, "\"id\" is too long");

    /* escapes count as written back: 50 controls are 300 bytes */
    snprintf(buf, sizeof(buf), "{\"type\":\"delete\",\"id\":\"%s\","
             "\"path\":\"x\",\"base_version\":0}",
             "\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001"
             "\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001"
             "\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001"
             "\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001"
             "\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001"
             "\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001");
    BAD(buf, "\"id\" is too long");
}


static void
test_bad_messages(void)
{
    static char  big[GOBI_WSMSG_MAX_SIZE + 2];
    char         deep[200];
    size_t       n;
    int          i;

    BAD("", "message is not JSON: parse error: premature EOF");
    ok(parse("{") == -1 && strncmp(m.message, "message is not JSON: ", 21)
       == 0, "truncated JSON: %s", m.message);
    ok(strchr(m.message, '\n') == NULL, "one line");
    ok(parse("nope") == -1 && strncmp(m.message, "message is not JSON: ", 21)
       == 0, "not JSON: %s", m.message);
    ok(parse("{\"type\":\"hello\",}") == -1
       && strncmp(m.message, "message is not JSON: ", 21) == 0,
       "trailing comma: %s", m.message);
    ok(parse("{\"type\":\"hello\"} {}") == -1, "two values");
    BAD("{\"type\":\"\xc0\xaf\"}", "message is not JSON: invalid UTF-8");
    BAD("{\"type\":\"\xed\xa0\x80\"}", "message is not JSON: invalid UTF-8");

    BAD("[1,2]", "message is not a JSON object");
    BAD("\"hello\"", "message is not a JSON object");
    BAD("42", "message is not a JSON object");
    BAD("null", "message is not a JSON object");

    BAD("{}", "missing \"type\"");
    BAD("{\"vault\":\"v\"}", "missing \"type\"");
    BAD("{\"type\":1}", "\"type\" must be a string");
    BAD("{\"type\":null}", "\"type\" must be a string");
    BAD("{\"type\":\"ping\"}", "unknown message type \"ping\"");
    BAD("{\"type\":\"Hello\"}", "unknown message type \"Hello\"");
    BAD("{\"type\":\"\"}", "unknown message type \"\"");
    BAD("{\"type\":\"hello\",\"type\":\"rename\"}", "duplicate key \"type\"");
    BAD("{\"type\":\"hello\",\"vault\":\"a\",\"since\":1,\"vault\":\"b\"}",
        "duplicate key \"vault\"");

    /* a long type is cut, never inside a character */
    strcpy(deep, "{\"type\":\"");
    for (i = 0; i < 40; i++) {
        strcat(deep, "\xe2\x82\xac");
    }
    strcat(deep, "\"}");
    is_int(parse(deep), -1, "long unknown type");
    n = strlen(m.message);
    ok(n < 100 && m.message[n - 1] == '"'
       && (unsigned char) m.message[n - 2] == 0xac,
       "cut at a character: %s", m.message);

    /* NUL */
    is_int(parse_len("{\"type\":\"hello\"}\0x", 18), -1,
           "NUL byte after the object");
    is_str(m.message, "message is not JSON: NUL byte", "its message");
    BAD("{\"type\":\"hello\",\"vault\":\"a\\u0000b\",\"since\":1}",
        "NUL is not allowed in strings");
    BAD("{\"type\":\"delete\",\"id\":1,\"path\":\"x\\u0000.txt\","
        "\"base_version\":1}", "NUL is not allowed in strings");
    is_int(parse("{\"type\":\"hello\",\"vault\":\"a\\\\u0000\",\"since\":1}"),
           0, "an escaped backslash before u0000 is not a NUL");
    is_str(m.vault, "a\\u0000", "literal text");

    /* comments would hide brackets from the depth scan */
    BAD("{\"type\":\"hello\"/* x */}",
        "message is not JSON: comments are not allowed");
    BAD("// x\n{}", "message is not JSON: comments are not allowed");
    is_int(parse("{\"type\":\"hello\",\"vault\":\"a/b\",\"since\":1}"), 0,
           "'/' inside a string is fine");

    /* depth: the object is level 1 */
    strcpy(deep, "{\"type\":\"hello\",\"vault\":\"v\",\"since\":1,\"x\":");
    for (i = 0; i < GOBI_WSMSG_MAX_DEPTH - 1; i++) {
        strcat(deep, "[");
    }
    for (i = 0; i < GOBI_WSMSG_MAX_DEPTH - 1; i++) {
        strcat(deep, "]");
    }
    strcat(deep, "}");
    is_int(parse(deep), 0, "nested %d deep", GOBI_WSMSG_MAX_DEPTH);

    strcpy(deep, "{\"x\":");
    for (i = 0; i < GOBI_WSMSG_MAX_DEPTH; i++) {
        strcat(deep, "{\"a\":");
    }
    strcat(deep, "1");
    for (i = 0; i < GOBI_WSMSG_MAX_DEPTH + 1; i++) {
        strcat(deep, "}");
    }
    BAD(deep, "message nested too deep");
    BAD("{\"x\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\",\"type\":\"x\"}",
        "unknown message type \"x\"");

    /* deep enough to crash a recursive free, refused before parsing */
    memset(big, '[', GOBI_WSMSG_MAX_SIZE);
    is_int(parse_len(big, GOBI_WSMSG_MAX_SIZE), -1,
           "65536 brackets");
    is_str(m.message, "message nested too deep", "refused by the scan");
    gobi_wsmsg_free(&m);

    /* size */
    n = (size_t) snprintf(big, sizeof(big), "{\"type\":\"hello\","
                          "\"vault\":\"v\",\"since\":1,\"pad\":\"");
    memset(big + n, 'p', GOBI_WSMSG_MAX_SIZE - n - 2);
    memcpy(big + GOBI_WSMSG_MAX_SIZE - 2, "\"}", 3);
    is_int(parse_len(big, GOBI_WSMSG_MAX_SIZE), 0,
           "a message of exactly the limit");
    memcpy(big + GOBI_WSMSG_MAX_SIZE - 2, " \"}", 4);
    is_int(parse_len(big, GOBI_WSMSG_MAX_SIZE + 1), -1,
           "one byte more");
    is_str(m.message, "message too big", "too big");
    gobi_wsmsg_free(&m);

    /* the length counts, not a NUL terminator */
    is_int(parse_len("{\"type\":\"hello\",\"vault\":\"v\","
                            "\"since\":1}garbage", 38), 0,
           "text not NUL-terminated");
    gobi_wsmsg_free(&m);
}


/* generated JSON as a C string */
static const char *
gen_str(yajl_gen g)
{
    static char           out[4096];
    const unsigned char  *buf;
    size_t                len;

    yajl_gen_get_buf(g, &buf, &len);
    len = len < sizeof(out) - 1 ? len : sizeof(out) - 1;
    memcpy(out, buf, len);
    out[len] = '\0';
    yajl_gen_clear(g);
    yajl_gen_reset(g, NULL);

    return out;
}


static void
ev_init(gobi_event_t *e, int64_t seq, gobi_event_type_e type,
    const char *path, const char *from, char h)
{
    memset(e, 0, sizeof(*e));
    e->seq = seq;
    e->version = seq;
    e->type = type;
    e->path = path;
    e->from = from;
    e->ts = 1700000000000LL + seq;

    if (h) {
        memset(e->hash, h, GOBI_HASH_HEX_LEN);
        e->size = 10 * seq;
        e->mtime = 1600000000000LL + seq;
    }
}


#define H16(c)  c c c c c c c c c c c c c c c c
#define H64(c)  H16(c) H16(c) H16(c) H16(c)


static void
test_gen(void)
{
    gobi_wsmsg_action_t  act[3];
    gobi_event_t         ev[3];
    yajl_gen             g;

    g = yajl_gen_alloc(NULL);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);

    ev_init(&ev[0], 5, GOBI_EV_CREATE, "notes/a.md", NULL, 'a');
    ev[0].device = "laptop";
    ev_init(&ev[1], 6, GOBI_EV_RENAME, "b \"q\".md", "notes/a.md", 'a');
    ev_init(&ev[2], 7, GOBI_EV_DELETE, "c\xc3\xa9", NULL, 0);
    ev[2].device = "";

    is_int(gobi_wsmsg_gen_event(g, &ev[0]), 0, "event");
    is_str(gen_str(g), "{\"seq\":5,\"type\":\"create\",\"path\":\"notes/a.md\","
           "\"version\":5,\"hash\":\"" H64("a") "\",\"size\":50,"
           "\"mtime\":1600000000005,\"device\":\"laptop\","
           "\"ts\":1700000000005}", "create event JSON");

    is_int(gobi_wsmsg_gen_event(g, &ev[1]), 0, "rename event");
    is_str(gen_str(g), "{\"seq\":6,\"type\":\"rename\","
           "\"path\":\"b \\\"q\\\".md\",\"from\":\"notes/a.md\",\"version\":6,"
           "\"hash\":\"" H64("a") "\",\"size\":60,\"mtime\":1600000000006,"
           "\"device\":null,\"ts\":1700000000006}",
           "rename event JSON: from, escaped path, device null");

    is_int(gobi_wsmsg_gen_event(g, &ev[2]), 0, "delete event");
    is_str(gen_str(g), "{\"seq\":7,\"type\":\"delete\",\"path\":\"c\xc3\xa9\","
           "\"version\":7,\"hash\":\"\",\"size\":0,\"mtime\":0,"
           "\"device\":null,\"ts\":1700000000007}",
           "delete event JSON: no from, empty hash");

    is_int(gobi_wsmsg_gen_welcome(g, "notes", 120, 3), 0, "welcome");
    is_str(gen_str(g), "{\"type\":\"welcome\",\"vault\":\"notes\","
           "\"head_seq\":120,\"oldest_seq\":3,\"protocol\":1}",
           "welcome JSON");

    is_int(gobi_wsmsg_gen_events(g, ev, 0, 0), 0, "empty events batch");
    is_str(gen_str(g), "{\"type\":\"events\",\"events\":[],\"more\":false}",
           "empty batch JSON");

    is_int(gobi_wsmsg_gen_events(g, &ev[1], 2, 1), 0, "events batch");
    is_str(gen_str(g), "{\"type\":\"events\",\"events\":[{\"seq\":6,"
           "\"type\":\"rename\",\"path\":\"b \\\"q\\\".md\","
           "\"from\":\"notes/a.md\",\"version\":6,\"hash\":\"" H64("a") "\","
           "\"size\":60,\"mtime\":1600000000006,\"device\":null,"
           "\"ts\":1700000000006},{\"seq\":7,\"type\":\"delete\","
           "\"path\":\"c\xc3\xa9\",\"version\":7,\"hash\":\"\",\"size\":0,"
           "\"mtime\":0,\"device\":null,\"ts\":1700000000007}],"
           "\"more\":true}", "batch JSON");

    is_int(gobi_wsmsg_gen_event_msg(g, &ev[2]), 0, "live event");
    is_str(gen_str(g), "{\"type\":\"event\",\"event\":{\"seq\":7,"
           "\"type\":\"delete\",\"path\":\"c\xc3\xa9\",\"version\":7,"
           "\"hash\":\"\",\"size\":0,\"mtime\":0,\"device\":null,"
           "\"ts\":1700000000007}}", "live event JSON");

    is_int(gobi_wsmsg_gen_resync(g, "history_expired", 99), 0, "resync");
    is_str(gen_str(g), "{\"type\":\"resync\",\"reason\":\"history_expired\","
           "\"head_seq\":99}", "resync JSON");

    /* ids go back as they came */
    parse("{\"type\":\"delete\",\"id\":1.50e3,\"path\":\"x\","
          "\"base_version\":0}");
    is_int(gobi_wsmsg_gen_ack(g, m.id, m.id_len, 31, 31), 0, "ack");
    is_str(gen_str(g), "{\"type\":\"ack\",\"id\":1.50e3,\"seq\":31,"
           "\"version\":31}", "ack JSON, number id verbatim");

    parse("{\"type\":\"delete\",\"id\":\"q\\\"\\u00e9\\n\",\"path\":\"x\","
          "\"base_version\":0}");
    is_int(gobi_wsmsg_gen_ack(g, m.id, m.id_len, 32, 32), 0, "ack");
    is_str(gen_str(g), "{\"type\":\"ack\",\"id\":\"q\\\"\xc3\xa9\\u000a\","
           "\"seq\":32,\"version\":32}", "ack JSON, string id");

    act[0].op = GOBI_WSMSG_DOWNLOAD;
    act[0].path = "a.md";
    act[0].version = 40;
    act[1].op = GOBI_WSMSG_DELETE_LOCAL;
    act[1].path = "b.md";
    act[2].op = GOBI_WSMSG_RENAME_LOCAL;
    act[2].from = "c.md";
    act[2].to = "d.md";

    is_int(gobi_wsmsg_gen_reject(g, "\"r1\"", 4, "version_conflict",
                                 "a.md is at version 40", act, 3), 0,
           "reject");
    is_str(gen_str(g), "{\"type\":\"reject\",\"id\":\"r1\","
           "\"code\":\"version_conflict\","
           "\"message\":\"a.md is at version 40\","
           "\"actions\":[{\"op\":\"download\",\"path\":\"a.md\","
           "\"version\":40},{\"op\":\"delete_local\",\"path\":\"b.md\"},"
           "{\"op\":\"rename_local\",\"from\":\"c.md\",\"to\":\"d.md\"}]}",
           "reject JSON");

    is_int(gobi_wsmsg_gen_reject(g, "7", 1, "invalid_path", "bad", NULL, 0),
           0, "reject without actions");
    is_str(gen_str(g), "{\"type\":\"reject\",\"id\":7,"
           "\"code\":\"invalid_path\","
           "\"message\":\"bad\",\"actions\":[]}", "empty actions");

    is_int(gobi_wsmsg_gen_error(g, "bad_message", "missing \"type\"", NULL, 0),
           0, "error");
    is_str(gen_str(g), "{\"type\":\"error\",\"code\":\"bad_message\","
           "\"message\":\"missing \\\"type\\\"\"}", "error JSON");

    is_int(gobi_wsmsg_gen_error(g, "bad_message", "m", "5", 1), 0,
           "error with an id");
    is_str(gen_str(g), "{\"type\":\"error\",\"code\":\"bad_message\","
           "\"message\":\"m\",\"id\":5}", "error JSON with the id");

    is_int(gobi_wsmsg_gen_ack(g, NULL, 0, 1, 1), 0, "ack without an id");
    is_str(gen_str(g), "{\"type\":\"ack\",\"id\":null,\"seq\":1,"
           "\"version\":1}", "id null");

    /* what yajl refuses is reported */
    is_int(gobi_wsmsg_gen_error(g, "bad_message", "\xff", NULL, 0), -1,
           "invalid UTF-8 refused");
    gen_str(g);

    act[0].op = (gobi_wsmsg_op_e) 99;
    is_int(gobi_wsmsg_gen_reject(g, "1", 1, "c", "m", act, 1), -1,
           "unknown action refused");
    gen_str(g);

    yajl_gen_free(g);
}


/* each error message a client can get is one line of valid UTF-8 */
static void
test_messages_are_sendable(void)
{
    static const char  *bad[] = {
        "", "{", "[", "\"\xe2\x82", "{\"type\":\"\xe2\x82\"}", "{\"a\":tru}",
        "{\"type\":\"hello\",\"vault\":\"v\",\"since\":-1}", "x\ny\nz",
        NULL
    };
    yajl_gen             g;
    int                  i, fails;

    g = yajl_gen_alloc(NULL);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    fails = 0;

    for (i = 0; bad[i]; i++) {
        if (parse(bad[i]) != -1
            || gobi_wsmsg_gen_error(g, m.code, m.message, m.id, m.id_len)
               != 0
            || strchr(m.message, '\n') != NULL)
        {
            fails++;
            printf("# %s\n", m.message);
        }

        gen_str(g);
    }

    is_int(fails, 0, "error replies can always be generated");

    yajl_gen_free(g);
}



static gobi_wsmsg_server_t  sm;


/* the gen's message parsed as the server would, the gen cleared */
static int
parse_gen(yajl_gen g)
{
    const unsigned char  *buf;
    size_t                len;
    int                   rc;

    yajl_gen_get_buf(g, &buf, &len);
    rc = parse_len((const char *) buf, len);
    yajl_gen_clear(g);
    yajl_gen_reset(g, NULL);

    return rc;
}


static int
sparse_len(const char *s, size_t len)
{
    gobi_wsmsg_server_free(&sm);
    return gobi_wsmsg_parse_server(&sm, s, len);
}


static int
sparse(const char *s)
{
    return sparse_len(s, strlen(s));
}


/* the gen's message parsed as the client would, the gen cleared */
static int
sparse_gen(yajl_gen g)
{
    const unsigned char  *buf;
    size_t                len;
    int                   rc;

    yajl_gen_get_buf(g, &buf, &len);
    rc = sparse_len((const char *) buf, len);
    yajl_gen_clear(g);
    yajl_gen_reset(g, NULL);

    return rc;
}


static int
ev_same(const gobi_event_t *a, const gobi_event_t *b)
{
    return a->seq == b->seq && a->type == b->type
           && strcmp(a->path, b->path) == 0
           && (a->type == GOBI_EV_RENAME ? strcmp(a->from, b->from) == 0
                                         : b->from == NULL)
           && a->version == b->version && strcmp(a->hash, b->hash) == 0
           && a->size == b->size && a->mtime == b->mtime
           && ((a->device && a->device[0])
               ? b->device && strcmp(a->device, b->device) == 0
               : b->device == NULL)
           && a->ts == b->ts;
}


/* the client's messages, read back by the server's parser */
static void
test_gen_client(void)
{
    yajl_gen   g;
    char      *big;

    g = yajl_gen_alloc(NULL);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);

    is_int(gobi_wsmsg_gen_hello(g, "notes", 42, "laptop"), 0, "hello");
    is_str(gen_str(g), "{\"type\":\"hello\",\"vault\":\"notes\",\"since\":42,"
           "\"device\":\"laptop\",\"protocol\":1}", "hello JSON");

    gobi_wsmsg_gen_hello(g, "n\xc3\xb6tes", 9007199254740993LL, "a \"b\"");
    is_int(parse_gen(g), 0, "hello parses");
    is_int(m.type, GOBI_WSMSG_HELLO, "type hello");
    is_str(m.vault, "n\xc3\xb6tes", "vault");
    is_int(m.since, 9007199254740993LL, "since");
    is_str(m.device, "a \"b\"", "device");
    is_int(m.protocol, GOBI_WSMSG_PROTOCOL, "protocol");

    gobi_wsmsg_gen_hello(g, "v", 0, NULL);
    is_int(parse_gen(g), 0, "hello without a device parses");
    ok(m.device == NULL, "device null");

    is_int(gobi_wsmsg_gen_rename(g, "7", 1, "a.md", "dir/b.md", 17), 0,
           "rename");
    is_str(gen_str(g), "{\"type\":\"rename\",\"id\":7,\"from\":\"a.md\","
           "\"to\":\"dir/b.md\",\"base_version\":17}", "rename JSON");

    gobi_wsmsg_gen_rename(g, "\"op-1\"", 6, "x \"y\"\n", "z\xc3\xa9", 0);
    is_int(parse_gen(g), 0, "rename parses");
    is_int(m.type, GOBI_WSMSG_RENAME, "type rename");
    is_str(m.id, "\"op-1\"", "string id back as it went");
    is_str(m.from, "x \"y\"\n", "from");
    is_str(m.path, "z\xc3\xa9", "to");
    is_int(m.base_version, 0, "base_version");

    is_int(gobi_wsmsg_gen_delete(g, "12", 2, "x", 3), 0, "delete");
    is_str(gen_str(g), "{\"type\":\"delete\",\"id\":12,\"path\":\"x\","
           "\"base_version\":3}", "delete JSON");

    gobi_wsmsg_gen_delete(g, "123456789012345678901234567890", 30,
                          "d/e.md", 9);
    is_int(parse_gen(g), 0, "delete parses");
    is_int(m.type, GOBI_WSMSG_DELETE, "type delete");
    is_str(m.id, "123456789012345678901234567890", "number id verbatim");
    is_str(m.path, "d/e.md", "path");
    is_int(m.base_version, 9, "base_version");

    gobi_wsmsg_gen_delete(g, NULL, 0, "x", 1);
    is_int(parse_gen(g), -1, "an op without an id is written as null");
    is_str(m.message, "\"id\" must be a string or a number",
           "and the server says so");

    /* what the server would refuse is not written */
    big = malloc(GOBI_WSMSG_MAX_SIZE + 1);
    memset(big, 'a', GOBI_WSMSG_MAX_SIZE);
    big[GOBI_WSMSG_MAX_SIZE] = '\0';
    is_int(gobi_wsmsg_gen_delete(g, "1", 1, big, 1), -1,
           "a message too big refused");
    gen_str(g);
    big[GOBI_WSMSG_MAX_SIZE - 100] = '\0';
    is_int(gobi_wsmsg_gen_delete(g, "1", 1, big, 1), 0,
           "one that fits written");
    is_int(parse_gen(g), 0, "and parsed");
    is_int(strlen(m.path), GOBI_WSMSG_MAX_SIZE - 100, "all of it");
    free(big);

    is_int(gobi_wsmsg_gen_rename(g, "1", 1, "\xff", "b", 1), -1,
           "invalid UTF-8 refused");
    gen_str(g);

    yajl_gen_free(g);
}


/* the server's messages, read back by the client's parser */
static void
test_parse_server(void)
{
    gobi_wsmsg_action_t  act[3];
    gobi_event_t         ev[3];
    yajl_gen             g;
    size_t               i;
    int                  same;

    g = yajl_gen_alloc(NULL);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);

    ev_init(&ev[0], 5, GOBI_EV_CREATE, "notes/a.md", NULL, 'a');
    ev[0].device = "laptop";
    ev_init(&ev[1], 6, GOBI_EV_RENAME, "b \"q\".md", "notes/a.md", 'f');
    ev_init(&ev[2], 7, GOBI_EV_DELETE, "c\xc3\xa9", NULL, 0);
    ev[2].device = "";

    gobi_wsmsg_gen_welcome(g, "notes", 120, 3);
    is_int(sparse_gen(g), 0, "welcome");
    is_int(sm.type, GOBI_WSMSG_WELCOME, "type welcome");
    is_str(sm.vault, "notes", "vault");
    is_int(sm.head_seq, 120, "head_seq");
    is_int(sm.oldest_seq, 3, "oldest_seq");
    is_int(sm.protocol, 1, "protocol");

    gobi_wsmsg_gen_events(g, ev, 3, 1);
    is_int(sparse_gen(g), 0, "events");
    is_int(sm.type, GOBI_WSMSG_EVENTS, "type events");
    is_int(sm.nevents, 3, "three events");
    is_int(sm.more, 1, "more");

    same = 0;
    for (i = 0; i < sm.nevents; i++) {
        same += ev_same(&ev[i], &sm.events[i]);
    }

    is_int(same, 3, "each event as it was written");
    is_str(sm.events[1].from, "notes/a.md", "rename's from");
    is_str(sm.events[2].hash, "", "delete's empty hash");
    ok(sm.events[2].device == NULL, "device null");

    gobi_wsmsg_gen_events(g, ev, 0, 0);
    is_int(sparse_gen(g), 0, "empty events batch");
    is_int(sm.nevents, 0, "no events");
    is_int(sm.more, 0, "no more");

    gobi_wsmsg_gen_event_msg(g, &ev[1]);
    is_int(sparse_gen(g), 0, "event");
    is_int(sm.type, GOBI_WSMSG_EVENT, "type event");
    is_int(sm.nevents, 1, "one event");
    ok(ev_same(&ev[1], &sm.events[0]), "the event as it was written");

    /* an id goes client -> server -> client unchanged */
    gobi_wsmsg_gen_rename(g, "41", 2, "a", "b", 1);
    parse_gen(g);
    gobi_wsmsg_gen_ack(g, m.id, m.id_len, 31, 30);
    is_int(sparse_gen(g), 0, "ack");
    is_int(sm.type, GOBI_WSMSG_ACK, "type ack");
    is_str(sm.id, "41", "the rename's id");
    is_int(sm.id_len, 2, "id length");
    is_int(sm.seq, 31, "seq");
    is_int(sm.version, 30, "version");

    gobi_wsmsg_gen_delete(g, "\"q\\\"\xc3\xa9\"", 7, "a", 1);
    parse_gen(g);
    gobi_wsmsg_gen_ack(g, m.id, m.id_len, 32, 32);
    is_int(sparse_gen(g), 0, "ack with a string id");
    is_str(sm.id, "\"q\\\"\xc3\xa9\"", "string id as JSON text");

    gobi_wsmsg_gen_ack(g, NULL, 0, 1, 1);
    is_int(sparse_gen(g), 0, "ack with a null id");
    is_int(sm.id_len, 0, "no id");

    act[0].op = GOBI_WSMSG_DOWNLOAD;
    act[0].path = "a.md";
    act[0].version = 40;
    act[1].op = GOBI_WSMSG_DELETE_LOCAL;
    act[1].path = "b.md";
    act[2].op = GOBI_WSMSG_RENAME_LOCAL;
    act[2].from = "c.md";
    act[2].to = "d.md";

    gobi_wsmsg_gen_reject(g, "\"r1\"", 4, "version_conflict",
                          "a.md is at version 40", act, 3);
    is_int(sparse_gen(g), 0, "reject");
    is_int(sm.type, GOBI_WSMSG_REJECT, "type reject");
    is_str(sm.id, "\"r1\"", "id");
    is_str(sm.code, "version_conflict", "code");
    is_str(sm.message, "a.md is at version 40", "message");
    is_int(sm.nactions, 3, "three actions");
    is_int(sm.actions[0].op, GOBI_WSMSG_DOWNLOAD, "download");
    is_str(sm.actions[0].path, "a.md", "its path");
    is_int(sm.actions[0].version, 40, "its version");
    is_int(sm.actions[1].op, GOBI_WSMSG_DELETE_LOCAL, "delete_local");
    is_str(sm.actions[1].path, "b.md", "its path");
    is_int(sm.actions[2].op, GOBI_WSMSG_RENAME_LOCAL, "rename_local");
    is_str(sm.actions[2].from, "c.md", "its from");
    is_str(sm.actions[2].to, "d.md", "its to");

    gobi_wsmsg_gen_reject(g, "7", 1, "invalid_path", "bad", NULL, 0);
    is_int(sparse_gen(g), 0, "reject without actions");
    is_int(sm.nactions, 0, "no actions");
    is_str(sm.id, "7", "id");

    is_int(sparse("{\"type\":\"reject\",\"id\":1,\"code\":\"c\","
                  "\"message\":\"m\"}"), 0, "reject, actions missing");
    is_int(sm.nactions, 0, "no actions");

    gobi_wsmsg_gen_resync(g, "history_expired", 99);
    is_int(sparse_gen(g), 0, "resync");
    is_int(sm.type, GOBI_WSMSG_RESYNC, "type resync");
    is_str(sm.reason, "history_expired", "reason");
    is_int(sm.head_seq, 99, "head_seq");

    gobi_wsmsg_gen_error(g, "bad_message", "missing \"type\"", NULL, 0);
    is_int(sparse_gen(g), 0, "error");
    is_int(sm.type, GOBI_WSMSG_ERROR, "type error");
    is_str(sm.code, "bad_message", "code");
    is_str(sm.message, "missing \"type\"", "message");
    is_int(sm.id_len, 0, "no id");

    gobi_wsmsg_gen_error(g, "bad_message", "m", "5", 1);
    is_int(sparse_gen(g), 0, "error with an id");
    is_str(sm.id, "5", "its id");

    is_int(sparse_len("{\"more\":false,\"events\":[],\"type\":\"events\","
                      "\"extra\":{\"x\":[1]}}garbage", 60), 0,
           "any key order, unknown fields, length not NUL");

    yajl_gen_free(g);
}


/* expect the server message refused with `want` */
#define SBAD(json, want)                                                     \
    do {                                                                     \
        is_int(sparse(json), -1, "refused: %s", want);                       \
        is_str(sm.error, want, "error for: %s", want);                       \
    } while (0)


#define EV_OK  "\"seq\":1,\"type\":\"create\",\"path\":\"a\",\"version\":1," \
               "\"hash\":\"" H64("0") "\",\"size\":1,\"mtime\":1,"            \
               "\"device\":null,\"ts\":1"


static void
test_parse_server_bad(void)
{
    char    *buf, *p;
    size_t   i, n;

    SBAD("", "message is not JSON: parse error: premature EOF");
    SBAD("[1]", "message is not a JSON object");
    SBAD("{\"type\":\"welcome\",/*x*/\"vault\":\"v\"}",
         "message is not JSON: comments are not allowed");
    SBAD("{\"type\":\"err\\u0000or\"}", "NUL is not allowed in strings");
    SBAD("{\"type\":\"\xc0\xaf\"}", "message is not JSON: invalid UTF-8");
    SBAD("{}", "missing \"type\"");
    SBAD("{\"type\":1}", "\"type\" must be a string");
    SBAD("{\"type\":\"hello\"}", "unknown message type \"hello\"");
    SBAD("{\"type\":\"ack\",\"type\":\"ack\"}", "duplicate key \"type\"");

    SBAD("{\"type\":\"welcome\",\"head_seq\":1,\"oldest_seq\":1}",
         "missing \"vault\"");
    SBAD("{\"type\":\"welcome\",\"vault\":\"v\",\"head_seq\":-1,"
         "\"oldest_seq\":1}", "\"head_seq\" must be an integer >= 0");
    SBAD("{\"type\":\"welcome\",\"vault\":\"v\",\"head_seq\":1,"
         "\"oldest_seq\":1,\"protocol\":0}",
         "\"protocol\" must be an integer >= 1");

    SBAD("{\"type\":\"events\",\"more\":false}", "missing \"events\"");
    SBAD("{\"type\":\"events\",\"events\":{},\"more\":false}",
         "\"events\" must be an array");
    SBAD("{\"type\":\"events\",\"events\":[]}", "missing \"more\"");
    SBAD("{\"type\":\"events\",\"events\":[],\"more\":1}",
         "\"more\" must be true or false");
    SBAD("{\"type\":\"events\",\"events\":[{" EV_OK "},7],\"more\":false}",
         "events[1]: an event must be an object");
    SBAD("{\"type\":\"events\",\"events\":[{" EV_OK ",\"seq\":2}],"
         "\"more\":false}", "events[0]: duplicate key \"seq\"");
    SBAD("{\"type\":\"event\"}", "missing \"event\"");
    SBAD("{\"type\":\"event\",\"event\":null}",
         "event: an event must be an object");
    SBAD("{\"type\":\"event\",\"event\":{\"seq\":0}}",
         "event: \"seq\" must be an integer >= 1");
    SBAD("{\"type\":\"event\",\"event\":{\"seq\":1,\"type\":\"none\"}}",
         "event: unknown event type \"none\"");
    SBAD("{\"type\":\"event\",\"event\":{" EV_OK ",\"type\":\"rename\"}}",
         "event: duplicate key \"type\"");
    SBAD("{\"type\":\"event\",\"event\":{\"seq\":1,\"type\":\"rename\","
         "\"path\":\"a\",\"version\":1,\"hash\":\"" H64("0") "\"}}",
         "event: missing \"from\"");
    SBAD("{\"type\":\"event\",\"event\":{\"seq\":1,\"type\":\"modify\","
         "\"path\":\"a\",\"version\":1,\"hash\":\"\",\"size\":1,"
         "\"mtime\":1,\"ts\":1}}",
         "event: \"hash\" must be 64 lowercase hex digits");
    SBAD("{\"type\":\"event\",\"event\":{\"seq\":1,\"type\":\"modify\","
         "\"path\":\"a\",\"version\":1,\"hash\":\"" H64("A") "\","
         "\"size\":1,\"mtime\":1,\"ts\":1}}",
         "event: \"hash\" must be 64 lowercase hex digits");
    SBAD("{\"type\":\"event\",\"event\":{\"seq\":1,\"type\":\"delete\","
         "\"path\":\"a\",\"version\":1,\"hash\":\"00\",\"size\":0,"
         "\"mtime\":0,\"ts\":1}}",
         "event: \"hash\" must be 64 lowercase hex digits");
    SBAD("{\"type\":\"event\",\"event\":{\"seq\":1,\"type\":\"create\","
         "\"path\":[],\"version\":1}}", "event: \"path\" must be a string");
    SBAD("{\"type\":\"event\",\"event\":{\"seq\":1,\"type\":\"create\","
         "\"path\":\"a\",\"version\":1,\"hash\":\"" H64("0") "\","
         "\"size\":-1}}", "event: \"size\" must be an integer >= 0");
    SBAD("{\"type\":\"event\",\"event\":{\"seq\":1,\"type\":\"create\","
         "\"path\":\"a\",\"version\":1,\"hash\":\"" H64("0") "\","
         "\"size\":1,\"mtime\":1,\"device\":3,\"ts\":1}}",
         "event: \"device\" must be a string");
    SBAD("{\"type\":\"event\",\"event\":{\"seq\":1,\"type\":\"create\","
         "\"path\":\"a\",\"version\":1,\"hash\":\"" H64("0") "\","
         "\"size\":1,\"mtime\":1}}", "event: missing \"ts\"");

    SBAD("{\"type\":\"ack\",\"id\":1,\"seq\":1}", "missing \"version\"");
    SBAD("{\"type\":\"ack\",\"id\":[1],\"seq\":1,\"version\":1}",
         "\"id\" must be a string or a number");
    SBAD("{\"type\":\"ack\",\"id\":7,\"seq\":1.5,\"version\":1}",
         "\"seq\" must be an integer >= 0");
    is_int(sm.type, GOBI_WSMSG_ACK, "a bad ack is still an ack");
    is_str(sm.id, "7", "with its id");

    SBAD("{\"type\":\"reject\",\"id\":3,\"message\":\"m\"}",
         "missing \"code\"");
    is_str(sm.id, "3", "a bad reject keeps its id");
    SBAD("{\"type\":\"reject\",\"id\":3,\"code\":\"c\",\"message\":\"m\","
         "\"actions\":[{\"op\":\"explode\"}]}",
         "actions[0]: unknown action \"explode\"");
    SBAD("{\"type\":\"reject\",\"id\":3,\"code\":\"c\",\"message\":\"m\","
         "\"actions\":[{\"op\":\"download\",\"path\":\"a\"}]}",
         "actions[0]: missing \"version\"");
    SBAD("{\"type\":\"reject\",\"id\":3,\"code\":\"c\",\"message\":\"m\","
         "\"actions\":[{\"op\":\"rename_local\",\"from\":\"a\"}]}",
         "actions[0]: missing \"to\"");
    SBAD("{\"type\":\"reject\",\"id\":3,\"code\":\"c\",\"message\":\"m\","
         "\"actions\":[\"download\"]}",
         "actions[0]: an action must be an object");
    SBAD("{\"type\":\"reject\",\"id\":3,\"code\":\"c\",\"message\":\"m\","
         "\"actions\":[{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}]}",
         "\"actions\" has more than 16 items");

    SBAD("{\"type\":\"resync\",\"head_seq\":1}", "missing \"reason\"");
    SBAD("{\"type\":\"error\",\"code\":\"c\"}", "missing \"message\"");

    /* limits: count, depth, size */
    n = GOBI_WSMSG_MAX_EVENTS + 1;
    buf = malloc(n * 3 + 64);
    p = buf + sprintf(buf, "{\"type\":\"events\",\"more\":false,\"events\":[");
    for (i = 0; i < n; i++) {
        p += sprintf(p, "%s{}", i ? "," : "");
    }
    strcpy(p, "]}");
    SBAD(buf, "\"events\" has more than 10000 items");
    free(buf);

    buf = malloc(64 + 2 * (GOBI_WSMSG_MAX_DEPTH + 1));
    p = buf + sprintf(buf, "{\"type\":\"ack\",\"x\":");
    for (i = 0; i < GOBI_WSMSG_MAX_DEPTH; i++) {
        *p++ = '[';
    }
    for (i = 0; i < GOBI_WSMSG_MAX_DEPTH; i++) {
        *p++ = ']';
    }
    strcpy(p, "}");
    SBAD(buf, "message nested too deep");
    free(buf);

    n = GOBI_WSMSG_SERVER_MAX_SIZE + 1;
    buf = malloc(n);
    memset(buf, ' ', n);
    p = "{\"type\":\"error\",\"code\":\"c\",\"message\":\"m\"}";
    memcpy(buf, p, strlen(p));
    is_int(sparse_len(buf, n - 1), 0, "a message of the maximum size");
    is_int(sparse_len(buf, n), -1, "one byte more");
    is_str(sm.error, "message too big", "is too big");
    free(buf);

    /* the first line of yajl's complaint only */
    is_int(sparse("{\"type\":\"ack\",\"id\":tru}"), -1, "bad literal");
    ok(strchr(sm.error, '\n') == NULL, "one line: %s", sm.error);

    gobi_wsmsg_server_free(&sm);
}


/* any prefix and any one-byte change of good messages: no crash */
static void
test_parse_server_mangled(void)
{
    static const char  *good[] = {
        "{\"type\":\"events\",\"events\":[{" EV_OK "},{\"seq\":2,"
        "\"type\":\"rename\",\"path\":\"b\",\"from\":\"a\",\"version\":2,"
        "\"hash\":\"" H64("1") "\",\"size\":1,\"mtime\":1,"
        "\"device\":\"d\",\"ts\":2}],\"more\":true}",
        "{\"type\":\"reject\",\"id\":\"x\",\"code\":\"c\",\"message\":\"m\","
        "\"actions\":[{\"op\":\"download\",\"path\":\"a\",\"version\":4},"
        "{\"op\":\"rename_local\",\"from\":\"a\",\"to\":\"b\"}]}",
        NULL
    };
    static const char   bytes[] = "\"{}[],:\\0-9e.tnx\xc3\xff";
    char                buf[1024];
    size_t              len, i, j;
    int                 k, good_n, bad_n;

    good_n = 0;
    bad_n = 0;

    for (k = 0; good[k]; k++) {
        len = strlen(good[k]);

        for (i = 0; i <= len; i++) {
            good_n += sparse_len(good[k], i) == 0;
            bad_n += sparse_len(good[k], i) != 0;

            for (j = 0; i < len && j < sizeof(bytes) - 1; j++) {
                memcpy(buf, good[k], len);
                buf[i] = bytes[j];
                good_n += sparse_len(buf, len) == 0;
                bad_n += sparse_len(buf, len) != 0
                         && strchr(sm.error, '\n') == NULL;
            }
        }
    }

    ok(good_n > 0 && bad_n > 0, "mangled messages: %d parsed, %d refused "
       "with a one-line error", good_n, bad_n);

    gobi_wsmsg_server_free(&sm);
}

/* what the fuzzer found (t/fuzz/known/) */
static void
test_fuzz_findings(void)
{
    char    buf[4096], *p;
    int     i;

    BAD("{\"type\":\"hello\",\"vault\":\"v\",\"device\":\"\\udc00\"}",
        "message is not JSON: a string escape that is not UTF-8");
    BAD("{\"type\":\"delete\",\"id\":\"\\udc00\",\"path\":\"a\","
        "\"base_version\":1}",
        "message is not JSON: a string escape that is not UTF-8");
    BAD("{\"type\":\"\\udfff\"}",
        "message is not JSON: a string escape that is not UTF-8");

    is_int(parse("{\"type\":\"hello\",\"vault\":\"v\",\"since\":0,"
                 "\"device\":\"\\ud83d\\ude00\"}"), 0,
           "a surrogate pair is a character");
    is_str(m.device, "\xf0\x9f\x98\x80", "decoded to UTF-8");

    BAD("{\"type\":\"a\\nb\"}", "unknown message type \"a?b\"");

    p = buf + sprintf(buf, "{\"type\":\"hello\",\"vault\":\"v\",\"since\":0");
    for (i = 0; i < 62; i++) {
        p += sprintf(p, ",\"k%d\":1", i);
    }
    strcpy(p, "}");
    BAD(buf, "more than 64 keys");

    /* 64 keys are fine; the bound is per object, found while scanning */
    p = buf + sprintf(buf, "{\"type\":\"hello\",\"vault\":\"v\",\"since\":0");
    for (i = 0; i < 61; i++) {
        p += sprintf(p, ",\"k%d\":\"a:b\"", i);
    }
    strcpy(p, "}");
    is_int(parse(buf), 0, "64 keys (colons in strings do not count)");

    p = buf + sprintf(buf, "{\"type\":\"hello\",\"vault\":\"v\",\"since\":0,"
                           "\"x\":{\"k\":0");
    for (i = 0; i < 64; i++) {
        p += sprintf(p, ",\"k%d\":1", i);
    }
    strcpy(p, "}}");
    BAD(buf, "more than 64 keys");

    p = buf + sprintf(buf, "{\"type\":\"hello\",\"vault\":\"v\",\"since\":0,"
                           "\"x\":[{\"a\":1}");
    for (i = 0; i < 100; i++) {
        p += sprintf(p, ",{\"a\":1,\"b\":[1,{\"c\":2}]}");
    }
    strcpy(p, "]}");
    is_int(parse(buf), 0, "many small objects in an array");
}


int
main(void)
{
    test_fuzz_findings();
    test_hello();
    test_ops();
    test_ids();
    test_bad_messages();
    test_gen();
    test_messages_are_sendable();
    test_gen_client();
    test_parse_server();
    test_parse_server_bad();
    test_parse_server_mangled();

    gobi_wsmsg_free(&m);

    done_testing();
}
