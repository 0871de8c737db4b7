# A data folder the worker user cannot reach (a parent closed to it, as a
# checkout in root's 0700 home is to "nobody") fails `nginx -t` and the
# start, in the master, with one line naming the folder, the user and the
# fix; nginx never stays up without workers because of it.
use strict;
use warnings;
use Test::More;
use File::Path qw(make_path remove_tree);
use Gobi::Server;

plan skip_all => 'the workers change user only when nginx starts as root'
    if $> != 0;

my $closed = "$Gobi::Server::TDIR/servroot/closed-$$";
remove_tree($closed);
make_path($closed);
chmod 0700, $closed;

my $t = Gobi::Server->new(name => "access-$$", http_config => <<"EOT");
gobi_store sqlite:$closed/db/gobi.db;
gobi_storage local:\$SERVROOT/var/vaults;
EOT

my ($rc, $out) = $t->test_config;
isnt($rc, 0, 'nginx -t fails');
like($out, qr/gobi: the worker user "nobody" cannot use "\Q$closed\E\/db": "\Q$closed\E" \(mode 0700, owner root\) is closed to it; run the workers as a user that can \(the "user" directive\)/,
     'naming the folder, the user, what blocks it and the fix');

ok(!$t->start, 'nginx does not start');
ok(!$t->running, 'no master left without workers');

# the same folder once the workers may search it
chmod 0711, $closed;
$t->{prepared} = 0;
($rc, $out) = $t->test_config;
is($rc, 0, 'nginx -t passes once the folder is searchable') or diag $out;

my $u = Gobi::Server->new(name => "access-user-$$", main_config => 'user root;',
                          http_config => <<"EOT");
gobi_store sqlite:$closed/db/gobi.db;
gobi_storage local:$closed/vaults;
EOT
chmod 0700, $closed;
($rc, $out) = $u->test_config;
is($rc, 0, 'workers that run as the owner may use it') or diag $out;

remove_tree($closed);
done_testing();
