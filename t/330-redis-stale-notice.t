# A notice on the Redis bus with a seq beyond the store's head (a stale or
# foreign one, or anybody's PUBLISH): the workers that serve the vault
# read the store once, find nothing new, take the store's head as what
# the vault is at and stop.  They do not read again and again (CPU time
# of the workers, and the fan-out reads in the debug log, stay flat), and
# the live events after it still arrive, once.
use Gobi::Test;
use Gobi::WS;
use Gobi::Redis;

use POSIX ();
use Time::HiRes ();

plan skip_all => 'redis-server is not installed'
    unless Gobi::Redis::available();

my $RUN = Gobi::Test::run_name();

my $CONFIG = "location /api/v1/ { gobi_api; }\n"
           . "location = /api/v1/ws { gobi_websocket; }\n";

# the workers' user + system CPU time, in clock ticks
sub cpu_ticks {
    my ($s) = @_;
    my $n = 0;
    for my $pid ($s->worker_pids) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh>;
        close $fh;
        $stat =~ s/^.*\)\s+//;              # past "pid (comm)"
        my @f = split ' ', $stat;
        $n += $f[11] + $f[12];              # utime, stime
    }
    return $n;
}

sub reads_of {
    my ($s, $id) = @_;
    my @l = $s->error_log =~ /fan-out of vault \Q$id\E reads after seq/g;
    return scalar @l;
}

sub seqs {
    [ map { $_->{type} eq 'event' ? $_->{event}{seq} : json_encode($_) }
      @{ $_[0] } ]
}

# the messages up to the event of seq $to
sub upto {
    my ($ws, $to, $timeout) = @_;
    my ($m, $before) = $ws->recv_until(sub {
        $_->{type} eq 'event' && $_->{event}{seq} >= $to }, $timeout);
    return [ @$before, $m ? $m : () ];
}


my $redis = Gobi::Redis->new(name => "$RUN/redis");
ok($redis->start, 'redis-server starts')
    or BAIL_OUT('no redis: ' . $redis->log);

my $s = gobi_server(label => 'stale', config => $CONFIG,
    main_config => 'error_log logs/error.log debug;',
    http_config => "gobi_store sqlite:\$SERVROOT/var/gobi.db;\n"
                 . "gobi_storage local:\$SERVROOT/var/vaults;\n"
                 . 'gobi_bus ' . $redis->uri . ";\n");
ok($s->start, 'nginx starts') or BAIL_OUT($s->start_output . $s->error_log);

my $c = $s->client;
$c->user('alice');
my $id = $c->create_vault('notes')->{id};

# sessions until both workers serve the vault
my (@ws, %by);
my @pids = $s->worker_pids;
while (@ws < 40 && keys %by < @pids) {
    my $ws = Gobi::WS->new(port => $s->port, token => $c->token);
    $ws->ok or BAIL_OUT('no 101: ' . ($ws->error // ''));
    $ws->subscribe('notes', since => 0);
    push @ws, $ws;
    $by{ $ws->worker_pid($s) // 'none' } = 1;
}
is(scalar(grep { $by{$_} } @pids), scalar @pids, 'sessions on every worker');
ok($redis->wait_for(sub {
    ($redis->numsub("gobi:vault:$id") // {})->{"gobi:vault:$id"} == @pids }),
    'every worker subscribed to the vault');

my $r = $c->put('notes', 'a.txt', 'one');
is($r->status, 201, 'PUT a.txt');
is_deeply(seqs(upto($_, 1, 10)), [1], 'its event arrives') for @ws;

# the bogus notice, far beyond the head
my $reads = reads_of($s, $id);
my $ticks = cpu_ticks($s);
my $t0 = Time::HiRes::time();
cmp_ok($redis->cmd('PUBLISH', "gobi:vault:$id", '999999999'), '==',
       scalar @pids, 'a notice of seq 999999999 reaches the workers');
sleep 3;
my $cpu = (cpu_ticks($s) - $ticks) / POSIX::sysconf(POSIX::_SC_CLK_TCK());
my $wall = Time::HiRes::time() - $t0;
my $more = reads_of($s, $id) - $reads;

cmp_ok($cpu, '<', 0.5 * $wall,
       sprintf('the workers stay idle (%.2f s of CPU in %.1f s)', $cpu,
               $wall));
cmp_ok($more, '<=', 2 * @pids,
       "the store was read at most twice per worker ($more reads)");
is_deeply(seqs(upto($_, 1e9, 0.3)), [], 'no message for the bogus notice')
    for @ws;

# live delivery goes on, from the store's real head
for my $n (2 .. 3) {
    $r = $c->put('notes', "f$n.txt", "two $n");
    is($r->status, 201, "PUT f$n.txt");
    is($r->json->{seq}, $n, "seq $n");
    is_deeply(seqs(upto($_, $n, 10)), [$n], "event $n arrives, once")
        for @ws;
}
is_deeply(seqs(upto($_, 1e9, 0.3)), [], 'and nothing more') for @ws;

$_->close for @ws;
ok($s->stop, 'stops on QUIT');
my @a = $s->alerts;
ok(!@a, 'no [alert], [emerg] or [crit]') or diag join "\n", @a;
$redis->stop;

done_testing();
