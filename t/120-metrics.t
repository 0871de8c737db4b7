# Prometheus metrics (issue 14): "location /metrics { gobi_metrics; }"
# answers the text exposition format 0.0.4, which the prometheus_client
# Python package's own parser must accept (t/support/prom-parse), with
# gobi_* names by Prometheus' rules; the values are the whole instance's
# (two workers, one shared zone) and move with real requests: uploads,
# downloads, WebSocket sessions, events published and delivered, request
# counts and durations by endpoint and status, store jobs, the breaker.
use strict;
use warnings;
use Test::More;
use Gobi::Test ();
use Gobi::Server;
use Gobi::WS;

my $PARSER = "$Gobi::Server::REPO/t/support/prom-parse";
plan skip_all => 'python3-prometheus-client is missing (scripts/deps)'
    unless system('/usr/bin/python3 -c "import prometheus_client.parser" '
                  . '2>/dev/null') == 0;

*wait_until = \&Gobi::Test::wait_until;
*json_decode = \&Gobi::Test::json_decode;

my $t = Gobi::Server->new(
    name => "metrics-$$", websocket => 1,
    extra_config => "location = /metrics { allow 127.0.0.1; deny all; "
                  . "gobi_metrics; }\n");
$t->start or BAIL_OUT('nginx: ' . $t->start_output . $t->error_log);
my $c = $t->client;

my $raw;

# scrape: the parsed samples, { 'name{labels}' => value }; the raw text in
# $raw
sub scrape {
    my $r = $c->request('GET', '/metrics', no_auth => 1);
    die 'scrape: ' . $r->describe unless $r->status == 200;
    $raw = $r->body;
    my $in = $t->servroot . "/scrape.txt";
    open my $fh, '>', $in or die;
    print $fh $raw;
    close $fh;
    my $json = `$PARSER < $in`;
    die "the prometheus_client parser refused the scrape ($?)\n$raw"
        if $?;
    return json_decode($json);
}

sub v {
    my ($m, $key) = @_;
    return $m->{samples}{$key} // 0;
}

# a request is counted in its log phase, just after its last byte went
# out: a scrape on another connection may come first, so a test waits
# (a little) for the value it expects.  is_delta(old scrape, key, delta,
# name) -> the settled scrape
sub is_delta {
    my ($old, $key, $delta, $name) = @_;
    my $m;
    wait_until(sub { $m = scrape(); v($m, $key) - v($old, $key) == $delta },
               5);
    is(v($m, $key) - v($old, $key), $delta, $name);
    return $m;
}

my $FILE = 'endpoint="vaults/{vault}/files/{path}"';

# ---- the format
my $r = $c->request('GET', '/metrics', no_auth => 1);
is($r->status, 200, 'GET /metrics: 200, no credentials');
like($r->header('Content-Type'), qr{^text/plain; version=0\.0\.4},
     'Content-Type: text/plain; version=0.0.4');
my $m0 = scrape();
ok(scalar keys %{ $m0->{samples} } > 20, 'the parser accepts the body');

my (%type, %help);
for (split /\n/, $raw) {
    $type{$1} = $2 if /^# TYPE (\S+) (\S+)$/;
    $help{$1} = 1 if /^# HELP (\S+) \S/;
}
my @bad = grep { !/^gobi_[a-z0-9_]+$/ } keys %type;
is_deeply(\@bad, [], 'every family is named gobi_[a-z0-9_]');
@bad = grep { $type{$_} eq 'counter' && !/_total$/ } keys %type;
is_deeply(\@bad, [], 'every counter ends in _total');
@bad = grep { $type{$_} ne 'counter' && /_total$/ } keys %type;
is_deeply(\@bad, [], 'only counters end in _total');
@bad = grep { !$help{$_} } keys %type;
is_deeply(\@bad, [], 'every family has a HELP line');
@bad = grep { $type{$_} eq 'histogram' && !/_seconds$/ } keys %type;
is_deeply(\@bad, [], 'histograms are in seconds');
for my $name (qw(gobi_upload_bytes_total gobi_download_bytes_total
                 gobi_http_requests_total gobi_http_request_duration_seconds
                 gobi_websocket_sessions_open gobi_events_published_total
                 gobi_events_delivered_total gobi_bus_notices_total
                 gobi_bus_reconnects_total gobi_store_errors_total
                 gobi_store_job_duration_seconds gobi_store_breaker_open
                 gobi_thread_pool_queue_length gobi_blob_stored_bytes_total
                 gobi_retention_runs_total gobi_blobs_collected_total)) {
    ok($type{$name}, "$name is there");
}
# a gauge of the moment: a housekeeping task may be queued right then
my $q = $m0->{samples}{'gobi_thread_pool_queue_length{pool="gobi"}'};
ok(defined $q && $q >= 0, 'the pool queue is labelled with the pool')
    or diag explain $m0->{samples};

# ---- uploads and downloads move the byte counters
$c->user('alice');
$c->create_vault('notes');
my $body = 'x' x 100_000;
my $m1 = scrape();
$c->put_ok('notes', 'big.bin', $body);
my $m2 = is_delta($m1, "gobi_http_requests_total{$FILE,method=\"PUT\","
                       . "status=\"201\"}", 1, 'requests{PUT files, 201} +1');
is(v($m2, 'gobi_upload_bytes_total') - v($m1, 'gobi_upload_bytes_total'),
   100_000, 'a PUT of 100000 bytes: upload bytes +100000');
is(v($m2, 'gobi_blob_stored_bytes_total')
   - v($m1, 'gobi_blob_stored_bytes_total'), 100_000, 'blob bytes too');
is(v($m2, "gobi_http_request_duration_seconds_count{$FILE,method=\"PUT\"}")
   - v($m1, "gobi_http_request_duration_seconds_count{$FILE,method=\"PUT\"}"),
   1, 'its duration is in the histogram');
is(v($m2, "gobi_http_request_duration_seconds_bucket{$FILE,le=\"+Inf\","
          . "method=\"PUT\"}"),
   v($m2, "gobi_http_request_duration_seconds_count{$FILE,method=\"PUT\"}"),
   'the +Inf bucket is the count');
ok(v($m2, 'gobi_store_job_duration_seconds_count')
   > v($m1, 'gobi_store_job_duration_seconds_count'),
   'store jobs are timed');
is(v($m2, 'gobi_events_published_total')
   - v($m1, 'gobi_events_published_total'), 1, 'one event published');

is($c->get('notes', 'big.bin')->body, $body, 'GET the file');
my $m3 = is_delta($m2, 'gobi_download_bytes_total', 100_000,
                  'a GET of 100000 bytes: download bytes +100000');
$r = $c->request('GET', $c->file_uri('notes', 'big.bin'),
                 headers => { Range => 'bytes=0-9' });
is($r->status, 206, 'a range');
is_delta($m3, 'gobi_download_bytes_total', 10,
         'a range counts the bytes it sent');

# ---- statuses and endpoints are bounded sets
$c->request('GET', '/api/v1/nothing/here');
$c->request('GET', $c->file_uri('notes', 'missing.txt'));
$c->request('GET', '/api/v1/vaults', no_auth => 1);
is_delta($m0, 'gobi_http_requests_total{endpoint="unmatched",'
              . 'method="other",status="404"}', 1,
         'no route: endpoint "unmatched", 404');
is_delta($m0, "gobi_http_requests_total{$FILE,method=\"GET\",status=\"404\"}",
         1, 'a missing file: its route, 404');
my $m5 = is_delta($m0, 'gobi_http_requests_total{endpoint="vaults",'
                       . 'method="GET",status="401"}', 1,
                  'no credentials: 401');

# ---- WebSocket: sessions open, events delivered, notices
my $ws = Gobi::WS->new(port => $t->port, token => $c->token);
ok($ws->ok, 'a WebSocket session') or diag $ws->response->describe;
$ws->subscribe('notes', since => 0);
ok(wait_until(sub { v(scrape(), 'gobi_websocket_sessions_open') == 1 }, 5),
   'sessions open: 1');
my $m6 = scrape();
is(v($m6, 'gobi_websocket_sessions_total')
   - v($m5, 'gobi_websocket_sessions_total'), 1, 'sessions opened +1');
$c->put_ok('notes', 'live.txt', 'live');
my ($ev) = $ws->recv_until(sub { $_[0]{type} eq 'event' });
ok($ev, 'the session hears the event');
my $m7 = is_delta($m6, 'gobi_events_delivered_total', 1,
                  'events delivered +1 (one session)');
ok(v($m7, 'gobi_bus_notices_total') > v($m6, 'gobi_bus_notices_total'),
   'the workers heard the notice');
$ws->close;
ok(wait_until(sub { v(scrape(), 'gobi_websocket_sessions_open') == 0 }, 10),
   'the session closed: sessions open 0');
is_delta($m0, 'gobi_http_requests_total{endpoint="websocket",method="GET",'
              . 'status="101"}', 1, 'the handshake is counted as 101');

# ---- only GET and HEAD
$r = $c->request('POST', '/metrics', no_auth => 1, body => 'x');
is($r->status, 405, 'POST /metrics: 405');
is(eval { $r->json->{error}{code} }, 'method_not_allowed', 'a JSON error');
is($r->header('Allow'), 'GET, HEAD', 'with Allow');
$r = $c->request('HEAD', '/metrics', no_auth => 1);
is($r->status, 200, 'HEAD /metrics: 200');

# ---- values survive a reload (counters do not go back)
my $before = v(scrape(), 'gobi_upload_bytes_total');
ok($t->reload, 'reload');
ok(wait_until(sub {
       my $u = eval { v(scrape(), 'gobi_upload_bytes_total') } // -1;
       $u >= $before }, 10),
   'counters go on across a reload');

ok($t->stop, 'nginx stops');
is_deeply([ $t->alerts ], [], 'no alerts');
unlike($t->error_log, qr/\[error\]/, 'no errors');

# ---- the directive
for my $bad (
    [ 'location = /m { gobi_metrics on; }', qr/invalid number of arguments/ ],
    [ 'gobi_metrics;', qr/"gobi_metrics" directive is not allowed here/ ],
    [ 'location = /m { gobi_metrics; gobi_metrics; }', qr/is duplicate/ ],
) {
    my $s = Gobi::Server->new(name => "metrics-bad-$$",
                              extra_config => "$bad->[0]\n");
    ok(!$s->test_config, "refused: $bad->[0]");
    like($s->test_output, $bad->[1], 'and says why');
}

done_testing();
