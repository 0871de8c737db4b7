# Several instances (issue 4): a client moving from instance A to
# instance B with its cursor converges.  A and B share one MongoDB store
# (FerretDB), one Redis bus and one blob root.
#
# REST: a cursor taken on A, GET /events?since=cursor on B (in pages too)
# gives exactly the later events, in seq order, and applying them gives
# B's (and A's) manifest; a WebSocket hello on B with that cursor replays
# the same state.  The sync client: build/gobi clones through A, the
# folder is moved to B (its .gobi/state.db names B and the client is
# logged in to B), `gobi sync` there pulls what was written meanwhile
# through both instances and pushes a local change; only B is asked.
use Gobi::Test;
use Gobi::Cluster qw(subscriber live_events drain_events seqs);

use File::Basename ();
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use File::Find ();
use File::Spec;
use POSIX ();

my $why = Gobi::Cluster::unavailable();
plan skip_all => $why if $why;

my $GOBI = $ENV{GOBI_CLIENT} || "$Gobi::Server::REPO/build/gobi";
my $PASSWORD = 'correct horse battery staple';

my $cl = Gobi::Cluster->new;
ok($cl->start, 'FerretDB, Redis, instances A and B start')
    or BAIL_OUT($cl->why);
my ($A, $B) = $cl->servers;

my $ca = $A->client;
$ca->user('alice');
my $cb = $B->client(token => $ca->token);

# the client's model of a vault: path => { version, hash } (deleted paths
# gone), from events
sub apply_events {
    my ($model, $events) = @_;
    for my $e (@$events) {
        if ($e->{type} eq 'delete') {
            delete $model->{ $e->{path} };
        } else {
            delete $model->{ $e->{from} } if $e->{type} eq 'rename';
            $model->{ $e->{path} } = { version => $e->{version},
                                       hash => $e->{hash} };
        }
    }
    return $model;
}

sub manifest_model {
    my ($c, $vault) = @_;
    my $r = $c->manifest($vault);
    return (undef, undef) unless $r->status == 200;
    my %m = map { $_->{path} => { version => $_->{version},
                                  hash => $_->{hash} } }
            grep { !$_->{deleted} } @{ $r->json->{files} };
    return (\%m, $r->json->{seq});
}

sub put_ok_seq {
    my ($c, $via, $vault, $path, $text, @h) = @_;
    my $r = $c->put($vault, $path, $text, @h);
    like($r->status, qr/^20[01]$/, "PUT $path via $via")
        or diag $r->describe;
    return $r->json->{seq};
}


subtest 'REST: a cursor from A, the events since it on B' => sub {
    $ca->create_vault('rest');
    for my $p (qw(a.txt b.txt c.txt)) {
        put_ok_seq($ca, 'A', 'rest', $p, "first $p");
    }
    my $r = $ca->events('rest', since => 0);
    is($r->status, 200, 'events since 0 on A');
    my $cursor = $r->json->{head_seq};
    is($cursor, 3, 'cursor 3');
    my $model = apply_events({}, $r->json->{events});

    # meanwhile, through both instances
    my @later;
    push @later, put_ok_seq($cb, 'B', 'rest', 'a.txt', 'a changed on B');
    my $d = $ca->delete('rest', 'b.txt');
    is($d->status, 200, 'DELETE b.txt via A');
    push @later, $d->json->{seq};
    push @later, put_ok_seq($cb, 'B', 'rest', 'd/e.txt', 'new on B');
    my ($ws) = subscriber($A, $ca->token, 'rest', since => 6);
    $ws->send_json({ type => 'rename', id => 1, from => 'c.txt',
        to => 'moved/c.txt', base_version => 3 });
    my ($ack) = $ws->recv_until(sub { $_->{type} eq 'ack' }, 15);
    ok($ack, 'a rename through A\'s WebSocket is acked')
        or diag explain $ws->last_msg;
    push @later, $ack->{seq} if $ack;
    $ws->close;
    push @later, put_ok_seq($ca, 'A', 'rest', 'a.txt', 'a changed on A');
    is_deeply(\@later, [ 4 .. 8 ], 'seqs 4..8');

    # the client moves to B
    $r = $cb->events('rest', since => $cursor);
    is($r->status, 200, "events since $cursor on B");
    is($r->header('x-gobi-instance'), 'B', 'answered by B');
    is_deeply(seqs($r->json->{events}), [ 4 .. 8 ],
        'exactly the later events, in seq order');
    is($r->json->{head_seq}, 8, 'head_seq 8');
    ok(!$r->json->{more}, 'no more');
    my $events = $r->json->{events};
    is_deeply($events, $ca->events('rest', since => $cursor)->json->{events},
        'the same events as on A');

    # in pages of 2
    my (@paged, $more);
    my $since = $cursor;
    do {
        my $p = $cb->events('rest', since => $since, limit => 2);
        is($p->status, 200, "page since $since on B") or return;
        push @paged, @{ $p->json->{events} };
        $more = $p->json->{more};
        $since = $p->json->{events}[-1]{seq} if @{ $p->json->{events} };
    } while ($more && @paged < 20);
    is_deeply(seqs(\@paged), [ 4 .. 8 ], 'pages of 2: the same seqs');

    apply_events($model, $events);
    for ([ A => $ca ], [ B => $cb ]) {
        my ($m, $seq) = manifest_model($_->[1], 'rest');
        is($seq, 8, "manifest on $_->[0] at seq 8");
        is_deeply($model, $m, "cursor + events = the manifest on $_->[0]");
    }
    is($cb->get('rest', 'a.txt')->body, 'a changed on A', 'a.txt from B');
    is($cb->get('rest', 'moved/c.txt')->body, 'first c.txt',
        'moved/c.txt from B');
    is($cb->get('rest', 'b.txt')->status, 404, 'b.txt is gone on B');

    # and back: a cursor from B used on A
    my $s2 = put_ok_seq($cb, 'B', 'rest', 'z.txt', 'after the move');
    $r = $ca->events('rest', since => 8);
    is_deeply(seqs($r->json->{events}), [ $s2 ], 'back on A: since 8');
};


subtest 'WebSocket: hello on B with a cursor from A' => sub {
    $ca->create_vault('ws');
    put_ok_seq($ca, 'A', 'ws', $_, "v1 $_") for qw(p.txt q.txt r.txt);
    my ($wsA, $w, $replay) = subscriber($A, $ca->token, 'ws');
    is($w->{head_seq}, 3, 'welcome on A at 3');
    my $model = apply_events({}, $replay);
    my $cursor = $w->{head_seq};
    $wsA->close;        # the client goes away

    put_ok_seq($cb, 'B', 'ws', 'p.txt', 'v2 p.txt');
    is($ca->delete('ws', 'q.txt')->status, 200, 'DELETE q.txt via A');
    put_ok_seq($ca, 'A', 'ws', 's.txt', 'v1 s.txt');
    put_ok_seq($cb, 'B', 'ws', 'p.txt', 'v3 p.txt');

    my ($wsB, $w2, $ev) = subscriber($B, $cb->token, 'ws', since => $cursor);
    is($w2->{head_seq}, 7, 'welcome on B at 7');
    my @s = @{ seqs($ev) };
    ok(!grep({ $_ <= $cursor } @s), 'the replay holds nothing at or before '
        . "the cursor (@s)");
    is_deeply([ sort { $a <=> $b } @s ], \@s, 'in seq order');
    apply_events($model, $ev);
    my ($m) = manifest_model($cb, 'ws');
    is_deeply($model, $m, 'cursor + replay = the manifest');

    # and it goes on live from there, with writes through A
    my $seq = put_ok_seq($ca, 'A', 'ws', 't.txt', 'live');
    is_deeply(seqs(live_events($wsB, $seq, 15)), [ $seq ],
        'then a write through A arrives live');
    is_deeply(seqs(drain_events($wsB, 0.5)), [], 'once');
    $wsB->close;
};


# ---- the sync client ---------------------------------------------------------

my $tmp = tempdir('gobi-cluster-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $cfg = "$tmp/config";

sub gobi {
    my (@args) = @_;
    my %env = ref $args[0] eq 'HASH' ? %{ shift @args } : ();
    my ($out, $err) = ("$tmp/.out", "$tmp/.err");
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $ENV{GOBI_CONFIG_DIR} = $cfg;
        delete @ENV{qw(GOBI_PASSWORD GOBI_SERVER)};
        $ENV{$_} = $env{$_} for keys %env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out;
        open STDERR, '>', $err;
        exec $GOBI, @args or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return ($? >> 8, slurp($out), slurp($err));
}

sub slurp {
    open my $fh, '<', $_[0] or return undef;
    binmode $fh;
    local $/;
    my $s = <$fh>;
    return $s // '';
}

sub spew {
    my ($path, $text) = @_;
    make_path(File::Basename::dirname($path));
    open my $fh, '>', $path or die "$path: $!";
    binmode $fh;
    print $fh $text;
    close $fh;
}

# { relative path => content } of a vault folder, without .gobi/
sub tree {
    my ($dir) = @_;
    my %t;
    File::Find::find({ no_chdir => 1, wanted => sub {
        if ($_ eq "$dir/.gobi") { $File::Find::prune = 1; return }
        return unless -f $_ && !-l $_;
        $t{ File::Spec->abs2rel($_, $dir) } = slurp($_);
    } }, $dir);
    return \%t;
}

# { path => content } of a vault as a server shows it
sub server_tree {
    my ($c, $vault) = @_;
    my $r = $c->manifest($vault);
    return undef unless $r->status == 200;
    my %t;
    for my $f (grep { !$_->{deleted} } @{ $r->json->{files} }) {
        $t{ $f->{path} } = $c->get($vault, $f->{path})->body;
    }
    return \%t;
}

sub sqlite {
    my ($db, $sql) = @_;
    my $out = `sqlite3 '$db' "$sql" 2>&1`;
    chomp $out;
    return $out;
}

sub requests_in {
    my ($s, $from) = @_;
    my $log = $s->access_log;
    return substr($log, $from // 0);
}


subtest 'gobi: clone through A, then sync through B' => sub {
    plan skip_all => "$GOBI is missing (make client)" unless -x $GOBI;
    plan skip_all => 'no sqlite3 command' unless `sqlite3 -version 2>&1`
        =~ /^\d/;

    my ($rc, $out, $err) = gobi({ GOBI_PASSWORD => $PASSWORD },
        'login', $A->url, 'alice');
    is($rc, 0, 'gobi login A') or diag "$out$err";
    ($rc, $out, $err) = gobi('vault', 'create', 'cli');
    is($rc, 0, 'gobi vault create cli (through A)') or diag "$out$err";
    put_ok_seq($ca, 'A', 'cli', "docs/$_.md", "# $_\n") for 1 .. 3;
    put_ok_seq($cb, 'B', 'cli', 'from-b.txt', 'written on B');

    my $dir = "$tmp/cli";
    ($rc, $out, $err) = gobi('--device', 'laptop', 'clone', 'cli', $dir);
    is($rc, 0, 'gobi clone cli through A') or diag "$out$err";
    my $db = "$dir/.gobi/state.db";
    is(sqlite($db, "SELECT value FROM meta WHERE key='server'"), $A->url,
        'the folder names A');
    is(sqlite($db, "SELECT value FROM meta WHERE key='cursor'"), 4,
        'cursor 4');
    is_deeply(tree($dir), server_tree($ca, 'cli'), 'the clone has the vault');

    # meanwhile, through both instances
    put_ok_seq($cb, 'B', 'cli', 'docs/1.md', "# 1, edited on B\n");
    is($ca->delete('cli', 'docs/2.md')->status, 200, 'DELETE docs/2.md via A');
    put_ok_seq($ca, 'A', 'cli', 'new/on-a.txt', 'new on A');
    put_ok_seq($cb, 'B', 'cli', 'new/on-b.txt', 'new on B');
    # and a local change
    spew("$dir/local.txt", "made on the laptop\n");

    # the move: logged in to B, the folder names B
    ($rc, $out, $err) = gobi({ GOBI_PASSWORD => $PASSWORD },
        'login', $B->url, 'alice');
    is($rc, 0, 'gobi login B') or diag "$out$err";
    sqlite($db, "UPDATE meta SET value='" . $B->url . "' WHERE key='server'");
    is(sqlite($db, "SELECT value FROM meta WHERE key='server'"), $B->url,
        'the folder names B now');

    my $a_log = length $A->access_log;
    my $b_log = length $B->access_log;
    ($rc, $out, $err) = gobi('sync', $dir);
    is($rc, 0, 'gobi sync through B') or diag "$out$err";
    my $b_new = requests_in($B, $b_log);
    my $a_new = requests_in($A, $a_log);
    like($b_new, qr{GET /api/v1/vaults/cli/events\?since=4\b},
        'B was asked for the events since the cursor (4)');
    is($a_new, '', 'A was asked nothing') or diag $a_new;

    my $want = server_tree($cb, 'cli');
    is($want->{'local.txt'}, "made on the laptop\n",
        'the local change reached B');
    is_deeply(tree($dir), $want, 'the folder has what B has');
    is_deeply(server_tree($ca, 'cli'), $want, 'and what A has');
    my $head = $cb->events('cli', since => 0)->json->{head_seq};

    # a second pass changes nothing (and takes the cursor past our own
    # upload)
    ($rc, $out, $err) = gobi('sync', $dir);
    is($rc, 0, 'a second gobi sync');
    is($cb->events('cli', since => 0)->json->{head_seq}, $head,
        'no new event');
    is(sqlite($db, "SELECT value FROM meta WHERE key='cursor'"), $head,
        "cursor at the head ($head)");
    is_deeply(tree($dir), $want, 'the folder is unchanged');

    # `gobi --server` names the server for commands without a folder;
    # a folder's sync follows its state.db (noted, not required)
    my $dir2 = "$tmp/cli2";
    ($rc, $out, $err) = gobi('--server', $A->url, '--device', 'desk',
        'clone', 'cli', $dir2);
    is($rc, 0, 'gobi --server A clone') or diag "$out$err";
    is(sqlite("$dir2/.gobi/state.db",
        "SELECT value FROM meta WHERE key='server'"), $A->url,
        '--server A: the clone names A');
    put_ok_seq($cb, 'B', 'cli', 'late.txt', 'late');
    $a_log = length $A->access_log;
    $b_log = length $B->access_log;
    ($rc, $out, $err) = gobi('--server', $B->url, 'sync', $dir2);
    is($rc, 0, 'gobi --server B sync') or diag "$out$err";
    note("gobi --server B sync of a folder cloned through A asked\nA:\n"
        . requests_in($A, $a_log) . "B:\n" . requests_in($B, $b_log));
    is_deeply(tree($dir2), server_tree($cb, 'cli'), 'the second folder '
        . 'converged too');
};


ok($cl->stop, 'everything stops (the instances on QUIT, in time)');
my @a = $cl->alerts;
ok(!@a, 'no [alert], [emerg] or [crit]') or diag join "\n", @a;
for my $s ($A, $B) {
    unlike($s->error_log, qr/\[error\]/, 'no [error] in ' . $s->servroot);
}

done_testing();
