# Several instances (issue 4): stopping Redis and starting it again (same
# port) loses no event.  Instances A and B share one MongoDB store
# (FerretDB), one Redis bus and one blob root.  While Redis is away,
# writes through A (REST and WebSocket ops) and through B succeed; when it
# is back, a subscriber on B gets every event written meanwhile, in seq
# order, once, and live delivery goes on.  Covers a clean stop (TERM) and
# a crash (KILL) held past the reconnect backoff's ceiling, several
# vaults, and a session that joined B while Redis was away on a vault B
# did not serve before.
use Gobi::Test;
use Gobi::Cluster qw(subscriber live_events drain_events seqs);

use Time::HiRes qw(sleep);

my $why = Gobi::Cluster::unavailable();
plan skip_all => $why if $why;

my $WAIT = 30;          # s: a reconnect backs off up to 5 s (plus jitter)

my $cl = Gobi::Cluster->new;
ok($cl->start, 'FerretDB, Redis, instances A and B start')
    or BAIL_OUT($cl->why);
my ($A, $B) = $cl->servers;
my $redis = $cl->redis;

my $ca = $A->client;
$ca->user('alice');
my $cb = $B->client(token => $ca->token);
my %id = map { $_ => $ca->create_vault($_)->{id} } qw(one two three);
my %head = (one => 0, two => 0, three => 0);

my ($wsB1) = subscriber($B, $cb->token, 'one');
my ($wsB2) = subscriber($B, $cb->token, 'two');
my ($wsA1) = subscriber($A, $ca->token, 'one');
ok(wait_until(sub { $redis->numsub($id{one}) >= 2
                    && $redis->numsub($id{two}) >= 1 }, 10),
    'the instances subscribed in Redis');

sub put_seq {
    my ($c, $vault, $path, $text, $what) = @_;
    my $r = $c->put($vault, $path, $text);
    like($r->status, qr/^20[01]$/, "$what: PUT $vault/$path")
        or diag $r->describe;
    return $r->status =~ /^20/ ? $r->json->{seq} : undef;
}

# one of every kind of change through A's REST and WebSocket, and a
# write through B: the seqs, in order
sub writes_while_down {
    my ($tag) = @_;
    my @one;
    for my $i (1 .. 3) {
        push @one, put_seq($ca, 'one', "$tag-$i.txt", "$tag $i",
            "Redis down ($tag)");
    }
    push @one, put_seq($ca, 'one', "$tag-1.txt", "$tag 1 changed",
        "Redis down ($tag), modify");
    my $r = $ca->delete('one', "$tag-2.txt");
    is($r->status, 200, "Redis down ($tag): DELETE one/$tag-2.txt");
    push @one, $r->json->{seq};

    # a WebSocket op through A, on a fresh session (the bus is not
    # needed to take it)
    my ($ws) = subscriber($A, $ca->token, 'one', since => $one[-1]);
    $ws->send_json({ type => 'rename', id => 1, from => "$tag-3.txt",
        to => "$tag-3-renamed.txt", base_version => $one[2] });
    my ($ack) = $ws->recv_until(sub { $_->{type} eq 'ack' }, 15);
    ok($ack, "Redis down ($tag): a WebSocket rename on A is acked")
        or diag explain $ws->last_msg;
    push @one, $ack->{seq} if $ack;
    $ws->close;

    # and one through B
    push @one, put_seq($cb, 'one', "$tag-b.txt", "$tag via B",
        "Redis down ($tag), via B");
    my @two = map { put_seq($ca, 'two', "$tag-$_.txt", "two $_",
        "Redis down ($tag)") } 1 .. 2;
    is_deeply(\@one, [ $head{one} + 1 .. $head{one} + 7 ],
        "vault one: seqs go on ($tag)");
    is_deeply(\@two, [ $head{two} + 1 .. $head{two} + 2 ],
        "vault two: seqs go on ($tag)");
    return (\@one, \@two);
}

sub delivered_once {
    my ($ws, $where, $want, $timeout) = @_;
    my $ev = live_events($ws, $want->[-1], $timeout // $WAIT);
    is_deeply(seqs($ev), $want, "$where: every missed event, in seq order")
        or diag explain $ev;
    is_deeply(seqs(drain_events($ws, 1)), [], "$where: no duplicate");
}


subtest 'Redis stops cleanly; writes go on; back: nothing lost' => sub {
    ok($redis->stop, 'redis-server stops (TERM)');
    my ($one, $two) = writes_while_down('term');

    # a session joins B meanwhile, on a vault B served nobody of before;
    # the store gives it its replay, the bus is needed only for live
    my ($late, $w) = subscriber($B, $cb->token, 'three');
    is($w->{head_seq}, 0, 'a session joins B while Redis is away');
    my @three = (put_seq($ca, 'three', 'x.txt', 'x', 'Redis down'));

    ok($redis->start, 'redis-server starts again on the same port '
        . $redis->port);
    # no wait for the instances to notice: a write right away must get
    # through (its notice is kept until A's command connection is back,
    # and B re-reads its vaults once its subscriber connection is back)
    push @$one, put_seq($ca, 'one', 'right-after.txt', 'at once',
        'right after the restart');
    push @three, put_seq($ca, 'three', 'y.txt', 'y',
        'right after the restart');

    delivered_once($wsB1, 'B, vault one', $one);
    delivered_once($wsB2, 'B, vault two', $two);
    delivered_once($late, 'B, vault three (joined while down)', \@three);
    delivered_once($wsA1, 'A, vault one', $one);
    $head{one} = $one->[-1];
    $head{two} = $two->[-1];
    $head{three} = $three[-1];

    for my $i (1 .. 3) {
        my $seq = put_seq($ca, 'three', "live$i.txt", "live $i", 'live');
        is_deeply(seqs(live_events($late, $seq, 15)), [ $seq ],
            "live event $seq on B (vault three)");
        $head{three} = $seq;
    }
    $late->close;
};


subtest 'Redis crashes (KILL) for longer than the backoff ceiling' => sub {
    ok($redis->stop('KILL'), 'redis-server killed');
    my ($one, $two) = writes_while_down('kill');
    # longer than the 5 s ceiling of the reconnect backoff: several
    # failed attempts
    sleep 6;
    push @$one, put_seq($ca, 'one', 'kill-late.txt', 'late',
        'Redis down, after 6 s');
    ok($redis->start, 'redis-server starts again on the same port');
    delivered_once($wsB1, 'B, vault one', $one);
    delivered_once($wsB2, 'B, vault two', $two);
    delivered_once($wsA1, 'A, vault one', $one);
    $head{one} = $one->[-1];
    $head{two} = $two->[-1];

    my $seq = put_seq($ca, 'one', 'after-kill.txt', 'live again', 'live');
    is_deeply(seqs(live_events($wsB1, $seq, 15)), [ $seq ],
        'live again on B');
    is_deeply(seqs(live_events($wsA1, $seq, 15)), [ $seq ],
        'live again on A');
    $head{one} = $seq;
};


subtest 'the subscribers saw the whole log, and the replay agrees' => sub {
    # everything B's first session got equals the store's log: checked
    # above piece by piece; here the log itself has no hole
    my $r = $cb->events('one', since => 0, limit => 10000);
    is_deeply(seqs($r->json->{events}), [ 1 .. $head{one} ],
        "vault one: seqs 1..$head{one} without a hole");
    my ($ws, $w) = subscriber($B, $cb->token, 'one', since => $head{one});
    is($w->{head_seq}, $head{one}, 'a new session on B starts at the head');
    $ws->close;
};

$_->close for $wsA1, $wsB1, $wsB2;
ok($cl->stop, 'everything stops (the instances on QUIT, in time)');
my @a = $cl->alerts;
ok(!@a, 'no [alert], [emerg] or [crit]') or diag join "\n", @a;
like($B->error_log, qr/gobi: redis bus: subscriber connection to \S+ lost/,
    'B noticed that Redis went away');
like($B->error_log, qr/gobi: redis bus: subscriber connection to \S+ is back/,
    'and that it came back');

done_testing();
