/*
 * Copyright (C) the gobi authors
 *
 * The client's readers of the server's manifest (GET /files) and event
 * pages (GET /events): the real gobi_pull_manifest() and
 * gobi_pull_events() of client/gobi_pull.c, with the real answer parser
 * of client/gobi_api.c (gobi_api_parse, gobi_api_file, gobi_api_event),
 * fed by two stand-ins for the HTTP calls.  Both client files are
 * included here, unchanged, to reach their static functions; fuzz.mk
 * links the other client files.
 *
 * Input: a mode byte (bit 0: events, else manifest), the cursor byte (0
 * means a first sync: the manifest, as gobi_sync_pull does), then the
 * answers, one per request, separated by NUL bytes; an answer
 * "410" is history_expired; when the answers run out the request fails.
 * The state holds two synced files ("a", "gone/b") for the manifest's
 * "what the server no longer has" step.  Checks, besides ASan/UBSan and
 * leaks: every remote change kept has a path gobi_path_check() accepts
 * and, when it exists, a valid hash; the target cursor never goes back.
 */

#include "fuzz.h"

#include <unistd.h>


/* the HTTP calls become ours; everything else in gobi_api.c is real */
#define gobi_api_manifest  fuzz_unused_api_manifest
#define gobi_api_events    fuzz_unused_api_events
#include "../../client/gobi_api.c"
#undef gobi_api_manifest
#undef gobi_api_events

int gobi_api_manifest(gobi_http_t *h, const char *server, const char *vault,
    const char *after, yajl_val *root);
int gobi_api_events(gobi_http_t *h, const char *server, const char *vault,
    int64_t since, int limit, yajl_val *root, int *expired);

#include "../../client/gobi_pull.c"


static const uint8_t  *fuzz_answers;
static size_t          fuzz_left;
static unsigned        fuzz_requests;


/* the next answer as the HTTP layer would hand it over */
static int
fuzz_answer(const char *what, yajl_val *root, int *expired)
{
    const uint8_t  *nul;
    gobi_req_t      r;
    size_t          len;
    int             rc;

    *root = NULL;

    if (fuzz_answers == NULL || ++fuzz_requests > 64) {
        return gobi_error(GOBI_EXIT_SERVER, "%s: no answer", what);
    }

    nul = memchr(fuzz_answers, '\0', fuzz_left);
    len = nul ? (size_t) (nul - fuzz_answers) : fuzz_left;

    memset(&r, 0, sizeof(r));
    r.cc = CURLE_OK;
    r.status = 200;
    r.resp = malloc(len + 1);
    fuzz_check(r.resp != NULL, "out of memory");
    memcpy(r.resp, fuzz_answers, len);
    r.resp[len] = '\0';
    r.resp_len = len;

    if (nul) {
        fuzz_answers = nul + 1;
        fuzz_left -= len + 1;

    } else {
        fuzz_answers = NULL;
        fuzz_left = 0;
    }

    if (expired && len == 3 && memcmp(r.resp, "410", 3) == 0) {
        *expired = 1;
        free(r.resp);
        return 0;
    }

    rc = gobi_api_parse(&r, what, root);
    free(r.resp);

    return rc;
}


int
gobi_api_manifest(gobi_http_t *h, const char *server, const char *vault,
    const char *after, yajl_val *root)
{
    (void) h;
    (void) server;
    (void) vault;
    (void) after;

    return fuzz_answer("manifest", root, NULL);
}


int
gobi_api_events(gobi_http_t *h, const char *server, const char *vault,
    int64_t since, int limit, yajl_val *root, int *expired)
{
    (void) h;
    (void) server;
    (void) vault;
    (void) since;
    (void) limit;

    *expired = 0;

    return fuzz_answer("events", root, expired);
}


static gobi_state_t  *fuzz_st;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char         dir[] = "/tmp/gobi-fuzz-client-XXXXXX";
    gobi_base_t  b;

    (void) argc;
    (void) argv;

    /* the client's warnings about bad input are expected: keep quiet */
    gobi_opts.verbose = -1;

    fuzz_check(mkdtemp(dir) != NULL, "mkdtemp");
    fuzz_check(gobi_state_open(dir, 1, &fuzz_st) == 0, "state: %s",
               gobi_error_msg());

    memset(&b, 0, sizeof(b));
    b.path = "a";
    b.version = 3;
    memset(b.hash, 'a', GOBI_HASH_HEX_LEN);
    b.size = 1;
    fuzz_check(gobi_state_base_put(fuzz_st, &b) == 0, "base a");
    b.path = "gone/b";
    b.version = 9;
    fuzz_check(gobi_state_base_put(fuzz_st, &b) == 0, "base b");

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gobi_sync_t     s;
    gobi_remote_t   r;
    gobi_rchange_t *ch;
    size_t          i;
    int             rc, expired, manifest;

    if (size < 2) {
        return 0;
    }

    memset(&s, 0, sizeof(s));
    s.st = fuzz_st;
    s.server = "http://fuzz";
    s.vault = "notes";
    s.cursor = data[1];

    memset(&r, 0, sizeof(r));
    gobi_map_init(&r.map);

    fuzz_answers = data + 2;
    fuzz_left = size - 2;
    fuzz_requests = 0;
    expired = 0;
    rc = 0;

    /* the reading half of gobi_sync_pull(): events from the cursor, the
     * manifest on a first sync or when the history is gone */
    if ((data[0] & 1) && s.cursor > 0) {
        rc = gobi_pull_events(&s, &r, &expired);

        if (rc == 0 && expired) {
            gobi_remote_free(&r);
            memset(&r, 0, sizeof(r));
            gobi_map_init(&r.map);
        }
    }

    manifest = !(data[0] & 1) || s.cursor == 0 || expired;

    if (rc == 0 && manifest) {
        rc = gobi_pull_manifest(&s, &r);
    }

    if (rc == 0) {
        /* a negative seq is refused (4ebb9b7); events move forward */
        fuzz_check(r.target >= 0, "target %lld", (long long) r.target);
        fuzz_check(manifest || r.target >= s.cursor,
                   "target %lld before the cursor %lld",
                   (long long) r.target, (long long) s.cursor);
    }

    for (i = 0; i < r.n; i++) {
        ch = r.list[i];
        fuzz_check(gobi_path_check(ch->path, strlen(ch->path)) == NULL,
                   "a bad path kept: %s", ch->path);
        fuzz_check(!ch->exists
                   || gobi_hash_valid_hex(ch->hash, strlen(ch->hash)),
                   "%s exists without a hash", ch->path);
        fuzz_check(gobi_map_get(&r.map, ch->path) == ch, "map and list");
    }

    gobi_remote_free(&r);

    return 0;
}
