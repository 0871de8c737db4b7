# A WebSocket session lives no longer than its token: the token is checked
# again before each rename or delete and at every ping interval; once it is
# revoked (log out everywhere, a password change) or expired, the session
# gets {"type":"error","code":"unauthorized"} and close 1008, and what it
# asked for is not done.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

sub main::revoked_ok {
    my ($ws, $what) = @_;
    my ($m, $before) = $ws->recv_until(sub { $_->{type} eq 'error' }, 15);
    json_subset_ok($m, { type => 'error', code => 'unauthorized' },
        "$what: error unauthorized")
        or diag explain { before => $before, last => $ws->{last} };
    my $code = $ws->recv_close(15);
    is($code, 1008, "$what: close 1008")
        or diag explain [ $ws->skipped, $ws->{last}, $ws->{read_error} ];
    ok($ws->wait_eof(15) && !defined $ws->{read_error},
        "$what: then the end of stream, not a reset")
        or diag $ws->{read_error};
}

run_tests();

__DATA__

=== TEST 1: logged out everywhere: the next delete and rename are refused and the session ends
--- websocket
--- gobi_config
gobi_ws_ping_interval 1h;
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
my ($w) = $ws->subscribe('notes', since => 0);
my $ws2 = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws2->subscribe('notes', since => 0);
like($c->request(DELETE => 'sessions')->status, qr/^20[04]$/,
    'log out everywhere');
$ws->send_json({ type => 'delete', id => 1, path => 'a.txt',
    base_version => 1 });
# pings behind it, unread while the delete's token check runs: the close
# must not reset the connection under them
$ws->send_ping('p' x 120) for 1 .. 500;
main::revoked_ok($ws, 'delete');
$ws2->send_json({ type => 'rename', id => 2, from => 'b.txt', to => 'c.txt',
    base_version => 2 });
main::revoked_ok($ws2, 'rename');
my $c2 = Gobi::Client->new(port => $t->port);
$c2->login('alice');
my $m = $c2->manifest('notes')->json;
is_deeply([ map { $_->{path} } @{ $m->{files} } ], [ 'a.txt', 'b.txt' ],
    'nothing was deleted or renamed');
is($m->{seq}, 2, 'no event');
--- error_log
its token is no longer valid



=== TEST 2: an idle session ends within a ping interval of its token's revocation
--- websocket
--- gobi_config
gobi_ws_ping_interval 1s;
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->subscribe('notes', since => 0);
like($c->request(DELETE => 'sessions/current')->status, qr/^20[04]$/,
    'the token is revoked');
main::revoked_ok($ws, 'idle');



=== TEST 3: a password change ends the other sessions, not the one that changed it
--- websocket
--- gobi_config
gobi_ws_ping_interval 3s;
--- setup
user alice
vault notes
--- perl
my $old = $V->{TOKEN};
my $ws = Gobi::WS->new(port => $t->port, token => $old);
$ws->subscribe('notes', since => 0);
my $c2 = Gobi::Client->new(port => $t->port);
$c2->login('alice');
my $ws2 = Gobi::WS->new(port => $t->port, token => $c2->token);
$ws2->subscribe('notes', since => 0);
my $r = $c2->request(PUT => 'users/me/password', json => {
    password => $V->{PASSWORD}, new_password => 'another good password' });
is($r->status, 200, 'password changed') or diag $r->body;
main::revoked_ok($ws, 'the other session');
# the changing session stays: it still gets live events after a ping (the
# interval leaves the blocking client 3 s to answer pings: a password hash
# on a loaded machine takes a while)
$ws2->drain(3.5);
$c2->put_ok('notes', 'x.txt', 'still here');
my ($m) = $ws2->recv_until(sub { $_->{type} eq 'event' }, 10);
is($m->{event}{path}, 'x.txt', 'the session of the new password goes on');
