package domain

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FoldText is the one normalisation of text for full-text search, applied
// alike to what is indexed and to q=, by every engine: compatibility
// decomposition (NFKD: ligatures and presentation forms become their
// letters, "ﷺ" and "ﻣ" included), every combining mark dropped (Latin
// accents, Arabic harakat and shadda, Hebrew points), with the Arabic
// tatweel and invisible format characters (ZWJ, ZWNJ, direction marks,
// soft hyphen), then lower case and NFC. So "مُحَمَّد" finds "محمد" and
// "Café" finds "cafe". ASCII text is returned lower-cased without copying
// more than once.
func FoldText(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFKD.String(s) {
		if unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc, unicode.Cf) || r == 'ـ' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return norm.NFC.String(b.String())
}

// SearchWords splits folded text into the words a search matches: runs of
// letters, digits and private-use characters, split everywhere else, as
// SQLite's unicode61 tokenizer and PostgreSQL's simple parser split them.
// Text with no word character ("\"", an emoji) has no words.
func SearchWords(text string) []string {
	return strings.FieldsFunc(FoldText(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.Is(unicode.Co, r)
	})
}
