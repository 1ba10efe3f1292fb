package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/postwatch/postwatch/domain"
)

// TestDataVersionFollowsEveryWrite: the version a store tells stays put
// while nothing changes, and moves with every kind of write another store
// on the same file (another process) commits, and when a posture change
// recorded ahead of time comes into effect without any write.
func TestDataVersionFollowsEveryWrite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "version.db")
	writer := openAt(t, path, Options{NoGrid: true})
	reader := openAt(t, path, Options{})
	start := time.Now().UTC()
	reader.Now = func() time.Time { return start }
	writer.Now = reader.Now
	inc := &domain.Incident{Location: orb.Point{44.4, 33.3}, Type: "protest", Title: "Protest at the gate",
		OccurredAt: time.Date(2018, 9, 7, 12, 0, 0, 0, time.UTC), Severity: 2}
	fac := &domain.Facility{Location: orb.Point{47.66, 30.55}, Name: "Consulate General Basrah", Kind: "consulate", AlertRadiusM: 1000}
	steps := []struct {
		name  string
		write func() error
	}{
		{"an incident created", func() error { return writer.CreateIncident(ctx, inc) }},
		{"an incident replaced", func() error {
			next := *inc
			next.Title = "Protest at the north gate"
			return writer.ReplaceIncident(ctx, inc.ID, &next, 0)
		}},
		{"an incident imported", func() error {
			_, err := writer.ImportIncidents(ctx, []*domain.Incident{{Location: orb.Point{44.5, 33.2}, Type: "ied",
				Title: "IED on the airport road", OccurredAt: time.Date(2018, 9, 8, 6, 0, 0, 0, time.UTC), Severity: 3}}, nil)
			return err
		}},
		{"an incident deleted", func() error { return writer.DeleteIncident(ctx, inc.ID, 0) }},
		{"a facility created", func() error { return writer.CreateFacility(ctx, fac) }},
		{"actors created", func() error {
			for _, id := range []string{"irgc-qf", "kataib-hezbollah"} {
				if err := writer.CreateActor(ctx, &domain.Actor{ID: id, Name: id, Kind: "armed_group"}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"a relation created", func() error {
			return writer.CreateRelation(ctx, &domain.Relation{SubjectID: "irgc-qf", Kind: "directs", TargetID: "kataib-hezbollah"})
		}},
		{"a posture recorded ahead of time coming into effect", func() error {
			err := writer.RecordPosture(ctx, &domain.PostureChange{FacilityID: fac.ID, Posture: "relocated", EffectiveAt: start.Add(time.Hour)})
			if err != nil {
				return err
			}
			v, err := reader.DataVersion(ctx)
			if err != nil {
				return err
			}
			reader.Now = func() time.Time { return start.Add(2 * time.Hour) }
			if w, err := reader.DataVersion(ctx); err != nil || w == v {
				t.Errorf("the posture came into effect, the version stayed %+v (%v)", w, err)
			}
			return nil
		}},
	}
	last, err := reader.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range steps {
		if err := step.write(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		v, err := reader.DataVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v == last {
			t.Errorf("%s: the version stayed %+v", step.name, v)
		}
		if again, err := reader.DataVersion(ctx); err != nil || again != v {
			t.Errorf("%s: nothing written, the version moved %+v → %+v (%v)", step.name, v, again, err)
		}
		last = v
	}
}
