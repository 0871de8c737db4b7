# Keepalive: the server pings every gobi_ws_ping_interval; a client that
# does not answer within the next interval is closed; one that answers
# stays.  Pass criteria are orders of events (a ping, then the close), never
# durations; the waits are generous timeouts.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

# reads frames until a close (answering pings or not): (close code,
# [opcodes in order])
sub main::until_close {
    my ($ws, $timeout) = @_;
    my @seen;
    my $deadline = time + $timeout;
    while (time < $deadline) {
        my $m = $ws->next_message(1) or next;
        if ($m->{eof}) { push @seen, 'eof'; last }
        push @seen, $m->{opcode} == 1 ? 'text' : $m->{opcode};
        return ($m->{close_code}, \@seen) if $m->{opcode} == 8;
    }
    return (undef, \@seen);
}

run_tests();

__DATA__

=== TEST 1: a client that never answers pings is closed after a ping
--- websocket
--- gobi_config
gobi_ws_ping_interval 1s;
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
    auto_pong => 0);
$ws->subscribe('notes', since => 0);
my ($code, $seen) = main::until_close($ws, 20);
ok(defined $code, 'the server closed the session')
    or diag explain $seen;
note("close code $code") if defined $code;
like($code // '', qr/^10(?:01|02|08|11)$/, 'with a close code that fits');
ok(scalar($ws->pings) >= 1, 'after at least one ping ('
    . scalar($ws->pings) . ')');
ok($ws->wait_eof, 'then the connection ends');
like($t->error_log, qr/gobi: websocket peer did not answer the ping/,
    'logged');
--- no_error_log
[error]



=== TEST 2: a client that answers stays open over many pings and still gets events
--- websocket
--- gobi_config
gobi_ws_ping_interval 1s;
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->subscribe('notes', since => 0);
my $deadline = time + 30;
my @other;
while ($ws->pings < 4 && time < $deadline) {
    my $m = $ws->next_message(1) or next;
    push @other, $m;
    last if $m->{eof} || ($m->{opcode} // 0) == 8;
}
ok($ws->pings >= 4, 'four pings answered');
is_deeply(\@other, [], 'nothing else came (no close)');
is(($ws->pings)[0], 'gobi', 'ping payload');
$c->put_ok('notes', 'a', 'A');
json_subset_ok($ws->recv_json, { type => 'event', event => { seq => 1 } },
    'and the session still gets events');
--- no_error_log
[error]



=== TEST 3: a session that never said hello is pinged and closed the same way
--- websocket
--- gobi_config
gobi_ws_ping_interval 1s;
--- setup
user alice
vault notes
--- perl
my $quiet = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
    auto_pong => 0);
my $live = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
my ($code, @live);
my $deadline = time + 20;
while (!defined $code && time < $deadline) {
    # the live one answers its pings meanwhile
    while (my $m = $live->next_message(0.05)) { push @live, $m }
    my $m = $quiet->next_message(0.2) or next;
    last if $m->{eof};
    $code = $m->{close_code} if $m->{opcode} == 8;
}
ok(defined $code, 'the silent session is closed');
ok(scalar($quiet->pings) >= 1, 'after a ping');
push @live, $live->drain(1.5);
is_deeply(\@live, [], 'the answering one is still open');
ok($live->pings >= 1, 'and was pinged too');



=== TEST 4: the client's own pings and data do not count as pongs
--- websocket
--- gobi_config
gobi_ws_ping_interval 1s;
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
    auto_pong => 0, want_pongs => 1);
$ws->subscribe('notes', since => 0);
my ($code, $eof);
my $deadline = time + 20;
TALK: while (time < $deadline) {
    $ws->send_ping('me');
    $ws->send_text('{"type":"noise"}');
    while (my $m = $ws->next_message(0.2)) {
        if ($m->{eof}) { $eof = 1; last TALK }
        if ($m->{opcode} == 8) { $code = $m->{close_code}; last TALK }
    }
}
ok(defined $code, 'closed although it kept talking');
ok(scalar($ws->pings) >= 1, 'after a ping it did not answer');



=== TEST 5: pongs answer pings of any payload; the client may ping with an empty payload
--- websocket
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
    want_pongs => 1);
for my $p ('', 'x', "\x00\xff" x 60, 'p' x 125) {
    $ws->send_ping($p);
    my $m = $ws->next_message;
    ok($m && $m->{opcode} == 10 && $m->{payload} eq $p,
        'pong with the same ' . length($p) . '-byte payload');
}
# with the default interval (30s) nothing is sent for a while
is_deeply([ $ws->drain(1) ], [], 'no ping within the first second');
is(scalar($ws->pings), 0, 'no ping yet');
