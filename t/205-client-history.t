# The client's history commands against the real server: gobi history
# (every page, newest first), gobi restore of a version and of a deleted
# file (then pulled here, and synced to a second clone), gobi trash,
# gobi restore --at a seq or a time (the whole vault, converging on a
# second clone), gobi vault set conflict-strategy; bad inputs give a clear
# error and an exit code, and change nothing.
use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Gobi::CliTest;
use Cwd qw(getcwd);
use JSON::PP ();
use POSIX qw(strftime);
use Time::HiRes qw(sleep time);

my $t = Gobi::CliTest->new(name => 'client-history');
my $J = JSON::PP->new->utf8;
my ($rc, $out, $err);

$t->vault('notes');
my $a = $t->clone('notes', 'a');
my $b = $t->clone('notes', 'b');

sub sync_ok {
    my ($dir, $name) = @_;
    my ($rc, $out, $err) = $t->gobi('sync', $dir);
    is($rc, 0, $name) or diag "$out$err";
}

sub json_of {
    my (@args) = @_;
    my ($rc, $out, $err) = $t->gobi('--json', @args);
    my $j = eval { $J->decode($out) } || {};
    return ($rc, $j, $err);
}

sub head_seq {
    my (undef, $log) = json_of('log', $a, '-n', '1');
    return $log->{head_seq} // -1;
}

# ---- history ---------------------------------------------------------------
# (each edit changes the size: the scan sees it at once, whatever the mtime)

subtest 'history lists the versions, newest first' => sub {
    $t->put("$a/doc.txt", "one\n");
    sync_ok($a, 'v1');
    $t->put("$a/doc.txt", "two two\n");
    sync_ok($a, 'v2');
    $t->put("$a/doc.txt", "three three three\n");
    sync_ok($a, 'v3');
    sync_ok($b, 'b has it');

    my ($rc, $h, $err) = json_of('history', "$a/doc.txt");
    is($rc, 0, 'history') or diag $err;
    is($h->{path}, 'doc.txt', 'the vault path');
    my @v = @{ $h->{versions} || [] };
    is(scalar @v, 3, 'three versions');
    ok($v[0]{version} > $v[1]{version} && $v[1]{version} > $v[2]{version},
        'newest first');
    is_deeply([ map { $_->{size} } @v ], [ 18, 8, 4 ], 'their sizes');
    is_deeply([ map { $_->{device} } @v ], [ 'a', 'a', 'a' ], 'the device');
    ok($v[0]{current} && !$v[1]{current}, 'the newest is current');
    ok(!grep({ $_->{deleted} } @v), 'none deleted');

    # from inside the folder, a path relative to the current one
    my $cwd = getcwd();
    mkdir "$b/sub";
    chdir "$b/sub" or die;
    ($rc, $out, $err) = $t->gobi('history', '../doc.txt');
    chdir $cwd or die;
    is($rc, 0, 'history ../doc.txt from a subfolder of b') or diag $err;
    my @lines = grep { /\S/ } split /\n/, $out;
    is(scalar @lines, 3, 'one line per version');
    my $date = qr/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/;
    like($lines[0], qr/^\s*$v[0]{version}\s+$date\s+18 B\s+a\s+current$/,
        'version, date, size, device, current');
};

subtest 'history of a file with more than a page of versions' => sub {
    my $c = $t->server->client;
    $c->login('alice', $Gobi::CliTest::PASSWORD);
    for my $i (1 .. 1005) {
        $c->put('notes', 'many.txt', "version $i");
    }
    sync_ok($a, 'a gets it');
    my ($rc, $h, $err) = json_of('history', "$a/many.txt");
    is($rc, 0, 'history') or diag $err;
    is(scalar @{ $h->{versions} || [] }, 1005, 'all 1005 (two pages)');
    my @next = grep {
        m{GET /api/v1/vaults/notes/versions/many\.txt\?limit=1000&before=\d+ }
    } split /\n/, $t->server->access_log;
    is(scalar @next, 1, 'the second page asked with ?before=');
};

# ---- restore a version -----------------------------------------------------

subtest 'restore --version N: the old bytes, here and there' => sub {
    my (undef, $h) = json_of('history', "$a/doc.txt");
    my $v1 = $h->{versions}[-1]{version};
    my $head = head_seq();

    my ($rc, $r, $err) = json_of('restore', "$a/doc.txt", '--version', $v1);
    is($rc, 0, "restore --version $v1") or diag $err;
    is($r->{restored_from}, $v1, 'restored_from');
    ok($r->{version} > $head, 'a new version');
    is($r->{downloaded}, 1, 'pulled');
    is($t->get("$a/doc.txt"), "one\n", 'the old bytes on disk');

    (undef, $h) = json_of('history', "$a/doc.txt");
    is(scalar @{ $h->{versions} }, 4, 'one more version');
    is($h->{versions}[0]{version}, $r->{version}, 'the restore is current');

    sync_ok($a, 'a: nothing left to send');
    sync_ok($b, 'b');
    is($t->get("$b/doc.txt"), "one\n", 'the second clone has it');
    is_deeply($t->tree($b), $t->tree($a), 'same trees');
};

subtest 'restore without --version: the content before the current' => sub {
    ($rc, $out, $err) = $t->gobi('restore', "$b/doc.txt");
    is($rc, 0, 'restore') or diag $err;
    like($out, qr/^restored doc\.txt from version \d+: now version \d+/,
        'says what it did');
    is($t->get("$b/doc.txt"), "three three three\n", 'the one before');
    sync_ok($a, 'a');
    is($t->get("$a/doc.txt"), "three three three\n", 'a has it');
};

subtest 'restore over an unsynced local edit keeps the edit' => sub {
    sync_ok($b, 'b');
    my (undef, $h) = json_of('history', "$b/doc.txt");
    my $v1 = $h->{versions}[-1]{version};
    $t->put("$b/doc.txt", "local edit, never synced\n");
    ($rc, $out, $err) = $t->gobi('restore', "$b/doc.txt", '--version', $v1);
    is($rc, 6, 'exit 6: the edit is not written over') or diag "$out$err";
    like($err, qr/conflict cop|never synced/, 'says so');

    # a conflict copy here, or the push leaves it to the server's strategy
    ($rc, $out, $err) = $t->gobi('sync', $b);
    ok($rc == 0 || $rc == 6, 'b syncs') or diag "$out$err";
    is($t->get("$b/doc.txt"), "one\n", 'the restored bytes');
    my @copies = grep { /^doc \(conflict / } keys %{ $t->tree($b) };
    is(scalar @copies, 1, 'one conflict copy');
    is($t->get("$b/$copies[0]"), "local edit, never synced\n",
        'the edit is in it');
    sync_ok($b, 'b sends it');
    sync_ok($a, 'a');
    is_deeply($t->tree($a), $t->tree($b), 'same trees');
    unlink "$b/$copies[0]";
    sync_ok($b, 'b drops the copy');
    sync_ok($a, 'a too');
};

# ---- deleted files ---------------------------------------------------------

subtest 'a deleted file: trash lists it, restore brings it back' => sub {
    $t->put("$a/gone.txt", "bye\n");
    sync_ok($a, 'a creates');
    sync_ok($b, 'b gets it');
    unlink "$a/gone.txt";
    sync_ok($a, 'a deletes');
    sync_ok($b, 'b deletes');
    ok(!-e "$b/gone.txt", 'gone in b');

    my ($rc, $tr, $err) = json_of('trash', $b);
    is($rc, 0, 'trash') or diag $err;
    my ($e) = grep { $_->{path} eq 'gone.txt' } @{ $tr->{trash} || [] };
    ok($e, 'lists gone.txt');
    is($e->{size}, 4, 'its last content');
    is($e->{device}, 'a', 'deleted by a');
    ok($e->{deleted_at} > 0 && $e->{version} > 0, 'when, which version');
    ok($tr->{retention} > 0, 'the retention');

    ($rc, $out) = $t->gobi('trash', $b);
    like($out, qr/gone\.txt\s+4 B\s+version $e->{version}, deleted by a/,
        'the text lists it');

    my $h;
    ($rc, $h) = json_of('history', "$b/gone.txt");
    is($rc, 0, 'history of a deleted file');
    ok($h->{versions}[0]{deleted}, 'the newest is the delete');

    ($rc, my $r, $err) = json_of('restore', "$b/gone.txt");
    is($rc, 0, 'restore of a deleted file (its last content)') or diag $err;
    is($r->{restored_from}, $e->{version}, 'the trash\'s version');
    is($t->get("$b/gone.txt"), "bye\n", 'back in b');
    sync_ok($a, 'a');
    is($t->get("$a/gone.txt"), "bye\n", 'back in a');

    (undef, $tr) = json_of('trash', $a);
    ok(!grep({ $_->{path} eq 'gone.txt' } @{ $tr->{trash} || [] }),
        'no longer in the trash');
};

# ---- the whole vault -------------------------------------------------------

subtest 'restore --at <seq>: the vault as it was, everywhere' => sub {
    sync_ok($b, 'b up to date');
    my $seq = head_seq();
    my %before = %{ $t->tree($a) };

    $t->put("$a/doc.txt", "changed after the seq\n");
    $t->put("$a/new.txt", "created after the seq\n");
    unlink "$a/gone.txt";
    sync_ok($a, 'a changes three files');
    sync_ok($b, 'b has them');

    my ($rc, $r, $err) = json_of('restore', '--at', $seq, $a);
    is($rc, 0, "restore --at $seq") or diag $err;
    is($r->{restored_to}, $seq, 'restored_to');
    is($r->{restored}, 2, 'two restored (the changed and the deleted)');
    is($r->{deleted}, 1, 'one deleted (created after)');
    ok(!-e "$a/new.txt", 'the file created after is gone');
    is($t->get("$a/doc.txt"), $before{'doc.txt'}, 'the changed one restored');
    is($t->get("$a/gone.txt"), "bye\n", 'the deleted one is back');
    is_deeply($t->tree($a), \%before, 'a is as it was');

    sync_ok($b, 'b');
    is_deeply($t->tree($b), \%before, 'the second clone converges');

    (undef, my $tr) = json_of('trash', $a);
    ok(grep({ $_->{path} eq 'new.txt' } @{ $tr->{trash} || [] }),
        'what was created after is in the trash');
};

subtest 'restore --at <time>' => sub {
    sync_ok($a, 'a');
    sync_ok($b, 'b');
    sleep 1.1;
    my $at = int(time) + 1;
    sleep 0.1 while time < $at + 1.2;
    my %before = %{ $t->tree($a) };

    $t->put("$b/doc.txt", "changed later\n");
    $t->put("$b/later.txt", "created later\n");
    sync_ok($b, 'b changes');
    sync_ok($a, 'a gets it');

    my $iso = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $at);
    ($rc, $out, $err) = $t->gobi('restore', '--at', $iso, $a);
    is($rc, 0, "restore --at $iso") or diag $err;
    like($out, qr/^restored vault notes to seq \d+ \(its last change at/,
        'says so');
    is_deeply($t->tree($a), \%before, 'a as it was then');
    sync_ok($b, 'b');
    is_deeply($t->tree($b), \%before, 'b too');

    # the same moment as local time and as unix seconds: nothing to do
    my $local = strftime('%Y-%m-%dT%H:%M:%S', localtime $at);
    $t->put("$b/draft.txt", "not synced\n");
    my ($rc2, $r, $err2) = json_of('restore', '--at', $local, $b);
    is($rc2, 0, "restore --at $local (local time)");
    is($r->{restored} + $r->{deleted}, 0, 'nothing changed again');
    is($r->{local_changes}, 1, 'the unsynced file is left, and counted');
    like($err2, qr/1 local changes not synced yet were left/, 'said');
    is($t->get("$b/draft.txt"), "not synced\n", 'still there');
    unlink "$b/draft.txt";
    ($rc2, my $r2) = json_of('restore', '--at', "\@$at", $b);
    is($rc2, 0, "restore --at \@$at");
    is($r2->{restored_to}, $r->{restored_to}, 'the same seq');
};

subtest 'restore --at a time, past a pruned event log' => sub {
    my $sqlite = `command -v sqlite3 2>/dev/null`;
    chomp $sqlite;
    plan skip_all => 'no sqlite3 command' unless $sqlite;
    plan skip_all => 'the store is not SQLite'
        if ($ENV{GOBI_TEST_STORE} // '') =~ /^mongodb:/;

    $t->vault('old');
    my $c = $t->clone('old', 'c');
    for my $i (1 .. 6) {
        $t->put("$c/f$i.txt", "file $i\n");
        sync_ok($c, "event $i");
    }
    sleep 1.1;
    my $at = int(time) + 1;
    sleep 0.1 while time < $at + 1.2;
    my %before = %{ $t->tree($c) };
    $t->put("$c/f1.txt", "changed\n");
    $t->put("$c/late.txt", "late\n");
    sync_ok($c, 'two more');

    # the oldest events go, the way events_prune drops a prefix
    my $db = $t->server->db_file;
    my $sql = "DELETE FROM events WHERE seq <= 4 AND vault = "
        . "(SELECT id FROM vaults WHERE name = 'old');";
    my $o = `$sqlite -cmd '.timeout 10000' '$db' "$sql" 2>&1`;
    is($?, 0, 'events 1-4 pruned') or diag $o;

    my ($rc, $r, $err) = json_of('restore', '--at', "\@$at", $c);
    is($rc, 0, 'restore --at a time after the horizon') or diag $err;
    is($r->{restored_to}, 6, 'found seq 6 past the pruned ones');
    is_deeply($t->tree($c), \%before, 'the vault as it was');

    ($rc, $out, $err) = $t->gobi('restore', '--at', '@1000', $c);
    is($rc, 5, 'a time before the horizon: exit 5');
    like($err, qr/keeps the vault's events from .* \(seq 5\) on/,
        'says from when it has them');
};

# ---- conflict strategy -----------------------------------------------------

subtest 'vault set conflict-strategy' => sub {
    my $c = $t->server->client;
    $c->login('alice', $Gobi::CliTest::PASSWORD);
    my ($v) = grep { $_->{name} eq 'notes' } @{ $c->vaults->json->{vaults} };
    is($v->{conflict_strategy}, 'keep-both', 'keep-both at first');

    my ($rc, $r, $err) = json_of('vault', 'set', 'notes',
        'conflict-strategy', 'last-writer-wins');
    is($rc, 0, 'set last-writer-wins') or diag $err;
    is($r->{conflict_strategy}, 'last-writer-wins', 'the answer says so');
    ($v) = grep { $_->{name} eq 'notes' } @{ $c->vaults->json->{vaults} };
    is($v->{conflict_strategy}, 'last-writer-wins', 'GET /vaults says so');

    ($rc, my $l) = json_of('vaults');
    my ($lv) = grep { $_->{name} eq 'notes' } @{ $l->{vaults} || [] };
    is($lv->{conflict_strategy}, 'last-writer-wins', 'gobi vaults shows it');

    ($rc, $out, $err) = $t->gobi('vault', 'set', 'notes',
        'conflict-strategy', 'keep-both');
    is($rc, 0, 'back to keep-both');
    like($out, qr/^vault notes: conflict strategy keep-both$/, 'says so');
};

# ---- bad inputs ------------------------------------------------------------

subtest 'bad inputs: a clear error, an exit code, nothing changed' => sub {
    sync_ok($a, 'a');
    sync_ok($b, 'b');
    my $head = head_seq();
    my %tree = %{ $t->tree($a) };
    my $c = $t->server->client;
    $c->login('alice', $Gobi::CliTest::PASSWORD);

    my @cases = (
        [ 2, qr/unknown conflict strategy "frobnicate"/,
          'vault', 'set', 'notes', 'conflict-strategy', 'frobnicate' ],
        [ 2, qr/unknown setting "colour"/,
          'vault', 'set', 'notes', 'colour', 'blue' ],
        [ 5, qr/vault "nope" not found/,
          'vault', 'set', 'nope', 'conflict-strategy', 'merge' ],
        [ 2, qr/usage: gobi vault/, 'vault', 'set', 'notes', 'x' ],
        [ 5, qr/has no version 999999 to restore/,
          'restore', "$a/doc.txt", '--version', '999999' ],
        [ 2, qr/--version wants a version number/,
          'restore', "$a/doc.txt", '--version', 'x' ],
        [ 2, qr/--version wants a version number/,
          'restore', "$a/doc.txt", '--version' ],
        [ 5, qr/no such file in vault "notes", nor any history/,
          'restore', "$a/never.txt" ],
        [ 5, qr/no such file in vault "notes", nor any history/,
          'history', "$a/never/was.txt" ],
        [ 2, qr/gobi's own state/, 'history', "$a/.gobi/state.db" ],
        [ 2, qr/is a folder/, 'history', $a ],
        [ 5, qr/not inside a gobi folder/, 'history', $t->tmp . '/x.txt' ],
        [ 2, qr/bad --at "yesterday"/, 'restore', '--at', 'yesterday', $a ],
        [ 2, qr/bad --at/, 'restore', '--at', '2026-02-30T10:00:00Z', $a ],
        [ 2, qr/bad --at/, 'restore', '--at', '2026-12-03T25:00:00', $a ],
        [ 2, qr/bad --at/, 'restore', '--at', '-3', $a ],
        [ 2, qr/beyond the vault's head/,
          'restore', '--at', $head + 1000, $a ],
        [ 5, qr/had no changes yet at/, 'restore', '--at', '@1', $a ],
        [ 2, qr/--at restores the whole vault/,
          'restore', '--at', '1', "$a/doc.txt" ],
        [ 2, qr/--at and --version/,
          'restore', '--at', '1', '--version', '1', $a ],
        [ 2, qr/usage: gobi restore/, 'restore' ],
    );

    for my $case (@cases) {
        my ($want, $re, @args) = @$case;
        my ($rc, $out, $err) = $t->gobi(@args);
        is($rc, $want, "gobi @args: exit $want") or diag "$out$err";
        like($err, $re, '  says why');
    }

    my ($rc, $out) = $t->gobi('--json', 'restore', "$a/doc.txt",
        '--version', '999999');
    my $e = eval { $J->decode($out) } || {};
    is($e->{error}{code}, 'not_found', '--json: the error object');

    is(head_seq(), $head, 'no event on the server');
    is_deeply($t->tree($a), \%tree, 'nothing changed here');
    my ($v) = grep { $_->{name} eq 'notes' } @{ $c->vaults->json->{vaults} };
    is($v->{conflict_strategy}, 'keep-both', 'the strategy unchanged');
};

done_testing;
