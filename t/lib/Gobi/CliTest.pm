package Gobi::CliTest;

# Helpers for the end-to-end tests of the gobi client (t/2xx-client-*.t):
# a real server, a user, and build/gobi run with its own config folder.
#
#   my $t = Gobi::CliTest->new;            # starts nginx, registers alice,
#                                          # logs the client in
#   my ($rc, $out, $err) = $t->gobi('sync', $dir);
#   $t->put("$dir/a/b.txt", "text");  $t->tree($dir)  # { 'a/b.txt' => .. }
#   $t->clone('notes', 'c1');              # "$tmp/c1", device c1
#   $t->{server}->stop / ->start           # offline tests

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Find ();
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use Gobi::Server;

our $REPO = abs_path(File::Spec->catdir(dirname(__FILE__), '..', '..', '..'));
our $GOBI = $ENV{GOBI_CLIENT} || "$REPO/build/gobi";
our $PASSWORD = 'correct horse battery staple';


sub new {
    my ($class, %o) = @_;
    my $self = bless {
        tmp => tempdir("gobi-client-XXXXXX", TMPDIR => 1, CLEANUP => 1),
        %o,
    }, $class;

    croak "$GOBI is missing: make client" unless -x $GOBI;

    $self->{cfg} = "$self->{tmp}/config";
    $self->{server} = Gobi::Server->new(name => ($o{name} || 'client') . "-$$",
        websocket => has_websocket(), %{ $o{server} || {} });
    $self->{server}->start
        or croak "nginx: " . $self->{server}->start_output
                 . $self->{server}->error_log;
    $self->{url} = $self->{server}->url;

    unless ($o{no_user}) {
        my $c = $self->{server}->client;
        $c->register('alice', $PASSWORD);
        my ($rc, $out, $err) = $self->gobi_env({ GOBI_PASSWORD => $PASSWORD },
            'login', $self->{url}, 'alice');
        croak "gobi login: $rc $out $err" if $rc != 0;
    }

    return $self;
}

# does the module know gobi_websocket? (then the tests use it)
sub has_websocket {
    return $ENV{GOBI_WS} if defined $ENV{GOBI_WS};
    my $so = _slurp($Gobi::Server::MODULE) // '';
    return index($so, 'gobi_websocket') >= 0 ? 1 : 0;
}

sub tmp    { $_[0]{tmp} }
sub url    { $_[0]{url} }
sub server { $_[0]{server} }

sub dir { "$_[0]{tmp}/$_[1]" }


# runs build/gobi; (exit code, stdout, stderr)
sub gobi {
    my ($self, @args) = @_;
    return $self->gobi_env({}, @args);
}

sub gobi_env {
    my ($self, $env, @args) = @_;
    my $out = "$self->{tmp}/.out.$$";
    my $err = "$self->{tmp}/.err.$$";
    my $pid = fork // croak "fork: $!";
    if (!$pid) {
        $ENV{GOBI_CONFIG_DIR} = $self->{cfg};
        delete $ENV{GOBI_PASSWORD};
        delete $ENV{GOBI_SERVER};
        $ENV{$_} = $env->{$_} for keys %$env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out;
        open STDERR, '>', $err;
        exec $GOBI, @args or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    return ($rc, _slurp($out), _slurp($err));
}

# a `gobi watch` in the background: returns its pid
sub watch {
    my ($self, $dir, @args) = @_;
    my $log = "$dir.watch.log";
    my $pid = fork // croak "fork: $!";
    if (!$pid) {
        $ENV{GOBI_CONFIG_DIR} = $self->{cfg};
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>&', \*STDOUT;
        exec $GOBI, '-v', 'watch', $dir, @args or POSIX::_exit(127);
    }
    $self->{watchers}{$pid} = 1;
    return $pid;
}

sub stop_watch {
    my ($self, $pid) = @_;
    kill 'TERM', $pid;
    my $deadline = time + 10;
    while (time < $deadline) {
        return 1 if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    delete $self->{watchers}{$pid};
    return 0;
}

sub clone {
    my ($self, $vault, $name, @args) = @_;
    my $dir = $self->dir($name);
    my ($rc, $out, $err) = $self->gobi('--device', $name, 'clone', $vault,
        $dir, @args);
    croak "gobi clone $vault $dir: $rc $out $err" if $rc != 0;
    return $dir;
}

sub vault {
    my ($self, $name) = @_;
    my ($rc, $out, $err) = $self->gobi('vault', 'create', $name);
    croak "gobi vault create $name: $rc $err" if $rc != 0;
    return $name;
}

sub put {
    my ($self, $path, $content) = @_;
    make_path(dirname($path));
    open my $fh, '>', $path or croak "$path: $!";
    binmode $fh;
    print $fh $content;
    close $fh or croak "$path: $!";
}

sub get { _slurp($_[1]) }

# { relative path => content } of a vault folder, without .gobi/
sub tree {
    my ($self, $dir) = @_;
    my %t;
    File::Find::find({ no_chdir => 1, wanted => sub {
        if ($_ eq "$dir/.gobi") { $File::Find::prune = 1; return }
        return unless -f $_ && !-l $_;
        my $rel = File::Spec->abs2rel($_, $dir);
        $t{$rel} = _slurp($_);
    } }, $dir);
    return \%t;
}

# waits until the trees of all dirs are equal (true) or the timeout
sub converge {
    my ($self, $timeout, @dirs) = @_;
    my $deadline = time + $timeout;
    while (1) {
        my $first = join "\0", map { "$_\0" . $self->tree($dirs[0])->{$_} }
            sort keys %{ $self->tree($dirs[0]) };
        my $same = 1;
        for my $d (@dirs[1 .. $#dirs]) {
            my $t = $self->tree($d);
            my $s = join "\0", map { "$_\0$t->{$_}" } sort keys %$t;
            $same = 0, last if $s ne $first;
        }
        return 1 if $same;
        return 0 if time > $deadline;
        sleep 0.2;
    }
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $!, $@);
    for my $pid (keys %{ $self->{watchers} || {} }) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
    if ($self->{server}) {
        $self->{server}->stop;
        remove_tree($self->{server}->servroot) unless $ENV{GOBI_TEST_KEEP};
    }
}

sub _slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return undef;
    binmode $fh;
    local $/;
    my $s = <$fh>;
    return $s // '';
}

1;
