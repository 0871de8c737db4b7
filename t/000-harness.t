# The harness itself, against stock nginx locations (no gobi module needed).
use Gobi::Test;

plan tests => repeat_each() * blocks() + 1;

# the Perl API: a server with a given config, requests, stop, logs
subtest 'Perl API' => sub {
    my $s = gobi_server(label => 'api', no_module => 1, workers => 2, config => <<'EOC');
location = /ping { return 200 "pong\n"; }
location = /json {
    default_type application/json;
    return 200 '{"n":1,"s":"x","a":[1,"2"],"t":true,"z":null}';
}
location = /err { default_type application/json;
    return 404 '{"error":{"code":"not_found","message":"no such thing"}}'; }
EOC
    ok($s->start, 'starts') or diag $s->start_output . $s->error_log;
    ok($s->running, 'running');
    is(scalar(() = $s->worker_pids), 2, 'two workers');
    my $c = $s->client;
    my $r = $c->request(GET => '/ping');
    is($r->status, 200, 'GET');
    is($r->body, "pong\n", 'body');
    is($r->header('content-length'), 5, 'header');
    $r = $c->request(HEAD => '/ping');
    is($r->status, 200, 'HEAD');
    is($r->body, '', 'HEAD has no body');
    $r = $c->request(GET => '/json');
    json_subset_ok($r->json, { n => 1, s => 'x', a => [ 1, '2' ],
        t => JSON::PP::true, z => undef }, 'json subset');
    my ($ok, $why) = json_subset($r->json, { n => '1' });
    ok(!$ok, 'a string is not a number') or diag $why;
    ($ok, $why) = json_subset($r->json, { s => 1 });
    ok(!$ok, 'a number is not a string');
    ($ok) = json_subset($r->json, json_decode('{"a":[1,2]}'));
    ok(!$ok, 'array element type checked');
    ($ok) = json_subset($r->json, { s => qr/^x$/, a => [ 1, qr/2/ ] });
    ok($ok, 'regexes');
    ($ok, $why) = json_subset($r->json, { n => '<integer>', s => '<string>',
        t => '<bool>', z => '<any>', q => '<absent>', a => [ '<number>',
        '<string>' ] });
    ok($ok, 'placeholders') or diag $why;
    ($ok) = json_subset($r->json, { n => '<string>' });
    ok(!$ok, 'placeholder type checked');
    ($ok) = json_subset($r->json, { z => '<absent>' });
    ok(!$ok, '<absent> checked');
    $r = $c->request(GET => '/err');
    error_code_is($r, 'not_found');
    my @p = map { $c->start(GET => '/ping') } 1 .. 5;
    is(scalar(grep { $_->wait->status == 200 } @p), 5, 'concurrent');
    $r = $c->raw("GET /ping HTTP/1.0\r\n\r\n");
    is($r->body, "pong\n", 'raw request');
    is(blake2b_hex(''), '0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8', 'blake2b of ""');
    is(blake2b_hex('abc'), 'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319', 'blake2b of "abc"');
    my $pid = $s->pid;
    ok($s->stop, 'stops on QUIT');
    ok(!kill(0, $pid) || !$s->running, 'master gone');
    is(scalar($s->alerts), 0, 'no alerts');
    like($s->access_log, qr{"GET /ping HTTP/1.1" 200}, 'access log');
    $s->remove;
};

run_tests();

__DATA__

=== TEST 1: stock nginx answers, exact body and headers
--- no_module
--- config
location = /ping { return 200 "pong\n"; }
--- request
GET /ping
--- error_code: 200
--- response_body
pong
--- response_headers
Content-Type: application/octet-stream
!X-Foo
--- response_headers_like
Server: ^nginx
--- no_error_log
[error]



=== TEST 2: a bad directive stops nginx -t and start-up
--- no_module
--- config
location / { no_such_directive on; }
--- must_die
--- error_log
unknown directive "no_such_directive"



=== TEST 3: several requests, expectations per request, substitutions
--- no_module
--- config
location = /a { return 200 "a:$http_x_v\n"; }
location = /b { return 201 "b:$request_body"; }
--- perl
$V->{VAL} = 'seven';
--- more_headers
X-V: $VAL
--- request eval
["GET /a", "POST /b\nbody"]
--- error_code eval
[200, 201]
--- response_body eval
["a:seven\n", "b:"]



=== TEST 4: an eval request with a binary body, JSON answer checked as a subset
--- no_module
--- config
location = /j {
    default_type application/json;
    return 200 '{"got":"$content_length","port":$server_port}';
}
--- request eval
"PUT /j\n" . ("\x00\xff" x 5000)
--- error_code: 200
--- response_json
{"got":"10000","port":$PORT}



=== TEST 5: error_log expected, check hook, access log
--- no_module
--- config
location = /missing { root $SERVROOT/html; }
--- request
GET /missing
--- error_code: 404
--- error_log
No such file or directory
--- check
like($t->wait_for_log(access => qr{(GET /missing HTTP/1.1" 404)}), qr/404/,
    'access log line');



=== TEST 6: worker count and a main_config
--- no_module
--- main_config
worker_rlimit_nofile 4096;
--- workers: 1
--- config
location = /p { return 200 "$pid"; }
--- request
GET /p
--- check
is(scalar(() = $t->worker_pids), 1, 'one worker');
is($res->body, ($t->worker_pids)[0], 'answered by it');
