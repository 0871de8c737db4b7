package Gobi::Cluster;

# Several gobi instances serving one deployment, for the t/4NN-cluster-*.t
# tests: a FerretDB (MongoDB wire protocol) server and a redis-server on
# free loopback ports, and nginx instances (Gobi::Server, separate ports
# and server roots) that share them and one blob root (as an NFS mount
# would be shared):
#
#   gobi_store   mongodb://127.0.0.1:P/<a database of its own>;
#   gobi_bus     redis://127.0.0.1:R/0;
#   gobi_storage local:<servroot base>/<run>/shared/vaults;
#
#   my $cl = Gobi::Cluster->new;            # nothing runs yet
#   $cl->start or die $cl->why;             # FerretDB, Redis, A and B
#   my ($A, $B) = $cl->servers;             # Gobi::Server objects
#   $cl->redis->stop;  $cl->redis->start;   # same port
#   $cl->mongo->stop;  $cl->mongo->start;   # same port, same data dir
#   $cl->stop;                              # everything
#
# new() options (all optional):
#   name        folder under t/servroot/ (default: Gobi::Test::run_name(),
#               i.e. <test file>-<pid>)
#   instances   labels of the nginx instances (default [A, B])
#   workers     worker_processes of each (default $GOBI_WORKERS or 2)
#   bus         'redis' (default) or 'local' (then no redis-server is
#               started: one instance, for comparisons)
#   store_query URI options for the store, e.g. 'serverSelectionTimeoutMS=
#               2000' (appended after '?')
#   gobi_config added after the gobi_* directives of every instance
#   extra_config added inside server{} of every instance
#
# Gobi::Cluster::FerretDB and Gobi::Cluster::Redis are the two servers:
# start (true when it answers), stop (TERM, then KILL after 10 s; 'KILL'
# as the argument for a crash), running, port, pid, log.  A second start
# uses the same port and (FerretDB) the same data directory.
#
# Environment: GOBI_FERRETDB (default <repo>/build/ferretdb, built by
# `make ferretdb`), GOBI_REDIS_SERVER (default redis-server from PATH).

use strict;
use warnings;

use Carp qw(croak);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use IO::Select;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use Gobi::Server;

use Exporter 'import';
our @EXPORT_OK = qw(subscriber live_events drain_events seqs);

our $FERRETDB = $ENV{GOBI_FERRETDB} || "$Gobi::Server::REPO/build/ferretdb";
our $REDIS = $ENV{GOBI_REDIS_SERVER} || 'redis-server';

my $DB_SEQ = 0;


# why the cluster cannot run here ('' when it can): for skip_all
sub unavailable {
    return "$FERRETDB is missing (make ferretdb)" unless -x $FERRETDB;
    my $v = `$REDIS --version 2>/dev/null`;
    return "redis-server is not installed" unless $? == 0
        && $v =~ /Redis server/;
    return "$Gobi::Server::MODULE is missing (make module)"
        unless -f $Gobi::Server::MODULE;
    return '';
}

sub new {
    my ($class, %o) = @_;
    my $name = $o{name};
    unless (defined $name) {
        require Gobi::Test;
        $name = Gobi::Test::run_name();
    }
    my $self = bless {
        instances => [qw(A B)],
        workers   => $ENV{GOBI_WORKERS} || 2,
        bus       => 'redis',
        %o,
        name      => $name,
        servers   => {},
        owner     => $$,
    }, $class;
    $self->{base} = "$Gobi::Server::TDIR/servroot/$name";
    $self->{db} = sprintf 'gobi_cluster_%d_%d_%d', $$, time, ++$DB_SEQ;
    $self->{shared} = "$self->{base}/shared";
    make_path($self->{shared});
    # the workers run as nobody under root: they must write the blob root
    chmod 0777, $self->{shared};
    chmod 0755, $self->{base};
    $self->{mongo} = Gobi::Cluster::FerretDB->new(dir => "$self->{base}/ferretdb");
    $self->{redis} = Gobi::Cluster::Redis->new(dir => "$self->{base}/redis")
        if $self->{bus} eq 'redis';
    return $self;
}

sub mongo  { $_[0]{mongo} }
sub redis  { $_[0]{redis} }
sub base   { $_[0]{base} }
sub why    { $_[0]{why} // '' }
sub db     { $_[0]{db} }
sub storage_dir { "$_[0]{shared}/vaults" }

sub server { $_[0]{servers}{ $_[1] } // croak "no instance $_[1]" }
sub servers { my $s = shift; map { $s->{servers}{$_} } @{ $s->{instances} } }
sub labels { @{ $_[0]{instances} } }

sub store_uri {
    my ($self) = @_;
    my $u = 'mongodb://127.0.0.1:' . $self->{mongo}->port . "/$self->{db}";
    $u .= "?$self->{store_query}" if $self->{store_query};
    return $u;
}

sub bus_uri {
    my ($self) = @_;
    return 'local' unless $self->{redis};
    return 'redis://127.0.0.1:' . $self->{redis}->port . '/0';
}

# the http{} gobi directives every instance gets
sub http_config {
    my ($self) = @_;
    my $c = 'gobi_store ' . $self->store_uri . ";\n"
          . 'gobi_storage local:' . $self->storage_dir . ";\n"
          . 'gobi_bus ' . $self->bus_uri . ";\n";
    $c .= "$self->{gobi_config}\n" if defined $self->{gobi_config};
    return $c;
}

# the server{} of every instance: the API and the WebSocket; each answer
# names the instance and the worker (X-Gobi-Instance, X-Worker-Pid)
sub server_config {
    my ($self, $label) = @_;
    my $h = "add_header X-Gobi-Instance $label always; "
          . "add_header X-Worker-Pid \$pid always;";
    my $c = "location /api/v1/ { gobi_api; $h }\n"
          . "location = /api/v1/ws { gobi_websocket; }\n";
    $c .= "$self->{extra_config}\n" if defined $self->{extra_config};
    return $c;
}

# the options of Gobi::Server->new for an instance (e.g. to let another
# helper start it)
sub server_options {
    my ($self, $label) = @_;
    return (
        name        => "$self->{name}/$label",
        http_config => $self->http_config,
        config      => $self->server_config($label),
        workers     => $self->{workers},
        websocket   => 1,
    );
}

# starts what is not running: FerretDB, Redis, then every instance.
# False (see ->why) when something did not start.
sub start {
    my ($self) = @_;
    unless ($self->{mongo}->running) {
        $self->{mongo}->start
            or return $self->_fail('FerretDB did not start: '
                                   . $self->{mongo}->log);
    }
    if ($self->{redis} && !$self->{redis}->running) {
        $self->{redis}->start
            or return $self->_fail('redis-server did not start: '
                                   . $self->{redis}->log);
    }
    for my $label (@{ $self->{instances} }) {
        my $s = $self->{servers}{$label}
            ||= Gobi::Server->new($self->server_options($label));
        next if $s->running;
        $s->start or return $self->_fail("instance $label did not start: "
            . $s->start_output . $s->error_log);
    }
    return 1;
}

sub _fail {
    my ($self, $why) = @_;
    $self->{why} = $why;
    return 0;
}

# stops the instances (QUIT), then Redis and FerretDB; true when every
# instance exited in time
sub stop {
    my ($self) = @_;
    my $ok = 1;
    for my $s (grep { $_ } map { $self->{servers}{$_} }
               @{ $self->{instances} })
    {
        $ok = 0 unless $s->stop;
    }
    $self->{redis}->stop if $self->{redis};
    $self->{mongo}->stop;
    return $ok;
}

# [alert]/[emerg]/[crit] lines of every instance's error log, prefixed by
# the instance
sub alerts {
    my ($self) = @_;
    my @a;
    for my $label (@{ $self->{instances} }) {
        my $s = $self->{servers}{$label} or next;
        push @a, map { "$label: $_" } $s->alerts;
    }
    return @a;
}

# ---- WebSocket helpers (exported on request) ---------------------------------

# a WebSocket on a server, subscribed to a vault from `since` (default 0):
# (ws, welcome, [replayed events]); dies when the handshake or the
# subscription fails
sub subscriber {
    my ($s, $token, $vault, %o) = @_;
    require Gobi::WS;
    my $ws = Gobi::WS->new(port => $s->port, token => $token);
    croak 'WebSocket handshake on port ' . $s->port . ': '
        . ($ws->error // $ws->status) unless $ws->ok;
    my ($w, $ev) = $ws->subscribe($vault, since => $o{since} // 0,
        $o{device} ? (device => $o{device}) : ());
    return wantarray ? ($ws, $w, $ev) : $ws;
}

# live messages until an event with seq >= $to came (or the timeout):
# [events], other messages in between kept as they came (hashes without
# a seq)
sub live_events {
    my ($ws, $to, $timeout) = @_;
    my ($m, $before) = $ws->recv_until(sub {
        $_->{type} eq 'event' && $_->{event}{seq} >= $to }, $timeout);
    return [ map { $_->{type} eq 'event' ? $_->{event} : $_ }
             @$before, $m ? $m : () ];
}

# what else arrives within $quiet seconds of quiet (default 1): [events
# or other messages]
sub drain_events {
    my ($ws, $quiet) = @_;
    return [ map { ref $_ eq 'HASH' && ($_->{type} // '') eq 'event'
                   ? $_->{event} : $_ } $ws->drain($quiet // 1) ];
}

# the seqs of a list of events (other messages as their JSON text, so a
# comparison shows them)
sub seqs {
    my ($list) = @_;
    require JSON::PP;
    my $j = JSON::PP->new->canonical;
    return [ map { ref $_ eq 'HASH' && exists $_->{seq} ? $_->{seq}
                   : ref $_ ? $j->encode($_) : $_ } @$list ];
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $!, $@);
    return unless $$ == $self->{owner};
    $_->stop for grep { $_ && $_->running } values %{ $self->{servers} };
    $self->{redis}->stop if $self->{redis};
    $self->{mongo}->stop if $self->{mongo};
}


# ---- a child process: start, stop, logs -------------------------------------

package Gobi::Cluster::Proc;

use Carp qw(croak);
use File::Path qw(make_path);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my %RUNNING;            # pid => 1: killed at exit

sub port { $_[0]{port} }
sub pid  { $_[0]{pid} }
sub dir  { $_[0]{dir} }
sub log_file { "$_[0]{dir}/server.log" }

sub log {
    my ($self) = @_;
    open my $fh, '<', $self->log_file or return '';
    local $/;
    return scalar <$fh>;
}

sub _spawn {
    my ($self, @cmd) = @_;
    make_path($self->{dir});
    my $pid = fork // croak "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $self->log_file;
        open STDERR, '>&', \*STDOUT;
        # a process group of its own: a ^C of prove does not reach it
        # before we stop it
        POSIX::setpgid(0, 0);
        { exec @cmd; }
        print STDERR "exec $cmd[0]: $!\n";
        POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    $self->{owner} = $$;
    $RUNNING{$pid} = 1;
    return $pid;
}

sub running {
    my ($self) = @_;
    return 0 unless $self->{pid};
    return 1 if waitpid($self->{pid}, WNOHANG) == 0;
    delete $RUNNING{ $self->{pid} };
    $self->{pid} = undef;
    return 0;
}

# TERM (or the given signal), KILL after 10 s; waits until it is gone
sub stop {
    my ($self, $sig) = @_;
    my $pid = $self->{pid} or return 1;
    return 1 unless $$ == $self->{owner};
    kill $sig || 'TERM', $pid;
    my $deadline = time + 10;
    my $ok = 1;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            $ok = 0;
            last;
        }
        sleep 0.01;
    }
    delete $RUNNING{$pid};
    $self->{pid} = undef;
    return $ok;
}

# true once a TCP connect to the port succeeds
sub accepts {
    my ($self) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $self->{port}, Proto => 'tcp', Timeout => 1);
    return $s ? 1 : 0;
}

END {
    local $?;
    for my $pid (keys %RUNNING) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
}


# ---- FerretDB -----------------------------------------------------------------

package Gobi::Cluster::FerretDB;

our @ISA = ('Gobi::Cluster::Proc');

use Carp qw(croak);
use Time::HiRes qw(sleep time);

sub new {
    my ($class, %o) = @_;
    return bless { %o }, $class;
}

sub data_dir { "$_[0]{dir}/data" }

# starts build/ferretdb: on a free port the first time (the port comes
# from its -port-file), on the same port and data directory afterwards.
# True once it accepts connections.
sub start {
    my ($self) = @_;
    croak 'FerretDB is running' if $self->running;
    my $pf = "$self->{dir}/port";
    unlink $pf;
    my $listen = '127.0.0.1:' . ($self->{port} // 0);
    my $deadline = time + 30;
    while (1) {
        $self->_spawn($Gobi::Cluster::FERRETDB, '-listen', $listen,
            '-dir', $self->data_dir, '-port-file', $pf,
            '-log-level', $ENV{FERRETDB_LOG_LEVEL} || 'warn');
        until (-s $pf) {
            last unless $self->running;
            last if time > $deadline;
            sleep 0.05;
        }
        last if -s $pf;
        # the same port again: a listener still going away may hold it
        # for a moment
        return 0 if time > $deadline || !defined $self->{port};
        $self->stop('KILL');
        sleep 0.2;
    }
    open my $fh, '<', $pf or return 0;
    my $port = <$fh>;
    close $fh;
    ($port) = ($port // '') =~ /(\d+)/ or return 0;
    croak "FerretDB came up on $port instead of $self->{port}"
        if defined $self->{port} && $port != $self->{port};
    $self->{port} = $port;
    return $self->accepts;
}


# ---- redis-server -------------------------------------------------------------

package Gobi::Cluster::Redis;

our @ISA = ('Gobi::Cluster::Proc');

use Carp qw(croak);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

sub new {
    my ($class, %o) = @_;
    my $self = bless { %o }, $class;
    $self->{port} ||= Gobi::Server::free_port();
    return $self;
}

# starts redis-server on its port (no persistence); true once it answers
# PING.  Another free port is tried when the first one was taken
# meanwhile (only before the first successful start).
sub start {
    my ($self) = @_;
    croak 'redis-server is running' if $self->running;
    for my $try (1 .. 5) {
        $self->_spawn($Gobi::Cluster::REDIS, '--port', $self->{port},
            '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
            '--daemonize', 'no', '--dir', $self->{dir},
            '--protected-mode', 'no');
        my $deadline = time + 10;
        while (time < $deadline) {
            my $pong = $self->cmd('PING');
            if (defined $pong && $pong eq 'PONG') {
                $self->{started} = 1;
                return 1;
            }
            last unless $self->running;
            sleep 0.02;
        }
        $self->stop('KILL');
        return 0 if $self->{started};
        $self->{port} = Gobi::Server::free_port();
    }
    return 0;
}

# one command (RESP), its reply: a string, a number, an array ref, or
# undef when Redis does not answer
sub cmd {
    my ($self, @args) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $self->{port}, Proto => 'tcp', Timeout => 2)
        or return undef;
    my $out = '*' . @args . "\r\n";
    $out .= '$' . length($_) . "\r\n$_\r\n" for @args;
    print {$s} $out or return undef;
    my $buf = '';
    my $r = _reply($s, \$buf);
    close $s;
    return $r;
}

sub _more {
    my ($s, $buf) = @_;
    return 0 unless IO::Select->new($s)->can_read(5);
    my $n = sysread $s, my $chunk, 65536;
    return 0 unless $n;
    $$buf .= $chunk;
    return 1;
}

sub _reply {
    my ($s, $buf) = @_;
    while ($$buf !~ /\r\n/) { _more($s, $buf) or return undef }
    $$buf =~ s/^(.)(.*?)\r\n//s;
    my ($t, $rest) = ($1, $2);
    return $rest if $t eq '+' || $t eq '-';
    return $rest + 0 if $t eq ':';
    if ($t eq '$') {
        return undef if $rest < 0;
        while (length $$buf < $rest + 2) { _more($s, $buf) or return undef }
        my $v = substr $$buf, 0, $rest;
        substr($$buf, 0, $rest + 2) = '';
        return $v;
    }
    if ($t eq '*') {
        return [] if $rest < 0;
        return [ map { _reply($s, $buf) } 1 .. $rest ];
    }
    return undef;
}

# how many subscribers Redis counts on a vault's channel
sub numsub {
    my ($self, $vault_id) = @_;
    my $ch = "gobi:vault:$vault_id";
    my $r = $self->cmd('PUBSUB', 'NUMSUB', $ch);
    return -1 unless ref $r eq 'ARRAY';
    my %h = @$r;
    return $h{$ch} // -1;
}

1;
