# Files: PUT (create/modify, preconditions, hash, mtime, device), GET
# (ETag, X-Gobi-Hash, ranges), HEAD, DELETE (tombstones).
use Gobi::Test;

plan tests => repeat_each() * blocks();

our $HELLO = blake2b_hex('hello');
our $WORLD = blake2b_hex('world');

run_tests();

__DATA__

=== TEST 1: PUT a new file
--- setup
user alice
vault notes
--- request
PUT /api/v1/vaults/notes/files/a.txt
hello
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 201
--- response_json eval
{ path => 'a.txt', version => 1, hash => $main::HELLO, size => 5,
  mtime => '<integer>', seq => 1 }
--- response_headers_like
Content-Type: ^application/json
--- check
my $m = $res->json->{mtime};
cmp_ok(abs($m - time * 1000), '<', 3600_000, 'mtime defaults to now (unix ms)');
--- no_error_log
[error]



=== TEST 2: PUT over it: 200, the next version
--- setup
user alice
vault notes
put notes a.txt hello
--- request
PUT /api/v1/vaults/notes/files/a.txt
world
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_json eval
{ path => 'a.txt', version => 2, hash => $main::WORLD, size => 5,
  mtime => '<integer>', seq => 2 }



=== TEST 3: the version is the seq of the vault's log
--- setup
user alice
vault notes
put notes a.txt one
put notes b.txt two
--- request
PUT /api/v1/vaults/notes/files/a.txt
three
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_json
{"version":3,"seq":3}



=== TEST 4: X-Gobi-Mtime is kept
--- setup
user alice
vault notes
--- request eval
[ "PUT /api/v1/vaults/notes/files/a.txt\nhello",
  "GET /api/v1/vaults/notes/files" ]
--- more_headers eval
[ "Authorization: Bearer \$TOKEN\nX-Gobi-Mtime: 1700000000123",
  "Authorization: Bearer \$TOKEN" ]
--- error_code eval
[201, 200]
--- response_json eval
[ { mtime => 1700000000123 },
  { files => [ { path => 'a.txt', mtime => 1700000000123 } ] } ]



=== TEST 5: a correct X-Gobi-Hash is accepted
--- setup
user alice
vault notes
--- request
PUT /api/v1/vaults/notes/files/a.txt
hello
--- more_headers eval
"Authorization: Bearer \$TOKEN\nX-Gobi-Hash: $main::HELLO"
--- error_code: 201
--- response_json eval
{ hash => $main::HELLO }



=== TEST 6: the same bytes again: no new version, no event
--- setup
user alice
vault notes
put notes a.txt hello
--- request eval
[ "PUT /api/v1/vaults/notes/files/a.txt\nhello",
  "GET /api/v1/vaults/notes/events?since=0",
  "GET /api/v1/vaults" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[200, 200, 200]
--- response_json eval
[ { path => 'a.txt', version => 1, hash => $main::HELLO, size => 5 },
  { head_seq => 1, events => [ { seq => 1, type => 'create' } ] },
  { vaults => [ { name => 'notes', head_seq => 1 } ] } ]



=== TEST 7: the same bytes with another mtime and device: still no new version
--- setup
user alice
vault notes
put notes a.txt hello
--- request eval
[ "PUT /api/v1/vaults/notes/files/a.txt\nhello",
  "GET /api/v1/vaults/notes/events?since=0" ]
--- more_headers
Authorization: Bearer $TOKEN
X-Gobi-Mtime: 1600000000000
X-Gobi-Device: other-device
--- error_code eval
[200, 200]
--- response_json eval
[ { version => 1 }, { head_seq => 1 } ]



=== TEST 8: If-Match with the current version
--- setup
user alice
vault notes
put notes a.txt hello
--- request
PUT /api/v1/vaults/notes/files/a.txt
world
--- more_headers
Authorization: Bearer $TOKEN
If-Match: "$VERSION"
--- error_code: 200
--- response_json
{"version":2}



=== TEST 9: a stale If-Match: 412 with the current file, nothing changes (server-wins)
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
X-Gobi-Mtime: 1700000000000
--- error_code: 412
--- json_error: version_conflict
--- response_json eval
{ error => { code => 'version_conflict',
    current => { version => 2, hash => $main::WORLD, size => 5,
                 mtime => '<integer>' } } }
--- check
my $r = $c->get('notes', 'a.txt');
is($r->body, 'world', 'content unchanged');
is($c->events('notes', since => 0)->json->{head_seq}, 2, 'no event');



=== TEST 10: If-None-Match: * creates a new file
--- setup
user alice
vault notes
--- request
PUT /api/v1/vaults/notes/files/a.txt
hello
--- more_headers
Authorization: Bearer $TOKEN
If-None-Match: *
--- error_code: 201
--- response_json
{"version":1}



=== TEST 11: If-None-Match: * on an existing file: 412, nothing changes (server-wins)
--- setup
user alice
vault notes
strategy notes server-wins
put notes a.txt hello
--- request
PUT /api/v1/vaults/notes/files/a.txt
world
--- more_headers
Authorization: Bearer $TOKEN
If-None-Match: *
--- error_code: 412
--- response_json eval
{ error => { code => 'version_conflict',
    current => { version => 1, hash => $main::HELLO, size => 5,
                 mtime => '<integer>' } } }
--- check
is($c->get('notes', 'a.txt')->body, 'hello', 'content unchanged');



=== TEST 12: If-None-Match: * over a deleted file creates it again
--- setup
user alice
vault notes
put notes a.txt hello
delete notes a.txt
--- request
PUT /api/v1/vaults/notes/files/a.txt
world
--- more_headers
Authorization: Bearer $TOKEN
If-None-Match: *
--- error_code: 201
--- response_json
{"version":3,"seq":3}



=== TEST 13: X-Gobi-Device goes into the event
--- setup
user alice
vault notes
--- request eval
[ "PUT /api/v1/vaults/notes/files/a.txt\nhello",
  "GET /api/v1/vaults/notes/events?since=0" ]
--- more_headers
Authorization: Bearer $TOKEN
X-Gobi-Device: laptop-7
--- error_code eval
[201, 200]
--- response_json
{"events":[{"seq":1,"type":"create","path":"a.txt","device":"laptop-7"}]}



=== TEST 14: GET the bytes with ETag, X-Gobi-Hash and Content-Length
--- setup
user alice
vault notes
put notes a.txt hello
--- request
GET /api/v1/vaults/notes/files/a.txt
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_body chomp
hello
--- response_headers eval
{ 'ETag' => '"1"', 'X-Gobi-Hash' => $main::HELLO, 'Content-Length' => 5 }



=== TEST 15: the ETag follows the version
--- setup
user alice
vault notes
put notes b.txt other
put notes a.txt hello
put notes a.txt world
--- request
GET /api/v1/vaults/notes/files/a.txt
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_body chomp
world
--- response_headers eval
{ 'ETag' => '"3"', 'X-Gobi-Hash' => $main::WORLD }



=== TEST 16: byte ranges
--- setup
user alice
vault notes
put notes a.txt hello
--- request eval
[ ("GET /api/v1/vaults/notes/files/a.txt") x 4 ]
--- more_headers eval
[ map { "Authorization: Bearer \$TOKEN\nRange: bytes=$_" } '1-3', '2-', '-2', '0-0' ]
--- error_code eval
[ (206) x 4 ]
--- response_body eval
[ 'ell', 'llo', 'lo', 'h' ]
--- response_headers eval
[ { 'Content-Range' => 'bytes 1-3/5', 'Content-Length' => 3 },
  { 'Content-Range' => 'bytes 2-4/5' },
  { 'Content-Range' => 'bytes 3-4/5' },
  { 'Content-Range' => 'bytes 0-0/5' } ]



=== TEST 17: resuming a large download with a range
--- setup
user alice
vault notes
--- perl
my $data = join '', map { chr(($_ * 7 + 3) % 256) } 0 .. 300_000;
$c->put_ok('notes', 'big.bin', $data);
$V->{WANT} = Digest::SHA::sha256_hex(substr $data, 123_456);
--- request
GET /api/v1/vaults/notes/files/big.bin
--- more_headers
Authorization: Bearer $TOKEN
Range: bytes=123456-
--- error_code: 206
--- response_headers
Content-Range: bytes 123456-300000/300001
--- check
is(length $res->body, 300_001 - 123_456, 'length');
is(Digest::SHA::sha256_hex($res->body), $V->{WANT}, 'the right bytes');



=== TEST 18: HEAD
--- setup
user alice
vault notes
put notes a.txt hello
--- request
HEAD /api/v1/vaults/notes/files/a.txt
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_body:
--- response_headers eval
{ 'ETag' => '"1"', 'X-Gobi-Hash' => $main::HELLO, 'Content-Length' => 5 }



=== TEST 19: DELETE leaves a tombstone
--- setup
user alice
vault notes
put notes a.txt hello
--- request eval
[ "DELETE /api/v1/vaults/notes/files/a.txt",
  "GET /api/v1/vaults/notes/files/a.txt",
  "HEAD /api/v1/vaults/notes/files/a.txt",
  "GET /api/v1/vaults/notes/files",
  "GET /api/v1/vaults/notes/files?include_deleted=1" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[200, 404, 404, 200, 200]
--- response_json eval
[ { path => 'a.txt', version => 2, seq => 2 },
  { error => { code => 'file_not_found' } },
  undef,
  { seq => 2, files => [] },
  { seq => 2, files => [ { path => 'a.txt', version => 2,
                           deleted => JSON::PP::true } ] } ]



=== TEST 20: DELETE with If-Match
--- setup
user alice
vault notes
put notes a.txt hello
put notes a.txt world
--- request eval
[ "DELETE /api/v1/vaults/notes/files/a.txt",
  "DELETE /api/v1/vaults/notes/files/a.txt",
  "GET /api/v1/vaults/notes/files/a.txt" ]
--- more_headers eval
[ "Authorization: Bearer \$TOKEN\nIf-Match: \"1\"",
  "Authorization: Bearer \$TOKEN\nIf-Match: \"2\"",
  "Authorization: Bearer \$TOKEN" ]
--- error_code eval
[412, 200, 404]
--- response_json eval
[ { error => { code => 'version_conflict',
      current => { version => 2, hash => $main::WORLD, size => 5 } } },
  { path => 'a.txt', version => 3, seq => 3 },
  { error => { code => 'file_not_found' } } ]



=== TEST 21: DELETE of a file that never was, or is already deleted
--- setup
user alice
vault notes
put notes a.txt hello
delete notes a.txt
--- request eval
[ "DELETE /api/v1/vaults/notes/files/nope.txt",
  "DELETE /api/v1/vaults/notes/files/a.txt" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[404, 404]
--- json_error eval
['file_not_found', 'file_not_found']
--- check
is($c->events('notes', since => 0)->json->{head_seq}, 2, 'no event');



=== TEST 22: GET of a file that never was
--- setup
user alice
vault notes
--- request
GET /api/v1/vaults/notes/files/nope.txt
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 404
--- json_error: file_not_found



=== TEST 23: a deleted file comes back as a create
--- setup
user alice
vault notes
put notes a.txt hello
delete notes a.txt
--- request eval
[ "PUT /api/v1/vaults/notes/files/a.txt\nhello",
  "GET /api/v1/vaults/notes/events?since=2",
  "GET /api/v1/vaults/notes/files/a.txt" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[201, 200, 200]
--- response_json eval
[ { version => 3, seq => 3 },
  { events => [ { seq => 3, type => 'create', path => 'a.txt' } ] } ]
--- response_body eval
[ undef, undef, 'hello' ]



=== TEST 24: nested paths
--- setup
user alice
vault notes
--- request eval
[ "PUT /api/v1/vaults/notes/files/dir/sub/deeper/file.md\n# title",
  "GET /api/v1/vaults/notes/files/dir/sub/deeper/file.md" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[201, 200]
--- response_json eval
[ { path => 'dir/sub/deeper/file.md' } ]
--- response_body eval
[ undef, '# title' ]



=== TEST 25: non-ASCII and escaped characters in paths, decoded once
--- setup
user alice
vault notes
--- request eval
[ "PUT /api/v1/vaults/notes/files/caf%C3%A9/na%C3%AFve%201.txt\none",
  "PUT /api/v1/vaults/notes/files/a%2Fb.txt\ntwo",
  "PUT /api/v1/vaults/notes/files/100%2541\nthree",
  "PUT /api/v1/vaults/notes/files/sp%20ace%20%2B%20plus+\nfour",
  "GET /api/v1/vaults/notes/files/a/b.txt",
  "GET /api/v1/vaults/notes/files" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[201, 201, 201, 201, 200, 200]
--- response_body eval
[ (undef) x 4, 'two' ]
--- check
my $m = $V->{RESPONSES}[5]->json;
my @paths = sort map { $_->{path} } @{ $m->{files} };
is_deeply(\@paths, [ sort "caf\x{e9}/na\x{ef}ve 1.txt", 'a/b.txt',
    '100%41', 'sp ace + plus+' ], 'paths decoded exactly once');



=== TEST 26: an empty file
--- setup
user alice
vault notes
--- request eval
[ "PUT /api/v1/vaults/notes/files/empty", "GET /api/v1/vaults/notes/files/empty" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[201, 200]
--- response_json eval
[ { size => 0, hash => Gobi::Test::blake2b_hex('') } ]
--- response_body eval
[ undef, '' ]
--- response_headers eval
[ undef, { 'Content-Length' => 0 } ]



=== TEST 27: every byte value survives the round trip
--- setup
user alice
vault notes
--- request eval
[ "PUT /api/v1/vaults/notes/files/bytes.bin\n" . join('', map { chr } 0 .. 255) x 3,
  "GET /api/v1/vaults/notes/files/bytes.bin" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[201, 200]
--- response_body eval
[ undef, join('', map { chr } 0 .. 255) x 3 ]



=== TEST 28: a 3 MB file (above nginx's default body limit) round trips
--- setup
user alice
vault notes
--- perl
my $data = join '', map { pack 'N', $_ * 2654435761 % 4294967296 } 0 .. 786_431;
$V->{SHA} = Digest::SHA::sha256_hex($data);
$V->{B2} = blake2b_hex($data);
my $r = $c->put('notes', 'big.bin', $data, 'X-Gobi-Hash' => $V->{B2});
is($r->status, 201, 'uploaded') or diag $r->describe;
is($r->json && $r->json->{size}, 3 * 1024 * 1024, 'size');
--- request
GET /api/v1/vaults/notes/files/big.bin
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_headers
Content-Length: 3145728
X-Gobi-Hash: $B2
--- check
is(Digest::SHA::sha256_hex($res->body), $V->{SHA}, 'the same bytes');



=== TEST 29: a chunked upload
--- setup
user alice
vault notes
--- request eval
"PUT /api/v1/vaults/notes/files/chunked.txt\n"
  . "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"
--- more_headers
Authorization: Bearer $TOKEN
Transfer-Encoding: chunked
--- error_code: 201
--- response_json eval
{ size => 11, hash => Gobi::Test::blake2b_hex('hello world') }
--- check
is($c->get('notes', 'chunked.txt')->body, 'hello world', 'stored');



=== TEST 30: equal content is stored once
--- setup
user alice
vault notes
put notes a.txt same bytes
put notes b/c.txt same bytes
put notes d.txt other bytes
--- check
SKIP: {
skip 'the blobs are on S3 (keyed by hash there)', 3
    if Gobi::Server::storage_modes()->{s3};
my $h = blake2b_hex('same bytes');
my $o = blake2b_hex('other bytes');
my @files = map { s{/}{}gr } $t->files_under;
is(scalar(grep { index($_, $h) >= 0 } @files), 1, 'one blob for equal content');
is(scalar(grep { index($_, $o) >= 0 } @files), 1, 'one for the other');
is(scalar(@files), 2, 'two blobs, no temp files left') or diag explain \@files;
}



=== TEST 31: an upload leaves no temp file behind
--- setup
user alice
vault notes
put notes a.txt one
put notes a.txt two
put notes b.txt three
--- check
# (the blob of version 1 may be collected already; nothing else may be there)
my @h = map { blake2b_hex($_) } qw(one two three);
if (Gobi::Server::storage_modes()->{s3}) {
    # the blobs are on S3; the upload temp files live in var/spool
    my @left = $t->files_under($t->var_dir . '/spool');
    is(scalar @left, 0, 'no temp file in the spool') or diag explain \@left;
    is($c->get('notes', 'b.txt')->body, 'three', 'the blob reads');
} else {
my @files = $t->files_under;
my @stray = grep { my $f = s{/}{}gr; !grep { index($f, $_) >= 0 } @h } @files;
is(scalar @stray, 0, 'only blobs under the storage root') or diag explain \@files;
cmp_ok(scalar @files, '>=', 2, 'the live blobs are there');
}



=== TEST 32: Basic credentials do not open files (only POST /sessions takes them)
--- setup
register alice
login alice
vault notes
put notes a.txt hello
--- request
GET /api/v1/vaults/notes/files/a.txt
--- more_headers
Authorization: $BASIC
--- error_code: 401
--- json_error: unauthorized



=== TEST 33: many versions of one file; the last one is served
--- setup
user alice
vault notes
--- perl
$c->put_ok('notes', 'f.txt', "version $_") for 1 .. 20;
--- request
GET /api/v1/vaults/notes/files/f.txt
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_body chomp
version 20
--- response_headers
ETag: "20"
