# The web page: gobi_web serves the files of web/ embedded in the module
# (GET and HEAD, types, ETag and 304, JSON errors, nothing but its own
# names), gobi_web_root serves a folder instead, and the page itself works
# in headless Chromium (t/support/web_browser.py: log in, upload, live
# changes, rename, delete, history and restore), its screenshots left in
# t/servroot/web-shots/ (GOBI_WEB_SHOTS=DIR: there).
use Gobi::Test;
use FindBin;
use File::Path qw(make_path);
use File::Temp ();

my $repo = "$FindBin::Bin/..";

# the committed generated file is the one web/ makes
sub main::embedded_up_to_date {
    my $want = `$repo/scripts/web-embed $repo/web`;
    open(my $fh, '<', "$repo/ngx_gobi_module/ngx_http_gobi_web_files.c")
        or return 0;
    local $/;
    my $have = <$fh>;
    return $? == 0 && $have eq $want;
}

sub main::slurp { open(my $fh, '<:raw', $_[0]) or die "$_[0]: $!"; local $/; <$fh> }

# Debian's python3 has python3-selenium (not one earlier on PATH)
my $py = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';

sub main::have_browser {
    return -x ($ENV{GOBI_CHROMIUM} || '/usr/bin/chromium')
        && -x ($ENV{GOBI_CHROMEDRIVER} || '/usr/bin/chromedriver')
        && system($py, '-c', 'import selenium') == 0;
}

# t/support/web_browser.py against the block's server as alice, vault
# notes: its "ok"/"not ok" lines become tests; its output is returned
sub main::browser {
    my ($t, $V, $shots) = @_;
    my @cmd = ($py, "$repo/t/support/web_browser.py",
               'http://127.0.0.1:' . $t->port, 'alice', $V->{PASSWORD},
               'notes', $shots);
    my $out = '';
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) { open(STDERR, '>&', \*STDOUT); exec(@cmd) or exit 3 }
    while (my $l = <$fh>) {
        $out .= $l;
        if ($l =~ /^(not )?ok - (.*)/) { ok(!$1, "browser: $2") }
        elsif ($l =~ /^#/) { note($l) }
    }
    close $fh;
    is($? >> 8, 0, 'the browser run passed') or diag $out;
    return $out;
}

run_tests();

__DATA__

=== TEST 1: /app/ is index.html, from the module, with its type, ETag, no-cache and a CSP
--- extra_config
location /app/ { gobi_web; }
--- request
GET /app/
--- error_code: 200
--- response_headers_like
Content-Type: ^text/html; charset=utf-8$
ETag: ^"[0-9a-f]{8}-[0-9a-f]+"$
Cache-Control: ^no-cache$
Content-Security-Policy: default-src 'self'
X-Content-Type-Options: ^nosniff$
--- response_body_like: <title>gobi</title>.*<script src="app.js"
--- check
is($res->body, main::slurp("$FindBin::Bin/../web/index.html"), 'the bytes of web/index.html');
ok(main::embedded_up_to_date(), 'ngx_http_gobi_web_files.c is what scripts/web-embed makes of web/ (run make)');
--- no_error_log
[error]



=== TEST 2: the script and the style sheet, with their types; a query string is ignored
--- extra_config
location /app/ { gobi_web; }
--- request eval
["GET /app/app.js", "GET /app/app.css?v=2", "GET /app/index.html"]
--- error_code eval
[200, 200, 200]
--- response_headers_like eval
['Content-Type: ^text/javascript; charset=utf-8$',
 'Content-Type: ^text/css; charset=utf-8$',
 'Content-Type: ^text/html; charset=utf-8$']
--- check
my $r = $V->{RESPONSES};
is($r->[0]->body, main::slurp("$FindBin::Bin/../web/app.js"), 'app.js');
is($r->[1]->body, main::slurp("$FindBin::Bin/../web/app.css"), 'app.css');
ok(!defined $r->[0]->header('content-security-policy'), 'the CSP is the page\'s');



=== TEST 3: the ETag answers 304 to If-None-Match; HEAD has the headers and no body
--- extra_config
location /app/ { gobi_web; }
--- perl
my $cl = $t->client;
my $r = $cl->request('GET', '/app/app.js', no_auth => 1);
my $etag = $r->header('etag');
ok($etag, "ETag $etag");
my $r2 = $cl->request('GET', '/app/app.js', no_auth => 1,
                     headers => { 'If-None-Match' => $etag });
is($r2->status, 304, 'If-None-Match: 304');
is($r2->body, '', 'no body');
my $r3 = $cl->request('GET', '/app/app.js', no_auth => 1,
                     headers => { 'If-None-Match' => '"00000000-1"' });
is($r3->status, 200, 'another ETag: 200');
my $h = $cl->request('HEAD', '/app/', no_auth => 1);
is($h->status, 200, 'HEAD: 200');
is($h->body, '', 'HEAD: no body');
is($h->header('content-length'), -s "$FindBin::Bin/../web/index.html", 'HEAD: Content-Length');
is($h->header('etag'), $cl->request('GET', '/app/', no_auth => 1)->header('etag'),
   'HEAD: the same ETag');
--- request
GET /app/app.css
--- error_code: 200



=== TEST 4: unknown names, other folders, dot files are 404 JSON; traversals never reach a file
--- extra_config
location /app/ { gobi_web; }
location / { return 418; }
--- request eval
["GET /app/nope.html", "GET /app/sub/index.html", "GET /app/.htaccess",
 "GET /app/a%5Cb", "GET /app/index.html/", "GET /app/app%2ejs/",
 "GET /app/%2e%2e%2fconf%2fnginx.conf", "GET /app/..%2f..%2fconf%2fnginx.conf",
 "GET /app/app.js%00.png"]
--- error_code eval
[404, 404, 404, 404, 404, 404, 418, 400, 400]
--- check
my @r = @{ $V->{RESPONSES} };
for my $i (0 .. 5) {
    error_code_is($r[$i], 'not_found', "request $i: not_found");
    is($r[$i]->header('content-type'), 'application/json', "request $i: JSON");
}
# nginx resolves the dots before the location is chosen: out of /app/
--- no_error_log
[error]



=== TEST 5: methods other than GET and HEAD are 405 JSON with Allow
--- extra_config
location /app/ { gobi_web; }
--- request eval
["POST /app/\nx", "PUT /app/app.js\nx", "DELETE /app/index.html"]
--- error_code eval
[405, 405, 405]
--- json_error: method_not_allowed
--- response_headers
Allow: GET, HEAD



=== TEST 6: an exact location and a regex location serve the page too
--- extra_config
location = /web/ { gobi_web; }
location ~ ^/w/[a-z.]+$ { gobi_web; }
--- request eval
["GET /web/", "GET /w/app.css", "GET /w/nope"]
--- error_code eval
[200, 200, 404]



=== TEST 7: gobi_web_root serves a folder: Last-Modified and ETag, 304, no symbolic links, no folders
--- init
my $d = "$V->{SERVROOT}/site";
File::Path::make_path("$d/sub");
open(my $f, '>', "$d/index.html") or die; print $f "<p>dev</p>\n"; close $f;
open($f, '>', "$d/extra.svg") or die; print $f "<svg/>"; close $f;
open($f, '>', "$V->{SERVROOT}/secret.txt") or die; print $f "secret"; close $f;
symlink("$V->{SERVROOT}/secret.txt", "$d/link.txt") or die;
chmod 0755, $d;
--- extra_config
location /dev/ { gobi_web; gobi_web_root $SERVROOT/site/; }
--- request eval
["GET /dev/", "GET /dev/extra.svg", "GET /dev/link.txt", "GET /dev/sub",
 "GET /dev/app.js"]
--- error_code eval
[200, 200, 404, 404, 404]
--- response_headers_like eval
["Content-Type: ^text/html; charset=utf-8\$\nLast-Modified: GMT\$\n"
 . 'ETag: ^"[0-9a-f]+-b"$',
 'Content-Type: ^image/svg\+xml$', undef, undef, undef]
--- check
is($V->{RESPONSES}[0]->body, "<p>dev</p>\n", 'the folder\'s file');
my $cl = $t->client;
my $e = $V->{RESPONSES}[0]->header('etag');
is($cl->request('GET', '/dev/', no_auth => 1,
               headers => { 'If-None-Match' => $e })->status, 304, "If-None-Match: 304");
--- no_error_log
[error]



=== TEST 8: gobi_web_root needs gobi_web, and a folder
--- extra_config
location /dev/ { gobi_web_root /; }
--- must_die
--- error_log
"gobi_web_root" needs "gobi_web" in the same location



=== TEST 9: gobi_web_root of a missing folder fails nginx -t
--- extra_config
location /dev/ { gobi_web; gobi_web_root $SERVROOT/nowhere; }
--- must_die
--- error_log
is not a folder



=== TEST 10: the page in headless Chromium: log in, upload, live changes, rename, delete, history and restore
--- config
location /api/v1/ { gobi_api; }
location = /api/v1/ws {
    gobi_websocket;
    gobi_ws_allowed_origins http://127.0.0.1:$PORT;
}
location /app/ { gobi_web; }
--- setup
user alice
vault notes
put notes hello.txt hello gobi\n
put notes todo.md - [ ] water the plants\n- [x] sync the notes\n
put notes Documents/report.md # Quarterly report\n
--- perl
SKIP: {
    skip 'no chromium, chromium-driver or python3-selenium (scripts/deps)', 1
        unless main::have_browser();
    my $shots = $ENV{GOBI_WEB_SHOTS} || "$FindBin::Bin/servroot/web-shots";
    File::Path::make_path($shots);
    main::browser($t, $V, $shots);
    ok(-s "$shots/$_", "screenshot $_") for qw(web-files.png web-history.png);
}



=== TEST 11: without the page's origin in gobi_ws_allowed_origins the page works and says live updates are off
--- config
location /api/v1/ { gobi_api; }
location = /api/v1/ws { gobi_websocket; }
location /app/ { gobi_web; }
--- setup
user alice
vault notes
put notes hello.txt hello gobi\n
--- perl
SKIP: {
    skip 'no chromium, chromium-driver or python3-selenium (scripts/deps)', 1
        unless main::have_browser();
    local $ENV{GOBI_WEB_MODE} = 'origin-refused';
    main::browser($t, $V, File::Temp::tempdir(CLEANUP => 1));
}
