package domain

import (
	"fmt"
	"time"
)

// MinYear and MaxYear bound every stored time, in UTC: RFC 3339 and JSON
// write four-digit years only, so a time outside them could be stored but
// never written back (a page holding it would fail to render).
const (
	MinYear = 1
	MaxYear = 9999
)

// ParseRFC3339 reads an RFC 3339 date-time (§5.6) into UTC. It is the one
// parser of times for bodies and query parameters:
//   - the date/time separator is "T" or "t" and the zone "Z" or "z" (§5.6:
//     the grammar is case-insensitive); a space, which §5.6's note lets
//     applications agree on, is refused: in a query string it is easily a
//     mangled "+";
//   - a fraction of any length is read to the nanosecond;
//   - a leap second (second 60, at the last second of a UTC minute) is
//     accepted and stored as the following second, as PostgreSQL does
//     (Go's time.Parse refuses it);
//   - an offset must lie in -23:59…+23:59 with minutes 00–59 (time.Parse
//     takes "+00:60", which the RFC's grammar does not);
//   - the year must lie in MinYear…MaxYear once converted to UTC.
//
// The error says what is wrong in words a client can act on, without the
// field name, which the caller adds.
func ParseRFC3339(s string) (time.Time, error) {
	const layout = "YYYY-MM-DDThh:mm:ss"
	if len(s) < len(layout)+1 {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp (YYYY-MM-DDThh:mm:ssZ or an offset ±hh:mm)", s)
	}
	bad := func(what string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp: %s", s, what)
	}
	num := func(from, n int) (int, bool) {
		v := 0
		for i := from; i < from+n; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' {
		return bad("expected YYYY-MM-DDThh:mm:ss")
	}
	switch s[10] {
	case 'T', 't':
	default:
		return bad("the date and the time are separated by T")
	}
	if month < 1 || month > 12 {
		return bad("month must be 01–12")
	}
	if day < 1 || day > daysIn(year, time.Month(month)) {
		return bad(fmt.Sprintf("day %02d does not exist in %04d-%02d", day, year, month))
	}
	if hour > 23 || minute > 59 || sec > 60 {
		return bad("hour must be 00–23, minute 00–59, second 00–60")
	}
	i := len(layout)
	nanos := 0
	if s[i] == '.' {
		i++
		start := i
		scale := 100_000_000
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			nanos += int(s[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == start {
			return bad("a decimal point needs digits after it")
		}
	}
	var offset int
	switch rest := s[i:]; {
	case rest == "Z" || rest == "z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := num(i+1, 2)
		om, okm := num(i+4, 2)
		if !okh || !okm {
			return bad("the offset must be ±hh:mm")
		}
		if oh > 23 || om > 59 {
			return bad("the offset must lie in -23:59…+23:59 with minutes 00–59")
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	case rest == "":
		return bad("a time zone (Z or ±hh:mm) is required")
	default:
		return bad("the time zone must be Z or ±hh:mm")
	}
	leap := sec == 60
	if leap {
		sec = 59
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, time.FixedZone("", offset)).UTC()
	if leap {
		// A leap second ends a UTC minute; stored as the next second.
		if t.Minute() != 59 || t.Hour() != 23 {
			return bad("second 60 is a leap second, only at 23:59:60 UTC")
		}
		t = t.Add(time.Second)
	}
	if t.Year() < MinYear || t.Year() > MaxYear {
		return bad(fmt.Sprintf("year %d in UTC is outside %04d–%04d", t.Year(), MinYear, MaxYear))
	}
	return t, nil
}

// ParseDateOrRFC3339 is ParseRFC3339 that also takes a calendar date
// (YYYY-MM-DD) as midnight UTC of that day; isDate tells which it was.
func ParseDateOrRFC3339(s string) (t time.Time, isDate bool, err error) {
	if len(s) == len("2006-01-02") {
		d, derr := time.Parse(time.DateOnly, s)
		if derr != nil || d.Year() < MinYear {
			return time.Time{}, false, fmt.Errorf("%q is neither an RFC 3339 timestamp nor a date (YYYY-MM-DD) in %04d–%04d", s, MinYear, MaxYear)
		}
		return d, true, nil
	}
	t, err = ParseRFC3339(s)
	return t, false, err
}

// CheckTime records a problem when t, a time to be stored, is outside
// MinYear…MaxYear in UTC. Every Validate calls it for every time field, so
// a record built without the parser (an import, a store migration) is
// held to the same range.
func CheckTime(p *Problems, field string, t time.Time) {
	if y := t.UTC().Year(); y < MinYear || y > MaxYear {
		p.Add(field, "year %d in UTC is outside %04d–%04d", y, MinYear, MaxYear)
	}
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
