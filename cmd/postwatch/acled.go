package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/postwatch/postwatch/domain"
)

// acledRequired are the columns an ACLED export must have; the others of
// the 31-column format are read when present, and any extra column of an
// older export is kept in the incident's original values.
var acledRequired = []string{"event_id_cnty", "event_date", "event_type", "sub_event_type", "latitude", "longitude"}

// acledTypes maps ACLED's sub-event types, then event types, to postwatch's.
var acledTypes = map[string]domain.IncidentType{
	"shelling/artillery/missile attack": "indirect_fire",
	"air/drone strike":                  "drone",
	"remote explosive/landmine/ied":     "ied",
	"suicide bomb":                      "ied",
	"grenade":                           "ied",
	"abduction/forced disappearance":    "kidnapping",
	"armed clash":                       "direct_fire",
	"attack":                            "direct_fire",
	"violent demonstration":             "riot",
	"mob violence":                      "riot",
	"looting/property destruction":      "arson",
	"protests":                          "protest",
	"riots":                             "riot",
	"battles":                           "direct_fire",
	"explosions/remote violence":        "indirect_fire",
	"violence against civilians":        "direct_fire",
}

// isoNumeric maps ISO 3166-1 numeric codes, which ACLED's iso column holds,
// to alpha-2 for the countries where diplomatic posts most often report.
var isoNumeric = map[string]string{
	"4": "AF", "12": "DZ", "31": "AZ", "48": "BH", "50": "BD", "51": "AM", "196": "CY", "231": "ET",
	"262": "DJ", "268": "GE", "275": "PS", "364": "IR", "368": "IQ", "376": "IL", "400": "JO",
	"414": "KW", "422": "LB", "434": "LY", "466": "ML", "478": "MR", "504": "MA", "512": "OM",
	"562": "NE", "566": "NG", "586": "PK", "634": "QA", "682": "SA", "706": "SO", "728": "SS",
	"729": "SD", "760": "SY", "788": "TN", "792": "TR", "784": "AE", "818": "EG", "887": "YE",
	"148": "TD", "180": "CD", "140": "CF", "854": "BF", "804": "UA", "643": "RU",
}

// readACLED reads an ACLED CSV export and emits one incident per row; a row
// that cannot be read is reported by its line number.
func readACLED(ctx context.Context, r *bufio.Reader, emit func(importRecord)) error {
	if bom, _ := r.Peek(3); string(bom) == "\xef\xbb\xbf" {
		r.Discard(3)
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("ACLED header: %w", err)
	}
	col := map[string]int{}
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = strings.ToLower(strings.TrimSpace(h))
		col[names[i]] = i
	}
	for _, c := range acledRequired {
		if _, ok := col[c]; !ok {
			return fmt.Errorf("not an ACLED export: the header lacks %s", c)
		}
	}
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			emit(importRecord{where: fmt.Sprintf("line %d", perr.Line), err: domain.InvalidField("row", "%s", perr.Err.Error())})
			continue
		}
		if err != nil {
			return err
		}
		line, _ := cr.FieldPos(0) // only valid after a row was read
		where := fmt.Sprintf("line %d", line)
		if len(row) != len(header) {
			emit(importRecord{where: where, err: domain.InvalidField("row", "has %d cells, the header %d", len(row), len(header))})
			continue
		}
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		original := make(map[string]string, len(row))
		for i, v := range row {
			if v = strings.TrimSpace(v); v != "" {
				original[names[i]] = v
			}
		}
		inc, actors, err := acledIncident(get, original)
		emit(importRecord{where: where, incident: inc, actors: actors, err: err})
	}
}

// acledIncident maps one ACLED row to an incident and names its actors.
func acledIncident(get func(string) string, original map[string]string) (*domain.Incident, map[string]string, error) {
	var p domain.Problems
	id := get("event_id_cnty")
	if id == "" {
		p.Add("event_id_cnty", "is required")
	}
	day, err := parseACLEDDate(get("event_date"))
	if err != nil {
		p.Add("event_date", "%q is neither 2018-09-28 nor 28 September 2018", get("event_date"))
	}
	lat, errLat := strconv.ParseFloat(get("latitude"), 64)
	lon, errLon := strconv.ParseFloat(get("longitude"), 64)
	if errLat != nil || errLon != nil {
		p.Add("latitude", "latitude %q and longitude %q must be numbers", get("latitude"), get("longitude"))
	}
	typ, ok := acledTypes[strings.ToLower(get("sub_event_type"))]
	if !ok {
		if typ, ok = acledTypes[strings.ToLower(get("event_type"))]; !ok {
			typ = "other"
		}
	}
	fatalities := 0
	if v := get("fatalities"); v != "" {
		if fatalities, err = strconv.Atoi(v); err != nil || fatalities < 0 {
			p.Add("fatalities", "%q is not a count", v)
		}
	}
	if err := p.Err(); err != nil {
		return nil, nil, err
	}
	place := strings.Join(nonEmpty(get("location"), get("admin1"), get("country")), ", ")
	title := get("sub_event_type")
	if title == "" {
		title = get("event_type")
	}
	if place != "" {
		title += " in " + place
	}
	if r := []rune(title); len(r) > domain.MaxTitleLen {
		title = string(r[:domain.MaxTitleLen])
	}
	inc := &domain.Incident{
		Location: [2]float64{lon, lat}, Type: typ, Title: title, Description: get("notes"),
		OccurredAt: day, TimePrecision: "day", LocationPrecision: "city", Status: "reported",
		Country: isoNumeric[strings.TrimLeft(get("iso"), "0")], ExternalID: &id,
		Casualties: domain.Casualties{Killed: fatalities}, Original: original,
		Severity: acledSeverity(typ, fatalities),
	}
	if get("time_precision") == "2" || get("time_precision") == "3" {
		inc.TimePrecision = "month" // within a week or a month: no finer value fits
	}
	if get("geo_precision") == "2" || get("geo_precision") == "3" {
		inc.LocationPrecision = "region"
	}
	for _, s := range splitCell(get("source")) {
		inc.Sources = append(inc.Sources, domain.Source{Title: s})
	}
	inc.Tags = splitCell(get("tags"))
	actors := map[string]string{}
	seen := map[domain.IncidentActor]bool{}
	add := func(role domain.ActorRole, names ...string) {
		for _, name := range names {
			a := domain.IncidentActor{ActorID: acledActorID(name), Role: role}
			if name == "" || seen[a] {
				continue
			}
			seen[a] = true
			actors[a.ActorID] = name
			inc.Actors = append(inc.Actors, a)
		}
	}
	add("perpetrator", get("actor1"))
	add("perpetrator", splitCell(get("assoc_actor_1"))...)
	add("target", get("actor2"))
	add("target", splitCell(get("assoc_actor_2"))...)
	inc.ApplyDefaults()
	return inc, actors, nil
}

// acledSeverity grades an event by its deaths; protests without deaths are
// the least severe.
func acledSeverity(typ domain.IncidentType, fatalities int) int {
	switch {
	case fatalities >= 10:
		return 5
	case fatalities >= 3:
		return 4
	case fatalities >= 1:
		return 3
	case typ == "protest":
		return 1
	}
	return 2
}

// acledActorID is the id an ACLED actor name gets: its slug, or a hash of
// the name when the slug keeps nothing of it.
func acledActorID(name string) string {
	if id := domain.Slug(name); id != "" {
		return id
	}
	sum := sha256.Sum256([]byte(name))
	return "actor-" + hex.EncodeToString(sum[:6])
}

func parseACLEDDate(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02", "2 January 2006", "02 January 2006", "2 Jan 2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad date %q", s)
}

// splitCell splits a multi-valued ACLED cell on ";".
func splitCell(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ";") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func nonEmpty(vs ...string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
