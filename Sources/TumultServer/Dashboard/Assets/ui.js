// Small DOM helpers shared by the pages: element building, formatting,
// tables, dialogs and toasts. Text is always set as text (never as HTML),
// so names and messages from documents cannot inject markup.

/** h('a', {href, class, onclick, dataset-like 'data-x'}, ...children) */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2), value);
    else if (key === 'class') element.className = value;
    else if (key === 'value') element.value = value;
    else if (key === 'checked' || key === 'selected' || key === 'disabled') element[key] = Boolean(value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export const STATUSES = ['injecting', 'running', 'paused', 'finished', 'failed', 'deleting'];

export function badge(status) {
  return h('span', { class: `badge s-${status || 'unknown'}`, 'data-status': status || '' }, status || 'unknown');
}

export function chips(map) {
  const entries = Object.entries(map || {});
  if (!entries.length) return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'chips' }, entries.map(([key, value]) => h('span', { class: 'chip' }, `${key}=${value}`)));
}

export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const date = new Date(iso);
  return h('time', { datetime: iso, title: date.toLocaleString() }, ago(date));
}

export function ago(date) {
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return date.toLocaleDateString();
}

export function clock(iso) {
  const date = new Date(iso);
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
}

/** columns: [{title, render(row) -> node|string, class}] */
export function table(columns, rows, { empty = 'Nothing here.', rowAttrs } = {}) {
  if (!rows.length) return h('p', { class: 'empty muted' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('thead', {}, h('tr', {}, columns.map((column) => h('th', { class: column.class }, column.title)))),
      h('tbody', {}, rows.map((row) => h('tr', rowAttrs ? rowAttrs(row) : {},
        columns.map((column) => h('td', { class: column.class }, column.render(row))))))));
}

export function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

export function errorBox(error) {
  const lines = [error.message || String(error)];
  for (const problem of error.errors || []) lines.push(`${problem.path}: ${problem.message}`);
  return h('div', { class: 'error-box', role: 'alert' }, lines.map((line) => h('div', {}, line)));
}

/** A confirmation in a modal dialog; resolves to true when confirmed. */
export function confirmDialog({ title, message, confirm = 'OK', danger = true }) {
  const dialog = document.getElementById('confirm-dialog');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-message').textContent = message;
  const ok = document.getElementById('confirm-ok');
  ok.textContent = confirm;
  ok.className = danger ? 'danger' : 'primary';
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

/** Asks for the API token; resolves to it, or null. */
export function tokenDialog(message) {
  const dialog = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  document.getElementById('token-message').textContent = message;
  input.value = '';
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok' && input.value ? input.value : null), { once: true });
    dialog.showModal();
    input.focus();
  });
}

export function toast(message, kind = 'info') {
  const box = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  document.getElementById('toasts').append(box);
  setTimeout(() => box.remove(), kind === 'error' ? 8000 : 4000);
}

/** Runs an action from a button: disables it meanwhile, reports failures. */
export async function act(button, action, done) {
  button.disabled = true;
  try {
    const result = await action();
    if (done) toast(done, 'ok');
    return result;
  } catch (error) {
    toast(error.message || String(error), 'error');
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export function option(value, label, selected) {
  return h('option', { value, selected: selected === value }, label ?? value);
}

/** #/experiments?kind=X -> {path: '/experiments', query: URLSearchParams} */
export function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, search] = raw.split('?');
  return { path: path || '/', query: new URLSearchParams(search || '') };
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}