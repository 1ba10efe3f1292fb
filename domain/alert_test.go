package domain_test

import (
	"slices"
	"testing"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// TestAlertsFor: the alert rule of CONTRACT.md §8, one case per clause.
func TestAlertsFor(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	facs := []domain.Facility{
		{ID: 1, Location: [2]float64{47.6625, 30.5489}, AlertRadiusM: 5000},
		{ID: 2, Location: [2]float64{47.75, 30.55}, AlertRadiusM: 5000},
		{ID: 3, Location: [2]float64{44.3955, 33.2986}, AlertRadiusM: 100},
		{ID: 4, Location: [2]float64{10, 0}, AlertRadiusM: 5000},
	}
	inc := func(lon, lat float64, severity int, at time.Duration) *domain.Incident {
		return &domain.Incident{Location: [2]float64{lon, lat}, Severity: severity, OccurredAt: now.Add(-at), Status: "reported"}
	}
	retracted := inc(47.665, 30.55, 3, time.Hour)
	retracted.Status = "retracted"
	cases := []struct {
		name       string
		prev, next *domain.Incident
		want       []int64
	}{
		{"create inside one radius", nil, inc(47.665, 30.55, 3, time.Hour), []int64{1}},
		{"create inside two radii", nil, inc(47.705, 30.55, 3, time.Hour), []int64{1, 2}},
		{"create just outside a 100 m radius", nil, inc(44.3967, 33.2986, 3, time.Hour), nil},
		{"create just inside it", nil, inc(44.3964, 33.2986, 3, time.Hour), []int64{3}},
		{"create far away", nil, inc(10, 10, 5, 0), nil},
		// 4,975.8 m along the WGS 84 ellipsoid (PostGIS), 5,003.8 m on a
		// 6,378,137 m sphere, which missed it.
		{"create 4,976 m north of a facility on the equator", nil, inc(10, 0.045, 4, time.Hour), []int64{4}},
		{"create 5,010 m north of it", nil, inc(10, 0.0453, 4, time.Hour), nil},
		{"occurred at the window's edge", nil, inc(47.665, 30.55, 3, 72*time.Hour), []int64{1}},
		{"occurred before the window", nil, inc(47.665, 30.55, 3, 72*time.Hour+time.Second), nil},
		{"occurred a little ahead of the clock", nil, inc(47.665, 30.55, 3, -10*time.Minute), []int64{1}},
		{"occurred an hour ahead", nil, inc(47.665, 30.55, 3, -time.Hour), nil},
		{"retracted", nil, retracted, nil},
		{"update inside, same severity", inc(47.665, 30.55, 3, time.Hour), inc(47.666, 30.55, 3, time.Hour), nil},
		{"update inside, severity down", inc(47.665, 30.55, 3, time.Hour), inc(47.665, 30.55, 2, time.Hour), nil},
		{"update inside, severity up", inc(47.665, 30.55, 3, time.Hour), inc(47.665, 30.55, 4, time.Hour), []int64{1}},
		{"update entering a radius", inc(10, 10, 3, time.Hour), inc(47.665, 30.55, 3, time.Hour), []int64{1}},
		{"update entering a second radius", inc(47.665, 30.55, 3, time.Hour), inc(47.705, 30.55, 3, time.Hour), []int64{2}},
		{"update leaving", inc(47.665, 30.55, 3, time.Hour), inc(10, 10, 5, time.Hour), nil},
		{"update raising severity of an old incident", inc(47.665, 30.55, 3, 100*time.Hour), inc(47.665, 30.55, 5, 100*time.Hour), nil},
		{"update moving an old incident into the window", inc(47.665, 30.55, 3, 100*time.Hour), inc(47.665, 30.55, 3, time.Hour), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []int64
			for _, h := range domain.AlertsFor(c.prev, c.next, facs, now, domain.DefaultAlertWindow) {
				got = append(got, h.FacilityID)
				if h.DistanceM < 0 || h.DistanceM > 5000 || h.DistanceM != float64(int64(h.DistanceM*10))/10 {
					t.Errorf("distance %g: not a 0.1 m rounding within the radius", h.DistanceM)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("alerts %v, want %v", got, c.want)
			}
		})
	}
}

// TestAlertIDs: ids sort as strings in storage order and parse back; other
// strings are not ids.
func TestAlertIDs(t *testing.T) {
	seqs := []int64{1, 9, 10, 15, 16, 255, 256, 1 << 40, 1<<62 + 5}
	for i, seq := range seqs {
		id := domain.AlertID(seq)
		if back, ok := domain.ParseAlertID(id); !ok || back != seq {
			t.Errorf("ParseAlertID(%q) = %d, %v", id, back, ok)
		}
		if i > 0 && domain.AlertID(seqs[i-1]) >= id {
			t.Errorf("%q sorts before %q", id, domain.AlertID(seqs[i-1]))
		}
	}
	for _, bad := range []string{"", "0000000000000000", "1", "000000000000000g", "-000000000000001", "00000000000000001", "ffffffffffffffff"} {
		if _, ok := domain.ParseAlertID(bad); ok {
			t.Errorf("ParseAlertID(%q) accepted", bad)
		}
	}
}

// TestWebhookRetryDelay: the back-off grows, starts within 10 s and spans
// more than 24 hours (CONTRACT.md §8).
func TestWebhookRetryDelay(t *testing.T) {
	var total, prev time.Duration
	n := 0
	for attempt := 1; ; attempt++ {
		d, ok := domain.WebhookRetryDelay(attempt)
		if !ok {
			break
		}
		if attempt == 1 && d > 10*time.Second {
			t.Errorf("first retry after %s, want within 10 s", d)
		}
		if d < prev {
			t.Errorf("retry %d waits %s, less than the one before (%s)", attempt, d, prev)
		}
		total, prev, n = total+d, d, n+1
	}
	if total < 24*time.Hour {
		t.Errorf("retries span %s, want at least 24 h", total)
	}
	if _, ok := domain.WebhookRetryDelay(0); ok || n == 0 {
		t.Error("attempt 0 has a delay, or no attempt has one")
	}
}

// TestIsPossibleDuplicate: same type, 500 m, 2 h.
func TestIsPossibleDuplicate(t *testing.T) {
	base := &domain.Incident{ID: 1, Type: "protest", Location: [2]float64{44.3955, 33.2986}, OccurredAt: time.Date(2018, 9, 7, 10, 0, 0, 0, time.UTC)}
	mk := func(id int64, typ string, dlon float64, dt time.Duration) *domain.Incident {
		return &domain.Incident{ID: id, Type: domain.IncidentType(typ), Location: [2]float64{44.3955 + dlon, 33.2986}, OccurredAt: base.OccurredAt.Add(dt)}
	}
	cases := []struct {
		name  string
		other *domain.Incident
		want  bool
	}{
		{"itself", mk(1, "protest", 0, 0), false},
		{"same place and time", mk(2, "protest", 0, 0), true},
		{"490 m", mk(2, "protest", 0.00527, 0), true},
		{"510 m", mk(2, "protest", 0.00549, 0), false},
		{"2 h later", mk(2, "protest", 0, 2*time.Hour), true},
		{"2 h 1 s earlier", mk(2, "protest", 0, -2*time.Hour-time.Second), false},
		{"another type", mk(2, "riot", 0, 0), false},
	}
	for _, c := range cases {
		if got := domain.IsPossibleDuplicate(base, c.other); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestWebhookValidate: what a subscription may hold.
func TestWebhookValidate(t *testing.T) {
	cases := []struct {
		w     domain.Webhook
		field string // "" when valid
	}{
		{domain.Webhook{URL: "https://hooks.example/x"}, ""},
		{domain.Webhook{URL: "HTTP://127.0.0.1:8080/"}, ""},
		{domain.Webhook{URL: "gopher://x"}, "url"},
		{domain.Webhook{URL: "https://"}, "url"},
		{domain.Webhook{URL: "https://h.example/", SeverityMin: 6}, "severity_min"},
		{domain.Webhook{URL: "https://h.example/", Facilities: []int64{0}}, "facility[0]"},
	}
	for _, c := range cases {
		err := c.w.Validate()
		var de *domain.Error
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%+v: %v", c.w, err)
		case c.field != "" && (err == nil || !asError(err, &de) || de.Fields[0].Field != c.field):
			t.Errorf("%+v: %v, want a problem with %s", c.w, err, c.field)
		}
	}
}

func asError(err error, de **domain.Error) bool {
	e, ok := err.(*domain.Error)
	*de = e
	return ok
}
