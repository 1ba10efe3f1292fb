// incidents.js holds the incidents of the current view and filters: the
// clustered map layer, the #incident-list twin, popups, history, and the
// officer's form for logging a new incident where the map was clicked.
import { featurePages, getJSON, request, ProblemError } from './api.js';
import { el, field, fieldErrors, clearFieldErrors, options } from './dom.js';
import { query } from './state.js';

// MAX_IN_VIEW bounds what one view loads (the items API's largest page):
// past it the list says how many more there are and asks to zoom in.
const MAX_IN_VIEW = 10000;
const FIRST_PAGE = 500;
const PAGE = 5000;

const $ = (sel) => document.querySelector(sel);

export class Incidents {
  constructor(ctx) {
    this.ctx = ctx;
    this.byID = new Map();
    this.bbox = null;
    this.lastID = 0;
    this.controller = null;
    this.loading = null;
    const { map } = ctx;
    if (ctx.canWrite) this.setupLogging();
    map.on('click', 'clusters', (ev) => {
      if (!this.editing()) this.zoomToCluster(ev.features[0]);
    });
    map.on('click', 'incident-points', (ev) => {
      if (!this.editing()) this.popup(ev.features[0].properties.id, ev.lngLat);
    });
    // Cluster counts are DOM markers: the style names no glyphs, since a
    // font server is another host.
    this.counts = new Map();
    map.on('sourcedata', (ev) => {
      if (ev.sourceId === 'incidents' && ev.isSourceLoaded) this.drawCounts();
    });
    map.on('moveend', () => this.drawCounts());
    for (const layer of ['clusters', 'incident-points']) {
      map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
      map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
    }
  }

  // editing is true while a click on the map places an incident rather
  // than opening what is under it.
  editing() {
    return Boolean(this.placing || this.draft);
  }

  // itemsQuery is the items query string of the current filters and bbox.
  itemsQuery() {
    return query(this.ctx.filters, this.bbox);
  }

  // load replaces the incidents with those of bbox and the filters. The
  // first page is drawn as soon as it arrives; the rest are drawn once, when
  // the view is complete, since every draw re-indexes the clusters and
  // rebuilds the list.
  async load(bbox) {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.bbox = bbox;
    document.querySelector('#incident-list').setAttribute('aria-busy', 'true');
    const byID = new Map();
    let matched = null;
    let pages = 0;
    const run = (async () => {
      try {
        for await (const page of featurePages(`/collections/incidents/items?${this.itemsQuery()}&limit=${FIRST_PAGE}`,
          { signal: controller.signal, max: MAX_IN_VIEW, nextLimit: PAGE })) {
          if (matched === null) matched = page.numberMatched ?? null;
          for (const f of page.features) byID.set(f.id, f);
          if (pages++ > 0) continue;
          await this.ctx.mapLoaded;
          if (controller.signal.aborted) return;
          this.byID = new Map(byID);
          this.render(matched, byID.size < (matched ?? 0));
        }
        await this.ctx.mapLoaded;
        if (controller.signal.aborted) return;
        this.byID = byID;
        this.lastID = Math.max(0, ...byID.keys());
        if (pages > 1) this.render(matched, false);
      } catch (err) {
        if (err.name !== 'AbortError') throw err;
      }
    })();
    this.loading = run;
    try {
      await run;
    } finally {
      if (this.loading === run) this.loading = null;
    }
  }

  // addNew adds incidents stored since the last load (live updates) and
  // returns those not seen before.
  addNew(features) {
    const fresh = features.filter((f) => !this.byID.has(f.id));
    for (const f of features) {
      this.byID.set(f.id, f);
      this.lastID = Math.max(this.lastID, f.id);
    }
    if (fresh.length) this.render(null, false);
    return fresh;
  }

  render(matched, partial) {
    const features = [...this.byID.values()];
    this.ctx.map.getSource('incidents').setData({
      type: 'FeatureCollection',
      // Only what the layers draw goes to the worker (popups read byID),
      // and the id rides in properties: clustered sources drop feature ids.
      features: features.map((f) => ({ type: 'Feature', geometry: f.geometry, properties: { id: f.id, severity: f.properties.severity } })),
    });
    features.sort((a, b) => (b.properties.occurred_at < a.properties.occurred_at ? -1 : 1) || b.id - a.id);
    const list = $('#incident-list');
    const frag = document.createDocumentFragment();
    for (const f of features) frag.append(this.listItem(f));
    list.replaceChildren(frag);
    // Marks for docs/performance.md: when incidents first show, when the
    // view is complete.
    if (features.length && !performance.getEntriesByName('postwatch:first-incidents').length) performance.mark('postwatch:first-incidents');
    if (!partial && !performance.getEntriesByName('postwatch:view-complete').length) performance.mark('postwatch:view-complete');
    const n = features.length;
    let status = `${n} incident${n === 1 ? '' : 's'} in view`;
    if (partial) status += ' (loading…)';
    else if (matched !== null && matched > n) status = `${n} of ${matched} incidents in view; zoom in or narrow the filters to list them all`;
    $('#list-status').textContent = status;
    $('#incident-list').setAttribute('aria-busy', partial ? 'true' : 'false');
  }

  listItem(f) {
    const p = f.properties;
    return el('li', { dataset: { incidentId: String(f.id), severity: String(p.severity) } },
      el('button', { type: 'button', class: 'incident', onclick: () => this.focus(f) },
        el('span', { class: `sev sev${p.severity}`, text: String(p.severity), title: `severity ${p.severity}` }),
        el('span', { class: 'title', text: p.title }),
        el('span', { class: 'meta', text: `${p.type.replaceAll('_', ' ')} · ${p.occurred_at.slice(0, 10)} · ${p.country}` })));
  }

  focus(f) {
    this.ctx.map.easeTo({ center: f.geometry.coordinates, zoom: Math.max(this.ctx.map.getZoom(), 12) });
    this.popup(f.id, f.geometry.coordinates);
  }

  // drawCounts puts the number of incidents on each cluster in view.
  drawCounts() {
    const { map, maplibregl } = this.ctx;
    const seen = new Set();
    for (const f of map.querySourceFeatures('incidents', { filter: ['has', 'point_count'] })) {
      const id = f.properties.cluster_id;
      if (seen.has(id)) continue;
      seen.add(id);
      const label = String(f.properties.point_count_abbreviated ?? f.properties.point_count);
      let marker = this.counts.get(id);
      if (!marker) {
        marker = new maplibregl.Marker({ element: el('span', { class: 'cluster-count', 'aria-hidden': 'true' }) });
        this.counts.set(id, marker);
        marker.setLngLat(f.geometry.coordinates).addTo(map);
      }
      marker.setLngLat(f.geometry.coordinates);
      marker.getElement().textContent = label;
    }
    for (const [id, marker] of this.counts) {
      if (!seen.has(id)) {
        marker.remove();
        this.counts.delete(id);
      }
    }
  }

  async zoomToCluster(feature) {
    const src = this.ctx.map.getSource('incidents');
    const zoom = await src.getClusterExpansionZoom(feature.properties.cluster_id);
    this.ctx.map.easeTo({ center: feature.geometry.coordinates, zoom });
  }

  // popup shows an incident's details, built as DOM nodes from its data.
  popup(id, lngLat) {
    const f = this.byID.get(Number(id));
    if (!f) return;
    const p = f.properties;
    const actors = (p.actors || []).map((a) => `${a.actor_id} (${a.role})`).join(', ');
    const desc = p.description && p.description.length > 280 ? `${p.description.slice(0, 280)}…` : p.description;
    const body = el('div', { class: 'popup', dataset: { incidentId: String(f.id) } },
      el('h3', { text: p.title }),
      el('p', { class: 'meta' },
        el('span', { class: `sev sev${p.severity}`, text: String(p.severity) }),
        ` ${p.type.replaceAll('_', ' ')} · ${p.status} · ${p.occurred_at.replace('T', ' ').replace(':00Z', 'Z')}`),
      actors ? el('p', { text: `Actors: ${actors}` }) : null,
      p.casualties && (p.casualties.killed || p.casualties.injured) ? el('p', { text: `Killed ${p.casualties.killed}, injured ${p.casualties.injured}` }) : null,
      desc ? el('p', { class: 'desc', text: desc }) : null,
      el('p', {},
        el('button', { type: 'button', class: 'link', onclick: () => this.history(f.id).catch(this.ctx.failed), text: `History of incident ${f.id}` })));
    this.ctx.popup?.remove();
    this.ctx.popup = new this.ctx.maplibregl.Popup({ maxWidth: '340px' }).setLngLat(lngLat).setDOMContent(body).addTo(this.ctx.map);
  }

  // history lists an incident's versions in the side panel.
  async history(id) {
    const { versions } = await getJSON(`/collections/incidents/items/${id}/history`);
    const panel = openPanel(`History of incident ${id}`);
    panel.append(el('ol', { class: 'history' }, versions.map((v) => el('li', {},
      el('strong', { text: `v${v.version} ${v.op}` }),
      ` ${v.changed_at.slice(0, 19).replace('T', ' ')}Z by ${v.changed_by}`,
      v.feature ? el('div', { class: 'meta', text: `${v.feature.properties.title} · severity ${v.feature.properties.severity} · ${v.feature.properties.status}` }) : null))));
  }

  // setupLogging lets an officer click the map to place an incident.
  setupLogging() {
    const btn = $('#log-incident');
    btn.hidden = false;
    const { map } = this.ctx;
    btn.addEventListener('click', () => {
      this.placing = !this.placing;
      btn.setAttribute('aria-pressed', String(this.placing));
      map.getCanvas().style.cursor = this.placing ? 'crosshair' : '';
      if (this.placing) this.ctx.announce('Click the map where the incident happened.');
    });
    map.on('click', (ev) => {
      if (this.draft && !this.placing) {
        this.draft([ev.lngLat.lng, ev.lngLat.lat]);
        return;
      }
      if (!this.placing) return;
      this.placing = false;
      btn.setAttribute('aria-pressed', 'false');
      map.getCanvas().style.cursor = '';
      this.openForm([ev.lngLat.lng, ev.lngLat.lat]);
    });
  }

  // openForm shows the new-incident form at a point. Field errors from the
  // server's problem+json appear next to the fields they name.
  openForm(lonLat) {
    const { map, queryables } = this.ctx;
    const setDraft = (pt) => map.getSource('draft').setData({ type: 'FeatureCollection', features: pt ? [{ type: 'Feature', geometry: { type: 'Point', coordinates: pt }, properties: {} }] : [] });
    setDraft(lonLat);
    const q = queryables.properties;
    const now = new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    const lon = el('input', { id: 'fld-lon', type: 'number', step: 'any', value: lonLat[0].toFixed(5), 'data-field': 'geometry.coordinates' });
    const lat = el('input', { id: 'fld-lat', type: 'number', step: 'any', value: lonLat[1].toFixed(5) });
    const facility = el('select', {}, options(this.ctx.facilities.all().map((f) => String(f.id)),
      { blank: 'none', label: (id) => this.ctx.facilities.get(Number(id)).properties.name }));
    const nearest = this.ctx.facilities.nearest(lonLat);
    if (nearest) facility.value = String(nearest.id);
    const form = el('form', { id: 'incident-form', novalidate: true },
      field('Type', 'properties.type', el('select', {}, options(q.type.enum, { blank: 'choose…', label: (t) => t.replaceAll('_', ' ') }))),
      field('Title', 'properties.title', el('input', { type: 'text', maxlength: 500, autocomplete: 'off' })),
      field('When (your local time)', 'properties.occurred_at', el('input', { type: 'datetime-local', value: now })),
      field('Severity', 'properties.severity', el('select', {}, options(['1', '2', '3', '4', '5'], { selected: '3' }))),
      field('Status', 'properties.status', el('select', {}, options(q.status.enum, { selected: 'reported' }))),
      field('Country (ISO 3166 alpha-2)', 'properties.country', el('input', { type: 'text', maxlength: 2, value: nearest ? nearest.properties.country : '', autocomplete: 'off' })),
      field('Facility', 'properties.facility_id', facility),
      field('Description', 'properties.description', el('textarea', { rows: 3 })),
      // One error slot for both: the server names geometry.coordinates.
      el('fieldset', { class: 'coords' }, el('legend', { text: 'Place (click the map to move it)' }),
        el('label', { for: 'fld-lon', text: 'Longitude' }), lon,
        el('label', { for: 'fld-lat', text: 'Latitude' }), lat,
        el('span', { class: 'field-error', id: 'fld-coords-error', 'data-error-for': 'geometry.coordinates', role: 'alert' })),
      el('p', { class: 'form-error', role: 'alert' }),
      el('div', { class: 'actions' },
        el('button', { type: 'submit', text: 'Log incident' }),
        el('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: closePanel })));
    for (const c of [lon, lat]) c.addEventListener('change', () => setDraft([Number(lon.value), Number(lat.value)]));
    // While the form is open a click on the map moves the incident.
    this.draft = (pt) => {
      lon.value = pt[0].toFixed(5);
      lat.value = pt[1].toFixed(5);
      setDraft(pt);
    };
    const done = () => {
      this.draft = null;
      setDraft(null);
    };
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      const v = (name) => form.querySelector(`[data-field="${name}"]`).value;
      const when = v('properties.occurred_at');
      const props = {
        type: v('properties.type'),
        title: v('properties.title').trim(),
        // datetime-local is the officer's wall clock; the API wants RFC 3339.
        occurred_at: when ? new Date(when).toISOString() : '',
        severity: Number(v('properties.severity')),
        status: v('properties.status'),
        country: v('properties.country').trim().toUpperCase(),
        facility_id: v('properties.facility_id') ? Number(v('properties.facility_id')) : null,
      };
      const d = v('properties.description').trim();
      if (d) props.description = d;
      const body = { type: 'Feature', geometry: { type: 'Point', coordinates: [Number(lon.value), Number(lat.value)] }, properties: props };
      try {
        const res = await request('/collections/incidents/items', { method: 'POST', body, headers: { 'Content-Type': 'application/geo+json' } });
        const created = await res.json();
        closePanel();
        this.addNew([created]);
        this.ctx.announce(`Incident ${created.id} logged: ${created.properties.title}`);
      } catch (err) {
        if (err instanceof ProblemError && err.status < 500) fieldErrors(form, err);
        else this.ctx.failed(err);
      }
    });
    const panel = openPanel('Log an incident', done);
    panel.append(form);
    form.querySelector('select, input').focus();
  }
}

let onClose = null;

// openPanel empties the side panel, titles it and shows it.
export function openPanel(title, closing) {
  onClose?.();
  onClose = closing || null;
  const panel = $('#panel');
  const body = $('#panel-body');
  $('#panel-title').textContent = title;
  body.replaceChildren();
  panel.hidden = false;
  $('#panel-close').onclick = closePanel;
  return body;
}

export function closePanel() {
  onClose?.();
  onClose = null;
  $('#panel').hidden = true;
  $('#panel-body').replaceChildren();
}
