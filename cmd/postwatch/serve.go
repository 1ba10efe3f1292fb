package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/seeds"
)

// shutdownGrace is how long in-flight requests get to finish on SIGTERM.
const shutdownGrace = 20 * time.Second

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	addr := fs.String("addr", envDefault("addr", "127.0.0.1:8080"), "listen address HOST:PORT")
	db := fs.String("db", envDefault("db", ""), "database: a SQLite file path")
	seed := fs.Bool("seed", envDefault("seed", "") == "true" || envDefault("seed", "") == "1", "load the seed data set into an empty database")
	durability := fs.String("durability", envDefault("durability", "full"), "full: a commit survives power loss; normal: it survives a process crash")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := newLogger(stderr)
	st, err := openStore(*db, *durability)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close database", "err", err)
		}
	}()
	if *seed {
		loaded, err := seeds.LoadIfEmpty(ctx, seeds.Services{Incidents: st, Facilities: st, Actors: st})
		if err != nil {
			return err
		}
		if loaded {
			log.Info("seed data set loaded")
		}
	}
	if n, err := st.CountTokens(ctx); err == nil && n == 0 {
		fmt.Fprintf(stderr, "\nNo API token exists yet. Every route but /healthz and /readyz needs one; create one with:\n\n"+
			"    bin/postwatch token create --db %s --role admin --name \"$USER\"\n\n", *db)
	}
	srv, err := api.New(api.Services{Incidents: st, Facilities: st, Actors: st, Tokens: st, DB: st}, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	log.Info("serving", "addr", ln.Addr().String(), "db", *db, "durability", *durability)
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
