# The blob root fills up (a small tmpfs): PUTs get 507 insufficient_storage,
# whether the size is known before the body (Content-Length) or the disk
# fills while the body arrives (chunked); nothing half-written is visible,
# no temp file is left, and the server recovers once space returns.
use strict;
use warnings;
use Test::More;
use File::Path qw(remove_tree);
use Gobi::Server;
use Gobi::Test ();

plan skip_all => 'mounting a tmpfs needs root' if $> != 0;

my $mnt = "/tmp/gobi-full-$$";
mkdir $mnt or die "mkdir $mnt: $!";
system('mount', '-t', 'tmpfs', '-o', 'size=8m,mode=0755', 'tmpfs', $mnt) == 0
    or plan skip_all => 'cannot mount a tmpfs here';

my $t = Gobi::Server->new(name => "full-$$", http_config => <<"EOT");
gobi_store sqlite:\$SERVROOT/var/gobi.db;
gobi_storage local:$mnt/vaults;
EOT
$t->start or BAIL_OUT('nginx: ' . $t->start_output . $t->error_log);

my $c = $t->client;
$c->user('alice');
$c->create_vault('notes');

my $small = 'a' x (1024 * 1024);
is($c->put('notes', 'small.bin', $small)->status, 201, 'a 1 MiB file fits');

my $big = join '', map { chr(65 + $_ % 26) x 1024 } 0 .. 10239;   # 10 MiB
my $res = $c->put('notes', 'big.bin', $big);
is($res->status, 507, 'a 10 MiB file with Content-Length: 507');
is($res->json->{error}{code}, 'insufficient_storage', 'insufficient_storage');

# chunked: the size is not known, the disk fills while the body arrives
my $tok = $c->token;
my $req = "PUT " . $c->file_uri('notes', 'chunked.bin') . " HTTP/1.1\r\n"
        . "Host: localhost\r\nAuthorization: Bearer $tok\r\n"
        . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
for my $i (0 .. 71) {      # 9 MiB in 128 KiB chunks
    my $chunk = substr($big, $i * 131072, 131072);
    $req .= sprintf("%x\r\n", length $chunk) . $chunk . "\r\n";
}
$req .= "0\r\n\r\n";
$res = $c->raw($req, method => 'PUT');
is($res->status, 507, 'a chunked body that fills the disk: 507')
    or diag $res->body;
is(eval { $res->json->{error}{code} }, 'insufficient_storage',
   'insufficient_storage') or diag $res->body;

my $list = $c->manifest('notes')->json;
is_deeply([ map { $_->{path} } @{ $list->{files} } ], ['small.bin'],
          'only the file that fitted is listed');
is($c->get('notes', 'small.bin')->body, $small, 'and reads back whole');

# each worker has a temp folder of its own there: files are what counts
my @tmp = grep { -f } glob "$mnt/vaults/.tmp/* $mnt/vaults/.tmp/*/*";
is_deeply(\@tmp, [], 'no temp file is left') or diag "@tmp";
like($t->error_log, qr/no room for 10485760 bytes under "\Q$mnt\E/,
     'the error log says why');

# space returns
system('mount', '-o', 'remount,size=32m', $mnt) == 0 or die 'remount';
$res = $c->put('notes', 'big.bin', $big);
is($res->status, 201, 'with space back the 10 MiB file is stored');
is($c->get('notes', 'big.bin')->body, $big, 'and reads back whole');

$t->stop;
for (1 .. 50) {            # the workers may still hold files open
    last if system("umount $mnt 2>/dev/null") == 0;
    select undef, undef, undef, 0.1;
}
rmdir $mnt;
done_testing();
