# Frame-level protocol violations close the connection with the RFC 6455
# code (1002 protocol error, 1007 invalid UTF-8, 1009 too big), followed
# by the end of the TCP connection; and what is legal but unusual
# (fragments, control frames between them, frames written a byte at a
# time, UTF-8 split across fragments) works.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

use constant { CONT => 0, TEXT => 1, BINARY => 2, CLOSE => 8, PING => 9,
               PONG => 10 };

our $HELLO = '{"type":"hello","vault":"notes","since":0,"protocol":1}';

# a new session (after hello when $o{hello}), the bytes, then the close
# with $code must come, then the end of the connection
sub main::violation {
    my ($t, $V, $name, $bytes, $code, %o) = @_;
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    $ws->ok or return fail("$name: no 101");
    $ws->subscribe('notes', since => 0) if $o{hello};
    $bytes = $bytes->($ws) if ref $bytes eq 'CODE';
    $ws->send_raw($bytes, %{ $o{write} || {} });
    my $got = $ws->recv_close;
    is($got, $code, "$name: close $code")
        or diag('before: ' . json_encode([ $ws->skipped ]) . ' last: '
            . json_encode($ws->last_msg));
    my @after = grep { !$_->{eof} } $ws->skipped;
    splice @after, 0, $o{answers} if $o{answers};
    ok(!grep({ ($_->{opcode} // -1) == TEXT } @after),
        "$name: no protocol message instead") or diag explain \@after;
    ok($ws->wait_eof, "$name: then the connection ends");
    return $ws;
}

sub f { Gobi::WS->frame(@_) }

run_tests();

__DATA__

=== TEST 1: unmasked frames: 1002
--- websocket
--- setup
user alice
vault notes
--- perl
main::violation($t, $V, 'unmasked hello', main::f(payload => $main::HELLO,
    mask => 0), 1002);
main::violation($t, $V, 'unmasked ping', main::f(opcode => 9,
    payload => 'x', mask => 0), 1002);
main::violation($t, $V, 'unmasked after hello', main::f(payload => '{}',
    mask => 0), 1002, hello => 1);
main::violation($t, $V, 'unmasked empty close', main::f(opcode => 8,
    mask => 0), 1002);
--- no_error_log
[error]



=== TEST 2: reserved opcodes: 1002
--- websocket
--- setup
user alice
vault notes
--- perl
for my $op (3 .. 7, 0xb .. 0xf) {
    main::violation($t, $V, sprintf('opcode 0x%x', $op),
        main::f(opcode => $op, payload => 'x'), 1002);
}



=== TEST 3: reserved bits (no extension was negotiated): 1002
--- websocket
--- setup
user alice
vault notes
--- perl
for my $rsv (1, 2, 4, 7) {
    main::violation($t, $V, "rsv $rsv on text", main::f(rsv => $rsv,
        payload => $main::HELLO), 1002);
}
main::violation($t, $V, 'rsv on a ping', main::f(opcode => 9, rsv => 4,
    payload => 'x'), 1002);
main::violation($t, $V, 'rsv on a continuation',
    main::f(fin => 0, payload => '{"type":') . main::f(opcode => 0,
    rsv => 2, payload => '"x"}'), 1002);



=== TEST 4: control frames: fragmented or too long: 1002
--- websocket
--- setup
user alice
vault notes
--- perl
main::violation($t, $V, 'ping with fin 0', main::f(opcode => 9, fin => 0,
    payload => 'x'), 1002);
main::violation($t, $V, 'pong with fin 0', main::f(opcode => 10, fin => 0,
    payload => 'x'), 1002);
main::violation($t, $V, 'close with fin 0', main::f(opcode => 8, fin => 0,
    payload => pack('n', 1000)), 1002);
main::violation($t, $V, 'ping of 126 bytes', main::f(opcode => 9,
    payload => 'p' x 126), 1002);
main::violation($t, $V, 'close of 126 bytes', main::f(opcode => 8,
    payload => pack('n', 1000) . ('r' x 124)), 1002);
# a ping of 125 bytes is fine
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
    want_pongs => 1);
$ws->send_ping('p' x 125);
my $m = $ws->next_message;
ok($m && $m->{opcode} == 10 && $m->{payload} eq 'p' x 125,
    'a 125-byte ping gets its pong');



=== TEST 5: fragments out of order: 1002
--- websocket
--- setup
user alice
vault notes
--- perl
main::violation($t, $V, 'a continuation with nothing to continue',
    main::f(opcode => 0, payload => $main::HELLO), 1002);
main::violation($t, $V, 'a first fragment, then a new text frame',
    main::f(fin => 0, payload => '{"type":') . main::f(payload => '{}'),
    1002);
main::violation($t, $V, 'a first fragment, then a new text first fragment',
    main::f(fin => 0, payload => '{"type":')
    . main::f(fin => 0, payload => '{'), 1002);
main::violation($t, $V, 'a text fragment, then binary',
    main::f(fin => 0, payload => '{"type":')
    . main::f(opcode => 2, payload => 'x'), 1002);
main::violation($t, $V, 'a finished message, then a continuation',
    main::f(payload => '{}') . main::f(opcode => 0, payload => 'x'), 1002,
    answers => 1);



=== TEST 6: invalid UTF-8 in text: 1007
--- websocket
--- setup
user alice
vault notes
--- perl
my %bad = (
    'a lone 0xff' => "\xff",
    'a continuation byte' => "\x80",
    'overlong /' => "\xc0\xaf",
    'overlong NUL' => "\xc0\x80",
    'a surrogate' => "\xed\xa0\x80",
    'above U+10FFFF' => "\xf4\x90\x80\x80",
    'cut at the end' => "\xe2\x82",
    'a 5-byte form' => "\xf8\x88\x80\x80\x80",
);
for my $k (sort keys %bad) {
    main::violation($t, $V, "$k in a hello",
        main::f(payload => qq({"type":"hello","vault":"n$bad{$k}"})), 1007);
}
main::violation($t, $V, 'invalid UTF-8 across fragments',
    main::f(fin => 0, payload => qq({"type":"x","v":"\xe2\x82))
    . main::f(opcode => 0, payload => qq(\x28"})), 1007);
main::violation($t, $V, 'cut at the end of the last fragment',
    main::f(fin => 0, payload => qq({"type":"x","v":"))
    . main::f(opcode => 0, payload => qq(\xe2\x82)), 1007);
main::violation($t, $V, 'invalid UTF-8 after hello',
    main::f(payload => qq({"type":"delete","id":1,"path":"\xff",)
    . qq("base_version":1})), 1007, hello => 1);
main::violation($t, $V, 'a close reason that is not UTF-8',
    main::f(opcode => 8, payload => pack('n', 1000) . "\xff\xfe"), 1007);
# binary frames are not checked (they get bad_message)
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->send_binary("\xff\xfe");
json_subset_ok($ws->recv_json, { type => 'error', code => 'bad_message' },
    'invalid UTF-8 in binary: bad_message, no close');



=== TEST 7: bad close frames: 1002
--- websocket
--- setup
user alice
vault notes
--- perl
main::violation($t, $V, 'a 1-byte close', main::f(opcode => 8,
    payload => "\x03"), 1002);
for my $code (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2999, 5000,
              65535)
{
    main::violation($t, $V, "close code $code", main::f(opcode => 8,
        payload => pack('n', $code)), 1002);
}



=== TEST 8: good close frames are answered and the connection ends
--- websocket
--- setup
user alice
vault notes
--- perl
for my $code (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000,
              4999)
{
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    $ws->subscribe('notes', since => 0);
    $ws->send_close($code, 'bye');
    # RFC 6455 5.5.1: the answer "typically" echoes the code; gobi says 1000
    like($ws->recv_close // 'none', qr/^(?:1000|$code)$/,
        "close $code: answered");
    ok($ws->wait_eof, "close $code: the connection ends");
}
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->send_close;
is($ws->recv_close, 1000, 'an empty close: answered with 1000');
ok($ws->wait_eof, 'and the connection ends');



=== TEST 9: messages over gobi_ws_max_message: 1009; up to it: fine
--- websocket
--- gobi_config
gobi_ws_max_message 1k;
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->send_text('x' x 1024);
json_subset_ok($ws->recv_json, { type => 'error', code => 'bad_message' },
    '1024 bytes: read (and found not JSON)');
$ws->send_fragments(1, [ ('y' x 256) x 4 ]);
json_subset_ok($ws->recv_json, { type => 'error', code => 'bad_message' },
    '4 fragments of 256 bytes: read');
main::violation($t, $V, '1025 bytes in one frame',
    main::f(payload => 'x' x 1025), 1009);
main::violation($t, $V, '1025 bytes in fragments',
    main::f(fin => 0, payload => 'x' x 1000)
    . main::f(opcode => 0, payload => 'x' x 25), 1009);
main::violation($t, $V, 'a header announcing 2^40 bytes',
    main::f(payload => 'x', len => 2 ** 40), 1009);
main::violation($t, $V, 'a big binary frame',
    main::f(opcode => 2, payload => 'b' x 5000), 1009);
main::violation($t, $V, 'too big after hello',
    main::f(payload => 'x' x 2000), 1009, hello => 1);



=== TEST 10: the default limit is 64k, the JSON limit: a bigger message is never buffered
--- websocket
--- setup
user alice
vault notes
--- perl
main::violation($t, $V, '64 KiB + 1 bytes',
    main::f(payload => 'x' x (64 * 1024 + 1)), 1009);
main::violation($t, $V, '1 MiB',
    main::f(payload => 'x' x (1024 * 1024)), 1009);
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->send_text('x' x (64 * 1024));
json_subset_ok($ws->recv_json(30), { type => 'error',
    code => 'bad_message' }, '64 KiB exactly: read');



=== TEST 11: a 64-bit length with the top bit set: the connection is closed
--- websocket
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->send_raw(pack('CC', 0x81, 0xff) . pack('Q>', 2 ** 63 + 5)
    . 'MASK' . 'xyz');
my $code = $ws->recv_close;
like($code // 'none', qr/^100[29]$/, 'closed with 1002 or 1009');
ok($ws->wait_eof, 'and the connection ends');



=== TEST 12: legal but unusual: fragments, pings between them, 1-byte writes
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
# the hello in five fragments with a ping in between
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
    want_pongs => 1);
my @parts = unpack '(a12)*', $main::HELLO;
$ws->send_fragments(1, \@parts, interleave => { after => 1,
    frame => { opcode => 9, payload => 'mid' } });
my $m = $ws->next_message;
ok($m && $m->{opcode} == 10 && $m->{payload} eq 'mid',
    'the ping between fragments is answered first');
json_subset_ok($ws->recv_json, { type => 'welcome' }, 'the hello worked');
json_subset_ok($ws->recv_json, { type => 'events' }, 'the replay');

# a fragment of length 0, empty first and last fragments
$ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->send_fragments(1, [ '', $main::HELLO, '' ]);
json_subset_ok($ws->recv_json, { type => 'welcome' },
    'empty fragments around the hello');

# UTF-8 split in the middle of a character across fragments
$ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
my $h = qq({"type":"hello","vault":"notes","since":0,"device":"caf\xc3\xa9)
    . qq( \xe2\x82\xac \xf0\x9f\x98\x80"});
my $i = index($h, "\xe2") + 1;
my $j = index($h, "\xf0") + 2;
$ws->send_fragments(1, [ substr($h, 0, $i), substr($h, $i, $j - $i),
    substr($h, $j) ]);
json_subset_ok($ws->recv_json, { type => 'welcome' },
    'characters split across fragments');

# every frame written one byte at a time, a ping too
$ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
    want_pongs => 1);
ok($ws->send_frame(payload => $main::HELLO, split => 1),
    'hello, one byte per write');
json_subset_ok($ws->recv_json, { type => 'welcome' }, 'welcome');
json_subset_ok($ws->recv_json, { type => 'events' }, 'replay');
$ws->send_ping('slow', split => 1);
$m = $ws->next_message;
ok($m && $m->{opcode} == 10 && $m->{payload} eq 'slow', 'pong');
ok($ws->send_frame(payload => json_encode({ type => 'delete', id => 1,
    path => 'a.txt', base_version => 1 }), split => 1, delay => 0.002),
    'an operation, one byte per write');
my ($ack) = $ws->recv_until(sub { $_->{type} eq 'ack' });
json_subset_ok($ack, { id => 1, seq => 2 }, 'ack');
my ($ev) = $ws->recv_until(sub { $_->{type} eq 'event' });
json_subset_ok($ev, { event => { seq => 2 } }, 'and its event');
# a big frame (16-bit length) split at odd places
$ws->send_frame(payload => json_encode({ type => 'nope', pad => 'p' x 300 }),
    split => 7);
json_subset_ok($ws->recv_json, { type => 'error', code => 'bad_message' },
    'a 16-bit length frame in 7-byte writes');
# a 64-bit length frame (65,536 bytes: the limit, read)
$ws->send_frame(payload => 'z' x 65536);
json_subset_ok($ws->recv_json, { type => 'error', code => 'bad_message' },
    'a 64-bit length frame is read');
# unsolicited pongs are ignored
$ws->send_pong('unasked');
$ws->send_ping('after');
$m = $ws->next_message;
ok($m && $m->{opcode} == 10 && $m->{payload} eq 'after',
    'an unsolicited pong is ignored');



=== TEST 13: many small frames in one write, and a frame split across many writes
--- websocket
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
    want_pongs => 1);
$ws->send_raw(join '', map { main::f(opcode => 9, payload => "p$_") }
    1 .. 500);
my @p;
while (@p < 500) {
    my $m = $ws->next_message or last;
    push @p, $m->{payload} if $m->{opcode} == 10;
}
is_deeply(\@p, [ map { "p$_" } 1 .. 500 ], '500 pings, 500 pongs in order');
# 20 KB of frames across a read buffer boundary, split in 1000-byte writes
my $big = join '', map { main::f(payload => '{"type":"x' . $_ . '"}') }
    1 .. 600;
$ws->send_raw($big, split => 1000, delay => 0.001);
my $n = grep { ref && $_->{type} eq 'error' } map { $ws->recv_json } 1 .. 600;
is($n, 600, '600 errors for 600 messages');



=== TEST 14: random bytes and random frames on 300 connections: no worker dies or stalls
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $seed = $ENV{GOBI_SEED} // 105;
note("seed $seed (GOBI_SEED=...)");
srand $seed;
my @pids = sort $t->worker_pids;
my $rnd = sub { join '', map { chr int rand 256 } 1 .. $_[0] };
my @stalled;
for my $i (1 .. 300) {
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    $ws->ok or next;
    $ws->subscribe('notes', since => 0) if $i % 2;
    my $bytes = '';
    for (1 .. 1 + int rand 6) {
        my $r = rand;
        if ($r < 0.2) {
            $bytes .= $rnd->(1 + int rand 40);
        } else {
            my $len = int rand 300;
            $bytes .= $ws->frame(opcode => int rand 16, fin => rand() < 0.7,
                rsv => rand() < 0.1 ? int rand 8 : 0,
                mask => rand() < 0.95,
                payload => rand() < 0.5 ? $rnd->($len)
                    : json_encode({ type => (qw(hello rename delete x))[rand 4],
                        id => int rand 9, path => 'a.txt', from => 'a.txt',
                        to => 'b' . int(rand 5), vault => 'notes',
                        since => int rand 3, base_version => int rand 3 }),
                rand() < 0.05 ? (len => int rand 2 ** 20) : ());
        }
    }
    # half of them are left in the middle of what they sent
    if ($i % 4 == 0) {
        $ws->send_raw(substr $bytes, 0, int rand length $bytes);
        push @stalled, $ws;
    } else {
        $ws->send_raw($bytes, rand() < 0.2 ? (split => 3) : ());
        $ws->drop if $i % 3 == 0;
    }
}
# the server still works, on every worker
my ($all, %by) = ([]);
for (1 .. 40) {
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    $ws->subscribe('notes', since => 0);
    push @{ $by{ $ws->worker_pid($t) // 0 } }, $ws;
    last if keys %by >= 2;
}
my $r = $c->put('notes', 'after.txt', 'x');
is($r->status, 201, 'REST still answers');
my $seq = $r->json->{seq};
for my $pid (sort keys %by) {
    my ($m) = $by{$pid}[0]->recv_until(sub { $_->{type} eq 'event'
        && $_->{event}{seq} == $seq });
    ok($m, "a new session on worker $pid gets live events");
}
is_deeply([ sort $t->worker_pids ], \@pids, 'the same workers are running');
unlike($t->error_log, qr/exited on signal|\[alert\]|\[crit\]/,
    'no crash in the log');



=== TEST 15: a close with the peer's bytes still unread ends in the end of stream, not a reset
--- websocket
--- setup
user alice
vault notes
--- perl
# the server stops reading at the bad frame; closing the socket with the
# 96 KiB behind it unread would reset the connection, and a reset can take
# the close frame away from a peer that has not read it yet
my $pings = join '', map { main::f(opcode => 9, payload => 'p' x 120) }
    1 .. 750;
my $ws = main::violation($t, $V, 'bad frame, pings behind it',
    main::f(payload => '{}', mask => 0) . $pings, 1002, hello => 1);
is($ws->{read_error}, undef, 'no reset: the server read what came')
    or diag $ws->{read_error};
