# A replay reads the log in pages of gobi_ws_batch events, the next page
# only once the last is in the send queue; a replay longer than
# gobi_ws_max_replay answers resync (replay_too_long) instead.  So clients
# that ask for a long replay and never read hold a page and a send queue
# each, not the log.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

sub main::rss_kb {
    my ($pid) = @_;
    open my $f, '<', "/proc/$pid/status" or return 0;
    while (my $l = <$f>) { return $1 if $l =~ /^VmRSS:\s+(\d+)/ }
    return 0;
}

sub main::workers {
    my ($t) = @_;
    my $master = $t->pid;
    my @w;
    for my $pid (map { m{/proc/(\d+)} ? $1 : () } glob '/proc/[0-9]*') {
        open my $f, '<', "/proc/$pid/stat" or next;
        my $stat = <$f> // next;
        push @w, $pid if (split ' ', $stat =~ s/.*\)//r)[1] == $master;
    }
    return @w;
}

run_tests();

__DATA__

=== TEST 1: 20 clients that never read a 2,000-event replay of long paths: each worker grows by less than 50 MB; a reading client gets it all
--- websocket
--- gobi_config
gobi_ws_ping_interval 1h;
--- setup
user alice
vault notes
--- perl
my $dir = join '/', map { sprintf '%s%02d', 'p' x 60, $_ } 1 .. 3;
for my $i (1 .. 2000) {
    $c->put_ok('notes', "$dir/f$i.txt", "v$i");
}
my @workers = main::workers($t);
ok(@workers >= 1, scalar(@workers) . ' workers');
my %before = map { $_ => main::rss_kb($_) } @workers;
my @idle;
for (1 .. 20) {
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN},
        rcvbuf => 4096);
    $ws->hello('notes', since => 0);
    push @idle, $ws;
}
sleep 3;
for my $w (@workers) {
    my $grew = main::rss_kb($w) - $before{$w};
    note("worker $w: RSS $before{$w} kB, grew by $grew kB");
    SKIP: {
        # its shadow memory and quarantine make RSS say little
        skip 'RSS under AddressSanitizer (make test-asan)', 1
            if $ENV{GOBI_ASAN};
        ok($grew < 50 * 1024, "worker $w grew by less than 50 MB ($grew kB)");
    }
}
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
my ($w, $ev, $batches) = $ws->subscribe('notes', since => 0);
is($w->{head_seq}, 2000, 'welcome head 2000');
is(scalar @$ev, 2000, 'a reading client gets every event');
is_deeply([ map { $_->{seq} } @$ev ], [ 1 .. 2000 ], 'in order');
ok(@$batches >= 4, scalar(@$batches) . ' batches of at most 500');
ok(!(grep { @{ $_->{events} } > 500 } @$batches), 'none over gobi_ws_batch');
ok((grep { $_->{more} } @$batches[0 .. $#$batches - 1]) == $#$batches,
   'more on every batch but the last');
$c->put_ok('notes', 'live.txt', 'now');
my ($m) = $ws->recv_until(sub { $_->{type} eq 'event' });
is($m->{event}{seq}, 2001, 'then live');
$_->drop for @idle;



=== TEST 2: pages of gobi_ws_batch events, squashed each: the client's state at the end is the vault's
--- websocket
--- gobi_config
gobi_ws_batch 7;
--- setup
user alice
vault notes
--- perl
# creates, modifies, renames and deletes that cross page boundaries
my %want;
for my $i (1 .. 20) { $c->put_ok('notes', "f$i", "a$i") }
for my $i (1 .. 10) {
    my $cur = $c->get('notes', "f$i")->header('etag') =~ s/"//gr;
    $c->put_ok('notes', "f$i", "b$i", 'If-Match' => qq("$cur"));
}
for my $i (11 .. 15) {
    is($c->delete('notes', "f$i")->status, 200, "delete f$i");
}
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
my ($w, $ev, $batches) = $ws->subscribe('notes', since => 0);
is($w->{head_seq}, 35, 'head 35');
ok(!(grep { @{ $_->{events} } > 7 } @$batches), 'batches of at most 7');
ok(@$batches >= 5, scalar(@$batches) . ' batches');
my %state;
for my $e (@$ev) {
    if ($e->{type} eq 'delete') { delete $state{ $e->{path} } }
    else { $state{ $e->{path} } = $e->{hash} }
}
my $m = $c->manifest('notes')->json;
is_deeply(\%state, { map { $_->{path} => $_->{hash} } @{ $m->{files} } },
    'the replayed state is the manifest');
# from a cursor in the middle
$ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
($w, $ev) = $ws->subscribe('notes', since => 25);
is_deeply([ map { $_->{seq} } @$ev ], [ 26 .. 35 ], 'since 25: 26-35');



=== TEST 3: a replay longer than gobi_ws_max_replay: resync replay_too_long, then live
--- websocket
--- gobi_config
gobi_ws_max_replay 10;
--- setup
user alice
vault notes
--- perl
$c->put_ok('notes', "f$_", "x$_") for 1 .. 15;
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->hello('notes', since => 0);
json_subset_ok($ws->recv_json, { type => 'welcome', head_seq => 15 },
    'welcome');
json_subset_ok($ws->recv_json, { type => 'resync',
    reason => 'replay_too_long', head_seq => 15 }, 'resync');
$c->put_ok('notes', 'g', 'live');
my ($m) = $ws->recv_until(sub { $_->{type} eq 'event' });
is($m->{event}{seq}, 16, 'live from the head');
# within the limit: a replay
$ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
my ($w, $ev) = $ws->subscribe('notes', since => 6);
is_deeply([ map { $_->{seq} } @$ev ], [ 7 .. 16 ], '10 events replay');
