package domain

import (
	"context"
	"maps"
)

type sourceImportKey struct{}

// WithSourceImport marks ctx as an import from a source dataset whose events
// postwatch's users go on curating after the import (ACLED): in such an
// import, a record that carries the source values an incident already holds
// leaves the incident as it is (SourceUnchanged).
func WithSourceImport(ctx context.Context) context.Context {
	return context.WithValue(ctx, sourceImportKey{}, true)
}

// SourceUnchanged reports whether writing next over cur, in an import marked
// by WithSourceImport, would only undo what was edited in postwatch since:
// next carries source values (Original) and cur holds the same. Analysts
// re-import cumulative ACLED files, which repeat every event; this keeps an
// officer's status, tags and corrections on the events the source did not
// revise, while a revised event is written whole, the file being its source.
// Writes through the API are never marked and always apply.
func SourceUnchanged(ctx context.Context, cur, next *Incident) bool {
	marked, _ := ctx.Value(sourceImportKey{}).(bool)
	return marked && len(next.Original) > 0 && maps.Equal(cur.Original, next.Original)
}
