package domain

import "time"

// ThreatLevel grades the threat against a facility.
type ThreatLevel string

// Threat levels, from least to most severe.
const (
	ThreatLow      ThreatLevel = "low"
	ThreatGuarded  ThreatLevel = "guarded"
	ThreatElevated ThreatLevel = "elevated"
	ThreatHigh     ThreatLevel = "high"
	ThreatSevere   ThreatLevel = "severe"
)

// ThreatTrend compares a window with the one before it.
type ThreatTrend string

// Threat trends.
const (
	TrendRising  ThreatTrend = "rising"
	TrendSteady  ThreatTrend = "steady"
	TrendFalling ThreatTrend = "falling"
)

// WindowSummary sums up the incidents of one time window.
type WindowSummary struct {
	From        time.Time            `json:"from"`
	To          time.Time            `json:"to"`
	Count       int                  `json:"count"`
	ByType      map[IncidentType]int `json:"by_type"`
	MaxSeverity int                  `json:"max_severity"`
	Score       int                  `json:"score"`
}

// Summarize counts incidents by type and weighs them by severity: the
// score is the sum of squared severities, so one rocket strike (4) weighs
// as much as sixteen minor reports (1).
func Summarize(from, to time.Time, incs []Incident) WindowSummary {
	s := NewWindowSummary(from, to)
	for i := range incs {
		s.Add(&incs[i])
	}
	return s
}

// NewWindowSummary is the summary of an empty window [from, to).
func NewWindowSummary(from, to time.Time) WindowSummary {
	return WindowSummary{From: from, To: to, ByType: map[IncidentType]int{}}
}

// Add counts one incident of the window, so a window of any size can be
// summed up page by page; a retracted incident does not count.
func (s *WindowSummary) Add(inc *Incident) {
	if inc.Status == "retracted" {
		return
	}
	s.Count++
	s.ByType[inc.Type]++
	s.MaxSeverity = max(s.MaxSeverity, inc.Severity)
	s.Score += inc.Severity * inc.Severity
}

// Level grades a window's score: nothing is low; a few minor reports are
// guarded; one serious incident or several minor ones elevated; repeated
// serious incidents high; a sustained campaign, or any severity-5 event
// among serious ones, severe.
func (s WindowSummary) Level() ThreatLevel {
	switch {
	case s.Score == 0:
		return ThreatLow
	case s.Score >= 60 || (s.MaxSeverity == 5 && s.Score >= 40):
		return ThreatSevere
	case s.Score >= 30 || s.MaxSeverity == 5:
		return ThreatHigh
	case s.Score >= 9:
		return ThreatElevated
	}
	return ThreatGuarded
}

// Trend compares the window with the one before it: a score more than a
// quarter higher is rising, more than a fifth lower falling.
func Trend(current, previous WindowSummary) ThreatTrend {
	switch {
	case current.Score*4 > previous.Score*5:
		return TrendRising
	case current.Score*5 < previous.Score*4:
		return TrendFalling
	}
	return TrendSteady
}
