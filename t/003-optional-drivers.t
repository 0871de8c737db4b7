# A module built without its optional drivers (GOBI_WITHOUT="mongodb redis",
# as when libmongoc or hiredis are missing): SQLite and the local bus work,
# a mongodb:// store or redis:// bus is refused by `nginx -t` with a message
# that says why.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use FindBin;

my $repo = "$FindBin::Bin/..";
my $nginx = $ENV{GOBI_NGINX} || '/usr/sbin/nginx';
my $tmp = tempdir(CLEANUP => 1);
chmod 0755, $tmp;      # the workers (nobody, under root) use its folders

my $out = `cd $repo && GOBI_WITHOUT="mongodb redis" make -s module BUILD=$tmp/build 2>&1`;
is($?, 0, 'the module builds without MongoDB and Redis') or diag $out;
like(`cat $tmp/build/nginx/configure.log`, qr/the MongoDB store is left out/,
     'configure says the MongoDB store is left out');
my $so = "$tmp/build/ngx_http_gobi_module.so";
unlike(`nm -D $so`, qr/mongoc_|redisAsync/, 'no MongoDB or Redis symbols');

sub nginx_t {
    my ($http) = @_;
    mkdir "$tmp/p"; mkdir "$tmp/p/logs";
    open my $f, '>', "$tmp/p/nginx.conf" or die $!;
    print $f <<"CONF";
load_module $so;
error_log $tmp/p/logs/error.log;
pid $tmp/p/nginx.pid;
events {}
thread_pool gobi threads=2;
http {
    $http
    server { listen 127.0.0.1:1; location /api/v1/ { gobi_api; } }
}
CONF
    close $f;
    my $o = `$nginx -t -p $tmp/p -c $tmp/p/nginx.conf 2>&1`;
    return ($? == 0, $o);
}

my ($ok, $o) = nginx_t("gobi_store sqlite:$tmp/p/gobi.db; gobi_bus local;");
ok($ok, 'SQLite and the local bus pass nginx -t') or diag $o;

($ok, $o) = nginx_t("gobi_store mongodb://127.0.0.1:1/gobi;");
ok(!$ok, 'a MongoDB store fails nginx -t');
like($o, qr/"gobi_store": the MongoDB store is not built into this module/,
     'saying the MongoDB store is not built in');

($ok, $o) = nginx_t("gobi_store sqlite:$tmp/p/gobi.db; "
                    . "gobi_bus redis://127.0.0.1:1/0;");
ok(!$ok, 'a Redis bus fails nginx -t');
like($o, qr/"gobi_bus": the Redis bus is not built into this module/,
     'saying the Redis bus is not built in');

done_testing();
