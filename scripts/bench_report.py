"""docs/benchmarks.md and its PNG plots (gnuplot) from the JSON results of
scripts/bench (scripts/bench.py report RESULTS_DIR DOCS_DIR)."""
import json
import os
import platform
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(cmd):
    try:
        r = subprocess.run(cmd, shell=True, capture_output=True, text=True,
                           timeout=20)
        return (r.stdout + r.stderr).strip()
    except Exception:
        return "?"


def first(s):
    return s.splitlines()[0] if s else "?"


def load(d, name):
    p = os.path.join(d, name + ".json")
    return json.load(open(p)) if os.path.exists(p) else None


def mark(ok):
    return "**met**" if ok else "**not met**"


def gnuplot(script, docs):
    subprocess.run(["gnuplot"], input=script, text=True, cwd=docs, check=True,
                   timeout=60)


def bars(docs, png, title, ylabel, rows, logscale=False, ref=None):
    """rows: [(label, value)]: a bar chart"""
    dat = os.path.join(docs, png + ".dat")
    with open(dat, "w") as f:
        for label, v in rows:
            f.write('"%s" %g\n' % (label, v))
    gnuplot("""set terminal png size 900,420 font ",10"
set output '%s'
set title '%s'
set ylabel '%s'
set style fill solid 0.7 border -1
set boxwidth 0.6
set grid ytics
set yrange [0:*]
%s
set xtics rotate by -20 noenhanced
unset key
plot '%s' using 0:2:xtic(1) with boxes lc rgb '#4477aa', \\
     '' using 0:2:(sprintf('%%.3g', $2)) with labels offset 0,0.7%s
""" % (png, title, ylabel, "set logscale y\nset yrange [%g:%g]" % (
               min([v for _, v in rows] + [1]) / 1.6,
               max([v for _, v in rows] + [1]) * 1.6) if logscale else "",
           dat, ", \\\n     %g with lines dt 2 lw 2 lc rgb '#cc3311'" % ref
           if ref else ""), docs)
    os.unlink(dat)


def report(rdir, docs):
    live = load(rdir, "live")
    small = load(rdir, "small")
    big = load(rdir, "big")
    fans = sorted((load(rdir, f[:-5]) for f in os.listdir(rdir)
                   if f.startswith("fanout") and f.endswith(".json")),
                  key=lambda r: r["n"])
    out = []
    goals = []          # (goal, measured text, ratio to the goal, ok)
    P = out.append

    cpu = sh("lscpu | sed -n 's/^Model name: *//p'")
    mem = sh("awk '/MemTotal/ {printf \"%.0f GiB\", $2/1048576}' /proc/meminfo")
    P("# Benchmarks\n")
    P("Written by `scripts/bench` (not in CI; the tests assert behaviour, "
      "never times). Every figure comes from one run on one machine: gobi and "
      "its peer run interleaved (gobi, peer, gobi, peer, ...), each figure is "
      "the median of the repetitions, and every moved file is checked by "
      "sha256 (`scripts/bench` stops at a difference). The machine is shared, "
      "so absolute figures are noisy; the ratios, measured side by side, are "
      "what to compare. `scripts/bench live|small|big|fanout` reruns one "
      "workload (the others keep their figures, from `docs/bench-results/`); "
      "`BENCH_QUICK=1` runs small sizes.\n")
    P("## Machine and versions\n")
    P("| | |\n|---|---|")
    P("| date of the report | %s |" % time.strftime("%Y-%m-%d %H:%M %Z"))
    P("| CPU | %s, %s cores (`nproc`) |" % (cpu, os.cpu_count()))
    P("| memory | %s |" % mem)
    P("| system | %s, Linux %s, everything on loopback, one ext4-like "
      "disk (`/tmp`) |" % (sh(". /etc/os-release; echo $PRETTY_NAME"),
                           platform.release()))
    P("| gobi | commit %s (2 nginx workers, thread pool of %s, SQLite, local "
      "storage, local bus) |" % (sh("git -C %s rev-parse --short HEAD" % REPO),
                                  os.environ.get("BENCH_THREADS", "?")))
    P("| nginx | %s |" % first(sh("/usr/sbin/nginx -v")).replace("nginx version: ", ""))
    P("| Syncthing | %s |" % " ".join(first(sh("syncthing --version")).split()[:2]))
    P("| rsync | %s |" % first(sh("rsync --version")).split()[2])
    P("| nchan | libnginx-mod-nchan %s |" % sh(
        "dpkg-query -W -f '${Version}' libnginx-mod-nchan"))
    P("| curl, wrk | %s; %s |" % (" ".join(first(sh("curl --version")).split()[:2]),
                                  " ".join(first(sh("wrk -v")).split()[:2])))
    P("")

    # ------------------------------------------------------------ live
    if live:
        g, s = live["gobi"], live["syncthing"]
        P("## 1. Live edit: A -> server -> B\n")
        P("One %d-byte edit saved on A (a whole-file write of `note.md`), "
          "until B's disk has the same bytes; %d edits per tool, in rounds "
          "of 5 (gobi, Syncthing, gobi, ...). gobi: `gobi watch` on both "
          "folders. Syncthing: two local instances, fsWatcher on, "
          "`fsWatcherDelayS` %s (as configured and read back; Syncthing "
          "1.19 takes whole seconds, 1 is its minimum).\n"
          % (live["bytes"], live["edits"], live["syncthing_delay_s"]))
        P("| | p50 ms | p90 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|")
        for k, v in (("gobi", g), ("Syncthing", s)):
            P("| %s | %.1f | %.1f | %.1f | %.1f |" % (k, v["p50"], v["p90"],
                                                    v["p99"], v["max"]))
        P("| Syncthing / gobi | %.1fx | %.1fx | %.1fx | %.1fx |\n" % tuple(
            s[k] / g[k] for k in ("p50", "p90", "p99", "max")))
        P("![latency CDF](bench-live-cdf.png)\n")
        goals.append(("live p50 <= 50 ms", "%.1f ms" % g["p50"], 50 / g["p50"],
                      g["p50"] <= 50))
        goals.append(("live p99 <= 200 ms", "%.1f ms" % g["p99"], 200 / g["p99"],
                      g["p99"] <= 200))
        with open(os.path.join(docs, "cdf.dat"), "w") as f:
            for k in ("gobi", "syncthing"):
                v = sorted(live["samples"][k])
                for i, x in enumerate(v):
                    f.write("%g %g\n" % (x, (i + 1) / len(v)))
                f.write("\n\n")
        gnuplot("""set terminal png size 900,420 font ",10"
set output 'bench-live-cdf.png'
set title 'Live edit A -> B: latency CDF'
set xlabel 'ms (log)'
set ylabel 'fraction of edits'
set logscale x
set grid
set key bottom right
plot 'cdf.dat' index 0 using 1:2 with steps lw 2 title 'gobi watch', \\
     '' index 1 using 1:2 with steps lw 2 title 'Syncthing (fsWatcherDelayS %s)'
""" % live["syncthing_delay_s"], docs)
        os.unlink(os.path.join(docs, "cdf.dat"))

    # ----------------------------------------------------------- small
    if small:
        r = small["files_per_s"]
        sec = small["seconds"]
        P("## 2. %s files of %d bytes\n" % (format(small["files"], ","),
                                            small["bytes"]))
        P("100 folders; median of %d repetitions, interleaved. gobi: `gobi -j "
          "%d sync A` (upload) then `gobi sync B` (download) on fresh clones "
          "of a new vault; end to end is their sum. gobi watch: both folders "
          "under `gobi watch`, the tree moved into A (one `rename`) until B "
          "has every file. Syncthing: the tree moved into A's folder and a "
          "scan asked at once (`POST /rest/db/scan`), until B has every file. "
          "rsync: `rsync -a --fsync` of the tree to a new folder on the same "
          "disk (no server, one copy).\n" % (small["reps"], small["jobs"]))
        P("| | seconds (median) | files/s | gobi end to end / this |\n"
          "|---|---:|---:|---:|")
        rows = (("gobi upload (sync A)", "gobi_up"),
                ("gobi download (sync B)", "gobi_down"),
                ("gobi end to end (sync A + sync B)", "gobi_e2e"),
                ("gobi end to end under watch", "gobi_watch"),
                ("Syncthing end to end", "syncthing"),
                ("rsync -a --fsync", "rsync"))
        for label, k in rows:
            P("| %s | %.2f | %.0f | %.2f |" % (label, small["files"] / r[k],
                                               r[k], r["gobi_e2e"] / r[k]))
        P("\n![files per second](bench-small.png)\n")
        e2e = r["gobi_e2e"]
        goals.append(("small files: gobi >= 1.5x Syncthing",
                      "%.2fx" % (e2e / r["syncthing"]),
                      e2e / r["syncthing"] / 1.5, e2e >= 1.5 * r["syncthing"]))
        goals.append(("small files: gobi >= 90% of rsync",
                      "%.0f%%" % (100 * e2e / r["rsync"]),
                      e2e / r["rsync"] / 0.9, e2e >= 0.9 * r["rsync"]))
        bars(docs, "bench-small.png", "%s x %d B files: files/s (median)"
             % (format(small["files"], ","), small["bytes"]), "files/s",
             [(l, r[k]) for l, k in rows])

    # ------------------------------------------------------------- big
    if big:
        r = big["mb_per_s"]
        P("## 3. One file of %d MiB\n" % big["mib"])
        P("MB/s = 10^6 bytes/s; median of %d repetitions, interleaved. gobi: "
          "`gobi sync A` (upload) then `gobi sync B` (download): the client "
          "hashes the file before sending it (BLAKE2b, for `X-Gobi-Hash`) "
          "and checks it while receiving. gobi server: `curl -T` to "
          "`PUT .../files/{path}` (answered once hashed, fsync'd and logged) "
          "and `curl -o file` of `GET .../files/{path}`, then `sync file`: "
          "the like of nginx static and DAV below. Syncthing: "
          "the file moved into A's folder, a scan asked at once, until B has "
          "it whole. nginx static: `curl -o file` from a `sendfile on` "
          "location, then `sync file` (the gobi client fsyncs too). nginx "
          "DAV: `curl -T` to a `dav_methods PUT` location "
          "(`client_body_temp_path` on the same disk), then `sync` of the "
          "stored file (gobi fsyncs uploads). wrk: `wrk -t1 -c1 -d5s` of the "
          "static file (memory to socket, nothing written).\n" % big["reps"])
        P("| | MB/s (median) | gobi / this |\n|---|---:|---:|")
        rows = (("gobi upload (sync A)", "gobi_up", None),
                ("gobi download (sync B)", "gobi_down", None),
                ("gobi end to end", "gobi_e2e", None),
                ("gobi server PUT (curl)", "gobi_put", None),
                ("gobi server GET (curl)", "gobi_get", None),
                ("Syncthing end to end", "syncthing", "gobi_e2e"),
                ("nginx static download (curl)", "static", "gobi_get"),
                ("nginx DAV PUT (curl)", "dav_put", "gobi_put"),
                ("nginx static, wrk (no disk)", "wrk_static", "gobi_get"))
        for label, k, vs in rows:
            if k in r:
                P("| %s | %.0f | %s |" % (label, r[k], "%.2f (%s)" % (
                    r[vs] / r[k], vs.replace("gobi_", "gobi ")) if vs and vs in r else ""))
        P("\n![MB/s](bench-big.png)\n")
        goals.append(("big file: end to end >= 2x Syncthing",
                      "%.2fx" % (r["gobi_e2e"] / r["syncthing"]),
                      r["gobi_e2e"] / r["syncthing"] / 2,
                      r["gobi_e2e"] >= 2 * r["syncthing"]))
        # the server against nginx, both with curl (older runs: the client)
        down = r.get("gobi_get", r["gobi_down"])
        up = r.get("gobi_put", r["gobi_up"])
        goals.append(("big file: download >= 90% of nginx static",
                      "%.0f%% (client %.0f%%)" % (100 * down / r["static"],
                      100 * r["gobi_down"] / r["static"]),
                      down / r["static"] / 0.9, down >= 0.9 * r["static"]))
        goals.append(("big file: upload >= 80% of nginx DAV PUT",
                      "%.0f%% (client %.0f%%)" % (100 * up / r["dav_put"],
                      100 * r["gobi_up"] / r["dav_put"]),
                      up / r["dav_put"] / 0.8, up >= 0.8 * r["dav_put"]))
        bars(docs, "bench-big.png", "%d MiB file: MB/s (median)" % big["mib"],
             "MB/s", [(l, r[k]) for l, k, _ in rows if k in r])

    # ---------------------------------------------------------- fanout
    for i, fan in enumerate(fans):
        g, c = fan["gobi"], fan["nchan"]
        P("## 4.%d WebSocket fan-out, %s subscribers\n" % (i + 1,
          format(fan["n"], ",")))
        P("%s WebSockets to one vault (gobi: `hello` with the vault, then "
          "live events) or one nchan channel (`nchan_subscriber websocket`), "
          "opened by `scripts/bench-ws.c` (one epoll thread); then %d "
          "publishes per repetition, %d repetitions, gobi and nchan in turn: "
          "gobi's publish is a file `PUT` (stored, fsync'd, logged, then "
          "announced), nchan's a `POST` to its publisher location. Latency: "
          "from sending the publish to the last (first) subscriber reading "
          "it; p50/p99 over all %d publishes. Memory: the nginx workers' RSS "
          "with the connections open and idle minus before, / N (median of "
          "the repetitions). Both servers: 2 workers.\n"
          % (format(fan["n"], ","), fan["pubs"], fan["reps"],
             fan["pubs"] * fan["reps"]))
        P("| | last p50 ms | last p99 ms | first p50 ms | last - first p50 ms "
          "| KB per idle connection | opening all, ms |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
        for k, v in (("gobi", g), ("nchan", c)):
            P("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f |" % (
                k, v["last_p50"], v["last_p99"], v["first_p50"],
                v.get("spread_p50", float("nan")), v["kb_per_conn"],
                v["connect_ms"]))
        P("| gobi / nchan | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n" % (
            g["last_p50"] / c["last_p50"], g["last_p99"] / c["last_p99"],
            g["first_p50"] / max(c["first_p50"], 0.001),
            g.get("spread_p50", 0) / max(c.get("spread_p50", 1), 0.001),
            g["kb_per_conn"] / c["kb_per_conn"] if c["kb_per_conn"] else float("nan"),
            g["connect_ms"] / c["connect_ms"]))
        P("The first subscriber's time is mostly the publish itself (gobi: "
          "the PUT's storage, fsync and SQLite commit; nchan: in memory); "
          "last - first is the fan-out proper.\n")
        png = "bench-fanout.png" if fan["n"] == 10000 else "bench-fanout-%d.png" % fan["n"]
        P("![fan-out](%s)\n" % png)
        if fan["n"] != 10000 and any(f["n"] == 10000 for f in fans):
            bars(docs, png, "fan-out to %d subscribers: publish -> last "
                 "subscriber, ms" % fan["n"], "ms",
                 [("gobi p50", g["last_p50"]), ("nchan p50", c["last_p50"]),
                  ("gobi p99", g["last_p99"]), ("nchan p99", c["last_p99"])])
            continue
        goals.append(("fan-out p99 <= nchan's", "%.1f vs %.1f ms" % (
            g["last_p99"], c["last_p99"]), c["last_p99"] / g["last_p99"],
            g["last_p99"] <= c["last_p99"]))
        goals.append(("memory per idle connection <= 10 KB",
                      "%.1f KB" % g["kb_per_conn"], 10 / max(g["kb_per_conn"], 0.01),
                      g["kb_per_conn"] <= 10))
        bars(docs, png, "fan-out to %d subscribers: publish -> "
             "last subscriber, ms" % fan["n"], "ms",
             [("gobi p50", g["last_p50"]), ("nchan p50", c["last_p50"]),
              ("gobi p99", g["last_p99"]), ("nchan p99", c["last_p99"])])

    # ----------------------------------------------------------- goals
    if goals:
        P("## Goals of issue 13\n")
        P("Margin: measured / required, oriented so that >= 1 meets the goal.\n")
        P("| goal | measured | margin | |\n|---|---:|---:|---|")
        for name, m, ratio, ok in goals:
            P("| %s | %s | %.2f | %s |" % (name, m, ratio, mark(ok)))
        P("\n![goals](bench-goals.png)\n")
        bars(docs, "bench-goals.png", "goals: measured / required (>= 1 is met)",
             "margin", [(n.replace("_", " "), r) for n, _, r, _ in goals],
             logscale=True, ref=1)
    with open(os.path.join(docs, "benchmarks.md"), "w") as f:
        f.write("\n".join(out))
