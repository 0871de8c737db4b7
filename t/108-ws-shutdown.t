# Graceful shutdown (QUIT) and reload (HUP): every open WebSocket gets
# close 1001 and its worker exits on its own (no worker_shutdown_timeout);
# after a reload new sessions work on the new workers.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

sub main::alive {
    my ($pid) = @_;
    return 0 unless kill 0, $pid;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $st = <$fh>;
    return $st !~ /\)\s+Z\s/;
}

# sessions until both workers hold $min: ([all], { pid => [sessions] })
sub main::spread {
    my ($t, $V, $min, %o) = @_;
    my (@all, %by);
    my @pids = $t->worker_pids;
    while (@all < 100) {
        my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
        die 'no 101' unless $ws->ok;
        $ws->subscribe('notes', since => 0) unless $o{no_hello};
        push @all, $ws;
        push @{ $by{ $ws->worker_pid($t) // 0 } }, $ws;
        last if @all >= ($o{at_least} // 0)
            && @pids == grep { @{ $by{$_} || [] } >= $min } @pids;
    }
    return (\@all, \%by);
}

run_tests();

__DATA__

=== TEST 1: QUIT: every session on every worker gets 1001, the workers exit
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my ($all, $by) = main::spread($t, $V, 3, at_least => 20);
my @pids = $t->worker_pids;
is(scalar(grep { @{ $by->{$_} || [] } } @pids), 2, 'sessions on both workers');
# and one that never said hello, one with half a frame sent
my $bare = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
my $half = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$half->subscribe('notes', since => 0);
$half->send_raw(substr($half->frame(payload => '{"type":"delete"}'), 0, 5));
# every session is known to its worker
$_->{want_pongs} = 1, $_->send_ping('x'), $_->next_message for @$all, $bare;

kill 'QUIT', $t->pid;
my $n = 0;
for my $ws (@$all) {
    my $code = $ws->recv_close(15);
    $n++ if defined $code && $code == 1001 && $ws->wait_eof(15);
}
is($n, scalar @$all, 'all ' . @$all
    . ' subscribed sessions: close 1001, then the end');
is($bare->recv_close(15), 1001, 'a session without hello: 1001');
ok($bare->wait_eof(15), 'then the end');
is($half->recv_close(15), 1001, 'a session with half a frame in: 1001')
    or diag explain [ $half->skipped, $half->last_msg ];
ok($half->wait_eof(15), 'then the end');
ok(wait_until(sub { !grep { main::alive($_) } @pids }, 15),
    'the workers exit');
ok($t->stop, 'the master is gone');
--- no_error_log
[error]



=== TEST 2: QUIT with 200 sessions and writes in flight
--- websocket
--- setup
user alice
vault notes
--- perl
my @ws = map { my $w = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    $w->hello('notes', since => 0); $w } 1 .. 200;
$_->recv_replay for @ws;
my @p = map { $c->start(PUT => $c->file_uri('notes', "f$_"), body => 'x') }
    1 .. 20;
kill 'QUIT', $t->pid;
$_->wait for @p;
my %codes;
for my $ws (@ws) {
    my $code = $ws->recv_close(15);
    $codes{ $code // 'none' }++;
    # events before the close must be whole and in order
    my @seqs = map { $_->{json}{event}{seq} } grep { $_->{json}
        && $_->{json}{type} eq 'event' } $ws->skipped;
    my @sorted = sort { $a <=> $b } @seqs;
    is_deeply(\@seqs, \@sorted, 'events in order before the close')
        unless "@seqs" eq "@sorted";
}
is_deeply(\%codes, { 1001 => 200 }, '200 sessions: close 1001');
ok($t->stop, 'nginx exits');



=== TEST 3: HUP: the old workers' sessions get 1001; new sessions work on the new workers
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my @old = $t->worker_pids;
my ($all) = main::spread($t, $V, 2);
$t->reload;
my $n = 0;
for my $ws (@$all) {
    my $code = $ws->recv_close(15);
    $n++ if defined $code && $code == 1001 && $ws->wait_eof(15);
}
is($n, scalar @$all, 'all ' . @$all . ' old sessions: 1001, then the end');
ok(wait_until(sub { !grep { main::alive($_) } @old }, 15),
    'the old workers exit');
ok(wait_until(sub { 2 == grep { my $p = $_; !grep { $_ == $p } @old }
    $t->worker_pids }, 15), 'two new workers');
# reconnect with the cursor: catch up, then live
my ($x) = main::spread($t, $V, 1);
$c->put_ok('notes', 'b.txt', 'B');
for my $ws (@$x) {
    my ($m) = $ws->recv_until(sub { $_->{type} eq 'event' });
    json_subset_ok($m, { event => { seq => 2, path => 'b.txt' } },
        'a new session on worker ' . $ws->worker_pid($t) . ' gets the event');
}
--- no_error_log
[error]



=== TEST 4: QUIT while a client does not read (full socket buffers): the worker still exits
--- websocket
--- gobi_config
gobi_ws_send_queue 4m;
gobi_ws_ping_interval 1h;
--- setup
user alice
vault notes
--- perl
my $slow = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
    rcvbuf => 2048);
$slow->subscribe('notes', since => 0);
my $long = join '/', map { sprintf '%s%02d', 'd' x 200, $_ } 1 .. 15;
$c->put_ok('notes', "$long/f$_", 'x') for 1 .. 100;
my @pids = $t->worker_pids;
kill 'QUIT', $t->pid;
ok(wait_until(sub { !grep { main::alive($_) } @pids }, 15),
    'the workers exit');
ok($t->stop, 'nginx is gone');
# what the client finds: events, then a close or just the end
my $code = $slow->recv_close(15);
note('the slow client got close ' . ($code // 'none'));
ok($slow->wait_eof(5), 'its connection ended');



=== TEST 5: a client that closed first during shutdown is not a problem
--- websocket
--- setup
user alice
vault notes
--- perl
my @ws = map { my $w = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    $w->subscribe('notes', since => 0); $w } 1 .. 10;
$_->send_close(1000) for @ws[0 .. 4];
$_->drop for @ws[5 .. 9];
kill 'QUIT', $t->pid;
ok($t->stop, 'nginx exits');



=== TEST 6: QUIT while a session's operation waits in a thread: the worker exits once it is done
--- websocket
--- gobi_config
gobi_ws_ping_interval 1h;
--- setup
user alice
vault notes
put notes a.txt A
--- perl
# nginx runs the session's cleanup at QUIT while the delete still waits
# for the database (another process holds its write lock): the request
# must be finished by the thread's completion, from nothing posted
SKIP: {
skip sqlite_only(), 4 if sqlite_only();
open my $lock, '|-', sqlite3_cmd(), $t->db_file or die "sqlite3: $!";
$lock->autoflush(1);
print $lock "BEGIN EXCLUSIVE;\n";
sleep 1;
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->subscribe('notes', since => 0);
$ws->send_json({ type => 'delete', id => 1, path => 'a.txt',
    base_version => 1 });
sleep 1;
my @pids = $t->worker_pids;
kill 'QUIT', $t->pid;
is($ws->recv_close(15), 1001, 'the session gets 1001 at once');
ok(scalar(grep { main::alive($_) } @pids), 'a worker waits for its thread');
print $lock "COMMIT;\n";
close $lock;
ok(wait_until(sub { !grep { main::alive($_) } @pids }, 20),
    'then the workers exit');
ok($t->stop, 'nginx is gone');
}
--- no_error_log
[alert]
