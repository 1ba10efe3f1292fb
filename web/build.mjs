// build.mjs writes dist/, the third-party assets the binary embeds beside
// the page's own files of src/ for GET /map: MapLibre GL JS (its ES module
// build and its worker) and Natural Earth's country borders converted from
// TopoJSON to GeoJSON. The output depends only on its inputs, so a rebuild of the same
// sources leaves the committed dist/ unchanged. Run with `node build.mjs`
// (make build does, after npm ci); `node build.mjs --check` builds into a
// scratch directory and fails if the committed dist/ differs from it
// (make test does), so a change to the lock file cannot ship without its
// build.
import { readFileSync, writeFileSync, mkdirSync, mkdtempSync, rmSync, readdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { feature } from 'topojson-client';

const here = dirname(fileURLToPath(import.meta.url));
const check = process.argv.includes('--check');
const committed = join(here, 'dist');
const dist = check ? mkdtempSync(join(tmpdir(), 'postwatch-dist-')) : committed;
const mod = (...p) => join(here, 'node_modules', ...p);

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);

// MapLibre's bundles end with a sourceMappingURL comment; the maps are not
// shipped (5 MB each), so the comment would only make devtools ask for a
// file that is not there.
const stripSourceMap = (text) => text.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
for (const name of ['maplibre-gl.mjs', 'maplibre-gl-worker.mjs']) {
  writeFileSync(join(dist, name), stripSourceMap(readFileSync(mod('maplibre-gl', 'dist', name), 'utf8')));
}
copyFileSync(mod('maplibre-gl', 'dist', 'maplibre-gl.css'), join(dist, 'maplibre-gl.css'));
copyFileSync(mod('maplibre-gl', 'LICENSE.txt'), join(dist, 'maplibre-gl.LICENSE.txt'));

// Country borders at 1:110m keep the whole page well under its 3 MB budget
// (1:50m would add about 2 MB of GeoJSON). Coordinates are rounded to 3
// decimals (about 100 m), finer than the scale's own precision.
const topo = JSON.parse(readFileSync(mod('world-atlas', 'countries-110m.json'), 'utf8'));
const round = (v) => (Array.isArray(v) ? v.map(round) : Math.round(v * 1000) / 1000);
const countries = feature(topo, topo.objects.countries);
const out = {
  type: 'FeatureCollection',
  features: countries.features.map((f) => ({
    type: 'Feature',
    properties: { name: f.properties.name },
    geometry: { type: f.geometry.type, coordinates: round(f.geometry.coordinates) },
  })),
};
writeFileSync(join(dist, 'countries.geojson'), JSON.stringify(out) + '\n');

if (check) {
  const names = (dir) => readdirSync(dir).sort();
  const want = names(dist);
  const have = names(committed);
  const stale = [...new Set([...want, ...have])].filter((n) => !want.includes(n) || !have.includes(n)
    || !readFileSync(join(dist, n)).equals(readFileSync(join(committed, n))));
  rmSync(dist, { recursive: true, force: true });
  if (stale.length) {
    console.error(`web/dist is stale (${stale.join(', ')}): run make build and commit web/dist`);
    process.exit(1);
  }
  console.log('web/dist is up to date');
}
