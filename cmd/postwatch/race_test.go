//go:build race

package main

// Under -race the server binary is built with the race detector too, so
// the end-to-end load finds data races in the server; the instrumented
// packages are already in the build cache from the test build.
func init() { e2eBuildFlags = append(e2eBuildFlags, "-race") }
