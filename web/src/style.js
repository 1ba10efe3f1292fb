// style.js is the map's style: a basemap of Natural Earth country borders
// served by postwatch itself, and the data layers. It names no glyphs and
// no sprite, so MapLibre never asks another host for fonts or icons.

export const SEVERITY_COLORS = ['#4c9a2a', '#c9b500', '#e08a00', '#d1495b', '#6a040f'];

export const POSTURE_COLORS = {
  normal: '#2a9d8f',
  elevated: '#e9c46a',
  authorized_departure: '#f4a261',
  ordered_departure: '#e76f51',
  relocated: '#9b2226',
  suspended: '#6c757d',
  closed: '#343a40',
};

export const severityColor = (prop) => ['match', ['to-number', prop], 1, SEVERITY_COLORS[0], 2, SEVERITY_COLORS[1],
  3, SEVERITY_COLORS[2], 4, SEVERITY_COLORS[3], 5, SEVERITY_COLORS[4], '#888'];

export const postureColor = ['match', ['get', 'posture'], ...Object.entries(POSTURE_COLORS).flat(), '#555'];

const empty = { type: 'FeatureCollection', features: [] };

// basemapLayers draw the sea and the 'countries' source; the HTML pages'
// maps (pagemap.js) share them.
export const basemapLayers = [
  { id: 'sea', type: 'background', paint: { 'background-color': '#c9dcec' } },
  { id: 'land', type: 'fill', source: 'countries', paint: { 'fill-color': '#f3f0e8' } },
  { id: 'borders', type: 'line', source: 'countries', paint: { 'line-color': '#8d8576', 'line-width': 0.7 } },
];

export function mapStyle(bordersURL) {
  return {
    version: 8,
    sources: {
      countries: { type: 'geojson', data: bordersURL },
      radii: { type: 'geojson', data: empty },
      facilities: { type: 'geojson', data: empty },
      // Clustered on the client: at low zoom thousands of incidents would
      // hide each other; a cluster keeps the worst severity it holds.
      incidents: {
        type: 'geojson', data: empty, cluster: true, clusterRadius: 40, clusterMaxZoom: 11,
        clusterProperties: { max_severity: ['max', ['get', 'severity']] },
      },
      draft: { type: 'geojson', data: empty },
    },
    layers: [
      ...basemapLayers,
      { id: 'radius-fill', type: 'fill', source: 'radii', paint: { 'fill-color': postureColor, 'fill-opacity': 0.18 } },
      { id: 'radius-line', type: 'line', source: 'radii', paint: { 'line-color': postureColor, 'line-width': 2 } },
      {
        id: 'clusters', type: 'circle', source: 'incidents', filter: ['has', 'point_count'],
        paint: {
          'circle-color': severityColor(['get', 'max_severity']),
          'circle-radius': ['step', ['get', 'point_count'], 12, 10, 16, 100, 22, 1000, 30],
          'circle-opacity': 0.85, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2,
        },
      },
      {
        id: 'incident-points', type: 'circle', source: 'incidents', filter: ['!', ['has', 'point_count']],
        paint: {
          'circle-color': severityColor(['get', 'severity']),
          'circle-radius': ['+', 4, ['*', 1.5, ['to-number', ['get', 'severity']]]],
          'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5,
        },
      },
      {
        id: 'facility-points', type: 'circle', source: 'facilities',
        paint: { 'circle-color': postureColor, 'circle-radius': 8, 'circle-stroke-color': '#14213d', 'circle-stroke-width': 3 },
      },
      {
        id: 'draft-point', type: 'circle', source: 'draft',
        paint: { 'circle-color': '#fff', 'circle-radius': 7, 'circle-stroke-color': '#14213d', 'circle-stroke-width': 3 },
      },
    ],
  };
}
