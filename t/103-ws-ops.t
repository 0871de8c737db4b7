# Metadata operations over the WebSocket: rename and delete with ack and
# the event to every subscriber (the sender too); stale or impossible
# operations get reject with actions that tell the client how to catch up.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

sub main::session {
    my ($t, $V, %o) = @_;
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    die 'no 101: ' . ($ws->error // '') unless $ws->ok;
    $ws->subscribe($o{vault} // 'notes', since => $o{since} // 0,
        %{ $o{hello} || {} });
    return $ws;
}

# sends an operation and returns the answer with the same id (ack, reject
# or error), and the messages that came before it
sub main::ask_all {
    my ($ws, $m, $timeout) = @_;
    $ws->send_json($m);
    my $id = json_encode($m->{id});
    my ($r, $before) = $ws->recv_until(sub {
        $_->{type} =~ /^(?:ack|reject|error)$/
            && json_encode($_->{id}) eq $id }, $timeout);
    return ($r, $before);
}

# the answer only
sub main::ask { my ($r) = main::ask_all(@_); return $r }

# the head seq of the vault, by REST
sub main::head {
    my ($c, $vault) = @_;
    return $c->events($vault // 'notes', since => 0)->json->{head_seq};
}

run_tests();

__DATA__

=== TEST 1: delete: ack, the event to the sender and to another subscriber, the file is gone
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
--- perl
my $x = main::session($t, $V);
my $y = main::session($t, $V);
my ($ack, $before) = main::ask_all($x, { type => 'delete', id => 'd1',
    path => 'a.txt', base_version => 1 });
json_subset_ok($ack, { type => 'ack', id => 'd1', seq => 3, version => 3 },
    'ack');
my $want = { type => 'event', event => { seq => 3, type => 'delete',
    path => 'a.txt', version => 3, from => '<absent>', ts => '<integer>' } };
my ($ev) = @$before ? @$before : $x->recv_json;
json_subset_ok($ev, $want, 'the sender gets the event');
json_subset_ok($y->recv_json, $want, 'the other subscriber gets it');
is($c->get('notes', 'a.txt')->status, 404, 'GET a.txt: 404');
is($c->get('notes', 'b.txt')->status, 200, 'b.txt is still there');
is(main::head($c), 3, 'head 3');
is_deeply([ $x->drain(0.3), $y->drain(0) ], [], 'nothing else');



=== TEST 2: rename: ack, a rename event with from, the bytes at the new path
--- websocket
--- setup
user alice
vault notes
put notes a.txt hello
--- perl
my $x = main::session($t, $V);
my $y = main::session($t, $V);
json_subset_ok(main::ask($x, { type => 'rename', id => 1, from => 'a.txt',
    to => 'dir/sub/b.txt', base_version => 1 }),
    { type => 'ack', id => 1, seq => 2, version => 2 }, 'ack');
my $want = { type => 'event', event => { seq => 2, type => 'rename',
    from => 'a.txt', path => 'dir/sub/b.txt', version => 2,
    hash => blake2b_hex('hello'), size => 5, mtime => '<integer>' } };
my ($ev) = $x->recv_until(sub { $_->{type} eq 'event' });
json_subset_ok($ev, $want, 'the sender gets the event');
json_subset_ok($y->recv_json, $want, 'the other subscriber gets it');
my $r = $c->get('notes', 'dir/sub/b.txt');
is($r->status, 200, 'GET the new path');
is($r->body, 'hello', 'the same bytes');
is($c->get('notes', 'a.txt')->status, 404, 'the old path is gone');
json_subset_ok($c->events('notes', since => 1)->json->{events},
    [ { seq => 2, type => 'rename', from => 'a.txt',
        path => 'dir/sub/b.txt' } ], 'in the log');
# a rename onto the path of a deleted file is fine
$c->put_ok('notes', 'c.txt', 'C');
is($c->delete('notes', 'c.txt')->status, 200, 'delete c.txt');
json_subset_ok(main::ask($x, { type => 'rename', id => 2,
    from => 'dir/sub/b.txt', to => 'c.txt', base_version => 2 }),
    { type => 'ack', id => 2, seq => 5 }, 'rename onto a tombstone: ack');



=== TEST 3: stale delete and stale rename (server-wins): version_conflict, download the current version
--- websocket
--- setup
user alice
vault notes
strategy notes server-wins
put notes a.txt A
put notes a.txt A2
--- perl
my $x = main::session($t, $V);
json_subset_ok(main::ask($x, { type => 'delete', id => 1, path => 'a.txt',
    base_version => 1 }), { type => 'reject', id => 1,
    code => 'version_conflict', message => '<string>',
    actions => [ { op => 'download', path => 'a.txt', version => 2 } ] },
    'stale delete');
json_subset_ok(main::ask($x, { type => 'rename', id => 2, from => 'a.txt',
    to => 'b.txt', base_version => 1 }), { type => 'reject', id => 2,
    code => 'version_conflict',
    actions => [ { op => 'download', path => 'a.txt', version => 2 } ] },
    'stale rename');
# a newer base than the server's is no better
json_subset_ok(main::ask($x, { type => 'delete', id => 3, path => 'a.txt',
    base_version => 9 }), { type => 'reject', id => 3,
    code => 'version_conflict' }, 'a base from the future');
is(main::head($c), 2, 'no event was written');
is($c->get('notes', 'a.txt')->body, 'A2', 'a.txt as it was');
is($c->get('notes', 'b.txt')->status, 404, 'no b.txt');
is_deeply([ $x->drain(0.3) ], [], 'no event was sent');
# the session goes on: with the current version it works
json_subset_ok(main::ask($x, { type => 'delete', id => 4, path => 'a.txt',
    base_version => 2 }), { type => 'ack', id => 4, seq => 3 },
    'then with base 2: ack');



=== TEST 4: a path the server does not have: file_not_found, delete_local
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $x = main::session($t, $V);
json_subset_ok(main::ask($x, { type => 'delete', id => 1,
    path => 'never.txt', base_version => 5 }), { type => 'reject', id => 1,
    code => 'file_not_found', message => '<string>',
    actions => [ { op => 'delete_local', path => 'never.txt' } ] },
    'delete of a path never seen');
json_subset_ok(main::ask($x, { type => 'rename', id => 2,
    from => 'never.txt', to => 'b.txt', base_version => 5 }),
    { type => 'reject', id => 2, code => 'file_not_found',
      actions => [ { op => 'delete_local', path => 'never.txt' } ] },
    'rename of a path never seen');
is(main::head($c), 1, 'no event');



=== TEST 5: a file deleted by someone else: reject telling the client to delete its copy
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
delete notes a.txt
--- perl
my $x = main::session($t, $V);
for my $m ({ type => 'delete', id => 1, path => 'a.txt', base_version => 1 },
           { type => 'rename', id => 2, from => 'a.txt', to => 'b.txt',
             base_version => 1 })
{
    my $r = main::ask($x, $m);
    json_subset_ok($r, { type => 'reject', id => $m->{id},
        code => qr/^(?:file_not_found|version_conflict)$/,
        actions => [ { op => 'delete_local', path => 'a.txt' } ] },
        "$m->{type} of a deleted file: delete_local");
}
is(main::head($c), 2, 'no event');



=== TEST 6: a file renamed by someone else: reject with rename_local
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $x = main::session($t, $V);
my $y = main::session($t, $V);
json_subset_ok(main::ask($y, { type => 'rename', id => 'y', from => 'a.txt',
    to => 'moved.txt', base_version => 1 }), { type => 'ack', seq => 2 },
    'y renames a.txt');
for my $m ({ type => 'delete', id => 1, path => 'a.txt', base_version => 1 },
           { type => 'rename', id => 2, from => 'a.txt', to => 'c.txt',
             base_version => 1 })
{
    json_subset_ok(main::ask($x, $m), { type => 'reject', id => $m->{id},
        code => qr/^(?:file_not_found|version_conflict)$/,
        actions => [ { op => 'rename_local', from => 'a.txt',
                       to => 'moved.txt' } ] },
        "x's stale $m->{type}: rename_local a.txt -> moved.txt");
}
is(main::head($c), 2, 'no event');



=== TEST 7: rename onto an existing file: target_exists, download the target
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
put notes b.txt B2
--- perl
my $x = main::session($t, $V);
json_subset_ok(main::ask($x, { type => 'rename', id => 1, from => 'a.txt',
    to => 'b.txt', base_version => 1 }), { type => 'reject', id => 1,
    code => 'target_exists', message => '<string>',
    actions => [ { op => 'download', path => 'b.txt', version => 3 } ] },
    'target_exists');
is(main::head($c), 3, 'no event');
is($c->get('notes', 'a.txt')->body, 'A', 'a.txt untouched');
is($c->get('notes', 'b.txt')->body, 'B2', 'b.txt untouched');



=== TEST 8: invalid paths: invalid_path with no actions, nothing written
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $x = main::session($t, $V);
my @bad = ('../a.txt', '/a.txt', '', 'a//b', './a.txt', 'a/../b', 'a/',
    "a\x01b", "a\x7fb", 'x' x 256, join('/', ('y' x 200) x 21),
    '.', '..');
my $i = 0;
for my $p (@bad) {
    my $show = json_encode(substr($p, 0, 30));
    for my $m ({ type => 'delete', path => $p, base_version => 1 },
               { type => 'rename', from => 'a.txt', to => $p,
                 base_version => 1 },
               { type => 'rename', from => $p, to => 'b.txt',
                 base_version => 1 })
    {
        $m->{id} = ++$i;
        my $r = main::ask($x, $m);
        json_subset_ok($r, { type => 'reject', id => $i,
            code => 'invalid_path', message => '<string>', actions => [] },
            "$m->{type} with $show: invalid_path");
    }
}
is(main::head($c), 1, 'no event');
is($c->get('notes', 'a.txt')->body, 'A', 'a.txt untouched');
my @files = $t->files_under;
ok(!grep({ m{\.\.|^/} } @files), 'nothing outside the vault');



=== TEST 9: ids come back as they were sent, strings and numbers
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $x = main::session($t, $V);
for my $id ('abc', "\x{e9}t\x{e9} \"q\" \\", 0, -5, 123456789012, 1.5,
            'x' x 200)
{
    my $r = main::ask($x, { type => 'delete', id => $id, path => 'nope',
        base_version => 1 });
    ok($r, 'an answer for id ' . json_encode($id));
    is(json_encode($r->{id}), json_encode($id), 'the id as sent')
        if $r;
}
# the raw text of a number id is echoed verbatim
$x->send_text('{"type":"delete","id":1e3,"path":"nope","base_version":1}');
my $m = $x->next_message;
like($m->{payload}, qr/"id":1e3\b/, 'a number id as written');



=== TEST 10: operations pipelined in one write are applied in order
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
--- perl
my $x = main::session($t, $V);
my $y = main::session($t, $V);
my @ops = (
    { type => 'rename', id => 1, from => 'a.txt', to => 'c.txt',
      base_version => 1 },                                   # 3
    { type => 'rename', id => 2, from => 'c.txt', to => 'd.txt',
      base_version => 3 },                                   # 4
    { type => 'delete', id => 3, path => 'b.txt', base_version => 2 },  # 5
    { type => 'delete', id => 4, path => 'b.txt', base_version => 2 },
    { type => 'rename', id => 5, from => 'd.txt', to => 'a.txt',
      base_version => 4 },                                   # 6
);
ok($x->send_raw(join '', map { $x->frame(payload => json_encode($_)) }
    @ops), 'five operations in one write');
my @ans;
my @ev;
while (@ans < 5) {
    my $m = $x->recv_json or last;
    if ($m->{type} eq 'event') { push @ev, $m->{event}{seq}; next }
    push @ans, "$m->{type} $m->{id}" . ($m->{seq} ? " $m->{seq}" : '');
}
is_deeply(\@ans, [ 'ack 1 3', 'ack 2 4', 'ack 3 5', 'reject 4', 'ack 5 6' ],
    'answered in order, each based on the one before');
my ($last) = $y->recv_until(sub { $_->{event}{seq} == 6 });
ok($last, 'the other subscriber got up to seq 6');
is($c->get('notes', 'a.txt')->body, 'A', 'a.txt is back');



=== TEST 11: an operation pipelined behind the hello waits for the replay
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $x = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$x->send_raw($x->frame(payload => json_encode({ type => 'hello',
    vault => 'notes', since => 0, protocol => 1 }))
    . $x->frame(payload => json_encode({ type => 'delete', id => 9,
    path => 'a.txt', base_version => 1 })));
my @types = map { $_->{type} } grep { ref } map { $x->recv_json } 1 .. 4;
is_deeply(\@types, [ qw(welcome events ack event) ],
    'welcome, replay, then the ack and the event');



=== TEST 12: an operation from another user's point of view: it cannot reach the vault
--- websocket
--- setup
user bob
vault notes
put notes a.txt B
user alice
vault notes
put notes a.txt A
--- perl
my $x = main::session($t, $V);
json_subset_ok(main::ask($x, { type => 'delete', id => 1, path => 'a.txt',
    base_version => 1 }), { type => 'ack' }, "alice deletes her a.txt");
$c->as('bob');
is($c->get('notes', 'a.txt')->body, 'B', "bob's a.txt is untouched");
