package Gobi::Redis;

# A redis-server for gobi's tests: Debian's redis-server, started by the
# test on a free loopback port (no persistence), stopped and started again
# on the same port to show what the Redis bus does when Redis goes away.
#
#   my $r = Gobi::Redis->new(name => "$run/redis");   # dir under t/servroot
#   $r->start or die $r->log;
#   "gobi_bus " . $r->uri . ";"                       # redis://127.0.0.1:N/0
#   $r->cmd('PUBSUB', 'NUMSUB', 'gobi:vault:1');      # a command: its answer
#   $r->numsub('gobi:vault:1');                        # { channel => n }
#   $r->stop;  ...  $r->start;                        # same port
#
# new() options: name (folder under t/servroot/, default "redis"), port
# (default: a free one), password (requirepass), db (for uri()), args
# (more redis-server arguments).
#
# cmd() speaks RESP itself (no redis-cli needed): it returns the reply as
# Perl data (arrays as array refs, status and error replies as their
# text, e.g. "PONG" or "ERR ..."), undef when Redis is not there;
# pipeline([cmd, args..], [cmd, args..], ...) sends many in one go.
#
# Environment: GOBI_REDIS_SERVER (default redis-server from PATH).

use strict;
use warnings;

use Carp qw(croak);
use File::Path qw(make_path);
use IO::Socket::INET;
use IO::Select;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use Gobi::Server;

our $SERVER = $ENV{GOBI_REDIS_SERVER} || 'redis-server';

my %RUNNING;            # pid => 1, stopped at exit


sub available {
    my $out = `$SERVER --version 2>/dev/null`;
    return $? == 0 && $out =~ /Redis server/;
}

sub new {
    my ($class, %o) = @_;
    my $self = bless { name => 'redis', db => 0, args => [], %o }, $class;
    $self->{dir} ||= "$Gobi::Server::TDIR/servroot/$self->{name}";
    $self->{port} ||= Gobi::Server::free_port();
    make_path($self->{dir});
    return $self;
}

sub port { $_[0]{port} }
sub pid  { $_[0]{pid} }
sub dir  { $_[0]{dir} }
sub log_file { "$_[0]{dir}/redis.log" }

# redis://[:password@]127.0.0.1:port/db
sub uri {
    my ($self, %o) = @_;
    my $db = $o{db} // $self->{db};
    my $pw = exists $o{password} ? $o{password} : $self->{password};
    my $auth = defined $pw ? ":$pw\@" : '';
    return "redis://${auth}127.0.0.1:$self->{port}/$db";
}

sub log {
    my ($self) = @_;
    open my $fh, '<', $self->log_file or return '';
    local $/;
    return <$fh>;
}

# starts it and waits until it answers PING; true when it runs
sub start {
    my ($self) = @_;
    croak "redis already running" if $self->running;
    my @args = ('--port', $self->{port}, '--bind', '127.0.0.1',
        '--save', '', '--appendonly', 'no', '--daemonize', 'no',
        '--dir', $self->{dir}, '--logfile', $self->log_file,
        '--protected-mode', 'no',
        (defined $self->{password}
            ? ('--requirepass', $self->{password}) : ()),
        @{ $self->{args} });
    my $pid = fork // croak "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $self->log_file;
        open STDERR, '>&', \*STDOUT;
        { exec $SERVER, @args; }
        print STDERR "exec $SERVER: $!\n";
        POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    $self->{owner} = $$;
    $RUNNING{$pid} = 1;
    my $deadline = time + 10;
    while (time < $deadline) {
        my $pong = $self->cmd('PING');
        return 1 if defined $pong && $pong =~ /^(PONG|NOAUTH)/;
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $RUNNING{$pid};
            $self->{pid} = undef;
            return 0;
        }
        sleep 0.02;
    }
    return 0;
}

sub running {
    my ($self) = @_;
    return 0 unless $self->{pid};
    return waitpid($self->{pid}, WNOHANG) == 0;
}

# stops it (TERM, then KILL) and waits until the port is free again
sub stop {
    my ($self, $sig) = @_;
    my $pid = $self->{pid} or return 1;
    kill $sig || 'TERM', $pid;
    my $deadline = time + 10;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            last;
        }
        sleep 0.01;
    }
    delete $RUNNING{$pid};
    $self->{pid} = undef;
    return 1;
}

# one command: its reply (see above)
sub cmd {
    my ($self, @args) = @_;
    my @r = $self->pipeline(\@args);
    return @r ? $r[-1] : undef;
}

# several commands in one write: their replies (empty list when Redis is
# not there)
sub pipeline {
    my ($self, @cmds) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $self->{port}, Proto => 'tcp', Timeout => 2)
        or return undef;
    my @all;
    my $auth = defined $self->{password} && $cmds[0][0] !~ /^(PING|AUTH)$/i;
    push @all, [ 'AUTH', $self->{password} ] if $auth;
    push @all, @cmds;
    my $out = '';
    for my $a (@all) {
        $out .= '*' . @$a . "\r\n";
        $out .= '$' . length($_) . "\r\n$_\r\n" for @$a;
    }
    my $off = 0;
    while ($off < length $out) {
        my $n = syswrite $s, $out, 1 << 20, $off;
        return () unless $n;
        $off += $n;
    }
    my $buf = '';
    my @replies;
    for my $i (0 .. $#all) {
        my $reply = _read_reply($s, \$buf);
        return () unless defined $reply;
        push @replies, $reply;
    }
    close $s;
    shift @replies if $auth;
    return @replies;
}

sub _fill {
    my ($s, $buf) = @_;
    return 0 unless IO::Select->new($s)->can_read(5);
    my $n = sysread $s, my $chunk, 65536;
    return 0 unless $n;
    $$buf .= $chunk;
    return 1;
}

sub _line {
    my ($s, $buf) = @_;
    while ($$buf !~ /\r\n/) {
        _fill($s, $buf) or return undef;
    }
    $$buf =~ s/^(.*?)\r\n//s;
    return $1;
}

sub _read_reply {
    my ($s, $buf) = @_;
    my $line = _line($s, $buf) // return undef;
    my ($t, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest if $t eq '+' || $t eq '-';
    return $rest + 0 if $t eq ':';
    if ($t eq '$') {
        return '' if $rest < 0;
        while (length $$buf < $rest + 2) {
            _fill($s, $buf) or return undef;
        }
        my $v = substr $$buf, 0, $rest;
        substr($$buf, 0, $rest + 2) = '';
        return $v;
    }
    if ($t eq '*') {
        return [] if $rest < 0;
        return [ map { _read_reply($s, $buf) } 1 .. $rest ];
    }
    return undef;
}

# how many subscribers Redis counts on each channel: { channel => n }
sub numsub {
    my ($self, @channels) = @_;
    my $r = $self->cmd('PUBSUB', 'NUMSUB', @channels) or return undef;
    return ref $r ? { @$r } : undef;
}

# waits until the condition holds (20 ms polls); false on timeout
sub wait_for {
    my ($self, $cond, $timeout) = @_;
    my $deadline = time + ($timeout // 10);
    while (1) {
        return 1 if $cond->();
        return 0 if time > $deadline;
        sleep 0.02;
    }
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $!, $@);
    $self->stop if $self->{pid} && $self->{owner} && $$ == $self->{owner};
}

END {
    local $?;
    kill 'KILL', $_ for keys %RUNNING;
}

1;
