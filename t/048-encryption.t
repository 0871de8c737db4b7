# Encryption at rest (gobi_encryption_key): no plaintext of a file's
# content reaches the disk (blobs, temp files, nginx's body files);
# downloads, ranges and history read back exactly; a tampered, truncated,
# swapped or cut blob answers 500 blob_corrupt (logged), never wrong
# bytes; the master key rotates with gobi_encryption_key_old while the
# server serves; bad key files stop "nginx -t".
use Gobi::Test;

plan tests => repeat_each() * blocks();

our $KEYGEN = "$Gobi::Server::REPO/scripts/gobi-keygen";

sub keygen {
    my ($file) = @_;
    my $out = `$KEYGEN $file 2>&1`;
    die "gobi-keygen $file: $out" if $?;
}

# every regular file under the folder whose bytes hold the marker
sub files_with {
    my ($t, $dir, $marker) = @_;
    my @hits;
    for my $f ($t->files_under($dir)) {
        my $p = "$dir/$f";
        next unless -f $p;
        open my $fh, '<:raw', $p or next;
        local $/;
        my $bytes = <$fh>;
        push @hits, $f if defined $bytes && index($bytes, $marker) >= 0;
    }
    return @hits;
}

# the blob file of some content
sub blob_of {
    my ($t, $text) = @_;
    my $hash = blake2b_hex($text);
    my ($f) = grep { m{/\Q$hash\E$} } $t->files_under($t->vaults_dir);
    return $f ? $t->vaults_dir . "/$f" : undef;
}

run_tests();

__DATA__

=== TEST 1: no plaintext anywhere on disk; every size reads back, ranges too
--- init
main::keygen("$V->{SERVROOT}/conf/gobi.key");
--- gobi_config
gobi_encryption_key $SERVROOT/conf/gobi.key;
--- setup
user alice
vault notes
--- perl
my $marker = 'PLAINTEXT-MARKER-' . join '', map { chr(65 + rand 26) } 1 .. 16;
my %files;
for my $size (0, 1, 100, 65535, 65536, 65537, 300_000, 3 * 1024 * 1024 + 7) {
    my $body = substr($marker x (1 + int($size / length $marker)), 0, $size);
    $body = $marker if $size == 100;
    $files{"f$size.txt"} = $body;
}
my %version;
for my $name (sort keys %files) {
    $version{$name} = $c->put_ok('notes', $name, $files{$name})->{version};
}
# one sent chunked (no Content-Length): the body path streams it too
my $chunk = $marker x 1000;
my $raw = "PUT " . $c->api . "/vaults/notes/files/chunked.txt HTTP/1.1\r\n"
    . "Host: 127.0.0.1\r\nAuthorization: Bearer $V->{TOKEN}\r\n"
    . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    . join('', map { sprintf("%x\r\n%s\r\n", length $chunk, $chunk) } 1 .. 40)
    . "0\r\n\r\n";
is($c->raw($raw)->status, 201, 'a chunked upload');
$files{'chunked.txt'} = $chunk x 40;
for my $name (sort keys %files) {
    my $r = $c->get('notes', $name);
    is($r->status, 200, "$name: 200");
    ok($r->body eq $files{$name}, "$name: the bytes back")
        or diag length($r->body) . ' bytes, not ' . length $files{$name};
}
# ranges across chunk boundaries
my $big = $files{'f300000.txt'};
for my $rg ([65530, 65545], [0, 0], [131071, 131072], [299_990, 299_999]) {
    my $r = $c->get('notes', 'f300000.txt', Range => "bytes=$rg->[0]-$rg->[1]");
    is($r->status, 206, "bytes=$rg->[0]-$rg->[1]: 206");
    is($r->body, substr($big, $rg->[0], $rg->[1] - $rg->[0] + 1),
       "bytes=$rg->[0]-$rg->[1]: the bytes");
    is($r->header('Content-Range'), "bytes $rg->[0]-$rg->[1]/300000",
       'Content-Range');
}
my $r = $c->get('notes', 'f300000.txt', Range => 'bytes=-10');
is($r->body, substr($big, -10), 'a suffix range');
$r = $c->get('notes', 'f300000.txt', Range => 'bytes=299990-');
is($r->body, substr($big, 299_990), 'an open range');
$r = $c->get('notes', 'f300000.txt', Range => 'bytes=300000-');
is($r->status, 416, 'a range past the end: 416');
is($r->header('Content-Range'), 'bytes */300000', 'with the size');
$r = $c->get('notes', 'f300000.txt', Range => 'bytes=1-2,5-6');
is($r->status, 200, 'several ranges: the whole file');
is(length $r->body, 300_000, 'all of it');
$r = $c->head('notes', 'f65537.txt');
is($r->header('Content-Length'), 65537, 'HEAD: the plaintext size');
# an older version, from history
$c->put_ok('notes', 'f100.txt', 'second');
is($c->get('notes', 'f100.txt')->body, 'second', 'the new version');
my $old = $c->request(GET => "vaults/notes/files/f100.txt?version=$version{'f100.txt'}");
is($old->body, $marker, '?version=N: the first one, from history');
my @hits;
for my $dir ($t->servroot) {
    push @hits, main::files_with($t, $dir, $marker);
}
is_deeply(\@hits, [], 'the marker is in no file under the server root')
    or diag "@hits";
--- no_error_log
[error]



=== TEST 2: tampered, truncated, swapped and cut blobs answer blob_corrupt
--- init
main::keygen("$V->{SERVROOT}/conf/gobi.key");
--- gobi_config
gobi_encryption_key $SERVROOT/conf/gobi.key;
--- setup
user alice
vault notes
--- perl
my %text = (flip => 'a' x 200_000, cut => 'b' x 200_000,
            swap => 'c' x 1000, other => 'd' x 1000, tail => 'e' x 1_500_000);
$c->put_ok('notes', "$_.txt", $text{$_}) for sort keys %text;
my $blob = sub { main::blob_of($t, $text{$_[0]}) };

# a bit flipped in the first chunk
my $f = $blob->('flip');
open my $fh, '+<:raw', $f or die $!;
seek $fh, 100, 0; read $fh, my $byte, 1;
seek $fh, 100, 0; print $fh chr(ord($byte) ^ 1);
close $fh;
my $r = $c->get('notes', 'flip.txt');
is($r->status, 500, 'a flipped bit: 500');
error_code_is($r, 'blob_corrupt');

# cut at a chunk boundary: the last chunk is missing
$f = $blob->('cut');
truncate $f, 64 + 2 * (65536 + 16) or die $!;
$r = $c->get('notes', 'cut.txt');
is($r->status, 500, 'cut at a chunk boundary: 500');
error_code_is($r, 'blob_corrupt');

# another blob's bytes under this one's name
system('cp', $blob->('other'), $blob->('swap')) == 0 or die;
$r = $c->get('notes', 'swap.txt');
is($r->status, 500, 'another blob under its name: 500');
error_code_is($r, 'blob_corrupt');
is($c->get('notes', 'other.txt')->body, $text{other}, 'the other reads');

# damaged after the first window: the answer stops short, never wrong
$f = $blob->('tail');
open $fh, '+<:raw', $f or die $!;
seek $fh, -20, 2; print $fh 'x' x 4;
close $fh;
$r = $c->get('notes', 'tail.txt');
ok(length($r->body) < 1_500_000, 'a later chunk damaged: cut short')
    or diag $r->status;
ok(index($text{tail}, $r->body) == 0, 'and what came is right');
--- error_log
does not open
cut short



=== TEST 3: the master key rotates while the server runs
--- init
main::keygen("$V->{SERVROOT}/conf/a.key");
main::keygen("$V->{SERVROOT}/conf/b.key");
--- gobi_config
gobi_encryption_key $SERVROOT/conf/a.key;
--- setup
user alice
vault notes
vault docs
--- perl
$c->put_ok('notes', 'n.txt', 'under a');
$c->put_ok('docs', 'd.txt', 'also under a');

# the new key, the old one beside it
$t->stop;
$t->{gobi_config} = "gobi_encryption_key $V->{SERVROOT}/conf/b.key;\n"
    . "gobi_encryption_key_old $V->{SERVROOT}/conf/a.key;\n";
$t->write_conf;
$t->start;
is($c->get('notes', 'n.txt')->body, 'under a', 'reads during the change');
$c->put_ok('notes', 'n2.txt', 'under b');
ok(wait_until(sub { $t->error_log =~ /data keys wrapped anew/ }, 20),
   'the upkeep wrapped the keys anew');

# the old key gone: everything still reads
$t->stop;
$t->{gobi_config} = "gobi_encryption_key $V->{SERVROOT}/conf/b.key;\n";
$t->write_conf;
$t->start;
is($c->get('notes', 'n.txt')->body, 'under a', 'n.txt under b alone');
is($c->get('docs', 'd.txt')->body, 'also under a', 'd.txt too');
is($c->get('notes', 'n2.txt')->body, 'under b', 'n2.txt too');

# a wrong key: refused with a clear error, nothing wrong served
$t->stop;
$t->{gobi_config} = "gobi_encryption_key $V->{SERVROOT}/conf/a.key;\n";
$t->write_conf;
$t->start;
my $r = $c->get('notes', 'n.txt');
is($r->status, 500, 'another master key: 500');
error_code_is($r, 'internal_error');
--- error_log
opens with neither



=== TEST 4: a key file others may read is refused
--- init
open my $fh, '>:raw', "$V->{SERVROOT}/conf/open.key" or die;
print $fh 'k' x 32;
close $fh;
chmod 0644, "$V->{SERVROOT}/conf/open.key";
--- gobi_config
gobi_encryption_key $SERVROOT/conf/open.key;
--- must_die
--- error_log
gobi_encryption_key



=== TEST 5: a key file of the wrong size is refused
--- init
open my $fh, '>:raw', "$V->{SERVROOT}/conf/short.key" or die;
print $fh 'k' x 31;
close $fh;
chmod 0600, "$V->{SERVROOT}/conf/short.key";
--- gobi_config
gobi_encryption_key $SERVROOT/conf/short.key;
--- must_die
--- error_log
gobi_encryption_key



=== TEST 6: a missing key file is refused
--- gobi_config
gobi_encryption_key $SERVROOT/conf/none.key;
--- must_die
--- error_log
gobi_encryption_key



=== TEST 7: the old key alone is refused
--- init
main::keygen("$V->{SERVROOT}/conf/a.key");
--- gobi_config
gobi_encryption_key_old $SERVROOT/conf/a.key;
--- must_die
--- error_log
needs "gobi_encryption_key"



=== TEST 8: a download held back by limit_rate goes on after each pause (the streamed path)
--- init
main::keygen("$V->{SERVROOT}/conf/gobi.key");
--- gobi_config
gobi_encryption_key $SERVROOT/conf/gobi.key;
limit_rate 1m;
send_timeout 5s;
--- setup
user alice
vault notes
--- perl
my $body = join '', map { chr(32 + ($_ * 7) % 90) } 1 .. 2_500_000;
$c->put_ok('notes', 'big.bin', $body);
my $r = $c->get('notes', 'big.bin');
is($r->status, 200, '200');
ok($r->body eq $body, 'every byte, after limit_rate\'s pauses')
    or diag length($r->body) . ' bytes of ' . length $body;
$r = $c->get('notes', 'big.bin', Range => 'bytes=1000000-');
is($r->status, 206, 'a range: 206');
ok($r->body eq substr($body, 1_000_000), 'the range\'s bytes');
