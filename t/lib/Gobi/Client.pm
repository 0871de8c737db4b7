package Gobi::Client;

# A small HTTP/1.1 client for gobi's tests, on core Perl only.
#
#   my $c   = Gobi::Client->new(port => $port);     # host 127.0.0.1
#   my $res = $c->request(GET => 'vaults', token => $tok);   # /api/v1/vaults
#   $res->status, $res->header('etag'), $res->body, $res->json,
#   $res->error_code                                 # {"error":{"code"}}
#
#   $c->user('alice');                  # register + log in, keeps the token
#   $c->create_vault('notes');
#   $c->put('notes', 'a/b.txt', "hello", 'X-Gobi-Mtime' => 1700000000000);
#
# The URI is sent as given (no normalisation), so tests can send '..',
# '%2e%2e', '//' and '%00' exactly.  One connection per request
# ("Connection: close") unless keepalive => 1 is passed to new().
#
# start(...) sends a request and returns a Gobi::Client::Pending without
# waiting for the answer; ->ready polls, ->wait blocks.  Used for
# concurrency tests.
#
# GOBI_RECORD=<file> appends every answer (of any suite) to <file> as one
# JSON line: method, uri, status, content_type, headers, and the body when
# it is JSON or text (its bytes as code points 0-255); other bodies only
# by length.  scripts/check-openapi checks such a file against
# docs/openapi.yaml.

use strict;
use warnings;

use Carp qw(croak);
use IO::Socket::INET;
use IO::Select;
use MIME::Base64 qw(encode_base64);
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time);
use JSON::PP ();

our $DEFAULT_PASSWORD = 'correct horse battery staple';

# a server may answer (413) and close before it has read all we send
$SIG{PIPE} = 'IGNORE';
our $TIMEOUT = $ENV{GOBI_TEST_TIMEOUT} || 30;

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;


sub new {
    my ($class, %o) = @_;
    my $self = bless {
        host      => $o{host} || '127.0.0.1',
        port      => $o{port} || croak("Gobi::Client->new: port needed"),
        token     => $o{token},
        basic     => $o{basic},
        timeout   => $o{timeout} || $TIMEOUT,
        api       => $o{api} || '/api/v1',
        local_addr => $o{local_addr},      # e.g. 127.0.0.2: another client
        passwords => {},
        tokens    => {},
    }, $class;
    return $self;
}

sub host  { $_[0]{host} }
sub port  { $_[0]{port} }
sub api   { $_[0]{api} }

# the current token: every request without an explicit token/basic/
# Authorization header uses it
sub token {
    my $self = shift;
    $self->{token} = shift if @_;
    return $self->{token};
}

sub token_of { $_[0]{tokens}{ $_[1] } }
sub password_of { $_[0]{passwords}{ $_[1] } // $DEFAULT_PASSWORD }

sub json_encode { $JSON->encode($_[-1]) }

sub json_decode {
    my $text = $_[-1];
    my $v = eval { $JSON->decode($text) };
    return $v;
}


# ---- low level ----------------------------------------------------------

sub connect {
    my ($self) = @_;
    my $sock = IO::Socket::INET->new(
        PeerAddr => $self->{host},
        PeerPort => $self->{port},
        Proto    => 'tcp',
        Timeout  => $self->{timeout},
        ($self->{local_addr} ? (LocalAddr => $self->{local_addr}) : ()),
    ) or croak "connect $self->{host}:$self->{port}: $!";
    $sock->autoflush(1);
    setsockopt($sock, IPPROTO_TCP, TCP_NODELAY, 1);
    binmode $sock;
    return $sock;
}

# header list (arrayref of [name, value]) for a request
sub _headers {
    my ($self, %o) = @_;
    my @h;
    my $given = $o{headers} || [];
    $given = [ map { [ $_, $given->{$_} ] } sort keys %$given ]
        if ref $given eq 'HASH';
    $given = [ map { ref $_ ? $_ : [ split /:\s*/, $_, 2 ] } @$given ];
    my %has = map { lc $_->[0] => 1 } @$given;

    push @h, [ Host => "$self->{host}:$self->{port}" ] unless $has{host};
    if (!$has{authorization} && !$o{no_auth}) {
        if ($o{basic}) {
            push @h, [ Authorization => basic_auth(@{ $o{basic} }) ];
        } elsif (defined $o{token}) {
            push @h, [ Authorization => "Bearer $o{token}" ] if length $o{token};
        } elsif ($self->{basic}) {
            push @h, [ Authorization => basic_auth(@{ $self->{basic} }) ];
        } elsif (defined $self->{token}) {
            push @h, [ Authorization => "Bearer $self->{token}" ];
        }
    }
    push @h, @$given;
    if (defined $o{body} && !$has{'content-length'}
        && !$has{'transfer-encoding'})
    {
        push @h, [ 'Content-Length' => length $o{body} ];
    } elsif (!defined $o{body} && !$has{'content-length'}
             && !$has{'transfer-encoding'}
             && $o{method} =~ /^(?:POST|PUT|PATCH)$/)
    {
        push @h, [ 'Content-Length' => 0 ];
    }
    push @h, [ Connection => 'close' ] unless $has{connection};
    return \@h;
}

# the bytes of a request
sub build_request {
    my ($self, $method, $uri, %o) = @_;
    $o{method} = $method;
    my $h = $self->_headers(%o);
    my $req = "$method $uri HTTP/1.1\r\n";
    $req .= "$_->[0]: $_->[1]\r\n" for @$h;
    $req .= "\r\n";
    $req .= $o{body} if defined $o{body};
    return $req;
}

# request(METHOD, URI, body => bytes, headers => {..}|[..], token => t,
#         basic => [user, pass], no_auth => 1, json => perl-data)
sub request {
    my ($self, $method, $uri, %o) = @_;
    my $p = $self->start($method, $uri, %o);
    return $p->wait;
}

sub start {
    my ($self, $method, $uri, %o) = @_;
    $o{body} = $self->json_encode($o{json}) if exists $o{json};
    # 'vaults' means '/api/v1/vaults'; '/...' is sent as it is
    $uri = "$self->{api}/$uri" if $uri !~ m{^/};
    my $bytes = $self->build_request($method, $uri, %o);
    return $self->start_raw($bytes, method => $method, uri => $uri);
}

# send bytes as they are; the answer is read as for `method`
sub raw {
    my ($self, $bytes, %o) = @_;
    return $self->start_raw($bytes, %o)->wait;
}

sub start_raw {
    my ($self, $bytes, %o) = @_;
    ($o{uri}) = $bytes =~ /^\S+ (\S+)/ unless defined $o{uri};
    my $sock = $self->connect;
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($sock, $bytes, 65536, $off);
        if (!defined $n) {
            next if $!{EINTR};
            last;       # the server may answer early (413) and close
        }
        $off += $n;
    }
    my $method = $o{method};
    ($method) = $bytes =~ /^(\S+)/ unless defined $method;
    return Gobi::Client::Pending->new(
        sock => $sock, method => $method, uri => $o{uri},
        timeout => $o{timeout} || $self->{timeout},
    );
}

sub basic_auth {
    my ($user, $pass) = @_;
    return 'Basic ' . encode_base64("$user:$pass", '');
}

# percent-encodes a vault path for a URI, keeping '/'
sub escape_path {
    my $p = $_[-1];
    $p =~ s{([^A-Za-z0-9\-._~/])}{sprintf '%%%02X', ord $1}ge;
    return $p;
}

sub escape {
    my $p = $_[-1];
    $p =~ s{([^A-Za-z0-9\-._~])}{sprintf '%%%02X', ord $1}ge;
    return $p;
}


# ---- gobi API ------------------------------------------------------------

sub _check {
    my ($res, $what, @codes) = @_;
    return $res if grep { $res->status == $_ } @codes;
    croak sprintf "%s: expected %s, got %s %s", $what, join('/', @codes),
        $res->status, substr($res->body // '', 0, 300);
}

sub register {
    my ($self, $user, $pass, %o) = @_;
    $pass //= $DEFAULT_PASSWORD;
    my $res = $self->request(POST => 'users', no_auth => 1,
        json => { username => $user, password => $pass }, %o);
    $self->{passwords}{$user} = $pass if $res->status == 201;
    return $res;
}

sub login_res {
    my ($self, $user, $pass, %o) = @_;
    $pass //= $self->password_of($user);
    return $self->request(POST => 'sessions', basic => [ $user, $pass ],
        %o);
}

# logs in and makes the token the current one; dies unless 201
sub login {
    my ($self, $user, $pass) = @_;
    my $res = _check($self->login_res($user, $pass), "login $user", 201);
    my $tok = $res->json->{token}
        or croak "login $user: no token in " . $res->body;
    $self->{tokens}{$user} = $tok;
    $self->{token} = $tok;
    $self->{user} = $user;
    return $tok;
}

# register (201 required) and log in
sub user {
    my ($self, $user, $pass) = @_;
    _check($self->register($user, $pass), "register $user", 201);
    return $self->login($user, $pass);
}

# switch the current token to a user logged in before
sub as {
    my ($self, $user) = @_;
    my $tok = $self->{tokens}{$user} or croak "as $user: not logged in";
    $self->{token} = $tok;
    $self->{user} = $user;
    return $self;
}

sub create_vault_res {
    my ($self, $name, %o) = @_;
    return $self->request(POST => 'vaults', json => { name => $name }, %o);
}

sub create_vault {
    my ($self, $name, %o) = @_;
    return _check($self->create_vault_res($name, %o), "create vault $name",
        201)->json;
}

sub vaults {
    my ($self, %o) = @_;
    return $self->request(GET => 'vaults', %o);
}

sub file_uri {
    my ($self, $vault, $path) = @_;
    return "$self->{api}/vaults/" . escape($vault) . '/files/'
        . escape_path($path);
}

# put(vault, path, bytes, header => value, ...; opts in a trailing hashref)
sub put {
    my ($self, $vault, $path, $bytes, @h) = @_;
    my %o = ref $h[-1] eq 'HASH' ? %{ pop @h } : ();
    return $self->request(PUT => $self->file_uri($vault, $path),
        body => $bytes, headers => [ _pairs(@h) ], %o);
}

# put and require 200/201; returns the decoded answer
sub put_ok {
    my $self = shift;
    my $res = $self->put(@_);
    return _check($res, "put $_[1]", 200, 201)->json;
}

sub get {
    my ($self, $vault, $path, @h) = @_;
    my %o = ref $h[-1] eq 'HASH' ? %{ pop @h } : ();
    return $self->request(GET => $self->file_uri($vault, $path),
        headers => [ _pairs(@h) ], %o);
}

sub head {
    my ($self, $vault, $path, @h) = @_;
    return $self->request(HEAD => $self->file_uri($vault, $path),
        headers => [ _pairs(@h) ]);
}

sub delete {
    my ($self, $vault, $path, @h) = @_;
    return $self->request(DELETE => $self->file_uri($vault, $path),
        headers => [ _pairs(@h) ]);
}

sub delete_vault {
    my ($self, $vault) = @_;
    return $self->request(DELETE => "$self->{api}/vaults/" . escape($vault));
}

# manifest(vault, prefix => p, include_deleted => 1) -> response
sub manifest {
    my ($self, $vault, %q) = @_;
    return $self->request(GET => "$self->{api}/vaults/" . escape($vault)
        . '/files' . _query(%q));
}

# events(vault, since => n, limit => m) -> response
sub events {
    my ($self, $vault, %q) = @_;
    return $self->request(GET => "$self->{api}/vaults/" . escape($vault)
        . '/events' . _query(%q));
}

sub _pairs {
    my @h = @_;
    my @p;
    while (@h) {
        my ($k, $v) = splice @h, 0, 2;
        push @p, [ $k, $v ];
    }
    return @p;
}

sub _query {
    my %q = @_;
    return '' unless %q;
    return '?' . join '&', map { escape($_) . '=' . escape($q{$_}) }
        sort keys %q;
}


# ---- the recorder (GOBI_RECORD) ---------------------------------------------

my $RECORD_JSON = JSON::PP->new->canonical->ascii;   # one byte a char

# record(method, uri, Gobi::Response): one JSON line, appended under a lock
sub record {
    my ($method, $uri, $res) = @_;
    my $file = $ENV{GOBI_RECORD};
    return unless defined $file && length $file && $res && $res->status;
    require Fcntl;
    my $ct = $res->header('content-type') // '';
    my %r = (
        method       => $method // '',
        uri          => $uri // '',
        status       => $res->status + 0,
        content_type => $ct,
        headers      => { %{ $res->headers } },
        body_length  => length($res->body // ''),
        test         => $0,
    );
    $r{truncated} = JSON::PP::true() if $res->{truncated};
    # bytes as code points 0-255: the checker takes them back as latin-1
    $r{body} = $res->body // '' if $ct =~ m{json|^text/}i || $ct eq '';
    my $line = $RECORD_JSON->encode(\%r) . "\n";
    open my $fh, '>>', $file or return;
    flock $fh, Fcntl::LOCK_EX();
    print $fh $line;
    close $fh;
}


# ---- a request in flight ---------------------------------------------------

package Gobi::Client::Pending;

use strict;
use warnings;
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select;
use Time::HiRes qw(time);

sub new {
    my ($class, %o) = @_;
    my $self = bless { %o, buf => '', done => 0, started => time }, $class;
    $self->{sock}->blocking(0);
    return $self;
}

sub sock { $_[0]{sock} }

# closes the connection without reading the answer
sub abort {
    my ($self) = @_;
    close $self->{sock} if $self->{sock};
    $self->{sock} = undef;
    $self->{done} = 1;
}

# reads what is there; true once the whole answer is in
sub ready {
    my ($self) = @_;
    return 1 if $self->{done};
    $self->_read(0);
    return $self->{done};
}

sub wait {
    my ($self, $timeout) = @_;
    $timeout //= $self->{timeout};
    my $deadline = time + $timeout;
    until ($self->{done}) {
        my $left = $deadline - time;
        if ($left <= 0) {
            $self->{res} = Gobi::Response->new(status => 0,
                error => "timeout after ${timeout}s", raw => $self->{buf});
            $self->abort;
            last;
        }
        $self->_read($left);
    }
    return $self->{res};
}

sub response { $_[0]{res} }

sub _read {
    my ($self, $timeout) = @_;
    my $sel = IO::Select->new($self->{sock});
    return unless $sel->can_read($timeout);
    while (1) {
        my $n = sysread($self->{sock}, my $chunk, 65536);
        if (!defined $n) {
            return if $! == EAGAIN || $! == EWOULDBLOCK;
            next if $! == EINTR;
            # ECONNRESET: parse what we have
            $self->_finish(1);
            return;
        }
        if ($n == 0) {
            $self->_finish(1);
            return;
        }
        $self->{buf} .= $chunk;
        return if $self->_finish(0);
    }
}

# tries to parse a complete answer; eof: no more bytes will come
sub _finish {
    my ($self, $eof) = @_;
    my $buf = $self->{buf};
    my $hend = index $buf, "\r\n\r\n";
    if ($hend < 0) {
        if ($eof) {
            $self->{res} = Gobi::Response->new(status => 0,
                error => length $buf ? 'truncated header' : 'connection closed',
                raw => $buf);
            $self->_done;
        }
        return $self->{done};
    }
    my $head = substr $buf, 0, $hend;
    my $rest = substr $buf, $hend + 4;
    my ($status_line, @lines) = split /\r\n/, $head;
    my ($status) = $status_line =~ m{^HTTP/\d\.\d\s+(\d{3})};
    $status //= 0;
    my (%h, @hl);
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        push @hl, [ $k, $v ];
        $k = lc $k;
        $h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
    }
    # a 100 Continue: skip it
    if ($status == 100) {
        $self->{buf} = $rest;
        return $self->_finish($eof);
    }
    my $body;
    my $no_body = $self->{method} && $self->{method} eq 'HEAD'
        || $status == 204 || $status == 304 || $status < 200;
    if ($no_body) {
        $body = '';
    } elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        $body = _dechunk($rest);
        unless (defined $body) {
            return 0 unless $eof;
            $body = $rest;
            $self->{truncated} = 1;
        }
    } elsif (defined $h{'content-length'}) {
        my $len = $h{'content-length'};
        if (length $rest < $len) {
            return 0 unless $eof;
            $self->{truncated} = 1;
        }
        $body = substr $rest, 0, $len;
    } else {
        return 0 unless $eof;
        $body = $rest;
    }
    $self->{res} = Gobi::Response->new(status => $status,
        status_line => $status_line, headers => \%h, header_list => \@hl,
        body => $body, raw => $buf, truncated => $self->{truncated},
        elapsed => time - $self->{started});
    Gobi::Client::record($self->{method}, $self->{uri}, $self->{res})
        if $ENV{GOBI_RECORD};
    $self->_done;
    return 1;
}

sub _done {
    my ($self) = @_;
    $self->{done} = 1;
    close $self->{sock} if $self->{sock};
    $self->{sock} = undef;
}

sub _dechunk {
    my ($s) = @_;
    my $out = '';
    while (1) {
        $s =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n// or return undef;
        my $n = hex $1;
        if ($n == 0) {
            return $s =~ /\r\n/ ? $out : undef;   # trailers end with CRLF
        }
        return undef if length $s < $n + 2;
        $out .= substr $s, 0, $n;
        substr($s, 0, $n + 2) = '';
    }
}


# ---- an answer -------------------------------------------------------------

package Gobi::Response;

use strict;
use warnings;
use JSON::PP ();

my $RJSON = JSON::PP->new->utf8->allow_nonref;

sub new {
    my ($class, %o) = @_;
    $o{headers} ||= {};
    $o{header_list} ||= [];
    $o{body} //= '';
    return bless \%o, $class;
}

sub status      { $_[0]{status} }
sub code        { $_[0]{status} }
sub body        { $_[0]{body} }
sub headers     { $_[0]{headers} }
sub header_list { $_[0]{header_list} }
sub error       { $_[0]{error} }
sub raw         { $_[0]{raw} }
sub header      { $_[0]{headers}{ lc $_[1] } }

# the decoded JSON body, or undef when it is not JSON.  Decoded afresh on
# every call: comparing a number with `eq` makes Perl keep its string
# form, and then it would look like a JSON string to json_subset.
sub json {
    my ($self) = @_;
    return eval { $RJSON->decode($self->{body}) };
}

# the `code` of a {"error":{"code","message"}} body
sub error_code {
    my ($self) = @_;
    my $j = $self->json;
    return undef unless ref $j eq 'HASH' && ref $j->{error} eq 'HASH';
    return $j->{error}{code};
}

sub describe {
    my ($self) = @_;
    return "no answer: $self->{error}" unless $self->{status};
    my $b = $self->{body};
    $b = substr($b, 0, 500) . '...' if length $b > 500;
    $b =~ s/([^\x20-\x7e\n])/sprintf '\\x%02x', ord $1/ge;
    return "$self->{status_line}\n" . join('', map { "$_->[0]: $_->[1]\n" }
        @{ $self->{header_list} }) . "\n$b";
}

1;
