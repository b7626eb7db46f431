// The pages. Each view renders into `root` and returns {refresh(updates)},
// which the app calls on every batch of live updates (and the page reloads
// only the data it shows), and `dispose()` when it keeps a timer of its own.

import { api, APIError } from './api.js';
import {
  h, clear, badge, chips, time, clock, ago, table, section, errorBox, confirmDialog, toast, act, option, STATUSES,
} from './ui.js';
import { toYAML } from './yaml.js';
import { WORKFLOW_DRAFT_KEY } from './editor.js';

const enc = encodeURIComponent;

/** Wraps a loader so that refreshes never overlap and a burst runs it twice at most. */
function live(load) {
  let running = null;
  let again = false;
  const run = async () => {
    if (running) { again = true; return running; }
    running = (async () => {
      try {
        do { again = false; await load(); } while (again);
      } finally { running = null; }
    })();
    return running;
  };
  return run;
}

function failure(target, error) {
  clear(target, errorBox(error));
}

function link(href, text, attrs = {}) { return h('a', { href, ...attrs }, text); }

function experimentLink(item) {
  return link(`#/experiments/${enc(item.uid)}`, item.name, { class: 'name', 'data-uid': item.uid });
}

function objectLink(event) {
  const label = `${event.kind} ${event.namespace}/${event.name}`;
  if (event.kind === 'Schedule') return link(`#/schedules/${enc(event.object_id)}`, label);
  if (event.kind === 'Workflow') return link(`#/workflows/${enc(event.object_id)}`, label);
  if (event.kind === 'Tumult') return h('span', {}, 'Tumult');
  return link(`#/experiments/${enc(event.object_id)}`, label);
}

/** The title, a status badge beside it if given, then the rest pushed to the right. */
function pageHeader(title, ...rest) {
  const badges = [];
  while (rest.length && rest[0] instanceof Element && rest[0].classList.contains('badge')) badges.push(rest.shift());
  return h('div', { class: 'page-head' }, h('h1', {}, title), badges, h('span', { class: 'spacer' }), rest);
}

/** Pause / Resume / Delete for an experiment or schedule row or page. */
function actions(collection, item, reload, { compact = false } = {}) {
  const paused = item.status === 'paused';
  const deleting = item.status === 'deleting';
  const buttons = [];
  if (!deleting && item.status !== 'finished' && item.status !== 'failed') {
    const halted = document.body.classList.contains('halted');
    buttons.push(paused
      ? h('button', {
        type: 'button', class: compact ? 'small' : '', 'data-action': 'resume', disabled: halted,
        title: halted ? 'Nothing resumes while the emergency stop is active' : undefined,
        onclick: (event) => act(event.currentTarget, () => api.resume(collection, item.uid), `Resumed ${item.name}`).then(reload),
      }, 'Resume')
      : h('button', {
        type: 'button', class: compact ? 'small' : '', 'data-action': 'pause',
        onclick: (event) => act(event.currentTarget, () => api.pause(collection, item.uid), `Paused ${item.name}`).then(reload),
      }, 'Pause'));
  }
  if (!deleting) {
    buttons.push(h('button', {
      type: 'button', class: `${compact ? 'small ' : ''}danger-outline`, 'data-action': 'delete',
      title: 'Recover its faults, then move it to the archives',
      onclick: async (event) => {
        const button = event.currentTarget;
        const sure = await confirmDialog({
          title: `Delete ${item.name}?`,
          message: 'Its faults are recovered, then it moves to the archives.',
          confirm: 'Delete and archive',
        });
        if (sure) act(button, () => api.remove(collection, item.uid), `Deleting ${item.name}`).then(reload);
      },
    }, compact ? 'Delete' : 'Delete (archive)'));
  }
  return h('span', { class: 'actions' }, buttons);
}

// MARK: Overview

export function overview(root) {
  const cards = h('div', { class: 'cards' });
  const byKind = h('div');
  const active = h('div');
  const schedules = h('div');
  const events = h('div');
  clear(root,
    pageHeader('Overview', h('a', { class: 'button primary', href: '#/new' }, 'New experiment')),
    cards,
    h('div', { class: 'columns' },
      h('div', {},
        section('Experiments by kind and phase', byKind),
        section('Active experiments', active),
        section('Schedules', schedules)),
      section('Latest events', events)));

  const load = live(async () => {
    const [state, items, scheduleItems, eventItems] = await Promise.all([
      api.experimentState(), api.experiments(), api.schedules(), api.events({ limit: 25 }),
    ]).catch((error) => { failure(cards, error); throw error; });

    clear(cards, ['Running', 'Injecting', 'Paused', 'Failed', 'Finished', 'Deleting'].map((key) => h('a', {
      class: `card s-${key.toLowerCase()}`, href: `#/experiments?status=${key.toLowerCase()}`, 'data-phase': key.toLowerCase(),
    }, h('span', { class: 'count' }, String(state[key] ?? 0)), h('span', { class: 'label' }, key))));

    const kinds = [...new Set(items.map((item) => item.kind))].sort();
    const counts = new Map();
    for (const item of items) counts.set(`${item.kind}/${item.status}`, (counts.get(`${item.kind}/${item.status}`) || 0) + 1);
    clear(byKind, table(
      [{ title: 'Kind', render: (kind) => link(`#/experiments?kind=${enc(kind)}`, kind) }].concat(STATUSES.map((status) => ({
        title: status,
        class: 'num',
        render: (kind) => {
          const count = counts.get(`${kind}/${status}`) || 0;
          return count ? link(`#/experiments?kind=${enc(kind)}&status=${status}`, String(count), { class: `count-link s-${status}` })
            : h('span', { class: 'muted' }, '0');
        },
      }))),
      kinds, { empty: 'No experiments yet. Create one from “New experiment”.' }));

    const running = items.filter((item) => ['running', 'injecting', 'paused'].includes(item.status))
      .sort((a, b) => b.created_at.localeCompare(a.created_at));
    clear(active, table([
      { title: 'Name', render: experimentLink },
      { title: 'Namespace', render: (item) => item.namespace },
      { title: 'Kind', render: (item) => item.kind },
      { title: 'Action', render: (item) => item.action || '—' },
      { title: 'Status', render: (item) => badge(item.status) },
      { title: 'Created', render: (item) => time(item.created_at) },
    ], running.slice(0, 12), { empty: 'Nothing is running.', rowAttrs: (item) => ({ 'data-uid': item.uid }) }));

    clear(schedules, table([
      { title: 'Name', render: (item) => link(`#/schedules/${enc(item.uid)}`, item.name) },
      { title: 'Namespace', render: (item) => item.namespace },
      { title: 'Type', render: (item) => item.type },
      { title: 'Schedule', render: (item) => h('code', {}, item.schedule) },
      { title: 'Status', render: (item) => badge(item.status) },
    ], scheduleItems, { empty: 'No schedules.' }));

    clear(events, timeline(eventItems));
  });
  load().catch(() => {});
  return { refresh: load };
}

function timeline(items) {
  if (!items.length) return h('p', { class: 'empty muted' }, 'No events yet.');
  return h('ol', { class: 'timeline' }, items.map((event) => h('li', { class: `t-${event.type.toLowerCase()}` },
    h('div', { class: 'when' }, h('time', { datetime: event.created_at, title: new Date(event.created_at).toLocaleString() }, clock(event.created_at))),
    h('div', { class: 'what' },
      h('div', {}, h('strong', {}, event.reason), ' · ', objectLink(event)),
      h('div', { class: 'muted message' }, event.message)))));
}

// MARK: Experiments

export function experiments(root, context) {
  const query = context.query;
  const filter = {
    namespace: query.get('namespace') || '', kind: query.get('kind') || '', status: query.get('status') || '', search: query.get('q') || '',
  };
  const namespaceSelect = h('select', { id: 'filter-namespace', 'aria-label': 'Namespace' }, option('', 'All namespaces'));
  const kindSelect = h('select', { id: 'filter-kind', 'aria-label': 'Kind' }, option('', 'All kinds'));
  const statusSelect = h('select', { id: 'filter-status', 'aria-label': 'Phase' }, option('', 'All phases'),
    STATUSES.map((status) => option(status, status, filter.status)));
  const search = h('input', { id: 'filter-name', type: 'search', placeholder: 'Name contains…', value: filter.search, 'aria-label': 'Name' });
  const list = h('div', { id: 'experiment-list' });
  const counter = h('span', { class: 'muted' });

  const applyFilter = () => {
    filter.namespace = namespaceSelect.value;
    filter.kind = kindSelect.value;
    filter.status = statusSelect.value;
    filter.search = search.value.trim();
    const params = new URLSearchParams();
    if (filter.namespace) params.set('namespace', filter.namespace);
    if (filter.kind) params.set('kind', filter.kind);
    if (filter.status) params.set('status', filter.status);
    if (filter.search) params.set('q', filter.search);
    const text = params.toString();
    history.replaceState(null, '', `#/experiments${text ? `?${text}` : ''}`);
    load();
  };
  for (const control of [namespaceSelect, kindSelect, statusSelect]) control.addEventListener('change', applyFilter);
  search.addEventListener('input', applyFilter);

  clear(root,
    pageHeader('Experiments', counter, h('a', { class: 'button primary', href: '#/new' }, 'New experiment')),
    h('div', { class: 'filters' }, namespaceSelect, kindSelect, statusSelect, search),
    list);

  Promise.all([api.namespaces(), api.kinds()]).then(([namespaces, kinds]) => {
    const known = new Set(namespaces);
    if (filter.namespace) known.add(filter.namespace);
    namespaceSelect.append(...[...known].sort().map((name) => option(name, name, filter.namespace)));
    kindSelect.append(...kinds.filter((kind) => kind !== 'Schedule').map((kind) => option(kind, kind, filter.kind)));
  }).catch(() => {});

  const load = live(async () => {
    let items;
    try {
      items = await api.experiments({ namespace: filter.namespace, kind: filter.kind, status: filter.status });
    } catch (error) { failure(list, error); return; }
    const needle = filter.search.toLowerCase();
    if (needle) items = items.filter((item) => item.name.toLowerCase().includes(needle));
    items.sort((a, b) => b.created_at.localeCompare(a.created_at));
    counter.textContent = `${items.length} shown`;
    clear(list, table([
      { title: 'Name', render: experimentLink },
      { title: 'Namespace', render: (item) => item.namespace },
      { title: 'Kind', render: (item) => item.kind },
      { title: 'Action', render: (item) => item.action || '—' },
      { title: 'Status', class: 'status', render: (item) => badge(item.status) },
      { title: 'Created', render: (item) => time(item.created_at) },
      { title: '', class: 'right', render: (item) => actions('experiments', item, load, { compact: true }) },
    ], items, {
      empty: filter.namespace || filter.kind || filter.status || needle ? 'No experiment matches these filters.' : 'No experiments yet.',
      rowAttrs: (item) => ({ 'data-uid': item.uid, 'data-name': item.name, 'data-status': item.status }),
    }));
  });
  load();
  return { refresh: load };
}

function specYAML(object) {
  if (!object || typeof object !== 'object') return '';
  const { status, ...rest } = object;
  return toYAML(rest);
}

function yamlBlock(text, id) {
  const pre = h('pre', { class: 'yaml', id }, text);
  const copy = h('button', {
    type: 'button', class: 'small copy',
    onclick: () => navigator.clipboard?.writeText(text).then(() => toast('Copied', 'ok'), () => toast('Copy refused by the browser', 'error')),
  }, 'Copy');
  return h('div', { class: 'yaml-wrap' }, copy, pre);
}

/** Opens a copy of `object` (status and identity left out) in the editor at `hash`, through its draft `key`. */
function duplicateButton(object, { key = 'tumult.draft', hash = '#/new' } = {}) {
  return h('button', {
    type: 'button', 'data-action': 'duplicate',
    onclick: () => {
      const copy = JSON.parse(JSON.stringify(object || {}));
      delete copy.status;
      if (copy.metadata) {
        for (const key of ['uid', 'creationTimestamp', 'resourceVersion', 'generation']) delete copy.metadata[key];
        if (copy.metadata.annotations) delete copy.metadata.annotations['experiment.chaos-mesh.org/pause'];
        if (copy.metadata.annotations && !Object.keys(copy.metadata.annotations).length) delete copy.metadata.annotations;
      }
      sessionStorage.setItem(key, toYAML(copy));
      location.hash = hash;
    },
  }, 'Edit as new');
}

function recordsTable(records) {
  return table([
    { title: 'Target', render: (record) => h('code', {}, record.id) },
    { title: 'Host', render: (record) => (record.nodeName ? h('code', {}, record.nodeName) : h('span', { class: 'muted' }, '—')) },
    { title: 'Phase', render: (record) => h('span', { class: `phase ${record.phase === 'Injected' ? 'on' : 'off'}` }, record.phase) },
    { title: 'Injected', class: 'num', render: (record) => String(record.injectedCount ?? 0) },
    { title: 'Recovered', class: 'num', render: (record) => String(record.recoveredCount ?? 0) },
    {
      title: 'Last event',
      render: (record) => {
        const last = (record.events || [])[record.events.length - 1];
        if (!last) return h('span', { class: 'muted' }, '—');
        return h('span', { class: last.type === 'Failed' ? 'bad' : '' },
          `${last.operation} ${last.type.toLowerCase()}`, last.message ? ` — ${last.message}` : '', ' · ', time(last.timestamp));
      },
    },
  ], records, { empty: 'No target chosen yet.' });
}

function conditionsRow(conditions) {
  if (!conditions || !conditions.length) return null;
  return h('div', { class: 'conditions' }, conditions.map((condition) => h('span', {
    class: `condition ${condition.status === 'True' ? 'true' : 'false'}`,
    title: condition.message || condition.reason || '',
  }, condition.type)));
}

function eventsTable(items) {
  return table([
    { title: 'Time', render: (event) => h('time', { datetime: event.created_at, title: new Date(event.created_at).toLocaleString() }, clock(event.created_at)) },
    { title: 'Type', render: (event) => h('span', { class: `etype ${event.type.toLowerCase()}` }, event.type) },
    { title: 'Reason', render: (event) => event.reason },
    { title: 'Message', render: (event) => event.message },
  ], items, { empty: 'No events.' });
}

function summary(pairs) {
  return h('dl', { class: 'summary' }, pairs.filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([term, value]) => h('div', {}, h('dt', {}, term), h('dd', {}, value))));
}

/** A toxic's attributes in the order `Toxic.summary` prints them (the API's JSON sorts keys). */
const TOXIC_ATTRIBUTES = ['latency', 'jitter', 'rate', 'delay', 'timeout', 'average_size', 'size_variation', 'bytes'];
const attributeRank = (name) => (TOXIC_ATTRIBUTES.includes(name) ? TOXIC_ATTRIBUTES.indexOf(name) : TOXIC_ATTRIBUTES.length);

/** TCPChaos: its toxics, as Toxiproxy lists them. */
function toxicsTable(toxics) {
  return table([
    { title: 'Name', render: (toxic) => toxic.name || `${toxic.type}_${toxic.stream || 'downstream'}` },
    { title: 'Type', render: (toxic) => toxic.type },
    { title: 'Stream', render: (toxic) => toxic.stream || 'downstream' },
    { title: 'Toxicity', render: (toxic) => String(toxic.toxicity === undefined ? 1 : toxic.toxicity) },
    {
      title: 'Attributes',
      render: (toxic) => Object.entries(toxic.attributes || {}).sort(([a], [b]) => attributeRank(a) - attributeRank(b))
        .map(([key, value]) => `${key}=${value}`).join(' ') || '—',
    },
  ], toxics, { empty: 'No toxics: connections pass through unchanged.', rowAttrs: () => ({ class: 'toxic' }) });
}

function selectorText(selector) {
  if (!selector) return '—';
  if (selector.pods) return Object.entries(selector.pods).map(([ns, names]) => `${ns}/${names.join(',')}`).join(' ');
  const parts = [];
  if (selector.namespaces) parts.push(`ns ${selector.namespaces.join(',')}`);
  if (selector.labelSelectors) parts.push(Object.entries(selector.labelSelectors).map(([k, v]) => `${k}=${v}`).join(','));
  if (selector.expressionSelectors) parts.push(`${selector.expressionSelectors.length} expressions`);
  if (selector.nodes) parts.push(`nodes ${selector.nodes.join(',')}`);
  return parts.join(' · ') || 'all pods of its namespace';
}

export function experiment(root, context) {
  const uid = context.params[0];
  const head = h('div');
  const body = h('div');
  clear(root, head, body);
  let gone = false;

  const load = live(async () => {
    if (gone) return;
    let detail;
    let events;
    try {
      [detail, events] = await Promise.all([api.experiment(uid), api.events({ object_id: uid, limit: 100 })]);
    } catch (error) {
      if (error instanceof APIError && error.status === 404) {
        gone = true;
        return showArchived(uid, head, body);
      }
      failure(body, error);
      return;
    }
    const object = detail.kube_object || {};
    const spec = object.spec || {};
    const status = (object.status && object.status.experiment) || {};
    clear(head, pageHeader(detail.name, badge(detail.status)),
      h('div', { class: 'subtitle' }, `${detail.kind} · ${detail.namespace}${detail.action ? ` · ${detail.action}` : ''} · `, h('code', {}, detail.uid)),
      h('div', { class: 'toolbar' }, actions('experiments', detail, load), duplicateButton(object)));
    head.querySelector('.badge').id = 'experiment-status';
    clear(body,
      detail.failure ? h('div', { class: 'error-box', role: 'alert' }, detail.failure) : null,
      summary([
        ['Desired phase', status.desiredPhase],
        ['Created', time(detail.created_at)],
        ['Duration', spec.duration || 'until deleted or paused'],
        ['Mode', spec.mode ? `${spec.mode}${spec.value ? ` (${spec.value})` : ''}` : undefined],
        ['Selector', selectorText(spec.selector)],
        ['Port', detail.kind === 'TCPChaos' ? String(spec.port) : undefined],
        ['Connections', detail.kind === 'TCPChaos' ? spec.connections || 'both' : undefined],
        ['Schedule', detail.schedule_uid ? link(`#/schedules/${enc(detail.schedule_uid)}`, 'its schedule') : undefined],
      ]),
      conditionsRow(object.status && object.status.conditions),
      detail.kind === 'TCPChaos' ? section('Toxics', toxicsTable(spec.toxics || [])) : null,
      section('Targets', recordsTable(status.containerRecords || [])),
      h('div', { class: 'columns' },
        section('Spec', yamlBlock(specYAML(object), 'spec-yaml')),
        section('Events', eventsTable(events))));
  });
  load();
  return {
    refresh(updates) {
      // [] is a plain refresh (the halt changed, or the periodic one).
      if (!updates.length || updates.some((update) => update.uid === uid)) load();
    },
  };
}

async function showArchived(uid, head, body) {
  try {
    const archive = await api.archive(uid);
    clear(head, pageHeader(archive.name, h('span', { class: 'badge s-archived', id: 'experiment-status', 'data-status': 'archived' }, 'archived')),
      h('div', { class: 'subtitle' }, `${archive.kind} · ${archive.namespace} · deleted and archived`));
    clear(body, h('p', {}, 'This experiment was deleted; its record is in the ', link(`#/archives/${enc(uid)}`, 'archives'), '.'));
  } catch {
    clear(head, pageHeader('Not found'));
    clear(body, h('p', {}, `No experiment or archive with uid ${uid}.`), link('#/experiments', 'All experiments'));
  }
}

// MARK: Schedules

export function schedules(root) {
  const list = h('div');
  clear(root, pageHeader('Schedules', h('a', { class: 'button primary', href: '#/new' }, 'New schedule')), list);
  const load = live(async () => {
    let items;
    try { items = await api.schedules(); } catch (error) { failure(list, error); return; }
    clear(list, table([
      { title: 'Name', render: (item) => link(`#/schedules/${enc(item.uid)}`, item.name) },
      { title: 'Namespace', render: (item) => item.namespace },
      { title: 'Type', render: (item) => item.type },
      { title: 'Schedule', render: (item) => h('code', {}, item.schedule) },
      { title: 'Status', render: (item) => badge(item.status) },
      { title: 'Created', render: (item) => time(item.created_at) },
      { title: '', class: 'right', render: (item) => actions('schedules', item, load, { compact: true }) },
    ], items, { empty: 'No schedules. A Schedule document (kind: Schedule) creates one.', rowAttrs: (item) => ({ 'data-uid': item.uid }) }));
  });
  load();
  return { refresh: load };
}

export function schedule(root, context) {
  const uid = context.params[0];
  const head = h('div');
  const body = h('div');
  clear(root, head, body);
  const load = live(async () => {
    let detail;
    let runs;
    let events;
    try {
      [detail, runs, events] = await Promise.all([api.schedule(uid), api.experiments(), api.events({ object_id: uid, limit: 50 })]);
    } catch (error) {
      if (error instanceof APIError && error.status === 404) {
        clear(head, pageHeader('Schedule not found'));
        clear(body, h('p', {}, 'It was deleted. '), link(`#/archives?kind=Schedule`, 'Archived schedules'));
        return;
      }
      failure(body, error);
      return;
    }
    const mine = new Set(detail.experiment_uids || []);
    clear(head, pageHeader(detail.name, badge(detail.status)),
      h('div', { class: 'subtitle' }, `Schedule of ${detail.type} · ${detail.namespace} · `, h('code', {}, detail.schedule)),
      h('div', { class: 'toolbar' }, actions('schedules', detail, load), duplicateButton(detail.kube_object)));
    clear(body,
      summary([['Created', time(detail.created_at)], ['Last run', detail.last_schedule_time ? time(detail.last_schedule_time) : 'not yet']]),
      section('Runs', table([
        { title: 'Name', render: experimentLink },
        { title: 'Status', render: (item) => badge(item.status) },
        { title: 'Created', render: (item) => time(item.created_at) },
      ], runs.filter((item) => mine.has(item.uid)), { empty: 'No runs kept.' })),
      h('div', { class: 'columns' },
        section('Spec', yamlBlock(specYAML(detail.kube_object), 'spec-yaml')),
        section('Events', eventsTable(events))));
  });
  load();
  return { refresh: load };
}

// MARK: Workflows

/** Workflow phases after which nothing changes. */
const WORKFLOW_OVER = new Set(['Accomplished', 'Aborted', 'Failed']);

/** A workflow's or node's phase as a badge coloured like the graph's boxes. */
function phaseBadge(phase, attrs = {}) {
  const word = phase || 'Unknown';
  return h('span', { class: `badge wf-${word.toLowerCase()}`, 'data-phase': word, ...attrs }, word);
}

function deleteWorkflowButton(item, done, { compact = false } = {}) {
  return h('button', {
    type: 'button', class: `${compact ? 'small ' : ''}danger-outline`, 'data-action': 'delete',
    title: 'Stop its nodes (their faults recovered), then move it to the archives',
    onclick: async (event) => {
      const button = event.currentTarget;
      const sure = await confirmDialog({
        title: `Delete ${item.name}?`,
        message: 'Its running nodes are stopped and the faults they injected recovered, then it moves to the archives.',
        confirm: 'Delete and archive',
      });
      if (sure) act(button, () => api.remove('workflows', item.uid), `Deleting ${item.name}`).then(done);
    },
  }, compact ? 'Delete' : 'Delete (archive)');
}

export function workflows(root) {
  const list = h('div', { id: 'workflow-list' });
  const counter = h('span', { class: 'muted' });
  clear(root, pageHeader('Workflows', counter, h('a', { class: 'button primary', href: '#/workflows/new', id: 'new-workflow' }, 'New workflow')), list);
  const load = live(async () => {
    let items;
    try { items = await api.workflows(); } catch (error) { failure(list, error); return; }
    items.sort((a, b) => b.created_at.localeCompare(a.created_at));
    counter.textContent = `${items.length} workflow${items.length === 1 ? '' : 's'}`;
    clear(list, table([
      { title: 'Name', render: (item) => link(`#/workflows/${enc(item.uid)}`, item.name, { class: 'name', 'data-uid': item.uid }) },
      { title: 'Namespace', render: (item) => item.namespace },
      { title: 'Entry', render: (item) => h('code', {}, item.entry) },
      { title: 'Phase', class: 'status', render: (item) => phaseBadge(item.phase) },
      { title: 'Running / nodes', class: 'num nodes', render: (item) => h('span', { title: 'nodes running / nodes started' }, `${item.running_nodes ?? 0}/${item.nodes ?? 0}`) },
      { title: 'Age', render: (item) => time(item.created_at) },
      { title: '', class: 'right', render: (item) => (item.phase === 'Deleting' ? null : deleteWorkflowButton(item, load, { compact: true })) },
    ], items, {
      empty: 'No workflows yet. Create one from “New workflow”.',
      rowAttrs: (item) => ({ 'data-uid': item.uid, 'data-name': item.name, 'data-phase': item.phase }),
    }));
  });
  load();
  return {
    refresh(updates) {
      if (!updates.length || updates.some((update) => update.kind === 'Workflow')) load();
    },
  };
}

/**
 * A workflow's graph as plain data (pure: the page draws it, and compares
 * it with the last one drawn to redraw only on a change). Each started
 * node is `{node: template, name, type, phase, layout, children}`, its
 * children the nodes whose `parent` it is, oldest first; a Serial's
 * templates that have not started follow its started ones, and a
 * Parallel's missing ones are added, marked `pending` with phase Pending
 * (or Skipped once the node or the workflow is over: they never will).
 * Before the entry node exists, the whole plan is Pending.
 */
export function workflowTree(detail) {
  const nodes = (detail.topology && detail.topology.nodes) || [];
  const spec = (detail.kube_object && detail.kube_object.spec) || {};
  const templates = new Map((spec.templates || []).map((template) => [template.name, template]));
  const over = Boolean(detail.archived) || WORKFLOW_OVER.has(detail.phase);
  const childrenOf = new Map();
  for (const node of nodes) {
    if (!node.parent) continue;
    if (!childrenOf.has(node.parent)) childrenOf.set(node.parent, []);
    childrenOf.get(node.parent).push(node);
  }
  const layoutOf = (type, children) => {
    if (type === 'Serial') return 'serial';
    if (children.length) return 'fork';
    return '';
  };
  // Templates refer to each other without loops (the server checks); the depth is a guard all the same.
  const planned = (name, phase, depth) => {
    const template = templates.get(name);
    const type = template ? template.templateType : 'Unknown';
    const composite = template && (type === 'Serial' || type === 'Parallel') && depth < 16;
    const children = composite ? (template.children || []).map((child) => planned(child, phase, depth + 1)) : [];
    return { node: name, name: '', type, phase, pending: true, layout: layoutOf(type, children), children };
  };
  const started = (node, depth) => {
    const spawned = depth < 16 ? (childrenOf.get(node.name) || []) : [];
    const children = spawned.map((child) => started(child, depth + 1));
    const template = templates.get(node.template);
    const type = node.template_type;
    if (template && (type === 'Serial' || type === 'Parallel')) {
      const waiting = node.phase === 'Running' && !over ? 'Pending' : 'Skipped';
      const listed = template.children || [];
      let missing;
      if (type === 'Serial') {
        missing = listed.slice(spawned.length);
      } else {
        const left = spawned.map((child) => child.template);
        missing = listed.filter((name) => {
          const at = left.indexOf(name);
          if (at < 0) return true;
          left.splice(at, 1);
          return false;
        });
      }
      for (const name of missing) children.push(planned(name, waiting, depth + 1));
    }
    return { node: node.template, name: node.name, type, phase: node.phase, pending: false, layout: layoutOf(type, children), children };
  };
  const entry = nodes.find((node) => !node.parent);
  if (entry) return started(entry, 0);
  const entryName = detail.entry || spec.entry;
  return entryName ? planned(entryName, over ? 'Skipped' : 'Pending', 0) : null;
}

/** Boxes and connectors: a Serial's children in a row with arrows, a Parallel's (and a Task's branches) under a fork. */
function drawTree(item, nodesByName) {
  const node = nodesByName.get(item.name);
  const tip = node
    ? [`${node.name} (${node.type})`, `started ${new Date(node.started_at).toLocaleString()}`,
      node.deadline ? `deadline ${new Date(node.deadline).toLocaleString()}` : '',
      node.finished_at ? `finished ${new Date(node.finished_at).toLocaleString()}` : '', node.message || ''].filter(Boolean).join('\n')
    : `${item.node}: ${item.phase === 'Pending' ? 'not started yet' : 'did not run'}`;
  const box = h('div', {
    class: `wf-node p-${item.phase.toLowerCase()}${item.pending ? ' pending' : ''}`,
    'data-node': item.node, 'data-phase': item.phase, 'data-type': item.type, title: tip,
  },
  h('span', { class: 'wf-name' }, item.node),
  h('span', { class: 'wf-type' }, item.type),
  h('span', { class: 'wf-phase' }, item.phase));
  if (!item.children.length) return h('div', { class: 'wf-tree' }, box);
  const children = item.children.map((child) => drawTree(child, nodesByName));
  const group = item.layout === 'serial'
    ? h('div', { class: 'wf-serial' }, children.map((child, position) => (position
      ? [h('span', { class: 'wf-arrow', 'aria-hidden': 'true' }), child] : child)))
    : h('div', { class: 'wf-fork' }, children.map((child) => h('div', { class: 'wf-branch' }, child)));
  return h('div', { class: 'wf-tree' }, box, h('div', { class: 'wf-stem', 'aria-hidden': 'true' }), group);
}

function graphLegend() {
  return h('div', { class: 'wf-legend', 'aria-hidden': 'true' }, ['Running', 'Accomplished', 'DeadlineExceed', 'Aborted', 'Failed', 'Pending']
    .map((phase) => h('span', { class: `wf-key p-${phase.toLowerCase()}` }, phase)));
}

/** What a node left: its task's exit and output, its branches' verdicts, its failure. */
function nodeOutcome(node) {
  const parts = [];
  if (node.message) parts.push(h('div', { class: 'bad' }, node.message));
  if (node.task_result) {
    parts.push(h('div', {}, `exit ${node.task_result.exitCode}`));
    if (node.task_result.stdout) parts.push(h('pre', { class: 'wf-stdout' }, node.task_result.stdout));
  }
  for (const branch of node.conditional_branches || []) {
    parts.push(h('div', { class: 'muted' }, `→ ${branch.target}: ${branch.evaluation_result}${branch.message ? ` (${branch.message})` : ''}`));
  }
  return parts.length ? parts : h('span', { class: 'muted' }, '—');
}

function resourceLink(node) {
  if (!node.resource_uid) return h('span', { class: 'muted' }, '—');
  if (node.type === 'ScheduleNode') return link(`#/schedules/${enc(node.resource_uid)}`, 'schedule');
  if (node.type === 'ChaosNode') return link(`#/experiments/${enc(node.resource_uid)}`, 'experiment');
  return h('code', {}, node.resource_uid);
}

function clockCell(iso) {
  return iso ? h('time', { datetime: iso, title: new Date(iso).toLocaleString() }, clock(iso)) : h('span', { class: 'muted' }, '—');
}

function nodesTable(nodes) {
  return table([
    { title: 'Node', render: (node) => h('span', {}, h('strong', {}, node.template), ' ', h('code', { class: 'muted' }, node.name)) },
    { title: 'Type', render: (node) => node.template_type },
    { title: 'Phase', render: (node) => phaseBadge(node.phase) },
    { title: 'Started', render: (node) => clockCell(node.started_at) },
    { title: 'Deadline', render: (node) => clockCell(node.deadline) },
    { title: 'Finished', render: (node) => clockCell(node.finished_at) },
    { title: 'Runs', render: resourceLink },
    { title: 'Result', render: nodeOutcome },
  ], nodes, { empty: 'No node has started yet.', rowAttrs: (node) => ({ 'data-node-row': node.template, 'data-phase': node.phase }) });
}

/**
 * `#/workflows/:uid`: the workflow's phase, its graph, its nodes and its
 * events. It reloads on the live updates of the workflow and of what its
 * nodes run, and every second until it is over; each part is redrawn only
 * when what it shows changed (so a running box keeps pulsing smoothly).
 */
export function workflow(root, context) {
  const uid = context.params[0];
  const head = h('div');
  const problem = h('div');
  const graph = h('div', { class: 'wf-graph', id: 'workflow-graph', 'data-renders': '0' });
  const nodesBox = h('div', { id: 'workflow-nodes' });
  const eventsBox = h('div');
  const specBox = h('div');
  clear(root, head, problem,
    h('section', { class: 'panel' }, h('div', { class: 'editor-head' }, h('h2', {}, 'Graph'), h('span', { class: 'spacer' }), graphLegend()), graph),
    section('Nodes', nodesBox),
    h('div', { class: 'columns' }, section('Spec', specBox), section('Events', eventsBox)));

  const drawn = new Map();
  /** Runs `draw` when `value` differs from what was drawn last. */
  const redraw = (key, value, draw) => {
    const signature = JSON.stringify(value);
    if (drawn.get(key) === signature) return;
    drawn.set(key, signature);
    draw();
  };

  let over = false;
  let gone = false;
  let resources = new Set();
  const load = live(async () => {
    if (gone) return;
    let detail;
    let events;
    try {
      [detail, events] = await Promise.all([api.workflow(uid), api.events({ object_id: uid, limit: 100 })]);
    } catch (error) {
      if (error instanceof APIError && error.status === 404) {
        gone = true;
        clear(head, pageHeader('Workflow not found'));
        clear(problem, h('p', {}, `No workflow with uid ${uid}. `, link('#/workflows', 'All workflows'), ' · ', link('#/archives?kind=Workflow', 'Archived workflows')));
        graph.replaceChildren();
        return;
      }
      clear(problem, errorBox(error));
      return;
    }
    problem.replaceChildren();
    over = Boolean(detail.archived) || WORKFLOW_OVER.has(detail.phase);
    const nodes = (detail.topology && detail.topology.nodes) || [];
    resources = new Set(nodes.map((node) => node.resource_uid).filter(Boolean));
    const object = detail.kube_object || {};
    const status = object.status || {};
    document.title = `${detail.name} · Workflow · Tumult`;

    redraw('head', [detail.name, detail.phase, detail.archived, detail.entry, detail.namespace, detail.end_time, detail.nodes, detail.running_nodes,
      detail.schedule_uid, status.startTime, status.failure, status.abort, ago(new Date(detail.created_at))], () => {
      clear(head,
        pageHeader(detail.name, phaseBadge(detail.phase, { id: 'workflow-phase' }),
          detail.archived ? h('span', { class: 'badge s-archived', 'data-status': 'archived' }, 'archived') : null),
        h('div', { class: 'subtitle' }, `Workflow · ${detail.namespace} · `, h('code', {}, detail.uid)),
        h('div', { class: 'toolbar' },
          detail.archived || detail.phase === 'Deleting' ? null : deleteWorkflowButton(detail, load),
          duplicateButton(object, { key: WORKFLOW_DRAFT_KEY, hash: '#/workflows/new' })),
        status.failure ? h('div', { class: 'error-box', role: 'alert' }, status.failure) : null,
        status.abort ? h('div', { class: 'error-box', role: 'alert' }, `Aborted: ${status.abort.reason}`) : null,
        summary([
          ['Entry', detail.entry],
          ['Created', time(detail.created_at)],
          ['Started', status.startTime ? clockCell(status.startTime) : 'not yet'],
          ['Ended', detail.end_time ? clockCell(detail.end_time) : undefined],
          ['Nodes', detail.nodes === undefined ? undefined : `${detail.running_nodes ?? 0} running of ${detail.nodes} started`],
          ['Schedule', detail.schedule_uid ? link(`#/schedules/${enc(detail.schedule_uid)}`, 'its schedule') : undefined],
        ]));
    });

    const tree = workflowTree(detail);
    redraw('graph', tree, () => {
      const byName = new Map(nodes.map((node) => [node.name, node]));
      if (tree) clear(graph, drawTree(tree, byName));
      else clear(graph, h('p', { class: 'empty muted' }, 'This workflow has no entry template.'));
      graph.dataset.renders = String(Number(graph.dataset.renders) + 1);
    });
    redraw('nodes', nodes, () => clear(nodesBox, nodesTable(nodes)));
    redraw('spec', specYAML(object), () => clear(specBox, yamlBlock(specYAML(object), 'spec-yaml')));
    redraw('events', events, () => clear(eventsBox, eventsTable(events)));
  });
  load();
  // The stream says when the workflow or its experiments change; this also
  // catches a deadline passing between two of them.
  const timer = setInterval(() => {
    if (!over && !gone && document.visibilityState === 'visible') load();
  }, 1000);
  return {
    refresh(updates) {
      if (!updates.length || updates.some((update) => update.uid === uid || resources.has(update.uid))) load();
    },
    dispose() { clearInterval(timer); },
  };
}

// MARK: Archives

export function archives(root, context) {
  const kind = context.query.get('kind') || '';
  const list = h('div');
  clear(root, pageHeader('Archives', h('span', { class: 'muted' }, 'Deleted experiments and schedules')), list);
  const load = live(async () => {
    let items;
    try { items = await api.archives({ kind }); } catch (error) { failure(list, error); return; }
    items.sort((a, b) => b.finish_time.localeCompare(a.finish_time));
    clear(list, table([
      { title: 'Name', render: (item) => link(item.kind === 'Workflow' ? `#/workflows/${enc(item.uid)}` : `#/archives/${enc(item.uid)}`, item.name) },
      { title: 'Namespace', render: (item) => item.namespace },
      { title: 'Kind', render: (item) => item.kind },
      { title: 'Action', render: (item) => item.action || '—' },
      { title: 'Started', render: (item) => time(item.start_time) },
      { title: 'Finished', render: (item) => time(item.finish_time) },
    ], items, { empty: 'Nothing archived yet. Deleting an experiment archives it.' }));
  });
  load();
  return { refresh: load };
}

export function archive(root, context) {
  const uid = context.params[0];
  clear(root, h('p', { class: 'muted' }, 'Loading…'));
  api.archive(uid).then((detail) => {
    const object = detail.kube_object || {};
    const records = (object.status && object.status.experiment && object.status.experiment.containerRecords) || [];
    clear(root, pageHeader(detail.name, h('span', { class: 'badge s-archived' }, 'archived')),
      h('div', { class: 'subtitle' }, `${detail.kind} · ${detail.namespace}${detail.action ? ` · ${detail.action}` : ''} · `, h('code', {}, detail.uid)),
      h('div', { class: 'toolbar' }, duplicateButton(object)),
      summary([['Started', time(detail.start_time)], ['Finished', time(detail.finish_time)]]),
      records.length ? section('Targets', recordsTable(records)) : null,
      section('Spec', yamlBlock(specYAML(object), 'spec-yaml')));
  }, (error) => failure(root, error));
  return {};
}

// MARK: Events

export function events(root, context) {
  const query = context.query;
  const namespace = h('input', { type: 'search', placeholder: 'Namespace', value: query.get('namespace') || '', 'aria-label': 'Namespace' });
  const name = h('input', { type: 'search', placeholder: 'Object name', value: query.get('name') || '', 'aria-label': 'Object name' });
  const kind = h('select', { 'aria-label': 'Kind' }, option('', 'All kinds'));
  const type = h('select', { 'aria-label': 'Type' }, option('', 'All types'), option('Normal'), option('Warning'));
  const limit = h('select', { 'aria-label': 'How many' }, [50, 200, 1000].map((count) => option(String(count), `last ${count}`, '200')));
  const list = h('div');
  clear(root, pageHeader('Events'), h('div', { class: 'filters' }, namespace, name, kind, type, limit), list);
  api.kinds().then((kinds) => kind.append(...kinds.concat(['Tumult']).map((item) => option(item)))).catch(() => {});
  const load = live(async () => {
    let items;
    try {
      items = await api.events({ namespace: namespace.value.trim(), name: name.value.trim(), kind: kind.value, limit: limit.value });
    } catch (error) { failure(list, error); return; }
    if (type.value) items = items.filter((event) => event.type === type.value);
    clear(list, table([
      { title: 'Time', render: (event) => h('time', { datetime: event.created_at, title: new Date(event.created_at).toLocaleString() }, new Date(event.created_at).toLocaleString()) },
      { title: 'Type', render: (event) => h('span', { class: `etype ${event.type.toLowerCase()}` }, event.type) },
      { title: 'Reason', render: (event) => event.reason },
      { title: 'Object', render: objectLink },
      { title: 'Message', render: (event) => event.message },
    ], items, { empty: 'No events match.' }));
  });
  for (const control of [namespace, name]) control.addEventListener('change', load);
  for (const control of [kind, type, limit]) control.addEventListener('change', load);
  load();
  return { refresh: load };
}

// MARK: Inventory

export function inventory(root) {
  const search = h('input', { type: 'search', placeholder: 'Filter: name, host, label, IP…', 'aria-label': 'Filter' });
  const machineList = h('div');
  const list = h('div');
  const counter = h('span', { class: 'muted' });
  clear(root, pageHeader('Inventory', counter),
    h('h2', {}, 'Machines'),
    h('p', { class: 'muted' }, 'The hosts this server reaches: its own, PhysicalMachine documents and joined daemons (tumult daemon --join).'),
    machineList,
    h('h2', {}, 'Pods'),
    h('p', { class: 'muted' }, 'What selectors choose from on every machine: named network namespaces (labelled by the inventory file) and containers.'),
    h('div', { class: 'filters' }, search), list);
  let pods = [];
  let machines = [];
  const renderMachines = () => {
    clear(machineList, table([
      { title: 'Machine', render: (machine) => h('strong', {}, machine.name) },
      { title: 'Address', render: (machine) => (machine.address ? h('code', {}, machine.address) : h('span', { class: 'muted' }, 'this host')) },
      { title: 'Source', render: (machine) => machine.source },
      { title: 'Status', render: (machine) => h('span', { class: `phase ${machine.reachable ? 'on' : 'off'}`, title: machine.error || '' },
        machine.reachable ? (machine.halted ? 'Halted' : 'Ready') : 'Unreachable') },
      { title: 'Faults', class: 'num', render: (machine) => (machine.activeAttacks === undefined ? '—' : String(machine.activeAttacks)) },
      { title: 'Labels', render: (machine) => chips(machine.labels) },
    ], machines, { empty: 'No machines.', rowAttrs: (machine) => ({ 'data-machine': machine.name }) }));
  };
  const render = () => {
    const needle = search.value.trim().toLowerCase();
    const shown = needle ? pods.filter((pod) => JSON.stringify([pod.name, pod.namespace, pod.nodeName, pod.netns, pod.ips, pod.labels]).toLowerCase().includes(needle)) : pods;
    counter.textContent = `${machines.length} machine${machines.length === 1 ? '' : 's'} · ${shown.length} of ${pods.length} pods`;
    clear(list, table([
      { title: 'Name', render: (pod) => h('strong', {}, pod.name) },
      { title: 'Namespace', render: (pod) => pod.namespace },
      { title: 'Host', render: (pod) => h('code', {}, pod.nodeName) },
      { title: 'Netns', render: (pod) => (pod.netns ? h('code', {}, pod.netns) : h('span', { class: 'muted' }, '—')) },
      { title: 'IPs', render: (pod) => (pod.ips && pod.ips.length ? h('code', {}, pod.ips.join(', ')) : h('span', { class: 'muted' }, '—')) },
      { title: 'Labels', render: (pod) => chips(pod.labels) },
      { title: 'Phase', render: (pod) => h('span', { class: `phase ${pod.phase === 'Running' ? 'on' : 'off'}` }, pod.phase) },
      { title: 'Source', render: (pod) => `${pod.source}${pod.pid ? ` · pid ${pod.pid}` : ''}` },
    ], shown, { empty: pods.length ? 'No pod matches.' : 'No pods: create a named network namespace (ip netns add NAME) or start a container.', rowAttrs: (pod) => ({ 'data-pod': `${pod.namespace}/${pod.name}` }) }));
  };
  search.addEventListener('input', render);
  const load = live(async () => {
    try { [pods, machines] = await Promise.all([api.pods(), api.machines()]); } catch (error) { failure(list, error); return; }
    pods.sort((a, b) => `${a.namespace}/${a.name}/${a.nodeName}`.localeCompare(`${b.namespace}/${b.name}/${b.nodeName}`));
    renderMachines();
    render();
  });
  load();
  return {};
}