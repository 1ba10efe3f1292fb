// map.test.mjs drives the operations map in headless Chromium against a
// running postwatch (cmd/postwatch/map_browser_test.go starts one on a
// seeded database and passes its address and tokens):
//
//   POSTWATCH_URL=http://127.0.0.1:PORT OFFICER_TOKEN=… ANALYST_TOKEN=… node test/map.test.mjs
//
// Every request to a host other than the loopback one is blocked and fails
// the run, and so does any Content-Security-Policy violation or uncaught
// page error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.POSTWATCH_URL;
const OFFICER = process.env.OFFICER_TOKEN;
const ANALYST = process.env.ANALYST_TOKEN;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT = process.env.MAP_SCREENSHOT || '';
// The contract's budget for the page and everything it loads.
const MAX_PAGE_BYTES = 3 * 1024 * 1024;
const LIVE_MS = 2000;

assert.ok(BASE && OFFICER && ANALYST, 'POSTWATCH_URL, OFFICER_TOKEN and ANALYST_TOKEN must be set');

let context;
let userDir;
const offsite = [];
const pageProblems = [];

before(async () => {
  userDir = mkdtempSync(join(tmpdir(), 'postwatch-chromium-'));
  context = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const loopback = new Set(['127.0.0.1', 'localhost', '[::1]']);
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || url.protocol === 'blob:' || loopback.has(url.hostname)) return route.continue();
    offsite.push(url.href);
    return route.abort('blockedbyclient');
  });
});

after(async () => {
  await context?.close();
  if (userDir) rmSync(userDir, { recursive: true, force: true });
  assert.deepEqual(offsite, [], 'the page asked hosts other than postwatch');
});

// openPage returns a new tab that records CSP violations and page errors.
async function openPage() {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageProblems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) pageProblems.push(`CSP: ${msg.text()}`);
  });
  return page;
}

async function ready(page) {
  await page.waitForSelector('body[data-ready="true"]', { timeout: 45000 });
}

// api calls postwatch directly, as the page's twin.
async function api(path, { token = ANALYST, method = 'GET', body } = {}) {
  const res = await fetch(new URL(path, BASE), {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/geo+json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = res.status === 204 ? null : await res.json();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

// apiIDs lists the ids the items API returns for the page's query string.
async function apiIDs(search) {
  const params = new URLSearchParams(search);
  params.set('limit', '10000');
  const fc = await api(`/collections/incidents/items?${params}`);
  return fc.features.map((f) => f.id).sort((a, b) => a - b);
}

async function listIDs(page) {
  const ids = await page.$$eval('#incident-list li[data-incident-id]', (lis) => lis.map((li) => Number(li.dataset.incidentId)));
  return ids.sort((a, b) => a - b);
}

function incident(lon, lat, title, extra = {}) {
  return {
    type: 'Feature',
    geometry: { type: 'Point', coordinates: [lon, lat] },
    properties: { type: 'protest', title, occurred_at: new Date().toISOString(), severity: 2, country: 'IQ', ...extra },
  };
}

let analystPage;

test('an analyst opens the map with ?access_token=, within the weight budget, and sees no write controls', async () => {
  const page = await openPage();
  analystPage = page;
  let bytes = 0;
  let transferred = 0;
  const pending = [];
  page.on('response', (res) => {
    // The alert stream is a feed that never ends, not part of the page.
    if ((res.headers()['content-type'] || '').startsWith('text/event-stream')) return;
    pending.push((async () => {
      const body = await res.body().catch(() => Buffer.alloc(0));
      bytes += body.length;
      const sizes = await res.request().sizes().catch(() => null);
      transferred += sizes ? sizes.responseBodySize + sizes.responseHeadersSize : body.length;
    })());
  });
  const start = Date.now();
  await page.goto(`${BASE}/map?access_token=${ANALYST}`);
  await ready(page);
  const firstRender = Date.now() - start;
  await page.waitForTimeout(300);
  await Promise.all(pending);
  console.log(`# page weight: ${bytes} bytes decoded, ${transferred} transferred; first render ${firstRender} ms`);
  assert.ok(bytes > 0 && bytes <= MAX_PAGE_BYTES, `the page and its assets weigh ${bytes} bytes, over ${MAX_PAGE_BYTES}`);

  const url = new URL(page.url());
  assert.equal(url.searchParams.get('access_token'), null, 'the token stays in the address bar');
  assert.ok(url.searchParams.get('bbox'), 'the address bar holds the view');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('postwatch.token')), ANALYST);

  assert.equal(await page.locator('#log-incident').isVisible(), false, 'an analyst sees the log button');
  assert.equal(await page.getAttribute('body', 'data-role'), 'analyst');
  // The facility panel: posture history, threat level and trend, and no form.
  await page.click('#facility-list li:first-child button');
  await page.waitForSelector('#panel .threat .level');
  assert.ok(await page.locator('#panel .history li').count() >= 1, 'no posture history');
  assert.match(await page.textContent('#panel .threat'), /(steady|rising|falling)/);
  assert.equal(await page.locator('#incident-form, #posture-form').count(), 0, 'an analyst sees a write form');
});

test('the list is the items API for the same view and filters', async () => {
  const page = analystPage;
  // Opening the facility panel moved the map; load its address afresh so
  // that no reload of the view is in flight.
  await page.goto(page.url());
  await ready(page);
  const search = new URL(page.url()).search;
  const want = await apiIDs(search);
  assert.ok(want.length > 0, `the seeded view ${search} holds no incidents`);
  assert.deepEqual(await listIDs(page), want);
});

test('a filter in the URL applies', async () => {
  const page = analystPage;
  await page.goto(`${BASE}/map?type=protest,riot&severity_min=2&bbox=38,28,50,38`);
  await ready(page);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('type'), 'protest,riot');
  assert.equal(url.searchParams.get('severity_min'), '2');
  const want = await apiIDs(url.search);
  assert.ok(want.length > 0, 'no seeded protest or riot of severity 2 or more');
  const all = await apiIDs(`bbox=${url.searchParams.get('bbox')}`);
  assert.ok(want.length < all.length, 'the filter selects every incident, so it proves nothing');
  assert.deepEqual(await listIDs(page), want);
  assert.equal(await page.inputValue('#f-severity'), '2');
});

test('a new incident shows up live, within 2 s, and is announced, as its alert', async () => {
  const page = analystPage;
  await page.goto(`${BASE}/map?bbox=38,28,50,38`);
  await ready(page);
  const title = `Live test ${Date.now()}`;
  const created = await api('/collections/incidents/items', { token: OFFICER, method: 'POST', body: incident(44.39, 33.3, title) });
  const start = Date.now();
  await page.waitForSelector(`#incident-list li[data-incident-id="${created.id}"]`, { timeout: LIVE_MS });
  console.log(`# live: incident ${created.id} listed after ${Date.now() - start} ms`);
  await page.waitForFunction((t) => document.querySelector('#live').textContent.includes(t), title, { timeout: 1000 });
  // It fell inside the Baghdad embassy's radius: the alert stream, read
  // with fetch and the token in a header, announces it.
  await page.waitForFunction((t) => document.querySelector('#alerts').textContent.includes(`Alert: ${t}`), title, { timeout: 5000 });
  // Its list entry opens its popup, and the popup its history.
  await page.click(`#incident-list li[data-incident-id="${created.id}"] button`);
  const popup = page.locator(`.popup[data-incident-id="${created.id}"]`);
  await popup.waitFor();
  assert.equal(await popup.locator('h3').textContent(), title);
  await popup.locator('button', { hasText: 'History' }).click();
  await page.waitForSelector('#panel .history li');
  assert.match(await page.textContent('#panel .history li:first-child'), /v1 create/);
});

test('an officer signs in with the form, logs an incident from the map and sees field errors', async () => {
  const page = await openPage();
  await page.goto(`${BASE}/map?bbox=43,32,46,34.5`);
  await page.waitForSelector('#signin[open]');
  await page.fill('#signin-token', OFFICER);
  await page.click('#signin-form button[type="submit"]');
  await ready(page);
  assert.equal(await page.getAttribute('body', 'data-role'), 'officer');
  assert.ok(!(await page.evaluate(() => location.href)).includes(OFFICER), 'the token reached the address bar');

  await page.click('#log-incident');
  const box = await page.locator('#map').boundingBox();
  await page.mouse.click(box.x + box.width * 0.3, box.y + box.height * 0.6);
  await page.waitForSelector('#incident-form');
  await page.selectOption('[data-field="properties.type"]', 'drone');
  // No title: the server's problem names properties.title.
  await page.fill('[data-field="properties.title"]', '');
  await page.click('#incident-form button[type="submit"]');
  const err = page.locator('[data-error-for="properties.title"]');
  await err.waitFor({ state: 'visible' });
  assert.match(await err.textContent(), /required/);
  assert.equal(await page.getAttribute('[data-field="properties.title"]', 'aria-invalid'), 'true');

  const title = `Drone over the compound ${Date.now()}`;
  await page.fill('[data-field="properties.title"]', title);
  await page.click('#incident-form button[type="submit"]');
  await page.waitForSelector('#incident-form', { state: 'detached' });
  const found = await api(`/collections/incidents/items?q=${encodeURIComponent(`"${title}"`)}`);
  assert.equal(found.features.length, 1, `the incident "${title}" was not stored`);
  const id = found.features[0].id;
  assert.equal(found.features[0].properties.type, 'drone');
  await page.waitForSelector(`#incident-list li[data-incident-id="${id}"]`, { timeout: LIVE_MS });

  // A posture change from the facility panel.
  const fac = await page.getAttribute('#facility-list li:first-child', 'data-facility-id');
  await page.click('#facility-list li:first-child button');
  await page.waitForSelector('#posture-form');
  await page.selectOption('[data-field="posture"]', 'ordered_departure');
  await page.fill('[data-field="reason"]', 'Browser test: ordered departure');
  await page.click('#posture-form button[type="submit"]');
  await page.waitForSelector('#panel .posture[data-posture="ordered_departure"]');
  const facility = await api(`/collections/facilities/items/${fac}`);
  assert.equal(facility.properties.posture, 'ordered_departure');
  assert.match(await page.textContent('#panel .history li:first-child'), /Browser test: ordered departure/);
  await checkScreenshot(page);
});

// mapped waits for an HTML page's map (pagemap.js) to draw its points and
// returns how many it drew and how many the page's data block holds.
async function mapped(page) {
  await page.waitForSelector('#features-map[data-rendered]', { timeout: 45000 });
  assert.equal(await page.locator('#features-map canvas.maplibregl-canvas').count(), 1, 'no map canvas');
  return page.evaluate(() => ({
    rendered: Number(document.querySelector('#features-map').dataset.rendered),
    block: JSON.parse(document.querySelector('#features').textContent).features.map((f) => f.id),
  }));
}

test('an items page shows its features on a map, and a click on one opens its page', async () => {
  const page = await openPage();
  const query = 'bbox=38,28,50,38&limit=25';
  await page.goto(`${BASE}/collections/incidents/items?f=html&${query}&access_token=${ANALYST}`);
  const { rendered, block } = await mapped(page);
  const want = (await api(`/collections/incidents/items?${query}`)).features.map((f) => f.id);
  assert.ok(want.length >= 2, `the seeded page ${query} holds ${want.length} incidents`);
  assert.deepEqual(block, want, 'the data block is not the page');
  assert.equal(rendered, block.length, 'the map does not draw every feature of the page');
  assert.equal(await page.locator('table tr td a').count(), block.length, 'the table lost rows');

  const facilities = await api('/collections/facilities/items');
  await page.goto(`${BASE}/collections/facilities/items?f=html&access_token=${ANALYST}`);
  assert.equal((await mapped(page)).rendered, facilities.features.length, 'the facilities are not all drawn');

  // No features: the world, and nothing drawn.
  await page.goto(`${BASE}/collections/incidents/items?f=html&bbox=0,0,1,1&access_token=${ANALYST}`);
  assert.equal((await mapped(page)).rendered, 0);

  // One feature is fitted at the map's centre; a click there opens its
  // page, with the token kept, and that page draws its point too.
  await page.goto(`${BASE}/collections/incidents/items?f=html&limit=1&access_token=${ANALYST}`);
  const [id] = (await mapped(page)).block;
  const box = await page.locator('#features-map').boundingBox();
  await Promise.all([
    page.waitForURL((url) => url.pathname.endsWith(`/collections/incidents/items/${id}`)),
    page.mouse.click(box.x + box.width / 2, box.y + box.height / 2),
  ]);
  assert.equal(new URL(page.url()).searchParams.get('access_token'), ANALYST, 'the click dropped the token');
  assert.deepEqual(await mapped(page), { rendered: 1, block: [id] });
  await page.close();
});

// checkScreenshot fails on a blank map: it decodes the screenshot in the
// page (a data: image on a 2D canvas) and counts the colours of the map's
// area, which a blank or single-colour render would not reach.
async function checkScreenshot(page) {
  const png = await page.screenshot();
  if (SCREENSHOT) writeFileSync(SCREENSHOT, png);
  const box = await page.locator('#map').boundingBox();
  const colours = await page.evaluate(async ({ b64, box }) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(Math.round(box.x), Math.round(box.y), Math.round(box.width), Math.round(box.height)).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] >> 3) << 10 | (d[i + 1] >> 3) << 5 | d[i + 2] >> 3);
    return seen.size;
  }, { b64: png.toString('base64'), box });
  assert.ok(colours >= 8, `the map's screenshot has ${colours} colours: blank`);
}

test('no CSP violation or page error', () => {
  assert.deepEqual(pageProblems, []);
});
