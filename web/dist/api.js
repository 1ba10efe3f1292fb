// api.js talks to postwatch: every request carries the token in the
// Authorization header (never in a URL the page builds), and every error
// body is read as RFC 9457 problem+json.

const TOKEN_KEY = 'postwatch.token';

// token is the bearer secret of this tab: sessionStorage keeps it across
// reloads of the tab and forgets it when the tab closes.
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(secret) {
  if (secret) sessionStorage.setItem(TOKEN_KEY, secret);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// takeTokenFromURL moves ?access_token= from the address bar into
// sessionStorage, so the secret does not stay in history, bookmarks or a
// shared link.
export function takeTokenFromURL() {
  const url = new URL(location.href);
  const secret = url.searchParams.get('access_token');
  if (secret === null) return;
  url.searchParams.delete('access_token');
  history.replaceState(null, '', url.pathname + url.search + url.hash);
  if (secret.trim()) setToken(secret.trim());
}

// ProblemError is a non-2xx answer: status, the problem's detail and its
// per-field errors ({field, message}).
export class ProblemError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.fields = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

// request fetches path (relative to the site root, or an absolute URL of
// this origin, as next links are) with the token. It resolves to the
// Response when it is 2xx and throws ProblemError otherwise.
export async function request(path, { method = 'GET', body, headers = {}, signal } = {}) {
  const h = new Headers(headers);
  const secret = token();
  if (secret) h.set('Authorization', `Bearer ${secret}`);
  if (body !== undefined && !h.has('Content-Type')) h.set('Content-Type', 'application/json');
  const res = await fetch(siteURL(path), {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  });
  if (!res.ok) {
    let problem = {};
    try {
      problem = await res.json();
    } catch {
      problem = { title: res.statusText };
    }
    throw new ProblemError(res.status, problem);
  }
  return res;
}

export async function getJSON(path, opts) {
  const res = await request(path, opts);
  return res.json();
}

// siteURL resolves a root-relative path against the directory the page is
// served from, so the map works behind a proxy that adds a path prefix.
export function siteURL(path) {
  if (/^https?:/.test(path)) return path;
  return new URL(path.replace(/^\//, ''), siteRoot()).href;
}

function siteRoot() {
  // The page is GET {root}map; its directory is the API's root.
  return new URL('.', location.href).href;
}

// featurePages yields the features of every page of an items query,
// following the rel=next links the server writes, until max features.
// nextLimit, if set, is the page size after the first: a small first page
// draws early, larger ones then take fewer round trips (a next link's
// cursor does not depend on the page size).
export async function* featurePages(path, { signal, max = Infinity, nextLimit } = {}) {
  let url = path;
  let seen = 0;
  while (url && seen < max) {
    const page = await getJSON(url, { signal });
    seen += page.features.length;
    yield page;
    const next = (page.links || []).find((l) => l.rel === 'next');
    url = next ? next.href : null;
    if (url && nextLimit) {
      const u = new URL(url);
      u.searchParams.set('limit', String(Math.min(nextLimit, max - seen)));
      url = u.href;
    }
  }
}

// allowedMethods asks OPTIONS which methods this token may use on path.
export async function allowedMethods(path) {
  const res = await request(path, { method: 'OPTIONS' });
  return (res.headers.get('Allow') || '').split(',').map((m) => m.trim().toUpperCase()).filter(Boolean);
}

// stream reads a Server-Sent Events response with fetch, so the token
// travels in a header (EventSource cannot set one), and calls onEvent with
// each event's name, data and id until the stream ends or signal aborts.
// lastEventID resumes after that event, as EventSource would.
export async function stream(path, onEvent, { signal, lastEventID } = {}) {
  const headers = { Accept: 'text/event-stream' };
  if (lastEventID) headers['Last-Event-ID'] = lastEventID;
  const res = await request(path, { headers, signal });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let event = 'message';
      let id = null;
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        else if (line.startsWith('id:')) id = line.slice(3).trim();
      }
      if (data.length) onEvent(event, data.join('\n'), id);
    }
  }
}
