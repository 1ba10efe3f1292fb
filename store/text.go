package store

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// TextWords splits free text (q=) into the words a full-text index holds:
// runs of letters, digits and marks, split where SQLite's unicode61
// tokenizer splits them, so "al-Asad" or "Kata'ib" become two words. Both
// engines index and query these words, which is what makes q= find the
// same incidents on each.
func TextWords(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsMark(r) && !unicode.Is(unicode.Co, r)
	})
}

// FoldWord is a word as unicode61 with remove_diacritics 2 indexes it:
// lower case, and without the combining diacritical marks (U+0300–U+036F)
// of Latin letters, so "Bagdād" and "BAGDAD" are one word. Other marks,
// such as Arabic harakat, stay, as they do in SQLite's index.
func FoldWord(w string) string {
	d := norm.NFD.String(strings.ToLower(w))
	d = strings.Map(func(r rune) rune {
		if r >= 0x300 && r <= 0x36f {
			return -1
		}
		return r
	}, d)
	return norm.NFC.String(d)
}

// FoldedWords is TextWords of text, each folded by FoldWord: the lexemes
// of the PostGIS store's tsvector and tsquery.
func FoldedWords(text string) []string {
	words := TextWords(text)
	for i, w := range words {
		words[i] = FoldWord(w)
	}
	return words
}

// LikePattern matches text anywhere, with LIKE's wildcards escaped by \.
func LikePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(text) + "%"
}
