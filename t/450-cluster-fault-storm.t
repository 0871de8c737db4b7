# A randomized storm over a cluster (issue 9): instances A and B on one
# FerretDB and one Redis; while writers PUT through both, Redis and the
# MongoDB server are killed (SIGKILL) and started again at random.  Every
# subscriber, on either instance, ends with every event of its vault, in
# seq order, once; a session the server closed during an outage comes back
# with its cursor, as a client would, and ends (from the squashed replay)
# with the vault's files as they are.  GOBI_STORM_SECONDS sets the length
# (default 20), GOBI_STORM_SEED replays a run.
use Gobi::Test;
use Gobi::Cluster;
use Gobi::WS;

use POSIX ();
use Time::HiRes qw(sleep time);

my $why = Gobi::Cluster::unavailable();
plan skip_all => $why if $why;

my $SECONDS = $ENV{GOBI_STORM_SECONDS} || 20;
my $SEED = $ENV{GOBI_STORM_SEED} || time;
srand($SEED);
note "seed $SEED (GOBI_STORM_SEED replays it)";

my $cl = Gobi::Cluster->new(store_query => 'serverSelectionTimeoutMS=2000');
ok($cl->start, 'FerretDB, Redis, instances A and B start')
    or BAIL_OUT($cl->why);
my ($A, $B) = $cl->servers;

my $ca = $A->client;
$ca->user('alice');
my $token = $ca->token;
my @vaults = qw(one two three);
$ca->create_vault($_) for @vaults;

# two sessions per vault on each instance
my @subs;
for my $v (@vaults) {
    for my $s ($A, $A, $B, $B) {
        my $ws = Gobi::WS->new(port => $s->port, token => $token);
        $ws->ok or BAIL_OUT('handshake: ' . ($ws->error // $ws->status));
        my ($w) = $ws->subscribe($v, since => 0);
        push @subs, { ws => $ws, server => $s, vault => $v, seqs => [],
                      files => {}, cursor => $w->{head_seq} };
    }
}

# the writers: a process per instance, PUTs at random vaults and paths
my $end = time + $SECONDS;
my @writers;
for my $s ($A, $B) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        srand($SEED + $$);                  # each writer its own writes
        my $c = $s->client(token => $token, timeout => 20);
        my ($ok, $refused) = (0, 0);
        while (time < $end) {
            my $v = $vaults[rand @vaults];
            my $r = eval { $c->put($v, 'f' . int(rand 20) . '.txt',
                                   "x" x int(rand 2000)) };
            if ($r && $r->status =~ /^20[01]$/) { $ok++ }
            else { $refused++; sleep 0.05 }
        }
        print STDERR "# writer on ", $s->port, ": $ok written, $refused ",
            "refused\n";
        POSIX::_exit(0);
    }
    push @writers, $pid;
}

# the killer
my %kills = (redis => 0, mongo => 0);
my @first = ('redis', 'mongo');             # each at least once
while (time < $end - 2) {
    sleep 0.5 + rand 2;
    my $what = shift @first // (rand() < 0.5 ? 'redis' : 'mongo');
    my $srv = $what eq 'redis' ? $cl->redis : $cl->mongo;
    $srv->stop('KILL');
    $kills{$what}++;
    sleep 0.2 + rand 2.5;
    $srv->start or BAIL_OUT("$what did not come back");
}
waitpid $_, 0 for @writers;
note "killed Redis $kills{redis} times, MongoDB $kills{mongo} times";
ok($kills{redis} && $kills{mongo}, 'Redis and MongoDB were killed');

# the heads, once the store answers again
my %head;
ok(wait_until(sub {
    for my $v (@vaults) {
        my $r = eval { $ca->events($v, since => 0, limit => 1) } or return 0;
        return 0 unless $r->status == 200;
        $head{$v} = $r->json->{head_seq};
    }
    1;
}, 60), 'the store answers after the storm');
note "heads: " . join ', ', map { "$_ $head{$_}" } @vaults;

# what a client does with an event: its files, path => hash
sub apply {
    my ($s, $e) = @_;
    push @{ $s->{seqs} }, $e->{seq};
    my $f = $s->{files};
    if ($e->{type} eq 'delete') { delete $f->{ $e->{path} } }
    elsif ($e->{type} eq 'rename') {
        delete $f->{ $e->{from} };
        $f->{ $e->{path} } = $e->{hash};
    } else { $f->{ $e->{path} } = $e->{hash} }
}

# every session reads until it has its vault's head; one the server closed
# comes back from its cursor
my $deadline = time + 90;
for my $s (@subs) {
    while ($s->{cursor} < $head{ $s->{vault} } && time < $deadline) {
        my $m = $s->{ws}->recv_json;
        if ($m && $m->{type} eq 'event') {
            apply($s, $m->{event});
            $s->{cursor} = $m->{event}{seq};
            next;
        }
        next if $m && $m->{type} ne 'resync';
        # closed, an error or a timeout: reconnect from the cursor
        $s->{reconnects}++;
        $s->{ws}->drop;
        sleep 0.2;
        my $ws = Gobi::WS->new(port => $s->{server}->port, token => $token);
        next unless $ws->ok;
        my ($w, $ev) = eval { $ws->subscribe($s->{vault},
                                             since => $s->{cursor}) };
        next unless $w;
        $s->{ws} = $ws;
        apply($s, $_) for @$ev;
        # a squashed replay: the cursor is the head it was read at
        $s->{cursor} = $w->{head_seq} if $w->{head_seq} > $s->{cursor};
    }
}

my (@bad, @wrong);
my %manifest = map {
    my $v = $_;
    ($v => { map { $_->{path} => $_->{hash} }
             @{ $ca->manifest($v)->json->{files} } })
} @vaults;
for my $s (@subs) {
    my $who = sprintf '%s on %d', $s->{vault}, $s->{server}->port;
    push @wrong, $who
        unless json_encode($s->{files}) eq json_encode($manifest{ $s->{vault} });
    next if $s->{reconnects};
    my @want = (1 .. $head{ $s->{vault} });
    my @got = @{ $s->{seqs} };
    push @bad, sprintf("%s: got %d events (%s...), want %d", $who,
        scalar @got, join(',', @got[0 .. ($#got < 9 ? $#got : 9)]),
        scalar @want)
        unless "@got" eq "@want";
}
is_deeply(\@bad, [], 'every session that stayed has every event, in order, '
    . 'once');
is_deeply(\@wrong, [], 'every session ends with the vault as it is');
note 'reconnects: ' . join ' ', map { $_->{reconnects} // 0 } @subs;

$cl->stop;
done_testing();
