# Live events: REST writes and WebSocket operations reach every subscriber
# of the vault, on every worker (gobi_bus local), in seq order, without
# gaps or duplicates.  Which worker holds a WebSocket is read from /proc
# (Gobi::WS::worker_pid); which worker served a REST write from an
# X-Worker-Pid header.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

# sessions subscribed to the vault until both workers hold at least $min
# of them (or $max were opened): ([sessions], { pid => [sessions] })
sub main::spread {
    my ($t, $V, $vault, %o) = @_;
    my $min = $o{min} // 1;
    my $max = $o{max} // 80;
    my (@all, %by);
    my @pids = $t->worker_pids;
    while (@all < $max) {
        my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
        die 'no 101: ' . ($ws->error // '') unless $ws->ok;
        $ws->subscribe($vault, since => $o{since} // 0);
        my $pid = $ws->worker_pid($t) // die 'no worker for a connection';
        push @all, $ws;
        push @{ $by{$pid} }, $ws;
        last if @pids == grep { @{ $by{$_} || [] } >= $min } @pids;
    }
    return (\@all, \%by);
}

# the live events a session receives up to seq $to: [events]
sub main::events_to {
    my ($ws, $to, $timeout) = @_;
    my @ev;
    my ($m, $before) = $ws->recv_until(sub {
        $_->{type} eq 'event' && $_->{event}{seq} >= $to }, $timeout);
    for my $x (@$before, $m ? $m : ()) {
        push @ev, $x->{type} eq 'event' ? $x->{event} : $x;
    }
    return \@ev;
}

sub main::seqs { [ map { ref $_ && exists $_->{seq} ? $_->{seq}
                         : json_encode($_) } @{ $_[0] } ] }

run_tests();

__DATA__

=== TEST 1: a REST write reaches subscribers on the other worker
--- config
location /api/v1/ { gobi_api; add_header X-Worker-Pid $pid always; }
location = /api/v1/ws { gobi_websocket; }
--- setup
user alice
vault notes
--- perl
my @pids = sort $t->worker_pids;
is(scalar @pids, 2, 'two workers');
my ($all, $by) = main::spread($t, $V, 'notes');
is(scalar(grep { @{ $by->{$_} || [] } } @pids), 2,
    'subscribers on both workers') or diag explain { map {
        $_ => scalar @{ $by->{$_} } } keys %$by };
my (%writers, $cross);
# write until both workers have served a write (or 40 writes)
for my $i (1 .. 40) {
    my $r = $c->put('notes', "f$i.txt", "content $i");
    is($r->status, 201, "PUT $i") or last;
    my $seq = $r->json->{seq};
    my $wpid = $r->header('x-worker-pid');
    $writers{$wpid}++;
    for my $pid (keys %$by) {
        for my $ws (@{ $by->{$pid} }) {
            my $ev = main::events_to($ws, $seq);
            my $ok = @$ev == 1 && $ev->[0]{seq} == $seq
                && $ev->[0]{path} eq "f$i.txt";
            $cross++ if $ok && $pid != $wpid;
            ok($ok, "write $i by worker $wpid: event $seq at a subscriber "
                . "on worker $pid") or diag explain $ev;
        }
    }
    last if keys %writers == 2 && $i >= 2;
}
ok($cross, 'events went from a writer on one worker to subscribers on '
    . 'the other');
note('writes per worker: ' . json_encode(\%writers));
json_subset_ok(main::events_to($all->[0], 1e9, 0.3), [],
    'no more events than writes');
--- no_error_log
[error]



=== TEST 2: the event of a live write has every field, as in GET events
--- websocket
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->subscribe('notes', since => 0);
my $r = $c->put('notes', 'dir/a.txt', 'hello', 'X-Gobi-Device' => 'phone-2',
    'X-Gobi-Mtime' => '1700000000123');
is($r->status, 201, 'PUT');
my $m = $ws->recv_json;
my $rest = $c->events('notes', since => 0)->json->{events}[0];
json_subset_ok($m, { type => 'event', event => { %$rest,
    from => '<absent>' } }, 'the event as in GET events');
json_subset_ok($m->{event}, { seq => 1, type => 'create', path => 'dir/a.txt',
    version => 1, hash => blake2b_hex('hello'), size => 5,
    mtime => 1700000000123, device => 'phone-2', ts => '<integer>' },
    'fields');
is_deeply([ sort keys %{ $m->{event} } ], [ sort keys %$rest ],
    'no other fields');



=== TEST 3: concurrent writes: every subscriber gets every seq once, in order
--- config
location /api/v1/ { gobi_api; }
location = /api/v1/ws { gobi_websocket; }
--- setup
user alice
vault notes
put notes first.txt 0
--- perl
my ($all, $by) = main::spread($t, $V, 'notes', min => 2);
my $n = 120;
my @p;
my $i = 0;
while ($i < $n) {
    # 8 writes in flight at a time, to both workers
    push @p, $c->start(PUT => $c->file_uri('notes', "f" . ($i++ % 30)),
        body => "v$i") while @p < 8 && $i < $n;
    my $res = shift(@p)->wait;
    die 'PUT: ' . $res->describe unless $res->status =~ /^20[01]$/;
}
$_->wait for @p;
my $head = 1 + $n;
for my $pid (sort keys %$by) {
    my $k = 0;
    for my $ws (@{ $by->{$pid} }) {
        $k++;
        my $ev = main::events_to($ws, $head, 20);
        is_deeply(main::seqs($ev), [ 2 .. $head ],
            "worker $pid, session $k: seqs 2..$head, each once, in order");
    }
}
--- no_error_log
[error]



=== TEST 4: a session that joins while writes go on: replay + live have every seq exactly once
--- websocket
--- setup
user alice
vault notes
--- perl
for my $round (1 .. 5) {
    my $base = $c->events('notes', since => 0)->json->{head_seq};
    my @p = map { $c->start(PUT => $c->file_uri('notes', "r$round-$_"),
        body => "x") } 1 .. 20;
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    $ws->hello('notes', since => $base);
    my ($w, $replay) = $ws->recv_replay;
    ok($replay, "round $round: replayed") or next;
    $_->wait for @p;
    my $head = $base + 20;
    my $live = main::events_to($ws, $head);
    my @all = sort { $a <=> $b } map { $_->{seq} } @$replay, @$live;
    is_deeply(\@all, [ $base + 1 .. $head ],
        "round $round: " . @$replay . " replayed + " . @$live
        . " live = every seq once");
    ok(!grep({ $_->{seq} <= $w->{head_seq} } @$live),
        "round $round: live events come after head_seq $w->{head_seq}");
    is_deeply(main::seqs($live), [ sort { $a <=> $b } @{ main::seqs($live) } ],
        "round $round: live events in order");
}



=== TEST 5: two sessions on different workers see each other's renames and deletes
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
--- perl
my ($all, $by) = main::spread($t, $V, 'notes', since => 2);
my ($p1, $p2) = sort keys %$by;
ok($p1 && $p2 && $p1 != $p2, 'sessions on two workers') or return;
my ($x, $y) = ($by->{$p1}[0], $by->{$p2}[0]);
$x->send_json({ type => 'rename', id => 'x1', from => 'a.txt',
    to => 'c.txt', base_version => 1 });
my ($ack) = $x->recv_until(sub { $_->{type} eq 'ack' });
json_subset_ok($ack, { id => 'x1', seq => 3, version => 3 }, 'x: ack');
json_subset_ok(main::events_to($y, 3), [ { seq => 3, type => 'rename',
    from => 'a.txt', path => 'c.txt', version => 3,
    hash => blake2b_hex('A') } ], "y (worker $p2) sees x's rename");
$y->send_json({ type => 'delete', id => 7, path => 'b.txt',
    base_version => 2 });
($ack) = $y->recv_until(sub { $_->{type} eq 'ack' });
json_subset_ok($ack, { id => 7, seq => 4, version => 4 }, 'y: ack');
my $ev = main::events_to($x, 4);
json_subset_ok($ev->[-1], { seq => 4, type => 'delete', path => 'b.txt' },
    "x (worker $p1) sees y's delete");
is_deeply(main::seqs($ev), [ 3, 4 ], 'x: its own rename, then the delete');
# everybody else too
for my $ws (@$all) {
    next if $ws == $x || $ws == $y;
    is_deeply(main::seqs(main::events_to($ws, 4)), [ 3, 4 ],
        'another subscriber: both');
}



=== TEST 6: the device of a hello marks the events of that session's operations
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $x = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$x->subscribe('notes', since => 1, device => 'laptop-7');
my $y = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$y->subscribe('notes', since => 1);
$x->send_json({ type => 'delete', id => 1, path => 'a.txt',
    base_version => 1 });
json_subset_ok(main::events_to($y, 2), [ { seq => 2, type => 'delete',
    device => 'laptop-7' } ], 'device in the event');
json_subset_ok($c->events('notes', since => 1)->json->{events},
    [ { seq => 2, device => 'laptop-7' } ], 'and in the log');



=== TEST 7: subscribers hear only their own vault
--- websocket
--- setup
user bob
vault notes
user alice
vault notes
vault other
--- perl
my $wa = Gobi::WS->new(port => $t->port, token => $V->{TOKEN_ALICE});
$wa->subscribe('notes', since => 0);
my $o = Gobi::WS->new(port => $t->port, token => $V->{TOKEN_ALICE});
$o->subscribe('other', since => 0);
my $wb = Gobi::WS->new(port => $t->port, token => $V->{TOKEN_BOB});
$wb->subscribe('notes', since => 0);
$c->as('alice');
$c->put_ok('other', 'x', 'X');
$c->put_ok('notes', 'y', 'Y');
json_subset_ok(main::events_to($wa, 1), [ { seq => 1, path => 'y' } ],
    "alice's notes: y only");
json_subset_ok(main::events_to($o, 1), [ { seq => 1, path => 'x' } ],
    "alice's other: x only");
$c->as('bob');
$c->put_ok('notes', 'z', 'Z');
json_subset_ok(main::events_to($wb, 1), [ { seq => 1, path => 'z' } ],
    "bob's notes (same name): z only");
is_deeply([ $wa->drain(0.3), $o->drain(0), $wb->drain(0) ], [],
    'nothing else anywhere');



=== TEST 8: 200 connections on both workers all receive each write
--- websocket
--- setup
user alice
vault notes
--- perl
my @ws;
my %per;
for my $i (1 .. 200) {
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    $ws->ok or die "connection $i: " . ($ws->error // $ws->status);
    $ws->hello('notes', since => 0);
    push @ws, $ws;
}
# all replays (read after all hellos went out)
my $replayed = grep { my ($w, $ev) = $_->recv_replay; $ev } @ws;
is($replayed, 200, '200 sessions replayed');
$per{ $_->worker_pid($t) // 'none' }++ for @ws;
note('sessions per worker: ' . json_encode(\%per));
for my $k (1 .. 3) {
    $c->put_ok('notes', "f$k", "v$k");
    my $got = grep { my $e = main::events_to($_, $k);
        @$e == 1 && $e->[0]{seq} == $k } @ws;
    is($got, 200, "write $k: all 200 got exactly its event");
}
is(scalar(grep { $_->close == 1000 } @ws[0 .. 49]), 50,
    '50 of them close cleanly');
$c->put_ok('notes', 'after', 'x');
is(scalar(grep { my $e = main::events_to($_, 4); @$e == 1 } @ws[50 .. 199]),
    150, 'the other 150 still get events');
--- no_error_log
[error]
