package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/postwatch/postwatch/domain"
)

// ACLED import: docs/acled.md describes what is read from which column,
// the type and role tables, and the file shapes that load.

// acledField is a column postwatch reads from an ACLED file.
type acledField int

const (
	acledEventID acledField = iota
	acledDate
	acledTimePrecision
	acledEventType
	acledSubEventType
	acledActor1
	acledAssoc1
	acledInter1
	acledActor2
	acledAssoc2
	acledInter2
	acledISO
	acledISO3
	acledCountry
	acledAdmin1
	acledLocation
	acledLatitude
	acledLongitude
	acledGeoPrecision
	acledSource
	acledNotes
	acledFatalities
	acledTags
	acledYear
	acledFieldCount
)

// acledColumns names each field's column as current exports do; headers
// are matched case-insensitively, so the upper-case 2015 layout
// (EVENT_ID_CNTY, EVENT_DATE, …) reads the same.
var acledColumns = [acledFieldCount]string{
	"event_id_cnty", "event_date", "time_precision", "event_type", "sub_event_type",
	"actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2",
	"iso", "iso3", "country", "admin1", "location", "latitude", "longitude", "geo_precision",
	"source", "notes", "fatalities", "tags", "year",
}

// acledAliases are the names older layouts give columns (2015–2018:
// ALLY_ACTOR_1 for assoc_actor_1).
var acledAliases = map[string]string{
	"ally_actor_1": "assoc_actor_1",
	"ally_actor_2": "assoc_actor_2",
}

// acledIgnored are columns read by nothing and kept nowhere: GWNO, the
// Gleditsch–Ward country number of the 2015 layout, which iso supersedes.
var acledIgnored = map[string]bool{"gwno": true}

// acledRequired are the fields without which a row cannot be an incident;
// 2015 files have no sub_event_type, and most others are optional too.
var acledRequired = []acledField{acledEventID, acledDate, acledEventType, acledLatitude, acledLongitude}

// acledLayout is where a file's header puts each field (-1: absent) and
// the name each column's value is kept under in an incident's original
// values ("" for a column not kept).
type acledLayout struct {
	index [acledFieldCount]int
	names []string
}

// acledHeaderName is a header cell as layouts compare it: lower case, no
// surrounding space, inner spaces and hyphens as underscores, aliases
// resolved.
func acledHeaderName(h string) string {
	h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
	h = strings.Join(strings.FieldsFunc(h, func(r rune) bool { return r == ' ' || r == '-' || r == '\t' }), "_")
	if a, ok := acledAliases[h]; ok {
		return a
	}
	return h
}

// mapACLEDHeader reads a header row. Columns it does not know are kept in
// each incident's original values. An error names a column the header
// holds twice (after case folding and aliases: either column could be the
// one meant, and the other's values would be lost) or the required
// columns it lacks.
func mapACLEDHeader(header []string) (*acledLayout, error) {
	l := &acledLayout{names: make([]string, len(header))}
	for f := range l.index {
		l.index[f] = -1
	}
	byName := make(map[string]acledField, acledFieldCount)
	for f, name := range acledColumns {
		byName[name] = acledField(f)
	}
	seen := map[string]int{}
	for i, h := range header {
		name := acledHeaderName(h)
		if name == "" || acledIgnored[name] {
			continue
		}
		if j, ok := seen[name]; ok {
			return nil, fmt.Errorf("the header names %s twice: %q (column %d) and %q (column %d); rename or remove one", name, header[j], j+1, header[i], i+1)
		}
		seen[name] = i
		l.names[i] = name
		if f, ok := byName[name]; ok {
			l.index[f] = i
		}
	}
	var missing []string
	for _, f := range acledRequired {
		if l.index[f] < 0 {
			missing = append(missing, acledColumns[f])
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("not an ACLED export: the header lacks %s", strings.Join(missing, ", "))
	}
	return l, nil
}

// acledMergeWindow is how many events the reader holds back so that the
// rows of one event in a monadic export (one row per actor, adjacent in
// ACLED's files) become one incident. Rows of one event further apart
// than this are not merged: the later one replaces the earlier. It bounds
// the reader's memory whatever the file's size.
const acledMergeWindow = 64

// acledMaxEventRows bounds the rows merged into one event, and so what
// one event holds: an incident names at most domain.MaxListLen actors.
const acledMaxEventRows = domain.MaxListLen

// readACLED reads an ACLED CSV export and emits one incident per event; a
// row that cannot be read is reported by its line number.
func readACLED(ctx context.Context, r *bufio.Reader, emit func(importRecord)) error {
	// Excel's "Unicode Text" and some R and PowerShell exports are
	// UTF-16, which would read as a header of NUL-riddled names.
	if head, _ := r.Peek(2); string(head) == "\xff\xfe" || string(head) == "\xfe\xff" {
		return errors.New("the file is UTF-16 text (it begins with a UTF-16 byte order mark), not CSV in UTF-8: save it as \"CSV UTF-8\" or convert it (iconv -f UTF-16 -t UTF-8)")
	}
	cr := newCSVRecords(r)
	header, _, err := cr.Read()
	if err != nil {
		var rowErr *csvRowError
		switch {
		case errors.As(err, &rowErr):
			return fmt.Errorf("ACLED header: line %d: %w", rowErr.line, err)
		case errors.Is(err, io.EOF):
			return errors.New("the file is empty: it has no header line")
		}
		return fmt.Errorf("ACLED header: %w", err)
	}
	layout, err := mapACLEDHeader(header)
	if err != nil {
		return err
	}
	cr.width = len(header)
	w := newACLEDWindow(emit)
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cells, line, err := cr.Read()
		var rowErr *csvRowError
		switch {
		case errors.As(err, &rowErr):
			w.reject(rowErr.line, domain.InvalidField("row", "%s", rowErr.msg))
			continue
		case errors.Is(err, io.EOF):
			w.flush()
			return nil
		case err != nil:
			return err
		}
		row := acledRow{layout: layout, cells: cells}
		ev, err := row.event()
		if err != nil {
			w.reject(line, err)
			continue
		}
		w.add(line, ev, row)
	}
}

// acledRow is one row of a file, read through its header's layout.
type acledRow struct {
	layout *acledLayout
	cells  []string
}

// get returns a field's value, "" for an absent column and for the
// spellings of "no value" spreadsheets and R write (NA and N/A in any
// case, #N/A, NULL).
func (r acledRow) get(f acledField) string {
	if i := r.layout.index[f]; i >= 0 {
		return r.cell(i)
	}
	return ""
}

func acledValue(v string) string {
	if !utf8.ValidString(v) {
		// Excel's plain "CSV" is in the system's code page, Windows-1252
		// in most of the places ACLED's users save from; text in UTF-8
		// is almost never also valid there.
		v, _ = charmap.Windows1252.NewDecoder().String(v)
	}
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, "NA") || strings.EqualFold(v, "N/A") || v == "#N/A" || v == "NULL" {
		return ""
	}
	return v
}

// acledDecimal reports whether v is a number as ACLED, spreadsheets and R
// write it: decimal digits with an optional sign, fraction and decimal
// exponent (R writes 0.0001 as 1e-04). strconv also reads hex floats
// (0x1p-2), Inf, NaN and digits with underscores, which no export holds:
// a cell in one of those forms is a corrupted one, not a number. (A
// hand-written scan: a regexp cost 0.9 µs a cell, seconds a million rows.)
func acledDecimal(v string) bool {
	i := 0
	sign := func() {
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
	}
	digits := func() int {
		start := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		return i - start
	}
	sign()
	n := digits()
	if i < len(v) && v[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		sign()
		if digits() == 0 {
			return false
		}
	}
	return i == len(v)
}

// acledFloat reads a coordinate, also with the decimal comma spreadsheets
// write in many locales ("30,5489").
func acledFloat(v string) (float64, error) {
	if strings.Count(v, ",") == 1 && !strings.Contains(v, ".") {
		v = strings.Replace(v, ",", ".", 1)
	}
	if !acledDecimal(v) {
		return 0, fmt.Errorf("%q is not a decimal number", v)
	}
	return strconv.ParseFloat(v, 64)
}

// acledEvent is what the rows of one event build. Nothing in it depends
// on the order of the rows that name actors, so a file written in another
// row order builds the same incident.
type acledEvent struct {
	id       string
	lines    []int
	first    acledRow // the row the event's fields were read from
	incident *domain.Incident
	names    map[string]string           // actor names by id, each actor once
	roles    map[string]domain.ActorRole // actor roles by id
}

// event maps the row's event fields to an incident with no actors yet;
// add and merge add them.
func (r acledRow) event() (*acledEvent, error) {
	var p domain.Problems
	id := r.get(acledEventID)
	if id == "" {
		p.Add("event_id_cnty", "is required")
	}
	day, err := parseACLEDDate(r.get(acledDate))
	if err != nil {
		p.Add("event_date", "%s", err.Error())
	}
	lat, err := acledFloat(r.get(acledLatitude))
	if err != nil {
		p.Add("latitude", "%s", err.Error())
	}
	lon, err := acledFloat(r.get(acledLongitude))
	if err != nil {
		p.Add("longitude", "%s", err.Error())
	}
	fatalities := 0
	if v := r.get(acledFatalities); v != "" {
		if fatalities, err = acledInt(v); err != nil || fatalities < 0 {
			p.Add("fatalities", "%q is not a count", v)
		}
	}
	// Codes read by nothing but a rule or the country are checked all
	// the same: a cell that is not a number is a corrupted row.
	for _, f := range []acledField{acledTimePrecision, acledGeoPrecision, acledISO, acledYear} {
		if v := r.get(f); v != "" {
			if _, err := acledInt(v); err != nil {
				p.Add(acledColumns[f], "%q is not a whole number", v)
			}
		}
	}
	for _, f := range []acledField{acledInter1, acledInter2} {
		if _, err := acledInter(r.get(f)); err != nil {
			p.Add(acledColumns[f], "%s", err.Error())
		}
	}
	eventType, subType := r.get(acledEventType), r.get(acledSubEventType)
	if eventType == "" {
		p.Add("event_type", "is required")
	}
	for _, f := range acledActorFields {
		for _, name := range r.actorNames(f) {
			acledActorProblems(&p, acledColumns[f], name)
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	typ := acledType(eventType, subType)
	title := acledTitle(cmp.Or(subType, eventType), nonEmpty(r.get(acledLocation), r.get(acledAdmin1), r.get(acledCountry)))
	inc := &domain.Incident{
		Location: [2]float64{lon, lat}, Type: typ, Title: title, Description: r.get(acledNotes),
		OccurredAt: day, TimePrecision: "day", LocationPrecision: "city", Status: "reported",
		Country: acledCountryCode(r.get(acledISO), r.get(acledISO3), r.get(acledCountry)), ExternalID: &id,
		Casualties: domain.Casualties{Killed: fatalities}, Original: r.original(),
		Severity: acledSeverity(typ, fatalities),
	}
	if tp, _ := acledInt(r.get(acledTimePrecision)); tp == 2 || tp == 3 {
		inc.TimePrecision = "month" // within a week or a month: no finer value fits
	}
	if gp, _ := acledInt(r.get(acledGeoPrecision)); gp == 2 || gp == 3 {
		inc.LocationPrecision = "region"
	}
	for _, s := range splitCell(r.get(acledSource)) {
		inc.Sources = append(inc.Sources, domain.Source{Title: s})
	}
	inc.Tags = splitCell(r.get(acledTags))
	inc.ApplyDefaults()
	return &acledEvent{id: id, first: r, incident: inc, names: map[string]string{}, roles: map[string]domain.ActorRole{}}, nil
}

// acledTitle is "what in where" ("Armed clash in Basra, Basra, Iraq"), cut
// at domain.MaxTitleLen characters. what is never empty (event_type is
// required) and places holds no empty part, so no separator leads or
// trails; "where" is left out when not one character of it would fit.
func acledTitle(what string, places []string) string {
	title := what
	if len(places) > 0 && utf8.RuneCountInString(what+" in ") < domain.MaxTitleLen {
		title += " in " + strings.Join(places, ", ")
	}
	if rs := []rune(title); len(rs) > domain.MaxTitleLen {
		title = strings.TrimRight(string(rs[:domain.MaxTitleLen]), " ,")
	}
	return title
}

// original is the row's values by column name, without empty ones.
func (r acledRow) original() map[string]string {
	out := make(map[string]string, len(r.cells))
	for i, v := range r.cells {
		if i < len(r.layout.names) && r.layout.names[i] != "" {
			if v = acledValue(v); v != "" {
				out[r.layout.names[i]] = v
			}
		}
	}
	return out
}

// addActors adds the row's actors to the event, each actor once. An
// actor's role comes from its column, its inter code and the event's type
// (acledRole), never from the row's place among the event's rows: an actor
// that two rows give different roles is a perpetrator if either row makes
// it one, and of two names with one id the first in byte order names it.
func (ev *acledEvent) addActors(r acledRow) {
	eventType, subType := r.get(acledEventType), r.get(acledSubEventType)
	add := func(actor1 bool, inter string, names ...string) {
		code, _ := acledInter(inter) // event rejected a row whose code does not read
		role := acledRole(actor1, code, eventType, subType)
		for _, name := range names {
			id := acledActorID(name)
			if cur, seen := ev.names[id]; !seen || name < cur {
				ev.names[id] = name
			}
			if cur, seen := ev.roles[id]; !seen || cur != "perpetrator" {
				ev.roles[id] = role
			}
		}
	}
	add(true, r.get(acledInter1), append(r.actorNames(acledActor1), r.actorNames(acledAssoc1)...)...)
	add(false, r.get(acledInter2), append(r.actorNames(acledActor2), r.actorNames(acledAssoc2)...)...)
}

// acledActorFields are the columns that name actors.
var acledActorFields = []acledField{acledActor1, acledAssoc1, acledActor2, acledAssoc2}

// actorNames are the actors a column names: one in actor1 and actor2,
// any number, split on ";", in the associated actors' columns.
func (r acledRow) actorNames(f acledField) []string {
	if f == acledAssoc1 || f == acledAssoc2 {
		return splitCell(r.get(f))
	}
	return nonEmpty(r.get(f))
}

// acledActorProblems adds the problems of the actor the import would
// create for name under column, so that a rejection names the column and
// the actor, not just "name". Only the name can fail (acledActorID makes
// a valid id), and only a long one or one with a control character: the
// full check, some 8 µs, runs on those alone.
func acledActorProblems(p *domain.Problems, column, name string) {
	if len(name) <= domain.MaxTitleLen && strings.IndexFunc(name, unicode.IsControl) < 0 {
		return
	}
	a := domain.Actor{ID: acledActorID(name), Name: name}
	a.ApplyDefaults()
	var verr *domain.Error
	if errors.As(a.Validate(), &verr) {
		for _, fe := range verr.Fields {
			p.Add(column, "actor %q: %s %s", acledShort(name), fe.Field, fe.Message)
		}
	}
}

// acledShort is a value as a message quotes it: its first 40 characters.
func acledShort(v string) string {
	if rs := []rune(v); len(rs) > 40 {
		return string(rs[:40]) + "…"
	}
	return v
}

// actors are the event's actors in one canonical order, perpetrators first
// (the order of domain.ActorRoles), then by id.
func (ev *acledEvent) actors() []domain.IncidentActor {
	out := make([]domain.IncidentActor, 0, len(ev.roles))
	for id, role := range ev.roles {
		out = append(out, domain.IncidentActor{ActorID: id, Role: role})
	}
	slices.SortFunc(out, func(a, b domain.IncidentActor) int {
		if c := cmp.Compare(slices.Index(domain.ActorRoles, a.Role), slices.Index(domain.ActorRoles, b.Role)); c != 0 {
			return c
		}
		return strings.Compare(a.ActorID, b.ActorID)
	})
	return out
}

// acledActorColumns are the columns in which the rows of one event may
// differ: a monadic export gives each of its actors a row.
var acledActorColumns = map[string]bool{
	"actor1": true, "assoc_actor_1": true, "inter1": true,
	"actor2": true, "assoc_actor_2": true, "inter2": true, "interaction": true,
}

// disagreement is the first column, in the header's order, outside the
// actor columns, in which r differs from the event's first row (and so
// from every row merged into it), with both values; ok is false when r
// agrees. Merging such a row would make the incident depend on which row
// came first: an old and a revised row of one event, say.
func (ev *acledEvent) disagreement(r acledRow) (column, first, this string, ok bool) {
	for i, name := range r.layout.names {
		if name == "" || acledActorColumns[name] {
			continue
		}
		if first, this = ev.first.cell(i), r.cell(i); first != this {
			return name, first, this, true
		}
	}
	return "", "", "", false
}

// cell is the value of the row's i-th column.
func (r acledRow) cell(i int) string {
	if i >= len(r.cells) {
		return ""
	}
	return acledValue(r.cells[i])
}

// mergeOriginal adds a later row's values to the event's original ones, so
// the actor1 and inter1 of every row of a monadic event are kept: a column
// whose rows all hold one value keeps it, and one whose rows differ (an
// actor column: rows that differ elsewhere are refused) holds the
// distinct "; "-separated parts of all its values, sorted, which is the
// same whatever the rows' order.
func (ev *acledEvent) mergeOriginal(r acledRow) {
	orig := ev.incident.Original
	for k, v := range r.original() {
		cur, ok := orig[k]
		switch {
		case !ok:
			orig[k] = v
		case cur != v:
			parts := append(strings.Split(cur, "; "), strings.Split(v, "; ")...)
			slices.Sort(parts)
			orig[k] = strings.Join(slices.Compact(parts), "; ")
		}
	}
}

// acledSubEventTypes map ACLED's sub-event types to postwatch's types;
// acledEventTypes map the event types of files without a sub-event type
// (the 2015 layout) and of sub-event types this table lacks. docs/acled.md
// gives the reasons; anything else is "other", and ACLED's own values stay
// in the incident's original values.
var (
	acledSubEventTypes = map[string]domain.IncidentType{
		// Battles
		"armed clash":                         "direct_fire",
		"government regains territory":        "direct_fire",
		"non-state actor overtakes territory": "direct_fire",
		// Explosions/Remote violence
		"shelling/artillery/missile attack": "indirect_fire",
		"air/drone strike":                  "drone",
		"remote explosive/landmine/ied":     "ied",
		"suicide bomb":                      "ied",
		"grenade":                           "other",
		"chemical weapon":                   "other",
		// Violence against civilians
		"attack":                         "direct_fire",
		"abduction/forced disappearance": "kidnapping",
		"sexual violence":                "other",
		// Protests
		"peaceful protest":                   "protest",
		"protest with intervention":          "protest",
		"excessive force against protesters": "protest",
		// Riots
		"violent demonstration": "riot",
		"mob violence":          "riot",
		// Strategic developments
		"looting/property destruction":      "other",
		"arrests":                           "other",
		"agreement":                         "other",
		"change to group/activity":          "other",
		"disrupted weapons use":             "other",
		"headquarters or base established":  "other",
		"non-violent transfer of territory": "other",
		"other":                             "other",
	}
	acledEventTypes = map[string]domain.IncidentType{
		"battles":                                    "direct_fire",
		"battle-no change of territory":              "direct_fire",
		"battle-government regains territory":        "direct_fire",
		"battle-non-state actor overtakes territory": "direct_fire",
		"protests": "protest",
		"riots":    "riot",
	}
)

// acledType maps an event's ACLED types to postwatch's type.
func acledType(eventType, subType string) domain.IncidentType {
	if t, ok := acledSubEventTypes[acledKey(subType)]; ok {
		return t
	}
	if t, ok := acledEventTypes[acledKey(eventType)]; ok {
		return t
	}
	return "other"
}

// acledKey is a type name as the tables hold it: lower case, single
// spaces, no space around "-" and "/" (ACLED's files differ in those).
func acledKey(s string) string {
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	for _, sep := range []string{"-", "/"} {
		s = strings.ReplaceAll(strings.ReplaceAll(s, " "+sep, sep), sep+" ", sep)
	}
	return s
}

// acledInter reads an actor type code: the number of the codebook (1
// state forces … 8 external/other forces) or, in exports since 2024, its
// name; 0 for an empty cell, an error for anything else.
func acledInter(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	if n, err := acledInt(v); err == nil {
		return n, nil
	}
	if n, ok := acledInterNames[strings.ToLower(v)]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("%q is neither an actor type code nor the name of one", v)
}

// acledInterNames are the actor types by the names of the 2024 exports.
var acledInterNames = map[string]int{
	"state forces": 1, "rebel group": 2, "political militia": 3, "identity militia": 4,
	"rioters": 5, "protesters": 6, "civilians": 7, "external/other forces": 8,
}

// ACLED actor type codes that decide roles.
const (
	acledInterStateForces = 1
	acledInterRioters     = 5
	acledInterProtesters  = 6
	acledInterCivilians   = 7
	acledInterExternal    = 8
)

// acledDemonstrationTypes are the event types whose actor1 is always the
// demonstrators (ACLED codebook, "Demonstration events"); 2015 files
// name them together.
var acledDemonstrationTypes = []string{"protests", "riots", "riots/protests"}

// acledRole is an actor's role in an event (docs/acled.md, "Roles"), from
// the ACLED codebook's conventions: civilians are victims, never
// perpetrators; protesters and rioters met with excessive force are its
// targets and the force's users its perpetrators; in violence against
// civilians everyone else is a perpetrator; in a demonstration the
// demonstrators are its perpetrators and anyone of another known type
// (the forces that intervene) its targets; otherwise the column decides:
// actor1, the side that acted, is the perpetrator and actor2 the target.
// A monadic row names its actor in actor1 whichever side it was on, so
// when the codes do not decide, every side of such an event acted.
func acledRole(actor1 bool, inter int, eventType, subType string) domain.ActorRole {
	demonstrator := inter == acledInterProtesters || inter == acledInterRioters
	switch {
	case inter == acledInterCivilians:
		return "target"
	case acledKey(subType) == "excessive force against protesters":
		if demonstrator {
			return "target"
		}
		return "perpetrator"
	case acledKey(eventType) == "violence against civilians":
		return "perpetrator"
	case slices.Contains(acledDemonstrationTypes, acledKey(eventType)) && inter >= acledInterStateForces && inter <= acledInterExternal:
		if demonstrator {
			return "perpetrator"
		}
		return "target"
	case actor1:
		return "perpetrator"
	}
	return "target"
}

// acledInt reads an integer cell, also as R and spreadsheets write whole
// numbers ("3.0").
func acledInt(v string) (int, error) {
	if !acledDecimal(v) {
		return 0, fmt.Errorf("%q is not a decimal number", v)
	}
	return strconv.Atoi(strings.TrimSuffix(v, ".0"))
}

// acledCountryCode is the ISO 3166-1 alpha-2 code of a row: from its
// numeric iso column, else its iso3, else its country name.
func acledCountryCode(iso, iso3, name string) string {
	if c := domain.CountryByNumeric(iso); c != "" {
		return c
	}
	if c := domain.CountryByAlpha3(iso3); c != "" {
		return c
	}
	return domain.CountryByName(name)
}

// acledWindow holds the last acledMergeWindow events and rejected rows in
// file order, merging a row into the event it belongs to while that event
// is held, and emits what leaves it.
type acledWindow struct {
	emit    func(importRecord)
	entries []acledEntry
	byID    map[string]*acledEvent
}

type acledEntry struct {
	event *acledEvent
	line  int
	err   error
}

func newACLEDWindow(emit func(importRecord)) *acledWindow {
	return &acledWindow{emit: emit, byID: map[string]*acledEvent{}}
}

func (w *acledWindow) add(line int, ev *acledEvent, r acledRow) {
	if held, ok := w.byID[ev.id]; ok {
		if col, first, this, ok := held.disagreement(r); ok {
			w.reject(line, domain.InvalidField(col, "%q, but line %d of event %q holds %q: the rows of one event may differ only in their actors",
				acledShort(this), held.lines[0], ev.id, acledShort(first)))
			return
		}
		if len(held.lines) == acledMaxEventRows {
			w.reject(line, domain.InvalidField("event_id_cnty", "event %q has more than %d rows", ev.id, acledMaxEventRows))
			return
		}
		held.lines = append(held.lines, line)
		held.addActors(r)
		held.mergeOriginal(r)
		return
	}
	ev.lines = []int{line}
	ev.addActors(r)
	w.byID[ev.id] = ev
	w.push(acledEntry{event: ev})
}

func (w *acledWindow) reject(line int, err error) {
	w.push(acledEntry{line: line, err: err})
}

func (w *acledWindow) push(e acledEntry) {
	w.entries = append(w.entries, e)
	if len(w.entries) > acledMergeWindow {
		w.pop()
	}
}

func (w *acledWindow) flush() {
	for len(w.entries) > 0 {
		w.pop()
	}
}

// pop emits the oldest entry.
func (w *acledWindow) pop() {
	e := w.entries[0]
	w.entries[0] = acledEntry{}
	w.entries = w.entries[1:]
	if e.event == nil {
		w.emit(importRecord{where: "line " + strconv.Itoa(e.line), err: e.err})
		return
	}
	delete(w.byID, e.event.id)
	e.event.incident.Actors = e.event.actors()
	w.emit(importRecord{where: acledWhere(e.event.lines), incident: e.event.incident, actors: e.event.names})
}

// acledWhere names the lines of an event's rows: "line 12", "lines 12, 13".
func acledWhere(lines []int) string {
	if len(lines) == 1 {
		return "line " + strconv.Itoa(lines[0])
	}
	parts := make([]string, len(lines))
	for i, n := range lines {
		parts[i] = strconv.Itoa(n)
	}
	return "lines " + strings.Join(parts, ", ")
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

// acledDateLayouts are the unambiguous forms event_date comes in: ACLED's
// own (2018-09-28, 28 September 2018), as Excel re-saves them (28-Sep-18,
// 9-May-20, 28-September-2018, September 28, 2018) and as R writes them
// (2018-09-28T00:00:00Z, 2018-09-28 00:00:00). Month names in any case;
// two-digit years are 1969–2068, as Go reads them (ACLED starts in 1997).
var acledDateLayouts = []string{
	"2006-1-2", "2006/1/2", "2006.1.2",
	time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04",
	"2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05 MST",
	"2 January 2006", "2-January-2006", "2 Jan 2006", "2-Jan-2006", "2-Jan-06", "2 Jan 06", "2/Jan/2006",
	"January 2, 2006", "January 2 2006", "Jan 2, 2006", "Jan 2 2006", "Monday, January 2, 2006", "Monday, 2 January 2006",
}

// parseACLEDDate reads an event_date as the UTC calendar day it names,
// whatever time and offset follow it. Day and month in figures are read
// only when their order is certain (28/09/2018, 09/28/2018, 03/03/2018);
// 03/04/2018 could be either and is refused.
func parseACLEDDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("is required")
	}
	for _, layout := range acledDateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			y, m, d := t.Date()
			return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
		}
	}
	if t, ok, err := parseNumericDate(s); ok {
		return t, err
	}
	return time.Time{}, fmt.Errorf("%q is not a date (use 2018-09-28 or 28 September 2018)", s)
}

// parseNumericDate reads a/b/yyyy or a.b.yyyy (or a two-digit year),
// a spreadsheet's short date in the writer's locale. ok is false when s
// is not of that shape.
func parseNumericDate(s string) (t time.Time, ok bool, err error) {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == '.' || r == '-' })
	if len(parts) != 3 || strings.Count(s, string(s[len(parts[0])])) != 2 {
		return time.Time{}, false, nil
	}
	var n [3]int
	for i, p := range parts {
		if len(p) == 0 || len(p) > 4 {
			return time.Time{}, false, nil
		}
		if n[i], err = strconv.Atoi(p); err != nil {
			return time.Time{}, false, nil
		}
	}
	year := n[2]
	switch len(parts[2]) {
	case 2:
		if year += 2000; year > 2068 {
			year -= 100
		}
	case 4:
	default:
		return time.Time{}, false, nil
	}
	a, b := n[0], n[1]
	var day, month int
	switch {
	case a == b:
		day, month = a, b
	case a > 12 && b <= 12:
		day, month = a, b
	case b > 12 && a <= 12:
		day, month = b, a
	case a <= 12 && b <= 12:
		return time.Time{}, true, fmt.Errorf("%q is ambiguous: day/month or month/day? (use 2018-09-28 or 28 September 2018)", s)
	default:
		return time.Time{}, true, fmt.Errorf("%q is not a date", s)
	}
	t = time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if t.Day() != day || int(t.Month()) != month {
		return time.Time{}, true, fmt.Errorf("%q is not a date", s)
	}
	return t, true, nil
}

// splitCell splits a multi-valued ACLED cell on ";", leaving out empty and
// NA values.
func splitCell(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ";") {
		if v = acledValue(v); v != "" {
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
