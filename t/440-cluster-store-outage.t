# Several instances (issue 4): the store goes away and comes back.
# Instances A and B share one MongoDB store (FerretDB), one Redis bus and
# one blob root.  With FerretDB stopped, REST requests on both instances
# answer 503 with the JSON code store_unavailable and a Retry-After
# header, a WebSocket hello (and an op) on an open connection gets an
# error message and the connection stays usable, a new handshake gets the
# 503.  With FerretDB started again on the same port and data directory,
# everything works again without restarting nginx: the data written
# before is there, seqs go on, live delivery between the instances too.
# Once with a clean stop (TERM) and the driver's default timeouts, once
# with a crash (KILL).
use Gobi::Test;
use Gobi::Cluster qw(subscriber live_events drain_events seqs);
use Gobi::WS;
use Time::HiRes ();

my $why = Gobi::Cluster::unavailable();
plan skip_all => $why if $why;

my $RECOVER = 60;       # s: the driver finds the server again by itself

my $cl = Gobi::Cluster->new;
ok($cl->start, 'FerretDB, Redis, instances A and B start')
    or BAIL_OUT($cl->why);
my ($A, $B) = $cl->servers;
my $mongo = $cl->mongo;

my $ca = $A->client;
$ca->user('alice');
my $cb = $B->client(token => $ca->token);
my %c = (A => $ca, B => $cb);
$ca->create_vault('notes');
my $head = 0;
my %content;
for my $i (1 .. 3) {
    my $r = $ca->put('notes', "f$i.txt", "before $i");
    is($r->status, 201, "PUT f$i.txt before the outage");
    $head = $r->json->{seq};
    $content{"f$i.txt"} = "before $i";
}
my %pids = map { $_->[0] => [ sort $_->[1]->pid, $_->[1]->worker_pids ] }
           [ A => $A ], [ B => $B ];

# a subscriber on B that lives through everything
my ($wsB) = subscriber($B, $cb->token, 'notes', since => $head);

# what a client does, as requests that all go out at once (the driver
# waits serverSelectionTimeoutMS for a server: they wait in parallel)
sub requests {
    my ($c) = @_;
    return (
        [ 'GET /vaults', GET => 'vaults' ],
        [ 'GET a file', GET => $c->file_uri('notes', 'f1.txt') ],
        [ 'HEAD a file', HEAD => $c->file_uri('notes', 'f1.txt') ],
        [ 'PUT a file', PUT => $c->file_uri('notes', 'new.txt'),
          body => 'during the outage' ],
        [ 'DELETE a file', DELETE => $c->file_uri('notes', 'f2.txt') ],
        [ 'GET the manifest', GET => 'vaults/notes/files' ],
        [ 'GET events', GET => 'vaults/notes/events?since=0' ],
        [ 'POST /vaults', POST => 'vaults', json => { name => 'more' } ],
        [ 'POST /sessions (log in)', POST => 'sessions', no_auth => 1,
          json => { username => 'alice',
                    password => 'correct horse battery staple' } ],
        [ 'POST /users (register)', POST => 'users', no_auth => 1,
          json => { username => 'bob',
                    password => 'correct horse battery staple' } ],
    );
}

sub outage_checks {
    my ($what, $ws) = @_;

    # REST on both instances
    my @p;
    for my $inst (qw(A B)) {
        for my $q (requests($c{$inst})) {
            my ($name, @req) = @$q;
            push @p, [ "$inst: $name", $c{$inst}->start(@req) ];
        }
    }
    # a hello and an op on open WebSocket connections, a new handshake
    my $ws_new = Gobi::WS->new(port => $B->port, token => $cb->token,
        no_connect => 1, timeout => 60);
    $ws->hello('notes', since => 0);
    $wsB->send_json({ type => 'delete', id => 41, path => 'f3.txt',
        base_version => 3 });
    $ws_new->connect;
    $ws_new->handshake;

    for (@p) {
        my ($name, $pending) = @$_;
        my $r = $pending->wait(60);
        is($r->status, 503, "$what, $name: 503") or diag $r->describe;
        my $j = $r->json;
        if ($name =~ /HEAD/) {
            # no body to a HEAD
            is($r->body, '', "$what, $name: no body");
        } else {
            is(ref $j eq 'HASH' && $j->{error}{code}, 'store_unavailable',
                "$what, $name: JSON code store_unavailable")
                or diag $r->body;
            ok(length($j->{error}{message} // ''), "$what, $name: message");
        }
        like($r->header('retry-after') // '', qr/^[1-9][0-9]*$/,
            "$what, $name: Retry-After in seconds");
        like($r->header('content-type') // '', qr{^application/json},
            "$what, $name: JSON") unless $name =~ /HEAD/;
    }

    my $m = $ws->recv_json(60);
    is_deeply([ @{ $m // {} }{qw(type code)} ], [ 'error',
        'store_unavailable' ], "$what: the hello gets an error message")
        or diag explain [ $m, $ws->last_msg ];
    my ($err, $before) = $wsB->recv_until(sub { $_->{type} ne 'event' }, 60);
    is_deeply([ @{ $err // {} }{qw(type code id)} ],
        [ 'error', 'store_unavailable', 41 ],
        "$what: a delete op gets an error message with its id")
        or diag explain [ $err, $before, $wsB->last_msg ];
    is_deeply(seqs($before), [], "$what: no event came");
    is($ws_new->status, 503, "$what: a new WebSocket handshake: 503");
    is($ws_new->response && $ws_new->response->error_code,
        'store_unavailable', "$what: with store_unavailable");
    like($ws_new->response && $ws_new->response->header('retry-after')
        // '', qr/^[1-9][0-9]*$/, "$what: and Retry-After");
}

sub recovery_checks {
    my ($what, $ws) = @_;
    ok(wait_until(sub { $ca->request(GET => 'vaults')->status == 200
                        && $cb->request(GET => 'vaults')->status == 200 },
                  $RECOVER),
        "$what: both instances answer 200 again (no restart)")
        or return;
    is_deeply([ sort $A->pid, $A->worker_pids ], $pids{A},
        "$what: A has the same master and workers");
    is_deeply([ sort $B->pid, $B->worker_pids ], $pids{B},
        "$what: B has the same master and workers");

    # the same WebSocket connections work again: a worker that saw the
    # outage answers 503-like errors at once until its probe of the store
    # comes back, so the session may have to say hello again
    my ($w, $ev);
    wait_until(sub {
        $ws->hello('notes', since => 0);
        ($w, $ev) = $ws->recv_replay(15);
        return 1 if ($w && $w->{type} // '') eq 'welcome';
        Time::HiRes::sleep(0.2);
        return 0;
    }, $RECOVER);
    is($w && $w->{type}, 'welcome', "$what: a hello on the same connection "
        . 'is welcome now') or diag explain $w;
    is($w && $w->{head_seq}, $head, "$what: head_seq $head (nothing was "
        . 'written during the outage)');

    # data from before, writes after, live delivery between instances
    for my $p (sort keys %content) {
        is($cb->get('notes', $p)->body, $content{$p}, "$what: $p from B");
    }
    my $r = $ca->put('notes', "after-$what.txt", "after $what");
    is($r->status, 201, "$what: PUT through A");
    is($r->json->{seq}, $head + 1, "$what: the next seq");
    $head = $r->json->{seq};
    $content{"after-$what.txt"} = "after $what";
    is_deeply(seqs(live_events($wsB, $head, 15)), [ $head ],
        "$what: the event reaches the old session on B live");
    is_deeply(seqs(live_events($ws, $head, 15)), [ $head ],
        "$what: and the re-welcomed session on A");

    if ($content{'f3.txt'}) {
        # a worker that has not yet probed the store again may still say
        # store_unavailable at once: the client retries, as it would
        my $ack;
        wait_until(sub {
            $wsB->send_json({ type => 'delete', id => 42, path => 'f3.txt',
                base_version => 3 });
            ($ack) = $wsB->recv_until(sub { $_->{type} =~ /^(?:ack|error)$/
                                            && ($_->{id} // 0) == 42 }, 15);
            return 1 if $ack && $ack->{type} eq 'ack';
            Time::HiRes::sleep(0.2);
            return 0;
        }, $RECOVER);
        is($ack && $ack->{id}, 42, "$what: the op the outage refused is "
            . 'acked now');
        $head = $ack->{seq} if $ack;
        delete $content{'f3.txt'};
        live_events($wsB, $head, 15);
        is_deeply(seqs(live_events($ws, $head, 15)), [ $head ],
            "$what: its event reaches A");
    }
    $r = $ca->request(POST => 'sessions', no_auth => 1,
        json => { username => 'alice',
                  password => 'correct horse battery staple' });
    is($r->status, 201, "$what: a login works");
    is_deeply(seqs($cb->events('notes', since => 0)->json->{events}),
        [ 1 .. $head ], "$what: the log has no hole");
}


subtest 'FerretDB stops (TERM); the driver\'s default timeouts' => sub {
    # a connection to A, upgraded before the outage, hello not yet sent
    my $ws = Gobi::WS->new(port => $A->port, token => $ca->token,
        timeout => 60);
    ok($ws->ok, 'a WebSocket on A') or return;
    ok($mongo->stop, 'FerretDB stops');
    outage_checks('TERM', $ws);
    ok($mongo->start, 'FerretDB starts again on port ' . $mongo->port
        . ', same data directory') or return diag $mongo->log;
    recovery_checks('TERM', $ws);
    $ws->close;
};


subtest 'FerretDB crashes (KILL), then comes back' => sub {
    # a connection to A, upgraded before the outage, hello not yet sent
    my $ws = Gobi::WS->new(port => $A->port, token => $ca->token,
        timeout => 60);
    ok($ws->ok, 'a WebSocket on A') or return;
    ok($mongo->stop('KILL'), 'FerretDB killed');
    outage_checks('KILL', $ws);
    ok($mongo->start, 'FerretDB starts again on the same port and data')
        or return diag $mongo->log;
    recovery_checks('KILL', $ws);
    $ws->close;
};


subtest 'more requests than threads during an outage: each gets its 503'
=> sub {
    ok($mongo->stop, 'FerretDB stops');
    # 2 workers x 4 threads on A; 24 requests wait their turn
    my $t0 = Time::HiRes::time();
    my @p = map { $ca->start(GET => 'vaults') } 1 .. 24;
    my %st;
    $st{ $_->wait(120)->status }++ for @p;
    is_deeply(\%st, { 503 => 24 }, 'all 24 answered 503') or diag explain \%st;
    note(sprintf 'the last 503 came after %.1f s (each request holds a '
        . 'thread for the driver\'s server selection timeout)',
        Time::HiRes::time() - $t0);
    ok($mongo->start, 'FerretDB starts again') or return;
    ok(wait_until(sub { $ca->request(GET => 'vaults')->status == 200 },
        $RECOVER), 'A answers 200 again');
};


$wsB->close;
ok($cl->stop, 'everything stops (the instances on QUIT, in time)');
my @a = $cl->alerts;
ok(!@a, 'no [alert], [emerg] or [crit]') or diag join "\n", @a;
for my $s ($A, $B) {
    like($s->error_log, qr/\[warn\] .*gobi: store unavailable/,
        'the outage is logged as a warning in ' . $s->servroot);
    my @err = grep { /\[error\]/ } split /\n/, $s->error_log;
    ok(!@err, 'no [error] in ' . $s->servroot) or diag join "\n", @err;
}

done_testing();
