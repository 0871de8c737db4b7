# POST /api/v1/users: registration, name and password rules.
use Gobi::Test;

plan tests => repeat_each() * blocks();

run_tests();

__DATA__

=== TEST 1: register a user
--- request
POST /api/v1/users
{"username":"alice","password":"correct horse"}
--- error_code: 201
--- response_json
{"id":"<integer>","username":"alice"}
--- response_headers_like
Content-Type: ^application/json
--- response_body_unlike: correct horse
--- no_error_log
[error]
correct horse



=== TEST 2: the new user can log in
--- request eval
[ "POST /api/v1/users\n" . '{"username":"alice","password":"correct horse"}',
  "POST /api/v1/sessions\n" . '{"username":"alice","password":"correct horse"}' ]
--- error_code eval
[201, 201]
--- response_json eval
[ { username => 'alice' }, { token => '<string>' } ]



=== TEST 3: a taken name
--- setup
register alice
--- request
POST /api/v1/users
{"username":"alice","password":"another password"}
--- error_code: 409
--- json_error: user_exists



=== TEST 4: two users get different ids
--- request eval
[ "POST /api/v1/users\n" . '{"username":"alice","password":"correct horse"}',
  "POST /api/v1/users\n" . '{"username":"bob","password":"correct horse"}' ]
--- error_code eval
[201, 201]
--- check
my ($a, $b) = map { $_->json->{id} } @{ $V->{RESPONSES} };
isnt($a, $b, 'ids differ');



=== TEST 5: every allowed character, 64 characters long
--- request eval
my $name = join '', ('A'..'Z', 'a'..'x', '0'..'9', '.', '_', '@', '-');
"POST /api/v1/users\n" . json_encode({ username => $name, password => 'password' })
--- error_code: 201
--- response_json
{"username":"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx0123456789._@-"}



=== TEST 6: a single character name
--- request
POST /api/v1/users
{"username":"a","password":"password"}
--- error_code: 201



=== TEST 7: a 65 character name
--- request eval
"POST /api/v1/users\n" . json_encode({ username => 'a' x 65, password => 'password' })
--- error_code: 400
--- json_error: invalid_username



=== TEST 8: an empty name
--- request
POST /api/v1/users
{"username":"","password":"password"}
--- error_code: 400
--- json_error: invalid_username



=== TEST 9: names with characters outside [A-Za-z0-9._@-]
--- request eval
[ map { "POST /api/v1/users\n" . json_encode({ username => $_, password => 'password' }) }
  "al ice", "al/ice", "al\\ice", "alice\n", "al:ice", "al%ice", "al\x{e9}ice",
  "al+ice", "\x{1F600}", "al\tice", "'alice'" ]
--- error_code eval
[ (400) x 11 ]
--- json_error eval
[ ('invalid_username') x 11 ]
--- check
my $c2 = $t->client;
is($c2->login_res('alice', 'password')->status, 401, 'no alice was made');



=== TEST 10: a 7 byte password
--- request
POST /api/v1/users
{"username":"alice","password":"1234567"}
--- error_code: 400
--- json_error: invalid_password



=== TEST 11: an empty password
--- request
POST /api/v1/users
{"username":"alice","password":""}
--- error_code: 400
--- json_error: invalid_password



=== TEST 12: an 8 byte password
--- request
POST /api/v1/users
{"username":"alice","password":"12345678"}
--- error_code: 201



=== TEST 13: the length is in bytes: four 2-byte characters are enough
--- request eval
"POST /api/v1/users\n" . JSON::PP->new->utf8->encode({ username => 'alice', password => "\x{e9}" x 4 })
--- error_code: 201
--- check
is($c->login_res('alice', "\xc3\xa9" x 4)->status, 201, 'logs in with it');



=== TEST 14: three 2-byte characters are too short
--- request eval
"POST /api/v1/users\n" . JSON::PP->new->utf8->encode({ username => 'alice', password => "\x{e9}" x 3 })
--- error_code: 400
--- json_error: invalid_password



=== TEST 15: a 1024 byte password
--- request eval
"POST /api/v1/users\n" . json_encode({ username => 'alice', password => 'p' x 1024 })
--- error_code: 201
--- check
is($c->login_res('alice', 'p' x 1024)->status, 201, 'logs in with it');
is($c->login_res('alice', 'p' x 1023)->status, 401, 'one byte less is wrong');



=== TEST 16: a 1025 byte password
--- request eval
"POST /api/v1/users\n" . json_encode({ username => 'alice', password => 'p' x 1025 })
--- error_code: 400
--- json_error: invalid_password



=== TEST 17: a password with every kind of character
--- request eval
"POST /api/v1/users\n" . JSON::PP->new->utf8->encode({ username => 'alice',
    password => qq{ "quoted" \\back: colon \x{263a} \t tab } })
--- error_code: 201
--- check
require Encode;
my $pw = Encode::encode('UTF-8', qq{ "quoted" \\back: colon \x{263a} \t tab });
# a tab is a control byte: Basic refuses credentials with any (t/021)
is($c->login_res('alice', $pw)->status, 401, 'Basic refuses the tab');
(my $notab = $pw) =~ s/\t/ /;
is($c->login_res('alice', $notab)->status, 401, 'it is part of the password');
is($c->request(POST => 'sessions', no_auth => 1,
    body => JSON::PP->new->utf8->encode({ username => 'alice',
        password => qq{ "quoted" \\back: colon \x{263a} \t tab } }))->status,
    201, 'logs in with it (JSON)');



=== TEST 18: the name is not trimmed or folded: 'Alice' is another user
--- setup
register alice
--- request
POST /api/v1/users
{"username":"Alice","password":"password"}
--- error_code_like: ^(201|409)$
--- check
# whatever the server decides about case, alice keeps her password
is($c->login_res('alice')->status, 201, 'alice still logs in');



=== TEST 19: no username field
--- request
POST /api/v1/users
{"password":"password"}
--- error_code: 400
--- response_json eval
{ error => { code => qr/^(bad_request|invalid_username)$/ } }



=== TEST 20: no password field
--- request
POST /api/v1/users
{"username":"alice"}
--- error_code: 400
--- response_json eval
{ error => { code => qr/^(bad_request|invalid_password)$/ } }



=== TEST 21: no body
--- request
POST /api/v1/users
--- error_code: 400
--- json_error: bad_request

