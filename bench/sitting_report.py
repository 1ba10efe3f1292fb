#!/usr/bin/env python3
"""Markdown tables from one sitting's logs (bench/sitting.sh), beside the issues' targets.

  python3 bench/sitting_report.py /work/benchdata/logs/sitting-YYYYMMDDTHHMMSS

Reads figures.txt, the loadtest/pgfloor logs and f-tiles.sizes; prints the tables for
docs/performance.md. Every figure is copied from the logs; nothing is estimated here.
"""

import re
import statistics
import sys
from pathlib import Path

# the 2026-11-27 sitting (docs/performance.md), which q1-q5 must stay at or above
BEFORE = {"q1": 2600, "q2": 5036, "q3": 1176, "q4": 8117, "q5": 24457}
TARGET = {"q1": ">= 2,000, p99 <= 30 ms", "q2": ">= 2,000", "q3": ">= 350", "q4": ">= 1,000",
          "q5": ">= 10,000", "t8": ">= 5x floor", "t10": ">= 1x floor", "t12": ">= 1x floor",
          "t14": ">= 1x floor"}
ABSOLUTE = {"q1": 2000, "q2": 2000, "q3": 350, "q4": 1000, "q5": 10000}
TILE_FACTOR = {"t8": 5.0, "t10": 1.0, "t12": 1.0, "t14": 1.0}
PG_FACTOR = {"q1": 1.0, "q4": 1.0, "q5": 0.8}
NAMES = {"q1": "q1 0.1° bbox, limit 100", "q2": "q2 1° bbox, limit 100",
         "q3": "q3 whole region, limit 1000", "q4": "q4 q1 + 365-day window", "q5": "q5 one feature by id",
         "t8": "t8 one z8 tile", "t10": "t10 one z10 tile", "t12": "t12 one z12 tile", "t14": "t14 one z14 tile"}
ROW = re.compile(r"^(?:\[replica :(\d+)\] )?(q\d|t\d+)\s+([\d.]+)\s+([\d.-]+)\s+([\d.-]+)\s+([\d.-]+)(?:\s+(\d+)\s+(\d+)\s+([\d.]+))?\s*$")
MON = re.compile(r"^(?:\[replica :\d+\] )?\s+(server|db|load|machine) (.*)$")


def n(v, digits=0):
    return "{:,.{}f}".format(float(v), digits)


def classes(path):
    """class -> dict(rps, p50, p90, p99, non2xx, sockerr, mon) from a loadtest or pgfloor log."""
    out, last = {}, None
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        m = ROW.match(line)
        if m:
            port, cls = m.group(1), m.group(2)
            key = (cls, port) if port else cls
            out[key] = {"rps": float(m.group(3)), "p50": m.group(4), "p90": m.group(5), "p99": m.group(6),
                        "non2xx": m.group(7), "sockerr": m.group(8), "mon": {}}
            last = key
            continue
        m = MON.match(line)
        if m and last is not None:
            out[last]["mon"][m.group(1)] = dict(kv.split("=") for kv in m.group(2).split())
    return out


def figures(path):
    out = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        k, _, v = line.partition(" ")
        out[k] = v
    return out


def kv(s):
    return dict(p.split("=", 1) for p in s.split() if "=" in p)


def main():
    d = Path(sys.argv[1])
    fg = figures(d / "figures.txt")
    pw, fl = classes(d / "b-loadtest.log"), classes(d / "b-pgfloor.log")
    print("### Reads and tiles on SQLite, 1,000,000 incidents\n")
    print("| class | postwatch req/s (p99 ms) | PostGIS raw SQL tps (p99 ms), same sitting | ratio | "
          "2026-11-27 | target | met | server CPU % / RSS MiB | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for cls in ("q1", "q2", "q3", "q4", "q5", "t8", "t10", "t12", "t14"):
        p, f = pw.get(cls), fl.get(cls)
        if not p and not f:
            continue
        ratio = "%.2f×" % (p["rps"] / f["rps"]) if p and f and f["rps"] else "—"
        met = "—"
        if p:
            if cls in ABSOLUTE:
                ok = p["rps"] >= ABSOLUTE[cls] and (cls != "q1" or float(p["p99"]) <= 30)
                ok = ok and p["rps"] >= BEFORE[cls]
                met = "yes" if ok else "**no**"
            elif f:
                met = "yes" if p["rps"] >= TILE_FACTOR[cls] * f["rps"] else "**no**"
            if p["non2xx"] != "0" or p["sockerr"] != "0":
                met = "**no** (errors)"
        srv = p["mon"].get("server", {}) if p else {}
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            NAMES[cls],
            "**%s (%s)**" % (n(p["rps"]), p["p99"]) if p else "—",
            "%s (%s)" % (n(f["rps"]), f["p99"]) if f else "—",
            ratio, n(BEFORE[cls]) if cls in BEFORE else "—", TARGET[cls], met,
            "%s / %s" % (srv.get("cpu_pct", "?"), srv.get("rss_mib", "?")) if srv else "—",
            "%s / %s" % (p["non2xx"], p["sockerr"]) if p else "—"))
    print("\nq1 p99 target (issue 15): ≤ 30 ms; measured %s ms." % (pw["q1"]["p99"] if "q1" in pw else "—"))
    for k in ("b.serve.18080.readyz_s", "b.serve.18080.settled_s"):
        if k in fg:
            print("%s: %s" % (k, fg[k]))
    print()

    print("### Imports and export\n")
    print("| measurement | figure | target |")
    print("| --- | --- | --- |")
    if "a.import_geojson.wall_s" in fg:
        w = float(fg["a.import_geojson.wall_s"].split()[0])
        print("| `import --format geojson`, 1M lines, fresh file | **%.1f s** (%s rows/s), peak RSS %s MB; %s; rows %s; file %s MB | ≤ 25 s, flat memory |" % (
            w, n(1e6 / w), n(int(fg.get("a.import_geojson.peak_rss_kb", "0")) / 1024),
            fg.get("a.import_geojson.rss_trace", ""), fg.get("a.rows", "?"),
            n(int(fg.get("a.file_bytes", "0")) / 1e6)))
    if "c.import_acled.wall_s" in fg:
        w = float(fg["c.import_acled.wall_s"].split()[0])
        print("| `import --format acled`, 1M rows (%s incidents) | **%.1f s** (%s rows/s), peak RSS **%s MB**; %s | ≥ 50k rows/s, peak RSS ≤ 250 MB |" % (
            fg.get("c.incidents", "?"), w, n(1e6 / w),
            n(int(fg.get("c.import_acled.peak_rss_kb", "0")) / 1024), fg.get("c.import_acled.rss_trace", "")))
    if "d.export_csv" in fg:
        e = kv(fg["d.export_csv"])
        t = float(e["time_total"])
        rows = int(e["lines"]) - 1
        print("| CSV export of every incident (`curl`), %s rows, %s MB | **%.1f s** (%s rows/s), first byte %.2f s, status %s; server RSS %s | ≥ 100k rows/s, flat memory |" % (
            n(rows), n(int(e["bytes"]) / 1e6), t, n(rows / t), float(e["ttfb"]), e["status"], fg.get("d.server_rss", "")))
    if "e.migrate.wall_s" in fg:
        w = float(fg["e.migrate.wall_s"].split()[0])
        print("| `migrate` SQLite → PostGIS, 1M incidents | **%.1f s**, peak RSS %s MB; %s (%s) | ≤ 2 min |" % (
            w, n(int(fg.get("e.migrate.peak_rss_kb", "0")) / 1024), fg.get("e.migrate.rss_trace", ""),
            fg["e.migrate.wall_s"].split(None, 1)[1]))
    for k in ("e.import_postgis", "g.import_postgis"):
        if k + ".wall_s" in fg:
            print("| `import --db postgres://…` (cut at the cap) | %s; rows %s; peak RSS %s MB | — |" % (
                fg[k + ".wall_s"], fg.get(k[0] + ".rows", "?"), n(int(fg.get(k + ".peak_rss_kb", "0")) / 1024)))
    print()

    pe = classes(d / "e-loadtest.log")
    if pe:
        print("### Reads on PostGIS (`serve --db postgres://…`), 1,000,000 incidents\n")
        print("| class | postwatch on PostGIS req/s (p99 ms) | raw SQL floor tps (p99 ms) | ratio | target | met | server / PostgreSQL CPU % | errors |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for cls in ("q1", "q2", "q3", "q4", "q5"):
            p, f = pe.get(cls), fl.get(cls)
            if not p:
                continue
            r = p["rps"] / f["rps"] if f else None
            tgt = ">= %.1f× floor" % PG_FACTOR[cls] if cls in PG_FACTOR else "—"
            met = ("yes" if r and r >= PG_FACTOR[cls] else "**no**") if cls in PG_FACTOR else "—"
            if p["non2xx"] != "0" or p["sockerr"] != "0":
                met = "**no** (errors)"
            m = p["mon"]
            print("| %s | **%s (%s)** | %s | %s | %s | %s | %s / %s | %s / %s |" % (
                NAMES[cls], n(p["rps"]), p["p99"], "%s (%s)" % (n(f["rps"]), f["p99"]) if f else "—",
                "%.2f×" % r if r else "—", tgt, met, m.get("server", {}).get("cpu_pct", "?"),
                m.get("db", {}).get("cpu_pct", "?"), p["non2xx"], p["sockerr"]))
        for k in ("e.serve.18080.readyz_s", "e.serve.18080.settled_s", "e.vacuum_analyze_s", "e.rows", "e.db_bytes"):
            if k in fg:
                print("%s: %s" % (k, fg[k]))
        print()
    rp = classes(d / "e-replicas.log")
    if rp:
        print("### Two replicas on one PostGIS (8 connections each, at once) against one (16)\n")
        print("| class | one replica req/s (p99) | replica A | replica B | two together | ratio |")
        print("| --- | --- | --- | --- | --- | --- |")
        for cls in ("q1", "q4"):
            parts = [v for (c, _), v in sorted(rp.items()) if c == cls]
            if len(parts) != 2:
                continue
            one = pe.get(cls)
            tot = sum(x["rps"] for x in parts)
            print("| %s | %s | %s (%s) | %s (%s) | **%s** | %s |" % (
                cls, "%s (%s)" % (n(one["rps"]), one["p99"]) if one else "—",
                n(parts[0]["rps"]), parts[0]["p99"], n(parts[1]["rps"]), parts[1]["p99"], n(tot),
                "%.2f×" % (tot / one["rps"]) if one else "—"))
        print()

    if "f-n1" in fg or "f-n2" in fg:
        print("### numberMatched with other filters (SQLite, 1M)\n")
        print("| query | req/s | p50 ms | p99 ms | errors | target |")
        print("| --- | --- | --- | --- | --- | --- |")
        for k, name in (("f-n1", "type + 1° bbox, limit 100"), ("f-n2", "actor (top 50) + 365-day datetime, limit 100")):
            if k in fg:
                r = kv(fg[k])
                print("| %s | %s | %s | **%s** | %s | p99 ≤ 50 ms |" % (
                    name, n(r["rps"]), r["p50_ms"], r["p99_ms"],
                    int(r["non2xx"]) + int(r["connect_err"]) + int(r["read_err"]) + int(r["write_err"]) + int(r["timeouts"])))
        print()
    sizes = d / "f-tiles.sizes"
    if sizes.exists():
        byz = {}
        for line in sizes.read_text().splitlines():
            z, tile, status, size, t, gz = line.split()
            byz.setdefault(z, []).append((int(size), int(gz.split("=")[1]), status))
        print("### z0–z7 tiles (SQLite, 1M): tiles holding the 25 city centres\n")
        print("| zoom | tiles | largest KB (gzip) | median KB (gzip) | statuses | req/s | p99 ms | target |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for z in sorted(byz, key=lambda s: int(s[1:])):
            v = byz[z]
            r = kv(fg.get("f-" + z, ""))
            print("| %s | %d | %.1f (%.1f) | %.1f (%.1f) | %s | %s | %s | ≤ 100 KB, p99 ≤ 50 ms |" % (
                z, len(v), max(x[0] for x in v) / 1024, max(x[1] for x in v) / 1024,
                statistics.median(x[0] for x in v) / 1024, statistics.median(x[1] for x in v) / 1024,
                ",".join(sorted({x[2] for x in v})), n(r["rps"]) if r else "—", r.get("p99_ms", "—")))
        print()


if __name__ == "__main__":
    main()
