# A WebSocket session is only as good as its token: revoked (log out
# everywhere, a password change) or expired while the session is open, it
# is found out at the next hello or operation (which is not applied) or
# within a ping interval at the latest; the client gets
# {"type":"error","code":"unauthorized"} and close 1008.
use Gobi::Test;
use Gobi::WS;
use Time::HiRes ();

plan tests => repeat_each() * blocks();

# an operation; (its answer, [what came before], close code or undef)
sub main::op_refused {
    my ($ws, $m) = @_;
    $ws->send_json($m);
    my $code = $ws->recv_close;
    my @msgs = map { $_->{json} } grep { $_->{opcode} == 1 } $ws->skipped;
    return ($code, \@msgs);
}

# the vault as REST sees it, with a fresh login: (head_seq, {path => 1})
sub main::vault_now {
    my ($c, $vault) = @_;
    $c->login('alice');
    my $ev = $c->events($vault, since => 0)->json;
    my %files = map { $_->{path} => 1 } grep { !$_->{deleted} }
        @{ $c->manifest($vault)->json->{files} };
    return ($ev->{head_seq}, \%files);
}

# reads (and so answers the pings of) several sessions for a while: the
# messages that came to each
sub main::idle {
    my ($secs, @ws) = @_;
    my @got = map { [] } @ws;
    my $end = Time::HiRes::time() + $secs;
    while (Time::HiRes::time() < $end) {
        push @{ $got[$_] }, $ws[$_]->drain(0.05) for 0 .. $#ws;
    }
    return @got;
}

run_tests();

__DATA__

=== TEST 1: log out everywhere, then a rename: error unauthorized, close 1008, nothing renamed
--- websocket
--- gobi_config
gobi_ws_ping_interval 1h;
--- setup
user alice
vault notes
put notes a.txt A
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->subscribe('notes', since => 0);
my $r = $c->request(DELETE => 'sessions');
is($r->status, 200, 'DELETE /sessions');
my ($code, $msgs) = main::op_refused($ws, { type => 'rename', id => 'r1',
    from => 'a.txt', to => 'b.txt', base_version => 1 });
json_subset_ok($msgs->[-1], { type => 'error', code => 'unauthorized',
    id => 'r1', message => '<string>' }, 'error unauthorized, with the id');
ok(!grep({ ($_->{type} // '') =~ /^(ack|event)$/ } @$msgs),
    'no ack, no event') or diag explain $msgs;
is($code, 1008, 'then close 1008');
ok($ws->wait_eof, 'and the connection ends');
my ($head, $files) = main::vault_now($c, 'notes');
is($head, 1, 'no event was written');
is_deeply($files, { 'a.txt' => 1 }, 'a.txt is where it was');
--- no_error_log
[error]



=== TEST 2: a password change: the other token's delete is refused, this token's session goes on
--- websocket
--- gobi_config
gobi_ws_ping_interval 1h;
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
--- perl
my $old = $V->{TOKEN};
my $keep = $c->login('alice');
my $gone = Gobi::WS->new(port => $t->port, token => $old);
$gone->subscribe('notes', since => 0);
my $stays = Gobi::WS->new(port => $t->port, token => $keep);
$stays->subscribe('notes', since => 0);
my $r = $c->request(PUT => 'users/me/password', token => $keep,
    json => { password => $V->{PASSWORD}, new_password => 'a new password!' });
is($r->status, 200, 'password changed');
my ($code, $msgs) = main::op_refused($gone, { type => 'delete', id => 7,
    path => 'a.txt', base_version => 1 });
json_subset_ok($msgs->[-1], { type => 'error', code => 'unauthorized',
    id => 7 }, 'the other token: unauthorized');
is($code, 1008, 'close 1008');
$stays->send_json({ type => 'delete', id => 8, path => 'b.txt',
    base_version => 2 });
my ($ack) = $stays->recv_until(sub { $_->{type} eq 'ack' });
json_subset_ok($ack, { id => 8, seq => 3 }, 'the current token: ack');
$c->{passwords}{alice} = 'a new password!';
my ($head, $files) = main::vault_now($c, 'notes');
is($head, 3, 'only the current token wrote');
is_deeply($files, { 'a.txt' => 1 }, 'a.txt is still there');
--- no_error_log
[error]



=== TEST 3: an idle session is closed within a few ping intervals of the revocation; others stay
--- websocket
--- gobi_config
gobi_ws_ping_interval 500ms;
--- setup
user alice
vault notes
user bob
vault other
--- perl
my $bob = Gobi::WS->new(port => $t->port, token => $V->{TOKEN_BOB});
$bob->subscribe('other', since => 0);
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN_ALICE});
$ws->subscribe('notes', since => 0);
# a few re-checks of a good token change nothing
my ($a, $b) = main::idle(1.6, $ws, $bob);
is_deeply([ @$a, @$b ], [], 'nothing for 3 intervals');
$c->as('alice');
my $t0 = Time::HiRes::time();
my $r = $c->request(DELETE => 'sessions');
is($r->status, 200, 'alice logs out everywhere');
my ($code, @seen);
for (1 .. 200) {
    main::idle(0.05, $bob);
    $code = $ws->recv_close(0.05);
    push @seen, $ws->skipped;
    last if $code;
}
my $took = sprintf '%.2f', Time::HiRes::time() - $t0;
is($code, 1008, 'close 1008');
cmp_ok($took, '<', 2, "within a few intervals (${took} s)");
my @msgs = map { $_->{json} } grep { $_->{opcode} == 1 } @seen;
json_subset_ok($msgs[-1], { type => 'error', code => 'unauthorized',
    id => '<absent>' }, 'after error unauthorized');
# bob's token was not revoked: his session goes on
($b) = main::idle(1.2, $bob);
is_deeply($b, [], 'bob: still open');
$c->as('bob');
$c->put_ok('other', 'x.txt', 'x');
my ($ev) = $bob->recv_until(sub { $_->{type} eq 'event' });
json_subset_ok($ev, { event => { path => 'x.txt' } }, 'bob: live events');
--- no_error_log
[error]



=== TEST 4: a token that expires while the session is open: closed 1008
--- websocket
--- gobi_config
gobi_ws_ping_interval 500ms;
gobi_token_ttl 3s;
--- setup
user alice
vault notes
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->subscribe('notes', since => 0);
my $code = $ws->recv_close(10);
is($code, 1008, 'close 1008 once the token expired');
my @msgs = map { $_->{json} } grep { $_->{opcode} == 1 } $ws->skipped;
json_subset_ok($msgs[-1], { type => 'error', code => 'unauthorized' },
    'after error unauthorized');
--- no_error_log
[error]



=== TEST 5: a hello after the revocation: no replay
--- websocket
--- gobi_config
gobi_ws_ping_interval 1h;
--- setup
user alice
vault notes
put notes secret.txt S
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
ok($ws->ok, 'the handshake');
is($c->request(DELETE => 'sessions')->status, 200, 'logged out everywhere');
$ws->hello('notes', since => 0);
my $code = $ws->recv_close;
my @msgs = map { $_->{json} } grep { $_->{opcode} == 1 } $ws->skipped;
is_deeply([ map { $_->{type} } @msgs ], [ 'error' ], 'no welcome, no replay');
json_subset_ok($msgs[0], { type => 'error', code => 'unauthorized' },
    'error unauthorized');
is($code, 1008, 'close 1008');
--- no_error_log
[error]
