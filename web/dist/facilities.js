// facilities.js draws the facilities with their alert radius and opens a
// facility's panel: posture history, threat level and trend, the
// incidents within its radius and, for officers, a posture form.
import { featurePages, getJSON, request, ProblemError } from './api.js';
import { el, field, fieldErrors, clearFieldErrors, options } from './dom.js';
import { geodesicCircle } from './circle.js';
import { POSTURE_COLORS } from './style.js';
import { openPanel } from './incidents.js';

export class Facilities {
  constructor(ctx) {
    this.ctx = ctx;
    this.byID = new Map();
    const { map } = ctx;
    map.on('click', 'facility-points', (ev) => {
      if (ctx.incidents.editing()) return;
      this.open(Number(ev.features[0].properties.id)).catch(ctx.failed);
    });
    map.on('mouseenter', 'facility-points', () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', 'facility-points', () => { map.getCanvas().style.cursor = ''; });
  }

  async load() {
    const byID = new Map();
    for await (const page of featurePages('/collections/facilities/items?limit=1000')) {
      for (const f of page.features) byID.set(f.id, f);
    }
    this.byID = byID;
    await this.ctx.mapLoaded;
    this.render();
  }

  // refresh reads one facility again (after a posture change) and redraws.
  async refresh(id) {
    const fresh = await getJSON(`/collections/facilities/items/${id}`);
    this.byID.set(id, fresh);
    this.render();
    return fresh;
  }

  all() {
    return [...this.byID.values()];
  }

  get(id) {
    return this.byID.get(id);
  }

  render() {
    const fs = this.all();
    const props = (f) => ({ id: f.id, name: f.properties.name, posture: f.properties.posture });
    this.ctx.map.getSource('facilities').setData({
      type: 'FeatureCollection',
      features: fs.map((f) => ({ type: 'Feature', geometry: f.geometry, properties: props(f) })),
    });
    this.ctx.map.getSource('radii').setData({
      type: 'FeatureCollection',
      features: fs.map((f) => ({ type: 'Feature', geometry: geodesicCircle(f.geometry.coordinates, f.properties.alert_radius_m), properties: props(f) })),
    });
    // The keyboard's way to the same panels as a click on the map.
    document.querySelector('#facility-list').replaceChildren(...fs.map((f) => el('li', { dataset: { facilityId: String(f.id) } },
      el('button', {
        type: 'button',
        onclick: () => {
          this.ctx.map.easeTo({ center: f.geometry.coordinates, zoom: Math.max(this.ctx.map.getZoom(), 10) });
          this.open(f.id).catch(this.ctx.failed);
        },
      }, swatch(f.properties.posture), ` ${f.properties.name} · ${f.properties.posture.replaceAll('_', ' ')}`))));
  }

  // bounds is the [[w, s], [e, n]] box of every facility, or null.
  bounds() {
    const fs = this.all();
    if (!fs.length) return null;
    const xs = fs.map((f) => f.geometry.coordinates[0]);
    const ys = fs.map((f) => f.geometry.coordinates[1]);
    return [[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]];
  }

  // nearest is the facility whose alert radius holds the point, if any.
  nearest([lon, lat]) {
    let best = null;
    let bestD = Infinity;
    for (const f of this.all()) {
      const d = haversine([lon, lat], f.geometry.coordinates);
      if (d <= f.properties.alert_radius_m && d < bestD) {
        best = f;
        bestD = d;
      }
    }
    return best;
  }

  // open fills the side panel with the facility's state and history.
  async open(id) {
    const f = this.byID.get(id);
    if (!f) return;
    const p = f.properties;
    const [lon, lat] = f.geometry.coordinates;
    const [postures, threat, nearby] = await Promise.all([
      getJSON(`/collections/facilities/items/${id}/postures`),
      getJSON(`/collections/facilities/items/${id}/threat`),
      getJSON(`/collections/incidents/items?near=${lon},${lat}&radius=${p.alert_radius_m}&limit=20`),
    ]);
    const panel = openPanel(p.name);
    panel.append(
      el('p', { class: 'meta', text: `${p.kind.replaceAll('_', ' ')} · ${p.city}, ${p.country} · alert radius ${(p.alert_radius_m / 1000).toFixed(1)} km` }),
      el('p', { class: 'posture', dataset: { posture: p.posture } }, swatch(p.posture), ` Posture: ${p.posture.replaceAll('_', ' ')}`),
      el('section', { class: 'threat', 'aria-label': 'Threat' },
        el('h3', { text: 'Threat' }),
        el('p', {},
          el('strong', { class: `level level-${threat.level}`, text: threat.level }),
          ` and ${threat.trend}: ${threat.current.count} incident(s) in the last ${humanWindow(threat.window)}, ${threat.previous.count} in the ${humanWindow(threat.window)} before.`)),
      el('section', { 'aria-label': 'Posture history' },
        el('h3', { text: 'Posture history' }),
        el('ol', { class: 'history' }, postures.postures.slice().reverse().map((c) => el('li', {},
          swatch(c.posture), ' ', el('strong', { text: c.posture.replaceAll('_', ' ') }),
          ` from ${c.effective_at.slice(0, 16).replace('T', ' ')}Z`,
          c.reason ? el('div', { class: 'meta', text: c.reason }) : null,
          el('div', { class: 'meta', text: `recorded by ${c.recorded_by}` }))))),
      el('section', { 'aria-label': 'Incidents within the alert radius' },
        el('h3', { text: `Within ${(p.alert_radius_m / 1000).toFixed(1)} km` }),
        nearby.features.length
          ? el('ul', { class: 'nearby' }, nearby.features.map((n) => el('li', {},
            el('span', { class: `sev sev${n.properties.severity}`, text: String(n.properties.severity) }),
            ` ${n.properties.occurred_at.slice(0, 10)} ${n.properties.title}`)))
          : el('p', { text: 'No incidents recorded.' })),
    );
    if (this.ctx.canWrite) panel.append(this.postureForm(f));
  }

  postureForm(f) {
    const postures = Object.keys(POSTURE_COLORS);
    const form = el('form', { id: 'posture-form', novalidate: true },
      el('h3', { text: 'Record a posture change' }),
      field('Posture', 'posture', el('select', {}, options(postures, { selected: f.properties.posture, label: (v) => v.replaceAll('_', ' ') }))),
      field('Effective (your local time; empty: now)', 'effective_at', el('input', { type: 'datetime-local' })),
      field('Reason', 'reason', el('textarea', { rows: 2 })),
      el('p', { class: 'form-error', role: 'alert' }),
      el('div', { class: 'actions' }, el('button', { type: 'submit', text: 'Record posture' })));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      const v = (name) => form.querySelector(`[data-field="${name}"]`).value;
      const body = { posture: v('posture'), reason: v('reason').trim() };
      if (v('effective_at')) body.effective_at = new Date(v('effective_at')).toISOString();
      try {
        await request(`/collections/facilities/items/${f.id}/postures`, { method: 'POST', body });
        const fresh = await this.refresh(f.id);
        this.ctx.announce(`${fresh.properties.name}: posture ${fresh.properties.posture.replaceAll('_', ' ')} recorded`);
        await this.open(f.id);
      } catch (err) {
        if (err instanceof ProblemError && err.status < 500) fieldErrors(form, err);
        else this.ctx.failed(err);
      }
    });
    return form;
  }
}

// swatch is a square of a posture's colour, set through the CSSOM (the
// page's CSP allows no style attributes).
function swatch(posture) {
  const s = el('span', { class: 'swatch', 'aria-hidden': 'true' });
  s.style.backgroundColor = POSTURE_COLORS[posture] || '#555';
  return s;
}

function humanWindow(w) {
  const m = /^(\d+)h0m0s$/.exec(w);
  if (!m) return w;
  const h = Number(m[1]);
  return h % 24 === 0 ? `${h / 24} day${h === 24 ? '' : 's'}` : `${h} hours`;
}

// haversine is the great-circle distance in meters, on the server's sphere.
function haversine([lon1, lat1], [lon2, lat2]) {
  const r = (d) => (d * Math.PI) / 180;
  const a = Math.sin(r(lat2 - lat1) / 2) ** 2 + Math.cos(r(lat1)) * Math.cos(r(lat2)) * Math.sin(r(lon2 - lon1) / 2) ** 2;
  return 2 * 6378137 * Math.asin(Math.sqrt(a));
}
