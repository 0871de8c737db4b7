# Replay after hello: the squashed history after the client's cursor, in
# batches, and the rules of lib/gobi_squash.h seen from the wire.  The
# invariant checked everywhere: the client's state at `since` (the REST
# manifest taken then) with the replay applied strictly (a create needs a
# free path, a modify/delete an existing one, a rename both) is exactly
# the manifest at head_seq.
use Gobi::Test;
use Gobi::WS;
use feature 'state';

plan tests => repeat_each() * blocks();

# ---- helpers (package main: the --- perl sections call them) -------------

# the live files of a manifest: { path => { version, hash, size, mtime } }
sub main::state_of {
    my ($c, $vault) = @_;
    my $m = $c->manifest($vault)->json;
    my %st;
    for my $f (@{ $m->{files} }) {
        next if $f->{deleted};
        $st{ $f->{path} } = { map { $_ => $f->{$_} }
            qw(version hash size mtime) };
    }
    return ($m->{seq}, \%st);
}

# applies replayed events to a copy of a state; dies on an event that
# does not apply (the replay would break a client)
sub main::apply {
    my ($st, $events) = @_;
    my %s = map { $_ => { %{ $st->{$_} } } } keys %$st;
    for my $e (@$events) {
        my $t = $e->{type};
        my %content = map { $_ => $e->{$_} } qw(version hash size mtime);
        my $d = json_encode($e);
        if ($t eq 'create') {
            die "create at existing path: $d\n" if exists $s{ $e->{path} };
            $s{ $e->{path} } = \%content;
        } elsif ($t eq 'modify') {
            die "modify of missing path: $d\n" unless exists $s{ $e->{path} };
            $s{ $e->{path} } = \%content;
        } elsif ($t eq 'delete') {
            die "delete of missing path: $d\n" unless exists $s{ $e->{path} };
            delete $s{ $e->{path} };
        } elsif ($t eq 'rename') {
            die "rename from missing path: $d\n" unless exists $s{ $e->{from} };
            die "rename onto existing path: $d\n" if exists $s{ $e->{path} };
            delete $s{ $e->{from} };
            $s{ $e->{path} } = \%content;
        } else {
            die "unknown event type: $d\n";
        }
    }
    return \%s;
}

# a subscribed session: (ws, welcome, events)
sub main::replay {
    my ($t, $V, $vault, $since, %o) = @_;
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    die 'no 101: ' . ($ws->error // '') unless $ws->ok;
    $ws->hello($vault, since => $since, %o);
    my ($w, $ev, $batches, $other) = $ws->recv_replay;
    return ($ws, $w, $ev, $batches, $other);
}

# checks replay(since) applied to the state at since is the state now
sub main::converges {
    my ($t, $V, $c, $vault, $since, $st_since, $name) = @_;
    my ($head, $now) = main::state_of($c, $vault);
    my ($ws, $w, $ev) = main::replay($t, $V, $vault, $since);
    is($w->{head_seq}, $head, "$name: welcome head_seq is the head");
    my $got = eval { main::apply($st_since, $ev) };
    ok($got, "$name: the replay applies") or diag("$@", explain $ev);
    is_deeply($got, $now, "$name: state at since + replay = state at head")
        or diag explain { since => $st_since, events => $ev, head => $now };
    return $ev;
}

# a rename or delete over a session; returns the ack (dies on anything else)
sub main::op {
    my ($ws, %m) = @_;
    state $id = 0;
    $m{id} //= ++$id;
    $ws->send_json(\%m);
    my ($r) = $ws->recv_until(sub {
        ($_->{type} eq 'ack' || $_->{type} eq 'reject'
         || $_->{type} eq 'error') && defined $_->{id} && $_->{id} eq $m{id}
    });
    die 'no answer to ' . json_encode(\%m) . ': '
        . json_encode($ws->last_msg) unless $r;
    return $r;
}

sub main::writer {
    my ($t, $V, $vault) = @_;
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    $ws->subscribe($vault, since => 0);
    return $ws;
}

run_tests();

__DATA__

=== TEST 1: an empty vault: welcome, then one empty batch with more:false
--- websocket
--- setup
user alice
vault notes
--- perl
my ($ws, $w, $ev, $b) = main::replay($t, $V, 'notes', 0);
json_subset_ok($w, { type => 'welcome', vault => 'notes', head_seq => 0,
    oldest_seq => 0, protocol => 1 }, 'welcome');
is(scalar @$b, 1, 'one batch');
json_subset_ok($b->[0], { type => 'events', events => [],
    more => JSON::PP::false }, 'empty, last');
is_deeply([ $ws->drain(0.3) ], [], 'nothing else');



=== TEST 2: replayed events carry the fields of the REST events endpoint
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
put notes dir/b.txt BB
--- perl
my $rest = $c->events('notes', since => 0)->json->{events};
my ($ws, $w, $ev) = main::replay($t, $V, 'notes', 0);
json_subset_ok($w, { type => 'welcome', head_seq => 2, oldest_seq => 1 },
    'welcome');
is(scalar @$ev, 2, 'two events');
for my $i (0, 1) {
    json_subset_ok($ev->[$i], { %{ $rest->[$i] }, from => '<absent>' },
        "event $i as in GET events");
    is_deeply([ sort keys %{ $ev->[$i] } ], [ sort keys %{ $rest->[$i] } ],
        "event $i: the same fields");
}



=== TEST 3: create + modify -> one create with the latest content
--- websocket
--- setup
user alice
vault notes
put notes a.txt one
put notes a.txt two
put notes a.txt three!
--- perl
my ($ws, $w, $ev) = main::replay($t, $V, 'notes', 0);
json_subset_ok($ev, [ { type => 'create', path => 'a.txt', seq => 3,
    version => 3, hash => blake2b_hex('three!'), size => 6,
    mtime => '<integer>', ts => '<integer>', from => '<absent>' } ],
    'one create, latest content, seq/version of the last event');
main::converges($t, $V, $c, 'notes', 0, {}, 'from empty');



=== TEST 4: create + delete -> nothing; other files are untouched
--- websocket
--- setup
user alice
vault notes
put notes keep.txt K
put notes gone.txt G
put notes gone.txt GG
delete notes gone.txt
--- perl
my ($ws, $w, $ev) = main::replay($t, $V, 'notes', 0);
json_subset_ok($ev, [ { type => 'create', path => 'keep.txt', seq => 1 } ],
    'only keep.txt');
is($w->{head_seq}, 4, 'head_seq counts the squashed events');
# only the vanished file after a cursor: an empty replay
($ws, $w, $ev) = main::replay($t, $V, 'notes', 1);
is_deeply($ev, [], 'since 1: nothing to do');



=== TEST 5: modify + delete -> delete; modify + modify -> modify (latest)
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
put notes a.txt A2
delete notes a.txt
put notes b.txt B2
put notes b.txt B3
--- perl
my %at2 = (
    'a.txt' => { version => 1, hash => blake2b_hex('A'), size => 1 },
    'b.txt' => { version => 2, hash => blake2b_hex('B'), size => 1 },
);
my ($ws, $w, $ev) = main::replay($t, $V, 'notes', 2);
my %by = map { $_->{path} => $_ } @$ev;
is(scalar @$ev, 2, 'two events');
json_subset_ok($by{'a.txt'}, { type => 'delete', seq => 4, version => 4 },
    'a.txt: delete');
json_subset_ok($by{'b.txt'}, { type => 'modify', seq => 6, version => 6,
    hash => blake2b_hex('B3'), size => 2 }, 'b.txt: modify, latest');



=== TEST 6: delete + create again at a path the client has: one event with the new content
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
delete notes a.txt
put notes a.txt again
--- perl
my $h = blake2b_hex('A');
my ($ws, $w, $ev) = main::replay($t, $V, 'notes', 1);
# lib/gobi_squash.h: "deleted + another file created at the same path:
# MODIFY (the client has a file there at since and at head)"
json_subset_ok($ev, [ { type => 'modify', path => 'a.txt', seq => 3,
    version => 3, hash => blake2b_hex('again'), size => 5 } ],
    'one event for a.txt with the new content');
# and from an empty client: a create
($ws, $w, $ev) = main::replay($t, $V, 'notes', 0);
json_subset_ok($ev, [ { type => 'create', path => 'a.txt', seq => 3 } ],
    'from since 0: create');



=== TEST 7: rename chains collapse; a new file renamed is a create at its new path
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
put notes keep.txt K
--- perl
my ($s2, $st2) = main::state_of($c, 'notes');
my $ws = main::writer($t, $V, 'notes');
json_subset_ok(main::op($ws, type => 'rename', from => 'a.txt',
    to => 'b.txt', base_version => 1), { type => 'ack', seq => 3 }, 'a->b');
json_subset_ok(main::op($ws, type => 'rename', from => 'b.txt',
    to => 'dir/c.txt', base_version => 3), { type => 'ack', seq => 4 },
    'b->dir/c');
$c->put_ok('notes', 'x.txt', 'X');                         # 5
json_subset_ok(main::op($ws, type => 'rename', from => 'x.txt',
    to => 'y.txt', base_version => 5), { type => 'ack', seq => 6 }, 'x->y');
json_subset_ok(main::op($ws, type => 'rename', from => 'y.txt',
    to => 'z.txt', base_version => 6), { type => 'ack', seq => 7 }, 'y->z');

my (undef, $w, $ev) = main::replay($t, $V, 'notes', 2);
my %by = map { $_->{path} => $_ } @$ev;
is(scalar @$ev, 2, 'two events for four renames and a create');
json_subset_ok($by{'dir/c.txt'}, { type => 'rename', from => 'a.txt',
    seq => 4, version => 4, hash => blake2b_hex('A'), size => 1 },
    'a -> dir/c.txt in one rename');
json_subset_ok($by{'z.txt'}, { type => 'create', seq => 7, version => 7,
    hash => blake2b_hex('X'), from => '<absent>' },
    'x created then renamed twice: create at z.txt');
main::converges($t, $V, $c, 'notes', 2, $st2, 'since 2');
main::converges($t, $V, $c, 'notes', 0, {}, 'since 0');



=== TEST 8: renamed away and back: a modify with the new version; a swap cycle still converges
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
--- perl
my ($s2, $st2) = main::state_of($c, 'notes');
my $ws = main::writer($t, $V, 'notes');
main::op($ws, type => 'rename', from => 'a.txt', to => 't.txt',
    base_version => 1);                                     # 3
main::op($ws, type => 'rename', from => 't.txt', to => 'a.txt',
    base_version => 3);                                     # 4
my (undef, $w, $ev) = main::replay($t, $V, 'notes', 2);
json_subset_ok($ev, [ { type => 'modify', path => 'a.txt', seq => 4,
    version => 4, hash => blake2b_hex('A') } ],
    'away and back: modify, same hash, new version');
main::converges($t, $V, $c, 'notes', 2, $st2, 'away and back');

# the swap: a -> t, b -> a, t -> b
main::op($ws, type => 'rename', from => 'a.txt', to => 't.txt',
    base_version => 4);                                     # 5
main::op($ws, type => 'rename', from => 'b.txt', to => 'a.txt',
    base_version => 2);                                     # 6
main::op($ws, type => 'rename', from => 't.txt', to => 'b.txt',
    base_version => 5);                                     # 7
$ev = main::converges($t, $V, $c, 'notes', 2, $st2, 'a swap');
ok(@$ev <= 4, 'a swap: at most a delete, a create and a rename')
    or diag explain $ev;



=== TEST 9: the cursor: only what changed after since; since = head is an empty replay
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
put notes c.txt C
--- perl
my ($s3, $st3) = main::state_of($c, 'notes');
$c->put_ok('notes', 'b.txt', 'B2');                          # 4
$c->put_ok('notes', 'd.txt', 'D');                           # 5
my (undef, $w, $ev) = main::replay($t, $V, 'notes', 3);
is_deeply([ map { "$_->{type} $_->{path} $_->{seq}" } @$ev ],
    [ 'modify b.txt 4', 'create d.txt 5' ], 'since 3');
(undef, $w, $ev) = main::replay($t, $V, 'notes', 4);
is_deeply([ map { "$_->{type} $_->{path}" } @$ev ], [ 'create d.txt' ],
    'since 4');
(undef, $w, $ev) = main::replay($t, $V, 'notes', 5);
is_deeply($ev, [], 'since = head: nothing');
is($w->{head_seq}, 5, 'head_seq');
main::converges($t, $V, $c, 'notes', 3, $st3, 'since 3');
# a hello without device and one with; since omitted is refused
my ($ws) = main::replay($t, $V, 'notes', 5, device => 'laptop-1');
ok($ws, 'device accepted');



=== TEST 10: a cursor ahead of the log: resync, no replay
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my ($ws, $w, $ev, $b, $other) = main::replay($t, $V, 'notes', 7);
json_subset_ok($w, { type => 'welcome', head_seq => 1 }, 'welcome');
ok(!$ev, 'no replay');
json_subset_ok($other, { type => 'resync', head_seq => 1,
    reason => '<string>' }, 'resync');
note("reason: $other->{reason}") if ref $other;
is_deeply([ $ws->drain(0.3) ], [], 'nothing else');



=== TEST 11: gobi_ws_batch: batches of at most N events, more:true on all but the last
--- websocket
--- gobi_config
gobi_ws_batch 3;
--- setup
user alice
vault notes
put notes f1 1
put notes f2 2
put notes f3 3
put notes f4 4
put notes f5 5
put notes f6 6
put notes f7 7
--- perl
my ($ws, $w, $ev, $b) = main::replay($t, $V, 'notes', 0);
is_deeply([ map { scalar @{ $_->{events} } } @$b ], [ 3, 3, 1 ],
    '7 events: 3 + 3 + 1');
is_deeply([ map { $_->{more} ? 1 : 0 } @$b ], [ 1, 1, 0 ], 'more flags');
ok(JSON::PP::is_bool($_->{more}), 'more is a JSON boolean') for @$b;
is_deeply([ map { $_->{path} } @$ev ], [ map { "f$_" } 1 .. 7 ],
    'in seq order');
# exactly a multiple of the batch: no empty trailing batch
($ws, $w, $ev, $b) = main::replay($t, $V, 'notes', 1);
is_deeply([ map { scalar @{ $_->{events} } } @$b ], [ 3, 3 ], '6: 3 + 3');
is_deeply([ map { $_->{more} ? 1 : 0 } @$b ], [ 1, 0 ], 'more flags');



=== TEST 12: an unknown vault, or another user's: vault_not_found; the session stays usable
--- websocket
--- setup
user bob
vault secret
user alice
vault notes
put notes a.txt A
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
for my $v ('nope', 'secret', '', 'a/b', 'x' x 300) {
    $ws->hello($v, since => 0);
    json_subset_ok($ws->recv_json, { type => 'error',
        code => 'vault_not_found', message => '<string>' },
        "hello to '" . substr($v, 0, 20) . "': vault_not_found");
}
$ws->hello('notes', since => 0);
my ($w, $ev) = $ws->recv_replay;
json_subset_ok($w, { type => 'welcome', vault => 'notes' },
    'then a hello to our vault works');
is(scalar @{ $ev || [] }, 1, 'and replays');
--- no_error_log
[error]



=== TEST 13: randomized: a client at any earlier cursor converges to the head
--- websocket
--- gobi_config
gobi_mass_delete_limit off;
--- setup
user alice
vault notes
--- perl
my $seed = $ENV{GOBI_SEED} // 20251126;
note("seed $seed (GOBI_SEED=...)");
srand $seed;
my $ws = main::writer($t, $V, 'notes');
my @names = qw(a b c d/e d/f g);
my @snaps = ([ main::state_of($c, 'notes') ]);
for my $i (1 .. 120) {
    my (undef, $st) = main::state_of($c, 'notes');
    my @live = sort keys %$st;
    my @free = grep { !exists $st->{$_} } @names;
    my $r = rand;
    if ($r < 0.35 || !@live) {
        my $p = $names[rand @names];
        $c->put_ok('notes', $p, "content $i");
    } elsif ($r < 0.55) {
        my $p = $live[rand @live];
        main::op($ws, type => 'delete', path => $p,
            base_version => $st->{$p}{version})->{type} eq 'ack'
            or die "delete $p refused";
    } elsif (@free) {
        my $p = $live[rand @live];
        my $to = $free[rand @free];
        my $a = main::op($ws, type => 'rename', from => $p, to => $to,
            base_version => $st->{$p}{version});
        die "rename $p -> $to: " . json_encode($a) unless $a->{type} eq 'ack';
    }
    push @snaps, [ main::state_of($c, 'notes') ] if rand() < 0.25;
    $ws->drain(0) if $i % 10 == 0;
}
my $bad = 0;
for my $s (@snaps) {
    my ($seq, $st) = @$s;
    my ($head, $now) = main::state_of($c, 'notes');
    my ($w2, $w, $ev) = main::replay($t, $V, 'notes', $seq);
    my $got = eval { main::apply($st, $ev) };
    unless ($got && json_encode($got) eq json_encode($now)) {
        $bad++;
        diag("since $seq: " . ($@ || 'states differ'));
        diag(explain { events => $ev, since => $st, head => $now })
            if $bad == 1;
    }
}
is($bad, 0, scalar(@snaps) . ' cursors converge');
