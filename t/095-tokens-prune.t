# Housekeeping prunes expired tokens (the store's tokens_prune), says how
# many in the log, and leaves the tokens that are still good.  With
# gobi_event_retention 4s housekeeping runs every second.
use Gobi::Test;

plan tests => repeat_each() * blocks();

run_tests();

__DATA__

=== TEST 1: expired tokens go, a good one stays
--- gobi_config
gobi_token_ttl 4s;
gobi_event_retention 4s;
--- setup
user alice
login alice
--- perl
# the tokens in the store (SQLite; with MongoDB the log and the answers
# tell)
my $db = $t->db_file;
my $count = sub {
    return $_[0] unless -e $db;
    my $n = `sqlite3 '$db' 'SELECT count(*) FROM tokens' 2>&1`;
    chomp $n;
    return $n;
};
my $pruned = sub {
    my $n = 0;
    $n += $_ for $t->error_log =~ /gobi: pruned (\d+) expired tokens/g;
    return $n;
};
is($count->(2), 2, 'two tokens at first');
my $old = $c->token;
sleep 4.5;
$c->user('bob');                    # a fresh token, good for 4 s
ok(wait_until(sub { $pruned->() >= 2 }, 3),
   "housekeeping pruned alice's two expired tokens");
is($pruned->(), 2, 'and only those');
is($count->(1), 1, 'one token is left');
is($c->request(GET => 'vaults')->status, 200, 'the fresh token works');
is($c->request(GET => 'vaults', token => $old)->status, 401,
   'an expired one does not');
--- no_error_log
[warn]
