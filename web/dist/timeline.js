// timeline.js is the time filter: a histogram of the incidents the other
// filters select (GET /stats/incidents, by month, or by day when they fit
// in a few months) with a two-handle slider over its buckets. Its range is
// the datetime= of the items queries.
import { getJSON } from './api.js';
import { el } from './dom.js';
import { query } from './state.js';

const $ = (sel) => document.querySelector(sel);

export class Timeline {
  constructor(ctx, onChange) {
    this.ctx = ctx;
    this.onChange = onChange;
    this.keys = [];
    this.from = $('#time-from');
    this.to = $('#time-to');
    for (const input of [this.from, this.to]) {
      input.addEventListener('input', () => this.slid(input));
      input.addEventListener('change', () => this.commit());
    }
    $('#time-clear').addEventListener('click', () => {
      delete this.ctx.filters.datetime;
      this.show();
      this.onChange();
    });
  }

  // reload fetches the histogram for the current filters but time;
  // this.loaded settles when it is drawn.
  reload() {
    this.loaded = this.fetch();
    return this.loaded;
  }

  async fetch() {
    const { datetime, ...rest } = this.ctx.filters;
    const base = query(rest, null);
    const stats = (by) => getJSON(`/stats/incidents?group_by=${by}${base ? `&${base}` : ''}`);
    try {
      let s = await stats('month');
      let by = 'month';
      if (s.buckets.length && span(s.buckets, 'month') <= 3) {
        s = await stats('day');
        by = 'day';
      }
      this.by = by;
      this.keys = fill(s.buckets.map((b) => b.key), by);
      const counts = new Map(s.buckets.map((b) => [b.key, b.count]));
      this.counts = this.keys.map((k) => counts.get(k) || 0);
    } catch (err) {
      this.ctx.failed(err);
      return;
    }
    this.show();
  }

  // show draws the bars and puts the handles where datetime= says.
  show() {
    const n = this.keys.length;
    $('#timeline').hidden = n === 0;
    if (!n) return;
    const max = Math.max(1, ...this.counts);
    const bars = this.keys.map((k, i) => {
      const bar = el('span', { class: 'bar', title: `${k}: ${this.counts[i]}` });
      bar.style.height = `${Math.max(this.counts[i] ? 6 : 0, (100 * this.counts[i]) / max)}%`;
      return bar;
    });
    $('#histogram').replaceChildren(...bars);
    // Past about 3 px a bar, a gap between bars would leave no bar.
    $('#histogram').classList.toggle('dense', n > 100);
    for (const input of [this.from, this.to]) {
      input.max = String(n - 1);
    }
    const [a, b] = this.range();
    this.from.value = String(a);
    this.to.value = String(b);
    this.paint();
  }

  // range is the bucket indexes datetime= covers (the whole axis if none).
  range() {
    const dt = this.ctx.filters.datetime;
    const n = this.keys.length;
    if (!dt) return [0, n - 1];
    const [start, end] = dt.split('/');
    const idx = (t, dflt) => {
      if (!t || t === '..') return dflt;
      const k = t.slice(0, this.by === 'day' ? 10 : 7);
      const i = this.keys.indexOf(k);
      if (i >= 0) return i;
      return k < this.keys[0] ? 0 : n - 1;
    };
    return [idx(start, 0), idx(end ?? start, n - 1)];
  }

  slid(input) {
    let a = Number(this.from.value);
    let b = Number(this.to.value);
    if (a > b) {
      if (input === this.from) this.to.value = String((b = a));
      else this.from.value = String((a = b));
    }
    this.paint();
  }

  paint() {
    const a = Number(this.from.value);
    const b = Number(this.to.value);
    [...$('#histogram').children].forEach((bar, i) => bar.classList.toggle('in', i >= a && i <= b));
    const all = a === 0 && b === this.keys.length - 1;
    $('#time-readout').textContent = all && !this.ctx.filters.datetime
      ? `all time (${this.keys[0]} to ${this.keys[this.keys.length - 1]})`
      : this.ctx.filters.datetime && all ? this.ctx.filters.datetime : `${this.keys[a]} to ${this.keys[b]}`;
    this.from.setAttribute('aria-valuetext', this.keys[a]);
    this.to.setAttribute('aria-valuetext', this.keys[b]);
  }

  commit() {
    const a = Number(this.from.value);
    const b = Number(this.to.value);
    if (a === 0 && b === this.keys.length - 1) delete this.ctx.filters.datetime;
    else this.ctx.filters.datetime = `${startOf(this.keys[a], this.by)}/${endOf(this.keys[b], this.by)}`;
    this.paint();
    this.onChange();
  }
}

// A day key is YYYY-MM-DD; a month key YYYY-MM. Dates in datetime= stand
// for whole UTC days on the server.
function startOf(key, by) {
  return by === 'day' ? key : `${key}-01`;
}

function endOf(key, by) {
  if (by === 'day') return key;
  const [y, m] = key.split('-').map(Number);
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return `${key}-${String(last).padStart(2, '0')}`;
}

function span(buckets, by) {
  const keys = buckets.map((b) => b.key).sort();
  return fill([keys[0], keys[keys.length - 1]], by).length;
}

// fill lists every bucket key from the first to the last, so empty days
// or months take their place on the axis.
function fill(keys, by) {
  if (!keys.length) return [];
  const sorted = [...keys].sort();
  const out = [];
  const d = new Date(`${by === 'day' ? sorted[0] : `${sorted[0]}-01`}T00:00:00Z`);
  const last = sorted[sorted.length - 1];
  for (let guard = 0; guard < 100000; guard++) {
    const k = d.toISOString().slice(0, by === 'day' ? 10 : 7);
    out.push(k);
    if (k >= last) break;
    if (by === 'day') d.setUTCDate(d.getUTCDate() + 1);
    else d.setUTCMonth(d.getUTCMonth() + 1);
  }
  return out;
}
