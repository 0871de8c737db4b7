# What a browser page and the logs may see of a WebSocket handshake: an
# Origin not listed in gobi_ws_allowed_origins (none by default) is 403
# forbidden, a client without Origin is not concerned; ?access_token= is
# masked before anything can answer or log the request, whatever the
# outcome.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

# the handshake's status with these Origin headers
sub main::with_origin {
    my ($t, $V, @origins) = @_;
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
        headers => [ map { [ Origin => $_ ] } @origins ]);
    return $ws;
}

run_tests();

__DATA__

=== TEST 1: by default every Origin is refused with 403 forbidden; no Origin is fine
--- websocket
--- setup
user alice
vault notes
--- perl
for my $o ('https://example.com', "http://127.0.0.1:$V->{PORT}", 'null', '') {
    my $ws = main::with_origin($t, $V, $o);
    is($ws->status, 403, "Origin '$o': 403");
    error_code_is($ws->response, 'forbidden', "Origin '$o': forbidden");
    ok(!defined $ws->response->header('sec-websocket-accept'),
        "Origin '$o': no upgrade");
}
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
ok($ws->ok, 'no Origin: 101');
$ws->hello('notes', since => 0);
json_subset_ok($ws->recv_json, { type => 'welcome' }, 'and the protocol');
--- no_error_log
[error]



=== TEST 2: listed origins: an exact match of scheme://host[:port], the host in any case
--- websocket
--- gobi_config
gobi_ws_allowed_origins https://app.example http://b.example:8080;
--- setup
user alice
vault notes
--- perl
my @cases = (
    [ [ 'https://app.example' ], 101 ],
    [ [ 'https://APP.Example' ], 101 ],
    [ [ 'http://b.example:8080' ], 101 ],
    [ [ 'http://app.example' ], 403 ],
    [ [ 'https://app.example:443' ], 403 ],
    [ [ 'https://app.example/' ], 403 ],
    [ [ 'https://app.example.evil.example' ], 403 ],
    [ [ 'https://evil.example/https://app.example' ], 403 ],
    [ [ 'https://app.exampl' ], 403 ],
    [ [ 'http://b.example' ], 403 ],
    [ [ 'http://b.example:80800' ], 403 ],
    [ [ 'null' ], 403 ],
    [ [ 'https://app.example', 'https://evil.example' ], 403 ],
    [ [ 'https://app.example', 'http://b.example:8080' ], 101 ],
);
for my $k (@cases) {
    my ($origins, $code) = @$k;
    my $ws = main::with_origin($t, $V, @$origins);
    my $what = join ' + ', @$origins;
    is($ws->status, $code, "Origin $what: $code");
    error_code_is($ws->response, 'forbidden', "Origin $what: forbidden")
        if $code == 403;
}
ok(Gobi::WS->new(port => $t->port, token => $V->{TOKEN})->ok,
    'no Origin: 101');
--- no_error_log
[error]



=== TEST 3: the refusal comes before the credentials are looked at
--- websocket
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port,
    headers => [ [ Origin => 'https://evil.example' ] ]);
is($ws->status, 403, 'no credentials and a foreign Origin: 403');
$ws = Gobi::WS->new(port => $t->port, token => 'A' x 43,
    headers => [ [ Origin => 'https://evil.example' ] ]);
is($ws->status, 403, 'a wrong token and a foreign Origin: 403');



=== TEST 4: a location may list its own origins, or none
--- gobi_config
gobi_ws_allowed_origins https://app.example;
--- config
location /api/v1/ { gobi_api; }
location = /api/v1/ws { gobi_websocket; }
location = /api/v1/ws2 {
    gobi_websocket;
    gobi_ws_allowed_origins none;
}
--- setup
user alice
vault notes
--- perl
is(main::with_origin($t, $V, 'https://app.example')->status, 101,
    'inherited from http{}');
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
    path => '/api/v1/ws2', headers => [ [ Origin => 'https://app.example' ] ]);
is($ws->status, 403, 'none in the location');



=== TEST 5: an origin that is not scheme://host[:port] fails nginx -t
--- must_die
--- gobi_config
gobi_ws_allowed_origins https://app.example/;
--- error_log
invalid origin "https://app.example/"



=== TEST 6: an origin without a scheme fails nginx -t
--- must_die
--- gobi_config
gobi_ws_allowed_origins app.example;
--- error_log
invalid origin "app.example"



=== TEST 7: ?access_token= never reaches the logs, whatever the answer
Every outcome of the endpoint, with the token in the query (twice, in
another case, beside an Authorization header), then the access log (the
request line, the URI, the arguments) and the error log (info, where
nginx writes "request: ...") are searched for it.
--- gobi_config
log_format everything '$request | $request_uri | $args | $query_string | $arg_access_token | $status';
server {
    listen 127.0.0.1:H2PORT http2;
    access_log logs/access.log everything;
    location = /api/v1/ws { gobi_websocket; }
}
--- config
access_log logs/access.log everything;
location /api/v1/ { gobi_api; }
location = /api/v1/ws { gobi_websocket; }
location = /api/v1/ws-denied { deny all; gobi_websocket; }
--- init
my $p = Gobi::Server::free_port();
$V->{H2PORT} = $p;
$t->{gobi_config} =~ s/H2PORT/$p/;
$t->write_conf;
--- setup
user alice
vault notes
--- perl
my $tok = $V->{TOKEN};
my $marker = 'MARKER' . ('Z' x 37);
my $n = 0;
my $ws_ = sub { $n++; Gobi::WS->new(port => $t->port, @_) };
my @cases = (
    [ 400, 'no Upgrade', access_token => $tok,
      replace_headers => { upgrade => undef } ],
    [ 426, 'version 8', access_token => $tok,
      replace_headers => { 'sec-websocket-version' => '8' } ],
    [ 405, 'POST', access_token => $tok, method => 'POST' ],
    [ 403, 'a foreign Origin', access_token => $tok,
      headers => [ [ Origin => 'https://evil.example' ] ] ],
    [ 403, 'deny all in the location', access_token => $tok,
      path => '/api/v1/ws-denied' ],
    [ 401, 'a wrong token', access_token => $marker ],
    [ 401, 'Basic beside it', access_token => $tok,
      basic => [ 'alice', $V->{PASSWORD} ] ],
    [ 401, 'a wrong Bearer beside it', access_token => $tok,
      token => $marker ],
    [ 401, 'twice, in another case',
      path => "/api/v1/ws?ACCESS_TOKEN=$marker&x=1&access_token=$tok" ],
    [ 101, 'the token', access_token => $tok ],
    [ 101, 'among other arguments',
      path => "/api/v1/ws?a=1&access_token=$tok&b=2" ],
    [ 101, 'a good Bearer beside it', access_token => $marker,
      token => $tok ],
);
my @open;
for my $k (@cases) {
    my ($code, $name, @o) = @$k;
    my $ws = $ws_->(@o);
    is($ws->status, $code, "$name: $code");
    push @open, $ws if $code == 101;
}
# a session the server logs something about (at info, with the request)
$open[0]->send_frame(payload => '{}', mask => 0);
is($open[0]->recv_close, 1002, 'an unmasked frame: closed');
$_->close for @open[1 .. $#open];
SKIP: {
    skip 'curl without HTTP/2', 1
        unless `curl -V 2>/dev/null` =~ /\bHTTP2\b/;
    $n++;
    my $out = `curl -s --http2-prior-knowledge -o /dev/null -w '%{http_code}' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' 'http://127.0.0.1:$V->{H2PORT}/api/v1/ws?x=1&access_token=$tok' 2>&1`;
    is($out, '400', 'HTTP/2: 400');
}
$t->stop;
my ($err, $acc) = ($t->error_log, $t->access_log);
for my $secret ($tok, $marker) {
    my @hit = grep { index($_, $secret) >= 0 } split /\n/, "$err\n$acc";
    ok(!@hit, 'no ' . ($secret eq $tok ? 'token' : 'marker')
        . ' in the logs') or diag join "\n", @hit;
}
# the requests are there, masked: the search above was not in vain
my @masked = grep { /access_token=\*{43}/i } split /\n/, $acc;
cmp_ok(scalar @masked, '>=', $n, "the $n requests are logged, masked");
like($err, qr/request: "GET \/api\/v1\/ws\?access_token=\*{43} HTTP\/1\.1"/,
    'the error log shows the request, masked');
like($err, qr/access forbidden by rule.*access_token=\*{43}/,
    'and the one refused by deny, masked');
