#!/usr/bin/env python3
"""The workloads of scripts/bench (run by it, with the servers it started
described in the environment), and the report.

  bench.py live|small|big|fanout OUT.json
  bench.py report RESULTS_DIR docs/

Every figure is a median over BENCH_REPS repetitions, gobi and its peers
interleaved (gobi, peer, gobi, peer...) in one run; every moved file is
checked by sha256.  Stdlib only.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

E = os.environ
W = E.get("W", "/tmp")
GOBI = E.get("GOBI", "gobi")
QUICK = bool(E.get("BENCH_QUICK"))


def env_int(name, full, quick):
    return int(E.get(name, quick if QUICK else full))


REPS = env_int("BENCH_REPS", 5, 3)


def log(*a):
    print("[%s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def median(v):
    v = sorted(v)
    k = len(v)
    return (v[k // 2] if k % 2 else (v[k // 2 - 1] + v[k // 2]) / 2) if k else None


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def run(*cmd, **kw):
    kw.setdefault("check", True)
    kw.setdefault("timeout", 1800)
    return subprocess.run(list(cmd), **kw)


def timed(*cmd):
    t0 = time.monotonic()
    run(*cmd)
    return time.monotonic() - t0


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def tree_sums(root):
    """{relative path: sha256} of the regular files, gobi's and Syncthing's
    own files left out"""
    out = {}
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x not in (".gobi", ".stfolder", ".stversions")]
        for f in files:
            if f.startswith(".syncthing.") or f.startswith(".gobi") or f == ".stignore":
                continue
            p = os.path.join(d, f)
            out[os.path.relpath(p, root)] = sha256(p)
    return out


def verify(src, dst, what):
    a, b = tree_sums(src), tree_sums(dst)
    if a != b:
        miss = sorted(set(a) ^ set(b))[:5]
        bad = [k for k in a if k in b and a[k] != b[k]][:5]
        raise SystemExit("bench: %s: content differs (%d vs %d files; "
                         "missing %s, differing %s)" % (what, len(a), len(b), miss, bad))
    return len(a)


def count_files(root, prefix="f"):
    n = 0
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        n += sum(1 for f in files if f.startswith(prefix))
    return n


def wait_until(cond, what, timeout, step=0.1):
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise SystemExit("bench: %s: not done in %d s" % (what, timeout))
        time.sleep(step)
    return time.monotonic() - t0


# ---------------------------------------------------------------- gobi

_vault = [0]


def gobi_pair(prefix):
    """a new vault cloned into two folders: (name, A, B)"""
    _vault[0] += 1
    name = "%s%d" % (prefix, _vault[0])
    run(GOBI, "-q", "vault", "create", name)
    a, b = os.path.join(W, name + "-a"), os.path.join(W, name + "-b")
    run(GOBI, "-q", "clone", name, a)
    run(GOBI, "-q", "clone", name, b)
    return name, a, b


class Watch:
    def __init__(self, *dirs):
        self.p = []
        for d in dirs:
            lf = open(d + ".watch.log", "w")
            self.p.append(subprocess.Popen([GOBI, "-q", "watch", d],
                                           stdout=lf, stderr=subprocess.STDOUT))

    def stop(self):
        for p in self.p:
            p.terminate()
        for p in self.p:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# ----------------------------------------------------------- syncthing

ST = {"a": E.get("ST_A"), "b": E.get("ST_B")}


def st(side, method, path, body=None, timeout=30):
    req = urllib.request.Request(ST[side] + path, method=method,
                                 headers={"X-API-Key": E["ST_KEY"]})
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        data = r.read()
    return json.loads(data) if data.strip() else None


_folder = [0]


class StFolder:
    """a folder shared by the two Syncthing instances, watcher on"""

    def __init__(self, prefix, delay=1):
        _folder[0] += 1
        self.id = "%s%d" % (prefix, _folder[0])
        self.a = os.path.join(W, "st-" + self.id + "-a")
        self.b = os.path.join(W, "st-" + self.id + "-b")
        for side, path in (("a", self.a), ("b", self.b)):
            os.makedirs(path)
            st(side, "POST", "/rest/config/folders", {
                "id": self.id, "label": self.id, "path": path,
                "type": "sendreceive", "fsWatcherEnabled": True,
                "fsWatcherDelayS": delay, "rescanIntervalS": 3600,
                "devices": [{"deviceID": E["ST_A_ID"]}, {"deviceID": E["ST_B_ID"]}],
            })
        for side in "ab":
            wait_until(lambda: self.state(side) == "idle",
                       "syncthing folder %s on %s idle" % (self.id, side), 60, 0.2)
        self.delay = st("a", "GET", "/rest/config/folders/" + self.id)["fsWatcherDelayS"]
        # both ends must know the other has the folder before we start
        wait_until(lambda: self.completion_known(), "syncthing folder shared", 60, 0.2)

    def state(self, side):
        try:
            return st(side, "GET", "/rest/db/status?folder=" + self.id)["state"]
        except Exception:
            return None

    def completion_known(self):
        c = st("a", "GET", "/rest/db/completion?folder=%s&device=%s"
               % (self.id, E["ST_B_ID"]))
        conns = st("a", "GET", "/rest/system/connections")["connections"]
        return (c is not None and c.get("remoteState", "valid") == "valid"
                and conns.get(E["ST_B_ID"], {}).get("connected"))

    def scan(self, side="a"):
        st(side, "POST", "/rest/db/scan?folder=" + self.id)

    def remove(self):
        for side in "ab":
            try:
                st(side, "DELETE", "/rest/config/folders/" + self.id)
            except Exception as e:
                log("syncthing: removing folder %s: %s" % (self.id, e))


# ------------------------------------------------------------- workloads

def live(out):
    edits = env_int("BENCH_LIVE_EDITS", 50, 10)
    size = env_int("BENCH_LIVE_BYTES", 2048, 2048)
    _, ga, gb = gobi_pair("live")
    gw = Watch(ga, gb)
    sf = StFolder("live", 1)
    time.sleep(2)
    lat = {"gobi": [], "syncthing": []}
    dirs = {"gobi": (ga, gb), "syncthing": (sf.a, sf.b)}

    def edit(tool, i):
        a, b = dirs[tool]
        data = os.urandom(size)
        t0 = time.monotonic()
        with open(os.path.join(a, "note.md"), "wb") as f:
            f.write(data)
        while True:
            try:
                with open(os.path.join(b, "note.md"), "rb") as f:
                    if f.read() == data:
                        # the bytes equal: a sha256 check would say the same
                        return time.monotonic() - t0
            except FileNotFoundError:
                pass
            if time.monotonic() - t0 > 60:
                raise SystemExit("bench live: edit %d by %s not on B in 60 s"
                                 % (i, tool))
            time.sleep(0.0005)

    try:
        for r in range(0, edits, 5):
            for tool in ("gobi", "syncthing"):
                for i in range(r, min(edits, r + 5)):
                    lat[tool].append(edit(tool, i))
                    time.sleep(0.1 if tool == "gobi" else 0.5)
            log("live: %d/%d edits each" % (min(edits, r + 5), edits))
    finally:
        gw.stop()
        sf.remove()
    res = {"edits": edits, "bytes": size, "syncthing_delay_s": sf.delay,
           "samples": {k: [x * 1e3 for x in v] for k, v in lat.items()}}
    for k, v in res["samples"].items():
        res[k] = {"p50": pct(v, 50), "p90": pct(v, 90), "p99": pct(v, 99),
                  "max": max(v)}
    json.dump(res, open(out, "w"), indent=1)


def make_tree(root, n, size):
    for i in range(n):
        d = os.path.join(root, "d%02d" % (i % 100))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%06d.txt" % i), "wb") as f:
            f.write(os.urandom(size))


def stage(src, tag):
    """a copy of src on the same filesystem, to be moved in by rename()"""
    dst = os.path.join(W, "stage-" + tag)
    shutil.rmtree(dst, ignore_errors=True)
    run("cp", "-a", src, dst)
    run("sync")
    return dst


def small(out):
    n = env_int("BENCH_SMALL_FILES", 10000, 1000)
    size = env_int("BENCH_SMALL_BYTES", 2048, 2048)
    jobs = str(env_int("BENCH_JOBS", 16, 16))
    tree = os.path.join(W, "small-tree")
    if not os.path.isdir(tree):
        make_tree(tree, n, size)
    timeout = max(300, n // 10)
    R = {k: [] for k in ("gobi_up", "gobi_down", "gobi_e2e", "gobi_watch",
                         "syncthing", "rsync")}
    for rep in range(REPS):
        # gobi sync A, then gobi sync B
        name, a, b = gobi_pair("small")
        s = stage(tree, "g")
        os.rename(s, os.path.join(a, "t"))
        run("sync")
        up = timed(GOBI, "-q", "-j", jobs, "sync", a)
        down = timed(GOBI, "-q", "-j", jobs, "sync", b)
        verify(os.path.join(a, "t"), os.path.join(b, "t"), "gobi sync")
        R["gobi_up"].append(up)
        R["gobi_down"].append(down)
        R["gobi_e2e"].append(up + down)
        shutil.rmtree(a)
        shutil.rmtree(b)
        # Syncthing: moved into A's folder, a scan asked at once
        f = StFolder("small", 1)
        s = stage(tree, "s")
        t0 = time.monotonic()
        os.rename(s, os.path.join(f.a, "t"))
        f.scan("a")
        wait_until(lambda: count_files(f.b) >= n, "syncthing %d files" % n,
                   timeout, 0.2)
        R["syncthing"].append(time.monotonic() - t0)
        verify(os.path.join(f.a, "t"), os.path.join(f.b, "t"), "syncthing")
        f.remove()
        shutil.rmtree(f.a)
        shutil.rmtree(f.b)
        # rsync
        dst = os.path.join(W, "rsync-dst")
        R["rsync"].append(timed("rsync", "-a", "--fsync", tree + "/", dst + "/"))
        verify(tree, dst, "rsync")
        shutil.rmtree(dst)
        # gobi under watch on both sides: moved into A
        name, a, b = gobi_pair("smallw")
        gw = Watch(a, b)
        time.sleep(1.5)
        s = stage(tree, "w")
        t0 = time.monotonic()
        os.rename(s, os.path.join(a, "t"))
        try:
            wait_until(lambda: count_files(b) >= n, "gobi watch %d files" % n,
                       timeout, 0.2)
            R["gobi_watch"].append(time.monotonic() - t0)
        finally:
            gw.stop()
        verify(os.path.join(a, "t"), os.path.join(b, "t"), "gobi watch")
        shutil.rmtree(a)
        shutil.rmtree(b)
        log("small: rep %d/%d: gobi %.1f s (up %.1f, down %.1f), watch %.1f s, "
            "syncthing %.1f s, rsync %.1f s" % (rep + 1, REPS, up + down, up, down,
            R["gobi_watch"][-1], R["syncthing"][-1], R["rsync"][-1]))
    res = {"files": n, "bytes": size, "reps": REPS, "jobs": int(jobs),
           "seconds": R,
           "files_per_s": {k: n / median(v) for k, v in R.items()}}
    json.dump(res, open(out, "w"), indent=1)


def curl_time(*args):
    t0 = time.monotonic()
    r = run("curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{http_code}", *args,
            capture_output=True, text=True)
    return time.monotonic() - t0, r.stdout


def big(out):
    mib = env_int("BENCH_BIG_MIB", 512, 64)
    src = os.path.join(W, "big.bin")
    if not os.path.exists(src):
        run("head", "-c", "%dM" % mib, "/dev/urandom", stdout=open(src, "wb"))
    want = sha256(src)
    static_root, dav_root = E["STATIC_ROOT"], E["DAV_ROOT"]
    os.link(src, os.path.join(static_root, "big.bin"))
    R = {k: [] for k in ("gobi_up", "gobi_down", "gobi_e2e", "syncthing",
                         "static", "dav_put", "wrk_static", "gobi_put",
                         "gobi_get")}
    # the server alone, with curl as nginx static and DAV get it
    run(GOBI, "-q", "vault", "create", "bigcurl")
    files = E["GOBI_URL"] + "/api/v1/vaults/bigcurl/files/"
    auth = "Authorization: Bearer " + E["GOBI_TOKEN"]

    def check(path, what):
        if sha256(path) != want:
            raise SystemExit("bench big: %s: sha256 differs" % what)

    for rep in range(REPS):
        # gobi: upload by `gobi sync A`, download by `gobi sync B`
        name, a, b = gobi_pair("big")
        shutil.copyfile(src, os.path.join(a, "big.bin"))
        run("sync")
        up = timed(GOBI, "-q", "sync", a)
        down = timed(GOBI, "-q", "sync", b)
        check(os.path.join(b, "big.bin"), "gobi")
        R["gobi_up"].append(up)
        R["gobi_down"].append(down)
        R["gobi_e2e"].append(up + down)
        shutil.rmtree(a)
        shutil.rmtree(b)
        # gobi's server with curl: PUT (stored and fsync'd before the
        # answer), then GET to a file, fsync'd
        t0 = time.monotonic()
        run("curl", "-sS", "-f", "-o", "/dev/null", "-H", auth, "-T", src,
            files + "up%d.bin" % rep)
        R["gobi_put"].append(time.monotonic() - t0)
        dst = os.path.join(W, "gobi.out")
        t0 = time.monotonic()
        run("curl", "-sS", "-f", "-o", dst, "-H", auth,
            files + "up%d.bin" % rep)
        run("sync", dst)
        R["gobi_get"].append(time.monotonic() - t0)
        check(dst, "gobi GET")
        os.unlink(dst)
        # nginx static: curl to a file, fsync'd (gobi's client fsyncs too)
        dst = os.path.join(W, "static.out")
        t0 = time.monotonic()
        run("curl", "-sS", "-f", "-o", dst, E["STATIC_URL"] + "/big.bin")
        run("sync", dst)
        R["static"].append(time.monotonic() - t0)
        check(dst, "nginx static")
        os.unlink(dst)
        # Syncthing
        f = StFolder("big", 1)
        shutil.copyfile(src, os.path.join(W, "stage-big"))
        run("sync")
        t0 = time.monotonic()
        os.rename(os.path.join(W, "stage-big"), os.path.join(f.a, "big.bin"))
        f.scan("a")
        bp = os.path.join(f.b, "big.bin")
        wait_until(lambda: os.path.exists(bp) and os.path.getsize(bp) == mib << 20,
                   "syncthing big file", 1800, 0.05)
        R["syncthing"].append(time.monotonic() - t0)
        check(bp, "syncthing")
        f.remove()
        shutil.rmtree(f.a)
        shutil.rmtree(f.b)
        # nginx DAV PUT, then the stored file fsync'd
        t0 = time.monotonic()
        run("curl", "-sS", "-f", "-o", "/dev/null", "-T", src,
            E["DAV_URL"] + "/up%d.bin" % rep)
        stored = os.path.join(dav_root, "up%d.bin" % rep)
        run("sync", stored)
        R["dav_put"].append(time.monotonic() - t0)
        check(stored, "nginx DAV")
        os.unlink(stored)
        # wrk on the static file (memory to socket, no disk write)
        if shutil.which("wrk"):
            r = run("wrk", "-t1", "-c1", "-d5s", E["STATIC_URL"] + "/big.bin",
                    capture_output=True, text=True)
            reqs = [l for l in r.stdout.splitlines() if "requests in" in l]
            nreq = int(reqs[0].split()[0]) if reqs else 0
            secs = float(reqs[0].split("in")[1].split(",")[0].strip().rstrip("s")) if reqs else 0
            if nreq:
                R["wrk_static"].append(secs / nreq)
        log("big: rep %d/%d: gobi up %.2f s down %.2f s, syncthing %.2f s, "
            "static %.2f s, DAV %.2f s" % (rep + 1, REPS, up, down,
            R["syncthing"][-1], R["static"][-1], R["dav_put"][-1]))
    res = {"mib": mib, "reps": REPS, "seconds": R,
           "mb_per_s": {k: (mib * 1.048576) / median(v) for k, v in R.items() if v}}
    json.dump(res, open(out, "w"), indent=1)


def rss_kib(pidfile):
    master = int(open(pidfile).read())
    kids = run("pgrep", "-P", str(master), capture_output=True, text=True,
               check=False).stdout.split()
    total = 0
    for k in kids:
        try:
            for line in open("/proc/%s/status" % k):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def restart_nginx(pidfile):
    """a fresh nginx (same config): the memory of each repetition is
    measured on new workers, not above the last one's high-water mark"""
    d = os.path.dirname(pidfile)
    nginx = E.get("BENCH_NGINX_BIN", "/usr/sbin/nginx")
    conf = os.path.join(d, "nginx.conf")
    run(nginx, "-p", d, "-c", conf, "-e", os.path.join(d, "logs/error.log"),
        "-s", "quit")
    wait_until(lambda: not os.path.exists(pidfile), "nginx in %s stops" % d, 30)
    run(nginx, "-p", d, "-c", conf, "-e", os.path.join(d, "logs/error.log"))
    wait_until(lambda: os.path.exists(pidfile) and len(run(
        "pgrep", "-P", open(pidfile).read().strip(), capture_output=True,
        check=False).stdout.split()) >= 2, "nginx in %s starts" % d, 30)
    time.sleep(0.5)


def fanout(out):
    n = env_int("BENCH_FANOUT_N", 10000, 200)
    pubs = env_int("BENCH_FANOUT_PUBS", 20, 5)
    ws = E["BENCH_WS"]
    gport = E["FAN_GOBI_URL"].rsplit(":", 1)[1]
    nport = E["NCHAN_URL"].rsplit(":", 1)[1]
    run(GOBI, "-q", "vault", "create", "fan")
    hello = json.dumps({"type": "hello", "vault": "fan", "since": 0,
                        "device": "bench", "protocol": 1})
    cmds = {
        "gobi": [ws, "-p", gport, "-u", "/api/v1/ws", "-n", str(n),
                 "-a", "Bearer " + E["GOBI_TOKEN"], "-h", hello,
                 "-m", '"type":"event"', "-P", "/api/v1/vaults/fan/files/pub-",
                 "-M", "PUT", "-k", str(pubs)],
        "nchan": [ws, "-p", nport, "-u", "/sub", "-n", str(n),
                  "-P", "/pub?n=", "-M", "POST", "-k", str(pubs)],
    }
    pidf = {"gobi": E["FAN_GOBI_PID"], "nchan": E["NCHAN_PID"]}
    R = {k: {"last": [], "median": [], "first": [], "rss_kib": [],
             "connect_ms": []} for k in cmds}
    for rep in range(REPS):
        cmds["gobi"][cmds["gobi"].index("-P") + 1] = \
            "/api/v1/vaults/fan/files/r%d-pub-" % rep
        for tool in ("gobi", "nchan"):
            restart_nginx(pidf[tool])
            base = rss_kib(pidf[tool])
            p = subprocess.Popen(cmds[tool], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
            line = p.stdout.readline().split()
            if not line or line[0] != "ready":
                p.kill()
                raise SystemExit("bench fanout: %s: the client failed" % tool)
            R[tool]["connect_ms"].append(float(line[2]))
            time.sleep(2)
            R[tool]["rss_kib"].append(rss_kib(pidf[tool]) - base)
            p.stdin.write("go\n")
            p.stdin.flush()
            for l in p.stdout:
                f = l.split()
                if f[0] == "pub":
                    if int(f[5]) != n:
                        raise SystemExit("bench fanout: %s: %s of %d got "
                                         "publish %s" % (tool, f[5], n, f[1]))
                    R[tool]["last"].append(float(f[2]))
                    R[tool]["median"].append(float(f[3]))
                    R[tool]["first"].append(float(f[4]))
            if p.wait(120) != 0:
                raise SystemExit("bench fanout: %s client failed" % tool)
        log("fanout: rep %d/%d: gobi last p50 %.1f ms, nchan %.1f ms; "
            "RSS delta gobi %d KiB, nchan %d KiB" % (rep + 1, REPS,
            median(R["gobi"]["last"][-pubs:]), median(R["nchan"]["last"][-pubs:]),
            R["gobi"]["rss_kib"][-1], R["nchan"]["rss_kib"][-1]))
    res = {"n": n, "pubs": pubs, "reps": REPS, "raw": R}
    for tool, r in R.items():
        res[tool] = {"last_p50": pct(r["last"], 50), "last_p99": pct(r["last"], 99),
                     "first_p50": pct(r["first"], 50),
                     "median_p50": pct(r["median"], 50),
                     "spread_p50": pct([l - f for l, f in zip(r["last"], r["first"])], 50),
                     "kb_per_conn": median(r["rss_kib"]) * 1.024 / n,
                     "connect_ms": median(r["connect_ms"])}
    json.dump(res, open(out, "w"), indent=1)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    if sys.argv[1] == "report":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from bench_report import report  # noqa: E402
        report(sys.argv[2], sys.argv[3])
    else:
        {"live": live, "small": small, "big": big,
         "fanout": fanout}[sys.argv[1]](sys.argv[2])
