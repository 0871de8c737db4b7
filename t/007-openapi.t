# docs/openapi.yaml against the live server: every route of the REST
# route table is an operation of the spec (and back), and a broad set of
# requests (every route, successes and errors, the WebSocket handshake)
# is recorded (GOBI_RECORD, t/lib/Gobi/Client.pm) and checked by
# scripts/check-openapi: each answer's status must be listed for its
# operation, its declared headers present and well-formed, its body of a
# declared type and valid against the response's JSON schema.
use strict;
use warnings;
use Gobi::Test;
use Gobi::WS;
use File::Temp qw(tempdir);
use FindBin;

my $repo = "$FindBin::Bin/..";
my $checker = "$repo/scripts/check-openapi";
my $spec = $ENV{GOBI_OPENAPI_SPEC} || "$repo/docs/openapi.yaml";

plan skip_all => 'python3-yaml and python3-jsonschema are needed '
    . '(scripts/deps)'
    unless system('/usr/bin/python3 -c "import yaml, jsonschema" 2>/dev/null')
           == 0;

my $tmp = tempdir(CLEANUP => 1);
# GOBI_OPENAPI_RECORD=<file> keeps the record there
my $record = $ENV{GOBI_OPENAPI_RECORD} || "$tmp/record.jsonl";
unlink $record;
my @check = ($checker, '--spec', $spec);

# ---- the route table against the spec ----------------------------------

{
    my $out = `@check --routes $repo/ngx_gobi_module/ngx_http_gobi_api.c --not-a-route "GET /api/v1/ws" -v 2>&1`;
    is($?, 0, 'every route of the route table is in the spec, and back')
        or diag $out;
    like($out, qr/routes: (\d+) method/, 'the route table was read');
    my ($n) = $out =~ /routes: (\d+) method/;
    cmp_ok($n // 0, '>=', 20, 'it has the routes');
}

# ---- a server, and a broad set of requests ---------------------------------

my $s = gobi_server(
    label => 'main',
    websocket => 1,
    gobi_config => join("\n",
        'gobi_max_file_size 1m;',
        'gobi_mass_delete_limit 3;',
        'gobi_ws_allowed_origins https://app.example;'),
    extra_config => 'location = /metrics { gobi_metrics; }',
);
ok($s->start, 'the server starts') or BAIL_OUT($s->start_output);

my $c = $s->client;
my $fails = 0;

# every answer from here on goes to the record
$ENV{GOBI_RECORD} = $record;

sub want {
    my ($res, $status, $name, $code) = @_;
    my $ok = $res->status == $status
        && (!defined $code || ($res->error_code // '') eq $code);
    ok($ok, "$name: $status" . (defined $code ? " $code" : ''))
        or diag $res->describe;
    return $res;
}

my $V = 'vaults/notes';
my $F = "/api/v1/vaults/notes/files";
my $pw = $Gobi::Client::DEFAULT_PASSWORD;

# accounts
want($c->register('alice'), 201, 'sign up');
want($c->register('alice'), 409, 'the same name', 'user_exists');
want($c->register('Alice'), 409, 'the same name, another case', 'user_exists');
want($c->register('bad name'), 400, 'a bad username', 'invalid_username');
want($c->register('bob', 'short'), 400, 'a short password', 'invalid_password');
want($c->request(POST => 'users', no_auth => 1, body => '{"username":'),
     400, 'broken JSON', 'bad_request');
want($c->request(POST => 'users', no_auth => 1, body => '[1,2]'),
     400, 'JSON that is no object', 'bad_request');
want($c->request(POST => 'users', no_auth => 1,
                 body => '{"username":"' . ('x' x 70000) . '"}'),
     413, 'a JSON body over 64k', 'payload_too_large');
want($c->request(GET => 'users'), 405, 'GET users', 'method_not_allowed');

want($c->login_res('alice'), 201, 'log in (Basic)');
want($c->request(POST => 'sessions', no_auth => 1,
                 json => { username => 'alice', password => $pw }),
     201, 'log in (JSON)');
want($c->login_res('alice', 'wrong password'), 401, 'a wrong password',
     'unauthorized');
my $none = want($c->request(POST => 'sessions', no_auth => 1), 401,
                'neither Basic nor a body', 'unauthorized');
like($none->header('www-authenticate') // '', qr/\bBasic realm=/,
     'with a Basic challenge');
want($c->request(POST => 'sessions', no_auth => 1,
                 json => { username => 'alice' }),
     400, 'no password in the body', 'bad_request');
$c->login('alice');
my $alice = $c->token;

want($c->request(GET => 'vaults', no_auth => 1), 401, 'no token',
     'unauthorized');
want($c->request(GET => 'vaults', basic => [ 'alice', $pw ]), 401,
     'Basic elsewhere', 'unauthorized');
want($c->request(GET => 'vaults', token => 'not-a-token'), 401,
     'a wrong token', 'unauthorized');

# another session, revoked; then all but this one by a password change
my $other = $c->login('alice');
want($c->request(DELETE => 'sessions/current', token => $other), 200,
     'log out');
want($c->request(DELETE => 'sessions/current', token => $other), 401,
     'the revoked token', 'unauthorized');
want($c->request(PUT => 'sessions/current'), 405, 'PUT sessions/current',
     'method_not_allowed');
$c->token($alice);
want($c->request(PUT => 'users/me/password',
                 json => { password => $pw, new_password => 'another one!' }),
     200, 'a new password');
want($c->request(PUT => 'users/me/password',
                 json => { password => 'not the one', new_password => $pw }),
     401, 'a wrong old password', 'unauthorized');
want($c->request(PUT => 'users/me/password',
                 json => { password => 'another one!', new_password => 'x' }),
     400, 'a short new password', 'invalid_password');
want($c->request(PUT => 'users/me/password', json => { password => 1 }),
     400, 'a number for a password', 'bad_request');
want($c->request(PUT => 'users/me/password',
                 json => { password => 'another one!', new_password => $pw }),
     200, 'the old password again');

# a user who goes, with a vault
$c->user('carol');
$c->create_vault('doomed');
want($c->request(DELETE => 'users/me', json => { password => 'short' }),
     400, 'delete the account: a short password', 'invalid_password');
want($c->request(DELETE => 'users/me', json => { password => $pw }),
     200, 'delete the account');
$c->user('dave');
my $dave = $c->token;
want($c->request(DELETE => 'sessions'), 200, 'log out everywhere');
want($c->request(DELETE => 'sessions'), 401, 'then the token is gone',
     'unauthorized');
$c->token($alice);

# vaults
want($c->create_vault_res('notes'), 201, 'a vault');
want($c->create_vault_res('notes'), 409, 'the same vault', 'vault_exists');
want($c->create_vault_res('a/b'), 400, 'a name with /', 'invalid_vault_name');
want($c->create_vault_res(''), 400, 'an empty name', 'invalid_vault_name');
want($c->request(POST => 'vaults', json => { name => 7 }), 400,
     'a number for a name', 'bad_request');
want($c->create_vault_res('gone'), 201, 'another vault');
want($c->request(GET => 'vaults'), 200, 'the vaults');
want($c->request(HEAD => 'vaults'), 200, 'HEAD the vaults');
want($c->request(DELETE => 'vaults'), 405, 'DELETE vaults',
     'method_not_allowed');
want($c->request(PATCH => $V, json => { conflict_strategy => 'merge' }),
     200, 'a strategy');
want($c->request(PATCH => $V, json => { conflict_strategy => 'magic' }),
     400, 'an unknown strategy', 'invalid_strategy');
want($c->request(PATCH => $V, json => {}), 400, 'no strategy',
     'bad_request');
want($c->request(PATCH => 'vaults/nope', json => { conflict_strategy => 'merge' }),
     404, 'PATCH another vault', 'vault_not_found');
want($c->request(PATCH => $V, json => { conflict_strategy => 'keep-both' }),
     200, 'back to keep-both');
want($c->request(DELETE => 'vaults/gone'), 200, 'delete a vault');
want($c->request(DELETE => 'vaults/gone'), 404, 'delete it again',
     'vault_not_found');
want($c->request(GET => 'vaults/gone/files'), 404, 'its manifest',
     'vault_not_found');
want($c->request(POST => $V), 405, 'POST a vault', 'method_not_allowed');

# file bytes
my %dev = ('X-Gobi-Device' => 'laptop');
want($c->put('notes', 'a.txt', "hello\n", %dev, 'X-Gobi-Mtime' => 1700000000000),
     201, 'a new file');
want($c->put('notes', 'a.txt', "hello\n"), 200, 'the same bytes');
want($c->put('notes', 'a.txt', "hello again\n", 'If-Match' => '"1"'), 200,
     'a new version');
want($c->put('notes', 'a.txt', "stale\n", %dev, 'If-Match' => '"1"'), 409,
     'a stale upload under keep-both', 'conflict_copied');
want($c->put('notes', 'a.txt', "x", 'If-Match' => 'one'), 400,
     'a bad If-Match', 'bad_request');
want($c->put('notes', 'a.txt', "x", 'X-Gobi-Mtime' => 'noon'), 400,
     'a bad X-Gobi-Mtime', 'bad_request');
want($c->put('notes', 'a.txt', "x", 'X-Gobi-Hash' => '0' x 64), 400,
     'a wrong X-Gobi-Hash', 'hash_mismatch');
want($c->put('notes', 'a.txt', "x", 'X-Gobi-Device' => "a\tb"), 400,
     'a bad X-Gobi-Device', 'bad_request');
want($c->request(PUT => "$F/", body => 'x'), 400, 'an empty path',
     'invalid_path');
want($c->request(PUT => "$F/a//b", body => 'x'), 400, 'an empty component',
     'invalid_path');
want($c->put('nope', 'a.txt', 'x'), 404, 'a vault that is not there',
     'vault_not_found');
want($c->request(PUT => "$F/big.bin", no_auth => 0,
                 headers => { 'Content-Length' => 2 * 1024 * 1024 }),
     413, 'over gobi_max_file_size', 'payload_too_large');
want($c->request(POST => "$F/a.txt"), 405, 'POST a file',
     'method_not_allowed');
want($c->put('notes', 'dir/b.bin', join('', map { chr } 0 .. 255)), 201,
     'a binary file in a folder');

my $got = want($c->get('notes', 'a.txt'), 200, 'a file');
is($got->body, "hello again\n", 'its bytes');
want($c->head('notes', 'a.txt'), 200, 'HEAD a file');
want($c->head('notes', 'zz.txt'), 404, 'HEAD a file that is not there');
want($c->get('notes', 'a.txt', Range => 'bytes=1-3'), 206, 'a range');
want($c->get('notes', 'a.txt', Range => 'bytes=100-'), 416,
     'a range past the end', 'range_not_satisfiable');
want($c->get('notes', 'a.txt', 'If-None-Match' => '"2"'), 304,
     'If-None-Match: the current ETag');
want($c->get('notes', 'a.txt', 'If-Match' => '"1"'), 412,
     'If-Match: an old ETag', 'precondition_failed');
want($c->request(GET => "$F/a.txt?version=1"), 200, 'version 1');
want($c->request(GET => "$F/a.txt?version=99"), 404, 'version 99',
     'version_not_found');
want($c->request(GET => "$F/a.txt?version=x"), 400, 'version x',
     'bad_request');
want($c->get('notes', 'zz.txt'), 404, 'a file that is not there',
     'file_not_found');
want($c->request(GET => "$F/../x"), 400, 'a .. component',
     'invalid_path');

# strategies
want($c->request(PATCH => $V, json => { conflict_strategy => 'server-wins' }),
     200, 'server-wins');
want($c->put('notes', 'a.txt', "mine\n", 'If-Match' => '"1"'), 412,
     'a stale upload under server-wins', 'version_conflict');
want($c->put('notes', 'a.txt', "new\n", 'If-None-Match' => '*'), 412,
     'If-None-Match: * on a file', 'version_conflict');
want($c->request(PATCH => $V,
                 json => { conflict_strategy => 'last-writer-wins' }),
     200, 'last-writer-wins');
want($c->put('notes', 'a.txt', "later\n", 'If-Match' => '"1"',
             'X-Gobi-Mtime' => 4000000000000),
     200, 'a stale but later upload wins');
want($c->put('notes', 'a.txt', "earlier\n", 'If-Match' => '"1"',
             'X-Gobi-Mtime' => 1000),
     412, 'a stale and earlier upload loses', 'version_conflict');
want($c->request(PATCH => $V, json => { conflict_strategy => 'merge' }),
     200, 'merge');
my $base = $c->put_ok('notes', 'm.txt', "one\ntwo\nthree\n")->{version};
want($c->put('notes', 'm.txt', "ONE\ntwo\nthree\n", 'If-Match' => "\"$base\""),
     200, 'an edit');
want($c->put('notes', 'm.txt', "one\ntwo\nTHREE\n", 'If-Match' => "\"$base\""),
     200, 'a stale edit, merged');
want($c->request(PATCH => $V, json => { conflict_strategy => 'keep-both' }),
     200, 'keep-both');

# deletes
my $del_v = $c->put_ok('notes', 'del.txt', "bye\n")->{version};
want($c->delete('notes', 'del.txt', 'If-Match' => '"' . ($del_v - 1) . '"'), 412,
     'a stale delete', 'version_conflict');
want($c->delete('notes', 'del.txt', %dev), 200, 'a delete');
want($c->delete('notes', 'del.txt'), 404, 'the deleted file',
     'file_not_found');
want($c->delete('notes', 'del.txt', 'X-Gobi-Confirm-Mass-Delete' => 'yes'),
     400, 'a bad X-Gobi-Confirm-Mass-Delete', 'bad_request');
want($c->delete('notes', 'a/../b'), 400, 'a bad path', 'invalid_path');
want($c->delete('nope', 'a.txt'), 404, 'a file of no vault',
     'vault_not_found');

want($c->create_vault_res('mass'), 201, 'a vault for a mass delete');
$c->put_ok('mass', "f$_.txt", "$_\n") for 1 .. 5;
want($c->delete('mass', "f$_.txt", 'X-Gobi-Device' => 'wiped'), 200,
     "delete f$_") for 1 .. 3;
want($c->delete('mass', 'f4.txt', 'X-Gobi-Device' => 'wiped'), 409,
     'one too many', 'mass_delete_blocked');
want($c->delete('mass', 'f4.txt', 'X-Gobi-Device' => 'wiped',
                'X-Gobi-Confirm-Mass-Delete' => 1), 200, 'confirmed');

# the manifest, the log, history
want($c->manifest('notes'), 200, 'the manifest');
want($c->request(GET => "$V/files?include_deleted=1&limit=1"), 200,
     'a page of the manifest with tombstones');
want($c->request(GET => "$V/files?prefix=dir%2F&after=dir%2Fa"), 200,
     'the manifest: prefix and after');
want($c->request(HEAD => "$V/files"), 200, 'HEAD the manifest');
want($c->request(GET => "$V/files?limit=0"), 400, 'limit 0', 'bad_request');
want($c->request(GET => "$V/files?include_deleted=2"), 400,
     'include_deleted 2', 'bad_request');
want($c->request(DELETE => "$V/files"), 405, 'DELETE the manifest',
     'method_not_allowed');
want($c->events('notes'), 200, 'the events');
want($c->events('notes', since => 2, limit => 2), 200, 'a page of them');
want($c->request(HEAD => "$V/events"), 200, 'HEAD the events');
want($c->events('notes', since => -1), 400, 'since -1', 'bad_request');
want($c->events('notes', limit => 10001), 400, 'limit 10001', 'bad_request');
want($c->events('nope'), 404, 'the events of no vault', 'vault_not_found');

want($c->request(GET => "$V/versions/a.txt"), 200, 'versions');
want($c->request(GET => "$V/versions/a.txt?limit=1"), 200,
     'a page of versions');
want($c->request(GET => "$V/versions/del.txt"), 200,
     'the versions of a deleted file');
want($c->request(HEAD => "$V/versions/a.txt"), 200, 'HEAD versions');
want($c->request(GET => "$V/versions/zz.txt"), 404, 'versions of nothing',
     'file_not_found');
want($c->request(GET => "$V/versions/a.txt?limit=1001"), 400, 'limit 1001',
     'bad_request');
want($c->request(GET => "$V/trash"), 200, 'the trash');
want($c->request(GET => "$V/trash?limit=1&after=a"), 200, 'a page of it');
want($c->request(HEAD => "$V/trash"), 200, 'HEAD the trash');
want($c->request(GET => "$V/trash?limit=x"), 400, 'limit x', 'bad_request');
want($c->request(GET => 'vaults/nope/trash'), 404, 'the trash of no vault',
     'vault_not_found');

want($c->request(POST => "$V/restore", json => { path => 'a.txt', version => 1 },
                 headers => { %dev }),
     200, 'restore a version');
want($c->request(POST => "$V/restore", json => { path => 'del.txt', version => $del_v }),
     200, 'restore a deleted file');
want($c->request(POST => "$V/restore", json => { seq => 3 }), 200,
     'restore the vault to seq 3');
want($c->request(POST => "$V/restore", json => { path => 'a.txt', version => 999 }),
     404, 'restore a version that is not there', 'version_not_found');
want($c->request(POST => "$V/restore", json => { path => '../x', version => 1 }),
     400, 'restore a bad path', 'invalid_path');
want($c->request(POST => "$V/restore", json => { seq => 1, path => 'a.txt' }),
     400, 'seq and path', 'bad_request');
want($c->request(POST => "$V/restore", json => { seq => 1000000 }), 400,
     'a seq beyond the head', 'bad_request');
want($c->request(GET => "$V/restore"), 405, 'GET restore',
     'method_not_allowed');

# unknown endpoints
want($c->request(GET => 'nope'), 404, 'an unknown endpoint', 'not_found');
want($c->request(GET => "$V/nope"), 404, 'an unknown vault endpoint',
     'not_found');

# the WebSocket handshake
my %ws = (port => $s->port, token => $alice);
my $ws = Gobi::WS->new(%ws);
ok($ws->ok, 'a WebSocket: 101') or diag $ws->error;
undef $ws;
want(Gobi::WS->new(%ws, token => undef)->response, 401, 'no token',
     'unauthorized');
want(Gobi::WS->new(%ws, token => undef, basic => [ 'alice', $pw ])->response,
     401, 'Basic', 'unauthorized');
$ws = Gobi::WS->new(%ws, token => undef, access_token => $alice);
ok($ws->ok, '?access_token=: 101') or diag $ws->error;
undef $ws;
want(Gobi::WS->new(%ws, replace_headers => { upgrade => undef })->response,
     400, 'not a handshake', 'bad_request');
want(Gobi::WS->new(%ws,
                   replace_headers => { 'sec-websocket-version' => '8' })->response,
     426, 'version 8', 'bad_request');
want(Gobi::WS->new(%ws, replace_headers => { 'sec-websocket-key' => 'short' })
     ->response, 400, 'a bad key', 'bad_request');
want(Gobi::WS->new(%ws, headers => [ 'Origin: https://evil.example' ])
     ->response, 403, 'a foreign Origin', 'forbidden');
$ws = Gobi::WS->new(%ws, headers => [ 'Origin: https://app.example' ]);
ok($ws->ok, 'an allowed Origin: 101') or diag $ws->error;
undef $ws;
want(Gobi::WS->new(%ws, method => 'POST')->response, 405, 'POST',
     'method_not_allowed');

# health and metrics (no credentials)
my @optional;
want($c->request(GET => 'health', no_auth => 1), 200, 'health');
want($c->request(HEAD => 'health', no_auth => 1), 200, 'HEAD health');
want($c->request(GET => '/metrics', no_auth => 1), 200, 'metrics');

delete $ENV{GOBI_RECORD};
ok($s->stop, 'the server stops');


# ---- a second server: registration off, a login limit -----------------------

my $s2 = gobi_server(
    label => 'closed',
    gobi_config => "gobi_registration off;\ngobi_login_limit 1/m;",
);
ok($s2->start, 'a closed server starts') or BAIL_OUT($s2->start_output);
$ENV{GOBI_RECORD} = $record;
my $c2 = $s2->client;
want($c2->register('erin'), 403, 'sign up, closed', 'registration_closed');
want($c2->login_res('erin', 'not the password'), 401, 'a failed login',
     'unauthorized');
my $limited = want($c2->login_res('erin', 'not the password'), 429,
                   'one more', 'too_many_requests');
ok($limited->header('retry-after'), 'Retry-After');
delete $ENV{GOBI_RECORD};
ok($s2->stop, 'the closed server stops');


# ---- the record against the spec ----------------------------------------------

my $lines = do { open my $f, '<', $record or die "$record: $!"; my @l = <$f>; scalar @l };
cmp_ok($lines, '>=', 150, "$lines answers recorded");

my $out = `@check --strict --require-ops @{[ map { qq{"$_"} } @optional ]} -v $record 2>&1`;
my $rc = $? >> 8;
is($rc, 0, 'every answer matches docs/openapi.yaml') or diag $out;
note $out if $ENV{GOBI_TEST_VERBOSE};
like($out, qr/check-openapi: \d+ exchanges, [0-3] on no path of the spec/,
     'every answer but the unknown endpoints was on a path of the spec')
    or diag $out;

done_testing();
