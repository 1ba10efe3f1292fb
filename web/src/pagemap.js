// pagemap.js draws the features of a server-rendered HTML page (a page of
// items, or one item) on a map above its table. The page carries them in a
// data block, <script type="application/geo+json" id="features">, which no
// browser runs: the map needs no token, asks postwatch only for its own
// assets, and shows exactly the rows of the table. A click on a point opens
// the feature's text/html link, the row's link with the page's access_token.
import * as maplibregl from './maplibre-gl.mjs';
import { basemapLayers, postureColor, severityColor } from './style.js';

// The worker is this directory's copy; MapLibre would otherwise add a
// ?v= query to its URL.
maplibregl.setWorkerUrl(new URL('./maplibre-gl-worker.mjs', import.meta.url).href);

const container = document.getElementById('features-map');
const { features } = JSON.parse(document.getElementById('features').textContent);
// skipGeometry=true pages have no points.
const points = features.filter((f) => f.geometry?.type === 'Point');
const pageOf = new Map();
for (const f of points) {
  const html = f.links?.find((l) => l.type === 'text/html');
  if (html) pageOf.set(f.id, html.href);
}
const bounds = new maplibregl.LngLatBounds();
for (const f of points) bounds.extend(f.geometry.coordinates);

const map = new maplibregl.Map({
  container,
  style: {
    version: 8,
    sources: {
      countries: { type: 'geojson', data: new URL('./countries.geojson', import.meta.url).href },
      features: { type: 'geojson', data: { type: 'FeatureCollection', features: points } },
    },
    layers: [
      ...basemapLayers,
      {
        id: 'features', type: 'circle', source: 'features',
        paint: {
          // Facilities have a posture, incidents a severity.
          'circle-color': ['case', ['has', 'posture'], postureColor, severityColor(['get', 'severity'])],
          'circle-radius': 7, 'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5,
        },
      },
    ],
  },
  // A page without points shows the world.
  bounds: points.length ? bounds : [[-170, -60], [170, 75]],
  fitBoundsOptions: { padding: 40, maxZoom: 12 },
  // One copy of the world, so that each feature is drawn (and counted) once.
  renderWorldCopies: false,
  attributionControl: { compact: true, customAttribution: 'Borders: Natural Earth' },
  dragRotate: false,
  pitchWithRotate: false,
});
map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');

if (pageOf.size) {
  map.on('click', 'features', (ev) => {
    const href = pageOf.get(ev.features[0].id);
    if (href) location.assign(href);
  });
  map.on('mouseenter', 'features', () => { map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', 'features', () => { map.getCanvas().style.cursor = ''; });
}

// Tests can tell when the map has drawn the page's points, and how many.
map.once('idle', () => {
  container.dataset.rendered = String(map.queryRenderedFeatures({ layers: ['features'] }).length);
});
