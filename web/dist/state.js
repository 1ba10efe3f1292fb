// state.js keeps the page's query string equal to what the map shows: the
// items parameters of the filters and the view's bbox, so that a copied
// link opens the same view with the same filters.

// FILTERS are the items query parameters the page's filters set, in the
// order they are written to the address bar.
export const FILTERS = ['type', 'severity_min', 'actor', 'attribution', 'facility', 'q', 'datetime'];

// readState returns {filters, bbox} from a query string; bbox is
// [w, s, e, n] or null when absent or malformed.
export function readState(search) {
  const params = new URLSearchParams(search);
  const filters = {};
  for (const name of FILTERS) {
    const v = params.get(name);
    if (v) filters[name] = v;
  }
  let bbox = null;
  const raw = params.get('bbox');
  if (raw) {
    const nums = raw.split(',').map(Number);
    if (nums.length === 4 && nums.every(Number.isFinite)) bbox = nums;
  }
  return { filters, bbox };
}

// query is the items query string of filters and bbox (no leading '?').
export function query(filters, bbox) {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    if (filters[name]) params.set(name, filters[name]);
  }
  if (bbox) params.set('bbox', bbox.join(','));
  return params.toString();
}

// writeState replaces the address bar's query with the state, without a
// new history entry for every pan.
export function writeState(filters, bbox) {
  const q = query(filters, bbox);
  history.replaceState(null, '', location.pathname + (q ? `?${q}` : '') + location.hash);
}

// viewBBox turns a map's bounds into an items bbox: longitudes wrapped to
// [-180, 180] (west > east when the view crosses the antimeridian, as
// OGC API – Features allows), latitudes clamped, 5 decimals (about 1 m).
export function viewBBox(bounds) {
  const r = (v) => Math.round(v * 1e5) / 1e5;
  let w = bounds.getWest();
  let e = bounds.getEast();
  const s = Math.max(-90, bounds.getSouth());
  const n = Math.min(90, bounds.getNorth());
  if (e - w >= 360) {
    w = -180;
    e = 180;
  } else {
    w = wrap(w);
    e = wrap(e);
    if (w === e) e = w + 1e-5;
  }
  return [r(w), r(s), r(e), r(n)];
}

function wrap(lon) {
  if (lon >= -180 && lon <= 180) return lon;
  return ((((lon + 180) % 360) + 360) % 360) - 180;
}
