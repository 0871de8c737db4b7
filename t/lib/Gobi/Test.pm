package Gobi::Test;

# gobi's test harness: data blocks in the style of Test::Nginx, on
# Test::Base and core Perl.  See t/lib/Gobi/README.md for the sections.
#
#   use Gobi::Test;
#   plan tests => repeat_each() * blocks();   # one subtest per block
#   run_tests();
#   __DATA__
#   === TEST 1: register a user
#   --- request
#   POST /api/v1/users
#   {"username":"alice","password":"correct horse"}
#   --- error_code: 201
#   --- response_body_like: "username":"alice"
#   --- no_error_log
#   [error]
#
# Every block runs as one subtest against a fresh nginx in a fresh servroot
# (t/servroot/<test file>-<pid>/), which is stopped afterwards; then the
# error log must hold no [alert], [emerg] or [crit] line (unless an
# --- error_log line asks for it).

use strict;
use warnings;

use Test::Base ();      # no import: Gobi::Test is the default class
our @ISA = ('Test::Base');

use Carp qw(croak);
use Digest::SHA ();
use File::Basename qw(basename);
use File::Path qw(remove_tree);
use File::Temp ();
use JSON::PP ();
use MIME::Base64 ();
use Scalar::Util qw(blessed looks_like_number);
use B ();
use Test::More import => [qw(done_testing subtest note explain)];
use Time::HiRes ();

use Gobi::Server;
use Gobi::Client;

# Test::Base exports its own list (blocks, plan, is, ok, like, ...);
# these come on top
our @EXPORT = qw(
    run_tests run_block repeat_each
    gobi_server gobi_client
    blake2b_hex sha256_hex json_encode json_decode
    json_subset json_subset_ok error_code_is wait_until
    sqlite3_cmd sqlite_only
    done_testing subtest note explain
    $SERVROOT_BASE
);

our $SERVROOT_BASE = "$Gobi::Server::TDIR/servroot";

my $REPEAT = 1;
our %TYPES;
my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my $FAILED = 0;
my $RUN_NAME;           # <test file>-<pid>


# ---- exported helpers ---------------------------------------------------------

sub repeat_each {
    $REPEAT = shift if @_;
    return $REPEAT;
}

sub json_encode { $JSON->encode($_[0]) }
sub json_decode { my $v = eval { $JSON->decode($_[0]) }; $v }

sub sha256_hex { Digest::SHA::sha256_hex($_[0]) }

# BLAKE2b-256 of bytes, lowercase hex (coreutils b2sum; core Perl has none)
sub blake2b_hex {
    my ($bytes) = @_;
    my $tmp = File::Temp->new(DIR => $SERVROOT_BASE eq '' ? undef
                                   : _tmpdir());
    binmode $tmp;
    print $tmp $bytes;
    close $tmp;
    my $out = `b2sum -l 256 '$tmp'`;
    croak "b2sum failed" if $? || $out !~ /^([0-9a-f]{64})/;
    return $1;
}

sub _tmpdir {
    my $d = "$SERVROOT_BASE/tmp";
    mkdir $SERVROOT_BASE;
    mkdir $d;
    return $d;
}

# the sqlite3 command's path, or '' (tests that touch the SQLite store
# from outside: a lock held, events pruned)
my $SQLITE3;
sub sqlite3_cmd {
    $SQLITE3 //= do { my $p = `command -v sqlite3 2>/dev/null`; chomp $p; $p };
    return $SQLITE3;
}

# why a test that needs sqlite3 and the SQLite store is skipped, or undef
sub sqlite_only {
    return 'no sqlite3 command' unless sqlite3_cmd();
    return 'the store is not SQLite'
        if ($ENV{GOBI_TEST_STORE} // '') =~ /^mongodb:/;
    return undef;
}

# polls the condition every 20 ms until it holds (true) or the timeout
# (seconds, default 10) passes (false).  For conditions the server reaches
# a moment after it answers, e.g. a cleanup after a request ends.
sub wait_until {
    my ($cond, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 10);
    while (1) {
        return 1 if $cond->();
        return 0 if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.02);
    }
}

# a server for imperative tests: gobi_server(name => ..., config => ...)
sub gobi_server {
    my %o = @_;
    $o{name} //= run_name() . '/' . ($o{label} // 'server');
    return Gobi::Server->new(%o);
}

sub gobi_client { Gobi::Client->new(@_) }

# the servroot folder of this test file run
sub run_name {
    return $RUN_NAME if $RUN_NAME;
    (my $base = basename($0)) =~ s/\.t$//;
    _clean_stale($base);
    $RUN_NAME = "$base-$$";
    return $RUN_NAME;
}

# servroots kept by earlier runs of the same test file whose process is
# gone (so each file keeps at most the roots of its last failing run)
sub _clean_stale {
    my ($base) = @_;
    opendir my $d, $SERVROOT_BASE or return;
    for my $e (readdir $d) {
        next unless $e =~ /^\Q$base\E-(\d+)$/;
        next if kill 0, $1;
        remove_tree("$SERVROOT_BASE/$e");
    }
    closedir $d;
}

# is the decoded JSON `got` a superset of `want`?  Hashes: every key of
# want, recursively; arrays: same length, element-wise; qr//: like;
# numbers must be JSON numbers and strings JSON strings when want came
# from JSON text.  Returns (ok, where-it-differs).
sub json_subset {
    my ($got, $want, $where) = @_;
    $where //= '$';
    # number or string: look before anything stringifies a copy
    my $got_num = _is_num($got);
    my $got_str = _is_str($got);
    my $want_num = _is_num($want);
    if (ref $want eq 'Regexp') {
        return (0, "$where: undefined, want $want") unless defined $got;
        return ref $got ? (0, "$where: not a scalar")
             : $got =~ $want ? (1) : (0, "$where: '$got' !~ $want");
    }
    if (defined(my $type = _placeholder($want))) {
        return $TYPES{$type}->($got) ? (1)
            : (0, "$where: want $want, got " . (defined $got
                ? (ref $got ? $JSON->encode($got) : "'$got'") : 'null'));
    }
    if (ref $want eq 'HASH') {
        return (0, "$where: not an object") unless ref $got eq 'HASH';
        for my $k (sort keys %$want) {
            if ((_placeholder($want->{$k}) // '') eq 'absent') {
                return (0, "$where.$k: present") if exists $got->{$k};
                next;
            }
            return (0, "$where.$k: missing") unless exists $got->{$k};
            my @r = json_subset($got->{$k}, $want->{$k}, "$where.$k");
            return @r unless $r[0];
        }
        return (1);
    }
    if (ref $want eq 'ARRAY') {
        return (0, "$where: not an array") unless ref $got eq 'ARRAY';
        return (0, "$where: " . @$got . " elements, want " . @$want)
            unless @$got == @$want;
        for my $i (0 .. $#$want) {
            my @r = json_subset($got->[$i], $want->[$i], "$where\[$i\]");
            return @r unless $r[0];
        }
        return (1);
    }
    if (JSON::PP::is_bool($want)) {
        return (0, "$where: not a boolean")
            unless JSON::PP::is_bool($got) || (defined $got && !ref $got
                && $got =~ /^[01]$/ && _is_num($got));
        return (!!$got == !!$want) ? (1) : (0, "$where: boolean differs");
    }
    if (!defined $want) {
        return defined $got ? (0, "$where: want null") : (1);
    }
    return (0, "$where: missing (null)") unless defined $got;
    return (0, "$where: not a scalar") if ref $got && !JSON::PP::is_bool($got);
    if ($want_num) {
        return (0, "$where: '$got' is a string, want the number $want")
            unless $got_num;
        return $got == $want ? (1) : (0, "$where: $got != $want");
    }
    return (0, "$where: the number $got, want the string '$want'")
        if $got_num && !$got_str;
    return "$got" eq $want ? (1) : (0, "$where: '$got' ne '$want'");
}

# placeholders in wanted JSON: "<number>", "<integer>", "<string>",
# "<hex64>" (a BLAKE2b-256 hex string), "<bool>", "<any>" (present, even
# null), "<absent>" (the key must not be there)
%TYPES = (
    number  => sub { defined $_[0] && !ref $_[0] && _is_num($_[0]) },
    integer => sub { defined $_[0] && !ref $_[0] && _is_num($_[0])
                     && $_[0] =~ /^-?\d+$/ },
    string  => sub { defined $_[0] && !ref $_[0] && !_is_num($_[0]) },
    hex64   => sub { defined $_[0] && !ref $_[0] && $_[0] =~ /^[0-9a-f]{64}$/ },
    bool    => sub { JSON::PP::is_bool($_[0]) },
    any     => sub { 1 },
    absent  => sub { 0 },       # (handled where keys are looked at)
);

# the name of a "<type>" placeholder (without stringifying numbers)
sub _placeholder {
    return undef if ref $_[0] || !defined $_[0] || !_is_str($_[0]);
    return $_[0] =~ /^<(\w+)>$/ && (exists $TYPES{$1} || $1 eq 'absent')
        ? $1 : undef;
}

sub _is_num {
    my $f = B::svref_2object(\$_[0])->FLAGS;
    return ($f & (B::SVp_IOK | B::SVp_NOK)) && !($f & B::SVp_POK) ? 1 : 0;
}

sub _is_str {
    my $f = B::svref_2object(\$_[0])->FLAGS;
    return $f & B::SVp_POK ? 1 : 0;
}

sub json_subset_ok {
    my ($got, $want, $name) = @_;
    my ($ok, $why) = json_subset($got, $want);
    my $tb = Test::More->builder;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $tb->ok($ok, $name) or $tb->diag("  $why\n  got: "
        . (defined $got ? $JSON->encode($got) : 'undef'));
    return $ok;
}

# error_code_is($res, 'vault_not_found', $name): a JSON error body with that
# code and a non-empty message
sub error_code_is {
    my ($res, $code, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $j = $res->json;
    my $ok = ref $j eq 'HASH' && ref $j->{error} eq 'HASH'
        && defined $j->{error}{code} && $j->{error}{code} eq $code
        && defined $j->{error}{message} && !ref $j->{error}{message}
        && length $j->{error}{message};
    Test::More::ok($ok, $name // "error code $code")
        or Test::More::diag("  got: " . $res->describe);
    return $ok;
}


# ---- the block runner ------------------------------------------------------

our @SECTIONS = qw(
    main_config http_config gobi_config config extra_config no_module
    websocket workers init setup perl request raw_request more_headers
    error_code error_code_like response_body response_body_like
    response_body_unlike json_error response_json response_headers
    response_headers_like error_log no_error_log check must_die config_ok
    no_shutdown_check ONLY SKIP LAST
);

sub run_tests {
    my @blocks = Test::Base::blocks();
    my %known = map { $_ => 1 } @SECTIONS;
    for my $block (@blocks) {
        my @bad = grep { !$known{$_} } @{ $block->_section_order };
        croak "unknown section(s) '@bad' in '" . $block->name . "'" if @bad;
    }
    if ($ENV{GOBI_TEST_DRY}) {
        # the blocks parse and their eval sections run: nothing else
        Test::More::pass($_->name) for @blocks;
        Test::More::done_testing() unless Test::More->builder->has_plan;
        return;
    }
    for my $i (1 .. $REPEAT) {
        for my $block (@blocks) {
            run_block($block, $i);
        }
    }
    Test::More::done_testing() unless Test::More->builder->has_plan;
}

END {
    # keep the servroots of a failing run for a look
    if ($RUN_NAME && -d "$SERVROOT_BASE/$RUN_NAME") {
        my $tb = Test::More->builder;
        if (!$FAILED && $tb->is_passing && !$ENV{GOBI_KEEP}) {
            remove_tree("$SERVROOT_BASE/$RUN_NAME");
        } else {
            print STDERR "# servroots kept in $SERVROOT_BASE/$RUN_NAME\n";
        }
    }
}

sub _sec {
    my ($block, $name) = @_;
    return undef unless exists $block->{$name};
    my @v = @{ $block->{$name} };
    return $v[0];
}

sub _lines {
    my ($v) = @_;
    return () unless defined $v;
    return @$v if ref $v eq 'ARRAY';
    return ($v) if ref $v;
    return grep { length } map { s/^\s+|\s+$//gr } split /\n/, $v;
}

sub run_block {
    my ($block, $rep) = @_;
    my $name = $block->name;
    $name .= " (repeat $rep)" if $rep && $REPEAT > 1;
    my $ok = Test::More::subtest($name => sub { _run_block($block) });
    $FAILED++ unless $ok;
    return $ok;
}

sub _run_block {
    my ($block) = @_;
    my $seq = $block->seq_num;
    (my $label = $block->name) =~ s/[^A-Za-z0-9]+/_/g;
    $label = lc substr($label, 0, 40);
    $label =~ s/_+$//;
    my $s = Gobi::Server->new(
        name        => run_name() . "/$seq-$label",
        main_config => _sec($block, 'main_config'),
        http_config => _sec($block, 'http_config'),
        gobi_config => _sec($block, 'gobi_config'),
        config      => _sec($block, 'config'),
        extra_config => _sec($block, 'extra_config'),
        (defined _sec($block, 'no_module') ? (no_module => 1) : ()),
        (defined _sec($block, 'websocket') ? (websocket => 1) : ()),
        (defined _sec($block, 'workers')
            ? (workers => _sec($block, 'workers')) : ()),
    );
    $s->prepare;

    my %V = (
        SERVROOT => $s->servroot,
        PORT     => $s->port,
        HOST     => '127.0.0.1:' . $s->port,
        PASSWORD => $Gobi::Client::DEFAULT_PASSWORD,
    );
    my $c = $s->client;
    my $exp = sub { map { _to_re($_, \%V) } _lines(_sec($block, $_[0])) };

    if (defined(my $code = _sec($block, 'init'))) {
        _hook($block, 'init', $code)->($s, \%V, undef, $c);
    }
    Test::More::diag($s->config_text) if $ENV{GOBI_TEST_VERBOSE};

    if (defined _sec($block, 'must_die')) {
        my ($rc, $out) = $s->test_config;
        Test::More::isnt($rc, 0, 'nginx -t fails') or Test::More::diag($out);
        my $started = $s->start;
        Test::More::ok(!$started, 'nginx does not start')
            or Test::More::diag($s->error_log);
        $s->stop if $started;
        my $all = $out . $s->start_output . $s->error_log;
        for my $re ($exp->('error_log')) {
            Test::More::like($all, $re, "output has $re");
        }
        for my $re ($exp->('no_error_log')) {
            Test::More::unlike($all, $re, "output has no $re");
        }
        return;
    }

    if (defined _sec($block, 'config_ok')) {
        my ($rc, $out) = $s->test_config;
        Test::More::is($rc, 0, 'nginx -t passes') or Test::More::diag($out);
    }

    unless ($s->start) {
        Test::More::fail('nginx starts');
        Test::More::diag($s->start_output . $s->error_log);
        return;
    }

    my $ok = eval {
        _run_steps($block, $s, $c, \%V);
        1;
    };
    my $err = $@;
    Test::More::fail("block died: $err") unless $ok;

    my $quit = $s->stop;
    Test::More::ok($quit, 'nginx exits on QUIT')
        unless defined _sec($block, 'no_shutdown_check');

    my $log = $s->error_log;
    my @expected = $exp->('error_log');
    for my $re (@expected) {
        Test::More::like($log, $re, "error log has $re");
    }
    for my $re ($exp->('no_error_log')) {
        my @hit = grep { $_ =~ $re } split /\n/, $log;
        Test::More::ok(!@hit, "error log has no $re")
            or Test::More::diag(join "\n", @hit[0 .. ($#hit > 9 ? 9 : $#hit)]);
    }
    my @alerts = grep { my $l = $_; !grep { $l =~ $_ } @expected }
        $s->alerts;
    Test::More::ok(!@alerts, 'no [alert], [emerg] or [crit] in the error log')
        or Test::More::diag(join "\n", @alerts);
}

sub _to_re {
    my ($x, $V) = @_;
    return $x if ref $x eq 'Regexp';
    $x = _subst($x, $V) if $V;
    return qr/\Q$x\E/;
}

# compiles a --- init/perl/check section: sub ($server, \%vars, $res, $client)
sub _hook {
    my ($block, $what, $code) = @_;
    my $sub = eval "package main;\nuse strict;\nuse warnings;\n"
        . "sub { my (\$t, \$V, \$res, \$c) = \@_;\n#line 1 \"--- $what\"\n"
        . "$code\n}";
    croak "--- $what of '" . $block->name . "': $@" if $@;
    return $sub;
}

# $NAME and ${NAME} of known variables
sub _subst {
    my ($text, $V, $quote) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(?:\{([A-Z][A-Z0-9_]*)\}|([A-Z][A-Z0-9_]*))}{
        my $n = $1 // $2;
        exists $V->{$n} ? ($quote ? quotemeta $V->{$n} : $V->{$n}) : $&
    }ge;
    return $text;
}

# the section's value for request i of n: arrays are per request,
# a scalar is for the last request only (or all, for more_headers)
sub _for_req {
    my ($v, $i, $n, $all) = @_;
    return undef unless defined $v;
    return $v->[$i] if ref $v eq 'ARRAY';
    return $v if $all || $i == $n - 1;
    return undef;
}

sub _parse_headers {
    my ($text, $V, $is_eval) = @_;
    return [] unless defined $text;
    return [ map { [ $_, $text->{$_} ] } sort keys %$text ]
        if ref $text eq 'HASH';
    $text = _subst($text, $V);
    my @h;
    for (split /\n/, $text) {
        next unless /\S/;
        my ($k, $v) = /^\s*([^:]+?)\s*:\s?(.*?)\s*$/
            or croak "bad header line '$_'";
        push @h, [ $k, $v ];
    }
    return \@h;
}

# "METHOD URI\nbody" or { method, uri, body, headers }
sub _parse_request {
    my ($r, $V, $is_eval) = @_;
    return $r if ref $r eq 'HASH';
    my ($line, $body) = split /\n/, $r, 2;
    $line = _subst($line, $V);
    $line =~ s/^\s+//;
    my ($method, $uri) = split ' ', $line;
    croak "bad request line '$line'" unless defined $uri;
    if (defined $body) {
        $body = _subst($body, $V) unless $is_eval;
        chomp $body unless $is_eval;
    }
    return { method => $method, uri => $uri, body => $body };
}

sub _run_steps {
    my ($block, $s, $c, $V) = @_;

    if (defined(my $setup = _sec($block, 'setup'))) {
        _run_setup($setup, $s, $c, $V);
    }
    if (defined(my $code = _sec($block, 'perl'))) {
        _hook($block, 'perl', $code)->($s, $V, undef, $c);
    }

    my $is_eval = ($block->_section_map->{request}{filters} // '') =~ /eval/;
    my @reqs;
    if (defined(my $raw = _sec($block, 'raw_request'))) {
        @reqs = map { { raw => $_ } } (ref $raw ? @$raw : ($raw));
    } elsif (defined(my $r = _sec($block, 'request'))) {
        @reqs = map { _parse_request($_, $V, $is_eval) }
            (ref $r eq 'ARRAY' ? @$r : ($r));
    }

    my $n = @reqs;
    my @res;
    for my $i (0 .. $#reqs) {
        my $q = $reqs[$i];
        my $res;
        if (exists $q->{raw}) {
            $res = $c->raw(_subst($q->{raw}, $V));
        } else {
            my $h = _parse_headers(
                _for_req(_sec($block, 'more_headers'), $i, $n, 1), $V);
            push @$h, @{ _parse_headers($q->{headers}, $V) } if $q->{headers};
            my $mh = join "\n", map { $_->[0] } @$h;
            $res = $c->request($q->{method}, $q->{uri}, body => $q->{body},
                headers => $h, no_auth => 1);
        }
        push @res, $res;
        $V->{RESPONSES} = \@res;
        _check_response($block, $res, $i, $n, $V);
    }

    if (defined(my $code = _sec($block, 'check'))) {
        _hook($block, 'check', $code)->($s, $V, $res[-1], $c);
    }
}

sub _check_response {
    my ($block, $res, $i, $n, $V) = @_;
    my $tag = $n > 1 ? ' (request ' . ($i + 1) . ')' : '';
    if (!$res->status) {
        Test::More::fail("an answer$tag");
        Test::More::diag($res->error // 'no answer');
        return;
    }
    Test::More::note($res->describe) if $ENV{GOBI_TEST_VERBOSE};

    if (defined(my $code = _for_req(_sec($block, 'error_code'), $i, $n))) {
        Test::More::is($res->status, $code, "status$tag")
            or Test::More::diag($res->describe);
    }
    if (defined(my $l = _for_req(_sec($block, 'error_code_like'), $i, $n))) {
        Test::More::like($res->status, ref $l ? $l : qr/$l/, "status$tag")
            or Test::More::diag($res->describe);
    }
    if (defined(my $b = _for_req(_sec($block, 'response_body'), $i, $n))) {
        $b = _subst($b, $V);
        Test::More::is($res->body, $b, "body$tag");
    }
    if (defined(my $l = _for_req(_sec($block, 'response_body_like'), $i, $n))) {
        my $re = ref $l eq 'Regexp' ? $l : do {
            my $t = _subst($l, $V, 1);
            chomp $t;
            qr/$t/s;
        };
        Test::More::like($res->body, $re, "body like$tag");
    }
    if (defined(my $l = _for_req(_sec($block, 'response_body_unlike'), $i, $n))) {
        my $re = ref $l eq 'Regexp' ? $l : do {
            my $t = _subst($l, $V, 1);
            chomp $t;
            qr/$t/s;
        };
        Test::More::unlike($res->body, $re, "body unlike$tag");
    }
    if (defined(my $code = _for_req(_sec($block, 'json_error'), $i, $n))) {
        error_code_is($res, $code, "error code $code$tag");
    }
    if (defined(my $j = _for_req(_sec($block, 'response_json'), $i, $n))) {
        my $want = ref $j ? $j : json_decode(_subst($j, $V));
        croak "--- response_json of '" . $block->name . "' is not JSON"
            unless defined $want || !defined $j;
        json_subset_ok($res->json, $want, "json$tag")
            or Test::More::diag($res->describe);
    }
    if (defined(my $h = _for_req(_sec($block, 'response_headers'), $i, $n))) {
        for my $line (ref $h eq 'HASH' ? map { "$_: $h->{$_}" } sort keys %$h
                                       : split /\n/, _subst($h, $V))
        {
            next unless $line =~ /\S/;
            if ($line =~ /^\s*!\s*(\S+?)\s*:?\s*$/) {
                Test::More::ok(!defined $res->header($1), "no $1 header$tag")
                    or Test::More::diag("$1: " . $res->header($1));
                next;
            }
            my ($k, $v) = $line =~ /^\s*([^:]+?)\s*:\s?(.*?)\s*$/
                or croak "bad response_headers line '$line'";
            Test::More::is($res->header($k), $v, "header $k$tag");
        }
    }
    if (defined(my $h = _for_req(_sec($block, 'response_headers_like'), $i, $n)))
    {
        for my $line (split /\n/, $h) {
            next unless $line =~ /\S/;
            my ($k, $v) = $line =~ /^\s*([^:]+?)\s*:\s?(.*?)\s*$/
                or croak "bad response_headers_like line '$line'";
            $v = _subst($v, $V, 1);
            Test::More::like($res->header($k) // '<none>', qr/$v/,
                "header $k like$tag");
        }
    }
}


# ---- --- setup -------------------------------------------------------------
#
#   user NAME [PASSWORD]       register + log in: $TOKEN, $TOKEN_NAME,
#                              $BASIC, $BASIC_NAME, $USER_ID, $USER_ID_NAME
#   register NAME [PASSWORD]   register only
#   login NAME [PASSWORD]      log in: $TOKEN, $TOKEN_NAME
#   as NAME                    $TOKEN (and later requests) become NAME's
#   vault NAME                 create a vault as the current user: $VAULT_ID
#   put VAULT PATH [TEXT]      upload TEXT (\n, \t, \xHH escapes): $VERSION,
#                              $HASH, $SIZE, $SEQ (and $VERSION_1.. per put)
#   delete VAULT PATH          delete: $VERSION, $SEQ
#   request [CODE] METHOD URI [BODY]   any request as the current user;
#                              CODE given: the status must be it
#   set NAME VALUE             $NAME = VALUE
#
# NAME in variable names: upper-cased, non-word characters as '_'.
# Vault names and paths are written as in a URI (%XX escapes, decoded
# once); the vault name in `vault` too.

sub _vname { my $n = uc shift; $n =~ s/\W/_/g; $n }

# names and paths in --- setup are written as in a URI: %XX escapes
sub _uri_unescape {
    my ($t) = @_;
    $t =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $t;
}

sub _unescape {
    my ($t) = @_;
    $t =~ s/\\(n|t|r|\\|x([0-9a-fA-F]{2}))/
        $1 eq 'n' ? "\n" : $1 eq 't' ? "\t" : $1 eq 'r' ? "\r"
        : $1 eq '\\' ? '\\' : chr hex $2/ge;
    return $t;
}

sub _run_setup {
    my ($setup, $s, $c, $V) = @_;
    my @cmds = ref $setup eq 'ARRAY' ? @$setup : split /\n/, $setup;
    my $puts = 0;
    for my $line (@cmds) {
        next if ref $line eq 'CODE' && ($line->($s, $V, $c), 1);
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '' || $line =~ /^#/;
        $line = _subst($line, $V);
        my ($cmd, $rest) = split ' ', $line, 2;
        $rest //= '';
        if ($cmd eq 'user' || $cmd eq 'register' || $cmd eq 'login') {
            my ($u, $p) = split ' ', $rest, 2;
            $p = undef if defined $p && $p eq '';
            my $N = _vname($u);
            if ($cmd ne 'login') {
                my $res = $c->register($u, $p);
                croak "setup '$line': " . $res->describe
                    unless $res->status == 201;
                my $j = $res->json || {};
                $V->{USER_ID} = $V->{"USER_ID_$N"} = $j->{id}
                    if defined $j->{id};
            }
            if ($cmd ne 'register') {
                my $tok = $c->login($u, $p);
                $V->{TOKEN} = $V->{"TOKEN_$N"} = $tok;
                $V->{USER} = $u;
            }
            $V->{BASIC} = $V->{"BASIC_$N"} =
                Gobi::Client::basic_auth($u, $c->password_of($u));
        } elsif ($cmd eq 'as') {
            my $N = _vname($rest);
            $c->as($rest);
            $V->{TOKEN} = $V->{"TOKEN_$N"};
            $V->{BASIC} = $V->{"BASIC_$N"};
            $V->{USER} = $rest;
        } elsif ($cmd eq 'vault') {
            my $j = $c->create_vault(_uri_unescape($rest));
            $V->{VAULT_ID} = $j->{id};
        } elsif ($cmd eq 'put') {
            my ($vault, $path, $text) = split ' ', $rest, 3;
            my $res = $c->put(_uri_unescape($vault), _uri_unescape($path),
                _unescape($text // ''));
            croak "setup '$line': " . $res->describe
                unless $res->status == 200 || $res->status == 201;
            my $j = $res->json || {};
            $puts++;
            $V->{VERSION} = $V->{"VERSION_$puts"} = $j->{version};
            $V->{HASH} = $V->{"HASH_$puts"} = $j->{hash};
            $V->{SIZE} = $j->{size};
            $V->{SEQ} = $j->{seq};
        } elsif ($cmd eq 'delete') {
            my ($vault, $path) = split ' ', $rest, 2;
            my $res = $c->delete(_uri_unescape($vault), _uri_unescape($path));
            croak "setup '$line': " . $res->describe
                unless $res->status == 200;
            my $j = $res->json || {};
            $V->{VERSION} = $j->{version};
            $V->{SEQ} = $j->{seq};
        } elsif ($cmd eq 'request') {
            my $want;
            $want = $1 if $rest =~ s/^(\d{3})\s+//;
            my ($m, $u, $b) = split ' ', $rest, 3;
            my $res = $c->request($m, $u, body => $b);
            croak "setup '$line': " . $res->describe
                if defined $want ? $res->status != $want : !$res->status;
            $V->{LAST} = $res;
        } elsif ($cmd eq 'strategy') {
            my ($vault, $name) = split ' ', $rest, 2;
            my $res = $c->request(PATCH => 'vaults/' . $vault,
                json => { conflict_strategy => $name });
            croak "setup '$line': " . $res->describe
                unless $res->status == 200;
        } elsif ($cmd eq 'set') {
            my ($k, $v) = split ' ', $rest, 2;
            $V->{$k} = $v;
        } else {
            croak "setup: unknown command '$cmd'";
        }
    }
}


# ---- filters ----------------------------------------------------------------

package Gobi::Test::Filter;

use strict;
use warnings;
our @ISA = ('Test::Base::Filter');

# eval in package main, and die (not return $@) on an error
sub eval {
    my $self = shift;
    my $code = shift;
    my @r = CORE::eval("package main;\nno strict;\n#line 1 \"eval section\"\n"
        . $code);
    die "eval section of '" . $self->current_block->name . "': $@" if $@;
    return @r;
}

# parses a section as JSON
sub json {
    my $self = shift;
    my $text = shift;
    return JSON::PP->new->utf8->allow_nonref->decode($text);
}

1;
