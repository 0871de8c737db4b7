# Two folders, each with `gobi watch`, stay identical as files are edited
# in either one, through a server restart and an offline period.
use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Gobi::CliTest;
use Time::HiRes qw(sleep);

my $t = Gobi::CliTest->new(name => 'client-watch');
$t->vault('live');
my $a = $t->clone('live', 'a');
my $b = $t->clone('live', 'b');

# a file made before the watchers start is found at start
$t->put("$a/before.txt", "before\n");

my $wa = $t->watch($a);
my $wb = $t->watch($b);

sub same {
    my ($name, $timeout) = @_;
    ok($t->converge($timeout || 20, $a, $b), $name)
        or diag explain { a => $t->tree($a), b => $t->tree($b) },
            "watch logs:\n", Gobi::CliTest::_slurp("$a.watch.log"),
            Gobi::CliTest::_slurp("$b.watch.log");
}

same('start: what changed while stopped is synced');
is($t->get("$b/before.txt"), "before\n", 'content');

# a live change is applied from the WebSocket's event: the other side
# fetches the bytes and does not read the log again (no GET .../events)
{
    sleep 1;
    my $from = length $t->server->access_log;
    $t->put("$a/live.txt", "straight from the event");
    same('a live change');
    my $log = substr($t->server->access_log, $from);
    my @events = grep { m{/events} } split /\n/, $log;
    is(scalar @events, 0, 'applied from the WebSocket message: no log read')
        or diag $log;
    like($log, qr{GET /api/v1/vaults/live/files/live\.txt}, 'one GET of '
         . 'the bytes');
}

$t->put("$a/x.txt", "x1");
$t->put("$a/sub/new/deep.txt", "deep");
same('creates in a, new folders included');

$t->put("$b/x.txt", "x2");
same('edit in b');
is($t->get("$a/x.txt"), "x2", 'content');

rename "$b/x.txt", "$b/y.txt" or die;
same('rename in b');
ok(!-e "$a/x.txt" && -e "$a/y.txt", 'renamed in a');

rename "$a/sub", "$a/moved" or die;
same('folder rename in a');
is($t->get("$b/moved/new/deep.txt"), "deep", 'content');

unlink "$b/y.txt";
same('delete in b');

# many files at once
$t->put(sprintf("%s/many/f%03d.txt", $a, $_), "n$_") for 1 .. 200;
same('200 files', 60);

# server restart
$t->server->stop;
$t->put("$a/during-a.txt", "made while the server was down");
$t->put("$b/during-b.txt", "also");
sleep 1.5;
ok($t->server->start, 'server back');
same('offline changes from both sides', 60);

ok($t->stop_watch($wa), 'watch a stops on TERM');
ok($t->stop_watch($wb), 'watch b stops on TERM');

done_testing;
