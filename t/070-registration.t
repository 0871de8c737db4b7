# gobi_registration: off closes POST /users (403), existing users go on.
use Gobi::Test;

plan tests => repeat_each() * blocks() + 2;

# users made while registration was on keep working after it is turned off
subtest 'turned off after users exist' => sub {
    my $s = gobi_server(label => 'restart');
    ok($s->start, 'starts (registration on)') or return diag $s->start_output;
    my $c = $s->client;
    $c->user('alice');
    $c->create_vault('notes');
    $c->put_ok('notes', 'a.txt', 'hello');
    ok($s->stop, 'stops');

    $s->{gobi_config} = 'gobi_registration off;';
    $s->write_conf;
    ok($s->start, 'starts again (registration off)')
        or return diag $s->start_output . $s->error_log;
    my $r = $c->register('bob');
    is($r->status, 403, 'bob cannot register');
    error_code_is($r, 'registration_closed');
    my $tok = eval { $c->login('alice') };
    ok($tok, 'alice logs in') or diag $@;
    is($c->get('notes', 'a.txt')->body, 'hello', 'alice reads her file');
    is($c->put('notes', 'b.txt', 'more')->status, 201, 'alice writes');
    ok($s->stop, 'stops');
    is(scalar($s->alerts), 0, 'no alerts') or diag join "\n", $s->alerts;
};

# a reload (HUP) with registration turned off: new workers refuse, the
# data stays
subtest 'turned off by a reload' => sub {
    my $s = gobi_server(label => 'reload');
    ok($s->start, 'starts') or return diag $s->start_output;
    my $c = $s->client;
    $c->user('alice');
    $c->create_vault('notes');
    $c->put_ok('notes', 'a.txt', 'hello');
    my @old = sort $s->worker_pids;

    $s->{gobi_config} = 'gobi_registration off;';
    $s->write_conf;
    $s->reload;
    # (until the new workers take over, the old ones still register)
    my $n = 0;
    ok(wait_until(sub { $c->register('bob' . ++$n)->status == 403 }, 20),
        'registration closed after the reload');
    ok(wait_until(sub { !grep { kill 0, $_ } @old }, 20),
        'the old workers are gone');
    is($c->register('carol')->status, 403, 'closed for good');
    is($c->get('notes', 'a.txt')->body, 'hello', 'the data is still there');
    ok($s->stop, 'stops');
    is(scalar($s->alerts), 0, 'no alerts') or diag join "\n", $s->alerts;
};

run_tests();

__DATA__

=== TEST 1: registration off: 403 registration_closed
--- gobi_config
gobi_registration off;
--- request
POST /api/v1/users
{"username":"alice","password":"correct horse"}
--- error_code: 403
--- json_error: registration_closed
--- check
is($c->login_res('alice', 'correct horse')->status, 401, 'no user was made');
--- no_error_log
[error]



=== TEST 2: registration off: even a bad body gets 403, not a hint about users
--- gobi_config
gobi_registration off;
--- request eval
[ "POST /api/v1/users\n" . '{"username":"","password":"x"}',
  "POST /api/v1/users\n" . '{"username":"alice","password":"correct horse"}' ]
--- error_code_like eval
[ qr/^(400|403)$/, qr/^403$/ ]
--- json_error eval
[ undef, 'registration_closed' ]



=== TEST 3: registration on (explicitly)
--- gobi_config
gobi_registration on;
--- request
POST /api/v1/users
{"username":"alice","password":"correct horse"}
--- error_code: 201



=== TEST 4: registration is on by default
--- request
POST /api/v1/users
{"username":"alice","password":"correct horse"}
--- error_code: 201



=== TEST 5: registration off does not close the rest of the API
--- gobi_config
gobi_registration off;
--- request eval
[ "GET /api/v1/vaults",
  "POST /api/v1/sessions\n" . '{"username":"alice","password":"correct horse"}' ]
--- error_code eval
[ 401, 401 ]
--- json_error eval
[ 'unauthorized', 'unauthorized' ]
