# JSON bodies are bounded while they are read, before credentials: a
# chunked (or lying) client is cut at 64 KiB, so an unauthenticated
# 600 MB POST never puts more than that in memory or on disk.  Their
# shape is bounded too: 64 members per object, 64 levels.
use Gobi::Test;
use File::Find ();
use IO::Select;
use Time::HiRes ();

plan tests => repeat_each() * blocks();

# the largest file under the server's folders, the database and logs aside
sub main::largest {
    my ($root) = @_;
    my $max = 0;
    File::Find::find({ no_chdir => 1, wanted => sub {
        return unless -f $_;
        return if m{/logs/} || m{/modules/} || m{\.db(-wal|-shm)?$};
        my $s = -s _;
        $max = $s if $s > $max;
    } }, $root);
    return $max;
}

# streams a chunked body of up to $total bytes until the server answers;
# returns (bytes sent, the answer's status line and body, largest file seen)
sub main::flood {
    my ($t, $method, $uri, $total, $root) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $t->port, Proto => 'tcp') or die "connect: $!";
    binmode $sock;
    syswrite($sock, "$method $uri HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Type: application/json\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n");
    my $chunk = sprintf("%x\r\n", 65536) . ('[' x 16 . ' ' x (65536 - 16))
              . "\r\n";
    my ($sent, $largest, $n) = (0, 0, 0);
    my $sel = IO::Select->new($sock);
    local $SIG{PIPE} = 'IGNORE';
    while ($sent < $total) {
        last if $sel->can_read(0);
        my $w = syswrite($sock, $chunk);
        last unless defined $w;
        $sent += $w;
        if (++$n % 64 == 0) {
            my $l = main::largest($root);
            $largest = $l if $l > $largest;
        }
    }
    my $answer = '';
    my $deadline = Time::HiRes::time() + 10;
    while (Time::HiRes::time() < $deadline) {
        last unless $sel->can_read(1);
        my $r = sysread($sock, my $buf, 65536);
        last unless $r;
        $answer .= $buf;
        last if $answer =~ /\r\n\r\n.*\}/s;
    }
    my $l = main::largest($root);
    $largest = $l if $l > $largest;
    return ($sent, $answer, $largest);
}

sub main::flood_ok {
    my ($t, $V, $uri, $method) = @_;
    my ($sent, $answer, $largest) = main::flood($t, $method // 'POST', $uri,
        600 * 1024 * 1024, $V->{SERVROOT});
    like($answer, qr{^HTTP/1\.1 413 }, "$uri: 413") or diag substr($answer, 0, 300);
    like($answer, qr{"code"\s*:\s*"payload_too_large"}, "$uri: payload_too_large");
    cmp_ok($sent, '<', 64 * 1024 * 1024, "$uri: the server stopped reading early")
        or diag "sent $sent bytes";
    cmp_ok($largest, '<=', 65536 + 65536, "$uri: nothing bigger than the limit on disk")
        or diag "largest file $largest bytes";
}

run_tests();

__DATA__

=== TEST 1: an unauthenticated chunked 600 MB sign-up is cut at 64 KiB
--- perl
main::flood_ok($t, $V, '/api/v1/users');
--- no_error_log
[alert]



=== TEST 2: the same for logins and vaults (no credentials needed to be cut)
--- perl
main::flood_ok($t, $V, '/api/v1/sessions');
main::flood_ok($t, $V, '/api/v1/vaults');
main::flood_ok($t, $V, '/api/v1/users/me/password', 'PUT');



=== TEST 3: a body just under the limit is read (and judged as JSON)
--- setup
register alice
--- perl
my $pad = ' ' x (65536 - 100);
my $r = $c->request(POST => 'sessions', no_auth => 1,
    headers => [ 'Transfer-Encoding: chunked' ],
    body => sprintf("%x\r\n%s\r\n0\r\n\r\n", length("{\"username\":\"alice\",\"password\":\"$V->{PASSWORD}\"}$pad"),
        "{\"username\":\"alice\",\"password\":\"$V->{PASSWORD}\"}$pad"));
is($r->status, 201, 'a chunked login of almost 64 KiB works') or diag $r->describe;



=== TEST 4: more than 64 members, or 65 levels: 400 before the tree is built
--- request eval
[ "POST /api/v1/users\n{" . join(',', map { "\"k$_\":1" } 1 .. 65) . ',"username":"alice","password":"long enough password"}',
  "POST /api/v1/users\n{\"username\":\"alice\",\"password\":\"long enough password\",\"x\":" . ('[' x 64) . (']' x 64) . '}' ]
--- error_code eval
[ 400, 400 ]
--- json_error eval
[ 'bad_request', 'bad_request' ]
--- check
like($V->{RESPONSES}[0]->json->{error}{message}, qr/too many members/, 'members');
like($V->{RESPONSES}[1]->json->{error}{message}, qr/too deep/, 'depth');
my $body = '{' . join(',', map { "\"k$_\":1" } 1 .. 62)
         . ',"username":"alice","password":"long enough password"}';
is($c->request(POST => 'users', no_auth => 1, body => $body)->status, 201,
    '64 members are fine');



=== TEST 5: a lone low surrogate escape is not a string (yajl makes bytes that are not UTF-8 of it)
--- request eval
[ "POST /api/v1/users\n" . '{"username":"al\udc00ice","password":"long enough password"}',
  "POST /api/v1/vaults\n" . '{"name":"n\udc00"}' ]
--- more_headers eval
[ "X-Nothing: 1", "Authorization: Bearer nothing" ]
--- error_code eval
[ 400, 400 ]
--- json_error eval
[ 'bad_request', 'bad_request' ]
