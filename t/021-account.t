# Token life and the account: log out everywhere, change the password
# (every other session ends), delete the account with its vaults and
# blobs; usernames unique case-insensitively; HTTP Basic only on
# POST /sessions, never with control bytes.
use Gobi::Test;
use MIME::Base64 ();
use File::Find ();

plan tests => repeat_each() * blocks();

sub main::status_of {
    my ($c, $token) = @_;
    return $c->request(GET => 'vaults', token => $token)->status;
}

run_tests();

__DATA__

=== TEST 1: DELETE /sessions logs out everywhere, this token included
--- setup
register alice
--- perl
my @t = map { $c->login('alice') } 1 .. 3;
is(main::status_of($c, $_), 200, 'a token works') for @t;
my $r = $c->request(DELETE => 'sessions', token => $t[0]);
is($r->status, 200, 'answers 200');
json_subset_ok($r->json, { logged_out => JSON::PP::true, revoked => 3 },
    'three tokens revoked');
is(main::status_of($c, $_), 401, 'the token is dead') for @t;
my $again = $c->request(DELETE => 'sessions', token => $t[0]);
is($again->status, 401, 'a dead token cannot log out again');
is($again->error_code, 'unauthorized', 'unauthorized');
ok(length $c->login('alice'), 'logging in again works');
--- no_error_log
[error]



=== TEST 2: DELETE /sessions of one user leaves the others' sessions alone
--- setup
user alice
user bob
--- perl
my $r = $c->request(DELETE => 'sessions', token => $c->token_of('alice'));
is($r->status, 200, 'alice logs out everywhere');
is(main::status_of($c, $c->token_of('bob')), 200, 'bob is still logged in');
is(main::status_of($c, $c->token_of('alice')), 401, 'alice is not');



=== TEST 3: changing the password ends every other session and keeps this one
--- setup
register alice
--- perl
my $t1 = $c->login('alice');
my $t2 = $c->login('alice');
my $new = 'a brand new password';
my $r = $c->request(PUT => 'users/me/password', token => $t1,
    json => { password => $c->password_of('alice'), new_password => $new });
is($r->status, 200, 'answers 200') or diag $r->describe;
json_subset_ok($r->json, { changed => JSON::PP::true, revoked => 1 },
    'one other session revoked');
is(main::status_of($c, $t1), 200, 'this session goes on');
is(main::status_of($c, $t2), 401, 'the other one is over');
is($c->login_res('alice', $Gobi::Client::DEFAULT_PASSWORD)->status, 401,
    'the old password is refused');
is($c->login_res('alice', $new)->status, 201, 'the new one works');
--- no_error_log
[error]



=== TEST 4: a wrong current password changes nothing
--- setup
user alice
--- perl
my $t1 = $c->token;
my $t2 = $c->login('alice');
my $r = $c->request(PUT => 'users/me/password', token => $t1,
    json => { password => 'not my password', new_password => 'whatever123' });
is($r->status, 401, 'answers 401');
is($r->error_code, 'unauthorized', 'unauthorized');
is(main::status_of($c, $t1), 200, 'the session still works');
is(main::status_of($c, $t2), 200, 'so does the other one');
is($c->login_res('alice')->status, 201, 'the password is unchanged');



=== TEST 5: bad password change bodies: 400, nothing changes
--- setup
user alice
--- request eval
[ "PUT /api/v1/users/me/password\n" . '{"password":"' . $Gobi::Client::DEFAULT_PASSWORD . '","new_password":"short"}',
  "PUT /api/v1/users/me/password\n" . '{"password":"' . $Gobi::Client::DEFAULT_PASSWORD . '"}',
  "PUT /api/v1/users/me/password\n" . '{"new_password":"long enough now"}',
  "PUT /api/v1/users/me/password\nnot json",
  "PUT /api/v1/users/me/password\n" . '{"password":"' . $Gobi::Client::DEFAULT_PASSWORD . '","new_password":"' . ('x' x 1025) . '"}' ]
--- more_headers eval
[ ("Authorization: Bearer \$TOKEN") x 5 ]
--- error_code eval
[ 400, 400, 400, 400, 400 ]
--- json_error eval
[ 'invalid_password', 'bad_request', 'bad_request', 'bad_request', 'invalid_password' ]
--- check
is($c->login_res('alice')->status, 201, 'the password is unchanged');



=== TEST 6: the password change needs a token, Basic is not enough
--- setup
register alice
--- request
PUT /api/v1/users/me/password
{"password":"$PASSWORD","new_password":"a brand new password"}
--- more_headers
Authorization: $BASIC
--- error_code: 401
--- json_error: unauthorized
--- check
is($c->login_res('alice')->status, 201, 'the password is unchanged');



=== TEST 7: DELETE /users/me deletes the account, its vaults and blobs
--- setup
user alice
vault notes
vault photos
put notes a.txt hello
put photos b.jpg jpeg bytes
user bob
vault notes
put notes c.txt bob's
--- perl
$c->as('alice');
my $t2 = $c->login('alice');
my $root = "$V->{SERVROOT}/var/vaults";
my @before = grep { -f } glob("$root/*/*/*");
cmp_ok(scalar @before, '>=', 3, 'three blobs on disk');
my $r = $c->request(DELETE => 'users/me',
    json => { password => $c->password_of('alice') });
is($r->status, 200, 'answers 200') or diag $r->describe;
json_subset_ok($r->json, { deleted => JSON::PP::true, username => 'alice',
    vaults => 2 }, 'the account and two vaults');
is(main::status_of($c, $c->token), 401, 'its token is dead');
is(main::status_of($c, $t2), 401, 'every token is');
is($c->login_res('alice')->status, 401, 'it cannot log in');
$c->as('bob');
is($c->get('notes', 'c.txt')->body, "bob's", 'bob\'s files are intact');
my $blobs = 0;
File::Find::find(sub { $blobs++ if -f $_ }, $root);
is($blobs, 1, 'only bob\'s blob is left on disk');
is($c->register('alice')->status, 201, 'the name is free again');
$c->login('alice');
is_deeply($c->vaults->json->{vaults}, [], 'a new alice has no vaults');
--- no_error_log
[error]



=== TEST 8: DELETE /users/me with a wrong or no password deletes nothing
--- setup
user alice
vault notes
put notes a.txt hello
--- request eval
[ "DELETE /api/v1/users/me\n" . '{"password":"not my password"}',
  "DELETE /api/v1/users/me\n{}",
  "DELETE /api/v1/users/me" ]
--- more_headers eval
[ ("Authorization: Bearer \$TOKEN") x 3 ]
--- error_code eval
[ 401, 400, 400 ]
--- json_error eval
[ 'unauthorized', 'bad_request', 'bad_request' ]
--- check
is($c->get('notes', 'a.txt')->body, 'hello', 'the file is there');
is($c->login_res('alice')->status, 201, 'the account is there');



=== TEST 9: usernames are unique case-insensitively
--- setup
register alice
--- request eval
[ "POST /api/v1/users\n" . '{"username":"Alice","password":"another password"}',
  "POST /api/v1/users\n" . '{"username":"ALICE","password":"another password"}' ]
--- error_code eval
[ 409, 409 ]
--- json_error eval
[ 'user_exists', 'user_exists' ]
--- check
my $r = $c->request(POST => 'sessions', no_auth => 1,
    json => { username => 'ALICE', password => $c->password_of('alice') });
is($r->status, 201, 'logging in is case-insensitive too');
is($r->json->{user}{username}, 'alice', 'the name keeps its spelling');
is($c->login_res('Alice', 'another password')->status, 401,
    'the refused sign-up set no password');



=== TEST 10: HTTP Basic only logs in: every other endpoint answers 401
--- setup
user alice
vault notes
put notes a.txt hello
--- request eval
[ "GET /api/v1/vaults", "GET /api/v1/vaults/notes/files/a.txt",
  "PUT /api/v1/vaults/notes/files/b.txt\nhi", "GET /api/v1/vaults/notes/files",
  "GET /api/v1/vaults/notes/events", "DELETE /api/v1/vaults/notes",
  "DELETE /api/v1/sessions", "DELETE /api/v1/sessions/current",
  "POST /api/v1/vaults\n{\"name\":\"x\"}" ]
--- more_headers eval
[ ("Authorization: \$BASIC") x 9 ]
--- error_code eval
[ (401) x 9 ]
--- json_error eval
[ ('unauthorized') x 9 ]
--- check
like($V->{RESPONSES}[0]->json->{error}{message}, qr{POST /api/v1/sessions},
    'the message says where Basic goes');
my $m = $c->manifest('notes')->json;
is(scalar @{ $m->{files} }, 1, 'nothing was written');
is($c->request(GET => 'vaults')->status, 200, 'the token still works');



=== TEST 11: NUL or control bytes in Basic credentials: 401 before any hashing
--- setup
register alice
--- request eval
[ ("POST /api/v1/sessions") x 4 ]
--- more_headers eval
[ map { "Authorization: Basic " . MIME::Base64::encode_base64($_, '') }
  ("alice\0:$Gobi::Client::DEFAULT_PASSWORD", "alice:$Gobi::Client::DEFAULT_PASSWORD\0",
   "al\nice:$Gobi::Client::DEFAULT_PASSWORD", "alice:pass\x7fword1") ]
--- error_code eval
[ (401) x 4 ]
--- json_error eval
[ ('unauthorized') x 4 ]
--- check
is($c->login_res('alice')->status, 201, 'clean credentials work');
