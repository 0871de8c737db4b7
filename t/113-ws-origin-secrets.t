# The WebSocket handshake and what a browser or a log may see: Origin
# against gobi_ws_allowed_origins (default none: cross-site browser
# handshakes refused, clients without Origin fine), and ?access_token=
# masked before any answer, in every outcome.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

run_tests();

__DATA__

=== TEST 1: by default any Origin is refused with 403 forbidden; no Origin is fine
--- websocket
--- setup
user alice
vault notes
--- perl
for my $o ('https://evil.example', 'http://127.0.0.1:' . $t->port, 'null') {
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
        headers => [ [ Origin => $o ] ]);
    is($ws->status, 403, "Origin $o: 403");
    error_code_is($ws->response, 'forbidden', "Origin $o: forbidden");
    ok(!defined $ws->response->header('sec-websocket-accept'), 'no upgrade');
}
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
ok($ws->ok, 'no Origin: 101');
--- no_error_log
[error]



=== TEST 2: gobi_ws_allowed_origins lets the listed origins in (host case-insensitive), no others
--- websocket
--- gobi_config
gobi_ws_allowed_origins https://app.example http://localhost:8080;
--- setup
user alice
vault notes
--- perl
for my $o ('https://app.example', 'HTTPS://App.Example', 'http://localhost:8080') {
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
        headers => [ [ Origin => $o ] ]);
    ok($ws->ok, "Origin $o: 101") or diag $ws->response->describe;
}
for my $o ('https://app.example:443', 'https://app.example.evil',
           'http://app.example', 'http://localhost:8081', 'null') {
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
        headers => [ [ Origin => $o ] ]);
    is($ws->status, 403, "Origin $o: 403");
}



=== TEST 3: gobi_ws_allowed_origins none refuses every Origin
--- websocket
--- gobi_config
gobi_ws_allowed_origins none;
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
    headers => [ [ Origin => 'https://app.example' ] ]);
is($ws->status, 403, 'none: 403');



=== TEST 4: ?access_token= is masked in every outcome: 400, 401, 403, 405, 426, 101 (with an Authorization header too)
--- websocket
--- setup
user alice
vault notes
--- perl
my $tok = $V->{TOKEN};
my @cases = (
    [ 400, replace_headers => { upgrade => undef } ],
    [ 400, replace_headers => { 'sec-websocket-key' => 'c2hvcnQ=' } ],
    [ 426, replace_headers => { 'sec-websocket-version' => '8' } ],
    [ 405, method => 'POST' ],
    [ 403, headers => [ [ Origin => 'https://evil.example' ] ] ],
    [ 401, token => 'A' x 43 ],
    [ 401, basic => [ 'alice', $V->{PASSWORD} ] ],
    [ 101, token => $tok ],
    [ 101 ],
    [ 101, path => "/api/v1/ws?access_token=$tok&x=1" ],
);
for my $k (@cases) {
    my ($code, @o) = @$k;
    my %o = @o;
    $o{access_token} = $tok unless $o{path};
    my $ws = Gobi::WS->new(port => $t->port, %o);
    is($ws->status, $code, "$code: " . json_encode(\@o));
}
# a second access_token in the same query
my $ws = Gobi::WS->new(port => $t->port,
    path => "/api/v1/ws?access_token=$tok&access_token=$tok");
is($ws->status, 101, 'two of them: the first is used');
$t->stop;
for my $log ([ 'error log', $t->error_log ], [ 'access log', $t->access_log ]) {
    my @hit = grep { index($_, $tok) >= 0 } split /\n/, $log->[1];
    ok(!@hit, "the token is not in the $log->[0]") or diag join "\n", @hit;
}
like($t->access_log, qr/access_token=\*{43}/, 'the access log shows it masked');
