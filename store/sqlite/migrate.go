package sqlite

import (
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/postwatch/postwatch/store"
)

// migration is one schema step. Steps run in order, each in its own
// transaction, and are recorded in schema_migrations so each runs once.
// sqlite holds the SQLite statements; a PostGIS backend adds its own list.
type migration struct {
	version int
	name    string
	sqlite  []string
}

var migrations = []migration{
	{1, "core tables", []string{
		`CREATE TABLE facilities (
			id INTEGER PRIMARY KEY,
			lon REAL NOT NULL,
			lat REAL NOT NULL,
			name TEXT NOT NULL,
			kind TEXT NOT NULL,
			country TEXT NOT NULL DEFAULT '',
			city TEXT NOT NULL DEFAULT '',
			alert_radius_m REAL NOT NULL,
			posture TEXT NOT NULL,
			created_at INTEGER NOT NULL,
			updated_at INTEGER NOT NULL,
			version INTEGER NOT NULL,
			deleted_at INTEGER
		)`,
		`CREATE TABLE actors (
			id TEXT PRIMARY KEY,
			name TEXT NOT NULL,
			kind TEXT NOT NULL,
			aliases TEXT NOT NULL DEFAULT '[]',
			country TEXT NOT NULL DEFAULT '',
			description TEXT NOT NULL DEFAULT '',
			created_at INTEGER NOT NULL,
			updated_at INTEGER NOT NULL,
			version INTEGER NOT NULL,
			deleted_at INTEGER
		)`,
		`CREATE TABLE incidents (
			id INTEGER PRIMARY KEY,
			lon REAL NOT NULL,
			lat REAL NOT NULL,
			type TEXT NOT NULL,
			title TEXT NOT NULL,
			description TEXT NOT NULL DEFAULT '',
			occurred_at INTEGER NOT NULL,
			time_precision TEXT NOT NULL,
			location_precision TEXT NOT NULL,
			severity INTEGER NOT NULL,
			status TEXT NOT NULL,
			country TEXT NOT NULL DEFAULT '',
			facility_id INTEGER REFERENCES facilities(id),
			killed INTEGER NOT NULL DEFAULT 0,
			injured INTEGER NOT NULL DEFAULT 0,
			external_id TEXT UNIQUE,
			extra TEXT NOT NULL DEFAULT '{}',
			created_at INTEGER NOT NULL,
			updated_at INTEGER NOT NULL,
			version INTEGER NOT NULL,
			deleted_at INTEGER
		)`,
		timeIndexDDL,
		`CREATE INDEX incidents_severity ON incidents(severity, id) WHERE deleted_at IS NULL`,
		`CREATE INDEX incidents_facility ON incidents(facility_id) WHERE facility_id IS NOT NULL`,
		`CREATE TABLE incident_actors (
			incident_id INTEGER NOT NULL REFERENCES incidents(id),
			actor_id TEXT NOT NULL REFERENCES actors(id),
			role TEXT NOT NULL,
			PRIMARY KEY (incident_id, actor_id, role)
		) WITHOUT ROWID`,
		`CREATE INDEX incident_actors_actor ON incident_actors(actor_id, incident_id)`,
		`CREATE TABLE relations (
			id INTEGER PRIMARY KEY,
			subject_id TEXT NOT NULL REFERENCES actors(id),
			kind TEXT NOT NULL,
			target_id TEXT NOT NULL REFERENCES actors(id),
			valid_from INTEGER,
			valid_to INTEGER,
			source TEXT NOT NULL DEFAULT '',
			created_at INTEGER NOT NULL
		)`,
		`CREATE INDEX relations_subject ON relations(subject_id)`,
		`CREATE INDEX relations_target ON relations(target_id)`,
		`CREATE TABLE postures (
			id INTEGER PRIMARY KEY,
			facility_id INTEGER NOT NULL REFERENCES facilities(id),
			posture TEXT NOT NULL,
			effective_at INTEGER NOT NULL,
			reason TEXT NOT NULL DEFAULT '',
			recorded_at INTEGER NOT NULL,
			recorded_by TEXT NOT NULL
		)`,
		`CREATE INDEX postures_facility ON postures(facility_id, effective_at)`,
		// history is append-only: no code path updates or deletes its rows.
		`CREATE TABLE history (
			id INTEGER PRIMARY KEY,
			collection TEXT NOT NULL,
			record_id TEXT NOT NULL,
			version INTEGER NOT NULL,
			op TEXT NOT NULL,
			changed_at INTEGER NOT NULL,
			changed_by TEXT NOT NULL,
			snapshot TEXT NOT NULL,
			UNIQUE (collection, record_id, version)
		)`,
		`CREATE TRIGGER history_no_update BEFORE UPDATE ON history
			BEGIN SELECT RAISE(ABORT, 'history is append-only'); END`,
		`CREATE TRIGGER history_no_delete BEFORE DELETE ON history
			BEGIN SELECT RAISE(ABORT, 'history is append-only'); END`,
		`CREATE TABLE tokens (
			id INTEGER PRIMARY KEY,
			name TEXT NOT NULL,
			role TEXT NOT NULL,
			hash TEXT NOT NULL UNIQUE,
			created_at INTEGER NOT NULL,
			expires_at INTEGER,
			revoked_at INTEGER
		)`,
	}},
	{2, "spatial and text indexes", []string{
		// R*Trees answer bbox, radius and time prefilters from their nodes
		// alone: incidents index [lon, lat, occurred_at in years since 1970]
		// (years keep the time axis on the scale of degrees, so nodes split
		// on place as much as on time; seconds made every node a thin time
		// slice and a bbox query read them all). The
		// trees hold 32-bit floats rounded outwards, so a node's box always
		// contains the exact values, which the store checks in the tables
		// only for candidates the box leaves in doubt. Auxiliary columns are
		// avoided: each read of one costs a lookup in a side table. Only
		// live rows are indexed; triggers keep the trees in step inside
		// every write transaction.
		`CREATE VIRTUAL TABLE incidents_rtree USING rtree(id, min_lon, max_lon, min_lat, max_lat, min_t, max_t)`,
		`CREATE TRIGGER incidents_rtree_insert AFTER INSERT ON incidents WHEN new.deleted_at IS NULL BEGIN
			INSERT INTO incidents_rtree VALUES (new.id, new.lon, new.lon, new.lat, new.lat, new.occurred_at / 31557600e6, new.occurred_at / 31557600e6);
		END`,
		`CREATE TRIGGER incidents_rtree_update AFTER UPDATE OF lon, lat, occurred_at, deleted_at ON incidents BEGIN
			DELETE FROM incidents_rtree WHERE id = old.id;
			INSERT INTO incidents_rtree SELECT new.id, new.lon, new.lon, new.lat, new.lat, new.occurred_at / 31557600e6, new.occurred_at / 31557600e6 WHERE new.deleted_at IS NULL;
		END`,
		`CREATE VIRTUAL TABLE facilities_rtree USING rtree(id, min_lon, max_lon, min_lat, max_lat)`,
		`CREATE TRIGGER facilities_rtree_insert AFTER INSERT ON facilities WHEN new.deleted_at IS NULL BEGIN
			INSERT INTO facilities_rtree VALUES (new.id, new.lon, new.lon, new.lat, new.lat);
		END`,
		`CREATE TRIGGER facilities_rtree_update AFTER UPDATE OF lon, lat, deleted_at ON facilities BEGIN
			DELETE FROM facilities_rtree WHERE id = old.id;
			INSERT INTO facilities_rtree SELECT new.id, new.lon, new.lon, new.lat, new.lat WHERE new.deleted_at IS NULL;
		END`,
		// Full-text search over titles and descriptions for q=, which
		// matches all words anywhere: no phrase queries, so detail=none
		// keeps the index small. The store, not a trigger, keeps it in
		// step: FTS5 flushes its pending terms at every statement savepoint,
		// so a per-row trigger costs ten times what one statement per batch
		// does (see indexText).
		`CREATE VIRTUAL TABLE incidents_fts USING fts5(title, description, content='incidents', content_rowid='id', tokenize='unicode61 remove_diacritics 2', detail=none)`,
	}},
	{3, "live incident count", []string{
		// numberMatched of an unfiltered or region-wide query without
		// counting a million rows: triggers keep the count of live
		// incidents in the same transactions that change it.
		`CREATE TABLE live_counts (collection TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID`,
		`INSERT INTO live_counts SELECT 'incidents', count(*) FROM incidents WHERE deleted_at IS NULL`,
		`CREATE TRIGGER incidents_count_insert AFTER INSERT ON incidents WHEN new.deleted_at IS NULL BEGIN
			UPDATE live_counts SET n = n + 1 WHERE collection = 'incidents';
		END`,
		`CREATE TRIGGER incidents_count_delete AFTER UPDATE OF deleted_at ON incidents
			WHEN old.deleted_at IS NULL AND new.deleted_at IS NOT NULL BEGIN
			UPDATE live_counts SET n = n - 1 WHERE collection = 'incidents';
		END`,
		`CREATE TRIGGER incidents_count_undelete AFTER UPDATE OF deleted_at ON incidents
			WHEN old.deleted_at IS NOT NULL AND new.deleted_at IS NULL BEGIN
			UPDATE live_counts SET n = n + 1 WHERE collection = 'incidents';
		END`,
	}},
	{4, "database identity", []string{
		// The database's own random UUID (version 4, RFC 9562), made once
		// here: the namespace of the STIX ids it mints (InstanceID).
		`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
		`INSERT INTO meta (key, value) SELECT 'instance_id', lower(substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' ||
			substr(h, 14, 3) || '-' || substr('89ab', 1 + abs(random() % 4), 1) || substr(h, 18, 3) || '-' || substr(h, 21, 12))
			FROM (SELECT hex(randomblob(16)) AS h)`,
	}},
	{5, "alerts, webhooks and posture incidents", append(store.AlertSchema("sqlite"),
		// The incidents that prompted a posture change, as a JSON array.
		`ALTER TABLE postures ADD COLUMN incident_ids TEXT NOT NULL DEFAULT '[]'`,
	)},
	{6, "full-text index of folded text", []string{
		// The index holds domain.FoldText of titles and descriptions (marks
		// such as Arabic harakat dropped, compatibility forms decomposed),
		// as q= is folded the same way: unicode61 splits words at
		// combining marks, so "مُحَمَّد" was four one-letter tokens, a
		// phrase query detail=none refuses. Rebuilt from the incidents.
		`INSERT INTO incidents_fts (incidents_fts) VALUES ('delete-all')`,
		`INSERT INTO incidents_fts (rowid, title, description) SELECT id, ` + foldSQL("title") + `, ` + foldSQL("description") + ` FROM incidents`,
	}},
	{7, "history of relations and tokens", []string{
		// A relation's id names its history, so it must never be reused:
		// without AUTOINCREMENT SQLite hands a deleted maximum id out again.
		`CREATE TABLE relations_new (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			subject_id TEXT NOT NULL REFERENCES actors(id),
			kind TEXT NOT NULL,
			target_id TEXT NOT NULL REFERENCES actors(id),
			valid_from INTEGER,
			valid_to INTEGER,
			source TEXT NOT NULL DEFAULT '',
			created_at INTEGER NOT NULL
		)`,
		`INSERT INTO relations_new (id, subject_id, kind, target_id, valid_from, valid_to, source, created_at)
			SELECT id, subject_id, kind, target_id, valid_from, valid_to, source, created_at FROM relations`,
		`DROP TABLE relations`,
		`ALTER TABLE relations_new RENAME TO relations`,
		`CREATE INDEX relations_subject ON relations(subject_id)`,
		`CREATE INDEX relations_target ON relations(target_id)`,
		// Relations and tokens get versions in history like other records
		// (RelationHistory, TokenHistory); those stored before have their
		// creation recorded here, by "unknown", when they were stored.
		// Token ids are never reused: tokens are revoked, not deleted.
		`INSERT INTO history (collection, record_id, version, op, changed_at, changed_by, snapshot)
			SELECT 'relations', id, 1, 'create', created_at, 'unknown', json_object('id', id, 'subject_id', subject_id,
				'kind', kind, 'target_id', target_id, 'valid_from', ` + isoSQL("valid_from") + `, 'valid_to', ` + isoSQL("valid_to") + `, 'source', source)
			FROM relations`,
		`INSERT INTO history (collection, record_id, version, op, changed_at, changed_by, snapshot)
			SELECT 'tokens', id, 1, 'create', created_at, 'unknown', json_object('id', id, 'name', name, 'role', role,
				'created_at', ` + isoSQL("created_at") + `, 'expires_at', ` + isoSQL("expires_at") + `, 'revoked_at', NULL)
			FROM tokens`,
		`INSERT INTO history (collection, record_id, version, op, changed_at, changed_by, snapshot)
			SELECT 'tokens', id, 2, 'revoke', revoked_at, 'unknown', json_object('id', id, 'name', name, 'role', role,
				'created_at', ` + isoSQL("created_at") + `, 'expires_at', ` + isoSQL("expires_at") + `, 'revoked_at', ` + isoSQL("revoked_at") + `)
			FROM tokens WHERE revoked_at IS NOT NULL`,
	}},
	// Newest change first (sortby=-updated_at, and an export catching up
	// with what changed while it ran) from an index, not a sort of every
	// row: 4.7 s at 1M. Writes stamp updated_at with the time, so its
	// inserts land at the index's end and an import barely notices it.
	{8, "updated_at index", []string{
		`CREATE INDEX incidents_updated_at ON incidents(updated_at, id) WHERE deleted_at IS NULL`,
	}},
	// An import of many incidents builds the R*Tree afresh when it ends
	// (rebuildIncidentTree); meanwhile the triggers leave the tree alone.
	{9, "incidents R*Tree triggers that an import can pause", []string{
		// A row here marks the tree stale (see treeStaleTable).
		// at: when the import last marked it, in microseconds.
		`CREATE TABLE ` + treeStaleTable + ` (mark INTEGER PRIMARY KEY CHECK (mark = 1), at INTEGER NOT NULL)`,
		`DROP TRIGGER incidents_rtree_insert`,
		`CREATE TRIGGER incidents_rtree_insert AFTER INSERT ON incidents
			WHEN new.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM ` + treeStaleTable + `) BEGIN
			INSERT INTO incidents_rtree VALUES (new.id, new.lon, new.lon, new.lat, new.lat, new.occurred_at / 31557600e6, new.occurred_at / 31557600e6);
		END`,
		`DROP TRIGGER incidents_rtree_update`,
		`CREATE TRIGGER incidents_rtree_update AFTER UPDATE OF lon, lat, occurred_at, deleted_at ON incidents
			WHEN NOT EXISTS (SELECT 1 FROM ` + treeStaleTable + `) BEGIN
			DELETE FROM incidents_rtree WHERE id = old.id;
			INSERT INTO incidents_rtree SELECT new.id, new.lon, new.lon, new.lat, new.lat, new.occurred_at / 31557600e6, new.occurred_at / 31557600e6 WHERE new.deleted_at IS NULL;
		END`,
	}},
}

// isoSQL writes a column of microseconds as an RFC 3339 UTC timestamp, or
// NULL, as a history snapshot holds times.
func isoSQL(column string) string {
	return "CASE WHEN " + column + " IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ', " + column + " / 1e6, 'unixepoch') END"
}

// migrate applies every migration not yet recorded. Those recorded are
// read first without the write lock, which an import on the same file
// holds nearly all the time: a command that opened an up-to-date database
// while one ran waited for the lock once per migration, and often failed.
func migrate(db *gorm.DB) error {
	if err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`).Error; err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied []int
	if err := db.Raw(`SELECT version FROM schema_migrations`).Scan(&applied).Error; err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for _, m := range migrations {
		if slices.Contains(applied, m.version) {
			continue
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			var n int64
			if err := tx.Raw(`SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range m.sqlite {
				if err := tx.Exec(stmt).Error; err != nil {
					return err
				}
			}
			return tx.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, time.Now().Unix()).Error
		})
		if err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}
