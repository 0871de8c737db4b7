# Several instances (issue 4): two nginx instances A and B share one
# MongoDB store (FerretDB), one Redis bus and one blob root.  A write
# through A reaches a WebSocket subscriber on B live, and the reverse;
# REST writes, WebSocket ops and deletes alike, on every worker of the
# other instance, once each and in seq order.
use Gobi::Test;
use Gobi::Cluster qw(subscriber live_events drain_events seqs);

my $why = Gobi::Cluster::unavailable();
plan skip_all => $why if $why;

my $cl = Gobi::Cluster->new;
ok($cl->start, 'FerretDB, Redis, instances A and B start')
    or BAIL_OUT($cl->why);
my ($A, $B) = $cl->servers;
isnt($A->port, $B->port, 'two ports');
isnt($A->servroot, $B->servroot, 'two server roots');

my $ca = $A->client;
$ca->user('alice');
my $cb = $B->client(token => $ca->token);
my $vault = $ca->create_vault('notes');
my $id = $vault->{id};

is($cb->request(GET => 'vaults')->json->{vaults}[0]{name}, 'notes',
    "A's token and vault are known to B (one store)");

my ($wsA) = subscriber($A, $ca->token, 'notes');
my ($wsB) = subscriber($B, $cb->token, 'notes');
ok($cl->redis->numsub($id) >= 2 || wait_until(sub {
        $cl->redis->numsub($id) >= 2 }),
    'both instances subscribed to the vault in Redis');

my $head = 0;
my %content;

sub check_both {
    my ($what, $seq) = @_;
    for ([ A => $wsA ], [ B => $wsB ]) {
        my $ev = live_events($_->[1], $seq, 15);
        is_deeply(seqs($ev), [ $seq ], "$what: event $seq live on $_->[0]")
            or diag explain $ev;
    }
}

subtest 'a REST write through A reaches the subscriber on B, and the reverse'
=> sub {
    for my $i (1 .. 6) {
        my ($via, $c) = $i % 2 ? ('A', $ca) : ('B', $cb);
        my $r = $c->put('notes', "f$i.txt", "written via $via ($i)");
        is($r->status, 201, "PUT f$i.txt via $via") or return;
        is($r->header('x-gobi-instance'), $via, "answered by $via");
        is($r->json->{seq}, $head + 1, 'the next seq');
        $head = $r->json->{seq};
        $content{"f$i.txt"} = "written via $via ($i)";
        check_both("f$i.txt via $via", $head);
    }
};

subtest 'the event B gets has the fields REST shows on A' => sub {
    my $r = $ca->put('notes', 'dir/g.txt', 'with fields',
        'X-Gobi-Mtime' => 1700000000123, 'X-Gobi-Device' => 'dev-a');
    is($r->status, 201, 'PUT dir/g.txt via A') or return;
    $head = $r->json->{seq};
    $content{'dir/g.txt'} = 'with fields';
    my $ev = live_events($wsB, $head, 15);
    is_deeply(seqs($ev), [ $head ], 'event on B') or return;
    my $rest = $ca->events('notes', since => $head - 1)->json->{events}[0];
    is_deeply($ev->[0], $rest, 'the same event as GET /events on A');
    json_subset_ok($ev->[0], { seq => $head, type => 'create',
        path => 'dir/g.txt', version => $head, size => 11,
        hash => blake2b_hex('with fields'), mtime => 1700000000123,
        device => 'dev-a' }, 'its fields');
    is_deeply(seqs(live_events($wsA, $head, 15)), [ $head ], 'and on A');
};

subtest 'modify, delete and a WebSocket rename cross too' => sub {
    my $r = $cb->put('notes', 'f1.txt', 'modified via B',
        'If-Match' => '"1"');
    is($r->status, 200, 'modify f1.txt via B') or return;
    $head = $r->json->{seq};
    $content{'f1.txt'} = 'modified via B';
    check_both('modify via B', $head);

    $r = $ca->delete('notes', 'f2.txt');
    is($r->status, 200, 'DELETE f2.txt via A') or return;
    $head = $r->json->{seq};
    delete $content{'f2.txt'};
    check_both('delete via A', $head);

    # a rename through B's WebSocket: acked on B, the event reaches A
    $wsB->send_json({ type => 'rename', id => 7, from => 'f3.txt',
        to => 'renamed/f3.txt', base_version => 3 });
    my ($ack, $before) = $wsB->recv_until(sub { $_->{type} eq 'ack' }, 15);
    ok($ack && $ack->{id} == 7, 'the rename is acked on B')
        or return diag explain [$ack, $before, $wsB->last_msg];
    $head = $ack->{seq};
    is($head, $r->json->{seq} + 1, 'with the next seq');
    $content{'renamed/f3.txt'} = delete $content{'f3.txt'};
    # the sender's own event may have come before the ack
    my @own = grep { $_->{type} eq 'event' } @$before;
    unless (@own) {
        is_deeply(seqs(live_events($wsB, $head, 15)), [ $head ],
            'the rename event on B');
    } else {
        is_deeply([ map { $_->{event}{seq} } @own ], [ $head ],
            'the rename event on B (before the ack)');
    }
    my $ev = live_events($wsA, $head, 15);
    is_deeply(seqs($ev), [ $head ], 'the rename event on A');
    json_subset_ok($ev->[0] // {}, { type => 'rename', from => 'f3.txt',
        path => 'renamed/f3.txt' }, 'a rename from f3.txt');
};

subtest 'nothing else came; both instances show the same files' => sub {
    is_deeply(seqs(drain_events($_, 1)), [], 'no extra message') for $wsA,
        $wsB;
    my %m;
    for ([ A => $ca ], [ B => $cb ]) {
        my $r = $_->[1]->manifest('notes');
        is($r->status, 200, "manifest on $_->[0]");
        is($r->json->{seq}, $head, "at seq $head");
        $m{ $_->[0] } = $r->json->{files};
    }
    is_deeply($m{B}, $m{A}, 'the same manifest on A and B');
    for my $p (sort keys %content) {
        is($cb->get('notes', $p)->body, $content{$p}, "$p from B");
        is($ca->get('notes', $p)->body, $content{$p}, "$p from A");
    }
};

subtest 'every worker of B gets a write through A' => sub {
    my (%by, @all);
    my @pids = $B->worker_pids;
    # sessions until each of B's workers holds one
    while (@all < 60 && grep { !$by{$_} } @pids) {
        my $ws = subscriber($B, $cb->token, 'notes', since => $head);
        my $pid = $ws->worker_pid($B) // next;
        push @all, $ws;
        push @{ $by{$pid} }, $ws;
    }
    is(scalar(grep { $by{$_} } @pids), scalar @pids,
        'sessions on each of B\'s ' . scalar(@pids) . ' workers');
    for my $i (1 .. 3) {
        my $r = $ca->put('notes', "w$i.txt", "to every worker $i");
        is($r->status, 201, "PUT w$i.txt via A") or return;
        $head = $r->json->{seq};
        for my $pid (sort keys %by) {
            is_deeply(seqs(live_events($_, $head, 15)), [ $head ],
                "event $head at worker $pid of B") for @{ $by{$pid} };
        }
        is_deeply(seqs(live_events($wsB, $head, 15)), [ $head ],
            'and at the first session on B');
        is_deeply(seqs(live_events($wsA, $head, 15)), [ $head ],
            'and on A');
    }
    is_deeply(seqs(drain_events($_, 0.5)), [], 'once') for @all;
    $_->close for @all;
};

subtest 'concurrent writes through A and B: every subscriber sees each '
    . 'seq once, in order' => sub {
    my $from = $head;
    my @p;
    for my $i (1 .. 24) {
        my $c = $i % 2 ? $ca : $cb;
        push @p, $c->start(PUT => $c->file_uri('notes', "c/$i.txt"),
            body => "concurrent $i");
    }
    my @seqs;
    for (@p) {
        my $r = $_->wait(60);
        is($r->status, 201, 'a concurrent PUT') or diag $r->describe;
        push @seqs, $r->json->{seq} if $r->status == 201;
    }
    @seqs = sort { $a <=> $b } @seqs;
    is_deeply(\@seqs, [ $from + 1 .. $from + 24 ],
        'the writes took the seqs after the head, each one');
    $head = $from + 24;
    for ([ A => $wsA ], [ B => $wsB ]) {
        my $ev = live_events($_->[1], $head, 30);
        is_deeply(seqs($ev), [ $from + 1 .. $head ],
            "$_->[0]: every event once, in seq order") or diag explain $ev;
    }
};

subtest 'the same base through A and B at once: one wins, one gets 412'
=> sub {
    # the race itself, without a conflict copy: server-wins refuses
    my $sw = $ca->request(PATCH => 'vaults/notes',
        json => { conflict_strategy => 'server-wins' });
    is($sw->status, 200, 'notes: server-wins');
    my $cur = $ca->head('notes', 'f4.txt');
    my $ver = $cur->header('etag');
    like($ver // '', qr/^"\d+"$/, "f4.txt at $ver") or return;
    for my $round (1 .. 3) {
        my @p = map {
            my ($c, $via) = @$_;
            $c->start(PUT => $c->file_uri('notes', 'f4.txt'),
                body => "round $round via $via",
                headers => { 'If-Match' => $ver })
        } [ $ca, 'A' ], [ $cb, 'B' ];
        my @r = map { $_->wait(60) } @p;
        my @st = sort map { $_->status } @r;
        is_deeply(\@st, [ 200, 412 ], "round $round: one 200, one 412")
            or diag map { $_->describe } @r;
        my ($win) = grep { $_->status == 200 } @r or return;
        my ($lose) = grep { $_->status == 412 } @r;
        is($lose->error_code, 'version_conflict', 'version_conflict');
        is($lose->json->{error}{current}{version}, $win->json->{version},
            'its current is the winner');
        $head = $win->json->{seq};
        $ver = qq{"$head"};
        for ([ A => $wsA ], [ B => $wsB ]) {
            is_deeply(seqs(live_events($_->[1], $head, 15)), [ $head ],
                "round $round: only the winner's event on $_->[0]");
        }
        my $body = $ca->get('notes', 'f4.txt')->body;
        like($body, qr/^round $round via [AB]$/, "round $round: A serves "
            . 'the winner');
        is($cb->get('notes', 'f4.txt')->body, $body, 'and so does B');
    }
};

$wsA->close;
$wsB->close;
ok($cl->stop, 'everything stops (the instances on QUIT, in time)');
for my $s ($A, $B) {
    my @a = $s->alerts;
    ok(!@a, 'no [alert], [emerg] or [crit] in ' . $s->servroot)
        or diag join "\n", @a;
    unlike($s->error_log, qr/\[error\]/, 'no [error] either');
}

done_testing();
