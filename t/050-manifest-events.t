# The manifest (prefix, include_deleted, seq) and the event log (since,
# limit, more, head_seq).
use Gobi::Test;

plan tests => repeat_each() * blocks();

our %H = map { $_ => blake2b_hex($_) } qw(A B C D E);

run_tests();

__DATA__

=== TEST 1: the manifest of an empty vault
--- setup
user alice
vault notes
--- request
GET /api/v1/vaults/notes/files
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_json
{"seq":0,"files":[]}
--- response_headers_like
Content-Type: ^application/json



=== TEST 2: the manifest lists every live file with its fields
--- setup
user alice
vault notes
put notes a.txt A
put notes b/c.txt B
put notes b/d.txt C
--- request
GET /api/v1/vaults/notes/files
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- check
my $j = $res->json;
is($j->{seq}, 3, 'seq');
my @f = sort { $a->{path} cmp $b->{path} } @{ $j->{files} };
json_subset_ok(\@f, [
    { path => 'a.txt', version => 1, hash => $main::H{A}, size => 1,
      mtime => '<integer>', deleted => JSON::PP::false },
    { path => 'b/c.txt', version => 2, hash => $main::H{B}, size => 1,
      mtime => '<integer>', deleted => JSON::PP::false },
    { path => 'b/d.txt', version => 3, hash => $main::H{C}, size => 1,
      mtime => '<integer>', deleted => JSON::PP::false } ], 'files');



=== TEST 3: ?prefix=
--- setup
user alice
vault notes
put notes a.txt A
put notes b/c.txt B
put notes b/d.txt C
put notes bb.txt D
--- request eval
[ "GET /api/v1/vaults/notes/files?prefix=b/",
  "GET /api/v1/vaults/notes/files?prefix=b%2F",
  "GET /api/v1/vaults/notes/files?prefix=zzz",
  "GET /api/v1/vaults/notes/files?prefix=" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[200, 200, 200, 200]
--- check
my @r = @{ $V->{RESPONSES} };
my $paths = sub { [ sort map { $_->{path} } @{ $_[0]->json->{files} } ] };
is_deeply($paths->($r[0]), [ 'b/c.txt', 'b/d.txt' ], 'prefix b/');
is_deeply($paths->($r[1]), [ 'b/c.txt', 'b/d.txt' ], 'prefix b%2F');
is_deeply($paths->($r[2]), [], 'no match');
is_deeply($paths->($r[3]), [ 'a.txt', 'b/c.txt', 'b/d.txt', 'bb.txt' ],
    'empty prefix: all');
is($_->json->{seq}, 4, 'seq is the head') for @r;



=== TEST 4: a prefix with non-ASCII characters and no special meaning for _ and %
--- setup
user alice
vault notes
put notes %C3%BCber/a.txt A
put notes a_b.txt B
put notes axb.txt C
put notes 50%25.txt D
put notes 500.txt E
--- request eval
[ "GET /api/v1/vaults/notes/files?prefix=%C3%BCber",
  "GET /api/v1/vaults/notes/files?prefix=a_",
  "GET /api/v1/vaults/notes/files?prefix=50%25" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[200, 200, 200]
--- check
my @r = @{ $V->{RESPONSES} };
my $paths = sub { [ sort map { $_->{path} } @{ $_[0]->json->{files} } ] };
is_deeply($paths->($r[0]), [ "\x{fc}ber/a.txt" ], 'UTF-8 prefix');
is_deeply($paths->($r[1]), [ 'a_b.txt' ], '_ is no wildcard');
is_deeply($paths->($r[2]), [ '50%.txt' ], '% is no wildcard');



=== TEST 5: deleted files: left out, or shown with include_deleted=1
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
delete notes a.txt
--- request eval
[ "GET /api/v1/vaults/notes/files",
  "GET /api/v1/vaults/notes/files?include_deleted=1",
  "GET /api/v1/vaults/notes/files?include_deleted=0" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[200, 200, 200]
--- response_json eval
[ { seq => 3, files => [ { path => 'b.txt', version => 2 } ] },
  { seq => 3 },
  { seq => 3, files => [ { path => 'b.txt' } ] } ]
--- check
my @f = sort { $a->{path} cmp $b->{path} }
    @{ $V->{RESPONSES}[1]->json->{files} };
json_subset_ok(\@f, [
    { path => 'a.txt', version => 3, deleted => JSON::PP::true },
    { path => 'b.txt', version => 2, deleted => JSON::PP::false } ],
    'the tombstone is listed');



=== TEST 6: prefix and include_deleted together
--- setup
user alice
vault notes
put notes d/a.txt A
put notes d/b.txt B
put notes e.txt C
delete notes d/a.txt
delete notes e.txt
--- request
GET /api/v1/vaults/notes/files?prefix=d/&include_deleted=1
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- check
my @f = sort { $a->{path} cmp $b->{path} } @{ $res->json->{files} };
json_subset_ok(\@f, [ { path => 'd/a.txt', deleted => JSON::PP::true },
                      { path => 'd/b.txt', deleted => JSON::PP::false } ],
    'd/ only, tombstone included');



=== TEST 7: the manifest's seq matches head_seq of the vault list and the log
--- setup
user alice
vault notes
put notes a.txt A
put notes a.txt B
put notes b.txt C
delete notes b.txt
--- request eval
[ "GET /api/v1/vaults/notes/files", "GET /api/v1/vaults",
  "GET /api/v1/vaults/notes/events?since=0" ]
--- more_headers
Authorization: Bearer $TOKEN
--- response_json eval
[ { seq => 4 }, { vaults => [ { head_seq => 4 } ] }, { head_seq => 4 } ]



=== TEST 8: the whole log with every field
--- setup
user alice
vault notes
--- perl
$c->put_ok('notes', 'a.txt', 'A', 'X-Gobi-Mtime' => 1700000000001,
    'X-Gobi-Device' => 'dev-1');
$c->put_ok('notes', 'a.txt', 'B', 'X-Gobi-Mtime' => 1700000000002,
    'X-Gobi-Device' => 'dev-2');
is($c->delete('notes', 'a.txt', 'X-Gobi-Device' => 'dev-3')->status, 200,
    'deleted');
--- request
GET /api/v1/vaults/notes/events?since=0
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_json eval
{ head_seq => 3, more => JSON::PP::false, events => [
  { seq => 1, type => 'create', path => 'a.txt', version => 1,
    hash => $main::H{A}, size => 1, mtime => 1700000000001, device => 'dev-1',
    ts => '<integer>' },
  { seq => 2, type => 'modify', path => 'a.txt', version => 2,
    hash => $main::H{B}, size => 1, mtime => 1700000000002, device => 'dev-2',
    ts => '<integer>' },
  { seq => 3, type => 'delete', path => 'a.txt', version => 3,
    ts => '<integer>' } ] }
--- check
my @ts = map { $_->{ts} } @{ $res->json->{events} };
cmp_ok(abs($ts[0] - time * 1000), '<', 3600_000, 'ts is server time in unix ms');
ok($ts[0] <= $ts[1] && $ts[1] <= $ts[2], 'ts does not go back');



=== TEST 9: since= leaves out what the client has
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
put notes c.txt C
put notes d.txt D
--- request eval
[ map { "GET /api/v1/vaults/notes/events?since=$_" } 0, 2, 3, 4 ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[ (200) x 4 ]
--- check
my @r = map { [ map { $_->{seq} } @{ $_->json->{events} } ] } @{ $V->{RESPONSES} };
is_deeply(\@r, [ [1, 2, 3, 4], [3, 4], [4], [] ], 'events after since');
is($_->json->{head_seq}, 4, 'head_seq') for @{ $V->{RESPONSES} };
ok(!$_->json->{more}, 'no more') for @{ $V->{RESPONSES} };



=== TEST 10: no since= means from the beginning
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
--- request
GET /api/v1/vaults/notes/events
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_json
{"head_seq":2,"more":false,"events":[{"seq":1},{"seq":2}]}



=== TEST 11: limit= pages through the log with more=
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
put notes c.txt C
put notes d.txt D
put notes e.txt E
--- request eval
[ "GET /api/v1/vaults/notes/events?since=0&limit=2",
  "GET /api/v1/vaults/notes/events?since=2&limit=2",
  "GET /api/v1/vaults/notes/events?since=4&limit=2",
  "GET /api/v1/vaults/notes/events?limit=5&since=0",
  "GET /api/v1/vaults/notes/events?since=0&limit=1" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[ (200) x 5 ]
--- response_json eval
[ { head_seq => 5, more => JSON::PP::true,  events => [ { seq => 1 }, { seq => 2 } ] },
  { head_seq => 5, more => JSON::PP::true,  events => [ { seq => 3 }, { seq => 4 } ] },
  { head_seq => 5, more => JSON::PP::false, events => [ { seq => 5 } ] },
  { head_seq => 5, more => JSON::PP::false, events => [ map { { seq => $_ } } 1 .. 5 ] },
  { head_seq => 5, more => JSON::PP::true,  events => [ { seq => 1 } ] } ]



=== TEST 12: a client follows more= to the end
--- setup
user alice
vault notes
--- perl
$c->put_ok('notes', "f$_.txt", "content $_") for 1 .. 23;
--- check
my ($since, @seen, $pages) = (0);
while (1) {
    my $r = $c->events('notes', since => $since, limit => 5);
    is($r->status, 200, "page from $since") or last;
    my $j = $r->json;
    push @seen, map { $_->{seq} } @{ $j->{events} };
    $since = $seen[-1] if @{ $j->{events} };
    last if ++$pages > 10 || !$j->{more};
}
is_deeply(\@seen, [ 1 .. 23 ], 'every event once, in order');
is($pages, 5, 'five pages');



=== TEST 13: no event for writes that change nothing
--- setup
user alice
vault notes
put notes a.txt A
put notes a.txt A
put notes b.txt B
--- request
GET /api/v1/vaults/notes/events?since=0
--- more_headers
Authorization: Bearer $TOKEN
--- response_json
{"head_seq":2,"events":[{"seq":1,"path":"a.txt","type":"create"},{"seq":2,"path":"b.txt","type":"create"}]}



=== TEST 14: failed writes leave no event
--- setup
user alice
vault notes
strategy notes server-wins
put notes a.txt A
--- perl
is($c->put('notes', 'a.txt', 'B', 'If-Match' => '"7"')->status, 412, 'stale');
is($c->put('notes', 'a.txt', 'B', 'If-None-Match' => '*')->status, 412, 'exists');
is($c->put('notes', 'b.txt', 'B', 'X-Gobi-Hash' => $main::H{A})->status, 400,
    'hash mismatch');
is($c->delete('notes', 'nope.txt')->status, 404, 'no such file');
--- request
GET /api/v1/vaults/notes/events?since=0
--- more_headers
Authorization: Bearer $TOKEN
--- response_json
{"head_seq":1,"more":false,"events":[{"seq":1}]}



=== TEST 15: vaults have their own seq
--- setup
user alice
vault one
vault two
put one a.txt A
put two a.txt B
put one b.txt C
--- request eval
[ "GET /api/v1/vaults/one/events?since=0", "GET /api/v1/vaults/two/events?since=0" ]
--- more_headers
Authorization: Bearer $TOKEN
--- response_json eval
[ { head_seq => 2, events => [ { seq => 1, hash => $main::H{A} },
                               { seq => 2, hash => $main::H{C} } ] },
  { head_seq => 1, events => [ { seq => 1, hash => $main::H{B} } ] } ]



=== TEST 16: since= beyond the head gives nothing
--- setup
user alice
vault notes
put notes a.txt A
--- request
GET /api/v1/vaults/notes/events?since=1
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_json
{"head_seq":1,"more":false,"events":[]}



=== TEST 17: concurrent writers get distinct, gap-free seqs
--- setup
user alice
vault notes
--- perl
my @p = map { $c->start(PUT => $c->file_uri('notes', "f$_.txt"),
                        body => "content $_") } 1 .. 20;
my @r = map { $_->wait } @p;
is(scalar(grep { $_->status == 201 } @r), 20, 'all 20 created');
my @seq = sort { $a <=> $b } map { $_->json->{seq} } @r;
is_deeply(\@seq, [ 1 .. 20 ], 'seqs 1..20, no gap, no duplicate');
--- request
GET /api/v1/vaults/notes/events?since=0
--- more_headers
Authorization: Bearer $TOKEN
--- check
is_deeply([ map { $_->{seq} } @{ $res->json->{events} } ], [ 1 .. 20 ],
    'the log agrees');
is(scalar @{ $c->manifest('notes')->json->{files} }, 20, 'twenty files');



=== TEST 18: concurrent writers of one file: one version per write, the last wins the manifest
--- setup
user alice
vault notes
--- perl
my @p = map { $c->start(PUT => $c->file_uri('notes', 'same.txt'),
                        body => "writer $_") } 1 .. 10;
my @r = map { $_->wait } @p;
is(scalar(grep { $_->status == 201 } @r), 1, 'one create');
is(scalar(grep { $_->status == 200 } @r), 9, 'nine modifies');
my ($last) = sort { $b->json->{version} <=> $a->json->{version} } @r;
$V->{LAST_HASH} = $last->json->{hash};
$V->{LAST_VERSION} = $last->json->{version};
--- request
GET /api/v1/vaults/notes/files
--- more_headers
Authorization: Bearer $TOKEN
--- response_json
{"seq":10,"files":[{"path":"same.txt","version":$LAST_VERSION,"hash":"$LAST_HASH"}]}



=== TEST 19: history older than gobi_event_retention: 410 history_expired
--- gobi_config
gobi_event_retention 1s;
--- setup
user alice
vault notes
put notes a.txt A
put notes b.txt B
put notes c.txt C
--- perl
# the server prunes now and then; wait until it has
ok(wait_until(sub { $c->events('notes', since => 0)->status == 410 }, 30),
    'the old events were pruned');
--- request eval
[ "GET /api/v1/vaults/notes/events?since=0",
  "GET /api/v1/vaults/notes/events?since=1",
  "GET /api/v1/vaults/notes/events",
  "GET /api/v1/vaults/notes/events?since=2",
  "GET /api/v1/vaults/notes/events?since=3",
  "GET /api/v1/vaults/notes/files",
  "GET /api/v1/vaults" ]
--- more_headers
Authorization: Bearer $TOKEN
--- error_code eval
[410, 410, 410, 200, 200, 200, 200]
--- json_error eval
[ ('history_expired') x 3 ]
--- response_json eval
[ undef, undef, undef,
  { head_seq => 3, more => JSON::PP::false, events => [ { seq => 3, path => 'c.txt' } ] },
  { head_seq => 3, events => [] },
  { seq => 3 },
  { vaults => [ { name => 'notes', head_seq => 3 } ] } ]
--- check
is(scalar @{ $V->{RESPONSES}[5]->json->{files} }, 3,
    'the manifest still has every file');



=== TEST 20: the manifest in pages: ?limit= and ?after=, next until null
--- setup
user alice
vault notes
--- perl
my @paths = map { sprintf("d%d/f%02d.txt", $_ % 3, $_) } 1 .. 25;
$c->put_ok('notes', $_, $_) for @paths;
my $all = $c->manifest('notes')->json;
is(scalar @{ $all->{files} }, 25, 'one page holds all 25 by default');
ok(exists $all->{next} && !defined $all->{next}, 'next is null');
my (@got, @seqs, $after, $pages);
while (1) {
    my $r = $c->manifest('notes', limit => 10,
        (defined $after ? (after => $after) : ()));
    is($r->status, 200, 'page') or last;
    my $j = $r->json;
    cmp_ok(scalar @{ $j->{files} }, '<=', 10, 'at most limit files');
    push @got, map { $_->{path} } @{ $j->{files} };
    push @seqs, $j->{seq};
    $pages++;
    last unless defined $j->{next};
    is($j->{next}, $j->{files}[-1]{path}, 'next is the last path of the page');
    $after = $j->{next};
    last if $pages > 10;
}
is($pages, 3, 'three pages');
is_deeply(\@got, [ sort @paths ], 'the pages together are the manifest, in order');
is_deeply(\@seqs, [ 25, 25, 25 ], 'each page says its seq');
my $r = $c->manifest('notes', after => 'd1/', limit => 100)->json;
is($r->{files}[0]{path}, 'd1/f01.txt', '?after= need not be a listed path');
ok(!(grep { $_->{path} lt 'd1/' } @{ $r->{files} }), 'nothing before it');



=== TEST 21: a write between pages: the later page shows it with its seq, the events fill the rest
--- setup
user alice
vault notes
--- perl
$c->put_ok('notes', "f$_.txt", $_) for 1 .. 6;
my $p1 = $c->manifest('notes', limit => 3)->json;
is($p1->{seq}, 6, 'first page at seq 6');
$c->delete('notes', 'f1.txt');
$c->put_ok('notes', 'f5.txt', 'changed');
my $p2 = $c->manifest('notes', limit => 3, after => $p1->{next})->json;
is($p2->{seq}, 8, 'the second page is at seq 8');
my ($f5) = grep { $_->{path} eq 'f5.txt' } @{ $p2->{files} };
is($f5->{version}, 8, 'and shows the change');
my $ev = $c->events('notes', since => $p1->{seq})->json;
is_deeply([ map { $_->{path} } @{ $ev->{events} } ], [ 'f1.txt', 'f5.txt' ],
    'the events after the first page\'s seq bring the rest');



=== TEST 22: ?limit= defaults to 1000
--- setup
user alice
vault notes
--- perl
$c->put_ok('notes', sprintf("f%04d", $_), 'x') for 1 .. 1001;
my $j = $c->manifest('notes')->json;
is(scalar @{ $j->{files} }, 1000, '1000 files');
is($j->{next}, 'f1000', 'next');
my $k = $c->manifest('notes', after => $j->{next})->json;
is_deeply([ map { $_->{path} } @{ $k->{files} } ], [ 'f1001' ], 'the rest');
ok(!defined $k->{next}, 'the last page');



=== TEST 23: bad paging arguments: 400
--- setup
user alice
vault notes
--- request eval
[ "GET /api/v1/vaults/notes/files?limit=0", "GET /api/v1/vaults/notes/files?limit=10001",
  "GET /api/v1/vaults/notes/files?limit=x", "GET /api/v1/vaults/notes/files?after=%zz" ]
--- more_headers eval
[ ("Authorization: Bearer \$TOKEN") x 4 ]
--- error_code eval
[ 400, 400, 400, 400 ]
--- json_error eval
[ ('bad_request') x 4 ]
