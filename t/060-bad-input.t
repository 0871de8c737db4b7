# Every bad input of the foundation issue: bad JSON, wrong types, oversize
# JSON, invalid and traversal paths, credentials, another user's vault,
# oversize uploads, wrong X-Gobi-Hash, stale If-Match, and clients that
# disconnect in the middle of an upload.
use Gobi::Test;

plan tests => repeat_each() * blocks();

# what a vault must look like after rejected writes: no file, no event,
# no blob or temp file under the storage root (checked until the server
# has cleaned up, at most a few seconds after the answer)
sub main::untouched {
    my ($t, $c, $vault, %o) = @_;
    my $m = $c->manifest($vault, include_deleted => 1);
    is_deeply([ sort map { $_->{path} } @{ $m->json->{files} || [] } ],
        [ sort @{ $o{files} || [] } ], "$vault: manifest as before");
    is($c->events($vault, since => 0)->json->{head_seq}, $o{head} || 0,
        "$vault: no new event");
    my @keep = map { blake2b_hex($_) } @{ $o{blobs} || [] };
    my $stray = sub {
        grep { my $f = s{/}{}gr; !grep { index($f, $_) >= 0 } @keep }
            $t->files_under;
    };
    ok(wait_until(sub { !$stray->() }, 5),
        'no stray blob or temp file under the storage root')
        or diag explain [ $stray->() ];
    ok(!-e "$_" , "nothing outside the vault: $_")
        for grep { -e } map { "$t->{servroot}/$_" } qw(etc x passwd b abs);
}

run_tests();

__DATA__

=== TEST 1: unknown endpoints
--- setup
user alice
vault notes
--- request eval
[ map { "GET $_" } '/api/v1/', '/api/v1/nope', '/api/v1/users/alice',
  '/api/v1/vaults/notes/nope', '/api/v1/vaults/notes/files-x',
  '/api/v1/sessions/other', '/api/v1/vaultsx' ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[ (404) x 7 ]
--- json_error eval
[ ('not_found') x 7 ]



=== TEST 2: methods an endpoint does not take
--- setup
user alice
vault notes
put notes a.txt hello
--- request eval
[ "GET /api/v1/users", "PUT /api/v1/users", "PATCH /api/v1/sessions",
  "GET /api/v1/sessions", "PUT /api/v1/vaults", "DELETE /api/v1/vaults",
  "PUT /api/v1/vaults/notes", "POST /api/v1/vaults/notes/files/a.txt",
  "PATCH /api/v1/vaults/notes/files/a.txt", "POST /api/v1/vaults/notes/events",
  "DELETE /api/v1/vaults/notes/files", "POST /api/v1/sessions/current" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[ (405) x 12 ]
--- json_error eval
[ ('method_not_allowed') x 12 ]
--- response_headers_like eval
[ ("Allow: \\w") x 12 ]
--- check
is($c->get('notes', 'a.txt')->body, 'hello', 'the file is untouched');



=== TEST 3: bad JSON
--- request eval
[ map { "POST /api/v1/users\n$_" } '{', '{"username":"alice",}',
  'not json', '{"username":"alice" "password":"12345678"}',
  '{"username":"alice","password":"12345678"} trailing',
  "{'username':'alice','password':'12345678'}", '{"username":"al\\qice"}',
  "\x00\x01\x02" ]
--- error_code eval
[ (400) x 8 ]
--- json_error eval
[ ('bad_request') x 8 ]



=== TEST 4: JSON that is not an object
--- setup
user alice
--- request eval
[ "POST /api/v1/users\n[]", "POST /api/v1/users\n\"alice\"",
  "POST /api/v1/users\n42", "POST /api/v1/users\nnull",
  "POST /api/v1/sessions\n[\"alice\",\"pw\"]",
  "POST /api/v1/vaults\n[\"notes\"]" ]
--- more_headers eval
[ ("") x 5, "Authorization: Bearer \$TOKEN" ]
--- error_code eval
[ (400) x 6 ]
--- json_error eval
[ ('bad_request') x 6 ]



=== TEST 5: wrong types
--- setup
user alice
--- request eval
[ map({ "POST /api/v1/users\n$_" }
    '{"username":1,"password":"12345678"}',
    '{"username":"bob","password":12345678}',
    '{"username":"bob","password":true}',
    '{"username":{"a":1},"password":"12345678"}',
    '{"username":["bob"],"password":"12345678"}',
    '{"username":"bob","password":null}'),
  "POST /api/v1/vaults\n{\"name\":{}}",
  "POST /api/v1/vaults\n{\"name\":false}" ]
--- more_headers eval
[ ("") x 6, ("Authorization: Bearer \$TOKEN") x 2 ]
--- error_code eval
[ (400) x 8 ]
--- json_error eval
[ ('bad_request') x 8 ]
--- check
$c->token(undef);
is($c->login_res('bob', '12345678')->status, 401, 'no bob was made');



=== TEST 6: deeply nested JSON
--- request eval
"POST /api/v1/users\n" . '{"username":' . ('[' x 20000) . (']' x 20000)
    . ',"password":"12345678"}'
--- error_code: 400
--- json_error: bad_request



=== TEST 7: invalid UTF-8 in a JSON string
--- request eval
"POST /api/v1/users\n{\"username\":\"al\xffice\",\"password\":\"12345678\"}"
--- error_code: 400
--- response_json eval
{ error => { code => qr/^(bad_request|invalid_username)$/ } }



=== TEST 8: oversize JSON bodies
--- setup
user alice
--- request eval
[ "POST /api/v1/users\n" . json_encode({ username => 'bob',
      password => '12345678', pad => 'x' x (200 * 1024) }),
  "POST /api/v1/users\n" . json_encode({ username => 'bob',
      password => '12345678', pad => 'x' x (3 * 1024 * 1024) }),
  "POST /api/v1/sessions\n" . json_encode({ username => 'alice',
      password => 'x' x (200 * 1024) }),
  "POST /api/v1/vaults\n" . json_encode({ name => 'v', pad => [ (1) x 100_000 ] }) ]
--- more_headers eval
[ ("") x 3, "Authorization: Bearer \$TOKEN" ]
--- error_code eval
[ (413) x 4 ]
--- json_error eval
[ ('payload_too_large') x 4 ]



=== TEST 9: an oversize JSON body sent chunked
--- request eval
"POST /api/v1/users\n" . join('', map { sprintf("%x\r\n%s\r\n", 4096, 'x' x 4096) } 1 .. 64) . "0\r\n\r\n"
--- more_headers
Transfer-Encoding: chunked
--- error_code: 413
--- json_error: payload_too_large



=== TEST 10: traversal and other invalid paths reaching the module: 400 invalid_path
--- setup
user alice
vault notes
--- request eval
[ map { "PUT /api/v1/vaults/notes/files/$_\nevil" }
  'a/../b', '..', 'a/..', '%2e%2e/x', 'a/%2E%2E/%2e%2e/x', '..%2f..%2fetc%2fpasswd',
  '%2e%2e%2f%2e%2e%2fx', 'a//b', '/abs', '%2Fetc%2Fpasswd', 'a/', '.', './a',
  'a/./b', '%2e', 'a%01b', 'a%1fb', 'a%7fb', 'a%0ab', '%ff', 'a%c3',
  '%c0%ae%c0%ae/x', 'x' x 256, join('/', ('abcdefghi') x 410) ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[ (400) x 24 ]
--- json_error eval
[ ('invalid_path') x 24 ]
--- check
main::untouched($t, $c, 'notes');



=== TEST 11: the same paths on GET, HEAD and DELETE
--- setup
user alice
vault notes
--- request eval
[ map { my $p = $_; map { "$_ /api/v1/vaults/notes/files/$p" } qw(GET DELETE) }
  'a/../b', '%2e%2e/x', 'a//b', '/abs', '%2Fetc%2Fpasswd', 'a%01b' ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[ (400) x 12 ]
--- json_error eval
[ ('invalid_path') x 12 ]



=== TEST 12: paths nginx itself refuses (NUL, bad escapes, above the root): 400
--- setup
user alice
vault notes
--- request eval
[ map { "PUT /api/v1/vaults/notes/files/$_\nevil" }
  'a%00b', '%00', 'a%zzb', 'a%4', '../../../../../../x', '../../../../../../../etc/passwd' ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[ (400) x 6 ]
--- check
main::untouched($t, $c, 'notes');



=== TEST 13: the longest valid names and paths are fine
--- setup
user alice
vault notes
--- request eval
[ "PUT /api/v1/vaults/notes/files/" . ('n' x 255) . "\nok",
  "PUT /api/v1/vaults/notes/files/" . join('/', ('p' x 255) x 16) . "\nok" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[201, 201]



=== TEST 14: a path of more than 4096 bytes
--- setup
user alice
vault notes
--- request eval
"PUT /api/v1/vaults/notes/files/" . join('/', ('q' x 255) x 16) . "/x\nlong"
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 400
--- json_error: invalid_path
--- check
main::untouched($t, $c, 'notes');



=== TEST 15: no credentials on every endpoint that needs them
--- setup
user alice
vault notes
put notes a.txt hello
--- request eval
[ "GET /api/v1/vaults", "POST /api/v1/vaults\n{\"name\":\"x\"}",
  "DELETE /api/v1/vaults/notes", "GET /api/v1/vaults/notes/files",
  "GET /api/v1/vaults/notes/files/a.txt", "HEAD /api/v1/vaults/notes/files/a.txt",
  "PUT /api/v1/vaults/notes/files/a.txt\nevil",
  "DELETE /api/v1/vaults/notes/files/a.txt",
  "GET /api/v1/vaults/notes/events?since=0", "DELETE /api/v1/sessions/current" ]
--- error_code eval
[ (401) x 10 ]
--- json_error eval
[ ('unauthorized') x 5, undef, ('unauthorized') x 4 ]
--- response_headers_like eval
[ ("WWW-Authenticate: \\S") x 10 ]
--- check
is($c->get('notes', 'a.txt')->body, 'hello', 'the file is untouched');
is($c->vaults->json->{vaults}[0]{head_seq}, 1, 'no event');



=== TEST 16: wrong credentials on every endpoint that needs them
--- setup
user alice
vault notes
put notes a.txt hello
--- request eval
[ map { ("GET /api/v1/vaults/notes/files/a.txt", "PUT /api/v1/vaults/notes/files/a.txt\nevil",
         "DELETE /api/v1/vaults/notes/files/a.txt", "DELETE /api/v1/vaults/notes") } 1 .. 3 ]
--- more_headers eval
[ (map { "Authorization: Bearer not-a-token" } 1 .. 4),
  (map { "Authorization: " . Gobi::Client::basic_auth('alice', 'wrong password') } 1 .. 4),
  (map { "Authorization: " . Gobi::Client::basic_auth('nobody', 'wrong password') } 1 .. 4) ]
--- error_code eval
[ (401) x 12 ]
--- json_error eval
[ ('unauthorized') x 12 ]
--- check
is($c->get('notes', 'a.txt')->body, 'hello', 'the file is untouched');



=== TEST 17: another user's vault: 404 vault_not_found, with any credentials
--- setup
user alice
vault secret
put secret a.txt alice's
register bob
login bob
--- request eval
[ "GET /api/v1/vaults/secret/files/a.txt", "PUT /api/v1/vaults/secret/files/a.txt\nbob's",
  "DELETE /api/v1/vaults/secret/files/a.txt", "GET /api/v1/vaults/secret/files",
  "GET /api/v1/vaults/secret/events", "DELETE /api/v1/vaults/secret",
  "GET /api/v1/vaults/secret/files/a.txt" ]
--- more_headers eval
[ ("Authorization: Bearer \$TOKEN_BOB") x 7 ]
--- error_code eval
[ (404) x 7 ]
--- json_error eval
[ ('vault_not_found') x 7 ]
--- check
$c->as('alice');
main::untouched($t, $c, 'secret', files => ['a.txt'], head => 1,
    blobs => ["alice's"]);
is($c->get('secret', 'a.txt')->body, "alice's", 'alice\'s file is intact');



=== TEST 18: an upload over gobi_max_file_size: 413, nothing stored
--- gobi_config
gobi_max_file_size 1k;
--- setup
user alice
vault notes
--- request eval
"PUT /api/v1/vaults/notes/files/big.bin\n" . ('x' x 1025)
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 413
--- json_error: payload_too_large
--- check
main::untouched($t, $c, 'notes');



=== TEST 19: exactly gobi_max_file_size is fine
--- gobi_config
gobi_max_file_size 1k;
--- setup
user alice
vault notes
--- request eval
"PUT /api/v1/vaults/notes/files/big.bin\n" . ('x' x 1024)
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 201
--- response_json
{"size":1024}



=== TEST 20: a chunked upload that grows over gobi_max_file_size: 413, nothing stored
--- gobi_config
gobi_max_file_size 1k;
--- setup
user alice
vault notes
--- request eval
"PUT /api/v1/vaults/notes/files/big.bin\n" . join('', map { "100\r\n" . ('y' x 256) . "\r\n" } 1 .. 5) . "0\r\n\r\n"
--- more_headers
Authorization: Bearer $TOKEN
Transfer-Encoding: chunked
--- error_code: 413
--- json_error: payload_too_large
--- check
main::untouched($t, $c, 'notes');



=== TEST 21: a large upload over the limit is refused before it is all sent
--- gobi_config
gobi_max_file_size 1m;
--- setup
user alice
vault notes
--- request eval
"PUT /api/v1/vaults/notes/files/huge.bin\n" . ('z' x (8 * 1024 * 1024))
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 413
--- json_error: payload_too_large
--- check
main::untouched($t, $c, 'notes');



=== TEST 22: a wrong X-Gobi-Hash: 400 hash_mismatch, nothing stored
--- setup
user alice
vault notes
--- request
PUT /api/v1/vaults/notes/files/a.txt
hello
--- more_headers eval
"Authorization: Bearer \$TOKEN\nX-Gobi-Hash: " . blake2b_hex('hellO')
--- error_code: 400
--- json_error: hash_mismatch
--- check
main::untouched($t, $c, 'notes');



=== TEST 23: a wrong X-Gobi-Hash on a modify keeps the old version
--- setup
user alice
vault notes
put notes a.txt hello
--- request
PUT /api/v1/vaults/notes/files/a.txt
world
--- more_headers eval
"Authorization: Bearer \$TOKEN\nX-Gobi-Hash: " . blake2b_hex('hello')
--- error_code: 400
--- json_error: hash_mismatch
--- check
main::untouched($t, $c, 'notes', files => ['a.txt'], head => 1, blobs => ['hello']);
is($c->get('notes', 'a.txt')->body, 'hello', 'old content');



=== TEST 24: a wrong X-Gobi-Hash on a large upload
--- setup
user alice
vault notes
--- request eval
"PUT /api/v1/vaults/notes/files/big.bin\n" . ('b' x (2 * 1024 * 1024 + 17))
--- more_headers eval
"Authorization: Bearer \$TOKEN\nX-Gobi-Hash: " . ('0' x 64)
--- error_code: 400
--- json_error: hash_mismatch
--- check
main::untouched($t, $c, 'notes');



=== TEST 25: a malformed X-Gobi-Hash
--- setup
user alice
vault notes
--- request eval
[ map { "PUT /api/v1/vaults/notes/files/a.txt\nhello" } 1 .. 3 ]
--- more_headers eval
[ map { "Authorization: Bearer \$TOKEN\nX-Gobi-Hash: $_" } 'xyz', 'a' x 63,
  'g' x 64 ]
--- error_code eval
[ (400) x 3 ]
--- response_json eval
[ ({ error => { code => qr/^(bad_request|hash_mismatch)$/ } }) x 3 ]
--- check
main::untouched($t, $c, 'notes');



=== TEST 26: a malformed X-Gobi-Mtime
--- setup
user alice
vault notes
--- request eval
[ map { "PUT /api/v1/vaults/notes/files/a.txt\nhello" } 1 .. 3 ]
--- more_headers eval
[ map { "Authorization: Bearer \$TOKEN\nX-Gobi-Mtime: $_" } 'yesterday',
  '12abc', '99999999999999999999999' ]
--- error_code eval
[ (400) x 3 ]
--- json_error eval
[ ('bad_request') x 3 ]
--- check
main::untouched($t, $c, 'notes');



=== TEST 27: a stale If-Match: 412 version_conflict with the current file (server-wins)
--- setup
user alice
vault notes
strategy notes server-wins
--- perl
$c->put_ok('notes', 'a.txt', 'v1', 'X-Gobi-Mtime' => 1700000000001);
$c->put_ok('notes', 'a.txt', 'v2!', 'X-Gobi-Mtime' => 1700000000002);
--- request
PUT /api/v1/vaults/notes/files/a.txt
my edit of v1
--- more_headers
Authorization: Bearer $TOKEN
If-Match: "1"
--- error_code: 412
--- response_json eval
{ error => { code => 'version_conflict', message => '<string>',
    current => { version => 2, hash => blake2b_hex('v2!'), size => 3,
                 mtime => 1700000000002 } } }
--- check
main::untouched($t, $c, 'notes', files => ['a.txt'], head => 2,
    blobs => ['v1', 'v2!']);
is($c->get('notes', 'a.txt')->body, 'v2!', 'the current content stays');



=== TEST 28: If-Match on a file that does not exist (server-wins)
--- setup
user alice
vault notes
strategy notes server-wins
--- request
PUT /api/v1/vaults/notes/files/a.txt
hello
--- more_headers
Authorization: Bearer $TOKEN
If-Match: "3"
--- error_code_like: ^(404|412)$
--- response_json eval
{ error => { code => qr/^(version_conflict|file_not_found)$/ } }
--- check
main::untouched($t, $c, 'notes');



=== TEST 29: bad events queries
--- setup
user alice
vault notes
--- request eval
[ map { "GET /api/v1/vaults/notes/events?$_" } 'since=abc', 'since=-1',
  'limit=abc', 'limit=-1', 'since=1x', 'since=99999999999999999999999' ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[ (400) x 6 ]
--- json_error eval
[ ('bad_request') x 6 ]



=== TEST 30: a client that disconnects in the middle of a new upload
--- setup
user alice
vault notes
--- perl
my $s = $c->connect;
print $s "PUT /api/v1/vaults/notes/files/partial.bin HTTP/1.1\r\n"
    . "Host: localhost\r\nAuthorization: Bearer $V->{TOKEN}\r\n"
    . "Content-Length: 2000000\r\n\r\n" . ('p' x 300_000);
close $s;
ok($t->wait_for_log(access => qr{"PUT /api/v1/vaults/notes/files/partial\.bin HTTP/1\.1" \d+}),
    'the server has finished with the request');
--- check
main::untouched($t, $c, 'notes');
is($c->get('notes', 'partial.bin')->status, 404, 'no file');



=== TEST 31: a client that disconnects in the middle of a modify
--- setup
user alice
vault notes
put notes a.txt old content
--- perl
my $s = $c->connect;
print $s "PUT /api/v1/vaults/notes/files/a.txt HTTP/1.1\r\n"
    . "Host: localhost\r\nAuthorization: Bearer $V->{TOKEN}\r\n"
    . "Content-Length: 1000\r\n\r\n" . ('n' x 999);
close $s;
ok($t->wait_for_log(access => qr{"PUT /api/v1/vaults/notes/files/a\.txt HTTP/1\.1" (?!20)\d+}),
    'the server has finished with the request');
--- check
main::untouched($t, $c, 'notes', files => ['a.txt'], head => 1,
    blobs => ['old content']);
my $r = $c->get('notes', 'a.txt');
is($r->body, 'old content', 'old content');
is($r->header('etag'), '"1"', 'old version');



=== TEST 32: a client that disconnects in the middle of a chunked upload
--- setup
user alice
vault notes
--- perl
my $s = $c->connect;
print $s "PUT /api/v1/vaults/notes/files/chunky.bin HTTP/1.1\r\n"
    . "Host: localhost\r\nAuthorization: Bearer $V->{TOKEN}\r\n"
    . "Transfer-Encoding: chunked\r\n\r\n"
    . join('', map { "1000\r\n" . ('c' x 4096) . "\r\n" } 1 .. 100);
close $s;
ok($t->wait_for_log(access => qr{"PUT /api/v1/vaults/notes/files/chunky\.bin HTTP/1\.1" \d+}),
    'the server has finished with the request');
--- check
main::untouched($t, $c, 'notes');



=== TEST 33: many clients disconnecting mid-upload, while others complete
--- setup
user alice
vault notes
--- perl
my @socks;
for my $i (1 .. 10) {
    my $s = $c->connect;
    print $s "PUT /api/v1/vaults/notes/files/cut$i.bin HTTP/1.1\r\n"
        . "Host: localhost\r\nAuthorization: Bearer $V->{TOKEN}\r\n"
        . "Content-Length: 500000\r\n\r\n" . ('k' x (1000 * $i));
    push @socks, $s;
}
my @ok = map { $c->start(PUT => $c->file_uri('notes', "ok$_.txt"),
                         body => "complete $_") } 1 .. 5;
close $_ for @socks;
is(scalar(grep { $_->wait->status == 201 } @ok), 5, 'the complete uploads work');
for my $i (1 .. 10) {
    ok($t->wait_for_log(access => qr{"PUT /api/v1/vaults/notes/files/cut$i\.bin HTTP/1\.1" \d+}),
        "cut$i finished");
}
--- check
main::untouched($t, $c, 'notes', files => [ sort map { "ok$_.txt" } 1 .. 5 ],
    head => 5, blobs => [ map { "complete $_" } 1 .. 5 ]);



=== TEST 34: X-Gobi-Device must be 1-64 bytes of printable UTF-8: else 400 bad_request, nothing written
--- setup
user alice
vault notes
--- perl
my @bad = ('x' x 65, "lap\x01top", "lap\x7ftop", "caf\xc3", "\xff\xfe",
           "lap\xc2\x85top");
for my $d (@bad) {
    my $res = $c->put('notes', 'a.txt', 'hello', 'X-Gobi-Device' => $d);
    is($res->status, 400, 'refused: ' . unpack('H*', $d));
    is(eval { $res->json->{error}{code} }, 'bad_request', 'bad_request');
    $res = $c->delete('notes', 'a.txt', 'X-Gobi-Device' => $d);
    is($res->status, 400, 'a delete too: ' . unpack('H*', $d));
}
my $ok = $c->put('notes', 'b.txt', 'hello', 'X-Gobi-Device' => ('é' x 32));
is($ok->status, 201, '64 bytes of UTF-8 are fine');
is($c->events('notes', since => 0)->json->{events}[0]{device}, "\x{e9}" x 32,
   'and go into the event as sent');
--- check
main::untouched($t, $c, 'notes', files => ['b.txt'], head => 1,
    blobs => ['hello']);
