package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/postwatch/postwatch/api"
	"github.com/postwatch/postwatch/delivery"
	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/seeds"
	"github.com/postwatch/postwatch/store"
	"github.com/postwatch/postwatch/store/sqlite"
)

// serveGCPercent is serve's garbage-collection target unless GOGC is set.
const serveGCPercent = 70

// shutdownGrace is how long in-flight requests get to finish on SIGTERM.
const shutdownGrace = 20 * time.Second

// serveBusyTimeout bounds how long an API write waits for another
// process's write lock (an import commits at least once a second) before
// it answers 503 with Retry-After instead of holding the client.
const serveBusyTimeout = 5 * time.Second

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	addr := fs.String("addr", envDefault("addr", "127.0.0.1:8080"), "listen address HOST:PORT")
	db := fs.String("db", envDefault("db", ""), "database: a SQLite file path or a postgres:// URL (PostgreSQL ≥ 15 with PostGIS ≥ 3)")
	seedDefault, err := envBool("seed")
	if err != nil {
		return err
	}
	seed := fs.Bool("seed", seedDefault, "load the seed data set into an empty database")
	durability := fs.String("durability", envDefault("durability", "full"), "full: a commit survives power loss; normal: it survives a process crash")
	rateLimit := fs.String("rate-limit", envDefault("rate-limit", "0"), "requests per second per token, bursts twice that; 0 turns rate limiting off")
	requestTimeout := fs.String("request-timeout", envDefault("request-timeout", "30s"), "longest a request may run before it is cancelled with a 503")
	trustedProxies := fs.String("trusted-proxies", envDefault("trusted-proxies", ""), "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client and whose Forwarded / X-Forwarded-Proto, -Host and -Prefix give the links' base")
	baseURL := fs.String("base-url", envDefault("base-url", ""), "the public address of the service, path prefix included (https://ops.example.org/postwatch), for every link it writes; default: the request's own")
	alertWindow := fs.String("alert-window", envDefault("alert-window", "72h"), "an incident write alerts only when the incident occurred within this long before it, so imports of past events stay quiet")
	webhookAllow := fs.String("webhook-allow", envDefault("webhook-allow", ""), "comma-separated CIDRs webhooks may target (e.g. 10.0.0.0/8,192.0.2.7/32); empty allows any http(s) URL")
	dbMaxConns := fs.String("db-max-conns", envDefault("db-max-conns", "0"), "PostGIS: the most connections this process opens to the database (0: 8); replicas × this must stay under max_connections")
	tileCache := fs.String("tile-cache", envDefault("tile-cache", "64MiB"), "memory for encoded vector tiles, e.g. 64MiB, 512KiB or bytes; 0 turns the tile cache off")
	incidentCache := fs.String("incident-cache", envDefault("incident-cache", "128MiB"), "memory for decoded incidents that pages read again without the database, e.g. 256MiB (about 1 KiB an incident); 0 turns the cache off")
	debugAddr := fs.String("debug-addr", envDefault("debug-addr", ""), "if set, serve Go's /debug/pprof profiles on this separate HOST:PORT (keep it private)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	maxConns, convErr := strconv.Atoi(*dbMaxConns)
	if convErr != nil || maxConns < 0 {
		return usageError{fmt.Sprintf("--db-max-conns %q: want a whole number, 0 (the default, 8) or more", *dbMaxConns)}
	}
	opts, err := serverOptions(*rateLimit, *requestTimeout, *trustedProxies)
	if err != nil {
		return err
	}
	if d := sqlite.Durability(*durability); d != sqlite.DurabilityFull && d != sqlite.DurabilityNormal {
		return usageError{fmt.Sprintf("--durability %q is not full or normal", *durability)}
	}
	if *baseURL != "" {
		if opts.BaseURL, err = api.ParseBaseURL(*baseURL); err != nil {
			return usageError{"--base-url: " + err.Error()}
		}
	}
	window, err := parseAlertWindow(*alertWindow)
	if err != nil {
		return err
	}
	if opts.WebhookAllow, err = parseCIDRs(*webhookAllow); err != nil {
		return err
	}
	if opts.TileCacheBytes, err = parseCacheSize("tile-cache", *tileCache); err != nil {
		return err
	}
	incidentCacheBytes, err := parseCacheSize("incident-cache", *incidentCache)
	if err != nil {
		return err
	}
	opts.AlertSignal = domain.NewSignal()
	log := newLogger(stderr)
	// The grid and the incident cache live on the heap for the life of the
	// process, and each page leaves its rows behind as garbage; collecting
	// at 70 % growth instead of 100 % keeps RSS under load about 30 MiB
	// lower for 5 % of throughput. GOGC, when set, decides instead.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
	st, err := openStoreWith(ctx, *db, sqlite.Options{Durability: sqlite.Durability(*durability),
		AlertWindow: window, Signal: opts.AlertSignal, BusyTimeout: serveBusyTimeout,
		IncidentCacheBytes: int(incidentCacheBytes)}, maxConns)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close database", "err", err)
		}
	}()
	if *seed {
		loaded, err := seeds.LoadIfEmpty(ctx, seeds.Services{Incidents: st, Facilities: st, Actors: st, History: st})
		if err != nil {
			return err
		}
		if loaded {
			log.Info("seed data set loaded")
		}
	}
	if n, err := st.CountTokens(ctx); err == nil && n == 0 {
		fmt.Fprintf(stderr, "\nNo API token exists yet. Every route but /healthz and /readyz needs one; create one with:\n\n"+
			"    bin/postwatch token create --db %s --role admin --name \"$(whoami)\"\n\n", redactDSN(*db))
	}
	svc := api.Services{Incidents: st, Facilities: st, Actors: st, Tokens: st, Alerts: st, Webhooks: st, DB: st}
	// Only an engine that can tell its data version lets tiles be cached.
	if v, ok := st.(domain.DataVersioner); ok {
		svc.Versions = v
	}
	srv, err := api.NewWithOptions(svc, log, opts)
	if err != nil {
		return err
	}
	// Webhook workers and the posture clock run until the listener stops;
	// attempts under way when it does are delivered again after their
	// lease, never lost.
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	defer func() {
		stopBackground()
		background.Wait()
	}()
	dispatcher := delivery.New(st, delivery.Options{Encode: api.EncodeAlert, Allow: opts.WebhookAllow,
		Signal: opts.AlertSignal, Log: log})
	background.Add(2)
	go func() { defer background.Done(); dispatcher.Run(bgCtx) }()
	go func() { defer background.Done(); maintain(bgCtx, st, log) }()
	// A large database's grid is built in the background while queries take
	// the slower SQL path; operators and load tests wait for this line.
	if g, ok := st.(interface{ GridReady() <-chan struct{} }); ok {
		start := time.Now()
		background.Add(1)
		go func() {
			defer background.Done()
			select {
			case <-g.GridReady():
				log.Info("in-memory grid ready", "after", time.Since(start).Round(time.Millisecond))
			case <-bgCtx.Done():
			}
		}()
	}
	// Profiles listen before the API does, so whoever sees the API ready
	// finds them too.
	if *debugAddr != "" {
		dbg, err := serveDebug(*debugAddr)
		if err != nil {
			return err
		}
		defer dbg.Close()
		log.Info("serving profiles", "addr", dbg.Addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// A response may take the whole request timeout and then be written.
	writeTimeout := max(120*time.Second, opts.RequestTimeout+30*time.Second)
	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       120 * time.Second,
		// The API enforces api.MaxHeaderBytes itself with a problem+json
		// 431; net/http's own limit, above it, is the backstop.
		MaxHeaderBytes: api.NetHTTPHeaderBytes,
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	log.Info("serving", "addr", ln.Addr().String(), "db", redactDSN(*db), "durability", *durability,
		"rate_limit", opts.RateLimit, "request_timeout", opts.RequestTimeout, "alert_window", window)
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(api.ProblemListener(ln)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	srv.Close() // alert streams end now; Shutdown waits only for requests
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// maintain runs serve's clockwork: posture changes recorded ahead of time
// become facility versions when they come due (reads show them from that
// instant already), and alerts and webhook attempts past their retention
// are dropped once an hour.
func maintain(ctx context.Context, st store.Services, log *slog.Logger) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastPurge time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, err := st.ApplyDuePostures(ctx); err != nil && ctx.Err() == nil {
			log.Error("apply due postures", "err", err)
		}
		if time.Since(lastPurge) >= time.Hour {
			lastPurge = time.Now()
			before := lastPurge.Add(-domain.AlertRetention)
			if err := errors.Join(st.PurgeDeliveries(ctx, before), st.PurgeAlerts(ctx, before)); err != nil && ctx.Err() == nil {
				log.Error("purge alerts", "err", err)
			}
		}
	}
}

// parseAlertWindow reads --alert-window.
func parseAlertWindow(raw string) (time.Duration, error) {
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		return 0, usageError{fmt.Sprintf("--alert-window %q is not a positive duration such as 72h", raw)}
	}
	return d, nil
}

// parseCIDRs reads --webhook-allow: CIDRs, or single addresses.
func parseCIDRs(raw string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range strings.Split(raw, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return nil, usageError{fmt.Sprintf("--webhook-allow: %q is not a CIDR such as 10.0.0.0/8", p)}
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, pfx.Masked())
	}
	return out, nil
}

// parseCacheSize reads the --NAME flag of a cache's size: bytes, or a
// whole number of KiB, MiB or GiB; 0 turns the cache off, which the
// options say with -1.
func parseCacheSize(name, raw string) (int64, error) {
	num, unit := raw, int64(1)
	for suffix, size := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if n, ok := strings.CutSuffix(raw, suffix); ok {
			num, unit = n, size
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/unit {
		return 0, usageError{fmt.Sprintf("--%s %q is not a size such as 64MiB, 512KiB or a number of bytes (0 turns the cache off)", name, raw)}
	}
	if n == 0 {
		return -1, nil
	}
	return n * unit, nil
}

// serverOptions checks the serve flags that tune the API.
func serverOptions(rateLimit, requestTimeout, trustedProxies string) (api.Options, error) {
	var opts api.Options
	rate, err := strconv.ParseFloat(rateLimit, 64)
	if err != nil || math.IsNaN(rate) || math.IsInf(rate, 0) || rate < 0 {
		return opts, usageError{fmt.Sprintf("--rate-limit %q is not a number of requests per second (0 turns limiting off)", rateLimit)}
	}
	timeout, err := time.ParseDuration(requestTimeout)
	if err != nil || timeout <= 0 {
		return opts, usageError{fmt.Sprintf("--request-timeout %q is not a positive duration such as 30s", requestTimeout)}
	}
	opts.RateLimit, opts.RequestTimeout = rate, timeout
	for _, p := range strings.Split(trustedProxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			opts.TrustedProxies = append(opts.TrustedProxies, p)
		}
	}
	return opts, nil
}

// serveDebug serves the pprof profiles on their own listener, so they are
// never reachable through the API's address, its auth or its middleware.
func serveDebug(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: ln.Addr().String(), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}
