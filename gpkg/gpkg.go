// Package gpkg writes OGC GeoPackage 1.3 files (OGC 12-128r18) holding one
// layer of points in WGS 84, through the SQLite driver postwatch already
// links: the GeoPackage tables and pragmas, StandardGeoPackageBinary
// geometries around orb's WKB, and the gpkg_rtree_index extension, so GDAL
// and QGIS read the file as it is. It imports nothing of postwatch.
package gpkg

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" database/sql driver
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
)

// Column is one attribute column of a layer. Type is a GeoPackage data type
// (§1.1.1.1.3): INTEGER, DOUBLE, TEXT or DATETIME.
type Column struct {
	Name string
	Type string
}

// Writer fills one new GeoPackage file with the points of one layer. Rows
// go into one transaction that Close commits, so a half-written file is
// never a valid GeoPackage. A Writer is not safe for concurrent use.
type Writer struct {
	db     *sql.DB
	tx     *sql.Tx
	insert *sql.Stmt
	index  *sql.Stmt
	table  string
	bound  orb.Bound
	rows   int
}

// srsWGS84 is EPSG:4326 as GeoPackage requires it (Table 21, the OGC WKT
// of the EPSG registry).
const srsWGS84 = `GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]]`

// Create makes the GeoPackage at path (which must not exist) with a point
// layer table: GDAL's FID column "fid", numbering the features in the
// order they are added (readers list them in that order), a geometry
// column "geom" and cols. Names must be SQL identifiers other than fid and
// geom.
func Create(ctx context.Context, path, table, description string, cols []Column) (*Writer, error) {
	for _, c := range cols {
		if c.Name == "fid" || c.Name == "geom" {
			return nil, fmt.Errorf("gpkg: column %q is the writer's own", c.Name)
		}
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=rwc")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	w := &Writer{db: db, table: table}
	if err := w.schema(ctx, description, cols); err != nil {
		db.Close()
		return nil, err
	}
	return w, nil
}

func (w *Writer) schema(ctx context.Context, description string, cols []Column) error {
	defs := []string{"fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL", "geom POINT"}
	names := []string{"geom"}
	for _, c := range cols {
		defs = append(defs, quote(c.Name)+" "+c.Type)
		names = append(names, quote(c.Name))
	}
	stmts := []string{
		// A file written once and then read: no journal to keep.
		`PRAGMA journal_mode = OFF`,
		`PRAGMA synchronous = OFF`,
		// 'GPKG' and version 1.3.0 (Requirements 2 and 3).
		`PRAGMA application_id = 1196444487`,
		`PRAGMA user_version = 10300`,
		`CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
			organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)`,
		`INSERT INTO gpkg_spatial_ref_sys VALUES
			('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
			('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
			('WGS 84 geodetic', 4326, 'EPSG', 4326, '` + srsWGS84 + `', 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid')`,
		`CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
			description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
			min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
			CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))`,
		`CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
			srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
			CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name), CONSTRAINT uk_gc_table_name UNIQUE (table_name),
			CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
			CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))`,
		`CREATE TABLE gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
			scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))`,
		`CREATE TABLE ` + quote(w.table) + ` (` + strings.Join(defs, ", ") + `)`,
		`INSERT INTO gpkg_extensions VALUES ('` + w.table + `', 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')`,
		`CREATE VIRTUAL TABLE ` + quote(w.rtree()) + ` USING rtree(id, minx, maxx, miny, maxy)`,
	}
	for _, s := range stmts {
		if _, err := w.db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("gpkg: %w", err)
		}
	}
	if _, err := w.db.ExecContext(ctx, `INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) VALUES (?, 'features', ?, ?, 4326)`,
		w.table, w.table, description); err != nil {
		return fmt.Errorf("gpkg: %w", err)
	}
	if _, err := w.db.ExecContext(ctx, `INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'POINT', 4326, 0, 0)`, w.table); err != nil {
		return fmt.Errorf("gpkg: %w", err)
	}
	var err error
	if w.tx, err = w.db.BeginTx(ctx, nil); err != nil {
		return err
	}
	w.insert, err = w.tx.PrepareContext(ctx, `INSERT INTO `+quote(w.table)+` (`+strings.Join(names, ", ")+`) VALUES (?`+strings.Repeat(", ?", len(names)-1)+`)`)
	if err != nil {
		return err
	}
	w.index, err = w.tx.PrepareContext(ctx, `INSERT INTO `+quote(w.rtree())+` VALUES (?, ?, ?, ?, ?)`)
	return err
}

// rtree is the name Annex F.3 gives the layer's spatial index.
func (w *Writer) rtree() string { return "rtree_" + w.table + "_geom" }

// Add writes one feature, the next fid: its point and the values of the
// columns in order (nil for NULL, time.Time as a GeoPackage DATETIME).
func (w *Writer) Add(ctx context.Context, pt orb.Point, values ...any) error {
	args := make([]any, 0, len(values)+1)
	args = append(args, Geometry(pt))
	for _, v := range values {
		if t, ok := v.(time.Time); ok {
			v = t.UTC().Format("2006-01-02T15:04:05.000Z") // §1.1.1.1.1 DATETIME
		}
		args = append(args, v)
	}
	res, err := w.insert.ExecContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("gpkg: %w", err)
	}
	fid, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("gpkg: %w", err)
	}
	if _, err := w.index.ExecContext(ctx, fid, pt[0], pt[0], pt[1], pt[1]); err != nil {
		return fmt.Errorf("gpkg: %w", err)
	}
	if w.rows == 0 {
		w.bound = pt.Bound()
	} else {
		w.bound = w.bound.Extend(pt)
	}
	w.rows++
	return nil
}

// Close records the layer's extent, adds the triggers that keep the R*Tree
// index in step with later edits (the gpkg_rtree_index extension, Annex
// F.3) and commits. The triggers call the ST_ functions that GeoPackage
// readers such as GDAL provide, so they are created after the rows, which
// this writer indexes itself: its SQLite has no ST_ functions.
func (w *Writer) Close(ctx context.Context) error {
	defer w.db.Close()
	err := w.finish(ctx)
	if err != nil {
		w.tx.Rollback()
		return fmt.Errorf("gpkg: %w", err)
	}
	return w.tx.Commit()
}

func (w *Writer) finish(ctx context.Context) error {
	w.insert.Close()
	w.index.Close()
	t, rt, k := quote(w.table), quote(w.rtree()), "fid"
	name := func(suffix string) string { return quote(w.rtree() + "_" + suffix) }
	values := `VALUES (NEW.` + k + `, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom))`
	stmts := []string{
		`CREATE TRIGGER ` + name("insert") + ` AFTER INSERT ON ` + t + ` WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
			BEGIN INSERT OR REPLACE INTO ` + rt + ` ` + values + `; END`,
		`CREATE TRIGGER ` + name("update1") + ` AFTER UPDATE OF geom ON ` + t + ` WHEN OLD.` + k + ` = NEW.` + k + ` AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
			BEGIN INSERT OR REPLACE INTO ` + rt + ` ` + values + `; END`,
		`CREATE TRIGGER ` + name("update2") + ` AFTER UPDATE OF geom ON ` + t + ` WHEN OLD.` + k + ` = NEW.` + k + ` AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
			BEGIN DELETE FROM ` + rt + ` WHERE id = OLD.` + k + `; END`,
		`CREATE TRIGGER ` + name("update3") + ` AFTER UPDATE ON ` + t + ` WHEN OLD.` + k + ` != NEW.` + k + ` AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
			BEGIN DELETE FROM ` + rt + ` WHERE id = OLD.` + k + `; INSERT OR REPLACE INTO ` + rt + ` ` + values + `; END`,
		`CREATE TRIGGER ` + name("update4") + ` AFTER UPDATE ON ` + t + ` WHEN OLD.` + k + ` != NEW.` + k + ` AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
			BEGIN DELETE FROM ` + rt + ` WHERE id IN (OLD.` + k + `, NEW.` + k + `); END`,
		`CREATE TRIGGER ` + name("delete") + ` AFTER DELETE ON ` + t + ` WHEN old.geom NOT NULL
			BEGIN DELETE FROM ` + rt + ` WHERE id = OLD.` + k + `; END`,
	}
	for _, s := range stmts {
		if _, err := w.tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	if w.rows == 0 {
		return nil // an empty layer has no extent; the columns stay NULL
	}
	_, err := w.tx.ExecContext(ctx, `UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = ?`,
		w.bound.Min[0], w.bound.Min[1], w.bound.Max[0], w.bound.Max[1], w.table)
	return err
}

// Abort gives up the file: nothing is committed.
func (w *Writer) Abort() {
	w.tx.Rollback()
	w.db.Close()
}

// quote makes name an SQL identifier.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// Geometry is pt as a StandardGeoPackageBinary blob (§2.1.3): the header
// "GP", version 0, flags (little-endian, no envelope: a point is its own),
// the SRS id 4326, then the point's WKB.
func Geometry(pt orb.Point) []byte {
	b := make([]byte, 8, 8+21)
	b[0], b[1], b[2], b[3] = 'G', 'P', 0, 0x01
	binary.LittleEndian.PutUint32(b[4:], 4326)
	body, _ := wkb.Marshal(pt, binary.LittleEndian) // a point always encodes
	return append(b, body...)
}
