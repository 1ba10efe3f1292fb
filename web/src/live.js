// live.js keeps the map current without a reload: it asks every 0.75 s for
// incidents of the view and filters stored after the newest one it has
// (filter=id > N, so an import or another server's writes show too), and
// reads the alert stream to announce incidents inside a facility's radius.
import { getJSON, stream, ProblemError } from './api.js';

// POLL_MS keeps a new incident on screen within 2 s of its commit: polls
// start every POLL_MS whatever the last one took, and each is one indexed
// query (id > N) and a render.
const POLL_MS = 750;

export class Live {
  constructor(ctx) {
    this.ctx = ctx;
  }

  start() {
    this.poll();
    this.alerts();
  }

  async poll() {
    const { incidents, announce } = this.ctx;
    for (let next = performance.now(); ; ) {
      next += POLL_MS;
      // A poll that overran starts the next one at once, not a backlog.
      next = Math.max(next, performance.now());
      await sleep(next - performance.now());
      // A load in progress will bring the same incidents; while the
      // sign-in form asks for a new token there is none to ask with.
      if (incidents.loading || !incidents.bbox || signingIn()) continue;
      const bbox = incidents.bbox;
      const filter = encodeURIComponent(`id > ${incidents.lastID}`);
      try {
        const page = await getJSON(`/collections/incidents/items?${incidents.itemsQuery()}&filter=${filter}&limit=1000`);
        // The view may have moved while the request ran.
        if (incidents.loading || incidents.bbox !== bbox) continue;
        for (const f of incidents.addNew(page.features)) {
          announce(`New incident: ${f.properties.title} (severity ${f.properties.severity}, ${f.properties.type.replaceAll('_', ' ')})`);
        }
      } catch (err) {
        if (err instanceof ProblemError && err.status === 401) this.ctx.failed(err);
      }
    }
  }

  // alerts reads /alerts/stream with the token in a header, reconnecting
  // after a pause when the stream ends or fails and resuming after the last
  // alert it saw. Alerts are announced; posture changes redraw the facility.
  async alerts() {
    let lastEventID = null;
    for (let delay = 1000; ; delay = Math.min(delay * 2, 30000)) {
      try {
        await stream('/alerts/stream', (event, data, id) => {
          delay = 1000;
          if (id) lastEventID = id;
          if (event === 'alert') this.alert(JSON.parse(data));
          else if (event === 'posture') this.posture(JSON.parse(data)).catch(() => {});
        }, { lastEventID });
      } catch (err) {
        if (err instanceof ProblemError && err.status === 401) this.ctx.failed(err);
      }
      await sleep(delay);
      while (signingIn()) await sleep(1000);
    }
  }

  alert(a) {
    const p = a.incident.properties;
    const facility = this.ctx.facilities.get(a.facility_id);
    const where = facility ? facility.properties.name : `facility ${a.facility_id}`;
    const km = (a.distance_m / 1000).toFixed(1);
    this.ctx.announce(`Alert: ${p.title}, ${km} km from ${where} (severity ${p.severity})`, true);
  }

  async posture(change) {
    const facility = await this.ctx.facilities.refresh(change.facility_id);
    this.ctx.announce(`${facility.properties.name}: posture ${change.posture.replaceAll('_', ' ')}`, true);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const signingIn = () => document.querySelector('#signin').open;
