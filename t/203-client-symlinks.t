# The gobi client and symbolic links in a vault folder, end to end against
# the real server: a link (to a folder or a file) is never followed and
# never synced; `gobi status` lists it as skipped; a remote create,
# replace, delete or rename whose path goes through a linked folder is
# refused and touches nothing outside the vault (the outside folders are
# compared byte for byte, listing included), while the files beside it
# sync as usual.  The links of .gobi/ are refused too.  Everything runs
# twice: with openat2() and with the O_NOFOLLOW walk (GOBI_NO_OPENAT2=1).
use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Gobi::CliTest;
use File::Find ();
use File::Path qw(make_path remove_tree);
use File::Spec;
use JSON::PP ();
use Time::HiRes qw(sleep);

my $t = Gobi::CliTest->new(name => 'client-symlinks');
my $J = JSON::PP->new->utf8;
my ($rc, $out, $err);

# REST as alice: the "second client" that is not a gobi
my $rest = $t->server->client;
$rest->login('alice', $Gobi::CliTest::PASSWORD);

# every entry under dir: type, mode, inode, mtime, and the bytes
sub snapshot {
    my ($dir) = @_;
    my %s;
    File::Find::find({ no_chdir => 1, wanted => sub {
        my $rel = File::Spec->abs2rel($_, $dir);
        my @st = Time::HiRes::lstat($_) or return;
        my $meta = sprintf '%o:%d:%s', $st[2], $st[1], $st[9];
        if (-l _) {
            $s{$rel} = "link:$meta:" . readlink $_;
        } elsif (-d _) {
            $s{$rel} = "dir:$meta";
        } else {
            $s{$rel} = "file:$meta:" . Gobi::CliTest::_slurp($_);
        }
    } }, $dir);
    return \%s;
}

sub manifest_paths {
    my ($vault) = @_;
    my $res = $rest->manifest($vault);
    return [ sort map { $_->{path} } @{ ($res->json || {})->{files} || [] } ];
}

sub sync_ok {
    my ($dir, $name) = @_;
    my ($rc, $out, $err) = $t->gobi('sync', $dir);
    is($rc, 0, $name) or diag "$out$err";
    return $err;
}

sub status_json {
    my ($dir) = @_;
    my ($rc, $out, $err) = $t->gobi('--json', 'status', $dir);
    is($rc, 0, 'status') or diag "$out$err";
    return eval { $J->decode($out) } || {};
}

for my $mode ('openat2', 'walk') {
    local $ENV{GOBI_NO_OPENAT2} = $mode eq 'walk' ? 1 : 0;
    my $vault = "links-$mode";
    $t->vault($vault);
    my $a = $t->clone($vault, "a-$mode");
    my $b = $t->clone($vault, "b-$mode");
    my $outside = $t->dir("outside-$mode");
    $t->put("$outside/victim.txt", "precious\n");
    $t->put("$outside/sub/deep.txt", "deep\n");
    my $before = snapshot($outside);

    subtest "$mode: links are skipped, not uploaded, listed by status" => sub {
        symlink($outside, "$a/out") or die "symlink: $!";
        symlink("$outside/victim.txt", "$a/secret.lnk") or die "symlink: $!";
        $t->put("$a/normal.txt", "normal\n");
        sync_ok($a, 'sync a');
        is_deeply(manifest_paths($vault), ['normal.txt'],
            'only the normal file is on the server');

        my $st = status_json($a);
        is_deeply($st->{skipped}, [
            { path => 'out', why => 'symbolic link' },
            { path => 'secret.lnk', why => 'symbolic link' },
        ], 'status --json lists both links as skipped');
        is_deeply($st->{changes}, [], 'and no local changes');

        ($rc, $out, $err) = $t->gobi('status', $a);
        like($out, qr/skipped \(not synced\):\n  out \(symbolic link\)\n  secret\.lnk \(symbolic link\)/,
            'plain status lists them too');
        is_deeply(snapshot($outside), $before, 'outside untouched');
    };

    subtest "$mode: remote creates and replaces under a linked folder" => sub {
        sync_ok($b, 'b gets normal.txt');
        $t->put("$b/out/new.txt", "from b\n");
        $t->put("$b/out/victim.txt", "overwrite\n");
        $t->put("$b/out/sub/deep.txt", "deeper\n");
        $t->put("$b/beside.txt", "beside\n");
        sync_ok($b, 'b uploads');

        ($rc, $out, $err) = $t->gobi('--json', 'sync', $a);
        is($rc, 0, 'a syncs (exit 0)') or diag "$out$err";
        my $r = eval { $J->decode($out) } || {};
        is($r->{skipped}, 3, 'three changes skipped');
        like($err, qr/not applied: "out\/new\.txt" was added on the server, but "out" is a symbolic link here/,
            'says why');
        like($err, qr/"out\/victim\.txt"/, 'names the other one');
        is_deeply(snapshot($outside), $before, 'outside untouched');
        is($t->get("$a/beside.txt"), "beside\n", 'the file beside arrived');
        ok(-l "$a/out", 'the link is still a link');

        # the server keeps them; a replace by REST is refused as well
        my $res = $rest->put($vault, 'out/new.txt', "replaced\n");
        ok($res->status == 200 || $res->status == 201, 'REST replace')
            or diag $res->describe;
        $res = $rest->put($vault, 'out/sub/more.txt', "more\n");
        is($res->status, 201, 'REST create in a subfolder');
        ($rc, $out, $err) = $t->gobi('sync', $a);
        is($rc, 0, 'a syncs') or diag "$out$err";
        like($err, qr/not applied: "out\/new\.txt"/, 'refused');
        like($err, qr/not applied: "out\/sub\/more\.txt"/, 'refused');
        is_deeply(snapshot($outside), $before, 'outside untouched');

        $err = sync_ok($a, 'a again');
        unlike($err, qr/not applied/, 'a refused change is not repeated');
        is_deeply([ grep { m{^out/} } @{ manifest_paths($vault) } ],
            [ 'out/new.txt', 'out/sub/deep.txt', 'out/sub/more.txt',
              'out/victim.txt' ], 'the server keeps the files');
    };

    subtest "$mode: remote renames and deletes under a linked folder" => sub {
        sync_ok($b, 'b');
        rename("$b/out/new.txt", "$b/out/renamed.txt") or die;
        rename("$b/beside.txt", "$b/out/moved-in.txt") or die;
        sync_ok($b, 'b renames');
        my $res = $rest->delete($vault, 'out/victim.txt');
        ok($res->status == 200 || $res->status == 204, 'REST delete')
            or diag $res->describe;

        ($rc, $out, $err) = $t->gobi('sync', $a);
        is($rc, 0, 'a syncs') or diag "$out$err";
        like($err, qr/not applied: "out\/moved-in\.txt"/, 'rename in refused');
        is_deeply(snapshot($outside), $before, 'outside untouched');
        ok(!-e "$a/beside.txt", 'the renamed file left its old place');
        is($t->get("$a/normal.txt"), "normal\n", 'the rest is there');
    };

    subtest "$mode: a synced folder replaced by a link" => sub {
        $t->put("$a/proj/keep.txt", "K\n");
        $t->put("$a/proj/move.txt", "M\n");
        $t->put("$a/proj/gone.txt", "G\n");
        sync_ok($a, 'a uploads proj/');
        sync_ok($b, 'b has proj/');

        # the user moves the folder out and links it back
        my $moved = $t->dir("moved-$mode");
        rename("$a/proj", $moved) or die "rename: $!";
        symlink($moved, "$a/proj") or die "symlink: $!";
        $t->put("$moved/keep.txt", "edited outside\n");
        my $mbefore = snapshot($moved);

        sync_ok($a, 'a syncs with the link');
        is_deeply([ grep { m{^proj/} } @{ manifest_paths($vault) } ],
            [ 'proj/gone.txt', 'proj/keep.txt', 'proj/move.txt' ],
            'nothing deleted on the server');
        is($rest->get($vault, 'proj/keep.txt')->body, "K\n",
            'the edit behind the link was not uploaded');
        my $st = status_json($a);
        ok((grep { $_->{path} eq 'proj' } @{ $st->{skipped} || [] }),
            'proj is listed as skipped');
        is_deeply($st->{changes}, [], 'not as deleted');

        $t->put("$b/proj/keep.txt", "K2\n");
        rename("$b/proj/move.txt", "$b/moved.txt") or die;
        unlink("$b/proj/gone.txt") or die;
        sync_ok($b, 'b edits, renames out and deletes');

        ($rc, $out, $err) = $t->gobi('sync', $a);
        is($rc, 0, 'a syncs') or diag "$out$err";
        like($err, qr/not applied: "proj\/keep\.txt" changed on the server, but "proj" is a symbolic link here/,
            'replace refused');
        like($err, qr/not applied: "proj\/gone\.txt" was deleted on the server/,
            'delete refused');
        is_deeply(snapshot($moved), $mbefore,
            'the moved-out folder is untouched');
        is($t->get("$a/moved.txt"), "M\n", 'the renamed file arrived');
        is_deeply(snapshot($outside), $before, 'outside untouched');
    };

    subtest "$mode: a synced file replaced by a link" => sub {
        $t->put("$a/plain.txt", "plain\n");
        sync_ok($a, 'a uploads plain.txt');
        unlink("$a/plain.txt") or die;
        symlink("$outside/victim.txt", "$a/plain.txt") or die "symlink: $!";
        sync_ok($a, 'a syncs with the link');
        is($rest->get($vault, 'plain.txt')->body, "plain\n",
            'neither replaced by the target nor deleted on the server');
        ok((grep { $_->{path} eq 'plain.txt' }
            @{ status_json($a)->{skipped} || [] }), 'listed as skipped');

        $rest->put($vault, 'plain.txt', "plain 2\n");
        ($rc, $out, $err) = $t->gobi('sync', $a);
        is($rc, 0, 'a syncs') or diag "$out$err";
        like($err, qr/not applied: "plain\.txt" changed on the server, but "plain\.txt" is a symbolic link here/,
            'the replace is refused');
        ok(-l "$a/plain.txt", 'the link stays');
        is_deeply(snapshot($outside), $before, 'outside untouched');
    };

    subtest "$mode: watch refuses too" => sub {
        my $w = $t->watch($a);
        $t->put("$b/out/watched.txt", "w\n");
        $t->put("$b/watched-beside.txt", "wb\n");
        sync_ok($b, 'b');
        ok(wait_for(sub { -e "$a/watched-beside.txt" }, 20),
            'watch brought the file beside');
        ok($t->stop_watch($w), 'watch stops');
        like(Gobi::CliTest::_slurp("$a.watch.log") // '',
            qr/not applied: "out\/watched\.txt"/, 'watch says why');
        is_deeply(snapshot($outside), $before, 'outside untouched');
    };

    subtest "$mode: links in .gobi/ are refused" => sub {
        my $trap = $t->dir("trap-$mode");
        $t->put("$trap/dl.keepme", "mine\n");
        my $tbefore = snapshot($trap);

        remove_tree("$a/.gobi/tmp");
        symlink($trap, "$a/.gobi/tmp") or die "symlink: $!";
        $rest->put($vault, 'fresh.txt', "fresh\n");
        ($rc, $out, $err) = $t->gobi('sync', $a);
        isnt($rc, 0, 'sync refuses');
        like($err, qr/\.gobi\/tmp is a symbolic link/, 'says so');
        is_deeply(snapshot($trap), $tbefore, 'nothing written there');
        ok(!-e "$a/fresh.txt", 'nothing downloaded through it');

        unlink("$a/.gobi/tmp") or die;
        sync_ok($a, 'without the link it syncs');
        is($t->get("$a/fresh.txt"), "fresh\n", 'the file arrived');
        ok(-d "$a/.gobi/tmp" && !-l "$a/.gobi/tmp", '.gobi/tmp is back');
    };
}

sub wait_for {
    my ($cond, $timeout) = @_;
    my $deadline = time + $timeout;
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.2;
    }
    return $cond->();
}

done_testing;
