# The WebSocket handshake (RFC 6455 section 4) and its authentication:
# Bearer and ?access_token= (HTTP Basic is 401, as on the REST API); every
# failure is a JSON answer before the upgrade; HTTP/2 is refused.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

# opens a session with the given options and says hello to vault notes
sub main::ws_hello_ok {
    my ($t, %o) = @_;
    my $ws = Gobi::WS->new(port => $t->port, %o);
    ok($ws->ok, '101 with a valid Sec-WebSocket-Accept')
        or diag($ws->error // '', "\n", $ws->response
            ? $ws->response->describe : '');
    $ws->hello('notes', since => 0);
    my $w = $ws->recv_json;
    json_subset_ok($w, { type => 'welcome', vault => 'notes',
        head_seq => '<integer>', oldest_seq => '<integer>', protocol => 1 },
        'welcome');
    return $ws;
}

run_tests();

__DATA__

=== TEST 1: Bearer token: 101, the accept key, then the protocol
--- websocket
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
is($ws->status, 101, '101 Switching Protocols');
my $r = $ws->response;
is($r->header('sec-websocket-accept'),
    Gobi::WS::accept_for($ws->{key}), 'Sec-WebSocket-Accept');
like($r->header('upgrade'), qr/^websocket$/i, 'Upgrade: websocket');
like($r->header('connection'), qr/\bupgrade\b/i, 'Connection: Upgrade');
# the RFC's own example key
is(Gobi::WS::accept_for('dGhlIHNhbXBsZSBub25jZQ=='),
    's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'the client computes accept keys right');
$ws->hello('notes', since => 0);
json_subset_ok($ws->recv_json, { type => 'welcome', vault => 'notes',
    head_seq => 0, oldest_seq => 0, protocol => 1 }, 'welcome');
json_subset_ok($ws->recv_json, { type => 'events', events => [],
    more => JSON::PP::false }, 'one empty replay batch');
is($ws->close, 1000, 'a clean close is answered with 1000');
--- no_error_log
[error]



=== TEST 2: the RFC example key gives the RFC example accept
--- websocket
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
    key => 'dGhlIHNhbXBsZSBub25jZQ==');
is($ws->response->header('sec-websocket-accept'),
    's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'accept of the RFC example');
ok($ws->ok, 'verified');



=== TEST 3: ?access_token= works as well as Bearer
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
main::ws_hello_ok($t, access_token => $V->{TOKEN});
# among other arguments
main::ws_hello_ok($t, path => '/api/v1/ws?x=1', access_token => $V->{TOKEN});
--- no_error_log
[error]



=== TEST 4: HTTP Basic, even with the right password: 401, as on the REST API
Only POST /api/v1/sessions takes a password (each check is an argon2id).
--- websocket
--- setup
user alice
vault notes
--- perl
for my $o ([ basic => [ 'alice', $V->{PASSWORD} ] ],
           [ basic => [ 'alice', $V->{PASSWORD} ],
             access_token => $V->{TOKEN} ])
{
    my $ws = Gobi::WS->new(port => $t->port, @$o);
    my $what = json_encode($o);
    is($ws->status, 401, "401: $what");
    error_code_is($ws->response, 'unauthorized', "unauthorized: $what");
    like($ws->response->json->{error}{message} // '', qr{POST /api/v1/sessions},
        "the message says where Basic goes: $what");
    ok(!defined $ws->response->header('sec-websocket-accept'), 'no accept');
}
# the same answer as REST gives
my $r = $c->request(GET => 'vaults', basic => [ 'alice', $V->{PASSWORD} ]);
is($r->status, 401, 'REST: 401');
is($r->json->{error}{message}, Gobi::WS->new(port => $t->port,
    basic => [ 'alice', $V->{PASSWORD} ])->response->json->{error}{message},
    'the same message as REST');
--- no_error_log
[error]



=== TEST 5: no credentials: 401 with a JSON error, no upgrade
--- websocket
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port);
is($ws->status, 401, 'status 401');
error_code_is($ws->response, 'unauthorized');
ok(!defined $ws->response->header('sec-websocket-accept'), 'no accept');
like($ws->response->header('content-type') // '', qr{^application/json},
    'JSON');



=== TEST 6: bad credentials of every kind: 401 before the upgrade
--- websocket
--- setup
user alice
vault notes
--- perl
my $bad = 'A' x 43;
for my $o ([ token => $bad ], [ token => '' ], [ token => $V->{TOKEN} . 'x' ],
           [ basic => [ 'alice', 'wrong password' ] ],
           [ basic => [ 'nobody', 'whatever' ] ],
           [ access_token => $bad ], [ access_token => '' ],
           [ access_token => 'x' x 300 ],
           [ headers => [ [ Authorization => 'Token abc' ] ] ],
           [ headers => [ [ Authorization => 'Bearer' ] ] ],
           [ headers => [ [ Authorization => 'Basic !!!' ] ] ])
{
    my $ws = Gobi::WS->new(port => $t->port, @$o);
    my $what = json_encode($o);
    is($ws->status, 401, "401: $what");
    error_code_is($ws->response, 'unauthorized', "JSON error: $what");
}
# a logged-out token no longer opens a session
my $r = $c->request(DELETE => 'sessions/current');
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
if ($r->status == 204 || $r->status == 200) {
    is($ws->status, 401, 'a revoked token: 401');
} else {
    note('no DELETE sessions/current: ' . $r->status);
    pass('(logout endpoint not there)');
}



=== TEST 7: a bad header token is not rescued by a good ?access_token=
--- websocket
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => 'A' x 43,
    access_token => $V->{TOKEN});
is($ws->status, 401, 'the Authorization header is what counts');



=== TEST 8: not a WebSocket handshake: clear HTTP errors
--- websocket
--- setup
user alice
vault notes
--- perl
my %good = (port => $t->port, token => $V->{TOKEN});
my @cases = (
    [ 'no Upgrade', { upgrade => undef }, 400 ],
    [ 'Upgrade: h2c', { upgrade => 'h2c' }, 400 ],
    [ 'no Connection', { connection => undef }, 400 ],
    [ 'Connection: close', { connection => 'close' }, 400 ],
    [ 'version 8', { 'sec-websocket-version' => '8' }, 426 ],
    [ 'no version', { 'sec-websocket-version' => undef }, 426 ],
    [ 'no key', { 'sec-websocket-key' => undef }, 400 ],
    [ 'short key', { 'sec-websocket-key' => 'c2hvcnQ=' }, 400 ],
    [ 'key not base64', { 'sec-websocket-key' => '!' x 24 }, 400 ],
);
for my $k (@cases) {
    my ($name, $rep, $code) = @$k;
    my $ws = Gobi::WS->new(%good, replace_headers => $rep);
    is($ws->status, $code, "$name: $code");
    ok(defined $ws->response->error_code, "$name: JSON error")
        or diag $ws->response->describe;
    is($ws->response->header('sec-websocket-version'), '13',
        "$name: Sec-WebSocket-Version: 13") if $code == 426;
}
# tokens in a list are fine
my $ws = Gobi::WS->new(%good, replace_headers => {
    connection => 'keep-alive, Upgrade', upgrade => 'WebSocket' });
ok($ws->ok, 'Connection: keep-alive, Upgrade and Upgrade: WebSocket');
$ws = Gobi::WS->new(%good, method => 'POST');
is($ws->status, 405, 'POST: 405');
like($ws->response->header('allow') // '', qr/GET/, 'Allow: GET');
my $r = $c->raw("GET /api/v1/ws HTTP/1.0\r\nUpgrade: websocket\r\n"
    . "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    . "Authorization: Bearer $V->{TOKEN}\r\n\r\n");
is($r->status, 400, 'HTTP/1.0: 400');
--- no_error_log
[alert]



=== TEST 9: an unauthenticated plain GET is a 401, as for the REST API
--- websocket
--- request
GET /api/v1/ws
--- more_headers
Upgrade: websocket
Connection: Upgrade
Sec-WebSocket-Version: 13
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
--- error_code: 401
--- json_error: unauthorized



=== TEST 10: the handshake written one byte at a time, with the hello in the same stream
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $hello = Gobi::WS->frame(payload =>
    '{"type":"hello","vault":"notes","since":0,"protocol":1}');
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
    pipeline => $hello, split => 1);
ok($ws->ok, 'status 101');
json_subset_ok($ws->recv_json, { type => 'welcome', head_seq => 1 },
    'welcome');
json_subset_ok($ws->recv_json, { type => 'events',
    events => [ { path => 'a.txt', type => 'create' } ] }, 'replay');



=== TEST 11: a hello pipelined right behind the handshake
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $pipe = Gobi::WS->frame(payload =>
    '{"type":"hello","vault":"notes","since":0,"protocol":1}')
    . Gobi::WS->frame(opcode => 0x9, payload => 'p1');
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
    pipeline => $pipe, want_pongs => 1);
ok($ws->ok, 'status 101');
my @got;
for (1 .. 3) {
    my $m = $ws->next_message or last;
    push @got, $m->{opcode} == 0xa ? "pong:$m->{payload}"
        : $m->{json}{type} // '?';
}
is_deeply([ sort @got ], [ sort qw(welcome events pong:p1) ],
    'welcome, replay and the pong');
is($got[0], 'welcome', 'the welcome first of the protocol messages')
    if $got[0] ne 'pong:p1';



=== TEST 12: HTTP/2 (h2c, prior knowledge) gets a clear refusal
--- gobi_config
server {
    listen 127.0.0.1:H2PORT http2;
    location /api/v1/ { gobi_api; }
    location = /api/v1/ws { gobi_websocket; }
}
--- config
location /api/v1/ { gobi_api; }
location = /api/v1/ws { gobi_websocket; }
--- init
my $p = Gobi::Server::free_port();
$V->{H2PORT} = $p;
$t->{gobi_config} =~ s/H2PORT/$p/;
$t->write_conf;
--- setup
user alice
vault notes
--- perl
SKIP: {
    skip 'curl without HTTP/2', 2
        unless `curl -V 2>/dev/null` =~ /\bHTTP2\b/;
    my $out = `curl -s --http2-prior-knowledge -o - -w '\\n%{http_code} %{http_version}' -H 'Authorization: Bearer $V->{TOKEN}' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' http://127.0.0.1:$V->{H2PORT}/api/v1/ws 2>&1`;
    like($out, qr/\n400 2$/, 'HTTP/2: 400') or diag $out;
    like($out, qr/"code":"websocket_unsupported"/, 'a JSON error saying why');
}



=== TEST 13: no extension or subprotocol is accepted (RSV bits stay reserved)
--- websocket
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN}, headers => [
    [ 'Sec-WebSocket-Extensions' => 'permessage-deflate; client_max_window_bits' ],
    [ 'Sec-WebSocket-Protocol' => 'gobi.v1, chat' ] ]);
ok($ws->ok, 'status 101');
ok(!defined $ws->response->header('sec-websocket-extensions'),
    'no Sec-WebSocket-Extensions');
ok(!defined $ws->response->header('sec-websocket-protocol'),
    'no Sec-WebSocket-Protocol');
$ws->send_frame(rsv => 4, payload => '{}');
is($ws->recv_close, 1002, 'a compressed (RSV1) frame is a protocol error');



=== TEST 14: an ?access_token= does not end up in the logs
--- websocket
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, access_token => $V->{TOKEN});
ok($ws->ok, 'status 101');
# something the server logs about this session
$ws->send_frame(payload => '{}', mask => 0);
is($ws->recv_close, 1002, 'closed');
my $bad = Gobi::WS->new(port => $t->port,
    access_token => substr($V->{TOKEN}, 0, 20) . 'x' x 23);
is($bad->status, 401, 'a wrong token: 401');
$t->stop;
my @hit = grep { index($_, $V->{TOKEN}) >= 0 } split /\n/, $t->error_log;
ok(!@hit, 'the token is not in the error log') or diag join "\n", @hit;
@hit = grep { index($_, $V->{TOKEN}) >= 0 } split /\n/, $t->access_log;
ok(!@hit, 'the token is not in the access log') or diag join "\n", @hit;
