# The storage's folders and files, under umask 0:
# - the data folders gobi makes (the SQLite file's folder, the storage
#   root, its temp folder and each worker's, vault and blob folders) are
#   0700, blobs, upload temp files and the SQLite database (with its
#   -wal and -shm) 0600;
# - a blob folder made for an upload is fsynced into its parent (strace);
# - an upload whose worker is killed (SIGKILL) leaves a temp file that the
#   worker started in its place removes at once, not gobi_blob_grace
#   later, while the upload in flight on the other worker goes on and
#   completes;
# - after a reload, the new workers leave alone the uploads still in flight
#   on the old ones.
use strict;
use warnings;
use Test::More;
use File::Find;
use IO::Select;
use Time::HiRes qw(sleep time);
use Gobi::Test ();
use Gobi::WS;

my $CHUNK = 640 * 1024;         # beyond an upload window (512 KiB): on disk
my $SIZE = 1024 * 1024;
my $RUN = Gobi::Test::run_name();

my $old_umask = umask 0;
my $t = Gobi::Test::gobi_server(label => 'storage',
    main_config => 'error_log logs/error.log debug;');
my $started = $t->start;
umask $old_umask;
ok($started, 'nginx starts') or BAIL_OUT($t->start_output . $t->error_log);

my $var = "$t->{servroot}/var";
my $root = "$var/vaults";
my $c = $t->client;
$c->user('alice');
my $vault = $c->create_vault('notes');

sub mode { my @st = lstat $_[0] or return -1; $st[2] & 07777 }

sub files_in {
    my ($dir) = @_;
    my @f;
    find({ wanted => sub { push @f, $File::Find::name if -f $_ },
           no_chdir => 1 }, $dir) if -d $dir;
    return sort @f;
}

# an upload that stops after its first $CHUNK bytes: [socket, body]
sub half_upload {
    my ($path) = @_;
    my $body = join '', map { chr(65 + $_ % 26) } 1 .. $SIZE;
    my $sock = $c->connect;
    print $sock "PUT " . $c->file_uri('notes', $path) . " HTTP/1.1\r\n"
        . "Host: localhost\r\nAuthorization: Bearer " . $c->token . "\r\n"
        . "Content-Length: $SIZE\r\nConnection: close\r\n\r\n"
        . substr($body, 0, $CHUNK);
    return [ $sock, $body ];
}

# the temp files a process has open
sub open_temps {
    my ($pid, $tmp) = @_;
    my @f;
    opendir my $d, "/proc/$pid/fd" or return ();
    for (readdir $d) {
        my $l = readlink "/proc/$pid/fd/$_" // next;
        # files only: each worker also holds its locked temp folder open
        push @f, $l if index($l, "$tmp/") == 0 && -f $l;
    }
    closedir $d;
    return sort @f;
}

sub finish_upload {
    my ($u) = @_;
    my ($sock, $body) = @$u;
    print $sock substr($body, $CHUNK);
    my $sel = IO::Select->new($sock);
    my $res = '';
    my $deadline = time + 20;
    while (time < $deadline && $sel->can_read($deadline - time)) {
        my $n = sysread($sock, $res, 65536, length $res) or last;
    }
    return $res =~ m{^HTTP/1\.1 (\d+)} ? $1 : 0;
}


subtest 'modes of the data folders and files' => sub {
    my $r = $c->put('notes', 'a.txt', 'hello');
    is($r->status, 201, 'PUT a.txt');
    my $hash = $r->json->{hash};
    my $vdir = "$root/$vault->{id}";
    my $bdir = "$vdir/" . substr($hash, 0, 2);

    opendir my $d, "$root/.tmp" or die $!;
    my @mine = map { "$root/.tmp/$_" } grep { !/^\./ } readdir $d;
    closedir $d;
    is(scalar @mine, 2, 'a temp folder per worker') or diag "@mine";

    for my $dir ($var, $root, "$root/.tmp", @mine, $vdir, $bdir) {
        is(sprintf('%04o', mode($dir)), '0700', "$dir is 0700");
    }
    is(sprintf('%04o', mode("$bdir/$hash")), '0600', 'the blob is 0600');

    # the store holds password and token hashes
    if ($t->store_uri =~ /^sqlite:(.*)/) {
        my $db = $1;
        for my $f ($db, "$db-wal", "$db-shm") {
            is(sprintf('%04o', mode($f)), '0600', "$f is 0600");
        }
    }

    my $u = half_upload('big.bin');
    my @tmp;
    ok(Gobi::Test::wait_until(sub { @tmp = files_in("$root/.tmp") }, 10),
       'an upload in flight has a temp file');
    is(sprintf('%04o', mode($_)), '0600', "$_ is 0600") for @tmp;
    is(finish_upload($u), 201, 'the upload completes');
    is_deeply([ files_in("$root/.tmp") ], [], 'and leaves no temp file');
};


subtest 'a new blob folder is fsynced into its parent' => sub {
    plan skip_all => 'no strace' unless -x '/usr/bin/strace';
    my $id = $c->create_vault('traced')->{id};
    my @st;
    for my $pid ($t->worker_pids) {
        my $out = "$t->{servroot}/strace.$pid";
        my $spid = fork // die "fork: $!";
        if (!$spid) {
            open STDERR, '>', '/dev/null';
            exec 'strace', '-f', '-qq', '-o', $out,
                '-e', 'trace=mkdir,mkdirat,open,openat,fsync', '-p', $pid;
            exit 127;
        }
        push @st, [ $spid, $out ];
    }
    # attached when the traces show up
    Gobi::Test::wait_until(sub { !grep { !-e $_->[1] } @st }, 5);
    sleep 0.5;
    my $r = $c->put('traced', 'b.txt', 'traced bytes');
    is($r->status, 201, 'PUT b.txt into a new vault');
    my $hash = $r->json->{hash} // '';
    sleep 0.3;
    kill 'INT', $_->[0] for @st;
    waitpid $_->[0], 0 for @st;
    my $trace = join '', map { local (@ARGV, $/) = ($_->[1]); <> // '' }
                         grep { -e $_->[1] } @st;
    plan skip_all => 'strace could not attach (ptrace not permitted)'
        unless $trace =~ /\S/;

    my $vdir = "$root/$id";
    my $bdir = "$vdir/" . substr($hash, 0, 2);
    # mkdir(dir) = 0, then open(parent, O_DIRECTORY) = fd and fsync(fd) = 0
    my @lines = split /\n/, $trace;
    for ([ $vdir, $root ], [ $bdir, $vdir ]) {
        my ($dir, $parent) = @$_;
        my ($i) = grep { $lines[$_] =~
            /mkdir(?:at)?\((?:AT_FDCWD, )?"\Q$dir\E", 0700\)\s+= 0/ }
            0 .. $#lines;
        ok(defined $i, "$dir was made 0700") or next;
        my ($fd, $synced);
        for my $l (@lines[$i + 1 .. $#lines]) {
            if (!defined $fd) {
                ($fd) = $l =~ /open(?:at)?\((?:AT_FDCWD,\ )?"\Q$parent\E",
                               [^)]*O_DIRECTORY[^)]*\)\s+=\s+(\d+)/x;
            } elsif ($l =~ /fsync\(\Q$fd\E\)\s+= 0/) {
                $synced = 1;
                last;
            }
        }
        ok($synced, "and its parent $parent fsynced") or diag $trace;
    }
};


subtest 'a killed upload leaves nothing; one in flight elsewhere goes on'
=> sub {
    my @pids = sort $t->worker_pids;
    my (%on, @extra);
    for (1 .. 40) {
        my $u = half_upload("k$_.bin");
        my $pid;
        for (1 .. 50) {
            $pid = Gobi::WS::worker_of($t, $u->[0]->sockport) and last;
            sleep 0.02;
        }
        if ($pid && !$on{$pid}) { $on{$pid} = $u } else { push @extra, $u }
        last if keys %on == @pids;
    }
    is(scalar keys %on, scalar @pids, 'an upload in flight on each worker')
        or return;
    my ($victim, $other) = @pids;
    my $tmp = "$root/.tmp";
    ok(Gobi::Test::wait_until(sub {
        (() = files_in($tmp)) >= keys %on }, 10),
        'their temp files are there');
    my @mine = open_temps($victim, $tmp);
    my @theirs = open_temps($other, $tmp);
    ok(@mine, "the victim has its temp files open: @mine");
    ok(@theirs, "the other worker too: @theirs");

    kill 'KILL', $victim;
    close $on{$victim}[0];
    ok(Gobi::Test::wait_until(sub {
        my @w = $t->worker_pids;
        @w == @pids && !grep { $_ == $victim } @w }, 10),
        'the master starts another worker');
    ok($t->wait_for_log(error =>
        qr/removed \d+ upload temp files no process writes/, 10),
        'which says it removed the temp files no process writes');
    ok(Gobi::Test::wait_until(sub { !grep { -e $_ } @mine }, 5),
       "the killed upload's temp files are gone")
        or diag explain [ files_in($tmp) ];
    opendir my $d, $tmp or die $!;
    my @left = grep { /\.\Q$victim\E(\.\d+)?$/ } readdir $d;
    closedir $d;
    is_deeply(\@left, [], 'and its folder');
    is_deeply([ grep { !-e $_ } @theirs ], [],
              'those of the other worker are there');

    is(finish_upload($on{$other}), 201,
       'the upload in flight on the other worker completes');
    close $_->[0] for @extra;
};

subtest 'a reload: the new workers leave the old ones\' uploads alone'
=> sub {
    my $u = half_upload('reload.bin');
    my $tmp = "$root/.tmp";
    ok(Gobi::Test::wait_until(sub { my @f = files_in($tmp); @f }, 10),
       'an upload in flight');
    my @before = files_in($tmp);
    my @old = $t->worker_pids;
    my $swept = () = $t->error_log =~ /housekeeping at worker start/g;
    $t->reload;
    ok(Gobi::Test::wait_until(sub {
        my $n = () = $t->error_log =~ /housekeeping at worker start/g;
        $n >= $swept + 2 }, 10),
       'the new workers swept the temp files');
    is_deeply([ grep { !-e $_ } @before ], [], 'the upload\'s are there');
    is(finish_upload($u), 201, 'and it completes on the old worker');
    ok(Gobi::Test::wait_until(sub {
        !grep { my $p = $_; grep { $_ == $p } $t->worker_pids } @old }, 10),
       'the old workers exit');
    opendir my $d, $tmp or die $!;
    my @dirs = grep { !/^\./ } readdir $d;
    closedir $d;
    is(scalar @dirs, 2, 'taking their temp folders with them')
        or diag "@dirs";
};

$t->stop;
my @alerts = grep { !/exited on signal 9/ } $t->alerts;
ok(!@alerts, 'no [alert], [emerg] or [crit] but the kill')
    or diag join "\n", @alerts;

done_testing();
