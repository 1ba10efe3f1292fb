package store

import "strings"

// LikePattern matches text anywhere, with LIKE's wildcards escaped by \.
func LikePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(text) + "%"
}
