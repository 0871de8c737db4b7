# client/gobi-watch@.service: the unit reads as meant (ExecStart runs
# `gobi watch` on the instance's unescaped path, %f, which survives
# systemd-escape --path for awkward names), systemd-analyze verify takes
# it without a word, and `gobi watch` and `sync` under strace make no
# system call, socket family or W+X mapping that the unit's
# SystemCallFilter, RestrictAddressFamilies and MemoryDenyWriteExecute
# would refuse (a refused call kills the service).
use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Gobi::CliTest;
use File::Temp qw(tempdir);
use POSIX ();
use Time::HiRes qw(sleep time);

my $unit_file = "$Gobi::CliTest::REPO/client/gobi-watch@.service";

sub slurp { Gobi::CliTest::_slurp($_[0]) }

sub have { system("command -v $_[0] >/dev/null 2>&1") == 0 }

# { section => { key => [values] } }
sub parse_unit {
    my ($text) = @_;
    my (%u, $sec);
    for (split /\n/, $text) {
        next if /^\s*(?:[#;].*)?$/;
        if (/^\[(\w+)\]$/) { $sec = $1; next }
        my ($k, $v) = /^(\w+)=(.*)$/ or die "bad line: $_";
        die "$k outside a section" unless $sec;
        push @{ $u{$sec}{$k} }, $v;
    }
    return \%u;
}

my $text = slurp($unit_file);
ok(defined $text, 'client/gobi-watch@.service is there') or BAIL_OUT('no unit');
my $u = parse_unit($text);

subtest 'the unit' => sub {
    is_deeply($u->{Service}{ExecStart}, ['/usr/local/bin/gobi watch %f'],
        'ExecStart: gobi watch on the unescaped instance path');
    is($u->{Service}{Restart}[0], 'on-failure', 'Restart=on-failure');
    like($u->{Service}{RestartSec}[0], qr/^\d+s?$/, 'RestartSec');
    is($u->{Service}{NoNewPrivileges}[0], 'yes', 'NoNewPrivileges=yes');
    is_deeply($u->{Install}{WantedBy}, ['default.target'],
        'WantedBy=default.target (a user unit)');
    ok(!grep({ /%i/ } map { @$_ } values %{ $u->{Service} }),
        'no %i (escaped) where the path is meant');
    for my $k (qw(ProtectHome ProtectSystem PrivateTmp ReadOnlyPaths)) {
        ok(!$u->{Service}{$k}, "no $k: the folder is in the home, and a "
            . 'user manager without user namespaces would refuse it');
    }
    for my $code (split ' ', $u->{Service}{RestartPreventExitStatus}[0]) {
        like(slurp("$Gobi::CliTest::REPO/client/README.md"),
            qr/^\| $code \| \w+ \|/m, "exit $code is documented");
    }
};

SKIP: {
    skip 'systemd-escape is not installed', 1 unless have('systemd-escape');

    subtest 'the instance name carries the folder' => sub {
        for my $dir ('/home/alice/notes', '/srv/my notes-2026/ä.b') {
            chomp(my $inst = `systemd-escape --path '$dir'`);
            chomp(my $back = `systemd-escape --unescape --path '$inst'`);
            # %f is "/" + the unescaped instance
            is($back =~ s{^/?}{/}r, $dir, "\"$dir\" as gobi-watch\@$inst");
        }
        chomp(my $inst = `systemd-escape --path /home/alice/notes`);
        is($inst, 'home-alice-notes', 'the README example');
    };
}

SKIP: {
    skip 'systemd-analyze is not installed', 1 unless have('systemd-analyze');

    subtest 'systemd-analyze verify' => sub {
        my $dir = tempdir(CLEANUP => 1);
        # the binary at the path the unit names is not installed here
        (my $copy = $text) =~ s{/usr/local/bin/gobi}{$Gobi::CliTest::GOBI}g;
        open my $fh, '>', "$dir/gobi-watch\@.service" or die;
        print $fh $copy;
        close $fh;
        my $out = `systemd-analyze verify --man=no \\
            '$dir/gobi-watch\@home-alice-notes.service' 2>&1`;
        is($?, 0, 'verifies') or diag $out;
        is($out, '', 'without a warning');
    };
}

SKIP: {
    skip 'strace is not installed', 1 unless have('strace');
    skip 'systemd-analyze is not installed', 1 unless have('systemd-analyze');
    skip 'ptrace is not allowed here', 1
        unless system('strace -qq -o /dev/null true 2>/dev/null') == 0;
    # LeakSanitizer refuses to run under ptrace (the client exits 1), and
    # the sanitizer runtime's own system calls are not the client's
    skip 'the sanitizer build (GOBI_ASAN) is not what the unit runs', 1
        if $ENV{GOBI_ASAN};

    subtest 'watch and sync stay inside the sandbox' => sub {
        my $t = Gobi::CliTest->new(name => 'client-unit');
        $t->vault('notes');
        my $a = $t->clone('notes', 'a');
        my $b = $t->clone('notes', 'b');
        my $log = $t->tmp . '/strace';

        $t->put("$a/before.txt", "made before watch\n");
        my $spid = fork // die;
        if (!$spid) {
            $ENV{GOBI_CONFIG_DIR} = $t->tmp . '/config';
            open STDIN, '<', '/dev/null';
            open STDOUT, '>', "$log.out";
            open STDERR, '>&', \*STDOUT;
            exec 'strace', '-f', '-qq', '-o', "$log.watch",
                $Gobi::CliTest::GOBI, 'watch', $a or POSIX::_exit(127);
        }

        # a change while it runs: inotify, the upload, the WebSocket
        sleep 1;
        $t->put("$a/during.txt", "made while watching\n");
        my $deadline = time + 20;
        while (time < $deadline) {
            $t->gobi('sync', $b);
            last if -e "$b/during.txt" && -e "$b/before.txt";
            sleep 0.3;
        }
        ok(-e "$b/during.txt", 'watch synced under strace')
            or diag slurp("$log.out");

        # the traced gobi is strace's child: SIGTERM, as systemd stops it
        my ($gpid) = grep { ((split ' ', slurp("/proc/$_/stat") // '')[3]
            // 0) == $spid } map { m{/proc/(\d+)/} } glob '/proc/[0-9]*/stat';
        ok($gpid, 'found watch under strace');
        kill 'TERM', $gpid if $gpid;
        waitpid $spid, 0;
        is($? >> 8, 0, 'watch ends cleanly on SIGTERM');

        # and a plain sync (conflict copies, downloads, syncfs)
        $t->put("$b/during.txt", "edit b\n");
        $t->put("$a/during.txt", "edit a\n");
        $t->gobi('sync', $b);
        open my $stderr, '>&', \*STDERR or die;
        open STDERR, '>', '/dev/null' or die;
        system('strace', '-f', '-qq', '-o', "$log.sync", 'env',
            "GOBI_CONFIG_DIR=" . $t->tmp . '/config',
            $Gobi::CliTest::GOBI, '-q', 'sync', $a);
        open STDERR, '>&', $stderr or die;
        is($? >> 8, 6, 'sync under strace: a conflict copy made (exit 6)');

        my (%calls, %families, @wx);
        for my $f ("$log.watch", "$log.sync") {
            for (split /\n/, slurp($f) // '') {
                $calls{$1} = 1 if /^\d+\s+(?:<\.\.\. )?(\w+)[\( ]/;
                $families{$1} = 1 if /\bsocket\((AF_\w+)/;
                push @wx, $_ if /^\d+\s+(?:mmap|mprotect|pkey_mprotect)\(/
                    && /PROT_WRITE/ && /PROT_EXEC/;
            }
        }
        delete @calls{qw(execve exit_group exit)};    # strace's own frame
        ok(keys %calls > 20, scalar(keys %calls) . ' system calls seen');

        # the allowed set: @system-service with its groups expanded
        my (%allowed, %seen);
        my @todo = map { /^SystemCallFilter=(.*)/ ? split(' ', $1) : () }
            split /\n/, $text;
        while (defined(my $g = shift @todo)) {
            next if $seen{$g}++;
            if ($g !~ /^@/) { $allowed{$g} = 1; next }
            for (split /\n/, `systemd-analyze syscall-filter '$g' 2>/dev/null`) {
                next unless /^\s+([@\w-]+)\s*$/;
                push @todo, $1;
            }
        }
        is_deeply([ sort grep { !$allowed{$_} } keys %calls ], [],
            'every system call is in the SystemCallFilter');

        my %fam = map { $_ => 1 } map { /^RestrictAddressFamilies=(.*)/
            ? split(' ', $1) : () } split /\n/, $text;
        is_deeply([ sort grep { !$fam{$_} } keys %families ], [],
            'every socket family is in RestrictAddressFamilies ('
            . join(' ', sort keys %families) . ')');
        is_deeply(\@wx, [], 'no writable and executable memory');
    };
}

done_testing();
