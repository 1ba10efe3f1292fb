package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMapInBrowser runs web/test/map.test.mjs: headless Chromium, driven by
// playwright-core, loads /map from a real `serve --seed` with every
// request to another host blocked, and checks the list against the items
// API, a filter in the URL, a live incident within 2 s with its alert
// announced, a popup and its history, the facility panel, an officer's
// incident form with its field errors and posture change, an analyst's
// read-only view, the page's weight, a non-blank screenshot, and the HTML
// items pages' maps (every feature drawn, a click opening its page). It is skipped, loudly, only when Chromium or
// Node is missing; web/node_modules is installed (npm ci) when absent.
func TestMapInBrowser(t *testing.T) {
	binary(t) // builds the server, or skips under -short
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		skipLoudly(t, "Chromium is not at "+chromium+" (apt-get install chromium, or set CHROMIUM)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skipLoudly(t, "node is not on PATH (apt-get install nodejs npm)")
	}
	web, err := filepath.Abs(filepath.Join("..", "..", "web"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(web, "node_modules", "playwright-core")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			skipLoudly(t, "web/node_modules is missing and npm is not on PATH to install it")
		}
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = web
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in web/: %v\n%s", err, out)
		}
	}

	db := filepath.Join(t.TempDir(), "map.db")
	srv := startServer(t, db, "--seed")
	officer, analyst := newToken(t, db, "officer"), newToken(t, db, "analyst")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("test", "map.test.mjs"))
	cmd.Dir = web
	cmd.Env = append(cleanEnv(), "POSTWATCH_URL="+srv.base, "OFFICER_TOKEN="+officer, "ANALYST_TOKEN="+analyst,
		"CHROMIUM="+chromium, "MAP_SCREENSHOT="+filepath.Join(t.TempDir(), "map.png"))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("node test/map.test.mjs (%.1f s):\n%s", time.Since(start).Seconds(), indent(string(out)))
	if err != nil {
		t.Fatalf("the browser test failed: %v", err)
	}
	if lines := withoutHangUps(srv.troubleLines()); len(lines) > 0 {
		t.Fatalf("serve logged trouble during the browser test:\n%s", strings.Join(lines, "\n"))
	}
}

// withoutHangUps drops the log lines of requests the browser abandoned when
// it closed with a poll or the alert stream in flight: the server logs such
// a hang-up as a 500 "context canceled" (#16 makes it quieter), which is no
// failure of the map.
func withoutHangUps(lines []string) []string {
	abandoned := map[string]bool{}
	for _, l := range lines {
		if strings.Contains(l, `err="context canceled"`) {
			if _, id, ok := strings.Cut(l, "request_id="); ok {
				abandoned[strings.Fields(id)[0]] = true
			}
		}
	}
	var out []string
	for _, l := range lines {
		if _, id, ok := strings.Cut(l, "request_id="); ok && abandoned[strings.Fields(id)[0]] {
			continue
		}
		out = append(out, l)
	}
	return out
}

// skipLoudly skips with a banner, so a missing browser is not mistaken for
// a passing browser test.
func skipLoudly(t *testing.T, why string) {
	t.Helper()
	t.Logf("\n%s\nSKIPPED: the map's browser test did not run: %s\n%s", strings.Repeat("!", 72), why, strings.Repeat("!", 72))
	t.Skip(why)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
