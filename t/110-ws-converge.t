# Several clients on both workers keep a model of the vault from their
# replay and the live events while REST writes and their own WebSocket
# operations (some of them conflicting) go on; one client reconnects now
# and then with its cursor.  Every connection must see each seq exactly
# once and in order, and every model must end equal to the manifest.
use Gobi::Test;
use Gobi::WS;

plan tests => repeat_each() * blocks();

# applies one event to a model strictly (dies when it does not apply)
sub main::apply1 {
    my ($s, $e) = @_;
    my %content = map { $_ => $e->{$_} } qw(version hash size mtime);
    my $d = json_encode($e);
    my $t = $e->{type};
    if ($t eq 'create') {
        die "create at existing path: $d\n" if exists $s->{ $e->{path} };
        $s->{ $e->{path} } = \%content;
    } elsif ($t eq 'modify') {
        die "modify of missing path: $d\n" unless exists $s->{ $e->{path} };
        $s->{ $e->{path} } = \%content;
    } elsif ($t eq 'delete') {
        die "delete of missing path: $d\n" unless exists $s->{ $e->{path} };
        delete $s->{ $e->{path} };
    } elsif ($t eq 'rename') {
        die "rename from missing path: $d\n" unless exists $s->{ $e->{from} };
        die "rename onto existing path: $d\n" if exists $s->{ $e->{path} };
        delete $s->{ $e->{from} };
        $s->{ $e->{path} } = \%content;
    } else {
        die "unknown event: $d\n";
    }
}

# a client: connects, hello with its cursor, applies the replay
sub main::connect_client {
    my ($t, $V, $cl) = @_;
    my $ws = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
    die 'no 101' unless $ws->ok;
    $ws->hello('notes', since => $cl->{cursor}, device => $cl->{name});
    my ($w, $ev, $b, $other) = $ws->recv_replay;
    die "$cl->{name}: no replay: " . json_encode($other // $w) unless $ev;
    main::apply1($cl->{state}, $_) for @$ev;
    $cl->{cursor} = $w->{head_seq};
    $cl->{ws} = $ws;
    $cl->{worker} = $ws->worker_pid($t);
    $cl->{connects}++;
}

# reads what has come: events (each must be cursor + 1), answers
sub main::pump {
    my ($cl, $wait) = @_;
    while (my $m = $cl->{ws}->next_message($wait // 0.02)) {
        $wait = 0.02;
        die "$cl->{name}: the connection ended: " . json_encode($m) . "\n"
            if $m->{eof} || $m->{opcode} == 8;
        my $j = $m->{json} or next;
        if ($j->{type} eq 'event') {
            my $e = $j->{event};
            die "$cl->{name}: seq $e->{seq} after $cl->{cursor}\n"
                unless $e->{seq} == $cl->{cursor} + 1;
            main::apply1($cl->{state}, $e);
            $cl->{cursor} = $e->{seq};
            $cl->{events}++;
        } elsif ($j->{type} eq 'ack') {
            $cl->{acks}++;
            delete $cl->{pending}{ $j->{id} };
        } elsif ($j->{type} eq 'reject') {
            $cl->{rejects}{ $j->{code} }++;
            delete $cl->{pending}{ $j->{id} };
        } else {
            die "$cl->{name}: unexpected " . json_encode($j) . "\n";
        }
    }
}

run_tests();

__DATA__

=== TEST 1: four clients, REST writers and WebSocket operations: everybody converges
--- websocket
--- setup
user alice
vault notes
put notes a A
put notes b B
--- perl
my $seed = $ENV{GOBI_SEED} // 4242;
note("seed $seed (GOBI_SEED=...)");
srand $seed;
my @names = qw(a b c d e/f e/g h);
my @cl = map { { name => "dev$_", cursor => 0, state => {}, pending => {},
    acks => 0, events => 0, connects => 0 } } 1 .. 4;
my $ok = eval {
    main::connect_client($t, $V, $_) for @cl;
    my $id = 0;
    for my $round (1 .. 60) {
        # REST writes in flight
        my @p;
        for (1 .. 1 + int rand 3) {
            my $p = $names[rand @names];
            push @p, rand() < 0.75
                ? $c->start(PUT => $c->file_uri('notes', $p),
                    body => "r$round $p")
                : $c->start(DELETE => $c->file_uri('notes', $p));
        }
        # operations from clients, based on what each one knows
        for my $cl (@cl[ map { int rand @cl } 1 .. 2 ]) {
            my @live = sort keys %{ $cl->{state} } or next;
            my @free = grep { !exists $cl->{state}{$_} } @names;
            my $p = $live[rand @live];
            my %m = (id => ++$id, base_version => $cl->{state}{$p}{version});
            if (@free && rand() < 0.6) {
                %m = (%m, type => 'rename', from => $p,
                      to => $free[rand @free]);
            } else {
                %m = (%m, type => 'delete', path => $p);
            }
            $cl->{pending}{$id} = 1;
            $cl->{ws}->send_json(\%m);
        }
        $_->wait for @p;
        main::pump($_) for @cl;
        # one client goes away and comes back with its cursor
        if ($round % 15 == 7) {
            my $cl = $cl[ $round % @cl ];
            main::pump($cl, 0.3) while %{ $cl->{pending} };
            $cl->{ws}->close;
            main::connect_client($t, $V, $cl);
        }
    }
    my $head = $c->events('notes', since => 0)->json->{head_seq};
    for my $cl (@cl) {
        my $deadline = time + 20;
        main::pump($cl, 0.2) while ($cl->{cursor} < $head
            || %{ $cl->{pending} }) && time < $deadline;
    }
    1;
};
ok($ok, 'every event applied in seq order, no gap, no duplicate')
    or diag $@;
my $m = $c->manifest('notes')->json;
my %now;
for my $f (@{ $m->{files} }) {
    $now{ $f->{path} } = { map { $_ => $f->{$_} } qw(version hash size mtime) }
        unless $f->{deleted};
}
for my $cl (@cl) {
    is($cl->{cursor}, $m->{seq}, "$cl->{name}: cursor at the head");
    is_deeply($cl->{state}, \%now, "$cl->{name}: its model is the manifest")
        or diag explain { model => $cl->{state}, manifest => \%now };
    is_deeply($cl->{pending}, {}, "$cl->{name}: every operation answered");
    note("$cl->{name} (worker $cl->{worker}): $cl->{events} events, "
        . "$cl->{acks} acks, rejects " . json_encode($cl->{rejects} || {})
        . ", $cl->{connects} connects");
}
my %workers = map { ($_->{worker} // 0) => 1 } @cl;
note('workers: ' . join ' ', sort keys %workers);
--- no_error_log
[error]



=== TEST 2: two clients race to rename the same file: one ack, one reject pointing at the winner
--- websocket
--- setup
user alice
vault notes
put notes a.txt A
--- perl
for my $round (1 .. 10) {
    my $head = $c->events('notes', since => 0)->json->{head_seq};
    my $cur = $round == 1 ? 'a.txt' : 'a' . ($round - 1) . '.txt';
    my $ver = $c->manifest('notes')->json;
    ($ver) = map { $_->{version} } grep { $_->{path} eq $cur && !$_->{deleted} }
        @{ $ver->{files} };
    my @ws = map { Gobi::WS->new(port => $t->port, token => $V->{TOKEN}) }
        1 .. 2;
    $_->subscribe('notes', since => $head) for @ws;
    my @to = ("a$round.txt", "x$round.txt");
    $ws[$_]->send_json({ type => 'rename', id => "r$_", from => $cur,
        to => $to[$_], base_version => $ver }) for 0, 1;
    my @ans = map { my $i = $_; ($ws[$i]->recv_until(sub {
        $_->{type} =~ /^(?:ack|reject)$/ }))[0] } 0, 1;
    my @acked = grep { $ans[$_] && $ans[$_]{type} eq 'ack' } 0, 1;
    is(scalar @acked, 1, "round $round: exactly one ack") or next;
    my $win = $acked[0];
    my $lose = 1 - $win;
    json_subset_ok($ans[$lose], { type => 'reject',
        code => qr/^(?:file_not_found|version_conflict)$/,
        actions => [ { op => 'rename_local', from => $cur,
                       to => $to[$win] } ] },
        "round $round: the loser is told to rename to the winner's path");
    if ($win == 1) {
        # keep the chain going from a$round.txt
        my $r = Gobi::WS->new(port => $t->port, token => $V->{TOKEN});
        $r->subscribe('notes', since => 0);
        $r->send_json({ type => 'rename', id => 'fix', from => $to[1],
            to => $to[0], base_version => $ans[1]{version} });
        my ($a) = $r->recv_until(sub { $_->{type} eq 'ack' });
        ok($a, "round $round: moved back to $to[0]");
    }
}
