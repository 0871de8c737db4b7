# `gobi status` against the real server: the vault and server, the last
# complete sync, local changes pending (an offline edit, the queue a
# failed sync left, the list cut at -n), and conflicts: the copy a sync
# made here (recorded) and one that came from elsewhere (found by name).
use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Gobi::CliTest;
use JSON::PP ();
use Time::HiRes qw(time);

my $t = Gobi::CliTest->new(name => 'client-status');
my $J = JSON::PP->new->utf8;
my ($rc, $out, $err);

sub status_json {
    my ($dir) = @_;
    my ($rc, $out, $err) = $t->gobi('--json', 'status', $dir);
    is($rc, 0, 'status --json') or diag "$out$err";
    return eval { $J->decode($out) } || {};
}

sub sync_ok {
    my ($dir, $name) = @_;
    my ($rc, $out, $err) = $t->gobi('sync', $dir);
    is($rc, 0, $name) or diag "$out$err";
}

$t->vault('notes');
my $a = $t->clone('notes', 'a');
my $b = $t->clone('notes', 'b');

subtest 'after a sync: the vault, the server and the last sync' => sub {
    $t->put("$a/hello.txt", "hello\n");
    my $before = int(time * 1000);
    sync_ok($a, 'sync a');
    my $after = int(time * 1000) + 1;

    my $st = status_json($a);
    is($st->{vault}, 'notes', 'vault');
    is($st->{server}, $t->url, 'server');
    ok($st->{last_sync} >= $before && $st->{last_sync} <= $after,
        'last_sync is the sync just made (unix ms)')
        or diag "$before <= $st->{last_sync} <= $after";
    ok($st->{cursor} >= 0, 'cursor');
    is($st->{pending}, 0, 'nothing pending');
    is_deeply($st->{changes}, [], 'no changes');
    is_deeply($st->{conflicts}, [], 'no conflicts');

    ($rc, $out) = $t->gobi('status', $a);
    is($rc, 0, 'status');
    like($out, qr/^vault notes on \Q${\ $t->url}\E, device a$/m,
        'names vault, server and device');
    like($out, qr/^last sync: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d+ s ago\)$/m,
        'the last sync, and how long ago');
    like($out, qr/^pending: none$/m, 'pending: none');
    like($out, qr/^conflicts: none$/m, 'conflicts: none');
};

subtest 'an offline edit is pending' => sub {
    my $last = status_json($a)->{last_sync};

    $t->server->stop;
    $t->put("$a/hello.txt", "hello, offline\n");
    $t->put("$a/many/$_.txt", "$_\n") for map { sprintf '%02d', $_ } 1 .. 25;

    ($rc, $out, $err) = $t->gobi('sync', $a);
    is($rc, 4, 'sync with the server down: exit 4');

    my $st = status_json($a);
    is($st->{pending}, 26, 'pending: 26 (the edit and the new files)');
    ok($st->{queued} >= 26, 'queued by the failed sync') or diag $st->{queued};
    is($st->{last_sync}, $last, 'last_sync stays that of the last good sync');
    is_deeply([ grep { $_->{path} eq 'hello.txt' } @{ $st->{changes} } ],
        [ { change => 'modified', path => 'hello.txt' } ],
        'the edit is listed');

    ($rc, $out) = $t->gobi('status', $a);
    like($out, qr/^pending: 26 local changes to push \(\d+ queued by a sync /m,
        'pending and queued, in words');
    like($out, qr/^  modified  hello\.txt$/m, 'the edit by name');
    my @names = $out =~ /^  (?:new|modified) +\S+$/mg;
    is(scalar @names, 20, 'names up to 20');
    like($out, qr/^  and 6 more /m, 'and how many more');

    ($rc, $out) = $t->gobi('status', $a, '-n', '100');
    @names = $out =~ /^  (?:new|modified) +\S+$/mg;
    is(scalar @names, 26, '-n 100: all of them');

    ok($t->server->start, 'server back');
    sync_ok($a, 'the queue goes out');
    $st = status_json($a);
    is($st->{pending}, 0, 'nothing pending');
    is($st->{queued}, 0, 'the queue is empty');
    ok($st->{last_sync} > $last, 'a new last sync');
};

subtest 'a conflict shows as a conflict' => sub {
    sync_ok($b, 'b has hello.txt');
    $t->put("$a/hello.txt", "edit from a\n");
    $t->put("$b/hello.txt", "edit from b\n");
    sync_ok($a, 'a first');
    ($rc, $out, $err) = $t->gobi('sync', $b);
    is($rc, 6, 'b: exit 6 (conflict)') or diag "$out$err";

    my $st = status_json($b);
    my @c = @{ $st->{conflicts} };
    is(scalar @c, 1, 'b: one conflict') or diag explain \@c;
    is($c[0]{path}, 'hello.txt', 'of hello.txt');
    like($c[0]{copy}, qr/^hello \(conflict .+\)\.txt$/, 'the copy');
    ok(-e "$b/$c[0]{copy}", 'which is there');
    ok($c[0]{present}, 'present');

    ($rc, $out) = $t->gobi('status', $b);
    like($out, qr/^conflicts: 1$/m, 'conflicts: 1');
    like($out, qr/^  hello\.txt: \Q$c[0]{copy}\E/m, 'names the file and copy');

    # the copy reaches a: found by its name there
    sync_ok($b, 'b again');
    sync_ok($a, 'a gets the copy');
    ok(-e "$a/$c[0]{copy}", 'a has the copy');
    $st = status_json($a);
    my @ca = grep { $_->{copy} eq $c[0]{copy} } @{ $st->{conflicts} };
    is(scalar @ca, 1, 'a: the copy is a conflict') or diag explain $st;
    is($ca[0]{path}, 'hello.txt', 'of hello.txt');
    ok($ca[0]{present}, 'present');

    ($rc, $out) = $t->gobi('status', $a);
    like($out, qr/^  hello\.txt: \Q$c[0]{copy}\E/m, 'a: named in words');

    # resolved on both sides: no conflict left
    unlink "$a/$c[0]{copy}";
    sync_ok($a, 'a deletes the copy');
    sync_ok($b, 'b gets that');
    for my $d ($a, $b) {
        my $recorded = grep { $_->{recorded} }
            @{ status_json($d)->{conflicts} };
        my ($rc, $out) = $t->gobi('resolve', 'hello.txt', '--keep', 'remote',
            $d) if $recorded;
        is_deeply(status_json($d)->{conflicts}, [], "$d: no conflicts");
    }
};

done_testing();
