# A vault deleted while sessions follow it: every session, on every worker,
# is told (error vault_not_found) and closed normally; a later hello on a
# new connection finds no vault.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

run_tests();

__DATA__

=== TEST 1: deleting a followed vault closes its sessions with vault_not_found
--- websocket
--- setup
user alice
vault notes
vault other
put notes a.txt A
--- perl
my @ws = map {
    my $w = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    $w->subscribe('notes', since => 0);
    $w } 1 .. 6;
my $keep = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$keep->subscribe('other', since => 0);

is($c->request(DELETE => 'vaults/notes')->status, 200, 'vault deleted');

for my $i (0 .. $#ws) {
    my ($err) = $ws[$i]->recv_until(sub { $_->{type} eq 'error' }, 15);
    is($err && $err->{code}, 'vault_not_found', "session $i: told");
    is($ws[$i]->recv_close(15), 1000, "session $i: closed normally");
}

# the other vault's session is untouched
$c->put_ok('other', 'b.txt', 'B');
my $ev = $keep->recv_json(15);
is($ev && $ev->{event}{path}, 'b.txt', 'the other vault still goes live');

my $late = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$late->hello('notes', since => 0);
my $m = $late->recv_json(15);
is($m && $m->{code}, 'vault_not_found', 'a new hello finds no vault');
