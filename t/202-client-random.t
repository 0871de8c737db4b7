# Randomized: several clients do random creates, edits, deletes and
# renames with random syncs, while the server goes down now and then.  In
# the end every client has the same tree, and every content ever written
# is still there (maybe in a conflict copy) unless a client replaced or
# deleted it while it could see it.
#
#   GOBI_SEED=n  repeat a run;  GOBI_RANDOM_STEPS=n  longer runs
use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Gobi::CliTest;

my $seed = $ENV{GOBI_SEED} || int(rand(1 << 30));
my $steps = $ENV{GOBI_RANDOM_STEPS} || 60;
srand($seed);
diag "GOBI_SEED=$seed";

my $t = Gobi::CliTest->new(name => 'client-random');
$t->vault('rnd');
my @dirs = map { $t->clone('rnd', "c$_") } 1 .. 3;

my @names = (qw(a.txt b.txt c.md notes/x.txt notes/y.txt deep/er/z.bin),
             'space name.txt', 'ünï.txt');
my (%written, %superseded);
my $n = 0;
my $down = 0;
my @bad;

sub files { [ sort keys %{ $t->tree($_[0]) } ] }

sub op {
    my ($dir) = @_;
    my $tree = $t->tree($dir);
    my @have = sort keys %$tree;
    my $r = rand;

    if ($r < 0.45 || !@have) {
        # write: a new file or over an existing one
        my $p = rand() < 0.7 ? $names[rand @names] : $have[rand @have]
            // $names[0];
        $superseded{ $tree->{$p} } = 1 if defined $tree->{$p};
        my $c = "content " . ++$n . " from $dir\n";
        $t->put("$dir/$p", $c);
        $written{$c} = 1;

    } elsif ($r < 0.65) {
        my $p = $have[rand @have];
        $superseded{ $tree->{$p} } = 1;
        unlink "$dir/$p";

    } else {
        my $p = $have[rand @have];
        my $q = $names[rand @names];
        return if $q eq $p;
        $superseded{ $tree->{$q} } = 1 if defined $tree->{$q};
        my $qd = "$dir/$q";
        $qd =~ s{/[^/]+$}{};
        system('mkdir', '-p', $qd);
        rename "$dir/$p", "$dir/$q";
    }
}

sub sync {
    my ($dir) = @_;
    my ($rc, $out, $err) = $t->gobi('--allow-mass-delete', 'sync', $dir);
    my %ok = map { $_ => 1 } $down ? (4) : (0, 6);
    push @bad, "sync $dir: exit $rc: $err" unless $ok{$rc};
    return $rc;
}

for my $step (1 .. $steps) {
    if ($step % 20 == 0) {
        $t->server->stop;
        $down = 1;
    } elsif ($down && $step % 20 == 4) {
        $t->server->start or die "restart";
        $down = 0;
    }
    my $dir = $dirs[rand @dirs];
    op($dir) for 1 .. 1 + int(rand(3));
    sync($dir) if rand() < 0.6;
}

if ($down) {
    $t->server->start or die "restart";
    $down = 0;
}

# settle: everyone syncs until nothing moves
for my $round (1 .. 4) {
    sync($_) for @dirs;
}

# a server worker that hangs makes a transfer time out (a server bug, seen
# after restarts); reported, not counted against the client
my @stalls = grep { /Operation too slow/ } @bad;
@bad = grep { !/Operation too slow/ } @bad;
is_deeply(\@bad, [], 'every sync ended with an expected exit code')
    or diag join "\n", @bad;
is_deeply(\@stalls, [], 'no transfer stalled') or diag join "\n", @stalls;

my $same = $t->converge(1, @dirs);
ok($same, 'all trees identical')
    or diag explain [ map { files($_) } @dirs ];

my %present = map { $_ => 1 } values %{ $t->tree($dirs[0]) };
my @lost = grep { !$present{$_} && !$superseded{$_} } sort keys %written;
is_deeply(\@lost, [], 'nothing written was lost')
    or diag "lost: @lost";

ok(!grep({ -e "$_/.gobi/tmp" && glob("$_/.gobi/tmp/dl.*") } @dirs),
    'no temp files left');

done_testing;
