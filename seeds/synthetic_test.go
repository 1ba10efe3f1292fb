package seeds_test

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/postwatch/postwatch/domain"
	"github.com/postwatch/postwatch/seeds"
)

func collect(n int, seed uint64) []*domain.Incident {
	var out []*domain.Incident
	for _, inc := range seeds.Synthetic(n, seed) {
		out = append(out, inc)
	}
	return out
}

func TestSynthetic(t *testing.T) {
	const n = 5000
	base := collect(n, 42)
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"OK/yields n incidents indexed 1..n", func(t *testing.T) {
			want := 1
			for i, inc := range seeds.Synthetic(n, 42) {
				if i != want || inc.ExternalID == nil || *inc.ExternalID != strconv.Itoa(i) {
					t.Fatalf("incident %d (external_id %v) where %d was due", i, inc.ExternalID, want)
				}
				want++
			}
			if want != n+1 {
				t.Fatalf("%d incidents, want %d", want-1, n)
			}
		}},
		{"OK/same seed, same incidents", func(t *testing.T) {
			if !reflect.DeepEqual(base, collect(n, 42)) {
				t.Fatal("two streams with seed 42 differ")
			}
		}},
		{"OK/a prefix does not depend on n", func(t *testing.T) {
			if !reflect.DeepEqual(base[:100], collect(100, 42)) {
				t.Fatal("the first 100 of 5000 differ from 100 alone")
			}
		}},
		{"OK/different seed, different incidents", func(t *testing.T) {
			other := collect(n, 43)
			same := 0
			for i := range other {
				if other[i].Location == base[i].Location || other[i].Title == base[i].Title {
					same++
				}
			}
			if same > n/100 {
				t.Fatalf("seeds 42 and 43 agree on %d of %d incidents", same, n)
			}
		}},
		{"OK/every incident validates", func(t *testing.T) {
			for _, inc := range collect(n, 7) {
				if inc.ID != 0 {
					t.Fatalf("incident %s has id %d set", *inc.ExternalID, inc.ID)
				}
				inc.ApplyDefaults()
				if err := inc.Validate(); err != nil {
					t.Fatalf("incident %s: %v", *inc.ExternalID, err)
				}
			}
		}},
		{"OK/inside the region and the time span", func(t *testing.T) {
			for _, inc := range base {
				if !seeds.SyntheticRegion.Contains(inc.Location) {
					t.Fatalf("incident %s at %v is outside %v", *inc.ExternalID, inc.Location, seeds.SyntheticRegion)
				}
				if inc.OccurredAt.Before(seeds.SyntheticFrom) || !inc.OccurredAt.Before(seeds.SyntheticTo) {
					t.Fatalf("incident %s occurred at %v", *inc.ExternalID, inc.OccurredAt)
				}
				for _, v := range inc.Location {
					if math.Round(v*1e6)/1e6 != v {
						t.Fatalf("incident %s: coordinate %v has more than 6 decimals", *inc.ExternalID, v)
					}
				}
			}
		}},
		{"OK/clustered around the city centres", func(t *testing.T) {
			near := 0
			for _, inc := range base {
				for _, c := range seeds.SyntheticCentres() {
					if d := inc.Location.Lon() - c.Lon(); d*d+(inc.Location.Lat()-c.Lat())*(inc.Location.Lat()-c.Lat()) < 1 {
						near++
						break
					}
				}
			}
			// 70% are drawn around a centre (nearly all within 1°), and a few
			// uniform ones land near one too.
			if share := float64(near) / n; share < 0.68 || share > 0.80 {
				t.Fatalf("%.2f of incidents lie within 1° of a centre, want about 0.7", share)
			}
		}},
		{"OK/skewed types, severities and actors", func(t *testing.T) {
			types, sev, actors := map[domain.IncidentType]int{}, map[int]int{}, map[string]int{}
			for _, inc := range base {
				types[inc.Type]++
				sev[inc.Severity]++
				if len(inc.Actors) != 1 || inc.Actors[0].Role != "perpetrator" {
					t.Fatalf("incident %s actors %v, want one perpetrator", *inc.ExternalID, inc.Actors)
				}
				actors[inc.Actors[0].ActorID]++
			}
			if types["protest"] <= types["cyber"]*4 || sev[1] <= sev[5]*2 || actors["actor-001"] <= actors["actor-100"]*20 {
				t.Fatalf("weights not skewed: types %v, severities %v, actor-001 %d, actor-100 %d",
					types, sev, actors["actor-001"], actors["actor-100"])
			}
		}},
		{"OK/titles name the place", func(t *testing.T) {
			inc := base[0]
			if !strings.Contains(inc.Title, " near ") || len(inc.Title) < 36 || len(strings.Fields(inc.Description)) < 15 {
				t.Fatalf("title %q, description %q", inc.Title, inc.Description)
			}
		}},
		{"OK/stops when the consumer does", func(t *testing.T) {
			seen := 0
			for range seeds.Synthetic(n, 42) {
				seen++
				if seen == 3 {
					break
				}
			}
			if seen != 3 {
				t.Fatalf("saw %d", seen)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

// BenchmarkSynthetic is the generator alone: `postwatch gen` and the store
// benchmarks' build both pay it once per incident.
func BenchmarkSynthetic(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for range seeds.Synthetic(1000, 42) {
		}
	}
}
