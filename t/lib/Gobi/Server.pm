package Gobi::Server;

# One nginx instance with the gobi module for a test: writes its nginx.conf
# into a server root under t/servroot/, starts it (daemon + pid file),
# stops it (QUIT, then KILL after a timeout) and reads its logs.
#
#   my $s = Gobi::Server->new(name => 'flows',
#       gobi_config => 'gobi_registration off;');
#   $s->start or die $s->start_output;
#   my $c = $s->client;                  # a Gobi::Client for this server
#   ...
#   $s->stop;
#   my @bad = $s->alerts;                # [alert]/[emerg]/[crit] lines
#
# Options of new() (all optional):
#   name          the servroot's folder under t/servroot/ (default "main")
#   servroot      an absolute servroot instead
#   main_config   extra directives in the main context
#   http_config   replaces the default gobi_* directives in http{}
#   gobi_config   added after the default gobi_* directives in http{}
#   config        the inside of server{} (default: the gobi locations)
#   extra_config  added inside server{} after `config`
#   workers       worker_processes (default 2)
#   threads       threads of the "gobi" thread pool (default 4)
#   port          default: a free port
#   no_module     do not load the module and use no gobi_* directives
#                 (default $ENV{GOBI_NO_MODULE})
#   websocket     add `location = /api/v1/ws { gobi_websocket; }` to the
#                 default config (default: $ENV{GOBI_WS} when set, else
#                 whether the module has the directive)
#   keep          keep the servroot on DESTROY (default: removed when
#                 clean => 1 was given)
#
# Environment: GOBI_NGINX (default /usr/sbin/nginx), GOBI_MODULE (default
# <repo>/build/ngx_http_gobi_module.so), GOBI_NO_MODULE, GOBI_WS,
# GOBI_WORKERS (default worker count, 2), GOBI_TEST_VERBOSE (diag the
# config and the logs), GOBI_STOP_TIMEOUT / GOBI_START_TIMEOUT (seconds).
#
# In every config section $SERVROOT, $PORT and $REPO are replaced.
#
# The module is copied to <servroot>/modules/ and loaded from there, so a
# rebuild of build/ngx_http_gobi_module.so while tests run does not pull
# the file from under running workers.

use strict;
use warnings;

use Carp qw(croak carp);
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path remove_tree);
use File::Spec;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use Gobi::Client;

our $REPO = abs_path(File::Spec->catdir(dirname(__FILE__), '..', '..', '..'));
our $TDIR = "$REPO/t";
our $NGINX = $ENV{GOBI_NGINX} || '/usr/sbin/nginx';
our $MODULE = $ENV{GOBI_MODULE} || "$REPO/build/ngx_http_gobi_module.so";
our $STOP_TIMEOUT = $ENV{GOBI_STOP_TIMEOUT} || 15;
our $START_TIMEOUT = $ENV{GOBI_START_TIMEOUT} || 15;

my %RUNNING;        # pid of a master => servroot, stopped at exit


sub new {
    my ($class, %o) = @_;
    my $self = bless {
        name        => 'main',
        workers     => $ENV{GOBI_WORKERS} || 2,
        threads     => 4,
        no_module   => $ENV{GOBI_NO_MODULE} ? 1 : 0,
        websocket   => module_has_websocket(),
        owner_pid   => $$,
        %o,
    }, $class;
    $self->{servroot} ||= "$TDIR/servroot/$self->{name}";
    $self->{port} ||= free_port();
    $self->{given_port} = $o{port};
    return $self;
}

# does the module know gobi_websocket?  $ENV{GOBI_WS} decides when set
my $HAS_WS;
sub module_has_websocket {
    return $ENV{GOBI_WS} ? 1 : 0 if defined $ENV{GOBI_WS};
    return $HAS_WS if defined $HAS_WS;
    my $so = _slurp($MODULE) // '';
    return $HAS_WS = index($so, 'gobi_websocket') >= 0 ? 1 : 0;
}

sub servroot { $_[0]{servroot} }
sub port     { $_[0]{port} }
sub host     { '127.0.0.1' }
sub url      { "http://127.0.0.1:$_[0]{port}" }
sub pid      { $_[0]{pid} }
sub conf_file { "$_[0]{servroot}/conf/nginx.conf" }
sub error_log_file  { "$_[0]{servroot}/logs/error.log" }
sub access_log_file { "$_[0]{servroot}/logs/access.log" }
# where the default config keeps gobi's data
sub var_dir     { "$_[0]{servroot}/var" }
sub vaults_dir  { "$_[0]{servroot}/var/vaults" }
sub db_file     { "$_[0]{servroot}/var/gobi.db" }

sub client {
    my ($self, %o) = @_;
    return Gobi::Client->new(port => $self->{port}, %o);
}

# a free TCP port on 127.0.0.1 (the kernel's choice)
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or croak "free_port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}


# ---- the config -------------------------------------------------------------

sub subst {
    my ($self, $text) = @_;
    return '' unless defined $text;
    $text =~ s/\$SERVROOT\b/$self->{servroot}/g;
    $text =~ s/\$PORT\b/$self->{port}/g;
    $text =~ s/\$REPO\b/$REPO/g;
    $text =~ s/\$MODULE\b/$MODULE/g;
    return $text;
}

# GOBI_TEST_STORE=mongodb://host:port/db runs the suites on MongoDB (see
# scripts/with-ferretdb): each server gets a database of its own, as it
# gets a fresh SQLite file otherwise.
my $STORE_SEQ = 0;

sub store_uri {
    my ($self) = @_;
    my $uri = $ENV{GOBI_TEST_STORE} || '';
    return "sqlite:$self->{servroot}/var/gobi.db" unless $uri =~ m{^mongodb://};
    $self->{store_uri} ||= do {
        my $db = sprintf 'gobi_%d_%d_%d', $$, time, ++$STORE_SEQ;
        (my $u = $uri) =~ s{^(mongodb://[^/?]+)(?:/[^?]*)?}{$1/$db};
        $u;
    };
    return $self->{store_uri};
}

# GOBI_TEST_STORAGE runs the suites on other storage set-ups, words
# joined by commas: "encrypted" (gobi_encryption_key, a key of the
# server's own), "s3" (the GOBI_TEST_S3 bucket of scripts/with-s3, a
# prefix of the server's own), "multi" (a second local target after the
# first one).
sub storage_modes {
    my %m = map { $_ => 1 } grep { length } split /,/,
        ($ENV{GOBI_TEST_STORAGE} // '');
    return \%m;
}

my $S3_SEQ = 0;

sub storage_config {
    my ($self) = @_;
    my $r = $self->{servroot};
    my $m = storage_modes();
    my $c = '';
    if ($m->{s3}) {
        my $uri = $ENV{GOBI_TEST_S3} or croak 'GOBI_TEST_STORAGE=s3 needs '
            . 'GOBI_TEST_S3 (scripts/with-s3)';
        $self->{s3_prefix} ||= sprintf 'gobi_%d_%d_%d', $$, time, ++$S3_SEQ;
        (my $u = $uri) =~ s{^(s3://[^/?]+)(?:/[^?]*)?}{$1/$self->{s3_prefix}};
        $c .= "gobi_storage $u;\n"
            . "gobi_storage_credentials $ENV{GOBI_TEST_S3_CREDENTIALS};\n";
    } else {
        $c .= "gobi_storage local:$r/var/vaults;\n";
    }
    $c .= "gobi_storage local:$r/var/vaults2;\n" if $m->{multi};
    if ($m->{encrypted}) {
        $c .= "gobi_encryption_key $r/conf/gobi.key;\n";
    }
    return $c;
}

# the key of GOBI_TEST_STORAGE=encrypted, made with the servroot
sub write_test_key {
    my ($self) = @_;
    return unless storage_modes()->{encrypted};
    my $f = "$self->{servroot}/conf/gobi.key";
    return if -e $f;
    open my $in, '<:raw', '/dev/urandom' or croak "urandom: $!";
    read($in, my $key, 32) == 32 or croak 'urandom: short read';
    close $in;
    my $old = umask 077;
    open my $out, '>:raw', $f or croak "$f: $!";
    print $out $key;
    close $out;
    umask $old;
}

sub default_gobi_config {
    my ($self) = @_;
    return "gobi_store " . $self->store_uri . ";\n"
         . $self->storage_config
         . "gobi_bus " . ($ENV{GOBI_BUS} // 'local') . ";\n";
}

sub default_config {
    my ($self) = @_;
    return "location / { return 404; }\n" if $self->{no_module};
    my $c = "location /api/v1/ { gobi_api; }\n";
    $c .= "location = /api/v1/ws { gobi_websocket; }\n" if $self->{websocket};
    return $c;
}

sub _indent {
    my ($n, $text) = @_;
    my $pad = ' ' x $n;
    chomp $text;
    return '' unless length $text;
    return join '', map { "$pad$_\n" } split /\n/, $text;
}

sub config_text {
    my ($self) = @_;
    my $r = $self->{servroot};
    my $main = $self->subst($self->{main_config});
    my $http;
    if (defined $self->{http_config}) {
        $http = $self->subst($self->{http_config});
    } elsif (!$self->{no_module}) {
        $http = $self->default_gobi_config;
    } else {
        $http = '';
    }
    $http .= "\n" . $self->subst($self->{gobi_config})
        if defined $self->{gobi_config};
    my $server = defined $self->{config} ? $self->subst($self->{config})
                                         : $self->default_config;
    $server .= "\n" . $self->subst($self->{extra_config})
        if defined $self->{extra_config};

    my $conf = "# written by Gobi::Server for $0\n";
    $conf .= "load_module $self->{servroot}/modules/ngx_http_gobi_module.so;\n"
        unless $self->{no_module};
    $conf .= "master_process on;\n";
    $conf .= "worker_processes $self->{workers};\n"
        unless $main =~ /^\s*worker_processes\b/m;
    $conf .= "daemon on;\n";
    $conf .= "pid logs/nginx.pid;\n";
    $conf .= "error_log logs/error.log info;\n"
        unless $main =~ /^\s*error_log\b/m;
    $conf .= "thread_pool gobi threads=$self->{threads};\n"
        unless $main =~ /^\s*thread_pool\s+gobi\b/m;
    # GOBI_CORES=<folder>: a worker that crashes leaves a core there
    # (scripts/show-cores prints their backtraces)
    if ($ENV{GOBI_CORES} && $main !~ /^\s*working_directory\b/m) {
        $conf .= "working_directory $ENV{GOBI_CORES};\n"
               . "worker_rlimit_core 2g;\n";
    }
    $conf .= $main . "\n" if length $main;
    $conf .= <<"EOT";
events {
    worker_connections 1024;
}

http {
    access_log logs/access.log;
    default_type application/octet-stream;
    client_body_temp_path tmp/client_body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;

EOT
    $conf .= _indent(4, $http) . "\n";
    $conf .= "    server {\n";
    $conf .= "        listen 127.0.0.1:$self->{port};\n";
    $conf .= "        server_name localhost;\n\n";
    $conf .= _indent(8, $server);
    $conf .= "    }\n}\n";
    return $conf;
}

# a fresh servroot with conf/nginx.conf; nothing else (the module must
# create var/ and its folders itself)
sub prepare {
    my ($self) = @_;
    my $r = $self->{servroot};
    croak "servroot $r is in use by a running nginx"
        if $self->{pid} && _alive($self->{pid});
    remove_tree($r) if -e $r;
    make_path("$r/conf", "$r/logs", "$r/tmp", { mode => 0755 });
    chmod 0755, $r, "$r/conf", "$r/logs", "$r/tmp";
    # when run as root the workers are "nobody": they must reach the
    # servroot (every parent folder must be searchable)
    # nginx maps the module: a rebuild that rewrites build/*.so in place
    # would crash running workers, so each server loads its own copy
    unless ($self->{no_module}) {
        mkdir "$r/modules", 0755;
        copy($MODULE, "$r/modules/ngx_http_gobi_module.so")
            or croak "copy $MODULE: $!";
    }
    $self->write_test_key;
    $self->write_conf;
    $self->{prepared} = 1;
    return $self;
}

sub write_conf {
    my ($self) = @_;
    my $f = $self->conf_file;
    open my $fh, '>', $f or croak "$f: $!";
    print $fh $self->config_text;
    close $fh;
}


# ---- run ----------------------------------------------------------------------

sub _run {
    my ($self, @args) = @_;
    my $out = "$self->{servroot}/logs/nginx.out";
    my $pid = fork // croak "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out;
        open STDERR, '>&', \*STDOUT;
        { exec $NGINX, '-p', "$self->{servroot}/", '-c', 'conf/nginx.conf',
            '-e', 'logs/error.log', @args; }
        print STDERR "exec $NGINX: $!\n";
        POSIX::_exit(127);
    }
    my $deadline = time + $START_TIMEOUT;
    my $rc;
    while (1) {
        my $w = waitpid $pid, WNOHANG;
        if ($w == $pid) { $rc = $?; last }
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            $rc = -1;
            last;
        }
        sleep 0.01;
    }
    my $text = _slurp($out);
    return ($rc, $text);
}

# nginx -t: (exit status, output)
sub test_config {
    my ($self) = @_;
    $self->prepare unless $self->{prepared};
    my ($rc, $out) = $self->_run('-t');
    $self->{test_output} = $out;
    return wantarray ? ($rc, $out) : $rc == 0;
}

sub test_output  { $_[0]{test_output} // '' }
sub start_output { $_[0]{start_output} // '' }

# starts nginx; true when it runs.  Retries on another port when the port
# was taken meanwhile.
sub start {
    my ($self) = @_;
    for my $try (1 .. 5) {
        $self->prepare unless $self->{prepared};
        my ($rc, $out) = $self->_run;
        $self->{start_output} = $out;
        if ($rc != 0) {
            my $log = $out . _slurp($self->error_log_file);
            if ($log =~ /Address already in use/ && !$self->{given_port}
                && $try < 5)
            {
                $self->{port} = free_port();
                $self->{prepared} = 0;
                next;
            }
            $self->{start_rc} = $rc;
            # a master may run although the starting process failed (a
            # sanitizer's report at its exit): it is not left behind
            my $stray = _slurp("$self->{servroot}/logs/nginx.pid") // '';
            if ($stray =~ /(\d+)/ && _alive($1)) {
                kill 'TERM', $1;
            }
            return 0;
        }
        my $pidf = "$self->{servroot}/logs/nginx.pid";
        my $deadline = time + $START_TIMEOUT;
        until (-s $pidf) {
            if (time > $deadline) {
                $self->{start_output} .= "no pid file after ${START_TIMEOUT}s\n";
                return 0;
            }
            sleep 0.01;
        }
        my $pid = _slurp($pidf);
        ($pid) = $pid =~ /(\d+)/;
        $self->{pid} = $pid;
        $RUNNING{$pid} = $self->{servroot};
        # workers up (listen sockets are bound by the master already)
        $self->_wait_workers;
        diag_verbose("nginx $pid on port $self->{port} in $self->{servroot}");
        return 1;
    }
    return 0;
}

sub _wait_workers {
    my ($self) = @_;
    my $deadline = time + $START_TIMEOUT;
    while (time < $deadline) {
        my @w = $self->worker_pids;
        return 1 if @w >= $self->workers_wanted;
        return 0 unless _alive($self->{pid});
        # a worker that died at start is not coming back
        return 0 if $self->error_log =~ /cannot be respawned|exited on signal/;
        sleep 0.01;
    }
    return 0;
}

sub workers_wanted {
    my ($self) = @_;
    my $main = $self->{main_config} // '';
    return $1 if $main =~ /^\s*worker_processes\s+(\d+)/m;
    return $self->{workers};
}

sub running {
    my ($self) = @_;
    return $self->{pid} && _alive($self->{pid});
}

# pids of the master's children (workers, cache helpers)
sub worker_pids {
    my ($self) = @_;
    return () unless $self->{pid};
    return _children($self->{pid});
}

sub _children {
    my ($ppid) = @_;
    my @kids;
    opendir my $d, '/proc' or return ();
    for my $p (grep /^\d+$/, readdir $d) {
        my $st = _slurp("/proc/$p/stat") or next;
        # pid (comm) state ppid ...
        $st =~ /\)\s+(\S)\s+(\d+)/ or next;
        push @kids, $p if $2 == $ppid && $1 ne 'Z';
    }
    closedir $d;
    return @kids;
}

# alive and not a zombie (a daemon's parent may never reap it here)
sub _alive {
    my ($pid) = @_;
    return 0 unless kill 0, $pid;
    my $st = _slurp("/proc/$pid/stat");
    return 1 unless defined $st;
    return $st =~ /\)\s+Z\s/ ? 0 : 1;
}

# QUIT, wait for the master and workers to go; KILL after the timeout.
# Returns true when it exited on QUIT.
sub stop {
    my ($self, $sig) = @_;
    my $pid = $self->{pid} or return 1;
    $sig ||= 'QUIT';
    my @kids = $self->worker_pids;
    kill $sig, $pid;
    my $deadline = time + $STOP_TIMEOUT;
    my $ok = 1;
    while (_alive($pid) || grep { _alive($_) } @kids) {
        if (time > $deadline) {
            $ok = 0;
            @kids = (@kids, _children($pid));
            kill 'KILL', $pid, @kids;
            sleep 0.1;
            last;
        }
        sleep 0.02;
    }
    delete $RUNNING{$pid};
    $self->{pid} = undef;
    $self->{stop_timed_out} = !$ok;
    return $ok;
}

# HUP: reload the config (after write_conf)
sub reload {
    my ($self) = @_;
    kill 'HUP', $self->{pid} if $self->{pid};
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $!, $@);
    $self->stop if $self->{pid} && $$ == $self->{owner_pid};
}

END {
    local $?;
    for my $pid (keys %RUNNING) {
        my @kids = _children($pid);
        kill 'QUIT', $pid;
        my $deadline = time + 5;
        sleep 0.02 while _alive($pid) && time < $deadline;
        kill 'KILL', $pid, @kids if _alive($pid);
    }
}


# ---- logs --------------------------------------------------------------------

sub error_log  { _slurp($_[0]->error_log_file) // '' }
sub access_log { _slurp($_[0]->access_log_file) // '' }

# [alert], [emerg] and [crit] lines of the error log (and of nginx's
# output on start)
sub alerts {
    my ($self) = @_;
    my $text = $self->error_log;
    return grep { /\[(?:alert|emerg|crit)\]/ } split /\n/, $text;
}

# waits until the log matches; returns the match or undef on timeout
sub wait_for_log {
    my ($self, $which, $re, $timeout) = @_;
    $timeout //= 10;
    my $deadline = time + $timeout;
    while (1) {
        my $text = $which eq 'access' ? $self->access_log : $self->error_log;
        return $1 // $& if $text =~ $re;
        return undef if time > $deadline;
        sleep 0.02;
    }
}

# every regular file under a folder (relative names), e.g. to look for
# stray temp files under the storage root
sub files_under {
    my ($self, $dir) = @_;
    $dir //= $self->vaults_dir;
    my @out;
    my @todo = ('');
    while (@todo) {
        my $rel = shift @todo;
        my $abs = length $rel ? "$dir/$rel" : $dir;
        opendir my $d, $abs or next;
        for my $e (sort grep { $_ ne '.' && $_ ne '..' } readdir $d) {
            my $r = length $rel ? "$rel/$e" : $e;
            if (-d "$dir/$r" && !-l "$dir/$r") { push @todo, $r }
            else { push @out, $r }
        }
        closedir $d;
    }
    return @out;
}

sub remove {
    my ($self) = @_;
    $self->stop if $self->{pid};
    remove_tree($self->{servroot}) if -e $self->{servroot};
}

sub _slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return undef;
    local $/;
    my $t = <$fh>;
    close $fh;
    return $t;
}

sub diag_verbose {
    return unless $ENV{GOBI_TEST_VERBOSE};
    require Test::More;
    Test::More::diag(@_);
}

1;
