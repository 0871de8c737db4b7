# GET /api/v1/health (issue 14): no credentials; 200
# {"status":"ok","store":"ok","bus":"ok","storage":"ok"}, or 503 naming
# what is down.  It really looks: a storage root made unusable, a Redis
# bus that is stopped, a MongoDB store (FerretDB) that is stopped each
# turn their field "down", and "ok" again once they are back.  And it is
# cheap: however many ask, the store and the targets are checked at most
# once a second per instance (gobi_health_checks_total).
use strict;
use warnings;
use Test::More;
use Time::HiRes ();
use Gobi::Test ();
use Gobi::Server;
use Gobi::Redis;
use Gobi::Cluster;

*wait_until = \&Gobi::Test::wait_until;

my $OK = { status => 'ok', store => 'ok', bus => 'ok', storage => 'ok' };

sub health {
    my ($t) = @_;
    my $r = $t->client->request('GET', '/api/v1/health', no_auth => 1);
    my $j = eval { $r->json } // {};
    return ($r->status, $j, $r);
}

# waits until the answer is (status, body); true when it came
sub health_is {
    my ($t, $status, $want, $name, $timeout) = @_;
    my ($st, $j);
    wait_until(sub { ($st, $j) = health($t);
                     $st == $status && Gobi::Test::json_encode($j) eq
                         Gobi::Test::json_encode($want) }, $timeout // 10);
    is($st, $status, "$name: $status");
    is_deeply($j, $want, "$name: the body") or diag explain $j;
}

sub checks {
    my ($t) = @_;
    my $r = $t->client->request('GET', '/metrics', no_auth => 1);
    return $r->body =~ /^gobi_health_checks_total (\d+)$/m ? $1 : -1;
}

# ---- local: SQLite, the local bus, one storage root
my $t = Gobi::Server->new(name => "health-$$",
    extra_config => "location = /metrics { gobi_metrics; }\n");
$t->start or BAIL_OUT('nginx: ' . $t->start_output . $t->error_log);

my ($st, $j, $r) = health($t);
is($st, 200, 'healthy: 200 without credentials');
is($r->body, '{"status":"ok","store":"ok","bus":"ok","storage":"ok"}',
   'the body, fields in order');
like($r->header('Content-Type'), qr{^application/json}, 'JSON');
$r = $t->client->request('HEAD', '/api/v1/health', no_auth => 1);
is($r->status, 200, 'HEAD: 200');
$r = $t->client->request('POST', '/api/v1/health', no_auth => 1);
is($r->status, 405, 'POST: 405');
is(eval { $r->json->{error}{code} }, 'method_not_allowed', 'a JSON error');

# cheap: a stream of requests for 2.5 s checks once a second at most
my $before = checks($t);
my $t0 = Time::HiRes::time();
my $n = 0;
while (Time::HiRes::time() - $t0 < 2.5) {
    ($st) = health($t);
    $n++;
}
my $made = checks($t) - $before;
ok($before >= 1 && $made >= 1 && $made <= 3 && $n > 3 * $made,
   "$n requests in 2.5 s: $made checks of the store and the storage");

# storage: the root replaced by a file (as a lost mount would leave it)
my $root = $t->vaults_dir;
rename $root, "$root.away" or die "$root: $!";
open my $fh, '>', $root or die;
close $fh;
health_is($t, 503, { status => 'down', store => 'ok', bus => 'ok',
                     storage => 'down' }, 'the storage root is a file');
unlink $root or die;
rename "$root.away", $root or die;
health_is($t, 200, $OK, 'the root is back');

ok($t->stop, 'nginx stops');
is_deeply([ $t->alerts ], [], 'no alerts');

# ---- the Redis bus
SKIP: {
    skip 'redis-server is not installed', 6 unless Gobi::Redis::available();

    my $redis = Gobi::Redis->new(name => "health-redis-$$");
    $redis->start or die $redis->log;
    $t = Gobi::Server->new(name => "health-bus-$$",
        http_config => "gobi_store sqlite:\$SERVROOT/var/gobi.db;\n"
                     . "gobi_storage local:\$SERVROOT/var/vaults;\n"
                     . 'gobi_bus ' . $redis->uri . ";\n",
        extra_config => "location = /metrics { gobi_metrics; }\n");
    $t->start or die 'nginx: ' . $t->start_output . $t->error_log;

    health_is($t, 200, $OK, 'Redis is there');
    $redis->stop;
    health_is($t, 503, { status => 'down', store => 'ok', bus => 'down',
                         storage => 'ok' }, 'Redis stopped');
    $redis->start or die $redis->log;
    health_is($t, 200, $OK, 'Redis is back', 20);
    $t->stop;
}

# ---- the MongoDB store (FerretDB), stopped and started again
SKIP: {
    my $why = Gobi::Cluster::unavailable();
    skip $why, 8 if $why;

    my $cl = Gobi::Cluster->new(instances => ['A'], bus => 'local',
                                store_query => 'serverSelectionTimeoutMS=2000',
                                extra_config =>
                                    "location = /metrics { gobi_metrics; }");
    $cl->start or BAIL_OUT($cl->why);
    my ($A) = $cl->servers;

    health_is($A, 200, $OK, 'FerretDB is there');
    $cl->mongo->stop;
    health_is($A, 503, { status => 'down', store => 'down', bus => 'ok',
                         storage => 'ok' }, 'FerretDB stopped', 20);
    $r = $A->client->request('GET', '/metrics', no_auth => 1);
    like($r->body, qr/^gobi_store_breaker_open 1$/m,
         'the metrics show the breaker open');
    $cl->mongo->start or die 'FerretDB did not start again';
    health_is($A, 200, $OK, 'FerretDB is back', 60);
    $cl->stop;
}

done_testing();
