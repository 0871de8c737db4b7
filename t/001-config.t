# Directives: defaults, explicit values, bad values failing `nginx -t` with
# a message naming the directive, folders created for the worker user.
use Gobi::Test;

plan tests => repeat_each() * blocks();

run_tests();

__DATA__

=== TEST 1: the default config starts, serves the API and creates its folders
--- config_ok
--- request
GET /api/v1/vaults
--- error_code: 401
--- json_error: unauthorized
--- check
ok(-d "$V->{SERVROOT}/var", 'the SQLite file\'s folder exists');
ok(-f "$V->{SERVROOT}/var/gobi.db", 'the SQLite file exists')
    unless ($ENV{GOBI_TEST_STORE} || '') =~ /^mongodb:/;
ok(-d "$V->{SERVROOT}/var/vaults", 'the storage root exists');
--- no_error_log
[error]



=== TEST 2: every directive with the values of the issue
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus local;
gobi_thread_pool gobi;
gobi_registration on;
gobi_max_file_size 1g;
gobi_event_retention 365d;
--- config
location /api/v1/ { gobi_api; }
--- config_ok
--- request
POST /api/v1/users
{"username":"alice","password":"correct horse"}
--- error_code: 201
--- response_json
{"username":"alice","id":"<integer>"}
--- no_error_log
[error]



=== TEST 3: only gobi_store and gobi_storage: the rest take their defaults
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
--- setup
user alice
vault notes
--- request
PUT /api/v1/vaults/notes/files/a.txt
hello
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 201
--- response_json
{"path":"a.txt","size":5}



=== TEST 4: folders are created, nested, owned by the worker user
--- http_config
gobi_store sqlite:$SERVROOT/deep/er/db/gobi.db;
gobi_storage local:$SERVROOT/blobs/live/here;
--- setup
user alice
vault notes
put notes a.txt hello
--- check
my $r = $V->{SERVROOT};
ok(-f "$r/deep/er/db/gobi.db", 'SQLite file in a created folder');
ok(-d "$r/blobs/live/here", 'storage root created');
my $want = $> == 0 ? scalar getpwnam('nobody') : $>;
is((stat "$r/deep/er/db")[4], $want, 'db folder owned by the worker user');
is((stat "$r/blobs/live/here")[4], $want, 'storage root owned by the worker user');
ok((grep { !m{^\.} } $t->files_under("$r/blobs/live/here")) >= 1,
    'the blob landed under the storage root');



=== TEST 5: the `user` directive decides the owner of the folders
--- main_config eval
$> == 0 ? "user daemon;" : ""
--- setup
user alice
--- check
my $want = $> == 0 ? scalar getpwnam('daemon') : $>;
is((stat "$V->{SERVROOT}/var/vaults")[4], $want, 'storage root owner');
is((stat "$V->{SERVROOT}/var")[4], $want, 'db folder owner');



=== TEST 6: existing folders are used as they are
--- init
mkdir "$V->{SERVROOT}/var";
mkdir "$V->{SERVROOT}/var/vaults";
chmod 0777, "$V->{SERVROOT}/var", "$V->{SERVROOT}/var/vaults";
--- setup
user alice
vault notes
put notes a.txt hello
--- request
GET /api/v1/vaults/notes/files/a.txt
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 200
--- response_body chomp
hello



=== TEST 7: gobi_store with an unknown scheme
--- http_config
gobi_store nosuchdb:/tmp/x;
gobi_storage local:$SERVROOT/var/vaults;
--- must_die
--- error_log
gobi_store



=== TEST 8: gobi_store with no path
--- http_config
gobi_store sqlite:;
gobi_storage local:$SERVROOT/var/vaults;
--- must_die
--- error_log
gobi_store



=== TEST 9: gobi_storage with an unknown scheme
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage s4:/bucket;
--- must_die
--- error_log
gobi_storage



=== TEST 10: gobi_bus with an unknown value
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
gobi_bus carrier-pigeon;
--- must_die
--- error_log
gobi_bus



=== TEST 11: gobi_registration takes on or off
--- gobi_config
gobi_registration maybe;
--- must_die
--- error_log
gobi_registration



=== TEST 12: gobi_max_file_size must be a size
--- gobi_config
gobi_max_file_size lots;
--- must_die
--- error_log
gobi_max_file_size



=== TEST 13: gobi_event_retention must be a time
--- gobi_config
gobi_event_retention forever;
--- must_die
--- error_log
gobi_event_retention



=== TEST 14: gobi_thread_pool naming a pool nobody declared
--- gobi_config
gobi_thread_pool nosuchpool;
--- must_die
--- error_log
nosuchpool



=== TEST 15: gobi_api takes no arguments
--- config
location /api/v1/ { gobi_api on; }
--- must_die
--- error_log
gobi_api



=== TEST 16: gobi_api belongs in a location
--- gobi_config
gobi_api;
--- must_die
--- error_log
gobi_api



=== TEST 17: a directive given twice
--- gobi_config
gobi_registration on;
gobi_registration off;
--- must_die
--- error_log
gobi_registration



=== TEST 18: a store folder that cannot be created stops start-up, naming the path
--- init
open my $fh, '>', "$V->{SERVROOT}/blocker" or die $!; close $fh;
--- http_config
gobi_store sqlite:$SERVROOT/blocker/db/gobi.db;
gobi_storage local:$SERVROOT/var/vaults;
--- must_die
--- error_log
$SERVROOT/blocker



=== TEST 19: a storage root that cannot be created stops start-up, naming the path
--- init
open my $fh, '>', "$V->{SERVROOT}/blocker" or die $!; close $fh;
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/blocker/vaults;
--- must_die
--- error_log
$SERVROOT/blocker



=== TEST 20: a storage root that is a file stops start-up, naming the path
--- init
open my $fh, '>', "$V->{SERVROOT}/afile" or die $!; close $fh;
--- http_config
gobi_store sqlite:$SERVROOT/var/gobi.db;
gobi_storage local:$SERVROOT/afile;
--- must_die
--- error_log
$SERVROOT/afile



=== TEST 21: sizes and times take nginx's units
--- gobi_config
gobi_max_file_size 512k;
gobi_event_retention 12h;
--- config_ok
--- setup
user alice
vault notes
--- request eval
"PUT /api/v1/vaults/notes/files/big.bin\n" . ("x" x (512 * 1024 + 1))
--- more_headers
Authorization: Bearer $TOKEN
--- error_code: 413
--- json_error: payload_too_large



=== TEST 22: the module loaded but unused changes nothing
--- http_config
--- config
location = /ping { return 200 "pong\n"; }
--- request
GET /ping
--- response_body
pong
--- check
ok(!-e "$V->{SERVROOT}/var", 'no gobi folders');



=== TEST 23: the gobi locations next to ordinary ones
--- config
location /api/v1/ { gobi_api; }
location = /ping { return 200 "pong\n"; }
--- request eval
["GET /ping", "GET /api/v1/vaults"]
--- error_code eval
[200, 401]
