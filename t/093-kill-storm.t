# Uploads under fire: 8 clients x 500 PUTs (1 KiB - 4 MiB, log-uniform)
# while nginx workers are killed with SIGKILL at random; then the same with
# the whole process group (master and workers) killed and started again on
# the same data.  After a normal restart:
# - every PUT that got a 2xx is in the event log with its version and hash;
# - each file reads back as its last acknowledged write (or a later one
#   whose answer was lost with the process);
# - no file record and no event points at a missing blob;
# - housekeeping leaves no temp file behind.
# GOBI_STORM_CLIENTS / GOBI_STORM_PUTS change the size of the storm.
use strict;
use warnings;
use feature 'state';
use Test::More;
use Digest::SHA qw(sha256_hex);
use File::Find;
use POSIX ();
use Storable qw(store retrieve);
use Time::HiRes qw(sleep time);
use Gobi::Server;

my $CLIENTS = $ENV{GOBI_STORM_CLIENTS} || 8;
my $PUTS = $ENV{GOBI_STORM_PUTS} || 500;
my $PATHS = 40;                         # per client

my $SEED = $ENV{GOBI_STORM_SEED} || time;
srand($SEED);
note "seed $SEED (GOBI_STORM_SEED replays it)";

# 4 MiB of random-ish bytes each client slices its files from
my $POOL = join '', map { pack 'N', int rand 2**32 } 1 .. (1 << 20);

sub storm {
    my ($name, $kill) = @_;

    my $t = Gobi::Server->new(name => "storm-$name-$$",
                              gobi_config => 'gobi_blob_grace 1s;');
    $t->start or BAIL_OUT('nginx: ' . $t->start_output . $t->error_log);

    my $c = $t->client;
    $c->user('alice');
    my $vault = $c->create_vault('storm');
    my $token = $c->token;
    my $dir = "$t->{servroot}/storm";
    mkdir $dir;

    my @kids;
    for my $k (1 .. $CLIENTS) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my $cl = $t->client(timeout => 30);
            $cl->{token} = $token;
            my @log;
            for my $i (1 .. $PUTS) {
                my $path = sprintf 'c%d/f%02d.bin', $k, int rand $PATHS;
                my $size = int(2 ** (10 + rand 12));     # 1 KiB .. 4 MiB
                my $off = int rand(length($POOL) - $size);
                my $body = "$k:$i:" . substr($POOL, $off, $size);
                my $res = eval { $cl->put('storm', $path, $body) };
                my %e = (path => $path, sha => sha256_hex($body), i => $i);
                if ($res && ($res->status == 200 || $res->status == 201)) {
                    my $j = $res->json;
                    @e{qw(acked version hash)} = (1, $j->{version}, $j->{hash});
                } else {
                    $e{status} = $res ? $res->status : 'lost';
                    sleep 0.05 unless $res;      # a dead server: wait a bit
                }
                push @log, \%e;
            }
            store(\@log, "$dir/client-$k");
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }

    # the killer, until every client is done
    my $kills = 0;
    while (grep { waitpid($_, POSIX::WNOHANG()) == 0 } @kids) {
        sleep 0.2 + rand 0.6;
        $kills += $kill->($t);
    }
    waitpid $_, 0 for @kids;

    # a normal restart on the same data
    $t->stop;
    $t->start or BAIL_OUT('restart: ' . $t->start_output . $t->error_log);
    $c = $t->client;
    $c->{token} = $token;

    my (@log, %last);
    push @log, @{ retrieve("$dir/client-$_") } for 1 .. $CLIENTS;
    my @acked = grep { $_->{acked} } @log;
    note sprintf "%s: %d kills, %d PUTs, %d acknowledged", $name, $kills,
        scalar @log, scalar @acked;
    cmp_ok(scalar @acked, '>', @log / 4, "$name: most PUTs went through");
    cmp_ok($kills, '>', 0, "$name: processes were killed");

    # the whole log
    my (%events, $since);
    $since = 0;
    while (1) {
        my $r = $c->events('storm', since => $since, limit => 10000)->json;
        $events{ $_->{seq} } = $_ for @{ $r->{events} };
        last unless $r->{more};
        $since = $r->{events}[-1]{seq};
    }

    my @missing = grep {
        my $e = $events{ $_->{version} };
        !$e || $e->{path} ne $_->{path} || $e->{hash} ne $_->{hash}
    } @acked;
    is(scalar @missing, 0, "$name: every acknowledged PUT is in the log")
        or diag explain [ @missing[0 .. 4] ];

    # each path: the last acknowledged write, or a later unacknowledged one
    my %by_path;
    push @{ $by_path{ $_->{path} } }, $_ for sort { $a->{i} <=> $b->{i} } @log;
    my @wrong;
    for my $path (sort keys %by_path) {
        my @w = @{ $by_path{$path} };
        my ($la) = grep { $w[$_]{acked} } reverse 0 .. $#w;
        next unless defined $la;
        my %ok = map { $_->{sha} => 1 } @w[$la .. $#w];
        my $res = $c->get('storm', $path);
        push @wrong, "$path: " . $res->status
            unless $res->status == 200 && $ok{ sha256_hex($res->body) };
    }
    is(scalar @wrong, 0, "$name: every file reads back as its last write")
        or diag explain [ @wrong[0 .. 4] ];

    # blobs behind every record and every event
    my $root = "$t->{servroot}/var/vaults/$vault->{id}";
    my $files = $c->manifest('storm')->json->{files};
    my @nofile = grep { !-f "$root/" . substr($_->{hash}, 0, 2) . "/$_->{hash}" }
                 @$files;
    is(scalar @nofile, 0, "$name: no file record without its blob");
    my @noev = grep {
        ($_->{type} eq 'create' || $_->{type} eq 'modify')
        && !-f "$root/" . substr($_->{hash}, 0, 2) . "/$_->{hash}"
    } values %events;
    is(scalar @noev, 0, "$name: no event without its blob");

    # housekeeping (the blob grace is 1s) removes what crashes left
    $t->{gobi_config} .= "\ngobi_event_retention 4s;";
    $t->stop;
    $t->write_conf;
    $t->start or BAIL_OUT('restart: ' . $t->error_log);
    my @tmp;
    my $gone = Gobi::Test::wait_until(sub {
        # the workers' own temp folders stay; files in them must not
        @tmp = grep { -f } glob "$t->{servroot}/var/vaults/.tmp/*/*";
        !@tmp;
    }, 20);
    ok($gone, "$name: no temp file left after housekeeping")
        or diag "@tmp[0 .. ($#tmp < 4 ? $#tmp : 4)]";
    $t->stop;
}

use Gobi::Test ();

storm('workers', sub {
    my ($t) = @_;
    my @w = $t->worker_pids or return 0;
    kill 'KILL', $w[rand @w];
    return 1;
});

storm('group', sub {
    my ($t) = @_;
    state $n = 0;
    return 0 if $n++ % 2;                   # let some traffic through
    my @w = $t->worker_pids;
    kill 'KILL', $t->pid, @w;
    sleep 0.1;
    $t->{pid} = undef;
    unlink "$t->{servroot}/logs/nginx.pid";
    $t->start or BAIL_OUT('start after kill: ' . $t->start_output);
    return 1;
});

done_testing();
