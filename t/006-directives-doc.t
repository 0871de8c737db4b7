# docs/directives.md documents every directive of the module, and only
# those: each `ngx_command_t` table under ngx_gobi_module/ is read from the
# source, and each directive must have a section (a heading with its name)
# with `Syntax:`, `Default:` and `Context:` lines; the context must be the
# one of its NGX_HTTP_*_CONF flags, and a directive without arguments must
# have none in its syntax.  No nginx is started.
use strict;
use warnings;
use Test::More;
use File::Find;
use FindBin;

my $repo = "$FindBin::Bin/..";
my $doc_file = $ENV{GOBI_DIRECTIVES_DOC} || "$repo/docs/directives.md";

# ---- the directives of the code ------------------------------------------

my @sources;
find(sub { push @sources, $File::Find::name if /\.c\z/ },
     "$repo/ngx_gobi_module");

my (%code, @tables);

for my $file (sort @sources) {
    open my $fh, '<', $file or die "$file: $!";
    my $src = do { local $/; <$fh> };
    close $fh;
    $src =~ s{/\*.*?\*/}{ }gs;                  # comments

    while ($src =~ /ngx_command_t\s+(\w+)\s*\[\s*\]\s*=\s*\{(.*?)ngx_null_command/gs)
    {
        my ($table, $body) = ($1, $2);
        push @tables, $table;
        (my $short = $file) =~ s{^\Q$repo\E/}{};

        # { ngx_string("name"), FLAGS, setter, ... }
        while ($body =~ /\{\s*ngx_string\(\s*"([^"]+)"\s*\)\s*,\s*([^,]+),/g) {
            my ($name, $flags) = ($1, $2);
            $flags =~ s/\s+//g;
            my %f = map { $_ => 1 } split /\|/, $flags;
            die "$short: $name twice\n" if $code{$name};
            $code{$name} = { flags => \%f, file => $short, table => $table };
        }
    }
}

ok(scalar(grep { $_ eq 'ngx_http_gobi_commands' } @tables),
   'the command table ngx_http_gobi_commands is found')
    or diag "tables: @tables";
cmp_ok(scalar(keys %code), '>=', 25, 'the directives are read from it')
    or diag join ' ', sort keys %code;
ok($code{gobi_store} && $code{gobi_ws_allowed_origins},
   'first and last directives are among them');

my @not_gobi = grep { !/^gobi_/ } sort keys %code;
is_deeply(\@not_gobi, [], 'every directive is named gobi_*');


# ---- the sections of the doc ----------------------------------------------

open my $dh, '<', $doc_file or BAIL_OUT("$doc_file: $!");
my @lines = <$dh>;
close $dh;

my (%doc, $cur, $fence);

for my $line (@lines) {
    if ($line =~ /^\s*(```|~~~)/) {
        $fence = !$fence;
        next;
    }
    next if $fence;

    if ($line =~ /^#{1,6}\s+(.*?)\s*#*\s*$/) {
        my $title = $1;
        $title =~ s/`//g;
        $cur = undef;

        if ($title =~ /^(gobi_\w+)$/) {
            $cur = $1;
            $doc{$cur}{count}++;
            $doc{$cur}{lines} = [];
        }
        next;
    }

    push @{ $doc{$cur}{lines} }, $line if defined $cur;
}

cmp_ok(scalar(keys %doc), '>=', 25, "$doc_file has directive sections");


# ---- each directive of the code against its section -----------------------

my %ctx_of = (
    NGX_HTTP_MAIN_CONF => 'http',
    NGX_HTTP_SRV_CONF  => 'server',
    NGX_HTTP_LOC_CONF  => 'location',
);
my @ctx_order = qw(http server location);

for my $name (sort keys %code) {
    my $d = $code{$name};

    subtest $name => sub {
        my $s = $doc{$name};

        ok($s, "$name has a section in docs/directives.md")
            or return;
        is($s->{count}, 1, "$name has one section");

        my %field;
        for (@{ $s->{lines} }) {
            if (/^\s*(?:\*\*)?(Syntax|Default|Context):(?:\*\*)?\s*(.*?)\s*$/) {
                my ($k, $v) = ($1, $2);
                $v =~ s/`//g;
                $field{$k} = $v unless exists $field{$k};
            }
        }

        # Syntax: name args;
        ok(defined $field{Syntax}, 'a Syntax: line') or return;
        like($field{Syntax}, qr/^\Q$name\E(?:\s|;)/,
             'the syntax starts with the name');
        like($field{Syntax}, qr/;$/, 'the syntax ends with ";"');

        if ($d->{flags}{NGX_CONF_NOARGS}) {
            is($field{Syntax}, "$name;", 'no arguments, as in the code');
        } else {
            like($field{Syntax}, qr/^\Q$name\E\s+\S/,
                 'arguments, as in the code');
        }

        if ($d->{flags}{NGX_CONF_FLAG}) {
            like($field{Syntax}, qr/^\Q$name\E\s+on\s*\|\s*off;$/,
                 'a flag: "on | off"');
        }

        # Default: "—" or "name value;"
        ok(defined $field{Default}, 'a Default: line') or return;
        ok($field{Default} =~ /^(?:\x{2014}|\xe2\x80\x94|-|none)$/
           || $field{Default} =~ /^\Q$name\E\s+\S.*;$/,
           'the default is "—" or "name value;"')
            or diag "Default: $field{Default}";

        # Context: from the NGX_HTTP_*_CONF flags
        ok(defined $field{Context}, 'a Context: line') or return;
        my @want = grep { my $c = $_;
                          grep { $ctx_of{$_} eq $c && $d->{flags}{$_} }
                              keys %ctx_of } @ctx_order;
        ok(@want, "$name has an http context flag in $d->{file}");
        my @got = map { s/^\s+|\s+$//gr } split /,/, $field{Context};
        is_deeply(\@got, \@want,
                  'the context is the one of ' . join('|',
                  grep { /_CONF$/ } sort keys %{ $d->{flags} }));
    };
}


# ---- and nothing else -----------------------------------------------------

my @unknown = grep { !$code{$_} } sort keys %doc;
is_deeply(\@unknown, [], 'the doc names no directive the code lacks')
    or diag "not in any ngx_command_t table: @unknown";

done_testing();
