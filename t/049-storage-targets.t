# Several gobi_storage targets: every blob goes to each; a write is
# acknowledged once gobi_storage_quorum of them have it; reads fall back
# to the next target; a target that was down (mid-upload too) is repaired
# by the scrub (gobi_storage_scrub); with S3 (scripts/with-s3) a local and
# an S3 target together.  Bad combinations stop "nginx -t".
use strict;
use warnings;
use Test::More;
use Gobi::Server;
use Gobi::Test ();

*blake2b_hex = \&Gobi::Test::blake2b_hex;
*wait_until = \&Gobi::Test::wait_until;

sub blob_in {
    my ($t, $root, $text) = @_;
    my $hash = blake2b_hex($text);
    my ($f) = grep { m{/\Q$hash\E$} } $t->files_under($root);
    return $f ? "$root/$f" : undef;
}

sub server {
    my ($name, $conf) = @_;
    my $t = Gobi::Server->new(name => "$name-$$", http_config => $conf);
    $t->start or die 'nginx: ' . $t->start_output . $t->error_log;
    return $t;
}

# ---- two local targets, quorum 1, a quick scrub
my $t = server('two', <<'EOT');
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/a;
gobi_storage local:$SERVROOT/var/b;
gobi_storage_quorum 1;
gobi_storage_scrub 1s;
EOT
my ($a, $b) = map { $t->servroot . "/var/$_" } qw(a b);
my $c = $t->client;
$c->user('alice');
$c->create_vault('notes');

$c->put_ok('notes', 'one.txt', 'one');
ok(blob_in($t, $a, 'one') && blob_in($t, $b, 'one'), 'a blob goes to both');

# the first target loses it: reads come from the second
unlink blob_in($t, $a, 'one') or die;
is($c->get('notes', 'one.txt')->body, 'one', 'read from the second target');

# the second target breaks; writes go on with quorum 1
rename $b, "$b.away" or die;
open my $fh, '>', $b or die;
close $fh;
is($c->put('notes', 'two.txt', 'two')->status, 201, 'quorum 1: stored');
ok(blob_in($t, $a, 'two'), 'on the healthy target');

# mid-upload: the target fails while a large body is on its way
unlink $b or die;
rename "$b.away", $b or die;
my $big = 'x' x (3 * 1024 * 1024);
my $tok = $c->token;
my $head = "PUT " . $c->file_uri('notes', 'big.bin') . " HTTP/1.1\r\n"
         . "Host: localhost\r\nAuthorization: Bearer $tok\r\n"
         . "Content-Length: " . length($big) . "\r\nConnection: close\r\n\r\n";
my $p = $c->start_raw($head . substr($big, 0, 1024 * 1024), method => 'PUT');
sleep 1;
rename $b, "$b.away" or die;
open $fh, '>', $b or die;
close $fh;
syswrite($p->{sock}, substr($big, 1024 * 1024)) or die;
is($p->wait->status, 201, 'a target failed mid-upload: 201 (quorum 1)');
ok(!blob_in($t, "$b.away", $big), 'the failed target missed it');

# back: the scrub repairs it
unlink $b or die;
rename "$b.away", $b or die;

ok(wait_until(sub { blob_in($t, $b, 'two') && blob_in($t, $a, 'one') }, 30),
   'the scrub copied what each target missed');
ok(wait_until(sub { blob_in($t, $b, $big) }, 30), 'the big one too');
is($c->get('notes', 'big.bin')->body, $big, 'the big file reads back');
like($t->error_log, qr/blobs copied/, 'the scrub says what it copied');
$t->stop;

# ---- quorum of all: a write that a target cannot take is refused
$t = server('all', <<'EOT');
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/a;
gobi_storage local:$SERVROOT/var/b;
EOT
($a, $b) = map { $t->servroot . "/var/$_" } qw(a b);
$c = $t->client;
$c->user('alice');
$c->create_vault('notes');
rename $b, "$b.away" or die;
open $fh, '>', $b or die;
close $fh;
my $res = $c->put('notes', 'x.txt', 'x');
is($res->status, 503, 'quorum all, one target down: 503');
is(eval { $res->json->{error}{code} }, 'storage_unavailable',
   'storage_unavailable');
is($c->get('notes', 'x.txt')->status, 404, 'and no file appeared');
$t->stop;

# ---- bad combinations
for my $bad (
    [ "gobi_storage local:\$SERVROOT/var/a;\ngobi_storage_quorum 2;\n",
      qr/gobi_storage_quorum/ ],
    [ "gobi_storage local:\$SERVROOT/var/a;\ngobi_storage local:\$SERVROOT/var/a;\n",
      qr/duplicate/ ],
    [ "gobi_storage s3://bucket/p?endpoint=http://127.0.0.1:1;\n",
      qr/gobi_storage_credentials/ ],
    [ "gobi_storage local:\$SERVROOT/var/a;\ngobi_storage_scrub never;\n",
      qr/gobi_storage_scrub/ ],
) {
    my $s = Gobi::Server->new(name => "bad-$$",
        http_config => "gobi_store sqlite:\$SERVROOT/var/gobi.db;\n$bad->[0]");
    ok(!$s->test_config, "refused: $bad->[0]");
    like($s->test_output, $bad->[1], 'and says why');
}

# ---- local + S3 (scripts/with-s3)
SKIP: {
    skip 'no S3 server (scripts/with-s3)', 5 unless $ENV{GOBI_TEST_S3};
    (my $uri = $ENV{GOBI_TEST_S3}) =~ s{^(s3://[^/?]+)(?:/[^?]*)?}{$1/t049-$$};
    $t = server('s3', <<"EOT");
gobi_store sqlite:\$SERVROOT/var/gobi.db;
gobi_storage local:\$SERVROOT/var/a;
gobi_storage $uri;
gobi_storage_credentials $ENV{GOBI_TEST_S3_CREDENTIALS};
gobi_storage_scrub 1s;
EOT
    $a = $t->servroot . '/var/a';
    $c = $t->client;
    $c->user('alice');
    $c->create_vault('notes');
    my $blob = 'y' x (9 * 1024 * 1024 + 5);       # multipart on S3
    $c->put_ok('notes', 'b.bin', $blob);
    $c->put_ok('notes', 's.txt', 'small');
    unlink blob_in($t, $a, $blob) or die;
    is($c->get('notes', 'b.bin')->body, $blob, 'read back from S3');
    my $r = $c->get('notes', 'b.bin', Range => 'bytes=9437180-9437188');
    is($r->body, 'y' x 9, 'a range from S3');
    ok(wait_until(sub { blob_in($t, $a, $blob) }, 30),
       'the scrub copied it back from S3');
    is($c->get('notes', 's.txt')->body, 'small', 'the small one');
    unlike($t->error_log, qr/aws_secret|\[alert\]/, 'no secret, no alert');
    $t->stop;
}

done_testing();
