# Sourced by scripts/bench (and usable by the other bench-* scripts): one
# temporary folder, free ports on 127.0.0.1, a gobi nginx, peer nginx
# instances (static, DAV, nchan) and a pair of local Syncthing instances,
# every process stopped and the folder removed at exit (BENCH_KEEP=1
# keeps the folder).  Needs bash, curl, python3.
#
#   . scripts/bench-lib.sh
#   bench_init name                  # W=/tmp/gobi-name.XXXXXX, traps
#   gobi_nginx_start dir [conns]     # GOBI_URL; stopped at exit
#   gobi_user dir                    # user bench: GOBI_CONFIG_DIR, GOBI_TOKEN
#   peer_nginx_start dir 'http{...} server body' [conns] [main conf]
#   syncthing_pair_start dir         # ST_A, ST_B (urls), ST_KEY, ST_A_ID, ST_B_ID

BENCH_REPO=${BENCH_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
GOBI=${GOBI:-$BENCH_REPO/build/gobi}
GOBI_MODULE=${GOBI_MODULE:-$BENCH_REPO/build/ngx_http_gobi_module.so}
NGINX=${GOBI_NGINX:-/usr/sbin/nginx}
export BENCH_NGINX_BIN=$NGINX    # (not NGINX: nginx reads that variable)
NCHAN_MODULE=${NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}
BENCH_PW='bench password 1'
export BENCH_THREADS=${BENCH_THREADS:-16}   # the gobi server's pool (below)

BENCH_PIDS=()       # processes to TERM at exit
BENCH_NGINX=()      # nginx pid files to QUIT at exit

bench_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
bench_die() { echo "bench: $*" >&2; exit 1; }

bench_cleanup() {
    local p f
    for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for f in "${BENCH_NGINX[@]}"; do
        p=$(cat "$f" 2>/dev/null) && kill -QUIT "$p" 2>/dev/null || true
    done
    # wait (bounded) for them to go
    for _ in $(seq 50); do
        local alive=0
        for p in "${BENCH_PIDS[@]}"; do
            kill -0 "$p" 2>/dev/null && alive=1
        done
        for f in "${BENCH_NGINX[@]}"; do
            p=$(cat "$f" 2>/dev/null) && kill -0 "$p" 2>/dev/null && alive=1
        done
        [ $alive = 0 ] && break
        sleep 0.2
    done
    for p in "${BENCH_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    if [ -n "${W:-}" ] && [ -d "$W" ] && [ -z "${BENCH_KEEP:-}" ]; then
        rm -rf "$W"
    elif [ -n "${W:-}" ]; then
        echo "bench: kept $W" >&2
    fi
}

bench_init() {  # name
    W=$(mktemp -d "/tmp/gobi-$1.XXXXXX")
    chmod 755 "$W"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() {  # url [tries of 0.1 s]
    local i
    for i in $(seq "${2:-100}"); do
        curl -s -o /dev/null --max-time 2 "$1" && return 0
        sleep 0.1
    done
    bench_die "$1 does not answer"
}

# nginx with the gobi module: REST under /api/v1/, WebSocket at /api/v1/ws;
# a pool of 16 threads (BENCH_THREADS) as conf/cluster.conf: small uploads
# wait on fsync, not on the CPU, so more of them in flight go faster (10,000
# x 2 KiB here: 4 threads ~1.4x slower)
gobi_nginx_start() {  # dir [worker_connections]
    local d=$1 conns=${2:-1024} port
    port=$(free_port)
    mkdir -p "$d/logs" "$d/tmp" "$d/var"
    cat > "$d/nginx.conf" <<EOF
load_module $GOBI_MODULE;
worker_processes 2;
worker_rlimit_nofile $((conns * 2 + 1024));
pid $d/nginx.pid;
error_log $d/logs/error.log;
thread_pool gobi threads=$BENCH_THREADS;
events { worker_connections $conns; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    gobi_store sqlite:$d/var/gobi.db;
    gobi_storage local:$d/var/vaults;
    gobi_bus local;
    gobi_max_file_size 4g;
    gobi_login_limit 1000/m;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location /api/v1/ { gobi_api; }
        location = /api/v1/ws { gobi_websocket; }
    }
}
EOF
    "$NGINX" -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log" ||
        bench_die "gobi nginx does not start: $(tail -3 "$d/logs/error.log")"
    BENCH_NGINX+=("$d/nginx.pid")
    GOBI_URL=http://127.0.0.1:$port
    wait_http "$GOBI_URL/api/v1/vaults"
}

# user "bench" on GOBI_URL; the client logged in (config in dir/config)
gobi_user() {  # dir
    export GOBI_CONFIG_DIR=$1/config
    curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
        -d "{\"username\":\"bench\",\"password\":\"$BENCH_PW\"}" \
        "$GOBI_URL/api/v1/users"
    GOBI_PASSWORD=$BENCH_PW "$GOBI" -q login "$GOBI_URL" bench
    GOBI_TOKEN=$(curl -s -X POST -u "bench:$BENCH_PW" \
        "$GOBI_URL/api/v1/sessions" |
        sed 's/.*"token":"\([^"]*\)".*/\1/')
    [ -n "$GOBI_TOKEN" ] || bench_die "no session token"
    export GOBI_TOKEN
}

# a stock nginx (no gobi module) with a server block of our own;
# sets PEER_URL
peer_nginx_start() {  # dir server-body [worker_connections] [main-context]
    local d=$1 body=$2 conns=${3:-1024} main=${4:-} port
    port=$(free_port)
    mkdir -p "$d/logs" "$d/tmp" "$d/html"
    chmod 777 "$d/html"    # the workers (nobody, under root) write DAV PUTs
    cat > "$d/nginx.conf" <<EOF
$main
worker_processes 2;
worker_rlimit_nofile $((conns * 2 + 1024));
pid $d/nginx.pid;
error_log $d/logs/error.log;
events { worker_connections $conns; }
http {
    access_log off;
    sendfile on;
    client_max_body_size 4g;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server {
        listen 127.0.0.1:$port backlog=4096;
        root $d/html;
        $body
    }
}
EOF
    "$NGINX" -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log" ||
        bench_die "peer nginx does not start: $(tail -3 "$d/logs/error.log")"
    BENCH_NGINX+=("$d/nginx.pid")
    PEER_URL=http://127.0.0.1:$port
    wait_http "$PEER_URL/"
}

# the worker pids of the nginx whose pid file is given
nginx_workers() {  # pidfile
    pgrep -P "$(cat "$1")" | tr '\n' ' '
}

# Two Syncthing instances, A and B, on 127.0.0.1 only (no discovery, no
# relays, no NAT, no usage reporting), each knowing the other; folders
# are added per run through the REST API (scripts/bench.py).
syncthing_pair_start() {  # dir
    local d=$1 x
    ST_KEY=bench-$RANDOM$RANDOM
    for x in a b; do
        mkdir -p "$d/st-$x"
        syncthing generate --home="$d/st-$x" --no-default-folder \
            --skip-port-probing > "$d/st-$x.gen.log" 2>&1 ||
            bench_die "syncthing generate: $(tail -2 "$d/st-$x.gen.log")"
    done
    ST_A_ID=$(syncthing serve --home="$d/st-a" --device-id)
    ST_B_ID=$(syncthing serve --home="$d/st-b" --device-id)
    local ga gb la lb
    ga=$(free_port); gb=$(free_port); la=$(free_port); lb=$(free_port)
    local py
    py=$(cat <<'EOF'
import sys, xml.etree.ElementTree as ET
path, gui, listen, peer, peerport, key = sys.argv[1:]
t = ET.parse(path)
c = t.getroot()
g = c.find("gui")
g.set("tls", "false")
g.find("address").text = "127.0.0.1:" + gui
(g.find("apikey") if g.find("apikey") is not None
 else ET.SubElement(g, "apikey")).text = key
o = c.find("options")
for la in o.findall("listenAddress"):
    o.remove(la)
ET.SubElement(o, "listenAddress").text = "tcp://127.0.0.1:" + listen
for k, v in (("globalAnnounceEnabled", "false"),
             ("localAnnounceEnabled", "false"),
             ("relaysEnabled", "false"), ("natEnabled", "false"),
             ("urAccepted", "-1"), ("urSeen", "3"),
             ("crashReportingEnabled", "false"),
             ("autoUpgradeIntervalH", "0"),
             ("startBrowser", "false")):
    e = o.find(k)
    if e is None:
        e = ET.SubElement(o, k)
    e.text = v
d = ET.SubElement(c, "device", id=peer, name="peer", compression="metadata",
                  introducer="false")
ET.SubElement(d, "address").text = "tcp://127.0.0.1:" + peerport
t.write(path)
EOF
)
    python3 -c "$py" "$d/st-a/config.xml" "$ga" "$la" "$ST_B_ID" "$lb" "$ST_KEY"
    python3 -c "$py" "$d/st-b/config.xml" "$gb" "$lb" "$ST_A_ID" "$la" "$ST_KEY"
    for x in a b; do
        STNODEFAULTFOLDER=1 syncthing serve --home="$d/st-$x" --no-browser \
            --no-restart --no-upgrade --logfile="$d/st-$x.log" \
            > "$d/st-$x.out" 2>&1 &
        BENCH_PIDS+=($!)
    done
    ST_A=http://127.0.0.1:$ga
    ST_B=http://127.0.0.1:$gb
    export ST_A ST_B ST_KEY ST_A_ID ST_B_ID
    for x in "$ST_A" "$ST_B"; do
        local ok=
        for _ in $(seq 150); do
            curl -s -f -o /dev/null --max-time 2 -H "X-API-Key: $ST_KEY" \
                "$x/rest/system/ping" && { ok=1; break; }
            sleep 0.2
        done
        [ -n "$ok" ] || bench_die "syncthing at $x does not answer"
    done
    # connected to each other?
    for _ in $(seq 150); do
        curl -s -H "X-API-Key: $ST_KEY" "$ST_A/rest/system/connections" |
            python3 -c 'import sys,json; c=json.load(sys.stdin)["connections"]; sys.exit(0 if any(v["connected"] for v in c.values()) else 1)' &&
            return 0
        sleep 0.2
    done
    bench_die "the syncthing instances do not connect"
}
