# gobi_bus redis://...: the URI forms that load, bad ones failing `nginx -t`
# with a message naming the directive (and never the password), and a
# Redis that is not there: nginx starts, writes succeed, the log says why.
# Port 1 on the loopback is where no Redis listens.
use Gobi::Test;

plan tests => repeat_each() * blocks();

run_tests();

__DATA__

=== TEST 1: host, port and database
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis://127.0.0.1:1/0;
--- config_ok



=== TEST 2: a password, user and password with escapes, IPv6, no port, no db
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis://:secret@127.0.0.1:1/3;
--- init
for my $uri ('redis://gobi:p%40ss%2Fword@127.0.0.1:1/15',
             'redis://:pw@[::1]:1/0', 'redis://127.0.0.1',
             'redis://127.0.0.1/2')
{
    (my $conf = $t->config_text) =~ s{gobi_bus [^;]+;}{gobi_bus $uri;};
    open my $fh, '>', $t->conf_file or die $!;
    print $fh $conf;
    close $fh;
    my ($rc, $out) = $t->test_config;
    is($rc, 0, "nginx -t passes with $uri") or diag $out;
}
$t->write_conf;
--- config_ok



=== TEST 3: the database must be a number
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis://:s3cr3t-pw@127.0.0.1:6379/x;
--- must_die
--- error_log
"gobi_bus": the database in the Redis URI must be a number
--- no_error_log
s3cr3t-pw



=== TEST 4: nothing may follow the database
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis://127.0.0.1:6379/0/1;
--- must_die
--- error_log
"gobi_bus": the database in the Redis URI must be a number



=== TEST 5: a port out of range
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis://127.0.0.1:99999/0;
--- must_die
--- error_log
"gobi_bus": invalid port



=== TEST 6: an empty password
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis://:@127.0.0.1:6379/0;
--- must_die
--- error_log
"gobi_bus": empty password



=== TEST 7: a user without a password
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis://gobi@127.0.0.1:6379/0;
--- must_die
--- error_log
"gobi_bus": expected "[user]:password@"



=== TEST 8: a bad escape in the password, which is not shown
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis://:hidden%zz@127.0.0.1:6379/0;
--- must_die
--- error_log
"gobi_bus": bad %XX escape
--- no_error_log
hidden



=== TEST 9: no host
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis:///0;
--- must_die
--- error_log
"gobi_bus": no host



=== TEST 10: a host that does not resolve
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis://no-such-host.invalid:6379/0;
--- must_die
--- error_log
"gobi_bus": host not found



=== TEST 11: a unix socket is not a Redis URI here
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis://unix:/run/redis.sock;
--- must_die
--- error_log
"gobi_bus": the Redis bus connects over TCP only



=== TEST 12: rediss:// (TLS) is refused
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus rediss://127.0.0.1:6379/0;
--- must_die
--- error_log
gobi_bus



=== TEST 13: redis:// and nothing else
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis://;
--- must_die
--- error_log
gobi_bus



=== TEST 14: Redis is not there: nginx starts, writes succeed, the log says so
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis://127.0.0.1:1/0;
--- setup
user alice
vault notes
put notes a.txt hello
--- request
PUT /api/v1/vaults/notes/files/b.txt
world
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 201
--- response_json
{"path":"b.txt","seq":2}
--- check
my $log = $t->error_log;
my @failed = $log =~ m{(command connection to redis://\S+ failed)}g;
my @kept = $log =~ /(notices wait for it)/g;
# two workers; the writes may land on either
cmp_ok(scalar @kept, '<=', 2, 'the "Redis is away" line is rate-limited');
cmp_ok(scalar @failed, '<=', 2 * 2,
    'failed connects are logged at most once per 10 s (per worker)');
--- error_log
gobi: redis bus: command connection to redis://127.0.0.1:1/0 failed: Connection refused
gobi: redis bus: subscriber connection to redis://127.0.0.1:1/0 failed: Connection refused
notices wait for it
