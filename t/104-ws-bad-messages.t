# Bad messages get {"type":"error","code":"bad_message","message"} and the
# session stays usable: not JSON, not an object, unknown or missing type,
# missing fields, wrong types, a second hello, operations before hello,
# binary messages, duplicate keys, deep nesting, NUL, more than 64 keys.
# A message over 64 KiB (gobi_ws_max_message) closes with 1009.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

our @JUNK = (
    [ 'empty', '' ],
    [ 'not JSON', 'hello' ],
    [ 'cut short', '{"type":"hello","vault":"notes"' ],
    [ 'trailing garbage', '{"type":"hello","vault":"notes","since":0} x' ],
    [ 'two objects', '{"type":"x"}{"type":"y"}' ],
    [ 'an array', '[{"type":"hello"}]' ],
    [ 'a string', '"hello"' ],
    [ 'a number', '42' ],
    [ 'null', 'null' ],
    [ 'single quotes', "{'type':'hello'}" ],
    [ 'a comment', '{"type":"hello",/* x */"vault":"notes","since":0}' ],
    [ 'a line comment', "{\"type\":\"hello\", // x\n\"vault\":\"notes\"}" ],
    [ 'no type', '{"vault":"notes","since":0}' ],
    [ 'type null', '{"type":null}' ],
    [ 'type a number', '{"type":1}' ],
    [ 'type an object', '{"type":{"a":1}}' ],
    [ 'unknown type', '{"type":"subscribe","vault":"notes"}' ],
    [ 'type in another case', '{"type":"HELLO","vault":"notes","since":0}' ],
    [ 'server message type', '{"type":"welcome","vault":"notes"}' ],
    [ 'duplicate keys', '{"type":"delete","type":"hello","vault":"notes",'
        . '"since":0}' ],
    [ 'NUL escape', '{"type":"hello","vault":"no\u0000tes","since":0}' ],
    [ 'deep nesting', '{"type":"hello","x":' . ('[' x 100) . (']' x 100)
        . '}' ],
    [ 'very deep nesting', ('[' x 32000) . (']' x 32000) ],
    [ 'unbalanced', '{"type":"hello"]' ],
    [ 'a NUL byte', "{\"type\":\"hello\",\x00\"vault\":\"notes\"}" ],
    [ '65 keys', '{"type":"hello","vault":"notes","since":0,'
        . join(',', map { qq("k$_":1) } 1 .. 62) . '}' ],
    [ 'an object of 65 keys inside', '{"type":"hello","vault":"notes",'
        . '"since":0,"x":{' . join(',', map { qq("k$_":1) } 1 .. 65)
        . '}}' ],
    [ '7,000 keys in 64 KiB', '{' . join(',', map { qq("$_":1) }
        1 .. 7000) . '}' ],
);

# hello with something wrong
our @BAD_HELLO = (
    [ 'no vault', { since => 0 } ],
    [ 'vault null', { vault => undef, since => 0 } ],
    [ 'vault a number', { vault => 5, since => 0 } ],
    [ 'vault an array', { vault => [ 'notes' ], since => 0 } ],
    [ 'no since', { vault => 'notes' } ],
    [ 'since negative', { vault => 'notes', since => -1 } ],
    [ 'since a string', { vault => 'notes', since => '0' } ],
    [ 'since a float', { vault => 'notes', since => 1.5 } ],
    [ 'since true', { vault => 'notes', since => JSON::PP::true } ],
    [ 'since too big', { vault => 'notes', since => '<big>' } ],
    [ 'protocol 2', { vault => 'notes', since => 0, protocol => 2 } ],
    [ 'protocol 0', { vault => 'notes', since => 0, protocol => 0 } ],
    [ 'protocol a string', { vault => 'notes', since => 0,
        protocol => '1' } ],
    [ 'device a number', { vault => 'notes', since => 0, device => 7 } ],
    [ 'device too long', { vault => 'notes', since => 0,
        device => 'd' x 65 } ],
);

# operations with something wrong (an id the error can carry)
our @BAD_OPS = (
    [ 'rename: no from', { type => 'rename', to => 'b', base_version => 1 } ],
    [ 'rename: no to', { type => 'rename', from => 'a', base_version => 1 } ],
    [ 'rename: no base_version', { type => 'rename', from => 'a',
        to => 'b' } ],
    [ 'rename: from a number', { type => 'rename', from => 1, to => 'b',
        base_version => 1 } ],
    [ 'rename: to null', { type => 'rename', from => 'a', to => undef,
        base_version => 1 } ],
    [ 'rename: base_version a string', { type => 'rename', from => 'a',
        to => 'b', base_version => '1' } ],
    [ 'delete: no path', { type => 'delete', base_version => 1 } ],
    [ 'delete: path an object', { type => 'delete', path => { a => 1 },
        base_version => 1 } ],
    [ 'delete: no base_version', { type => 'delete', path => 'a' } ],
    [ 'delete: base_version negative', { type => 'delete', path => 'a',
        base_version => -3 } ],
    [ 'delete: base_version a float', { type => 'delete', path => 'a',
        base_version => 2.5 } ],
    [ 'delete: base_version null', { type => 'delete', path => 'a',
        base_version => undef } ],
);

# operations whose id itself is wrong
our @BAD_IDS = (
    [ 'no id', { type => 'delete', path => 'a', base_version => 1 } ],
    [ 'id null', { type => 'delete', id => undef, path => 'a',
        base_version => 1 } ],
    [ 'id true', { type => 'delete', id => JSON::PP::true, path => 'a',
        base_version => 1 } ],
    [ 'id an object', { type => 'delete', id => { x => 1 }, path => 'a',
        base_version => 1 } ],
    [ 'id an array', { type => 'delete', id => [ 1 ], path => 'a',
        base_version => 1 } ],
    [ 'id too long', { type => 'delete', id => 'i' x 300, path => 'a',
        base_version => 1 } ],
);

# the JSON text of a message, with "<big>" as a 30-digit number
sub main::text_of {
    my ($m) = @_;
    my $t = json_encode($m);
    $t =~ s/"<big>"/123456789012345678901234567890/g;
    return $t;
}

# sends text; the answer must be a bad_message error (with the id when
# given); returns the raw answer
sub main::bad_ok {
    my ($ws, $name, $text, $id) = @_;
    ok($ws->send_text($text), "$name: sent");
    my $m = $ws->next_message;
    my $j = $m && defined $m->{opcode} && $m->{opcode} == 1 ? $m->{json}
          : undef;
    my $want = { type => 'error', code => 'bad_message',
        message => qr/\S/ };
    $want->{id} = $id if defined $id;
    json_subset_ok($j, $want, "$name: bad_message")
        or diag('got: ' . json_encode($m // $ws->last_msg));
    like($m->{payload} // '', qr/^\{"type":"error",/, "$name: type first")
        if $j;
    return $m;
}

# the session still works: a ping is answered, a REST write arrives
sub main::still_usable {
    my ($ws, $name) = @_;
    $ws->{want_pongs} = 1;
    $ws->send_ping('still?');
    my $m = $ws->next_message;
    $ws->{want_pongs} = 0;
    ok($m && $m->{opcode} == 0xa && $m->{payload} eq 'still?',
        "$name: the session answers a ping");
}

run_tests();

__DATA__

=== TEST 1: junk before hello: errors, then a hello still works
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
main::bad_ok($ws, $_->[0], $_->[1]) for @main::JUNK;
main::still_usable($ws, 'after junk');
my ($w, $ev) = $ws->subscribe('notes', since => 0);
json_subset_ok($w, { type => 'welcome', head_seq => 1 }, 'then hello works');
--- no_error_log
[alert]



=== TEST 2: bad hellos: errors, then a good hello works
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
for my $h (@main::BAD_HELLO) {
    my ($name, $m) = @$h;
    main::bad_ok($ws, $name, main::text_of({ type => 'hello', %$m }));
}
my ($w, $ev) = $ws->subscribe('notes', since => 0, device => 'd' x 64);
json_subset_ok($w, { type => 'welcome', head_seq => 1 },
    'then hello works (device of 64 bytes)');
is(scalar @$ev, 1, 'with its replay');



=== TEST 3: operations before hello: an error with the id, nothing done
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
main::bad_ok($ws, 'delete before hello', json_encode({ type => 'delete',
    id => 'early', path => 'a.txt', base_version => 1 }), 'early');
main::bad_ok($ws, 'rename before hello', json_encode({ type => 'rename',
    id => 2, from => 'a.txt', to => 'b.txt', base_version => 1 }), 2);
is($c->events('notes', since => 0)->json->{head_seq}, 1, 'nothing done');
# a failed hello (unknown vault) does not make operations possible
$ws->hello('nope', since => 0);
json_subset_ok($ws->recv_json, { type => 'error', code => 'vault_not_found' },
    'hello to an unknown vault');
main::bad_ok($ws, 'delete after a failed hello', json_encode({
    type => 'delete', id => 3, path => 'a.txt', base_version => 1 }), 3);
is($c->events('notes', since => 0)->json->{head_seq}, 1, 'nothing done');
main::still_usable($ws, 'after all that');



=== TEST 4: a second hello is an error; the first subscription goes on
--- websocket
--- setup
user alice
vault notes
vault other
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->subscribe('notes', since => 0);
main::bad_ok($ws, 'the same hello again', json_encode({ type => 'hello',
    vault => 'notes', since => 0, protocol => 1 }));
main::bad_ok($ws, 'hello for another vault', json_encode({ type => 'hello',
    vault => 'other', since => 0, protocol => 1 }));
main::bad_ok($ws, 'hello for an unknown vault', json_encode({
    type => 'hello', vault => 'nope', since => 0, protocol => 1 }));
$c->put_ok('other', 'o.txt', 'O');
$c->put_ok('notes', 'n.txt', 'N');
my $m = $ws->recv_json;
json_subset_ok($m, { type => 'event', event => { seq => 1,
    path => 'n.txt' } }, 'still subscribed to notes, and to notes only');



=== TEST 5: bad operations after hello: errors with the id; then operations work
--- websocket
--- setup
user alice
vault notes
put notes a JUNK
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->subscribe('notes', since => 0);
my $i = 0;
for my $o (@main::BAD_OPS) {
    my ($name, $m) = @$o;
    $m = { %$m, id => 'op' . ++$i };
    main::bad_ok($ws, $name, json_encode($m), $m->{id});
}
for my $o (@main::BAD_IDS) {
    my ($name, $m) = @$o;
    main::bad_ok($ws, $name, json_encode($m));
}
main::bad_ok($ws, $_->[0], $_->[1]) for @main::JUNK;
is($c->events('notes', since => 0)->json->{head_seq}, 1, 'nothing done');
$ws->send_json({ type => 'delete', id => 'ok', path => 'a',
    base_version => 1 });
my ($ack) = $ws->recv_until(sub { $_->{type} eq 'ack' });
json_subset_ok($ack, { id => 'ok', seq => 2 }, 'a good operation: ack');
--- no_error_log
[alert]



=== TEST 6: binary messages are not part of the protocol
--- websocket
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
ok($ws->send_binary('{"type":"hello","vault":"notes","since":0}'),
    'binary hello');
my $m = $ws->recv_json;
json_subset_ok($m, { type => 'error', code => 'bad_message' },
    'bad_message');
ok($ws->send_binary("\x00\xff" x 1000), 'binary junk');
json_subset_ok($ws->recv_json, { type => 'error', code => 'bad_message' },
    'bad_message');
my ($w) = $ws->subscribe('notes', since => 0);
ok($w, 'then hello works');



=== TEST 7: a hundred bad messages in one write, then a good one
--- websocket
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
my @j = map { $main::JUNK[$_ % @main::JUNK][1] } 0 .. 99;
$ws->send_raw(join('', map { $ws->frame(payload => $_) } @j)
    . $ws->frame(payload => json_encode({ type => 'hello', vault => 'notes',
        since => 0, protocol => 1 })));
my @got = map { $ws->recv_json } 1 .. 102;
is(scalar(grep { ref $_ && $_->{type} eq 'error' } @got[0 .. 99]), 100,
    '100 errors');
json_subset_ok($got[100], { type => 'welcome' }, 'then the welcome');
json_subset_ok($got[101], { type => 'events' }, 'and the replay');



=== TEST 8: at most 64 keys per object, counted while the text is scanned
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
for my $k ([ '65 keys', 62, 0 ], [ '65 keys in an inner object', 0, 65 ]) {
    my ($name, $top, $inner) = @$k;
    my $text = '{"type":"hello","vault":"notes","since":0'
        . join('', map { qq(,"k$_":1) } 1 .. $top)
        . ($inner ? ',"x":{' . join(',', map { qq("k$_":1) } 1 .. $inner)
            . '}' : '') . '}';
    my $m = main::bad_ok($ws, $name, $text);
    like($m->{json}{message} // '', qr/more than 64 keys/, "$name: why");
}
my $t0 = Time::HiRes::time();
main::bad_ok($ws, '7,000 keys', '{'
    . join(',', map { qq("$_":1) } 1 .. 7000) . '}');
cmp_ok(Time::HiRes::time() - $t0, '<', 1, '7,000 keys: refused at once');
# 64 keys (unknown ones are ignored)
$ws->send_text('{"type":"hello","vault":"notes","since":0'
    . join('', map { qq(,"k$_":"a:b") } 1 .. 61) . '}');
my ($w, $ev) = $ws->recv_replay;
json_subset_ok($w, { type => 'welcome', head_seq => 1 }, '64 keys: hello');
is(scalar @{ $ev || [] }, 1, 'with its replay');
--- no_error_log
[error]



=== TEST 9: the default gobi_ws_max_message is 64k: a bigger message closes with 1009
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $head = '{"type":"hello","vault":"notes","since":0,"pad":"';
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->send_text($head . ('x' x (65536 - length($head) - 2)) . '"}');
my ($w, $ev) = $ws->recv_replay;
json_subset_ok($w, { type => 'welcome', head_seq => 1 },
    '65,536 bytes of hello: read');
$ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->send_text($head . ('x' x (65537 - length($head) - 2)) . '"}');
is($ws->recv_close, 1009, '65,537 bytes: close 1009');
ok($ws->wait_eof, 'and the connection ends');
--- no_error_log
[error]
