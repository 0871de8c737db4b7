# The client's progress line against the real server: on a terminal (a
# pseudo-terminal here) `sync` and `clone` of many files and one big file
# draw phase, files n/m, bytes, rate and ETA, redrawn with \r at most ~10
# times a second, bytes moving inside the big file, and a final line; on
# a pipe, with -q or with --json, not one byte of it.
use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Gobi::CliTest;
use IO::Pty;
use POSIX ();
use Time::HiRes qw(time);

# downloads at 32 MiB/s: the big file takes 2 s, long enough for the line
# to move inside it on any machine (uploads go at full speed)
my $t = Gobi::CliTest->new(name => 'client-progress',
    server => { gobi_config => 'limit_rate 32m;' });
my ($rc, $out, $err);

my $NSMALL = 300;
my $BIG = 64 * 1024 * 1024;
my $TOTAL = $NSMALL + 1;

# runs build/gobi with stderr on a pseudo-terminal (stdout to a file, so
# that what is on the terminal is the progress and nothing else);
# (exit code, stdout, terminal bytes, seconds)
sub gobi_tty {
    my (@args) = @_;
    my $pty = IO::Pty->new;
    my $outf = $t->tmp . "/.tty-out.$$";
    my $t0 = time;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        POSIX::setsid();
        my $slave = $pty->slave;
        $pty->make_slave_controlling_terminal;
        close $pty;
        $ENV{GOBI_CONFIG_DIR} = $t->tmp . '/config';
        $ENV{TERM} = 'xterm';
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $outf;
        open STDERR, '>&', $slave;
        exec $Gobi::CliTest::GOBI, @args or POSIX::_exit(127);
    }
    $pty->close_slave;
    my $tty = '';
    while (1) {
        my $n = sysread $pty, my $buf, 65536;
        last unless $n;                     # EIO once the child is gone
        $tty .= $buf;
    }
    waitpid $pid, 0;
    my $code = $? >> 8;
    my $secs = time - $t0;
    return ($code, Gobi::CliTest::_slurp($outf) // '', $tty, $secs);
}

# the lines drawn: what follows each "\r\e[K"
sub frames {
    my ($tty) = @_;
    $tty =~ s/\r?\n/\r\e[K/g;
    return grep { length } split /\r\e\[K/, $tty;
}

sub check_progress {
    my ($phase, $tty, $secs, $slow) = @_;
    my @f = frames($tty);
    my $num = qr/\d+(?:\.\d)?/;
    my $size = qr/$num (?:B|KiB|MiB|GiB)/;
    my $line = qr{^$phase +\d+% (?:\[[#.]+\] )?\d+/$TOTAL files, }
        . qr{$size/64\.\d MiB, $size/s, ETA \d+:\d\d$};
    $line = qr/$line/;
    my $final = qr{^$phase $TOTAL/$TOTAL files, 64\.\d MiB in \d+:\d\d, }
        . qr{$size/s, done$};
    $final = qr/$final/;

    like($f[-1], $final, "$phase: the final line");
    like($tty, qr/done\r?\n\z/, "$phase: which stays");

    my @mid = grep { /^$phase +\d+% / } @f;
    ok(@mid >= 2, "$phase: redrawn lines (" . scalar(@mid) . ")")
        or diag explain [ @f[0 .. ($#f < 5 ? $#f : 5)] ];
    my @eta = grep { /$line/ } @mid;
    ok(@eta >= 1, "$phase: files n/m, bytes, rate and ETA")
        or diag explain \@mid;

    is_deeply([ grep { length > 79 } @f ], [],
        "$phase: no line wider than 79 columns");

    return unless $slow;

    # the big file's bytes move the line before it is done: the small
    # files are a fraction of a MiB together, so a count of bytes well
    # between them and the big file is one file's bytes as they flow (the
    # file count may move too: small files go beside the big one)
    my %unit = (B => 1, KiB => 1024, MiB => 1024 ** 2, GiB => 1024 ** 3);
    my @inside = grep {
        m{ \d+/$TOTAL files, ($num) (B|KiB|MiB|GiB)/}
            && $1 * $unit{$2} > 1024 ** 2 && $1 * $unit{$2} < $BIG - 1024 ** 2
    } @mid;
    ok(@inside >= 1, "$phase: bytes move inside a file")
        or diag explain \@mid;

    # at most ~10 redraws a second (plus the first and the final line)
    ok(@f <= 10 * $secs + 3, "$phase: " . scalar(@f) . " lines in "
        . sprintf('%.1f', $secs) . ' s');
}

$t->vault('big');
my $src = $t->clone('big', 'src');

for my $i (1 .. $NSMALL) {
    $t->put(sprintf("%s/small/%03d.txt", $src, $i), "file $i\n" x 100);
}
{
    open my $fh, '>', "$src/big.bin" or die "$src/big.bin: $!";
    my $block = join '', map { chr(($_ * 7) % 256) } 0 .. 65535;
    print $fh $block for 1 .. $BIG / 65536;
    close $fh or die;
}

subtest 'sync on a terminal: the upload line' => sub {
    my ($code, $stdout, $tty, $secs) = gobi_tty('sync', $src);
    is($code, 0, 'sync') or diag $stdout . $tty;
    check_progress('upload', $tty, $secs);
    unlike($stdout, qr/\r|files, /, 'nothing of it on stdout');
};

subtest 'clone on a terminal: the clone line' => sub {
    my ($code, $stdout, $tty, $secs) = gobi_tty('--device', 'dst', 'clone',
        'big', $t->dir('dst'));
    is($code, 0, 'clone') or diag $stdout . $tty;
    check_progress('clone', $tty, $secs, 1);
    is(-s $t->dir('dst') . '/big.bin', $BIG, 'the big file is there');
};

subtest 'no terminal, -q, --json: no progress at all' => sub {
    ($rc, $out, $err) = $t->gobi('--device', 'pipe', 'clone', 'big',
        $t->dir('pipe'));
    is($rc, 0, 'clone to a pipe');
    is($err, '', 'stderr (a pipe) is empty');
    unlike($out, qr/\r|\e|ETA/, 'stdout has no progress');

    my ($code, $stdout, $tty) = gobi_tty('-q', '--device', 'quiet',
        'clone', 'big', $t->dir('quiet'));
    is($code, 0, 'clone -q on a terminal');
    is($tty, '', 'not a byte on the terminal');
    is($stdout, '', 'nor on stdout');

    ($code, $stdout, $tty) = gobi_tty('--json', '--device', 'json',
        'clone', 'big', $t->dir('json'));
    is($code, 0, 'clone --json on a terminal');
    is($tty, '', 'not a byte on the terminal');
    like($stdout, qr/^\{.*\}\n\z/s, 'stdout: the JSON only');
};

subtest 'a small pass on a terminal stays quiet' => sub {
    $t->put("$src/one.txt", "one\n");
    my ($code, $stdout, $tty) = gobi_tty('sync', $src);
    is($code, 0, 'sync of one file');
    is($tty, '', 'no progress line for it');
    like($stdout, qr/1 uploaded/, 'the summary as usual') or diag $stdout;
};

done_testing();
