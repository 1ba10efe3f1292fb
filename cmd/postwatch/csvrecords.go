package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxCSVRecordBytes bounds one CSV record: a cell of notes is a few KB,
// so a record past this holds a quote that never closed. It is also the
// most a broken record makes the reader keep to read again.
const maxCSVRecordBytes = 1 << 20

// csvRecords reads the records of an RFC 4180 file (the dialect
// spreadsheets write: CRLF or LF, quoted cells that may hold separators,
// doubled quotes and line breaks; the separator a comma, or the semicolon
// or tab that spreadsheets in many locales write, told from the first
// line unless Excel's "sep=X" line names it) and, unlike encoding/csv,
// recovers from a quote that never closes. encoding/csv reads such a quote to the end of
// the file as one cell, so one stray quote swallows every later row; here
// a record that spans several lines and whose quoting breaks (a quote
// inside it is followed by text, it reaches maxCSVRecordBytes or the end
// of the file) is rejected at its first line, and reading starts again at
// the line after that one. A record whose quotes balance but whose cells
// number other than the header's is rejected whole, all its lines: its
// quoted cells' lines are text, never rows. A quote that is not at the
// start of a cell is text, as spreadsheets mean it.
type csvRecords struct {
	r   *bufio.Reader
	sep byte
	// eol ends a line: '\n' (LF or CRLF), or '\r' in a file with no LF
	// in its first MiB, as old Mac spreadsheets wrote.
	eol byte
	// width is the header's number of cells, once read; records of
	// another width are errors.
	width int
	// read is the number of the last line read from r.
	read int
	// back holds lines read but given back, oldest first, to be read
	// again after a broken record.
	back []csvLine
	// lines are the lines of the record being read.
	lines []csvLine
	eof   bool
}

type csvLine struct {
	n    int    // 1-based line number in the file
	text []byte // without its line break
	long bool   // longer than maxCSVRecordBytes; text is cut
}

// csvRowError is a record that cannot be read, at its first line.
type csvRowError struct {
	line int
	msg  string
}

func (e *csvRowError) Error() string { return e.msg }

func newCSVRecords(r *bufio.Reader) *csvRecords {
	if bom, _ := r.Peek(3); string(bom) == "\xef\xbb\xbf" {
		r.Discard(3)
	}
	c := &csvRecords{r: r, eol: '\n'}
	if sep, n := csvSepLine(r); n > 0 {
		r.Discard(n)
		c.sep, c.read = sep, 1
	} else {
		c.sep = csvSeparator(r)
	}
	if head, _ := r.Peek(r.Size()); bytes.IndexByte(head, '\n') < 0 && bytes.IndexByte(head, '\r') >= 0 {
		c.eol = '\r'
	}
	return c
}

// csvSepLine reads the "sep=;" line Excel writes first to name a file's
// separator: the separator and the line's length with its line break, or
// a length of 0 when the file does not begin with one.
func csvSepLine(r *bufio.Reader) (sep byte, n int) {
	head, _ := r.Peek(7)
	if len(head) < 5 || !strings.EqualFold(string(head[:4]), "sep=") || strings.IndexByte("\"\r\n", head[4]) >= 0 {
		return 0, 0
	}
	switch rest := string(head[5:]); {
	case rest == "", strings.HasPrefix(rest, "\r\n"):
		return head[4], 5 + min(len(rest), 2)
	case rest[0] == '\n' || rest[0] == '\r':
		return head[4], 6
	}
	return 0, 0
}

// csvSeparator is the separator of the file's first line: of comma,
// semicolon and tab, the one it holds most often outside quotes (a comma
// when there is none).
func csvSeparator(r *bufio.Reader) byte {
	head, _ := r.Peek(r.Size())
	if i := bytes.IndexAny(head, "\r\n"); i >= 0 {
		head = head[:i]
	}
	var count [256]int
	quoted := false
	for _, b := range head {
		if b == '"' {
			quoted = !quoted
		} else if !quoted {
			count[b]++
		}
	}
	sep := byte(',')
	for _, b := range []byte{';', '\t'} {
		if count[b] > count[sep] {
			sep = b
		}
	}
	return sep
}

// Read returns the cells of the next record and the line it starts on,
// a *csvRowError for a record that cannot be read (reading goes on after
// it), io.EOF at the end, or the reader's error. Blank lines and rows of
// empty cells only (",,,,", which spreadsheets leave below the data) are
// skipped.
func (c *csvRecords) Read() (cells []string, line int, err error) {
	var first csvLine
	for {
		l, err := c.line()
		if err != nil {
			return nil, 0, err
		}
		if l.long || len(bytes.Trim(l.text, " \t"+string(c.sep))) > 0 {
			first = l
			break
		}
	}
	c.lines = append(c.lines[:0], first)
	size := len(first.text)
	p := csvParse{sep: c.sep}
	done, perr := p.feed(first.text)
	for !done && perr == nil && !first.long {
		l, err := c.line()
		if err == io.EOF {
			perr = errors.New("a quoted cell opened on this line never closes (the file ends inside it)")
			break
		}
		if err != nil {
			return nil, 0, err
		}
		c.lines = append(c.lines, l)
		if size += len(l.text) + 1; size > maxCSVRecordBytes || l.long {
			perr = fmt.Errorf("a quoted cell opened on this line runs past %d bytes without closing", maxCSVRecordBytes)
			break
		}
		p.field = append(p.field, '\n')
		done, perr = p.feed(l.text)
	}
	if first.long {
		perr = fmt.Errorf("the line is longer than %d bytes", maxCSVRecordBytes)
	}
	if perr == nil && c.width > 0 && len(p.cells) != c.width && !emptyBeyond(p.cells, c.width) {
		// The quotes balance, so the record's lines are one record: read
		// again, a quoted cell's lines would come out as rows of their own.
		msg := fmt.Sprintf("has %d cells, the header %d", len(p.cells), c.width)
		if n := len(c.lines); n > 1 {
			msg += fmt.Sprintf(" (the record spans lines %d-%d, all rejected)", first.n, c.lines[n-1].n)
		}
		return nil, first.n, &csvRowError{line: first.n, msg: msg}
	}
	if perr != nil {
		if len(c.lines) == 1 {
			return nil, first.n, &csvRowError{line: first.n, msg: perr.Error()}
		}
		// The quoting is broken: read again from the line after the
		// first, the rows a stray quote took in are most likely good.
		c.back = append(append([]csvLine(nil), c.lines[1:]...), c.back...)
		msg := perr.Error()
		if !strings.HasPrefix(msg, "a quoted cell") {
			msg = fmt.Sprintf("a quoted cell opened on this line does not close where its row ends (%s, %d lines on)", msg, len(c.lines)-1)
		}
		return nil, first.n, &csvRowError{line: first.n, msg: msg + "; reading again from line " + strconv.Itoa(first.n+1)}
	}
	if c.width > 0 && len(p.cells) > c.width {
		p.cells = p.cells[:c.width]
	}
	return p.cells, first.n, nil
}

// emptyBeyond reports whether cells has more than width cells, all the
// extra ones empty: trailing separators some tools write.
func emptyBeyond(cells []string, width int) bool {
	if len(cells) <= width {
		return false
	}
	for _, v := range cells[width:] {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// line returns the next line: one given back, or one read from the file.
func (c *csvRecords) line() (csvLine, error) {
	if len(c.back) > 0 {
		l := c.back[0]
		c.back = c.back[1:]
		return l, nil
	}
	if c.eof {
		return csvLine{}, io.EOF
	}
	var text []byte
	long := false
	for {
		part, err := c.r.ReadSlice(c.eol)
		if !long {
			if len(text)+len(part) > maxCSVRecordBytes {
				long = true
				text = append(text, part[:maxCSVRecordBytes-len(text)]...)
			} else {
				text = append(text, part...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			c.eof = true
			if len(text) == 0 && !long {
				return csvLine{}, io.EOF
			}
		} else if err != nil {
			return csvLine{}, err
		}
		break
	}
	c.read++
	text = bytes.TrimSuffix(text, []byte{c.eol})
	text = bytes.TrimSuffix(text, []byte("\r"))
	return csvLine{n: c.read, text: text, long: long}, nil
}

// csvParse splits one record's lines into cells, line by line.
type csvParse struct {
	sep      byte
	cells    []string
	field    []byte
	inQuotes bool // inside a quoted cell that has not closed yet
}

// feed parses one line of the record. done is false when a quoted cell
// goes on to the next line; the caller then adds the line break.
func (p *csvParse) feed(b []byte) (done bool, err error) {
	i := 0
	for {
		if !p.inQuotes {
			// At the start of a cell.
			if i < len(b) && b[i] == '"' {
				p.inQuotes = true
				p.field = p.field[:0]
				i++
			} else {
				j := bytes.IndexByte(b[i:], p.sep)
				if j < 0 {
					p.cells = append(p.cells, string(b[i:]))
					return true, nil
				}
				p.cells = append(p.cells, string(b[i:i+j]))
				i += j + 1
				continue
			}
		}
		// Inside a quoted cell.
		k := bytes.IndexByte(b[i:], '"')
		if k < 0 {
			p.field = append(p.field, b[i:]...)
			return false, nil
		}
		p.field = append(p.field, b[i:i+k]...)
		i += k + 1
		if i < len(b) && b[i] == '"' { // a doubled quote is one quote
			p.field = append(p.field, '"')
			i++
			continue
		}
		p.inQuotes = false
		p.cells = append(p.cells, string(p.field))
		switch {
		case i == len(b):
			return true, nil
		case b[i] == p.sep:
			i++
			if i == len(b) {
				p.cells = append(p.cells, "")
				return true, nil
			}
		default:
			return false, fmt.Errorf("cell %d: text after its closing quote", len(p.cells))
		}
	}
}
