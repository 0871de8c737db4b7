# The Redis bus (gobi_bus redis://...) with a real redis-server: a REST
# write reaches WebSocket subscribers on the other worker and on another
# nginx instance that shares the store; a worker subscribes only to the
# vaults it serves; Redis going away does not fail writes, and when it is
# back the subscribers get what they missed, once, and live delivery goes
# on; AUTH and SELECT.
use Gobi::Test;
use Gobi::WS;
use Gobi::Redis;

use File::Path qw(make_path);
use Time::HiRes ();

plan skip_all => 'redis-server is not installed'
    unless Gobi::Redis::available();

my $RUN = Gobi::Test::run_name();
my $WAIT = 20;          # s: a reconnect backs off up to 5 s

my $CONFIG = "location /api/v1/ { gobi_api; add_header X-Worker-Pid \$pid "
           . "always; }\nlocation = /api/v1/ws { gobi_websocket; }\n";

sub http_config {
    my ($dir, $uri) = @_;
    return "gobi_store sqlite:$dir/gobi.db;\n"
         . "gobi_storage local:$dir/vaults;\n"
         . "gobi_bus $uri;\n";
}

sub server {
    my ($label, $dir, $uri, %o) = @_;
    my $s = gobi_server(label => $label, config => $CONFIG,
        http_config => http_config($dir, $uri), %o);
    ok($s->start, "$label starts") or diag $s->start_output . $s->error_log;
    return $s;
}

# a folder both instances use (the workers run as nobody under root)
sub shared_dir {
    my ($name) = @_;
    my $d = "$SERVROOT_BASE/$RUN/$name";
    make_path($d);
    chmod 0777, $d;
    return $d;
}

sub subscriber {
    my ($s, $token, $vault, %o) = @_;
    my $ws = Gobi::WS->new(port => $s->port, token => $token);
    die 'no 101: ' . ($ws->error // '') unless $ws->ok;
    $ws->subscribe($vault, since => $o{since} // 0);
    return $ws;
}

# sessions until both workers hold one: ([sessions], { pid => [sessions] })
sub spread {
    my ($s, $token, $vault) = @_;
    my (@all, %by);
    my @pids = $s->worker_pids;
    while (@all < 80) {
        my $ws = subscriber($s, $token, $vault);
        my $pid = $ws->worker_pid($s) // die 'no worker for a connection';
        push @all, $ws;
        push @{ $by{$pid} }, $ws;
        last if @pids == grep { $by{$_} } @pids;
    }
    return (\@all, \%by);
}

# live events up to seq $to: [events] (other messages as they came)
sub events_to {
    my ($ws, $to, $timeout) = @_;
    my ($m, $before) = $ws->recv_until(sub {
        $_->{type} eq 'event' && $_->{event}{seq} >= $to }, $timeout);
    return [ map { $_->{type} eq 'event' ? $_->{event} : $_ }
             @$before, $m ? $m : () ];
}

sub seqs { [ map { ref $_ && exists $_->{seq} ? $_->{seq} : json_encode($_) }
             @{ $_[0] } ] }

sub numsub {
    my ($redis, $vault_id) = @_;
    my $n = $redis->numsub("gobi:vault:$vault_id") or return -1;
    return $n->{"gobi:vault:$vault_id"};
}

sub alerts_ok {
    my ($s, $what) = @_;
    my @a = $s->alerts;
    ok(!@a, "$what: no [alert], [emerg] or [crit]") or diag join "\n", @a;
}


my $redis = Gobi::Redis->new(name => "$RUN/redis");
ok($redis->start, 'redis-server starts')
    or BAIL_OUT('no redis: ' . $redis->log);


subtest 'one instance: a REST write reaches the other worker via Redis'
=> sub {
    my $s = server('two-workers', '$SERVROOT/var', $redis->uri);
    my $c = $s->client;
    $c->user('alice');
    my $id = $c->create_vault('notes')->{id};
    my $other = $c->create_vault('other')->{id};

    my ($all, $by) = spread($s, $c->token, 'notes');
    my @pids = sort keys %$by;
    is(scalar @pids, 2, 'subscribers on both workers');
    ok($redis->wait_for(sub { numsub($redis, $id) == 2 }),
        'Redis counts one subscription per worker for the vault')
        or diag numsub($redis, $id);
    is(numsub($redis, $other), 0, 'and none for a vault nobody watches');

    my (%writers, $cross);
    for my $i (1 .. 40) {
        my $r = $c->put('notes', "f$i.txt", "content $i");
        is($r->status, 201, "PUT $i") or last;
        my $seq = $r->json->{seq};
        my $wpid = $r->header('x-worker-pid');
        $writers{$wpid}++;
        for my $pid (@pids) {
            for my $ws (@{ $by->{$pid} }) {
                my $ev = events_to($ws, $seq);
                my $ok = @$ev == 1 && $ev->[0]{seq} == $seq;
                $cross++ if $ok && $pid != $wpid;
                ok($ok, "write $i by worker $wpid: event $seq at worker $pid")
                    or diag explain $ev;
            }
        }
        last if keys %writers == 2 && $i >= 2;
    }
    ok($cross, 'events went from the writing worker to the other one');
    is_deeply(seqs(events_to($_, 1e9, 0.3)), [], 'nothing more')
        for @$all;

    $_->close for @$all;
    ok($redis->wait_for(sub { numsub($redis, $id) == 0 }),
        'the last session gone, the workers unsubscribe');

    ok($s->stop, 'stops on QUIT');
    unlike($s->error_log, qr/\[error\]/, 'no [error] in the log');
    alerts_ok($s, 'one instance');
};


my $shared = shared_dir('shared');
my $A = server('instance-a', $shared, $redis->uri);
my $B = server('instance-b', $shared, $redis->uri);
my $ca = $A->client;
my $cb = $B->client;
$ca->user('bob');
$cb->login('bob', $ca->password_of('bob'));
my $shared_id = $ca->create_vault('shared')->{id};
my $head = 0;

my $wsA = subscriber($A, $ca->token, 'shared');
my $wsB = subscriber($B, $cb->token, 'shared');


subtest 'two instances sharing a store: writes cross through Redis' => sub {
    for my $i (1 .. 3) {
        my ($via, $cl) = $i % 2 ? ('A', $ca) : ('B', $cb);
        my $r = $cl->put('shared', "x$i.txt", "x $i");
        is($r->status, 201, "PUT $i via $via") or return;
        $head = $r->json->{seq};
        for ([ A => $wsA ], [ B => $wsB ]) {
            is_deeply(seqs(events_to($_->[1], $head)), [ $head ],
                "event $head (written via $via) at the subscriber on $_->[0]");
        }
    }
};


subtest 'a burst of notices far bigger than one read holds nothing back'
=> sub {
    # stale notices (seq 0): ~2 MB queued to every subscriber connection,
    # read 16 kB at a time; an edge-triggered reader that stops before
    # EAGAIN would leave the real notice behind them in the socket
    my $n = 40_000;
    my @r = $redis->pipeline(map { [ 'PUBLISH', "gobi:vault:$shared_id",
                                     '0' ] } 1 .. $n);
    is(scalar @r, $n, "Redis took $n PUBLISHes");
    cmp_ok($r[-1] // 0, '>=', 2, 'each went to the subscribing workers');
    my $r = $ca->put('shared', 'burst.txt', 'after the burst');
    is($r->status, 201, 'PUT via A');
    $head = $r->json->{seq};
    for ([ A => $wsA ], [ B => $wsB ]) {
        is_deeply(seqs(events_to($_->[1], $head, 10)), [ $head ],
            "event $head at the subscriber on $_->[0]");
    }
};


subtest 'Redis hangs (SIGSTOP): writes do not wait for it' => sub {
    kill 'STOP', $redis->pid;
    my @seqs;
    for my $i (1 .. 3) {
        my $t0 = Time::HiRes::time();
        my $r = $ca->put('shared', "hung$i.txt", "while Redis hangs $i");
        my $dt = Time::HiRes::time() - $t0;
        is($r->status, 201, "PUT $i while Redis hangs");
        cmp_ok($dt, '<', 3, "and it did not wait for Redis");
        push @seqs, $r->json->{seq};
    }
    kill 'CONT', $redis->pid;
    is_deeply(seqs(events_to($wsB, $seqs[-1], 10)), \@seqs,
        'Redis resumes: the events reach B, in order');
    is_deeply(seqs(events_to($wsA, $seqs[-1], 10)), \@seqs, 'and A');
    $head = $seqs[-1];
};


subtest 'Redis stops: writes succeed; back: the missed events arrive once'
=> sub {
    $redis->stop;
    ok($B->wait_for_log(error => qr/subscriber connection to \S+ lost/, $WAIT),
        'B noticed that Redis went away');

    my @missed;
    for my $i (1 .. 2) {
        my $r = $ca->put('shared', "down$i.txt", "while Redis is down $i");
        is($r->status, 201, "PUT $i while Redis is down succeeds") or return;
        push @missed, $r->json->{seq};
    }
    my $r = $cb->delete('shared', 'x1.txt');
    is($r->status, 200, 'a DELETE on B succeeds too') or return;
    push @missed, $r->json->{seq};
    is_deeply(\@missed, [ $head + 1 .. $head + 3 ], 'seqs go on');

    is_deeply(seqs(events_to($wsB, 1e9, 1)), [],
        'nothing reaches B while the bus is down (there is no other path)');

    # a session that starts while Redis is down, from the current head
    my $late = subscriber($B, $cb->token, 'shared', since => $head + 3);

    ok($redis->start, 'redis-server starts again on the same port');

    for ([ A => $wsA ], [ B => $wsB ]) {
        my $ev = events_to($_->[1], $head + 3, $WAIT);
        is_deeply(seqs($ev), \@missed,
            "the subscriber on $_->[0] gets the missed events, in order");
        is_deeply(seqs(events_to($_->[1], 1e9, 1)), [],
            "and no duplicate ($_->[0])");
    }
    ok($B->wait_for_log(error => qr/subscriber connection to \S+ is back/,
        $WAIT), 'B says the subscriber connection is back');

    # live delivery goes on, also for the session that joined meanwhile
    ok($A->wait_for_log(error => qr/command connection to \S+ is back/,
        $WAIT), 'A says the command connection is back');
    $r = $ca->put('shared', 'after.txt', 'Redis is back');
    is($r->status, 201, 'PUT after Redis is back');
    $head = $r->json->{seq};
    for ([ A => $wsA ], [ B => $wsB ], [ 'B (joined while down)' => $late ]) {
        is_deeply(seqs(events_to($_->[1], $head, 5)), [ $head ],
            "live event at $_->[0]");
    }
    $late->close;
};


subtest 'stopping one instance does not disturb the other' => sub {
    $wsA->close;
    ok($A->stop, 'A stops on QUIT');
    my $r = $cb->put('shared', 'b-alone.txt', 'only B');
    is($r->status, 201, 'PUT on B');
    my $seq = $r->json->{seq};
    is_deeply(seqs(events_to($wsB, $seq, 5)), [ $seq ], 'event on B');
    $head = $seq;
};


subtest 'a reload while Redis is down: old workers exit at once' => sub {
    $redis->stop;
    ok($B->wait_for_log(error => qr/command connection to \S+ lost/, $WAIT),
        'B noticed that Redis went away');
    my @old = $B->worker_pids;
    $B->reload;
    ok(wait_until(sub { !grep { Gobi::Server::_alive($_) } @old }, 5),
        'the old workers exit within 5 s (reconnect timers do not hold '
        . 'them)');
    is(scalar($wsB->recv_close(5)), 1001, 'their session got 1001');
    ok(wait_until(sub { $B->worker_pids == 2 }, 5), 'new workers run');

    my $ws = subscriber($B, $cb->token, 'shared', since => $head);
    my $r = $cb->put('shared', 'reloaded.txt', 'after the reload');
    is($r->status, 201, 'PUT on B while Redis is down');
    my $seq = $r->json->{seq};
    ok($redis->start, 'redis-server starts again');
    is_deeply(seqs(events_to($ws, $seq, $WAIT)), [ $seq ],
        'the new session gets the event (at once or when Redis is back)');
    is_deeply(seqs(events_to($ws, 1e9, 1)), [], 'once');
    $ws->close;
    ok($B->stop, 'B stops on QUIT');
    alerts_ok($A, 'A');
    alerts_ok($B, 'B');
};


subtest 'AUTH and SELECT: a Redis with a password, database 3' => sub {
    my $pw = 'p@ss/word';
    my $locked = Gobi::Redis->new(name => "$RUN/redis-auth", password => $pw);
    ok($locked->start, 'a redis-server with requirepass starts')
        or return diag $locked->log;
    (my $esc = $pw) =~ s{([@/:%])}{sprintf '%%%02X', ord $1}ge;
    my $uri = 'redis://:' . $esc . '@127.0.0.1:' . $locked->port . '/3';
    my $s = server('auth', '$SERVROOT/var', $uri);
    my $c = $s->client;
    $c->user('carol');
    my $id = $c->create_vault('notes')->{id};
    my ($all, $by) = spread($s, $c->token, 'notes');
    ok($locked->wait_for(sub { numsub($locked, $id) == 2 }),
        'both workers subscribed after AUTH');
    for my $i (1 .. 4) {
        my $r = $c->put('notes', "a$i.txt", "a $i");
        is($r->status, 201, "PUT $i");
        my $seq = $r->json->{seq};
        is_deeply(seqs(events_to($_, $seq)), [ $seq ], "event $seq")
            for @$all;
    }
    $_->close for @$all;
    ok($s->stop, 'stops');
    unlike($s->error_log, qr/\[error\]/, 'no [error] in the log');
    unlike($s->error_log, qr/\Q$pw\E|\Q$esc\E/, 'the password is not logged');

    # the wrong password: writes still succeed, the log says why
    my $bad = server('bad-auth', '$SERVROOT/var',
        'redis://:wrong@127.0.0.1:' . $locked->port . '/0');
    $c = $bad->client;
    $c->user('dave');
    $c->create_vault('notes');
    is($c->put('notes', 'a.txt', 'a')->status, 201,
        'a PUT succeeds with a bus that cannot log in');
    ok($bad->wait_for_log(error =>
        qr/connection to \S+ failed: (WRONGPASS|ERR invalid password)/),
        'the log says AUTH failed');
    ok($bad->stop, 'stops on QUIT');
    alerts_ok($bad, 'bad AUTH');
    $locked->stop;
};


$redis->stop;
done_testing();
