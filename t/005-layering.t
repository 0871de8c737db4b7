# No call cycles between files: the module's (as built in
# build/nginx/objs/addon, lib/ included) and the client's.  A driver, the
# transport or a step is used from above and never calls back by name;
# what must go up goes through a table of functions.  See
# scripts/check-cycles.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use FindBin;

my $repo = "$FindBin::Bin/..";
my $addon = "$repo/build/nginx/objs/addon";

plan skip_all => 'no module build (make module)' unless -d $addon;

my $out = `$repo/scripts/check-cycles $addon 2>&1`;
is($?, 0, 'the module has no call cycles between files') or diag $out;

my $tmp = tempdir(CLEANUP => 1);
my $flags = `pkg-config --cflags sqlite3 libsodium yajl libcurl`;
chomp $flags;
my @bad;
for my $c (glob "$repo/client/*.c") {
    (my $o = $c) =~ s{.*/}{$tmp/};
    $o =~ s/\.c$/.o/;
    my $err = `cc -c -std=gnu99 -D_GNU_SOURCE -I$repo/lib -I$repo/client $flags -o $o $c 2>&1`;
    push @bad, "$c: $err" if $?;
}
is_deeply(\@bad, [], 'the client compiles file by file');
$out = `$repo/scripts/check-cycles $tmp 2>&1`;
is($?, 0, 'the client has no call cycles between files') or diag $out;

done_testing();
