package grid

// tallies count a cell's entries by type and by severity, so that a count
// by type, or by lowest severity, over a cell the query covers whole — in
// place and in time — adds them up instead of testing each entry's meta,
// a read of cellOf at a random place per entry. 96 bytes per cell.
type tallies struct {
	types [16]int32 // by Meta.typeIndex
	sevs  [8]int32  // by Meta.severity
}

// tally adds d entries of meta m.
func (t *tallies) tally(m Meta, d int32) {
	t.types[m.typeIndex()] += d
	t.sevs[m.severity()] += d
}

// countSpan is the number of a span's entries that match the query: its
// length when the query covers the cell and tests no meta; the cell's
// tallies when the span is the whole cell and the query tests either type
// or severity; otherwise a test of each entry.
func (g *Grid) countSpan(q *Query, s *cellSpan) int {
	whole := s.covered && len(s.entries) == len(s.cell.entries)
	switch {
	case s.covered && !q.sifted():
		return len(s.entries)
	case whole && q.sevMin == 0:
		n := 0
		for i, c := range s.cell.tallies.types {
			if q.types&(1<<i) != 0 {
				n += int(c)
			}
		}
		return n
	case whole && q.types == 0:
		n := 0
		for _, c := range s.cell.tallies.sevs[min(max(q.sevMin, 0), len(s.cell.tallies.sevs)):] {
			n += int(c)
		}
		return n
	}
	n := 0
	for i := range s.entries {
		e := &s.entries[i]
		if q.admits(e, s.covered) {
			n++
		}
	}
	return n
}
