# Several instances (issue 4): stopping one instance does not disturb the
# other.  Instances A and B share one MongoDB store (FerretDB), one Redis
# bus and one blob root.  A stops gracefully (QUIT) while writes go
# through it, comes back, then dies hard (KILL): all along, B's
# WebSockets stay open and get every event that A acknowledged, writes
# and new sessions on B work, B keeps its workers, and B's error log has
# no alert.
use Gobi::Test;
use Gobi::Cluster qw(subscriber live_events drain_events seqs);

my $why = Gobi::Cluster::unavailable();
plan skip_all => $why if $why;

my $cl = Gobi::Cluster->new;
ok($cl->start, 'FerretDB, Redis, instances A and B start')
    or BAIL_OUT($cl->why);
my ($A, $B) = $cl->servers;
my $redis = $cl->redis;

my $ca = $A->client;
$ca->user('alice');
my $cb = $B->client(token => $ca->token);
my $id = $ca->create_vault('notes')->{id};
my $head = 0;
my @b_workers = sort $B->worker_pids;

my ($wsB) = subscriber($B, $cb->token, 'notes');

sub put_seq {
    my ($c, $path, $text, $what) = @_;
    my $r = $c->put('notes', $path, $text);
    like($r->status, qr/^20[01]$/, "$what: PUT $path") or diag $r->describe;
    return $r->status =~ /^20/ ? $r->json->{seq} : undef;
}

# B works: a write through B reaches the long-lived session and a new
# one; the files written so far are there
sub b_works {
    my ($what) = @_;
    my $seq = put_seq($cb, "b-$what.txt", "B, $what", "B $what");
    return unless $seq;
    is_deeply(seqs(live_events($wsB, $seq, 15)), [ $seq ],
        "$what: the long-lived session on B gets $seq");
    my ($ws, $w, $replay) = subscriber($B, $cb->token, 'notes',
        since => $seq - 1);
    is($w->{head_seq}, $seq, "$what: a new session on B starts");
    is_deeply(seqs($replay), [ $seq ], "$what: with its replay");
    $ws->close;
    my $m = $cb->manifest('notes');
    is($m->status, 200, "$what: the manifest on B");
    is($m->json->{seq}, $seq, "$what: at seq $seq");
    $head = $seq;
}


subtest 'both up: writes through A reach B' => sub {
    my $seq = put_seq($ca, 'a0.txt', 'a0', 'A');
    is_deeply(seqs(live_events($wsB, $seq, 15)), [ $seq ], 'event on B');
    $head = $seq;
    b_works('both-up');
};


subtest 'A stops gracefully in the middle of writes' => sub {
    my ($wsA) = subscriber($A, $ca->token, 'notes', since => $head);
    # requests in flight on A when it gets QUIT: each either completes
    # (and then its event must reach B) or fails without effect
    my @pending = map {
        $ca->start(PUT => $ca->file_uri('notes', "quit-$_.txt"),
            body => "written while A stops $_")
    } 1 .. 8;
    my $seq0 = $head;
    ok($A->stop, 'A stops on QUIT, in time');
    is(scalar($wsA->recv_close(10)), 1001, 'A\'s session got 1001');
    my @acked;
    for my $p (@pending) {
        my $r = $p->wait(15);
        push @acked, $r->json->{seq} if $r->status == 201;
    }
    note(scalar(@acked) . ' of ' . scalar(@pending)
        . ' PUTs in flight completed');
    @acked = sort { $a <=> $b } @acked;
    if (@acked) {
        my $ev = live_events($wsB, $acked[-1], 15);
        is_deeply(seqs($ev), \@acked,
            'B got the event of every PUT that A acknowledged, in order')
            or diag explain $ev;
        $head = $acked[-1];
    }
    is_deeply(seqs(drain_events($wsB, 0.5)), [], 'and nothing else');
    my $log = $cb->events('notes', since => $seq0)->json->{events};
    is_deeply(seqs($log), \@acked, 'the log holds exactly those');

    b_works('A-stopped');
    ok(wait_until(sub { $redis->numsub($id) == 1 }, 10),
        'Redis counts only B\'s subscription now')
        or diag $redis->numsub($id);
};


subtest 'A comes back and serves again' => sub {
    ok($A->start, 'A starts again (same server root)')
        or return diag $A->start_output;
    my ($wsA) = subscriber($A, $ca->token, 'notes', since => $head);
    my $seq = put_seq($cb, 'to-a.txt', 'from B to A', 'B');
    is_deeply(seqs(live_events($wsA, $seq, 15)), [ $seq ],
        'a write through B reaches a session on A');
    is_deeply(seqs(live_events($wsB, $seq, 15)), [ $seq ], 'and on B');
    $seq = put_seq($ca, 'from-a.txt', 'from A to B', 'A');
    is_deeply(seqs(live_events($wsB, $seq, 15)), [ $seq ],
        'a write through A reaches B');
    is_deeply(seqs(live_events($wsA, $seq, 15)), [ $seq ], 'and A');
    $head = $seq;
    $wsA->drop;
};


subtest 'A dies hard (KILL of the master and workers)' => sub {
    my ($wsA) = subscriber($A, $ca->token, 'notes', since => $head);
    my @pids = ($A->pid, $A->worker_pids);
    # a request A holds when it dies: an upload half sent
    my $sock = $ca->connect;
    print {$sock} "PUT " . $ca->file_uri('notes', 'half.txt')
        . " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " . $ca->token
        . "\r\nContent-Length: 100000\r\n\r\n" . ('x' x 50000);
    kill 'KILL', @pids;
    ok(wait_until(sub { !grep { kill 0, $_ } @pids }, 10),
        'A\'s processes are gone');
    $A->{pid} = undef;        # nothing left to stop
    ok($wsA->wait_eof(10), 'A\'s session lost its connection');
    close $sock;

    b_works('A-killed');
    ok(wait_until(sub { $redis->numsub($id) == 1 }, 10),
        'Redis dropped A\'s subscriber connection');
    is($cb->get('notes', 'half.txt')->status, 404,
        'the half upload left no file');
    for my $i (1 .. 3) {
        my $seq = put_seq($cb, "after-kill-$i.txt", "after $i", 'B');
        is_deeply(seqs(live_events($wsB, $seq, 15)), [ $seq ],
            "event $seq on B");
        $head = $seq;
    }
    is_deeply(seqs(drain_events($wsB, 0.5)), [], 'nothing else on B');
};


subtest 'B was not disturbed' => sub {
    is_deeply([ sort $B->worker_pids ], \@b_workers,
        'B still has its first workers (none died and was respawned)');
    $wsB->close;
    ok($B->stop, 'B stops on QUIT, in time');
    my @a = $B->alerts;
    ok(!@a, 'no [alert], [emerg] or [crit] in B\'s error log')
        or diag join "\n", @a;
    my @err = grep { /\[error\]/ } split /\n/, $B->error_log;
    ok(!@err, 'no [error] in B\'s error log') or diag join "\n", @err;
    my @aa = $A->alerts;
    ok(!@aa, 'none in A\'s either') or diag join "\n", @aa;
};

ok($cl->stop, 'everything stops');

done_testing();
