// The dashboard's shell: hash routes, the emergency stop in the header,
// the halted banner, and live updates from `/api/stream` handed to the
// page on screen.

import { api, openStream, onTokenNeeded } from './api.js';
import { h, clear, confirmDialog, tokenDialog, toast, parseHash } from './ui.js';
import * as views from './views.js';
import { newExperiment, newWorkflow } from './editor.js';

const routes = [
  { pattern: /^\/$/, nav: 'overview', title: 'Overview', view: views.overview },
  { pattern: /^\/experiments$/, nav: 'experiments', title: 'Experiments', view: views.experiments },
  { pattern: /^\/experiments\/([^/]+)$/, nav: 'experiments', title: 'Experiment', view: views.experiment },
  { pattern: /^\/new$/, nav: 'new', title: 'New experiment', view: newExperiment },
  { pattern: /^\/schedules$/, nav: 'schedules', title: 'Schedules', view: views.schedules },
  { pattern: /^\/schedules\/([^/]+)$/, nav: 'schedules', title: 'Schedule', view: views.schedule },
  { pattern: /^\/workflows$/, nav: 'workflows', title: 'Workflows', view: views.workflows },
  { pattern: /^\/workflows\/new$/, nav: 'workflows', title: 'New workflow', view: newWorkflow },
  { pattern: /^\/workflows\/([^/]+)$/, nav: 'workflows', title: 'Workflow', view: views.workflow },
  { pattern: /^\/archives$/, nav: 'archives', title: 'Archives', view: views.archives },
  { pattern: /^\/archives\/([^/]+)$/, nav: 'archives', title: 'Archive', view: views.archive },
  { pattern: /^\/events$/, nav: 'events', title: 'Events', view: views.events },
  { pattern: /^\/inventory$/, nav: 'inventory', title: 'Inventory', view: views.inventory },
];

const state = { view: null, halted: false, live: false };
const root = document.getElementById('view');

function render() {
  const { path, query } = parseHash();
  const route = routes.find((item) => item.pattern.test(path));
  for (const link of document.querySelectorAll('#nav a')) {
    link.classList.toggle('active', Boolean(route) && link.dataset.nav === route.nav);
  }
  if (state.view && state.view.dispose) state.view.dispose();
  state.view = null;
  if (!route) {
    document.title = 'Not found · Tumult';
    clear(root, h('h1', {}, 'Not found'), h('p', {}, 'No page at ', h('code', {}, location.hash), '. ', h('a', { href: '#/' }, 'Overview')));
    return;
  }
  const params = route.pattern.exec(path).slice(1).map(decodeURIComponent);
  document.title = `${route.title} · Tumult`;
  root.dataset.page = route.nav;
  clear(root);
  try {
    state.view = route.view(root, { params, query }) || {};
  } catch (error) {
    clear(root, h('div', { class: 'error-box' }, String(error)));
  }
}

// MARK: Live updates

let pending = [];
let flushTimer = null;
/** Coalesces a burst of updates (a reconcile pass flushes many) into one refresh. */
function onUpdate(update) {
  pending.push(update);
  if (!flushTimer) flushTimer = setTimeout(flushUpdates, 40);
}

function flushUpdates() {
  flushTimer = null;
  const batch = pending;
  pending = [];
  if (state.view && state.view.refresh) state.view.refresh(batch);
}

function setLive(connected) {
  state.live = connected;
  const badge = document.getElementById('live');
  badge.classList.toggle('on', connected);
  badge.textContent = connected ? 'live' : 'offline';
  badge.title = connected ? 'Live updates: connected' : 'Live updates: reconnecting (pages refresh every 5 s meanwhile)';
}

// Without the stream, pages still refresh, only slower.
setInterval(() => {
  if (!state.live && document.visibilityState === 'visible' && state.view && state.view.refresh) state.view.refresh([]);
}, 5000);
// Relative times ("2m ago") stay right.
setInterval(() => {
  if (document.visibilityState === 'visible' && state.view && state.view.refresh) state.view.refresh([]);
}, 30000);

// MARK: Emergency stop

function setHalted(halted) {
  const changed = halted !== state.halted;
  state.halted = halted;
  document.getElementById('halt-banner').hidden = !halted;
  document.body.classList.toggle('halted', halted);
  const button = document.getElementById('emergency-stop');
  button.textContent = halted ? 'Halted' : 'Emergency stop';
  button.title = halted ? 'The emergency stop is active' : 'Recover every fault now and refuse new experiments';
  if (changed && state.view && state.view.refresh) state.view.refresh([]);
}

document.getElementById('emergency-stop').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  const sure = await confirmDialog({
    title: 'Emergency stop?',
    message: 'Every injected fault is recovered now, every experiment and schedule is paused, and new experiments are refused until you unhalt.',
    confirm: 'Stop everything',
  });
  if (!sure) return;
  button.disabled = true;
  try {
    const result = await api.halt();
    setHalted(true);
    toast(`Emergency stop: ${result.recovered} fault${result.recovered === 1 ? '' : 's'} recovered in ${Math.round(result.elapsed_ms)} ms`, 'ok');
  } catch (error) {
    toast(`Emergency stop failed: ${error.message}`, 'error');
  } finally {
    button.disabled = false;
  }
});

document.getElementById('unhalt').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await api.unhalt();
    setHalted(false);
    toast('Emergency stop lifted. Experiments stay paused until resumed.', 'ok');
  } catch (error) {
    toast(`Unhalt failed: ${error.message}`, 'error');
  } finally {
    button.disabled = false;
  }
});

// MARK: Start

onTokenNeeded(tokenDialog);
window.addEventListener('hashchange', render);
render();
api.halted().then((answer) => setHalted(answer.halted === true)).catch(() => {});
openStream({ onUpdate, onHalt: setHalted, onState: setLive });