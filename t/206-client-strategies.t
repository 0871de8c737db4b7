# The client under each conflict strategy: two folders edit the same file
# offline and sync one after the other.  The server decides, the client
# follows: keep-both (the server's conflict copy, no second one made
# here), last-writer-wins both ways (the older edit goes to history, an
# older replayed event never overwrites the newer local file), merge (both
# edits in the file), server-wins (the client's own conflict copy).
use strict;
use warnings;

use Test::More;
use lib 't/lib';
use Gobi::CliTest;

my $t = Gobi::CliTest->new(name => 'client-strategies');
my $api = $t->server->client;
$api->login('alice', $Gobi::CliTest::PASSWORD);

sub setup {
    my ($name, $strategy, $content) = @_;
    $t->vault($name);
    my $r = $api->request(PATCH => "vaults/$name",
        json => { conflict_strategy => $strategy });
    die "PATCH: " . $r->body unless $r->status == 200;
    my $a = $t->clone($name, "$name-a");
    my $b = $t->clone($name, "$name-b");
    $t->put("$a/doc.txt", $content);
    $t->gobi('sync', $a);
    $t->gobi('sync', $b);
    die "b has no doc.txt" unless ($t->tree($b)->{'doc.txt'} // '') eq $content;
    return ($a, $b);
}

# writes and dates a file (mtime in seconds)
sub edit {
    my ($path, $content, $mtime) = @_;
    $t->put($path, $content);
    utime $mtime, $mtime, $path if $mtime;
}

subtest 'keep-both: the server keeps both; the client takes its copy' => sub {
    my ($a, $b) = setup('kb', 'keep-both', "base\n");
    edit("$a/doc.txt", "from a\n");
    edit("$b/doc.txt", "from b\n");
    my ($rc) = $t->gobi('sync', $b);
    is($rc, 0, 'b syncs first');
    my ($rc2, $out, $err) = $t->gobi('sync', $a);
    is($rc2, 6, 'a: exit 6 (a conflict)');
    like($err, qr/conflict/, 'a says so');
    my $ta = $t->tree($a);
    is($ta->{'doc.txt'}, "from b\n", 'a: the server\'s version in place');
    my @copies = grep { /^doc \(conflict kb-a .*\)\.txt$/ } keys %$ta;
    is(scalar @copies, 1, 'one copy, the server\'s name') or diag explain $ta;
    is($ta->{ $copies[0] // '' }, "from a\n", 'holding a\'s edit');
    is(scalar(keys %$ta), 2, 'no second copy');
    $t->gobi('sync', $b);
    ok($t->converge(1, $a, $b), 'b has both too');
    my $m = $api->manifest('kb')->json->{files};
    is(scalar @$m, 2, 'two files on the server');
};

subtest 'last-writer-wins: the later edit wins on every device' => sub {
    my ($a, $b) = setup('lww', 'last-writer-wins', "base\n");
    my $now = time;
    edit("$a/doc.txt", "a, later\n", $now + 60);
    edit("$b/doc.txt", "b, earlier\n", $now - 60);
    my ($rc) = $t->gobi('sync', $b);
    is($rc, 0, 'b syncs first');
    ($rc) = $t->gobi('sync', $a);
    is($rc, 0, 'a: no conflict');
    is($t->tree($a)->{'doc.txt'}, "a, later\n",
       'a keeps its later edit (the older event of b is not applied)');
    $t->gobi('sync', $b);
    is($t->tree($b)->{'doc.txt'}, "a, later\n", 'b gets it');
    is(scalar(keys %{ $t->tree($b) }), 1, 'no copies');

    # and the other way round: the later edit arrives first
    edit("$b/doc.txt", "b, latest\n", $now + 600);
    edit("$a/doc.txt", "a, older\n", $now + 300);
    $t->gobi('sync', $b);
    ($rc) = $t->gobi('sync', $a);
    is($rc, 0, 'a loses without a conflict');
    is($t->tree($a)->{'doc.txt'}, "b, latest\n", 'a gets the later one');
    is(scalar(keys %{ $t->tree($a) }), 1, 'no copies');
    my $v = $api->request(GET => 'vaults/lww/versions/doc.txt')->json;
    my $r = $api->request(GET => 'vaults/lww/files/doc.txt?version='
        . (grep { $_->{size} == length("a, older\n") } @{ $v->{versions} })[0]
            ->{version});
    is($r->body, "a, older\n", 'the lost edit is in history');
};

subtest 'merge: edits of different lines both land' => sub {
    my $base = join '', map { "line $_\n" } 1 .. 8;
    my ($a, $b) = setup('mg', 'merge', $base);
    (my $ea = $base) =~ s/line 1\n/line 1 by a\n/;
    (my $eb = $base) =~ s/line 8\n/line 8 by b\n/;
    edit("$a/doc.txt", $ea);
    edit("$b/doc.txt", $eb);
    $t->gobi('sync', $b);
    my ($rc) = $t->gobi('sync', $a);
    is($rc, 0, 'a: merged, no conflict');
    (my $both = $ea) =~ s/line 8\n/line 8 by b\n/;
    is($t->tree($a)->{'doc.txt'}, $both, 'a has both edits');
    $t->gobi('sync', $b);
    is($t->tree($b)->{'doc.txt'}, $both, 'b too');
    is(scalar(keys %{ $t->tree($a) }), 1, 'no copies');
};

subtest 'server-wins: the client keeps its edit as a conflict copy' => sub {
    my ($a, $b) = setup('sw', 'server-wins', "base\n");
    edit("$a/doc.txt", "from a\n");
    edit("$b/doc.txt", "from b\n");
    $t->gobi('sync', $b);
    my ($rc) = $t->gobi('sync', $a);
    is($rc, 6, 'a: exit 6');
    my $ta = $t->tree($a);
    is($ta->{'doc.txt'}, "from b\n", 'the server\'s version in place');
    my @copies = grep { /^doc \(conflict sw-a .*\)\.txt$/ } keys %$ta;
    is(scalar @copies, 1, 'a local conflict copy');
    is($ta->{ $copies[0] // '' }, "from a\n", 'holding a\'s edit');
    my ($rc2, $out) = $t->gobi('--json', 'conflicts', $a);
    like($out, qr/doc\.txt/, 'gobi conflicts lists it');
};

done_testing;
