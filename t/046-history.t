# History: a file's versions (newest first, paged), the bytes of an old
# version (?version=N), restoring one (an ordinary new version, also of a
# deleted file), the trash, and a point-in-time restore of the whole vault
# (as new events).  Bad input: a clear error, nothing changed.
use Gobi::Test;

plan tests => repeat_each() * blocks();

sub main::body_of {
    my ($c, $path, $q) = @_;
    my $r = $c->request(GET => 'vaults/notes/files/'
        . Gobi::Client::escape_path($path) . ($q // ''));
    return $r->status == 200 ? $r->body : undef;
}

sub main::restore {
    my ($c, $what) = @_;
    return $c->request(POST => 'vaults/notes/restore', json => $what,
        headers => [ [ 'X-Gobi-Device', 'desk' ] ]);
}

run_tests();

__DATA__

=== TEST 1: versions: newest first, with their metadata, in pages; an old version's bytes
--- setup
user alice
vault notes
--- perl
for my $i (1 .. 5) {
    $c->put_ok('notes', 'dir/a b.txt', "v$i", 'X-Gobi-Device' => "d$i",
        'X-Gobi-Mtime' => 1000 * $i);
}
my $r = $c->request(GET => 'vaults/notes/versions/dir/a%20b.txt');
is($r->status, 200, 'status 200') or diag $r->body;
my $j = $r->json;
is($j->{path}, 'dir/a b.txt', 'path');
is_deeply([ map { $_->{version} } @{ $j->{versions} } ], [ 5, 4, 3, 2, 1 ],
    'newest first');
json_subset_ok($j->{versions}[1], { version => 4, hash => blake2b_hex('v4'),
    size => 2, mtime => 4000, device => 'd4', ts => '<integer>',
    deleted => JSON::PP::false }, 'each with its metadata');
is($j->{next}, undef, 'one page');
$r = $c->request(GET => 'vaults/notes/versions/dir/a%20b.txt?limit=2');
is_deeply([ map { $_->{version} } @{ $r->json->{versions} } ], [ 5, 4 ],
    'a page of 2');
is($r->json->{next}, 4, 'next: before 4');
$r = $c->request(GET => 'vaults/notes/versions/dir/a%20b.txt?limit=2'
    . '&before=4');
is_deeply([ map { $_->{version} } @{ $r->json->{versions} } ], [ 3, 2 ],
    'the next page');

$r = $c->request(GET => 'vaults/notes/files/dir/a%20b.txt?version=2');
is($r->status, 200, '?version=2');
is($r->body, 'v2', 'its bytes');
is($r->header('ETag'), '"2"', 'its ETag');
$r = $c->request(GET => 'vaults/notes/files/dir/a%20b.txt?version=2',
    headers => [ [ Range => 'bytes=1-' ] ]);
is($r->status, 206, 'ranges work on old versions');
is($r->body, '2', 'the range');
$r = $c->request(GET => 'vaults/notes/files/dir/a%20b.txt?version=99');
is($r->status, 404, 'no such version: 404');
is($r->json->{error}{code}, 'version_not_found', 'version_not_found');
for my $bad ('0', 'abc', '-1', '') {
    $r = $c->request(GET => "vaults/notes/files/dir/a%20b.txt?version=$bad");
    is($r->status, 400, "?version=$bad: 400");
}
$r = $c->request(GET => 'vaults/notes/versions/nothing.txt');
is($r->status, 404, 'no history: 404');
is($r->json->{error}{code}, 'file_not_found', 'file_not_found');
$r = $c->request(GET => 'vaults/notes/versions/a.txt?limit=0');
is($r->status, 400, 'limit 0: 400');
$r = $c->request(GET => 'vaults/notes/versions/../x');
ok($r->status == 400 || $r->status == 404, 'a bad path: refused');



=== TEST 2: restore a version: it becomes the next version, an ordinary event
--- setup
user alice
vault notes
put notes a.txt first
put notes a.txt second
--- perl
my $r = main::restore($c, { path => 'a.txt', version => 1 });
is($r->status, 200, 'restored') or diag $r->body;
json_subset_ok($r->json, { path => 'a.txt', version => 3,
    hash => blake2b_hex('first'), seq => 3, restored_from => 1,
    unchanged => JSON::PP::false }, 'the answer');
is(main::body_of($c, 'a.txt'), 'first', 'the old content is back');
my $ev = $c->events('notes', since => 2)->json->{events};
json_subset_ok($ev->[0], { type => 'modify', path => 'a.txt', seq => 3,
    device => 'desk' }, 'a modify event, by the restoring device');
$r = main::restore($c, { path => 'a.txt', version => 3 });
is($r->status, 200, 'restoring the current version: 200');
is($r->json->{version}, 3, 'nothing new');
is($r->json->{unchanged}, JSON::PP::true, 'unchanged: true');
is($c->events('notes', since => 0)->json->{head_seq}, 3, 'no event');



=== TEST 3: the trash: deleted files with their last version; restored through /restore
--- setup
user alice
vault notes
put notes a.txt keep
put notes old.txt one
put notes old.txt two
delete notes old.txt
put notes b.txt moved
--- perl
my $ws_rename = $c->request(GET => 'vaults/notes/trash');
is($ws_rename->status, 200, 'trash');
my $j = $ws_rename->json;
is(scalar @{ $j->{trash} }, 1, 'one deleted file');
json_subset_ok($j->{trash}[0], { path => 'old.txt', version => 3,
    hash => blake2b_hex('two'), size => 3, deleted_version => 4,
    deleted_at => '<integer>' }, 'with its last content');
is($j->{retention}, 30 * 86400, 'the trash keeps 30 days');
is($j->{next}, undef, 'one page');
my $r = main::restore($c, { path => 'old.txt', version => 3 });
is($r->status, 200, 'restore from the trash') or diag $r->body;
is(main::body_of($c, 'old.txt'), 'two', 'it is back');
is(scalar @{ $c->request(GET => 'vaults/notes/trash')->json->{trash} }, 0,
   'and out of the trash');
$r = main::restore($c, { path => 'old.txt', version => 4 });
is($r->status, 404, 'the delete itself is no content to restore');
is($r->json->{error}{code}, 'version_not_found', 'version_not_found');



=== TEST 4: point in time: the vault as it was at seq N, as new events
--- setup
user alice
vault notes
put notes a.txt a1
put notes b.txt b1
put notes gone.txt g1
--- perl
my $at = 3;
$c->put_ok('notes', 'a.txt', 'a2');                      # 4: changed
$c->request(DELETE => 'vaults/notes/files/gone.txt');    # 5: deleted
$c->put_ok('notes', 'new.txt', 'n1');                    # 6: created
my $r = main::restore($c, { seq => $at });
is($r->status, 200, 'restored') or diag $r->body;
json_subset_ok($r->json, { restored_to => 3, restored => 2, deleted => 1,
    seq => 9 }, 'two restored, one deleted');
is(main::body_of($c, 'a.txt'), 'a1', 'a.txt as it was');
is(main::body_of($c, 'b.txt'), 'b1', 'b.txt untouched');
is(main::body_of($c, 'gone.txt'), 'g1', 'gone.txt back');
is(main::body_of($c, 'new.txt'), undef, 'new.txt deleted');
my $trash = $c->request(GET => 'vaults/notes/trash')->json->{trash};
is_deeply([ map { $_->{path} } @$trash ], [ 'new.txt' ],
    'into the trash: undoable');
my $ev = $c->events('notes', since => 6)->json->{events};
is(scalar @$ev, 3, 'three new events');

# back to where we were before the restore
$r = main::restore($c, { seq => 6 });
is($r->status, 200, 'and undone by another restore');
is(main::body_of($c, 'a.txt'), 'a2', 'a.txt again');
is(main::body_of($c, 'new.txt'), 'n1', 'new.txt again');
is(main::body_of($c, 'gone.txt'), undef, 'gone.txt gone again');



=== TEST 5: bad restores: a clear error, nothing changes
--- setup
user alice
vault notes
put notes a.txt one
--- perl
for my $case (
    [ { path => 'a.txt' }, 400, 'no version' ],
    [ { path => 'a.txt', version => 0 }, 400, 'version 0' ],
    [ { path => 'a.txt', version => '1' }, 400, 'a string version' ],
    [ { version => 1 }, 400, 'no path' ],
    [ { path => '../a.txt', version => 1 }, 400, 'a bad path' ],
    [ { path => 'b.txt', version => 1 }, 404, 'a path without it' ],
    [ { seq => 5 }, 400, 'seq beyond the head' ],
    [ { seq => -1 }, 400, 'a negative seq' ],
    [ { seq => 1, path => 'a.txt' }, 400, 'seq and path' ],
    [ {}, 400, 'nothing' ],
) {
    my $r = main::restore($c, $case->[0]);
    is($r->status, $case->[1], "$case->[2]: $case->[1]");
    ok($r->json && $r->json->{error}{code}, "$case->[2]: a JSON error");
}
is($c->events('notes', since => 0)->json->{head_seq}, 1, 'no event');
my $r = $c->request(POST => 'vaults/notes/restore', body => 'nope',
    headers => [ [ 'Content-Type', 'application/json' ] ]);
is($r->status, 400, 'not JSON: 400');



=== TEST 6: retention thins history: keep N
--- gobi_config
gobi_event_retention 4s;
gobi_version_retention keep 2;
--- setup
user alice
vault notes
--- perl
$c->put_ok('notes', 'a.txt', "v$_") for 1 .. 4;
ok(wait_until(sub {
    my $v = $c->request(GET => 'vaults/notes/versions/a.txt')->json;
    return $v && @{ $v->{versions} } == 2;
}, 30), 'thinned to the newest two');
is($c->request(GET => 'vaults/notes/files/a.txt?version=1')->status, 404,
   'a thinned version: 404');
is(main::body_of($c, 'a.txt', '?version=3'), 'v3', 'a kept one reads');
--- error_log
thinned
