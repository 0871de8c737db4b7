# The mass-delete guard: a device that deletes more than
# gobi_mass_delete_limit files (default: half the vault's files, at least
# 20) within 5 minutes gets 409 mass_delete_blocked on the next delete,
# unless it confirms (X-Gobi-Confirm-Mass-Delete: 1, or
# "confirm_mass_delete": true over the WebSocket).  Other devices go on.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

sub main::del {
    my ($c, $path, $device, @h) = @_;
    return $c->delete('notes', $path, 'X-Gobi-Device' => $device, @h);
}

run_tests();

__DATA__

=== TEST 1: 50% of 40 files: the 21st delete of one device is blocked until it confirms
--- setup
user alice
vault notes
--- perl
$c->put_ok('notes', "f$_.txt", "file $_") for 1 .. 40;
for my $i (1 .. 20) {
    my $r = main::del($c, "f$i.txt", 'wiper');
    is($r->status, 200, "delete $i") unless $r->status == 200;
}
my $r = main::del($c, 'f21.txt', 'wiper');
is($r->status, 409, 'the 21st: 409');
is($r->json->{error}{code}, 'mass_delete_blocked', 'mass_delete_blocked');
like($r->json->{error}{message}, qr/X-Gobi-Confirm-Mass-Delete/,
     'the message says how to go on');
is($c->get('notes', 'f21.txt')->body, 'file 21', 'nothing deleted');
$r = main::del($c, 'f22.txt', 'phone');
is($r->status, 200, 'another device is not blocked');
$r = main::del($c, 'f21.txt', 'wiper', 'X-Gobi-Confirm-Mass-Delete' => 1);
is($r->status, 200, 'confirmed: deleted');
$r = main::del($c, 'f23.txt', 'wiper', 'X-Gobi-Confirm-Mass-Delete' => 'yes');
is($r->status, 400, 'a bad confirmation value: 400');
is($c->get('notes', 'f23.txt')->status, 200, 'nothing deleted');



=== TEST 2: small vaults: at least 20; a count as the limit; off
--- gobi_config
gobi_mass_delete_limit 3;
--- setup
user alice
vault notes
--- perl
$c->put_ok('notes', "f$_.txt", "file $_") for 1 .. 5;
is(main::del($c, "f$_.txt", 'pc')->status, 200, "delete $_") for 1 .. 3;
is(main::del($c, 'f4.txt', 'pc')->status, 409, 'limit 3: the 4th blocked');



=== TEST 3: off
--- gobi_config
gobi_mass_delete_limit off;
--- setup
user alice
vault notes
--- perl
$c->put_ok('notes', "f$_.txt", "file $_") for 1 .. 25;
my $fails = grep { main::del($c, "f$_.txt", 'pc')->status != 200 } 1 .. 25;
is($fails, 0, 'off: every delete goes through');



=== TEST 4: over the WebSocket: reject with the file to download back; confirm_mass_delete passes
--- websocket
--- gobi_config
gobi_mass_delete_limit 2;
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
put notes c.txt C
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->subscribe('notes', since => 0, device => 'tablet');
my $ask = sub {
    $ws->send_json($_[0]);
    my ($m) = $ws->recv_until(sub { $_->{type} =~ /^(ack|reject|error)$/ },
        10);
    return $m;
};
is($ask->({ type => 'delete', id => $_, path => (qw(a.txt b.txt))[$_ - 1],
    base_version => $_ })->{type}, 'ack', "delete $_") for 1 .. 2;
my $m = $ask->({ type => 'delete', id => 3, path => 'c.txt',
    base_version => 3 });
is($m->{type}, 'reject', 'the third: reject');
is($m->{code}, 'mass_delete_blocked', 'mass_delete_blocked');
json_subset_ok($m->{actions}[0], { op => 'download', path => 'c.txt',
    version => 3 }, 'the file to get back');
$m = $ask->({ type => 'delete', id => 4, path => 'c.txt',
    base_version => 3, confirm_mass_delete => JSON::PP::true });
is($m->{type}, 'ack', 'confirmed: ack');
$m = $ask->({ type => 'delete', id => 5, path => 'x.txt',
    base_version => 3, confirm_mass_delete => 'yes' });
is($m->{code}, 'bad_message', 'a bad confirm_mass_delete: bad_message')
    or diag explain $m;
