# Sessions: Basic and JSON login, Bearer tokens, revocation, 401s.
# Basic is accepted by POST /sessions only.
use Gobi::Test;

plan tests => repeat_each() * blocks();

run_tests();

__DATA__

=== TEST 1: log in with HTTP Basic
--- setup
register alice
--- request
POST /api/v1/sessions
--- more_headers
Authorization: $BASIC
--- error_code: 201
--- response_json
{"token":"<string>","expires_at":"<integer>"}
--- check
my $j = $res->json;
cmp_ok(length $j->{token}, '>=', 32, 'a long token');
cmp_ok($j->{expires_at}, '>', time, 'expires in the future');
--- no_error_log
[error]



=== TEST 2: log in with a JSON body
--- setup
register alice
--- request
POST /api/v1/sessions
{"username":"alice","password":"$PASSWORD"}
--- error_code: 201
--- response_json
{"token":"<string>","expires_at":"<integer>"}



=== TEST 3: the token opens the API (Bearer)
--- setup
user alice
--- request
GET /api/v1/vaults
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_json
{"vaults":[]}



=== TEST 4: Basic credentials only log in: elsewhere 401 (each would cost an argon2id)
--- setup
register alice
--- request
GET /api/v1/vaults
--- more_headers
Authorization: $BASIC
--- error_code: 401
--- json_error: unauthorized



=== TEST 5: a password with a colon works through Basic (split at the first colon)
--- setup
register alice pass:word:with:colons
--- request
POST /api/v1/sessions
--- more_headers
Authorization: $BASIC
--- error_code: 201



=== TEST 6: every login gives a new token, and each works
--- setup
register alice
--- perl
$V->{T1} = $c->login('alice');
$V->{T2} = $c->login('alice');
isnt($V->{T1}, $V->{T2}, 'tokens differ');
--- request eval
["GET /api/v1/vaults", "GET /api/v1/vaults"]
--- more_headers eval
["Authorization: Bearer \$T1", "Authorization: Bearer \$T2"]
--- error_code eval
[200, 200]



=== TEST 7: wrong password and unknown user get the same answer
--- setup
register alice
--- request eval
["POST /api/v1/sessions", "POST /api/v1/sessions"]
--- more_headers eval
[ "Authorization: " . Gobi::Client::basic_auth('alice', 'wrong password'),
  "Authorization: " . Gobi::Client::basic_auth('mallory', 'wrong password') ]
--- error_code eval
[401, 401]
--- json_error eval
['unauthorized', 'unauthorized']
--- check
my ($a, $b) = @{ $V->{RESPONSES} };
is($a->body, $b->body, 'same body');
is($a->header('www-authenticate'), $b->header('www-authenticate'),
    'same WWW-Authenticate');
ok(defined $a->header('www-authenticate'), 'WWW-Authenticate is there');



=== TEST 8: the same for JSON logins
--- setup
register alice
--- request eval
[ "POST /api/v1/sessions\n" . '{"username":"alice","password":"wrong password"}',
  "POST /api/v1/sessions\n" . '{"username":"mallory","password":"wrong password"}' ]
--- error_code eval
[401, 401]
--- json_error eval
['unauthorized', 'unauthorized']
--- check
my ($a, $b) = @{ $V->{RESPONSES} };
is($a->body, $b->body, 'same body');



=== TEST 9: an unknown user with a password that is too short or a bad name still gets 401
--- request eval
[ "POST /api/v1/sessions\n" . '{"username":"mallory","password":"x"}',
  "POST /api/v1/sessions\n" . '{"username":"no such/user","password":"long enough"}' ]
--- error_code eval
[401, 401]
--- json_error eval
['unauthorized', 'unauthorized']



=== TEST 10: no credentials: 401 with WWW-Authenticate
--- request
GET /api/v1/vaults
--- error_code: 401
--- json_error: unauthorized
--- response_headers_like
WWW-Authenticate: \S



=== TEST 11: logging in without any credentials
--- request
POST /api/v1/sessions
--- error_code_like: ^40[01]$
--- check
my $code = $res->error_code // '';
like($code, qr/^(unauthorized|bad_request)$/, "code $code");



=== TEST 12: an unknown token
--- setup
user alice
--- request
GET /api/v1/vaults
--- more_headers
Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
--- error_code: 401
--- json_error: unauthorized
--- response_headers_like
WWW-Authenticate: \S



=== TEST 13: a token with one character changed
--- setup
user alice
--- perl
my $tok = $V->{TOKEN};
substr($tok, 5, 1) = substr($tok, 5, 1) eq 'A' ? 'B' : 'A';
$V->{BAD} = $tok;
--- request
GET /api/v1/vaults
--- more_headers
Authorization: Bearer $BAD
--- error_code: 401
--- json_error: unauthorized



=== TEST 14: malformed Authorization headers
--- setup
user alice
--- request eval
[ ("GET /api/v1/vaults") x 8 ]
--- more_headers eval
[ "Authorization: Bearer",
  "Authorization: Bearer ",
  "Authorization: Basic",
  "Authorization: Basic !!!not-base64!!!",
  "Authorization: Basic " . MIME::Base64::encode_base64('no-colon', ''),
  "Authorization: Digest username=\"alice\"",
  "Authorization: \$TOKEN",
  "Authorization: Bearer \$TOKEN junk" ]
--- error_code eval
[ (401) x 8 ]
--- json_error eval
[ ('unauthorized') x 8 ]



=== TEST 15: the scheme name is case-insensitive
--- setup
user alice
--- request
GET /api/v1/vaults
--- more_headers
Authorization: bearer $TOKEN
--- error_code: 200



=== TEST 16: revoke the presented token
--- setup
user alice
--- request eval
["DELETE /api/v1/sessions/current", "GET /api/v1/vaults",
 "DELETE /api/v1/sessions/current"]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code_like eval
[qr/^20[04]$/, qr/^401$/, qr/^401$/]
--- json_error eval
[undef, 'unauthorized', 'unauthorized']



=== TEST 17: revoking one token leaves the others
--- setup
user alice
login alice
--- perl
$V->{OTHER} = $V->{TOKEN};
$V->{FIRST} = $c->login('alice');
--- request eval
["DELETE /api/v1/sessions/current", "GET /api/v1/vaults", "GET /api/v1/vaults"]
--- more_headers eval
["Authorization: Bearer \$FIRST", "Authorization: Bearer \$FIRST",
 "Authorization: Bearer \$OTHER"]
--- error_code_like eval
[qr/^20[04]$/, qr/^401$/, qr/^200$/]



=== TEST 18: revoking without credentials
--- request
DELETE /api/v1/sessions/current
--- error_code: 401
--- json_error: unauthorized



=== TEST 19: JSON login with wrong types
--- setup
register alice
--- request eval
[ map { "POST /api/v1/sessions\n$_" }
  '{"username":42,"password":"correct horse battery staple"}',
  '{"username":"alice","password":12345678}',
  '{"username":["alice"],"password":"x"}',
  '{"username":null,"password":null}',
  '["alice","correct horse battery staple"]' ]
--- error_code eval
[ (400) x 5 ]
--- json_error eval
[ ('bad_request') x 5 ]



=== TEST 20: JSON login with bad JSON
--- request
POST /api/v1/sessions
{"username":"alice","password":
--- error_code: 400
--- json_error: bad_request



=== TEST 21: neither passwords nor tokens reach the error log
--- setup
user alice s3cret-pa55word
--- request eval
[ "GET /api/v1/vaults",
  "POST /api/v1/sessions\n" . '{"username":"alice","password":"wr0ng-pa55word"}' ]
--- more_headers eval
["Authorization: Bearer \$TOKEN", ""]
--- no_error_log
s3cret-pa55word
wr0ng-pa55word
$TOKEN



=== TEST 22: a token issued by one worker works on every worker
--- setup
user alice
--- request eval
[ ("GET /api/v1/vaults") x 10 ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[ (200) x 10 ]



=== TEST 23: a token survives a restart of nginx
--- setup
user alice
--- perl
$t->stop;
ok($t->start, 'restarted') or diag $t->start_output;
--- request
GET /api/v1/vaults
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
