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
