package store

import (
	"strings"
	"unicode/utf8"

	"github.com/postwatch/postwatch/domain"
)

// LikePattern matches text anywhere, with LIKE's wildcards escaped by \.
func LikePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(text) + "%"
}

// maxLexemeBytes is the longest word a PostgreSQL tsvector or tsquery
// holds (MAXSTRLEN): a longer one is an error, "word is too long".
const maxLexemeBytes = 2047

// SearchLexemes are the words of text (domain.SearchWords) as PostgreSQL's
// search column holds them and q= asks for them: a word over
// maxLexemeBytes is cut to as many whole characters as fit, when indexed
// and when asked for alike, so it is still found (SQLite's FTS5 cuts its
// tokens the same way, at 32 KiB).
func SearchLexemes(text string) []string {
	words := domain.SearchWords(text)
	for i, w := range words {
		if len(w) > maxLexemeBytes {
			n := maxLexemeBytes
			for !utf8.RuneStart(w[n]) {
				n--
			}
			words[i] = w[:n]
		}
	}
	return words
}
