# gobi_bus_prefix: the Redis channels of a deployment are
# "<prefix>:vault:<id>", so deployments that share one Redis do not hear
# each other (their vault ids collide: each store counts from 1).  Here
# three instances share a store, so that a notice that crossed would show:
# A and C with prefix "alpha", B with "beta".  A write on A reaches C's
# sessions live and not B's; a write on B reaches B's and not the
# others'.  The prefix is checked at `nginx -t`: non-empty, printable,
# no spaces, at most 64 characters.
use Gobi::Test;
use Gobi::WS;
use Gobi::Redis;

use File::Path qw(make_path);

plan skip_all => 'redis-server is not installed'
    unless Gobi::Redis::available();

my $RUN = Gobi::Test::run_name();

my $CONFIG = "location /api/v1/ { gobi_api; }\n"
           . "location = /api/v1/ws { gobi_websocket; }\n";

my $redis = Gobi::Redis->new(name => "$RUN/redis");
ok($redis->start, 'redis-server starts')
    or BAIL_OUT('no redis: ' . $redis->log);

my $shared = "$SERVROOT_BASE/$RUN/shared";
make_path($shared);
chmod 0777, $shared;

sub http_config {
    my ($prefix) = @_;
    return "gobi_store sqlite:$shared/gobi.db;\n"
         . "gobi_storage local:$shared/vaults;\n"
         . 'gobi_bus ' . $redis->uri . ";\n"
         . (defined $prefix ? "gobi_bus_prefix $prefix;\n" : '');
}

sub server {
    my ($label, $prefix) = @_;
    my $s = gobi_server(label => $label, config => $CONFIG, workers => 1,
                        http_config => http_config($prefix));
    ok($s->start, "$label starts") or diag $s->start_output . $s->error_log;
    return $s;
}

sub numsub {
    my ($chan) = @_;
    my $n = $redis->numsub($chan) or return -1;
    return $n->{$chan};
}

sub seqs {
    [ map { $_->{type} eq 'event' ? $_->{event}{seq} : json_encode($_) }
      @{ $_[0] } ]
}

sub upto {
    my ($ws, $to, $timeout) = @_;
    my ($m, $before) = $ws->recv_until(sub {
        $_->{type} eq 'event' && $_->{event}{seq} >= $to }, $timeout);
    return [ @$before, $m ? $m : () ];
}


subtest 'the prefix is checked by nginx -t' => sub {
    my $s = gobi_server(label => 'config', http_config => http_config());
    $s->prepare;
    for (['acme-prod:eu.1', 1], [ 'x' x 64, 1 ],
         ['""', 0, 'must be 1 to 64 characters'],
         [ 'x' x 65, 0, 'must be 1 to 64 characters' ],
         ['"a b"', 0, 'must be printable ASCII without spaces'],
         ["\"a\tb\"", 0, 'must be printable ASCII without spaces'],
         ["\"caf\xc3\xa9\"", 0, 'must be printable ASCII without spaces'])
    {
        my ($p, $good, $why) = @$_;
        $s->{http_config} = http_config($p);
        $s->write_conf;
        my ($rc, $out) = $s->test_config;
        if ($good) {
            is($rc, 0, "gobi_bus_prefix $p passes") or diag $out;
        } else {
            isnt($rc, 0, "gobi_bus_prefix $p fails");
            like($out, qr/"gobi_bus_prefix" \Q$why\E/, "saying it $why");
        }
    }

    # the local bus checks it too, though it needs none
    $s->{http_config} = "gobi_bus local;\ngobi_bus_prefix \"a b\";\n";
    $s->write_conf;
    my ($rc, $out) = $s->test_config;
    isnt($rc, 0, 'a bad prefix fails with the local bus as well');
};


my $A = server('alpha-a', 'alpha');
my $B = server('beta-b', 'beta');
my $C = server('alpha-c', 'alpha');

my $ca = $A->client;
$ca->user('alice');
my $id = $ca->create_vault('notes')->{id};
my $pw = $ca->password_of('alice');
my $cb = $B->client;
$cb->login('alice', $pw);

my $wsB = Gobi::WS->new(port => $B->port, token => $cb->token);
my $cc = $C->client;
$cc->login('alice', $pw);
my $wsC = Gobi::WS->new(port => $C->port, token => $cc->token);
$_->subscribe('notes', since => 0) for $wsB, $wsC;

ok($redis->wait_for(sub { numsub("alpha:vault:$id") == 1
                          && numsub("beta:vault:$id") == 1 }),
   'C subscribes to alpha:vault:<id>, B to beta:vault:<id>')
    or diag explain [ numsub("alpha:vault:$id"), numsub("beta:vault:$id") ];
is(numsub("gobi:vault:$id"), 0, 'nobody to the default gobi:vault:<id>');

my $r = $ca->put('notes', 'a.txt', 'from alpha');
is($r->status, 201, 'PUT on A (alpha)');
is_deeply(seqs(upto($wsC, 1, 10)), [1],
          'the event reaches the session on C (alpha) live');
is_deeply(seqs(upto($wsB, 1e9, 2)), [],
          'and is not announced on B (beta)');

$r = $cb->put('notes', 'b.txt', 'from beta');
is($r->status, 201, 'PUT on B (beta)');
is_deeply(seqs(upto($wsB, 2, 10)), [1, 2],
          'B hears its own write (and reads what it had not heard of)');
is_deeply(seqs(upto($wsC, 1e9, 2)), [], 'C (alpha) does not hear it');

$r = $ca->put('notes', 'c.txt', 'alpha again');
is($r->status, 201, 'PUT on A again');
is_deeply(seqs(upto($wsC, 3, 10)), [2, 3], 'C catches up at its next notice');
is_deeply(seqs(upto($wsB, 1e9, 1)), [], 'B stays quiet');

$_->close for $wsB, $wsC;
for my $s ($A, $B, $C) {
    ok($s->stop, 'stops on QUIT');
    my @a = $s->alerts;
    ok(!@a, 'no [alert], [emerg] or [crit]') or diag join "\n", @a;
}
$redis->stop;

done_testing();
