package domain_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/postwatch/postwatch/domain"
)

// TestChainFinder: the shortest chain valid at the incident's time, to an
// actor named in an attribution role, loading each actor's relations once.
func TestChainFinder(t *testing.T) {
	rels := map[string][]domain.Relation{
		"a": {{SubjectID: "a", Kind: "directs", TargetID: "b", ValidFrom: day("2018-01-01"), ValidTo: day("2019-01-01")},
			{SubjectID: "a", Kind: "allied_with", TargetID: "d"}, {SubjectID: "a", Kind: "sponsors", TargetID: "c"}},
		"b": {{SubjectID: "b", Kind: "controls", TargetID: "c"}, {SubjectID: "b", Kind: "leads", TargetID: "a"}},
		"c": {{SubjectID: "c", Kind: "member_of", TargetID: "e"}},
	}
	loads := map[string]int{}
	load := func(_ context.Context, id string) ([]domain.Relation, error) {
		loads[id]++
		if id == "ghost" {
			return nil, domain.Errorf(domain.ENOTFOUND, "no actor %s", id)
		}
		return rels[id], nil
	}
	inc := func(when string, actors ...string) *domain.Incident {
		i := &domain.Incident{OccurredAt: *day(when)}
		for k := 0; k+1 < len(actors); k += 2 {
			i.Actors = append(i.Actors, domain.IncidentActor{ActorID: actors[k], Role: domain.ActorRole(actors[k+1])})
		}
		return i
	}
	tests := []struct {
		name  string
		roots []string
		inc   *domain.Incident
		want  string // path/relations, "" for none
	}{
		{"direct", []string{"a"}, inc("2018-06-01", "a", "perpetrator"), "[a] []"},
		{"one step while the relation holds", []string{"a"}, inc("2018-06-01", "b", "claimant"), "[a b] [directs]"},
		{"not after it ends", []string{"a"}, inc("2019-06-01", "b", "claimant"), ""},
		{"shortest of two ways", []string{"a"}, inc("2018-06-01", "c", "suspected"), "[a c] [sponsors]"},
		{"never a target", []string{"a"}, inc("2018-06-01", "b", "target"), ""},
		{"never allied_with", []string{"a"}, inc("2018-06-01", "d", "perpetrator"), ""},
		{"never member_of", []string{"c"}, inc("2018-06-01", "e", "perpetrator"), ""},
		{"cycles end", []string{"b"}, inc("2019-06-01", "x", "perpetrator"), ""},
		{"the nearer root", []string{"a", "b"}, inc("2019-06-01", "c", "perpetrator"), "[a c] [sponsors]"},
		{"an unknown root has no relations", []string{"ghost", "b"}, inc("2018-06-01", "c", "perpetrator"), "[b c] [controls]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := domain.NewChainFinder(tt.roots, domain.AttributionRoles, load)
			ch, err := f.Shortest(context.Background(), tt.inc)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if ch != nil {
				got = fmt.Sprint(ch.Path, " ", ch.Relations)
				if ch.ActorID != ch.Path[0] || len(ch.Relations) != len(ch.Path)-1 {
					t.Errorf("malformed chain %+v", ch)
				}
			}
			if got != tt.want {
				t.Errorf("chain %q, want %q", got, tt.want)
			}
		})
	}
	clear(loads)
	f := domain.NewChainFinder([]string{"a"}, domain.AttributionRoles, load)
	for range 3 {
		f.Shortest(context.Background(), inc("2018-06-01", "c", "perpetrator"))
	}
	if loads["a"] != 1 {
		t.Errorf("a's relations were loaded %d times for three incidents", loads["a"])
	}
	if got := domain.ChainRoles([]domain.ActorRole{"target", "claimant"}); !slices.Equal(got, []domain.ActorRole{"claimant"}) {
		t.Errorf("ChainRoles = %v", got)
	}
}

func TestParseSortKey(t *testing.T) {
	for raw, want := range map[string]string{
		"severity": "severity", "+severity": "severity", " severity": "severity", "-severity,occurred_at": "-severity,occurred_at",
		"type,-id": "type,-id", "title,+country": "title,country",
	} {
		if got, err := domain.ParseSortKey(raw); err != nil || string(got) != want {
			t.Errorf("ParseSortKey(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{"", "colour", "-", "+-severity", "severity,severity", "severity,-severity", "id,", "description"} {
		if _, err := domain.ParseSortKey(raw); domain.ErrorCodeOf(err) != domain.EINVALID {
			t.Errorf("ParseSortKey(%q) = %v, want EINVALID", raw, err)
		}
	}
}

func TestFillTimeGaps(t *testing.T) {
	b := func(count int, keys ...string) domain.Bucket {
		return domain.Bucket{Key: domain.BucketKey(keys), Keys: keys, Count: count}
	}
	keysOf := func(bs []domain.Bucket) string {
		var out []string
		for _, x := range bs {
			out = append(out, fmt.Sprintf("%s=%d", x.Key, x.Count))
		}
		return fmt.Sprint(out)
	}
	tests := []struct {
		name string
		by   []domain.GroupBy
		in   []domain.Bucket
		want string
	}{
		{"days", []domain.GroupBy{"day"}, []domain.Bucket{b(1, "2018-02-27"), b(2, "2018-03-02")},
			"[2018-02-27=1 2018-02-28=0 2018-03-01=0 2018-03-02=2]"},
		{"weeks", []domain.GroupBy{"week"}, []domain.Bucket{b(1, "2018-12-24"), b(1, "2019-01-07")}, "[2018-12-24=1 2018-12-31=0 2019-01-07=1]"},
		{"months across a year", []domain.GroupBy{"month"}, []domain.Bucket{b(1, "2018-11"), b(1, "2019-02")},
			"[2018-11=1 2018-12=0 2019-01=0 2019-02=1]"},
		{"not time", []domain.GroupBy{"type"}, []domain.Bucket{b(2, "ied"), b(1, "drone")}, "[ied=2 drone=1]"},
		{"empty", []domain.GroupBy{"day"}, nil, "[]"},
		{"month and type", []domain.GroupBy{"month", "type"}, []domain.Bucket{b(1, "2018-07", "ied"), b(1, "2018-09", "drone")},
			"[2018-07/ied=1 2018-07/drone=0 2018-08/ied=0 2018-08/drone=0 2018-09/ied=0 2018-09/drone=1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.FillTimeGaps(tt.in, domain.StatsQuery{By: tt.by})
			if err != nil || keysOf(got) != tt.want {
				t.Errorf("FillTimeGaps = %s, %v; want %s", keysOf(got), err, tt.want)
			}
		})
	}
	if _, err := domain.FillTimeGaps([]domain.Bucket{b(1, "1700-01-01"), b(1, "2018-01-01")}, domain.StatsQuery{By: []domain.GroupBy{"day"}}); domain.ErrorCodeOf(err) != domain.EINVALID {
		t.Errorf("three centuries of days: %v, want EINVALID", err)
	}
}
