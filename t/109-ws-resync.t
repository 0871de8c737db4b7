# A cursor older than the retention horizon: welcome, then
# {"type":"resync","reason":"history_expired","head_seq"} and no replay.
# The horizon is made by deleting the oldest events from the SQLite log
# the way the store's events_prune does (a prefix per vault); the last
# block lets the server prune by itself (gobi_event_retention 1s).
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

# drops the events of vault `notes` up to seq $upto, as events_prune would
sub main::prune {
    my ($t, $upto) = @_;
    my $db = $t->db_file;
    my $sql = "DELETE FROM events WHERE seq <= $upto AND vault = "
        . "(SELECT id FROM vaults WHERE name = 'notes');";
    my $sqlite = sqlite3_cmd();
    my $out = `$sqlite -cmd '.timeout 10000' '$db' "$sql" 2>&1`;
    die "sqlite3: $out" if $?;
}

# hello with since: (welcome, the next message, the rest within 0.3 s)
sub main::hello_since {
    my ($t, $V, $since) = @_;
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    $ws->hello('notes', since => $since);
    my $w = $ws->recv_json;
    my $next = $ws->recv_json;
    return ($ws, $w, $next);
}

run_tests();

__DATA__

=== TEST 1: since before the oldest kept event: resync history_expired, no replay
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
put notes a.txt A2
put notes c.txt C
put notes d.txt D
--- perl
SKIP: {
skip sqlite_only(), 1 if sqlite_only();
main::prune($t, 3);
for my $since (0, 1, 2) {
    my ($ws, $w, $next) = main::hello_since($t, $V, $since);
    json_subset_ok($w, { type => 'welcome', vault => 'notes', head_seq => 5,
        oldest_seq => 4, protocol => 1 }, "since $since: welcome");
    json_subset_ok($next, { type => 'resync', reason => 'history_expired',
        head_seq => 5 }, "since $since: resync");
    like($ws->last_msg->{payload}, qr/^\{"type":"resync",/, 'type first');
    is_deeply([ $ws->drain(0.3) ], [], "since $since: no replay after it");
}
# at the horizon and after it: a replay
my ($ws, $w, $next) = main::hello_since($t, $V, 3);
json_subset_ok($next, { type => 'events', more => JSON::PP::false,
    events => [ { seq => 4, path => 'c.txt' }, { seq => 5, path => 'd.txt' } ]
    }, 'since 3 (oldest - 1): the replay');
($ws, $w, $next) = main::hello_since($t, $V, 4);
json_subset_ok($next, { type => 'events', events => [ { seq => 5 } ] },
    'since 4: the replay');
($ws, $w, $next) = main::hello_since($t, $V, 5);
json_subset_ok($next, { type => 'events', events => [] }, 'since 5: empty');
# the REST log agrees
my $r = $c->events('notes', since => 1);
isnt($r->status, 200, 'GET events since 1 is refused too');
}



=== TEST 2: after resync the client rebuilds from the manifest and stays subscribed from head_seq
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
put notes c.txt C
--- perl
SKIP: {
skip sqlite_only(), 1 if sqlite_only();
main::prune($t, 2);
my ($ws, $w, $next) = main::hello_since($t, $V, 0);
json_subset_ok($next, { type => 'resync', head_seq => 3 }, 'resync');
my $m = $c->manifest('notes')->json;
is($m->{seq}, 3, 'the manifest is at head_seq');
is(scalar @{ $m->{files} }, 3, 'with every file');
$c->put_ok('notes', 'd.txt', 'D');
json_subset_ok($ws->recv_json, { type => 'event', event => { seq => 4,
    path => 'd.txt' } }, 'live events after head_seq follow the resync');
# a second connection with the new cursor replays normally
($ws, $w, $next) = main::hello_since($t, $V, 3);
json_subset_ok($next, { type => 'events', events => [ { seq => 4 } ] },
    'since head_seq of the resync: a normal replay');
}



=== TEST 3: a vault whose whole log was pruned
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
--- perl
SKIP: {
skip sqlite_only(), 1 if sqlite_only();
main::prune($t, 2);
my ($ws, $w, $next) = main::hello_since($t, $V, 0);
json_subset_ok($w, { type => 'welcome', head_seq => 2 }, 'welcome');
json_subset_ok($next, { type => 'resync', reason => 'history_expired',
    head_seq => 2 }, 'since 0: resync');
($ws, $w, $next) = main::hello_since($t, $V, 1);
json_subset_ok($next, { type => 'resync' }, 'since 1: resync');
($ws, $w, $next) = main::hello_since($t, $V, 2);
json_subset_ok($next, { type => 'events', events => [] },
    'since head: nothing to replay, no resync');
$c->put_ok('notes', 'c.txt', 'C');
json_subset_ok($ws->recv_json, { type => 'event', event => { seq => 3 } },
    'and live events');
}



=== TEST 4: gobi_event_retention: the server prunes old events by itself
--- websocket
--- gobi_config
gobi_event_retention 1s;
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
--- perl
my ($w, $next);
my $resync = wait_until(sub {
    select undef, undef, undef, 0.2;
    (my $ws, $w, $next) = main::hello_since($t, $V, 0);
    $ws->close;
    ref $next && $next->{type} eq 'resync';
}, 15);
ok($resync, 'since 0 gets resync once the events are older than 1 s');
json_subset_ok($next, { type => 'resync', reason => 'history_expired',
    head_seq => 2 }, 'resync');
like($t->error_log, qr/gobi: pruned \d+ events older than the retention/,
    'the worker logged the pruning');
my $ws;
($ws, $w, $next) = main::hello_since($t, $V, 2);
json_subset_ok($next, { type => 'events', events => [] },
    'a client at head is not affected');
$c->put_ok('notes', 'c.txt', 'C');
json_subset_ok($ws->recv_json, { type => 'event', event => { seq => 3 } },
    'and gets live events');
my $r = $c->events('notes', since => 0);
is($r->status, 410, 'REST: 410 for the same cursor');
