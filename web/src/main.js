// main.js starts the operations map: sign-in, the map and its layers, the
// filters kept in the address bar, the incident list, live updates and
// alerts, and (for officers) logging incidents and postures.
import * as maplibregl from './maplibre-gl.mjs';
import { allowedMethods, getJSON, ProblemError, setToken, takeTokenFromURL, token } from './api.js';
import { el } from './dom.js';
import { FILTERS, readState, writeState, viewBBox } from './state.js';
import { mapStyle } from './style.js';
import { Incidents } from './incidents.js';
import { Facilities } from './facilities.js';
import { Timeline } from './timeline.js';
import { Live } from './live.js';

// The worker is this directory's copy; MapLibre would otherwise add a
// ?v= query to its URL.
maplibregl.setWorkerUrl(new URL('./maplibre-gl-worker.mjs', import.meta.url).href);

const $ = (sel) => document.querySelector(sel);

takeTokenFromURL();
if (token()) start().catch(failed);
else signIn();

// signIn shows the sign-in form until a token that postwatch accepts is
// typed into it.
function signIn(message) {
  const dialog = $('#signin');
  const form = $('#signin-form');
  $('#signin-error').textContent = message || '';
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    setToken($('#signin-token').value.trim());
    $('#signin-token').value = '';
    try {
      await start();
      dialog.close();
    } catch (err) {
      setToken(null);
      if (err instanceof ProblemError && err.status === 401) $('#signin-error').textContent = 'postwatch does not know this token (or it was revoked).';
      else failed(err);
    }
  };
  // Without a token the page has nothing to show: Escape does not close it.
  dialog.oncancel = (ev) => ev.preventDefault();
  if (!dialog.open) dialog.showModal();
  $('#signin-token').focus();
}

function failed(err) {
  if (err instanceof ProblemError && err.status === 401) {
    setToken(null);
    signIn('Your token is no longer valid; sign in again.');
    return;
  }
  console.error(err);
  announce(`Error: ${err.message}`, true);
}

// announce speaks a message through the page's live regions: alerts are
// assertive, the rest polite. The last few stay visible.
function announce(text, urgent = false) {
  const region = urgent ? $('#alerts') : $('#live');
  region.prepend(el('p', { text }));
  while (region.children.length > 5) region.lastElementChild.remove();
}

let started = false;

async function start() {
  // OPTIONS both checks the token and tells whether it may write.
  const methods = await allowedMethods('/collections/incidents/items');
  if (started) return;
  started = true;
  const canWrite = methods.includes('POST');
  document.body.dataset.role = canWrite ? 'officer' : 'analyst';
  $('#whoami').textContent = canWrite ? 'officer: may log incidents and postures' : 'read-only';
  $('#signout').hidden = false;
  $('#signout').onclick = () => {
    setToken(null);
    location.reload();
  };

  const initial = readState(location.search);
  const filters = { ...initial.filters };
  // The map starts (worker, borders) while the data is fetched; both are
  // drawn once the style has loaded.
  const map = new maplibregl.Map({
    container: 'map',
    style: mapStyle(new URL('./countries.geojson', import.meta.url).href),
    center: [44, 33],
    zoom: 4,
    attributionControl: { compact: true, customAttribution: 'Borders: Natural Earth' },
    dragRotate: false,
    pitchWithRotate: false,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl(), 'bottom-right');
  if (initial.bbox) {
    map.fitBounds([[initial.bbox[0], initial.bbox[1]], [initial.bbox[2], initial.bbox[3]]], { animate: false });
  }
  const mapLoaded = map.once('load');

  const ctx = { map, maplibregl, filters, canWrite, announce, failed, mapLoaded };
  const facilities = new Facilities(ctx);
  ctx.facilities = facilities;
  const incidents = new Incidents(ctx);
  ctx.incidents = incidents;
  // With a bbox in the address the incidents need not wait for anything.
  const early = initial.bbox ? incidentsLoaded() : null;
  const [queryables, actors] = await Promise.all([
    getJSON('/collections/incidents/queryables'),
    getJSON('/actors?limit=1000').catch(() => ({ actors: [] })),
    facilities.load(),
  ]);
  ctx.queryables = queryables;
  ctx.actors = actors.actors || [];
  const timeline = new Timeline(ctx, () => apply());
  timeline.reload();
  setupFilters(ctx, () => {
    timeline.reload();
    apply();
  });
  if (!initial.bbox) {
    // A first visit opens on the posts.
    const b = facilities.bounds();
    if (b) map.fitBounds(b, { padding: 80, maxZoom: 8, animate: false });
  }
  await Promise.all([timeline.loaded, early || incidentsLoaded()]);

  // apply reloads what the view and filters select and writes both to the
  // address bar.
  function apply() {
    const bbox = viewBBox(map.getBounds());
    writeState(filters, bbox);
    incidents.load(bbox).catch(failed);
  }
  // Moves before here are the page's own fitBounds, already loaded.
  let moveTimer;
  map.on('moveend', () => {
    clearTimeout(moveTimer);
    moveTimer = setTimeout(apply, 150);
  });
  new Live(ctx).start();
  // Tests and screen readers can tell when the first view is complete.
  document.body.dataset.ready = 'true';

  function incidentsLoaded() {
    const bbox = viewBBox(map.getBounds());
    writeState(filters, bbox);
    return incidents.load(bbox);
  }
}

// setupFilters binds the filter form to ctx.filters; onChange runs after
// each change.
function setupFilters(ctx, onChange) {
  const { filters } = ctx;
  const form = $('#filters');
  const types = ctx.queryables.properties.type.enum;
  const typeSel = $('#f-type');
  typeSel.append(el('option', { value: '', text: 'any type' }), ...types.map((t) => el('option', { value: t, text: t.replaceAll('_', ' ') })));
  if (filters.type && !types.includes(filters.type)) typeSel.append(el('option', { value: filters.type, text: filters.type }));
  const actorList = $('#actor-list');
  for (const a of ctx.actors) actorList.append(el('option', { value: a.id, text: a.name }));
  const facSel = $('#f-facility');
  facSel.append(el('option', { value: '', text: 'any facility' }));
  for (const f of ctx.facilities.all()) facSel.append(el('option', { value: String(f.id), text: f.properties.name }));
  if (filters.facility && !ctx.facilities.get(Number(filters.facility))) facSel.append(el('option', { value: filters.facility, text: filters.facility }));

  typeSel.value = filters.type || '';
  $('#f-severity').value = filters.severity_min || '';
  $('#f-actor').value = filters.actor || '';
  $('#f-chain').checked = filters.attribution === 'chain';
  facSel.value = filters.facility || '';
  $('#f-q').value = filters.q || '';

  const read = () => {
    const next = {
      type: typeSel.value,
      severity_min: $('#f-severity').value,
      actor: $('#f-actor').value.trim(),
      attribution: $('#f-chain').checked && $('#f-actor').value.trim() ? 'chain' : '',
      facility: facSel.value,
      q: $('#f-q').value.trim(),
    };
    let changed = false;
    for (const name of FILTERS) {
      if (name === 'datetime') continue;
      if ((filters[name] || '') !== next[name]) {
        changed = true;
        if (next[name]) filters[name] = next[name];
        else delete filters[name];
      }
    }
    if (changed) onChange();
  };
  form.addEventListener('change', read);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    read();
  });
  $('#f-reset').addEventListener('click', () => {
    for (const name of FILTERS) delete filters[name];
    form.reset();
    onChange();
  });
}
