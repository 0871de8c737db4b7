# The client reads the manifest in pages (GET .../files?limit=1000, then
# ?after=<the last path>, until "next" is null): a clone of a vault of more
# than two pages gets every file, and the cursor of each page survives the
# characters a query string gives a meaning (& = + # % space, UTF-8).
use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Gobi::CliTest;

my $t = Gobi::CliTest->new(name => 'client-pages');
my $N = 2345;

$t->vault('big');
my $a = $t->clone('big', 'a');

# every name has the characters a query cursor must escape, so every page
# boundary falls on one
for my $i (1 .. $N) {
    my $dir = sprintf 'd%d', $i % 7;
    $t->put(sprintf("%s/a&b=c+d #%%20 \x{c3}\x{bc} %04d.txt", $a, $i),
            "file $i\n");
    $t->put("$a/$dir/plain-$i", "$i") if $i % 500 == 0;
}

my ($rc, $out, $err) = $t->gobi('sync', $a);
is($rc, 0, "sync pushes $N files") or diag "$out$err";

my $b = $t->clone('big', 'b');
my $ta = $t->tree($a);
my $tb = $t->tree($b);
is(scalar keys %$tb, scalar keys %$ta, 'the clone has as many files')
    or diag scalar(keys %$tb) . ' of ' . scalar(keys %$ta);
is_deeply($tb, $ta, 'and the same ones');

my @next = grep { m{GET /api/v1/vaults/big/files\?limit=1000&after=} }
    split /\n/, $t->server->access_log;
cmp_ok(scalar @next, '>=', 2, 'the clone read the manifest in 3 pages')
    or diag $t->server->access_log;
like($next[0] // '', qr{&after=[^ ]*%26b%3Dc%2Bd%20%23%2520%20%C3%BC%20\d{4}\.txt },
     'the cursor is escaped in the query');

done_testing;
