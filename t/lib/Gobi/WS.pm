package Gobi::WS;

# A small WebSocket (RFC 6455) client for gobi's tests, on core Perl only.
#
#   my $ws = Gobi::WS->new(port => $s->port, token => $tok);  # + handshake
#   $ws->ok or die $ws->response->describe;      # 101, accept key verified
#   $ws->hello('notes', since => 0);
#   my $m = $ws->recv_json;          # next JSON message (pings answered)
#   $ws->send_json({ type => 'delete', id => 1, path => 'a.txt',
#       base_version => 3 });
#   my ($ack, $before) = $ws->recv_until(sub { $_[0]{type} eq 'ack' });
#   $ws->send_frame(opcode => 1, payload => '{}', mask => 0);  # any frame
#   my $code = $ws->recv_close;      # the close code the server sent
#
# new() options:
#   host, port         (host default 127.0.0.1)
#   path               default /api/v1/ws
#   token              Authorization: Bearer <token>
#   basic              [user, password]: Authorization: Basic
#   access_token       ?access_token=<token> in the URI
#   headers            extra handshake headers: [[name, value], ...]
#   replace_headers    { lc name => value or undef }: changes or drops the
#                      default handshake headers (Upgrade, Connection,
#                      Sec-WebSocket-Key, Sec-WebSocket-Version, Host)
#   method             default GET
#   pipeline           bytes written in the same write as the handshake
#   split              write the handshake (and pipeline) n bytes at a time
#   timeout            seconds for the handshake and every recv (default 10,
#                      $ENV{GOBI_WS_TIMEOUT})
#   rcvbuf, sndbuf     SO_RCVBUF / SO_SNDBUF before connecting (a slow
#                      reader: a small rcvbuf, then do not call recv)
#   auto_pong          answer pings while receiving messages (default 1)
#   want_pongs         next_message() returns pongs too (default: skipped)
#   no_connect         make the object only; call ->connect, ->handshake
#
# Protocol helpers: hello(vault, since => n, device => d, protocol => 1);
# subscribe(vault, ...) = hello + the whole replay, dies otherwise, returns
# (welcome, [events], [batches]); recv_replay() reads welcome and batches;
# recv_until(sub { $_->{type} eq 'ack' }) -> (match, [JSON before it]);
# drain($quiet) -> what arrives until $quiet seconds pass without a message;
# recv_close() -> the server's close code (messages before it: ->skipped);
# wait_eof() -> true once the server ends the TCP connection; close() does
# the closing handshake; drop() just closes the socket.  worker_pid($server)
# is the nginx worker holding the connection (read from /proc).
#
# Frames: send_frame(opcode, payload, fin => 1, rsv => 0-7, mask => 1,
# mask_key => 4 bytes, len => a false length field, len_bits => 7|16|64,
# split => n (write n bytes at a time), delay => seconds between writes).
# recv_frame() gives one raw frame as a hash: opcode, fin, rsv, masked,
# payload, and for close frames close_code / close_reason; { eof => 1 }
# when the peer closed the TCP connection; undef on timeout.
# next_message() reassembles fragments and answers pings (auto_pong);
# recv_json() returns the decoded object of the next text message, or
# undef (then ->last_msg says what came instead: a close, eof or timeout).

use strict;
use warnings;

use Carp qw(croak);
use Digest::SHA qw(sha1);
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use Socket qw(IPPROTO_TCP TCP_NODELAY SOL_SOCKET SO_RCVBUF SO_SNDBUF
              inet_aton pack_sockaddr_in);
use Time::HiRes qw(time sleep);

use Gobi::Client;       # Gobi::Response

$SIG{PIPE} = 'IGNORE';

our $GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
our $TIMEOUT = $ENV{GOBI_WS_TIMEOUT} || 10;

use constant {
    CONT => 0x0, TEXT => 0x1, BINARY => 0x2,
    CLOSE => 0x8, PING => 0x9, PONG => 0xa,
};

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;


sub new {
    my ($class, %o) = @_;
    my $self = bless {
        host      => '127.0.0.1',
        path      => '/api/v1/ws',
        timeout   => $TIMEOUT,
        auto_pong => 1,
        method    => 'GET',
        %o,
        rbuf      => '',
        pings     => [],
        frag      => undef,
    }, $class;
    croak "Gobi::WS->new: port needed" unless $self->{port};
    return $self if $self->{no_connect};
    $self->connect or return $self;
    $self->handshake;
    return $self;
}

sub sock      { $_[0]{sock} }
sub status    { $_[0]{status} // 0 }
sub response  { $_[0]{response} }
sub ok        { ($_[0]{status} // 0) == 101 && $_[0]{accept_ok} }
sub error     { $_[0]{error} }
sub last_msg  { $_[0]{last} }
sub pings     { @{ $_[0]{pings} } }
sub timeout   { my $s = shift; $s->{timeout} = shift if @_; $s->{timeout} }
sub auto_pong { my $s = shift; $s->{auto_pong} = shift if @_; $s->{auto_pong} }
sub local_port { $_[0]{sock} ? $_[0]{sock}->sockport : undef }
sub write_error { $_[0]{write_error} }

# connects (with the socket options set before the SYN)
sub connect {
    my ($self) = @_;
    my $sock = IO::Socket::INET->new(Proto => 'tcp', Type => SOCK_STREAM)
        or croak "socket: $!";
    setsockopt($sock, SOL_SOCKET, SO_RCVBUF, $self->{rcvbuf})
        if $self->{rcvbuf};
    setsockopt($sock, SOL_SOCKET, SO_SNDBUF, $self->{sndbuf})
        if $self->{sndbuf};
    my $addr = pack_sockaddr_in($self->{port}, inet_aton($self->{host}));
    unless (CORE::connect($sock, $addr)) {
        $self->{error} = "connect $self->{host}:$self->{port}: $!";
        return 0;
    }
    setsockopt($sock, IPPROTO_TCP, TCP_NODELAY, 1);
    binmode $sock;
    $sock->blocking(0);
    $self->{sock} = $sock;
    return 1;
}

# a random Sec-WebSocket-Key (16 bytes, base64)
sub new_key {
    return encode_base64(join('', map { chr int rand 256 } 1 .. 16), '');
}

sub accept_for {
    my ($key) = @_;
    return encode_base64(sha1($key . $GUID), '');
}

sub handshake_bytes {
    my ($self) = @_;
    my $key = $self->{key} //= new_key();
    my $uri = $self->{path};
    if (defined $self->{access_token}) {
        $uri .= ($uri =~ /\?/ ? '&' : '?') . 'access_token='
            . Gobi::Client::escape($self->{access_token});
    }
    my @h = (
        [ host => 'Host', "$self->{host}:$self->{port}" ],
        [ upgrade => 'Upgrade', 'websocket' ],
        [ connection => 'Connection', 'Upgrade' ],
        [ 'sec-websocket-key' => 'Sec-WebSocket-Key', $key ],
        [ 'sec-websocket-version' => 'Sec-WebSocket-Version', '13' ],
    );
    my $rep = $self->{replace_headers} || {};
    my @out;
    for my $h (@h) {
        if (exists $rep->{ $h->[0] }) {
            push @out, [ $h->[1], $rep->{ $h->[0] } ]
                if defined $rep->{ $h->[0] };
        } else {
            push @out, [ $h->[1], $h->[2] ];
        }
    }
    if ($self->{basic}) {
        push @out, [ Authorization => Gobi::Client::basic_auth(
            @{ $self->{basic} }) ];
    } elsif (defined $self->{token}) {
        push @out, [ Authorization => "Bearer $self->{token}" ];
    }
    push @out, map { ref $_ ? $_ : [ split /:\s*/, $_, 2 ] }
        @{ $self->{headers} || [] };
    my $req = "$self->{method} $uri HTTP/1.1\r\n";
    $req .= "$_->[0]: $_->[1]\r\n" for @out;
    return "$req\r\n";
}

# sends the upgrade request and reads the answer: true on a verified 101
sub handshake {
    my ($self) = @_;
    my $req = $self->handshake_bytes;
    $req .= $self->{pipeline} if defined $self->{pipeline};
    $self->send_raw($req, split => $self->{split}) or do {
        $self->{error} = "handshake write: $self->{write_error}";
        return 0;
    };
    my $deadline = time + $self->{timeout};
    my $hend;
    while (($hend = index $self->{rbuf}, "\r\n\r\n") < 0) {
        my $n = $self->_fill($deadline - time);
        if (!$n) {
            $self->{error} = defined $n ? 'handshake: connection closed'
                                        : 'handshake: timeout';
            $self->{response} = Gobi::Response->new(status => 0,
                error => $self->{error}, raw => $self->{rbuf});
            return 0;
        }
    }
    my $head = substr $self->{rbuf}, 0, $hend;
    substr($self->{rbuf}, 0, $hend + 4) = '';
    my ($status_line, @lines) = split /\r\n/, $head;
    my ($status) = $status_line =~ m{^HTTP/1\.[01] (\d{3})};
    $self->{status} = $status // 0;
    my (%h, @hl);
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        push @hl, [ $k, $v ];
        $k = lc $k;
        $h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
    }
    my $body = '';
    if ($self->{status} != 101) {
        # the answer's body: by Content-Length or to the end
        my $len = $h{'content-length'};
        while (!defined $len || length $self->{rbuf} < $len) {
            my $n = $self->_fill($deadline - time);
            last unless $n;
        }
        $body = defined $len ? substr($self->{rbuf}, 0, $len)
                             : $self->{rbuf};
        $self->{rbuf} = '';
    }
    $self->{response} = Gobi::Response->new(status => $self->{status},
        status_line => $status_line, headers => \%h, header_list => \@hl,
        body => $body, raw => $head);
    if ($ENV{GOBI_RECORD}) {
        my ($uri) = $req =~ /^\S+ (\S+)/;
        Gobi::Client::record($self->{method}, $uri, $self->{response});
    }
    return 0 unless $self->{status} == 101;
    my $want = accept_for($self->{key});
    $self->{accept_ok} = ($h{'sec-websocket-accept'} // '') eq $want
        && lc($h{upgrade} // '') eq 'websocket'
        && ($h{connection} // '') =~ /\bupgrade\b/i;
    $self->{error} = "bad accept headers: $head" unless $self->{accept_ok};
    return $self->{accept_ok};
}


# ---- writing ----------------------------------------------------------------

# frame(%o) -> bytes of one frame (a class or object method)
#   opcode (default TEXT), payload, fin (1), rsv (0..7), mask (1),
#   mask_key, len (the length field to write, default the true one),
#   len_bits (7, 16 or 64: force an encoding of the length)
sub frame {
    my ($self, %o) = @_;
    my $payload = $o{payload} // '';
    utf8::downgrade($payload, 1)
        or croak "frame: payload has wide characters; encode it first";
    my $op = $o{opcode} // TEXT;
    my $fin = $o{fin} // 1;
    my $rsv = $o{rsv} // 0;
    my $mask = $o{mask} // 1;
    my $len = $o{len} // length $payload;
    my $bits = $o{len_bits}
        // ($len < 126 ? 7 : $len < 65536 ? 16 : 64);
    my $b = pack 'C', ($fin ? 0x80 : 0) | (($rsv & 7) << 4) | ($op & 0xf);
    my $m = $mask ? 0x80 : 0;
    if ($bits == 7)     { $b .= pack 'C', $m | $len }
    elsif ($bits == 16) { $b .= pack 'Cn', $m | 126, $len }
    else                { $b .= pack 'CQ>', $m | 127, $len }
    if ($mask) {
        my $key = $o{mask_key} // pack 'N', int rand 2**32;
        $b .= $key . mask_bytes($payload, $key);
    } else {
        $b .= $payload;
    }
    return $b;
}

sub mask_bytes {
    my ($data, $key) = @_;
    return '' unless length $data;
    my $k = substr($key x (int(length($data) / 4) + 1), 0, length $data);
    return "$data" ^ $k;
}

# writes bytes; split => n writes n bytes at a time (delay => s between:
# default 1 ms, so that the server reads them apart).  True when all of it
# went out; false on an error ($ws->write_error) or a timeout.
sub send_raw {
    my ($self, $bytes, %o) = @_;
    my $sock = $self->{sock} or do {
        $self->{write_error} = 'not connected';
        return 0;
    };
    my $chunk = $o{split} || 65536;
    my $delay = $o{split} ? ($o{delay} // 0.001) : 0;
    my $timeout = $o{timeout} // $self->{timeout};
    my $off = 0;
    my $sel = IO::Select->new($sock);
    while ($off < length $bytes) {
        my $n = syswrite($sock, $bytes, $chunk, $off);
        if (!defined $n) {
            if ($! == EAGAIN || $! == EWOULDBLOCK) {
                unless ($sel->can_write($timeout)) {
                    $self->{write_error} = 'write timeout';
                    return 0;
                }
                next;
            }
            next if $! == EINTR;
            $self->{write_error} = "$!";
            return 0;
        }
        $off += $n;
        sleep $delay if $delay && $off < length $bytes;
    }
    return 1;
}

sub send_frame {
    my ($self, %o) = @_;
    my %w = map { $_ => delete $o{$_} } grep { exists $o{$_} }
        qw(split delay timeout);
    return $self->send_raw($self->frame(%o), %w);
}

# a text frame: $text is bytes (encode characters first), or a reference
# to a Perl string of characters to be UTF-8 encoded
sub send_text {
    my ($self, $text, %o) = @_;
    if (ref $text) {
        $text = $$text;
        utf8::encode($text);
    }
    return $self->send_frame(%o, opcode => TEXT, payload => $text);
}

sub send_json {
    my ($self, $data, %o) = @_;
    return $self->send_frame(%o, opcode => TEXT,
        payload => $JSON->encode($data));
}

sub send_binary {
    my ($self, $bytes, %o) = @_;
    return $self->send_frame(%o, opcode => BINARY, payload => $bytes);
}

sub send_ping {
    my ($self, $payload, %o) = @_;
    return $self->send_frame(%o, opcode => PING, payload => $payload // '');
}

sub send_pong {
    my ($self, $payload, %o) = @_;
    return $self->send_frame(%o, opcode => PONG, payload => $payload // '');
}

# a close frame: no code gives an empty payload
sub send_close {
    my ($self, $code, $reason, %o) = @_;
    my $p = defined $code ? pack('n', $code) . ($reason // '') : '';
    $self->{close_sent} = 1;
    return $self->send_frame(%o, opcode => CLOSE, payload => $p);
}

# a message in fragments: send_fragments(TEXT, [parts], %frame_opts);
# interleave => { after => i, frame => {frame opts} } puts a frame (e.g.
# a ping) after fragment i
sub send_fragments {
    my ($self, $opcode, $parts, %o) = @_;
    my $il = delete $o{interleave};
    my $bytes = '';
    for my $i (0 .. $#$parts) {
        $bytes .= $self->frame(%o, opcode => $i == 0 ? $opcode : CONT,
            fin => $i == $#$parts ? 1 : 0, payload => $parts->[$i]);
        $bytes .= $self->frame(%{ $il->{frame} })
            if $il && $il->{after} == $i;
    }
    return $self->send_raw($bytes);
}

# hello(vault, since => n, device => d, protocol => 1, %extra)
sub hello {
    my ($self, $vault, %o) = @_;
    my %m = (type => 'hello', vault => $vault, since => $o{since} // 0,
        protocol => $o{protocol} // 1);
    $m{device} = $o{device} if defined $o{device};
    return $self->send_json(\%m);
}


# ---- reading ----------------------------------------------------------------

# reads what is there into rbuf: bytes read; 0 on EOF; undef on timeout.
# A reset counts as EOF (what came before it is kept).
sub _fill {
    my ($self, $timeout) = @_;
    my $sock = $self->{sock} or return 0;
    $timeout = 0 if $timeout < 0;
    my $sel = IO::Select->new($sock);
    while (1) {
        my $n = sysread($sock, my $chunk, 65536);
        if (defined $n) {
            if ($n == 0) {
                $self->{eof} = 1;
                return 0;
            }
            $self->{rbuf} .= $chunk;
            return $n;
        }
        if ($! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR) {
            return undef unless $sel->can_read($timeout);
            $timeout = 0.05 if $timeout < 0.05;
            next;
        }
        $self->{eof} = 1;
        $self->{read_error} = "$!";
        return 0;
    }
}

# one complete frame from rbuf, or undef
sub _parse {
    my ($self) = @_;
    my $b = $self->{rbuf};
    return undef if length $b < 2;
    my ($b0, $b1) = unpack 'CC', $b;
    my $off = 2;
    my $len = $b1 & 0x7f;
    if ($len == 126) {
        return undef if length $b < 4;
        $len = unpack 'n', substr $b, 2, 2;
        $off = 4;
    } elsif ($len == 127) {
        return undef if length $b < 10;
        $len = unpack 'Q>', substr $b, 2, 8;
        $off = 10;
    }
    my $masked = $b1 & 0x80 ? 1 : 0;
    my $key;
    if ($masked) {
        return undef if length $b < $off + 4;
        $key = substr $b, $off, 4;
        $off += 4;
    }
    return undef if length $b < $off + $len;
    my $payload = substr $b, $off, $len;
    $payload = mask_bytes($payload, $key) if $masked;
    substr($self->{rbuf}, 0, $off + $len) = '';
    my $f = {
        fin => $b0 & 0x80 ? 1 : 0, rsv => ($b0 >> 4) & 7,
        opcode => $b0 & 0xf, masked => $masked, payload => $payload,
        len => $len,
    };
    if ($f->{opcode} == CLOSE) {
        if (length $payload >= 2) {
            $f->{close_code} = unpack 'n', $payload;
            $f->{close_reason} = substr $payload, 2;
        } else {
            $f->{close_code} = 1005;    # none given
            $f->{close_reason} = '';
        }
        $self->{close_received} = $f;
    }
    return $f;
}

# the next frame as it came (no pong, no assembly): a hash, { eof => 1 },
# or undef on timeout
sub recv_frame {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // $self->{timeout});
    while (1) {
        my $f = $self->_parse;
        return $f if $f;
        return { eof => 1, partial => length $self->{rbuf} }
            if $self->{eof};
        my $n = $self->_fill($deadline - time);
        return undef if !defined $n && time >= $deadline;
    }
}

# the next message: fragments joined, pings answered (auto_pong) and
# noted in ->pings, pongs skipped.  A hash: opcode, payload, json (text
# that is JSON), close_code/close_reason; { eof => 1 }; or undef on a
# timeout.  ->last_msg is set to it.
sub next_message {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // $self->{timeout});
    while (1) {
        my $f = $self->recv_frame($deadline - time);
        if (!$f) {
            $self->{last} = { timeout => 1 };
            return undef;
        }
        if ($f->{eof}) {
            $self->{last} = $f;
            return $f;
        }
        push @{ $self->{frames} }, $f if $self->{keep_frames};
        if ($f->{opcode} == PING) {
            push @{ $self->{pings} }, $f->{payload};
            $self->send_pong($f->{payload})
                if $self->{auto_pong} && !$self->{close_sent};
            next;
        }
        next if $f->{opcode} == PONG && !$self->{want_pongs};
        if ($f->{opcode} == CONT || !$f->{fin}) {
            if ($f->{opcode} != CONT) {
                $self->{frag} = { %$f };
            } elsif ($self->{frag}) {
                $self->{frag}{payload} .= $f->{payload};
            }
            next unless $f->{fin} && $self->{frag};
            $f = delete $self->{frag};
            $f->{fin} = 1;
        }
        if ($f->{opcode} == TEXT) {
            $f->{json} = eval { $JSON->decode($f->{payload}) };
        }
        $self->{last} = $f;
        return $f;
    }
}

# the decoded object of the next text message; undef if what came next is
# not a JSON text message (see ->last_msg)
sub recv_json {
    my ($self, $timeout) = @_;
    my $m = $self->next_message($timeout) or return undef;
    return undef unless defined $m->{opcode} && $m->{opcode} == TEXT;
    return $m->{json};
}

# reads JSON messages until $pred->($msg) holds: (the match, [before]);
# (undef, [before]) on a close, eof or timeout (see ->last_msg)
sub recv_until {
    my ($self, $pred, $timeout) = @_;
    my $deadline = time + ($timeout // $self->{timeout});
    my @before;
    while (1) {
        my $left = $deadline - time;
        my $m = $left > 0 ? $self->next_message($left) : undef;
        $self->{last} = { timeout => 1 } unless $m;
        return (undef, \@before) unless $m && defined $m->{opcode};
        if ($m->{opcode} != TEXT) {
            return (undef, \@before) if $m->{opcode} == CLOSE;
            next;
        }
        local $_ = $m->{json};
        return ($m->{json}, \@before) if ref $m->{json} && $pred->($m->{json});
        push @before, $m->{json};
    }
}

# every JSON message that arrives within $quiet seconds of the previous
# one (a way to say "and nothing else came")
sub drain {
    my ($self, $quiet) = @_;
    my @got;
    while (my $m = $self->next_message($quiet // 0.3)) {
        last unless defined $m->{opcode};
        push @got, $m->{opcode} == TEXT ? $m->{json} : $m;
        last if $m->{opcode} == CLOSE;
    }
    return @got;
}

# replay after hello: (welcome, [events of all batches], [batches]) or
# (welcome-or-other, undef) when the server answered otherwise
sub recv_replay {
    my ($self, $timeout) = @_;
    my $w = $self->recv_json($timeout);
    return ($w, undef) unless ref $w eq 'HASH' && ($w->{type} // '') eq
        'welcome';
    my (@events, @batches);
    while (1) {
        my $b = $self->recv_json($timeout);
        return ($w, undef, \@batches, $b) unless ref $b eq 'HASH'
            && ($b->{type} // '') eq 'events';
        push @batches, $b;
        push @events, @{ $b->{events} || [] };
        last unless $b->{more};
    }
    return ($w, \@events, \@batches);
}

# hello + replay in one: dies unless a welcome and a complete replay came
sub subscribe {
    my ($self, $vault, %o) = @_;
    $self->hello($vault, %o);
    my ($w, $ev, $b, $other) = $self->recv_replay;
    croak "subscribe $vault: " . $JSON->encode($other // $w // $self->{last})
        unless $ev;
    return wantarray ? ($w, $ev, $b) : $w;
}

# reads until a close frame: its code (1005 for an empty one), or undef
# on eof or timeout.  What came before is in ->skipped.
sub recv_close {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // $self->{timeout});
    $self->{skipped} = [];
    while (1) {
        my $left = $deadline - time;
        my $m = $left > 0 ? $self->next_message($left) : undef;
        return undef unless $m && !$m->{eof};
        return $m->{close_code} if $m->{opcode} == CLOSE;
        push @{ $self->{skipped} }, $m;
    }
}

sub skipped { @{ $_[0]{skipped} || [] } }

# true when the server closes the TCP connection within the timeout
# (frames that come first are dropped)
sub wait_eof {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // $self->{timeout});
    while (1) {
        return 1 if $self->{eof};
        $self->{rbuf} = '';
        my $n = $self->_fill($deadline - time);
        return 1 if defined $n && $n == 0;
        return 0 if !defined $n && time >= $deadline;
    }
}

# a clean close from our side: close frame, the server's close, eof.
# Returns the server's close code (undef if none came).
sub close {
    my ($self, $code) = @_;
    return undef unless $self->{sock};
    $self->send_close($code // 1000);
    my $c = $self->recv_close;
    $self->wait_eof(2);
    $self->drop;
    return $c;
}

# closes the socket without a close frame
sub drop {
    my ($self) = @_;
    CORE::close($self->{sock}) if $self->{sock};
    $self->{sock} = undef;
}

sub DESTROY {
    my ($self) = @_;
    local ($!, $@, $?);
    $self->drop;
}


# ---- which worker ---------------------------------------------------------------

# The pid of the nginx worker that holds the server side of this
# connection (from /proc/net/tcp and /proc/<pid>/fd), or undef.
sub worker_pid {
    my ($self, $server) = @_;
    return worker_of($server, $self->local_port);
}

sub worker_of {
    my ($server, $client_port) = @_;
    my $inode = _server_inode($server->port, $client_port) or return undef;
    for my $pid ($server->worker_pids) {
        opendir my $d, "/proc/$pid/fd" or next;
        for my $fd (readdir $d) {
            my $l = readlink "/proc/$pid/fd/$fd" or next;
            return $pid if $l eq "socket:[$inode]";
        }
    }
    return undef;
}

sub _server_inode {
    my ($sport, $cport) = @_;
    open my $fh, '<', '/proc/net/tcp' or return undef;
    my $want_l = sprintf '%04X', $sport;
    my $want_r = sprintf '%04X', $cport;
    while (my $line = <$fh>) {
        my @f = split ' ', $line;
        next unless @f > 9 && $f[1] =~ /:([0-9A-F]{4})$/ && $1 eq $want_l;
        next unless $f[2] =~ /:([0-9A-F]{4})$/ && $1 eq $want_r;
        return $f[9] if $f[9];
    }
    return undef;
}

1;
