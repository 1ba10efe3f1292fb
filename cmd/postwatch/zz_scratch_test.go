package main

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"github.com/postwatch/postwatch/api"
)

func loadLines(b *testing.B, n int) [][]byte {
	f, err := os.Open("/tmp/data/inc-100k.geojsonl")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var out [][]byte
	for sc.Scan() && len(out) < n {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

func BenchmarkScratchDecode(b *testing.B) {
	lines := loadLines(b, 10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inc, _, err := api.DecodeIncidentFeature(lines[i%len(lines)])
		if err != nil {
			b.Fatal(err)
		}
		inc.ApplyDefaults()
		if err := inc.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScratchMarshal(b *testing.B) {
	lines := loadLines(b, 1000)
	inc, _, _ := api.DecodeIncidentFeature(lines[0])
	inc.ApplyDefaults()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		json.Marshal(inc)
	}
}
