# The Redis bus with many vaults and churn: more vaults than one SUBSCRIBE
# carries after a reconnect (512 channels each), sessions that come and go
# quickly on one vault (SUBSCRIBE and UNSUBSCRIBE in flight together), and
# Redis' own count of subscriptions matching the vaults served.
use Gobi::Test;
use Gobi::WS;
use Gobi::Redis;

plan skip_all => 'redis-server is not installed'
    unless Gobi::Redis::available();

my $RUN = Gobi::Test::run_name();
my $N = 530;            # vaults, each with one session

my $redis = Gobi::Redis->new(name => "$RUN/redis");
ok($redis->start, 'redis-server starts')
    or BAIL_OUT('no redis: ' . $redis->log);

my $s = gobi_server(label => 'many', workers => 1,
    main_config => "worker_rlimit_nofile 4096;",
    config => "location /api/v1/ { gobi_api; }\n"
            . "location = /api/v1/ws { gobi_websocket; }\n",
    http_config => "gobi_store sqlite:\$SERVROOT/var/gobi.db;\n"
                 . "gobi_storage local:\$SERVROOT/var/vaults;\n"
                 . "gobi_bus " . $redis->uri . ";\n");
ok($s->start, 'nginx starts') or diag $s->start_output . $s->error_log;
my $c = $s->client;
$c->user('alice');

sub seqs { [ map { $_->{type} eq 'event' ? $_->{event}{seq}
                   : json_encode($_) } @{ $_[0] } ] }

sub events_to {
    my ($ws, $to, $timeout) = @_;
    my ($m, $before) = $ws->recv_until(sub {
        $_->{type} eq 'event' && $_->{event}{seq} >= $to }, $timeout);
    return seqs([ @$before, $m ? $m : () ]);
}

sub channels {
    my $r = $redis->cmd('PUBSUB', 'CHANNELS', 'gobi:vault:*');
    return ref $r ? scalar @$r : -1;
}


my (%id, %ws);

subtest "$N vaults, a session on each" => sub {
    for my $i (1 .. $N) {
        $id{$i} = $c->create_vault("v$i")->{id};
    }
    for my $i (1 .. $N) {
        my $ws = Gobi::WS->new(port => $s->port, token => $c->token);
        ok($ws->ok, "session $i") or return;
        $ws->subscribe("v$i");
        $ws{$i} = $ws;
    }
    ok($redis->wait_for(sub { channels() == $N }),
        "Redis has $N gobi channels") or diag channels();
};


subtest 'Redis restarts: all of them are subscribed again and caught up' => sub {
    $redis->stop;
    ok($s->wait_for_log(error => qr/subscriber connection to \S+ lost/),
        'the worker noticed');
    my %seq;
    for my $i (1, 2, $N - 1, $N) {
        my $r = $c->put("v$i", 'down.txt', "vault $i");
        is($r->status, 201, "PUT in v$i while Redis is down");
        $seq{$i} = $r->json->{seq};
    }
    ok($redis->start, 'redis-server starts again');
    for my $i (sort { $a <=> $b } keys %seq) {
        is_deeply(events_to($ws{$i}, $seq{$i}, 20), [ $seq{$i} ],
            "v$i: the missed event");
    }
    ok($redis->wait_for(sub { channels() == $N }),
        "Redis has the $N channels again") or diag channels();
    for my $i (1, 300, 513, $N) {
        my $r = $c->put("v$i", 'up.txt', "vault $i");
        my $seq = $r->json->{seq};
        is_deeply(events_to($ws{$i}, $seq, 5), [ $seq ],
            "v$i: live after the reconnect");
    }
};


subtest 'sessions coming and going on one vault' => sub {
    my $r = $c->put('v1', 'churn.txt', 'start');
    my $head = $r->json->{seq};
    $ws{1}->close;
    delete $ws{1};
    for my $round (1 .. 30) {
        my $ws = Gobi::WS->new(port => $s->port, token => $c->token);
        $ws->subscribe('v1', since => $head);
        if ($round % 3 == 0) {
            $r = $c->put('v1', 'churn.txt', "round $round");
            $head = $r->json->{seq};
            is_deeply(events_to($ws, $head, 5), [ $head ],
                "round $round: live event");
        }
        $ws->drop if $round % 2;        # no close frame
        $ws->close unless $round % 2;
    }
    ok($redis->wait_for(sub {
        ($redis->numsub("gobi:vault:$id{1}") || {})->{"gobi:vault:$id{1}"}
            == 0 }), 'nobody left on v1: unsubscribed');
    my $ws = Gobi::WS->new(port => $s->port, token => $c->token);
    $ws->subscribe('v1', since => $head);
    $r = $c->put('v1', 'churn.txt', 'last');
    is_deeply(events_to($ws, $r->json->{seq}, 5), [ $r->json->{seq} ],
        'a new session gets live events');
    $ws->close;
};


subtest 'everyone leaves: no channel is left' => sub {
    $_->drop for values %ws;
    ok($redis->wait_for(sub { channels() == 0 }, 20),
        'no gobi channel in Redis') or diag channels();
    ok($s->stop, 'nginx stops on QUIT');
    my @a = $s->alerts;
    ok(!@a, 'no alerts') or diag join "\n", @a;
};

$redis->stop;
done_testing();
