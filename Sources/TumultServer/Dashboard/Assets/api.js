// The REST API of `tumult server`, and its live stream.
// Every call goes through `request`, which adds the bearer token and, when
// the server answers 401, asks for one (once for all calls in flight).

const TOKEN_KEY = 'tumult.token';

export const token = {
  get() { try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; } },
  set(value) { try { localStorage.setItem(TOKEN_KEY, value); } catch { /* private mode */ } },
  clear() { try { localStorage.removeItem(TOKEN_KEY); } catch { /* private mode */ } },
};

/** An answer other than 2xx, with the API's error body (`errors` carry field paths). */
export class APIError extends Error {
  constructor(status, body) {
    super((body && body.message) || (typeof body === 'string' && body) || `HTTP ${status}`);
    this.status = status;
    this.body = body && typeof body === 'object' ? body : null;
    this.errors = (this.body && this.body.errors) || [];
    this.type = (this.body && this.body.type) || '';
  }
}

let askToken = null;
let pendingToken = null;
const tokenListeners = new Set();

/** `ask(message)` resolves to a token, or null when the user cancels. */
export function onTokenNeeded(ask) { askToken = ask; }
/** Called after a new token was stored (the stream reconnects with it). */
export function onTokenChanged(listener) { tokenListeners.add(listener); }

async function newToken(message) {
  if (!askToken) return null;
  if (!pendingToken) {
    pendingToken = askToken(message).finally(() => { pendingToken = null; });
  }
  const given = await pendingToken;
  if (given) {
    token.set(given);
    tokenListeners.forEach((listener) => listener(given));
  }
  return given;
}

export async function request(method, path, body, contentType) {
  for (let attempt = 0; attempt < 4; attempt += 1) {
    const headers = { Accept: 'application/json' };
    const current = token.get();
    if (current) headers.Authorization = `Bearer ${current}`;
    let payload;
    if (body !== undefined) {
      headers['Content-Type'] = contentType || 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const response = await fetch(path, { method, headers, body: payload, cache: 'no-store' });
    const text = await response.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { data = text; }
    }
    if (response.status === 401) {
      // A token given while this call was under way (another call's
      // prompt) is tried before asking again.
      const latest = token.get();
      if (latest && latest !== current) continue;
      const given = await newToken(current ? 'The token was refused. Enter the server\'s token.' : 'This server requires a bearer token.');
      if (given) continue;
    }
    if (!response.ok) throw new APIError(response.status, data);
    return data;
  }
  throw new APIError(401, { message: 'no valid token' });
}

const q = (params) => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '') search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
};

export const api = {
  experiments: (filter) => request('GET', `/api/experiments${q(filter)}`),
  experiment: (uid) => request('GET', `/api/experiments/${encodeURIComponent(uid)}`),
  experimentState: () => request('GET', '/api/experiments/state'),
  // Unknown fields are errors, as kubectl 1.27+ makes them: a mistyped
  // `jiter:` is refused, not applied without the jitter.
  create: (yaml) => request('POST', '/api/experiments?fieldValidation=Strict', yaml, 'application/yaml'),
  validate: (yaml) => request('POST', '/api/validate?fieldValidation=Strict', yaml, 'application/yaml'),
  pause: (collection, uid) => request('PUT', `/api/${collection}/pause/${encodeURIComponent(uid)}`),
  resume: (collection, uid) => request('PUT', `/api/${collection}/start/${encodeURIComponent(uid)}`),
  remove: (collection, uid) => request('DELETE', `/api/${collection}/${encodeURIComponent(uid)}`),
  schedules: (filter) => request('GET', `/api/schedules${q(filter)}`),
  schedule: (uid) => request('GET', `/api/schedules/${encodeURIComponent(uid)}`),
  workflows: (filter) => request('GET', `/api/workflows${q(filter)}`),
  workflow: (uid) => request('GET', `/api/workflows/${encodeURIComponent(uid)}`),
  // One Workflow, checked as strictly as an experiment (see `create`).
  createWorkflow: (yaml) => request('POST', '/api/workflows?fieldValidation=Strict', yaml, 'application/yaml'),
  archives: (filter) => request('GET', `/api/archives${q(filter)}`),
  archive: (uid) => request('GET', `/api/archives/${encodeURIComponent(uid)}`),
  events: (filter) => request('GET', `/api/events${q(filter)}`),
  kinds: () => request('GET', '/api/common/kinds'),
  namespaces: () => request('GET', '/api/common/namespaces'),
  pods: () => request('GET', '/api/pods'),
  machines: () => request('GET', '/api/machines'),
  halted: () => request('GET', '/api/halt'),
  halt: () => request('POST', '/api/halt'),
  unhalt: () => request('DELETE', '/api/halt'),
};

/**
 * Opens `/api/stream` and calls `onUpdate({uid, kind, status})` for each
 * change, `onHalt(bool)` for the emergency stop, `onState(bool)` when the
 * connection opens or drops. EventSource cannot send headers, so the token
 * goes in the query. Reconnects on its own, and with a new token.
 */
export function openStream({ onUpdate, onHalt, onState }) {
  let source = null;
  let timer = null;
  const connect = () => {
    clearTimeout(timer);
    if (source) source.close();
    const current = token.get();
    source = new EventSource(`/api/stream${current ? `?token=${encodeURIComponent(current)}` : ''}`);
    source.addEventListener('open', () => onState(true));
    source.addEventListener('update', (event) => onUpdate(JSON.parse(event.data)));
    source.addEventListener('halt', (event) => onHalt(JSON.parse(event.data).halted === true));
    source.addEventListener('error', () => {
      onState(false);
      // A refused or failed connection is not retried by the browser.
      if (source.readyState === EventSource.CLOSED) timer = setTimeout(connect, 3000);
    });
  };
  connect();
  onTokenChanged(connect);
  return { reconnect: connect };
}