# Unused blobs are collected: the bytes of replaced and deleted files go
# once no kept version uses them (history off, the trash emptied) and they
# are older than gobi_blob_grace; live ones stay; the same bytes written
# again later are stored anew; a temp file a crash left goes too.  Blobs
# that history still keeps stay.
use Gobi::Test;

plan tests => repeat_each() * blocks();

run_tests();

__DATA__

=== TEST 1: replaced and deleted files' blobs are collected, live ones stay
--- gobi_config
gobi_event_retention 4s;
gobi_blob_grace 1s;
gobi_version_retention off;
gobi_trash_retention 1s;
--- setup
user alice
vault notes
--- perl
my $root = "$V->{SERVROOT}/var/vaults";
my %h = map { $_ => blake2b_hex($_) } qw(one two three keep);
my $blob = sub {
    my ($hash) = @_;
    my ($f) = grep { m{/\Q$hash\E$} } $t->files_under($root);
    return $f;
};

$c->put_ok('notes', 'a.txt', 'one');
$c->put_ok('notes', 'a.txt', 'two');          # "one" is garbage now
$c->put_ok('notes', 'b.txt', 'three');
$c->put_ok('notes', 'k.txt', 'keep');
is($c->request(DELETE => 'vaults/notes/files/b.txt')->status, 200,
   'b.txt deleted');                          # "three" is garbage now

# a temp file left by a crash
my $stale = "$root/.tmp/0000099999";
open my $fh, '>', $stale or die "$stale: $!";
print $fh 'half an upload';
close $fh;
utime time - 7200, time - 7200, $stale;

ok($blob->($h{one}) && $blob->($h{three}), 'the garbage is there at first');

ok(wait_until(sub { !$blob->($h{one}) && !$blob->($h{three}) }, 30),
   'the blobs of the old version and of the deleted file were collected');
ok($blob->($h{two}) && $blob->($h{keep}), 'live blobs stay');
ok(!-e $stale, 'the stale temp file went too');
is($c->get('notes', 'a.txt')->body, 'two', 'a.txt reads');
is($c->get('notes', 'k.txt')->body, 'keep', 'k.txt reads');

# the collected bytes come back when written again
$c->put_ok('notes', 'c.txt', 'one');
ok($blob->($h{one}), 'written again: stored anew');
is($c->get('notes', 'c.txt')->body, 'one', 'and readable');
ok(!grep({ /\.gc$/ } $t->files_under($root)), 'nothing left aside');
--- error_log
removed



=== TEST 2: the blobs of kept versions and of the trash stay
--- gobi_config
gobi_event_retention 4s;
gobi_blob_grace 1s;
gobi_version_retention keep 2;
--- setup
user alice
vault notes
--- perl
my $root = "$V->{SERVROOT}/var/vaults";
my $blob = sub {
    my ($text) = @_;
    my $hash = blake2b_hex($text);
    return grep { m{/\Q$hash\E$} } $t->files_under($root);
};

$c->put_ok('notes', 'a.txt', 'one');
$c->put_ok('notes', 'a.txt', 'two');
$c->put_ok('notes', 'a.txt', 'three');       # keep 2: "one" goes
$c->put_ok('notes', 'b.txt', 'binned');
is($c->request(DELETE => 'vaults/notes/files/b.txt')->status, 200,
   'b.txt deleted');

ok(wait_until(sub { !$blob->('one') }, 30),
   'a version past "keep 2" and its blob went');
sleep 3;                                       # more collection rounds
ok($blob->('two'), 'the kept older version\'s blob stays');
ok($blob->('binned'), 'the trashed file\'s blob stays');
is($c->request(GET => 'vaults/notes/files/a.txt?version=2')->body, 'two',
   'the kept version reads');
is($c->request(GET => 'vaults/notes/files/a.txt?version=1')->status, 404,
   'the thinned one is gone');
--- error_log
thinned
