# The gobi client end to end against the real server: accounts, clone,
# two-way sync of files and folders, conflicts, ignore rules, the
# mass-delete guard, offline queue, bad inputs and their exit codes.
use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Gobi::CliTest;
use JSON::PP ();

my $t = Gobi::CliTest->new(name => 'client-basic');
my $J = JSON::PP->new->utf8;
my ($rc, $out, $err);

# ---- accounts and bad inputs -------------------------------------------------

subtest 'login errors and exit codes' => sub {
    ($rc, $out, $err) = $t->gobi_env({ GOBI_PASSWORD => 'wrong password' },
        'login', $t->url, 'alice');
    is($rc, 3, 'wrong password: exit 3');
    like($err, qr/wrong username or password/, 'says so');

    ($rc, $out, $err) = $t->gobi_env({ GOBI_PASSWORD => 'x' x 9 },
        'login', 'ftp://example.org', 'alice');
    is($rc, 2, 'bad URL: exit 2');
    like($err, qr/bad URL/, 'says so');

    ($rc, $out, $err) = $t->gobi_env({ GOBI_PASSWORD => 'whatever1' },
        'login', 'http://127.0.0.1:1', 'alice');
    is($rc, 4, 'server down: exit 4');
    like($err, qr/cannot reach the server/, 'says so');

    ($rc, $out, $err) = $t->gobi('frobnicate');
    is($rc, 2, 'unknown command: exit 2');

    ($rc, $out, $err) = $t->gobi('clone', 'no-such-vault', $t->dir('x'));
    is($rc, 5, 'unknown vault: exit 5');
    like($err, qr/vault "no-such-vault" not found/, 'says so');
    ok(!-e $t->dir('x'), 'no folder made for it');

    ($rc, $out, $err) = $t->gobi('sync', $t->tmp);
    is($rc, 5, 'sync outside a vault folder: exit 5');
};

subtest 'vaults' => sub {
    ($rc) = $t->gobi('vault', 'create', 'notes');
    is($rc, 0, 'vault create');
    ($rc, $out, $err) = $t->gobi('vault', 'create', 'notes');
    is($rc, 10, 'again: exit 10');
    ($rc, $out) = $t->gobi('--json', 'vaults');
    is($rc, 0, 'vaults');
    my $v = eval { $J->decode($out) } || {};
    is_deeply([ map { $_->{name} } @{ $v->{vaults} || [] } ], ['notes'],
        'lists the vault');
};

# ---- two folders ---------------------------------------------------------------

my $a = $t->clone('notes', 'a');
my $b = $t->clone('notes', 'b');

sub sync_ok {
    my ($dir, $name, @args) = @_;
    my ($rc, $out, $err) = $t->gobi('sync', $dir, @args);
    is($rc, 0, $name) or diag "$out$err";
}

subtest 'creates, edits, deletes, renames converge' => sub {
    $t->put("$a/hello.txt", "hello\n");
    $t->put("$a/docs/deep/x.md", "# x\n");
    $t->put("$a/empty", "");
    sync_ok($a, 'push from a');
    sync_ok($b, 'pull into b');
    is_deeply($t->tree($b), $t->tree($a), 'b has what a has');

    $t->put("$b/hello.txt", "hello, world\n");
    unlink "$b/empty";
    rename "$b/docs", "$b/papers" or die;
    $t->put("$b/new.bin", join '', map { chr } 0 .. 255);
    sync_ok($b, 'push from b');
    sync_ok($a, 'pull into a');
    is_deeply($t->tree($a), $t->tree($b), 'a has what b has');
    is($t->get("$a/hello.txt"), "hello, world\n", 'edit arrived');
    ok(!-e "$a/empty" && !-e "$a/docs", 'delete and folder rename arrived');
    ok(-e "$a/papers/deep/x.md", 'renamed folder is there');

    ($rc, $out) = $t->gobi('--json', 'log', $a, '-n', '50');
    my $log = eval { $J->decode($out) } || {};
    ok(scalar(@{ $log->{events} || [] }) >= 6, 'log shows the events');
};

subtest 'a large file round trips whole (windows, the hashing ring)' => sub {
    # 7 MiB + 13: past the client's ring of 512 KiB buffers (after its
    # first MiB) and the server's upload windows, ending mid-window
    my $big = join '', map { pack 'N', $_ * 2654435761 % 4294967296 }
                       0 .. (7 * 1024 * 1024 / 4 - 1);
    # and 6 MiB even: the ring's last buffer ends with the body
    my $even = substr($big, 0, 6 * 1024 * 1024);
    $big .= 'x' x 13;
    $t->put("$a/big.bin", $big);
    $t->put("$a/even.bin", $even);
    sync_ok($a, 'push the large files from a');
    sync_ok($b, 'pull them into b');
    ok($t->get("$b/big.bin") eq $big, 'the same bytes in b');
    ok($t->get("$b/even.bin") eq $even, 'both');
    my $c = $t->clone('notes', 'c');
    ok($t->get("$c/big.bin") eq $big, 'and in a fresh clone');
    ok($t->get("$c/even.bin") eq $even, 'both');
    ($rc, $out) = $t->gobi('--json', 'status', $b);
    my $st = eval { $J->decode($out) } || {};
    is_deeply($st->{changes} || [], [], 'its hash matches what the server has');
};

subtest 'changes made while no client ran are found' => sub {
    $t->put("$a/offline-edit.txt", "made while stopped\n");
    ($rc, $out) = $t->gobi('--json', 'status', $a);
    my $st = eval { $J->decode($out) } || {};
    is_deeply($st->{changes}, [ { change => 'new',
        path => 'offline-edit.txt' } ], 'status shows the new file');
    sync_ok($a, 'sync a');
    sync_ok($b, 'sync b');
    is($t->get("$b/offline-edit.txt"), "made while stopped\n", 'arrived');
};

subtest 'a concurrent edit keeps both versions' => sub {
    $t->put("$a/hello.txt", "edit from a\n");
    $t->put("$b/hello.txt", "edit from b\n");
    sync_ok($a, 'a first');
    ($rc, $out, $err) = $t->gobi('sync', $b);
    is($rc, 6, 'b: exit 6 (conflict)');
    like($err, qr/conflict/, 'b says so');
    sync_ok($a, 'a gets the copy');
    is_deeply($t->tree($a), $t->tree($b), 'same trees');
    my @copies = grep { /^hello \(conflict b .*\)\.txt$/ }
        keys %{ $t->tree($a) };
    is(scalar @copies, 1, 'one conflict copy, named after device b');
    is($t->get("$a/hello.txt"), "edit from a\n", 'the server version');
    is($t->get("$a/$copies[0]"), "edit from b\n", 'b\'s edit kept');

    ($rc, $out) = $t->gobi('--json', 'conflicts', $b);
    my $c = eval { $J->decode($out) } || {};
    is($c->{conflicts}[0]{path}, 'hello.txt', 'conflicts lists it');

    ($rc, $out, $err) = $t->gobi('--keep', 'local', 'resolve',
        'hello.txt', $b);
    is($rc, 0, 'resolve --keep local') or diag $err;
    sync_ok($a, 'a after resolve');
    is_deeply($t->tree($a), $t->tree($b), 'same trees');
    is($t->get("$a/hello.txt"), "edit from b\n", 'b\'s edit won');
    ok(!-e "$a/$copies[0]", 'copy gone everywhere');
};

subtest 'ignore rules' => sub {
    $t->put("$a/.gobiignore", "build/\n*.log\n!keep.log\n");
    $t->put("$a/build/out.o", "obj");
    $t->put("$a/debug.log", "log");
    $t->put("$a/keep.log", "keep");
    $t->put("$a/.notes.txt.swp", "vim");
    $t->put("$a/~\$report.docx", "word");
    sync_ok($a, 'sync a');
    sync_ok($b, 'sync b');
    my $tb = $t->tree($b);
    ok(exists $tb->{'.gobiignore'}, '.gobiignore is synced');
    ok(exists $tb->{'keep.log'}, 'negated pattern synced');
    ok(!exists $tb->{'debug.log'} && !exists $tb->{'build/out.o'},
        'ignored files stay local');
    ok(!exists $tb->{'.notes.txt.swp'} && !exists $tb->{'~$report.docx'},
        'editor temp files stay local');
    unlink "$a/debug.log", "$a/build/out.o", "$a/.notes.txt.swp",
        "$a/~\$report.docx";
    rmdir "$a/build";
};

subtest 'mass-delete guard' => sub {
    for my $f (keys %{ $t->tree($a) }) {
        unlink "$a/$f";
    }
    ($rc, $out, $err) = $t->gobi('sync', $a);
    is($rc, 8, 'refused: exit 8');
    like($err, qr/--allow-mass-delete/, 'says how to allow it');
    sync_ok($b, 'b unchanged');
    ok(-e "$b/hello.txt", 'nothing deleted on the server');
    sync_ok($a, 'a again with the flag', '--allow-mass-delete');
    sync_ok($b, 'b gets the deletes');
    ok(!-e "$b/hello.txt", 'deleted now');
};

subtest 'offline queue replayed after the server was down' => sub {
    $t->put("$a/one.txt", "1");
    $t->put("$a/two.txt", "2");
    sync_ok($a, 'a');
    sync_ok($b, 'b');

    $t->server->stop;
    $t->put("$a/three.txt", "3");
    rename "$a/one.txt", "$a/uno.txt";
    $t->put("$a/two.txt", "two");
    ($rc, $out, $err) = $t->gobi('sync', $a);
    is($rc, 4, 'server down: exit 4');
    like($err, qr/cannot reach the server/, 'says so');
    ($rc, $out) = $t->gobi('--json', 'status', $a);
    my $st = eval { $J->decode($out) } || {};
    ok($st->{queued} >= 3, 'the changes are queued');

    ok($t->server->start, 'server back');
    $t->put("$b/four.txt", "4");
    sync_ok($b, 'b changed meanwhile');
    sync_ok($a, 'a replays its queue');
    sync_ok($b, 'b');
    is_deeply($t->tree($a), $t->tree($b), 'same trees');
    is($t->get("$b/uno.txt"), "1", 'rename arrived');
    ok(!-e "$b/one.txt", 'old name gone');
    is($t->get("$b/two.txt"), "two", 'edit arrived');
    is($t->get("$a/four.txt"), "4", 'and the other way');
};

subtest 'logout' => sub {
    ($rc) = $t->gobi('logout');
    is($rc, 0, 'logout');
    ($rc, $out, $err) = $t->gobi('sync', $a);
    is($rc, 3, 'not logged in: exit 3');
};

done_testing;
