# What a password costs is bounded: at most gobi_auth_concurrency argon2id
# hashes at once (more get 429 at once), failed logins limited per
# username and per address, sign-ups per address (gobi_login_limit), all
# in shared memory and refused before any hashing.  Other clients are
# told apart by their source address (127.0.0.x).
use Gobi::Test;

plan tests => repeat_each() * blocks();

# a client whose connections come from 127.0.0.$n
sub main::from {
    my ($t, $n) = @_;
    return Gobi::Client->new(port => $t->port, local_addr => "127.0.0.$n");
}

sub main::login_from {
    my ($t, $n, $user, $pass) = @_;
    return main::from($t, $n)->request(POST => 'sessions', no_auth => 1,
        json => { username => $user, password => $pass });
}

sub main::is_429 {
    my ($r, $what) = @_;
    is($r->status, 429, "$what: 429") or diag $r->describe;
    is($r->error_code, 'too_many_requests', "$what: too_many_requests");
    like($r->header('retry-after') // '', qr/^[1-9][0-9]*$/,
        "$what: Retry-After in seconds");
}

run_tests();

__DATA__

=== TEST 1: failed logins of one username, from many addresses: the username is locked, not the others
--- gobi_config
gobi_login_limit 3/m;
--- setup
register alice
register bob
--- perl
for my $n (2 .. 4) {
    is(main::login_from($t, $n, 'alice', 'wrong password')->status, 401,
        "wrong password from 127.0.0.$n: 401");
}
main::is_429(main::login_from($t, 5, 'alice', $c->password_of('alice')),
    'the right password after 3 failures');
main::is_429(main::login_from($t, 5, 'ALICE', $c->password_of('alice')),
    'the same name in capitals');
is(main::login_from($t, 5, 'bob', $c->password_of('bob'))->status, 201,
    'bob from the same address logs in');
--- no_error_log
[error]



=== TEST 2: failed logins from one address, on many usernames: the address is locked, not the others
--- gobi_config
gobi_login_limit 3/m;
--- setup
register alice
--- perl
for my $u (qw(nobody1 nobody2 nobody3)) {
    is(main::login_from($t, 2, $u, 'guessing')->status, 401, "$u: 401");
}
main::is_429(main::login_from($t, 2, 'alice', $c->password_of('alice')),
    'alice from that address');
my $b = main::from($t, 2)->request(POST => 'sessions',
    basic => [ 'alice', $c->password_of('alice') ]);
main::is_429($b, 'Basic from that address');
is(main::login_from($t, 3, 'alice', $c->password_of('alice'))->status, 201,
    'alice from another address logs in');



=== TEST 3: a 429 costs no hashing: it answers while every hashing slot is busy
--- gobi_config
gobi_login_limit 2/m;
gobi_auth_concurrency 1;
--- setup
register alice
--- perl
main::login_from($t, 2, 'nobody', 'guessing') for 1 .. 2;
my $slow = main::from($t, 3)->start(POST => 'sessions', no_auth => 1,
    json => { username => 'alice', password => $c->password_of('alice') });
my $r = main::login_from($t, 2, 'alice', $c->password_of('alice'));
main::is_429($r, 'a limited address while a hash runs');
like($r->json->{error}{message}, qr/failed logins/, 'it says why');
is($slow->wait->status, 201, 'the login in flight succeeds');



=== TEST 4: successful logins do not count
--- gobi_config
gobi_login_limit 2/m;
--- setup
register alice
--- perl
for my $i (1 .. 6) {
    is(main::login_from($t, 2, 'alice', $c->password_of('alice'))->status,
        201, "login $i");
}



=== TEST 5: the window ends: after the period the username may try again
--- gobi_config
gobi_login_limit 2/s;
--- setup
register alice
--- perl
main::login_from($t, 2, 'alice', 'wrong password') for 1 .. 2;
main::is_429(main::login_from($t, 2, 'alice', $c->password_of('alice')),
    'locked');
my $ok = wait_until(sub {
    main::login_from($t, 2, 'alice', $c->password_of('alice'))->status == 201
}, 5);
ok($ok, 'a login succeeds once the second is over');



=== TEST 6: sign-ups are limited per address
--- gobi_config
gobi_login_limit 3/m;
--- perl
for my $i (1 .. 3) {
    is(main::from($t, 2)->register("user$i")->status, 201, "sign-up $i");
}
my $r = main::from($t, 2)->register('user4');
main::is_429($r, 'the fourth sign-up');
like($r->json->{error}{message}, qr/sign-ups/, 'it says why');
is(main::from($t, 3)->register('user4')->status, 201,
    'another address signs up');
is(main::from($t, 2)->login_res('user4')->status, 201,
    'the limited address may still log in');



=== TEST 7: at most gobi_auth_concurrency hashes at once: a flood gets 429, the rest succeed
--- gobi_config
gobi_auth_concurrency 1;
gobi_login_limit 1000/m;
--- workers: 1
--- setup
register alice
--- perl
my @p = map { $c->start(POST => 'sessions', no_auth => 1,
    json => { username => 'alice', password => $c->password_of('alice') }) }
    1 .. 20;
my @r = map { $_->wait } @p;
my %n;
$n{ $_->status }++ for @r;
note(join ', ', map { "$_: $n{$_}" } sort keys %n);
cmp_ok($n{201} // 0, '>=', 1, 'some logins succeed');
cmp_ok($n{429} // 0, '>=', 1, 'some get 429');
is(($n{201} // 0) + ($n{429} // 0), 20, 'nothing else');
my ($busy) = grep { $_->status == 429 } @r;
main::is_429($busy, 'a login over the concurrency');
like($busy->json->{error}{message}, qr/at once/, 'it says why');
is($c->login_res('alice')->status, 201, 'afterwards a login succeeds');
--- no_error_log
[error]



=== TEST 8: sign-ups and password changes share the hashing slots
--- gobi_config
gobi_auth_concurrency 1;
--- workers: 1
--- setup
user alice
--- perl
my @p = map { $c->start(POST => 'users', no_auth => 1,
    json => { username => "u$_", password => 'a long password' }) } 1 .. 8;
my @r = map { $_->wait } @p;
my $busy = grep { $_->status == 429 } @r;
cmp_ok($busy, '>=', 1, 'concurrent sign-ups get 429 over the limit');
is(scalar(grep { $_->status == 201 || $_->status == 429 } @r), 8,
    'every one is 201 or 429');



=== TEST 9: bad gobi_login_limit and gobi_auth_concurrency values stop nginx -t
--- gobi_config eval
"gobi_login_limit 10;\n"
--- must_die
--- error_log
invalid rate "10"



=== TEST 10: gobi_login_limit units
--- gobi_config
gobi_login_limit 5/h;
--- config_ok
--- setup
register alice
--- perl
is($c->login_res('alice')->status, 201, 'logins work');



=== TEST 11: gobi_auth_concurrency 0 is refused
--- gobi_config
gobi_auth_concurrency 0;
--- must_die
--- error_log
"gobi_auth_concurrency" must be positive



=== TEST 12: gobi_auth_thread_pool: hashes in a pool of their own, whose threads run as SCHED_IDLE
--- main_config
thread_pool gobi_auth threads=2;
--- gobi_config
gobi_auth_thread_pool gobi_auth;
--- workers: 1
--- setup
register alice
--- perl
# a login and a sign-up hash there; the store work stays in the main pool
is($c->login_res('alice')->status, 201, 'a login works');
is($c->register('bob')->status, 201, 'a sign-up works');
my ($pid) = $t->worker_pids;
my @idle;
for my $task (glob "/proc/$pid/task/*") {
    open my $f, '<', "$task/stat" or next;
    my $stat = <$f>;
    $stat =~ s/^.*\) //;                  # the name may hold spaces
    my @f = split ' ', $stat;
    push @idle, $task if $f[38] == 5;     # policy: SCHED_IDLE
}
cmp_ok(scalar @idle, '>=', 1, 'a worker thread runs as SCHED_IDLE');
cmp_ok(scalar @idle, '<=', 2, 'only threads of the auth pool');
# with its 2 threads, 2 hashes at once by default; a flood gets 429
my @p = map { $c->start(POST => 'sessions', no_auth => 1,
    json => { username => 'alice', password => $c->password_of('alice') }) }
    1 .. 12;
my @r = map { $_->wait->status } @p;
cmp_ok(scalar(grep { $_ == 429 } @r), '>=', 1, 'over 2 at once: 429');
cmp_ok(scalar(grep { $_ == 201 } @r), '>=', 2, 'the rest log in');
is($c->request(GET => 'vaults', token => $c->login('alice'))->status, 200,
    'Bearer requests go on');



=== TEST 13: without it, no thread is SCHED_IDLE (a shared pool may not go back)
--- workers: 1
--- setup
register alice
--- perl
is($c->login_res('alice')->status, 201, 'a login works');
my ($pid) = $t->worker_pids;
my $idle = 0;
for my $task (glob "/proc/$pid/task/*") {
    open my $f, '<', "$task/stat" or next;
    (my $stat = <$f>) =~ s/^.*\) //;
    $idle++ if (split ' ', $stat)[38] == 5;
}
is($idle, 0, 'no SCHED_IDLE thread');



=== TEST 14: a 429 waits a pause that holds no slot; clients that hang up during it cost nothing
--- gobi_config
gobi_login_limit 2/m;
gobi_auth_concurrency 1;
--- setup
register alice
--- perl
main::login_from($t, 2, 'nobody', 'guessing') for 1 .. 2;
my $from = main::from($t, 2);
my @login = (POST => 'sessions', no_auth => 1,
    json => { username => 'alice', password => $c->password_of('alice') });
my @gone = map { $from->start(@login) } 1 .. 20;
close $_->{sock} for @gone;
my @waiting = map { $from->start(@login) } 1 .. 5;
my $other = main::login_from($t, 3, 'alice', $c->password_of('alice'));
is($other->status, 201, 'another address logs in meanwhile (the slot is free)');
main::is_429($_->wait, 'a paused refusal') for @waiting;
is($c->request(GET => 'vaults', token => $other->json->{token})->status,
    200, 'the server goes on');
--- no_error_log
[alert]
[error]
