# Conflict strategies, per vault: what the server does with a stale write
# (a PUT whose If-Match is old, a delete or rename whose base version is
# old).  keep-both (the default) keeps the file and stores the upload as a
# conflict copy beside it; last-writer-wins goes by X-Gobi-Mtime, the
# loser stays in history; server-wins refuses (412, before the body);
# merge merges text three-way and keeps both when it cannot.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

# PUT with If-Match, a device and an mtime
sub main::stale_put {
    my ($c, $path, $body, $base, %h) = @_;
    return $c->put('notes', $path, $body, 'If-Match' => qq{"$base"},
        'X-Gobi-Device' => $h{device} // 'laptop',
        ($h{mtime} ? ('X-Gobi-Mtime' => $h{mtime}) : ()));
}

sub main::body_of {
    my ($c, $path, %q) = @_;
    my $r = $c->request(GET => 'vaults/notes/files/'
        . Gobi::Client::escape_path($path)
        . ($q{version} ? "?version=$q{version}" : ''));
    return $r->status == 200 ? $r->body : undef;
}

sub main::paths {
    my ($c) = @_;
    return [ map { $_->{path} } @{ $c->manifest('notes')->json->{files} } ];
}

run_tests();

__DATA__

=== TEST 1: keep-both (the default): the file stays, the upload becomes a conflict copy beside it
--- setup
user alice
vault notes
put notes docs/a.txt theirs-base
put notes docs/a.txt theirs
--- perl
my $r = main::stale_put($c, 'docs/a.txt', 'mine', 1);
is($r->status, 409, 'status 409') or diag $r->body;
my $j = $r->json;
is($j->{error}{code}, 'conflict_copied', 'conflict_copied');
my $copy = $j->{error}{copy};
like($copy->{path},
    qr{^docs/a \(conflict laptop \d{4}-\d\d-\d\d \d{6}\)\.txt$},
    'the copy is named beside the file, with the device and the time');
is($copy->{version}, 3, 'the copy is the next version');
json_subset_ok($j->{error}{current}, { path => 'docs/a.txt', version => 2,
    hash => blake2b_hex('theirs') }, 'current: what the server kept');
is_deeply($j->{copy}, $copy, 'the copy at the top level too');
is(main::body_of($c, 'docs/a.txt'), 'theirs', 'the file is unchanged');
is(main::body_of($c, $copy->{path}), 'mine', 'the copy holds the upload');
my $ev = $c->events('notes', since => 2)->json->{events};
is(scalar @$ev, 1, 'one event');
json_subset_ok($ev->[0], { type => 'create', path => $copy->{path},
    device => 'laptop' }, 'the copy reaches every device as a create');
# the same upload again (a retry): the same copy, no new one
$r = main::stale_put($c, 'docs/a.txt', 'mine', 1);
is($r->status, 409, 'a retry: 409 again');
is($r->json->{error}{copy}{path}, $copy->{path}, 'the same copy');
is_deeply(main::paths($c), [ $copy->{path}, 'docs/a.txt' ],
    'no second copy');
# a retry seconds later (the copy's name has the time): still that copy
select(undef, undef, undef, 2.1);
$r = main::stale_put($c, 'docs/a.txt', 'mine', 1);
is($r->json->{error}{copy}{path}, $copy->{path}, 'a later retry: that copy');
is_deeply(main::paths($c), [ $copy->{path}, 'docs/a.txt' ],
    'still no second copy');



=== TEST 2: keep-both: a stale edit of a file deleted meanwhile brings it back; a create on a live file is copied
--- setup
user alice
vault notes
put notes a.txt one
delete notes a.txt
put notes b.txt live
--- perl
my $r = main::stale_put($c, 'a.txt', 'edited offline', 1);
is($r->status, 201, 'the edit wins over the delete: created again')
    or diag $r->body;
is($r->json->{resolved}, 'applied', 'resolved: applied');
is(main::body_of($c, 'a.txt'), 'edited offline', 'a.txt is back');
$r = $c->put('notes', 'b.txt', 'mine', 'If-None-Match' => '*',
    'X-Gobi-Device' => 'phone');
is($r->status, 409, 'If-None-Match on a live file: a copy');
like($r->json->{error}{copy}{path}, qr/^b \(conflict phone .*\)\.txt$/,
    'b (conflict phone ...).txt');
is(main::body_of($c, 'b.txt'), 'live', 'b.txt unchanged');



=== TEST 3: server-wins: 412 with the current file, refused before the body is stored
--- setup
user alice
vault notes
strategy notes server-wins
put notes a.txt one
put notes a.txt two
--- perl
my $r = main::stale_put($c, 'a.txt', 'mine', 1);
is($r->status, 412, 'status 412');
json_subset_ok($r->json, { error => { code => 'version_conflict',
    current => { version => 2, hash => blake2b_hex('two') } } }, 'current');
is(main::body_of($c, 'a.txt'), 'two', 'unchanged');
is_deeply(main::paths($c), [ 'a.txt' ], 'no copy');
my $h = blake2b_hex('mine');
ok(!grep({ m{/\Q$h\E$} } $t->files_under("$V->{SERVROOT}/var/vaults")),
   'the body was never stored');
is($c->events('notes', since => 0)->json->{head_seq}, 2, 'no event');



=== TEST 4: last-writer-wins: a later mtime wins (200 resolved lww), an older one loses (412) and stays in history
--- setup
user alice
vault notes
strategy notes last-writer-wins
--- perl
$c->put_ok('notes', 'a.txt', 'base', 'X-Gobi-Mtime' => 1000000);
$c->put_ok('notes', 'a.txt', 'theirs', 'X-Gobi-Mtime' => 2000000);
my $r = main::stale_put($c, 'a.txt', 'mine later', 1, mtime => 3000000);
is($r->status, 200, 'the later write wins') or diag $r->body;
is($r->json->{resolved}, 'lww', 'resolved: lww');
is(main::body_of($c, 'a.txt'), 'mine later', 'its content is current');
is(main::body_of($c, 'a.txt', version => 2), 'theirs',
   'the loser is readable in history');

$r = main::stale_put($c, 'a.txt', 'mine older', 1, mtime => 1500000);
is($r->status, 412, 'the older write loses');
is($r->json->{error}{code}, 'version_conflict', 'version_conflict');
is($r->json->{error}{resolved}, 'lww', 'says it lost by lww');
is($r->json->{error}{current}{hash}, blake2b_hex('mine later'),
   'current: the winner');
is(main::body_of($c, 'a.txt'), 'mine later', 'the winner stays current');
my $v = $c->request(GET => 'vaults/notes/versions/a.txt')->json->{versions};
ok((grep { $_->{hash} eq blake2b_hex('mine older') } @$v),
   'the loser is in history') or diag explain $v;
my ($lost) = grep { $_->{hash} eq blake2b_hex('mine older') } @$v;
is(main::body_of($c, 'a.txt', version => $lost->{version}), 'mine older',
   'and reads');



=== TEST 5: merge: two edits of different lines of a text merge into the next version
--- setup
user alice
vault notes
strategy notes merge
--- perl
my $base = join '', map { "line $_\n" } 1 .. 9;
(my $theirs = $base) =~ s/line 1\n/line 1, edited there\n/;
(my $mine = $base) =~ s/line 9\n/line 9, edited here\n/;
$c->put_ok('notes', 'a.md', $base);
$c->put_ok('notes', 'a.md', $theirs);
my $r = main::stale_put($c, 'a.md', $mine, 1);
is($r->status, 200, 'merged') or diag $r->body;
is($r->json->{merged}, JSON::PP::true, 'merged: true');
(my $both = $theirs) =~ s/line 9\n/line 9, edited here\n/;
is(main::body_of($c, 'a.md'), $both, 'both edits are in the file');
is($r->json->{hash}, blake2b_hex($both), 'the answer describes the merge');
is($r->json->{version}, 3, 'the next version');
is_deeply(main::paths($c), [ 'a.md' ], 'no copy');



=== TEST 6: merge: overlapping edits and binary files fall back to keep-both
--- setup
user alice
vault notes
strategy notes merge
put notes a.txt one\ntwo\nthree\n
put notes a.txt one\nTWO there\nthree\n
--- perl
my $r = main::stale_put($c, 'a.txt', "one\nTWO here\nthree\n", 1);
is($r->status, 409, 'overlap: a conflict copy');
is($r->json->{error}{code}, 'conflict_copied', 'conflict_copied');
is(main::body_of($c, 'a.txt'), "one\nTWO there\nthree\n", 'file kept');

$c->put_ok('notes', 'b.bin', "\0\1\2base");
$c->put_ok('notes', 'b.bin', "\0\1\2theirs");
$r = main::stale_put($c, 'b.bin', "\0\1\2mine", 4);
is($r->status, 409, 'binary: a conflict copy') or diag $r->body;
is(main::body_of($c, $r->json->{error}{copy}{path}), "\0\1\2mine",
   'the copy holds the binary upload');



=== TEST 7: PATCH the strategy: shown by GET /vaults, bad names refused, other users' vaults do not exist
--- setup
user alice
vault notes
user bob
vault bobs
as alice
--- perl
my $v = $c->vaults->json;
my ($n) = grep { $_->{name} eq 'notes' } @{ $v->{vaults} // $v };
is($n->{conflict_strategy}, 'keep-both', 'the default: keep-both');
my $r = $c->request(PATCH => 'vaults/notes',
    json => { conflict_strategy => 'merge' });
is($r->status, 200, 'PATCH');
is($r->json->{conflict_strategy}, 'merge', 'answers the vault');
$v = $c->vaults->json;
($n) = grep { $_->{name} eq 'notes' } @{ $v->{vaults} // $v };
is($n->{conflict_strategy}, 'merge', 'GET /vaults shows it');
for my $bad ('Merge', 'theirs', '', 3) {
    $r = $c->request(PATCH => 'vaults/notes',
        json => { conflict_strategy => $bad });
    is($r->status, 400, "\"$bad\": 400");
}
$r = $c->request(PATCH => 'vaults/notes', json => { name => 'x' });
is($r->status, 400, 'no conflict_strategy: 400');
$r = $c->request(PATCH => 'vaults/bobs',
    json => { conflict_strategy => 'merge' });
is($r->status, 404, "bob's vault: 404");
is($r->json->{error}{code}, 'vault_not_found', 'vault_not_found');



=== TEST 8: stale deletes and renames: keep-both keeps the change, last-writer-wins deletes, server-wins rejects
--- websocket
--- setup
user alice
vault notes
put notes a.txt one
put notes a.txt two
put notes b.txt one
put notes b.txt two
--- perl
my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
$ws->subscribe('notes', since => 0);
my $ask = sub {
    $ws->send_json($_[0]);
    my ($m) = $ws->recv_until(sub { $_->{type} =~ /^(ack|reject)$/ }, 10);
    return $m;
};
# keep-both: the changed file is not deleted; a rename moves it anyway
my $m = $ask->({ type => 'delete', id => 1, path => 'a.txt',
    base_version => 1 });
is($m->{type}, 'reject', 'keep-both: a stale delete is rejected');
is(main::body_of($c, 'a.txt'), 'two', 'the change stays');
$m = $ask->({ type => 'rename', id => 2, from => 'b.txt', to => 'c.txt',
    base_version => 3 });
is($m->{type}, 'ack', 'keep-both: a stale rename moves the changed file');
is(main::body_of($c, 'c.txt'), 'two', 'with its change');
# REST delete: the same rule
is($c->delete('notes', 'a.txt', 'If-Match' => '"1"')->status, 412,
   'keep-both: REST stale delete 412');
# last-writer-wins: the delete is the latest
$c->request(PATCH => 'vaults/notes',
    json => { conflict_strategy => 'last-writer-wins' });
$m = $ask->({ type => 'delete', id => 3, path => 'a.txt',
    base_version => 1 });
is($m->{type}, 'ack', 'lww: the later delete wins');
is(main::body_of($c, 'a.txt'), undef, 'a.txt is gone');
$c->put_ok('notes', 'd.txt', 'one');
$c->put_ok('notes', 'd.txt', 'two');
my $r = $c->delete('notes', 'd.txt', 'If-Match' => '"' . ($m->{seq} + 1)
    . '"');
is($r->status, 200, 'lww: a REST stale delete too') or diag $r->body;
# server-wins
$c->request(PATCH => 'vaults/notes',
    json => { conflict_strategy => 'server-wins' });
$m = $ask->({ type => 'rename', id => 4, from => 'c.txt', to => 'e.txt',
    base_version => 1 });
is($m->{type}, 'reject', 'server-wins: a stale rename is rejected');
is($m->{code}, 'version_conflict', 'version_conflict');
