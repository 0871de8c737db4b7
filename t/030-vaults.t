# Vaults: list, create, delete; names are per user; others' vaults are 404.
use Gobi::Test;

plan tests => repeat_each() * blocks();

run_tests();

__DATA__

=== TEST 1: a new user has no vaults
--- setup
user alice
--- request
GET /api/v1/vaults
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_json
{"vaults":[]}
--- response_headers_like
Content-Type: ^application/json



=== TEST 2: create a vault
--- setup
user alice
--- request
POST /api/v1/vaults
{"name":"notes"}
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 201
--- response_json
{"id":"<integer>","name":"notes","created_at":"<integer>","head_seq":0}
--- no_error_log
[error]



=== TEST 3: the list shows it
--- setup
user alice
vault notes
--- request
GET /api/v1/vaults
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_json
{"vaults":[{"id":$VAULT_ID,"name":"notes","created_at":"<integer>","head_seq":0}]}
--- check
my $ms = $res->json->{vaults}[0]{created_at};
cmp_ok($ms, '>', (time - 3600) * 1000, 'created_at is unix ms, recent');
cmp_ok($ms, '<', (time + 3600) * 1000, 'created_at is unix ms, not future');



=== TEST 4: several vaults
--- setup
user alice
vault notes
vault photos
vault work
--- request
GET /api/v1/vaults
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- check
my @names = sort map { $_->{name} } @{ $res->json->{vaults} };
is_deeply(\@names, [qw(notes photos work)], 'all three');
my %ids = map { $_->{id} => 1 } @{ $res->json->{vaults} };
is(scalar keys %ids, 3, 'distinct ids');



=== TEST 5: the same name twice
--- setup
user alice
vault notes
--- request
POST /api/v1/vaults
{"name":"notes"}
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 409
--- json_error: vault_exists



=== TEST 6: two users may use the same name; each sees only their own
--- setup
user alice
vault notes
user bob
--- request eval
[ qq{POST /api/v1/vaults\n{"name":"notes"}}, "GET /api/v1/vaults",
  "GET /api/v1/vaults" ]
--- more_headers eval
[ "Authorization: Bearer \$TOKEN_BOB", "Authorization: Bearer \$TOKEN_BOB",
  "Authorization: Bearer \$TOKEN_ALICE" ]
--- error_code eval
[201, 200, 200]
--- check
my ($made, $bobs, $alices) = @{ $V->{RESPONSES} };
is(scalar @{ $bobs->json->{vaults} }, 1, 'bob has one vault');
is(scalar @{ $alices->json->{vaults} }, 1, 'alice has one vault');
isnt($bobs->json->{vaults}[0]{id}, $alices->json->{vaults}[0]{id},
    'different vaults');



=== TEST 7: head_seq follows the writes
--- setup
user alice
vault notes
put notes a.txt one
put notes b.txt two
put notes a.txt three
--- request
GET /api/v1/vaults
--- more_headers
Authorization: Bearer $TOKEN
--- response_json
{"vaults":[{"name":"notes","head_seq":3}]}



=== TEST 8: delete a vault
--- setup
user alice
vault notes
put notes a.txt hello
--- request eval
[ "DELETE /api/v1/vaults/notes", "GET /api/v1/vaults",
  "GET /api/v1/vaults/notes/files", "GET /api/v1/vaults/notes/files/a.txt",
  "DELETE /api/v1/vaults/notes" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code_like eval
[ qr/^20[04]$/, qr/^200$/, qr/^404$/, qr/^404$/, qr/^404$/ ]
--- json_error eval
[ undef, undef, 'vault_not_found', 'vault_not_found', 'vault_not_found' ]
--- response_json eval
[ undef, { vaults => [] } ]



=== TEST 9: a deleted vault's name can be used again, and starts empty
--- setup
user alice
vault notes
put notes a.txt hello
request DELETE /api/v1/vaults/notes
vault notes
--- request eval
[ "GET /api/v1/vaults", "GET /api/v1/vaults/notes/files",
  "GET /api/v1/vaults/notes/events?since=0",
  "GET /api/v1/vaults/notes/files/a.txt" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[200, 200, 200, 404]
--- response_json eval
[ { vaults => [ { name => 'notes', head_seq => 0 } ] },
  { seq => 0, files => [] },
  { events => [], head_seq => 0 },
  { error => { code => 'file_not_found' } } ]



=== TEST 10: deleting a vault removes its blobs, not other vaults' blobs
--- setup
user alice
vault notes
vault keep
put notes a.txt only in notes
put keep b.txt kept bytes
--- request
DELETE /api/v1/vaults/notes
--- more_headers
Authorization: Bearer $TOKEN
--- error_code_like: ^20[04]$
--- check
my $h1 = blake2b_hex('only in notes');
my $h2 = blake2b_hex('kept bytes');
my @files = map { s{/}{}gr } $t->files_under;
# deleting may be lazy; what must hold is that the kept vault's data stays
ok((grep { index($_, $h2) >= 0 } @files), 'the other vault\'s blob stays');
my $r = $c->get('keep', 'b.txt');
is($r->body, 'kept bytes', 'the other vault still serves its file');



=== TEST 11: unknown vault
--- setup
user alice
--- request eval
[ "GET /api/v1/vaults/nope/files", "DELETE /api/v1/vaults/nope",
  "GET /api/v1/vaults/nope/events", "PUT /api/v1/vaults/nope/files/a.txt\nx",
  "GET /api/v1/vaults/nope/files/a.txt" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[ (404) x 5 ]
--- json_error eval
[ ('vault_not_found') x 5 ]



=== TEST 12: another user's vault is 404, never 403
--- setup
user alice
vault secret
put secret a.txt alice's bytes
user bob
--- request eval
[ "GET /api/v1/vaults/secret/files", "GET /api/v1/vaults/secret/files/a.txt",
  "HEAD /api/v1/vaults/secret/files/a.txt",
  "PUT /api/v1/vaults/secret/files/a.txt\nbob's bytes",
  "PUT /api/v1/vaults/secret/files/new.txt\nbob's bytes",
  "DELETE /api/v1/vaults/secret/files/a.txt",
  "GET /api/v1/vaults/secret/events?since=0",
  "DELETE /api/v1/vaults/secret" ]
--- more_headers
Authorization: Bearer $TOKEN_BOB
--- error_code eval
[ (404) x 8 ]
--- json_error eval
[ 'vault_not_found', 'vault_not_found', undef, ('vault_not_found') x 5 ]
--- check
$c->as('alice');
my $r = $c->get('secret', 'a.txt');
is($r->status, 200, 'alice still has her file');
is($r->body, "alice's bytes", 'unchanged');
my $m = $c->manifest('secret');
is(scalar @{ $m->json->{files} }, 1, 'and nothing new');
is($m->json->{seq}, 1, 'no new event');



=== TEST 13: names with spaces and non-ASCII characters
--- setup
user alice
--- request eval
[ "POST /api/v1/vaults\n" . JSON::PP->new->utf8->encode({ name => "Notizen f\x{fc}r 2024" }),
  "PUT /api/v1/vaults/Notizen%20f%C3%BCr%202024/files/a.txt\nhi",
  "GET /api/v1/vaults/Notizen%20f%C3%BCr%202024/files/a.txt",
  "GET /api/v1/vaults" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[201, 201, 200, 200]
--- check
my $v = $V->{RESPONSES}[3]->json->{vaults};
is($v->[0]{name}, "Notizen f\x{fc}r 2024", 'the name as given');
is($V->{RESPONSES}[2]->body, 'hi', 'file served');



=== TEST 14: invalid vault names
--- setup
user alice
--- request eval
[ map { "POST /api/v1/vaults\n" . JSON::PP->new->utf8->encode({ name => $_ }) }
  "", ".", "..", "a/b", "/abs", "a\x00b", "tab\there", "x" x 129, "\x7f" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[ (400) x 9 ]
--- response_json eval
# (a NUL may already be refused by the JSON parser: bad_request)
[ ({ error => { code => qr/^invalid_/ } }) x 5,
  { error => { code => qr/^(invalid_\w+|bad_request)$/ } },
  ({ error => { code => qr/^invalid_/ } }) x 3 ]
--- check
my $r = $c->vaults;
is_deeply($r->json->{vaults}, [], 'no vault was made');



=== TEST 15: the longest name, 128 bytes
--- setup
user alice
--- request eval
"POST /api/v1/vaults\n" . json_encode({ name => 'v' x 128 })
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 201



=== TEST 16: creating vaults needs credentials
--- request
POST /api/v1/vaults
{"name":"notes"}
--- error_code: 401
--- json_error: unauthorized



=== TEST 17: wrong types and bad JSON
--- setup
user alice
--- request eval
[ map { "POST /api/v1/vaults\n$_" } '{"name":5}', '{"name":null}',
  '{"name":["a"]}', '{"nam":"typo"}', '{"name":', '"notes"', '' ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[ (400) x 7 ]
--- response_json eval
[ ({ error => { code => 'bad_request' } }) x 3,
  { error => { code => qr/^(bad_request|invalid_\w+)$/ } },
  ({ error => { code => 'bad_request' } }) x 3 ]
