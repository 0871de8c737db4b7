# Store and bus URIs are never logged with their password: it reads "***"
# (mongodb://user:***@host, redis://:***@host, redis://user:***@host) in
# the messages of `nginx -t` and start-up (stderr and the error log) and
# in those of the workers.  Nothing listens on port 1: the store and the
# bus fail to connect, which is what makes the workers name them.
use Gobi::Test;

plan tests => repeat_each() * blocks();

run_tests();

__DATA__

=== TEST 1: a mistyped MongoDB URI, refused by nginx -t
--- http_config
gobi_store mongodb:/gobi:Pw-store-1@127.0.0.1:1/gobi;
gobi_storage local:$SERVROOT/var/vaults;
--- must_die
--- error_log
invalid "gobi_store" value "mongodb:***@127.0.0.1:1/gobi"
--- no_error_log
Pw-store-1



=== TEST 2: a mistyped Redis URI, refused by nginx -t
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis:/:Pw-bus-2@127.0.0.1:1/0;
--- must_die
--- error_log
invalid "gobi_bus" value "redis:***@127.0.0.1:1/0"
--- no_error_log
Pw-bus-2



=== TEST 3: MongoDB and Redis that do not answer: the workers' messages
--- http_config
gobi_store mongodb://gobi:Pw-store-4@127.0.0.1:1/gobi?serverSelectionTimeoutMS=300;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis://gobi:Pw-bus-4@127.0.0.1:1/0;
--- perl
ok($t->wait_for_log(error => qr/connection to \S+ failed/, 10),
   'the bus says it cannot connect');
ok($t->wait_for_log(error => qr/gobi: store "/, 10),
   'the store says it cannot connect');
--- request
POST /api/v1/users
{"username":"alice","password":"correct horse battery staple"}
--- error_code: 503
--- error_log
gobi: store "mongodb://gobi:***@127.0.0.1:1/gobi?serverSelectionTimeoutMS=300"
connection to redis://gobi:***@127.0.0.1:1/0 failed
--- no_error_log
Pw-store-4
Pw-bus-4
--- check
unlike($t->start_output, qr/Pw-/, 'nor on stderr at start');



=== TEST 4: redis://:password@ (no user), an '@' in the password
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus redis://:Pw-bus@5@127.0.0.1:1/0;
--- perl
ok($t->wait_for_log(error => qr/connection to \S+ failed/, 10),
   'the bus says it cannot connect');
--- error_log
connection to redis://:***@127.0.0.1:1/0 failed
--- no_error_log
Pw-bus
