// circle.js draws a facility's alert radius as the set of points at that
// geodesic distance from it, which on a Web Mercator map is not a screen
// circle: it stretches toward the poles.

// EARTH_RADIUS_M is the sphere radius of the server's haversine distance
// (geo.Distance uses orb.EarthRadius), so the drawn ring is where alerts
// start.
export const EARTH_RADIUS_M = 6378137;

// geodesicCircle returns a GeoJSON Polygon ring of `steps` points at
// radiusM meters from center [lon, lat], by the spherical "destination
// point given distance and bearing" formula.
export function geodesicCircle([lon, lat], radiusM, steps = 96) {
  const d = radiusM / EARTH_RADIUS_M;
  const φ1 = (lat * Math.PI) / 180;
  const λ1 = (lon * Math.PI) / 180;
  const ring = [];
  for (let i = 0; i <= steps; i++) {
    const θ = ((i % steps) / steps) * 2 * Math.PI;
    const φ2 = Math.asin(Math.sin(φ1) * Math.cos(d) + Math.cos(φ1) * Math.sin(d) * Math.cos(θ));
    const λ2 = λ1 + Math.atan2(Math.sin(θ) * Math.sin(d) * Math.cos(φ1), Math.cos(d) - Math.sin(φ1) * Math.sin(φ2));
    ring.push([round(((λ2 * 180) / Math.PI + 540) % 360 - 180), round((φ2 * 180) / Math.PI)]);
  }
  return { type: 'Polygon', coordinates: [ring] };
}

function round(v) {
  return Math.round(v * 1e6) / 1e6;
}
