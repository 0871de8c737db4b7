// Copyright (C) the gobi authors
//
// gobi-ferretdb: the MongoDB-compatible test server for gobi's test suite.
//
// No MongoDB server is packaged for Debian, so tests run against FerretDB
// v1 with its SQLite backend.  FerretDB's own `go install` binary panics on
// a missing version file (FerretDB issue #2982); embedding the package
// github.com/FerretDB/FerretDB/ferretdb avoids that.  Telemetry is off in
// the embedded package (it never starts a reporter and locks the setting).
//
// Usage:
//
//	ferretdb -listen 127.0.0.1:0 -dir /tmp/x [-port-file F] [-log-level warn]
//
// With port 0 the kernel picks a free port; the chosen port is printed to
// stdout as "port N" and, with -port-file, written to that file (atomically,
// through a rename) once the server accepts connections.  SIGTERM and
// SIGINT stop the server cleanly.
//
// Known limits of FerretDB v1 that gobi's MongoDB store must live with:
// no multi-document transactions, no change streams, findAndModify is not
// atomic; unique indexes are enforced.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "TCP listen address (port 0: pick a free one)")
	dir := flag.String("dir", "", "SQLite data directory (created if missing)")
	portFile := flag.String("port-file", "", "write the chosen port to this file")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	flag.Parse()

	if *dir == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: ferretdb -dir DIR [-listen ADDR] [-port-file F] [-log-level L]")
		os.Exit(2)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fatal("bad -log-level: %s", err)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	abs, err := filepath.Abs(*dir)
	if err != nil {
		fatal("bad -dir: %s", err)
	}

	if err = os.MkdirAll(abs, 0o700); err != nil {
		fatal("cannot create %s: %s", abs, err)
	}

	// the SQLite handler wants a "file:" URI of an existing directory,
	// ending with "/"
	sqliteURL := (&url.URL{Scheme: "file", Path: abs + "/"}).String()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		fatal("%s", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	done := make(chan struct{})

	go func() {
		defer close(done)

		if err := f.Run(ctx); err != nil {
			logger.Error("run", "error", err)
		}
	}()

	// MongoDBURI blocks until the listener is up
	u, err := url.Parse(f.MongoDBURI())
	if err != nil {
		fatal("bad URI: %s", err)
	}

	_, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		fatal("bad listen address %q: %s", u.Host, err)
	}

	if *portFile != "" {
		tmp := *portFile + ".tmp"
		if err = os.WriteFile(tmp, []byte(port+"\n"), 0o644); err != nil {
			fatal("%s", err)
		}

		if err = os.Rename(tmp, *portFile); err != nil {
			fatal("%s", err)
		}
	}

	fmt.Printf("port %s\n", strings.TrimSpace(port))

	<-done
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ferretdb: "+format+"\n", args...)
	os.Exit(1)
}
