# What a replay may cost the server: the log is read in pages of
# gobi_ws_batch events, the next page only once the send queue has drained,
# so clients that say hello with an old cursor and never read hold about a
# page each, never the whole log; a replay longer than gobi_ws_max_replay
# events answers resync (replay_too_long) instead.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

# a path of about 200 bytes
our $LONG = join '/', map { sprintf '%s%02d', 'p' x 37, $_ } 1 .. 5;

# n uploads (one event each), 16 in flight at a time
sub main::fill {
    my ($c, $vault, $n) = @_;
    my (@busy, $done);
    for my $i (1 .. $n) {
        push @busy, $c->start(PUT => $c->file_uri($vault, "$LONG/f$i"),
            body => 'x');
        next if @busy < 16 && $i < $n;
        for my $p (@busy) {
            my $r = $p->wait;
            die 'put: ' . $r->describe unless $r->status == 201;
            $done++;
        }
        @busy = ();
    }
    return $done;
}

sub main::rss_kb {
    my ($pid) = @_;
    open my $f, '<', "/proc/$pid/status" or return 0;
    my ($l) = grep { /^VmRSS:/ } <$f>;
    return ($l =~ /(\d+)/)[0] // 0;
}

run_tests();

__DATA__

=== TEST 1: 20 clients replaying 10,000 events without reading: the worker grows less than 50 MB
One worker holds all 20 (the worst case); its listener has a small send
buffer, so the kernel takes little off the send queues and what the worker
holds shows in its RSS.  A replay of 10,000 events is about 4 MB: read
whole, 20 of them made the worker grow by 142 MB; in pages, each idle
client holds a quarter of gobi_ws_send_queue and a page (25 MB for all).
2,000 events (0.8 MB a replay) fit under that quarter either way.
--- websocket
--- workers: 1
--- gobi_config
gobi_ws_ping_interval 1h;
server {
    listen 127.0.0.1:SLOWPORT sndbuf=8k;
    location = /api/v1/ws { gobi_websocket; }
}
--- init
my $p = Gobi::Server::free_port();
$V->{SLOWPORT} = $p;
$t->{gobi_config} =~ s/SLOWPORT/$p/;
$t->write_conf;
--- setup
user alice
vault notes
--- perl
my $N = 10000;
is(main::fill($c, 'notes', $N), $N, '10,000 events on ~200-byte paths');
my @w = $t->worker_pids;
# warm up: a replay read and thrown away by each worker
for (1 .. 4) {
    my $r = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    $r->hello('notes', since => 0);
    $r->recv_replay(60);
    $r->close;
}
my %before = map { $_ => main::rss_kb($_) } @w;
my @idle = map {
    my $x = Gobi::WS->new(port => $V->{SLOWPORT}, token => $V->{TOKEN},
        rcvbuf => 4096);
    $x->hello('notes', since => 0);
    $x
} 1 .. 20;
# what they make the server hold, at its highest over 3 s
my %peak = %before;
for (1 .. 30) {
    for my $p (@w) {
        my $kb = main::rss_kb($p);
        $peak{$p} = $kb if $kb > $peak{$p};
    }
    Time::HiRes::sleep(0.1);
}
my %growth = map { $_ => $peak{$_} - $before{$_} } @w;
note('worker RSS growth (kB): '
    . join ', ', map { "$_: $growth{$_}" } sort keys %growth);
SKIP: {
    skip 'RSS under AddressSanitizer (make test-asan)', scalar @w
        if $ENV{GOBI_ASAN};
    cmp_ok($growth{$_}, '<', 50 * 1024, "the worker grew less than 50 MB")
        for @w;
}
# a client that reads gets the whole replay meanwhile
my $r = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$r->hello('notes', since => 0);
my ($w, $ev, $b, $other) = $r->recv_replay(60);
is(scalar @{ $ev || [] }, $N, 'a reading client gets all 10,000 events')
    or diag(json_encode($other // $r->last_msg));
is($w->{head_seq}, $N, "and head_seq $N");
my $bytes = 0;
$bytes += length json_encode($_) for @{ $b || [] };
note(sprintf 'the replay: %d batches, %.1f MB', scalar @{ $b || [] },
    $bytes / 1e6);
$_->drop for @idle;
--- no_error_log
[error]



=== TEST 2: a replay longer than gobi_ws_max_replay: resync replay_too_long
--- websocket
--- gobi_config
gobi_ws_max_replay 5;
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
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->hello('notes', since => 0);
json_subset_ok($ws->recv_json, { type => 'welcome', head_seq => 7 },
    'welcome');
json_subset_ok($ws->recv_json, { type => 'resync',
    reason => 'replay_too_long', head_seq => 7 }, '7 events > 5: resync');
# and the session is live from head_seq, as after any resync
$c->put_ok('notes', 'f8', '8');
json_subset_ok($ws->recv_json, { type => 'event', event => { seq => 8 } },
    'then live from head_seq');
# 5 events exactly: replayed
my $ok = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ok->hello('notes', since => 3);
my ($w, $ev) = $ok->recv_replay;
is(scalar @{ $ev || [] }, 5, 'since 3: 5 events, replayed');
--- no_error_log
[error]
