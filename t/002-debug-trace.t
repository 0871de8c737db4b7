# With `error_log ... debug` (Debian's nginx is built --with-debug) a
# request can be followed through gobi's decisions: the route, a refusal
# before any work, a write's outcome, the bus publish.
use Gobi::Test;

plan tests => repeat_each() * blocks();

run_tests();

__DATA__

=== TEST 1: a stale PUT is traced to its route and its refusal
--- main_config
error_log logs/error.log debug;
--- setup
user alice
vault notes
strategy notes server-wins
put notes a.txt hello
put notes a.txt world
--- request
PUT /api/v1/vaults/notes/files/a.txt
my edit
--- more_headers
Authorization: Bearer $TOKEN
If-Match: "1"
--- error_code: 412
--- json_error: version_conflict
--- error_log
gobi: route "vaults/{vault}/files/{path}" for "PUT"
gobi: PUT "a.txt" refused before the body: version_conflict
gobi: PUT "a.txt" base -1: written, seq 2
bus: publish vault



=== TEST 2: a refused route check is traced
--- main_config
error_log logs/error.log debug;
--- setup
user alice
--- request
POST /api/v1/vaults
{"name":7}
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 400
--- json_error: bad_request
--- error_log
gobi: route "vaults" for "POST"
gobi: refused before any work: bad_request
