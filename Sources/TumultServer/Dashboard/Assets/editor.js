// New experiment: forms for the common faults write YAML into an editor
// that the server validates as you type (`POST /api/validate`, nothing
// applied); each problem shows on its line and beside its form field.
// Unknown fields (a mistyped `jiter:`) are errors here and at Create, which
// both ask for `fieldValidation=Strict` (see api.js), as kubectl does.
// New workflow: the same editor, started from an example Workflow, checked
// when Create posts it to `/api/workflows`.

import { api, APIError } from './api.js';
import { h, clear, toast, option, debounce } from './ui.js';
import { toYAML, lineIndex, locate } from './yaml.js';

const DRAFT_KEY = 'tumult.draft';
const MODES = ['all', 'one', 'fixed', 'fixed-percent', 'random-max-percent'];
const VALUE_MODES = new Set(['fixed', 'fixed-percent', 'random-max-percent']);

const text = (name, label, value, path, extra = {}) => ({ name, label, value, path, ...extra });
const choice = (name, label, value, choices, path) => ({ name, label, value, choices, path });
const compact = (object) => {
  const result = {};
  for (const [key, value] of Object.entries(object)) if (value !== '' && value !== undefined && value !== null) result[key] = value;
  return result;
};
const number = (value) => (value !== '' && /^\d+$/.test(value) ? Number(value) : value);
const list = (value) => value.split(/[\s,]+/).map((item) => item.trim()).filter(Boolean);
const direction = choice('direction', 'Direction', 'to', ['to', 'from', 'both'], 'spec.direction');
const decimal = (value) => (value !== '' && /^\d*\.?\d+$/.test(value) ? Number(value) : value);
// TCPChaos (Tumult's own kind, tumult.dev): the port, which connections, and one toxic's stream and toxicity.
const TCP_API = 'tumult.dev/v1alpha1';
const tcpFields = (attributes) => [text('port', 'Port', '6379', 'spec.port'),
  choice('connections', 'Connections', 'both', ['incoming', 'outgoing', 'both'], 'spec.connections'),
  ...attributes,
  choice('stream', 'Stream', 'downstream', ['downstream', 'upstream'], 'spec.toxics[0].stream'),
  text('toxicity', 'Toxicity (0-1)', '1', 'spec.toxics[0].toxicity')];
const tcpSpec = (v, type, attributes) => ({ port: number(v.port), connections: v.connections,
  toxics: [compact({ type, stream: v.stream, toxicity: decimal(v.toxicity), attributes })] });

/** The faults the form can write, each with its fields and its spec. */
const FAULTS = [
  {
    id: 'network-delay', label: 'Network delay', kind: 'NetworkChaos', name: 'network-delay',
    fields: [text('latency', 'Latency', '100ms', 'spec.delay.latency'), text('jitter', 'Jitter', '', 'spec.delay.jitter', { placeholder: 'e.g. 10ms' }),
      text('correlation', 'Correlation (%)', '', 'spec.delay.correlation', { placeholder: '0-100' }), direction],
    spec: (v) => ({ action: 'delay', delay: compact({ latency: v.latency, jitter: v.jitter, correlation: v.correlation }), direction: v.direction }),
  },
  {
    id: 'network-loss', label: 'Packet loss', kind: 'NetworkChaos', name: 'network-loss',
    fields: [text('loss', 'Loss (%)', '25', 'spec.loss.loss'), text('correlation', 'Correlation (%)', '', 'spec.loss.correlation', { placeholder: '0-100' }), direction],
    spec: (v) => ({ action: 'loss', loss: compact({ loss: v.loss, correlation: v.correlation }), direction: v.direction }),
  },
  {
    id: 'network-partition', label: 'Network partition', kind: 'NetworkChaos', name: 'network-partition',
    fields: [choice('direction', 'Direction', 'both', ['to', 'from', 'both'], 'spec.direction'),
      text('external', 'External targets', '', 'spec.externalTargets', { placeholder: 'IPs, CIDRs or host names' }),
      text('peerLabels', 'Peer pods (labels)', '', 'spec.target.selector.labelSelectors', { placeholder: 'e.g. app=db' })],
    spec: (v, target) => {
      const spec = { action: 'partition', direction: v.direction };
      const external = list(v.external);
      if (external.length) spec.externalTargets = external;
      if (v.peerLabels.trim()) {
        spec.target = { mode: 'all', selector: compact({ namespaces: target.namespace ? [target.namespace] : undefined, labelSelectors: labels(v.peerLabels).map }) };
      }
      return spec;
    },
  },
  {
    id: 'network-bandwidth', label: 'Bandwidth limit', kind: 'NetworkChaos', name: 'network-bandwidth',
    fields: [text('rate', 'Rate', '1mbps', 'spec.bandwidth.rate'), text('limit', 'Queue limit (bytes)', '20971520', 'spec.bandwidth.limit'),
      text('buffer', 'Burst (bytes)', '10000', 'spec.bandwidth.buffer'), direction],
    spec: (v) => ({ action: 'bandwidth', bandwidth: { rate: v.rate, limit: number(v.limit), buffer: number(v.buffer) }, direction: v.direction }),
  },
  {
    id: 'cpu-stress', label: 'CPU stress', kind: 'StressChaos', name: 'cpu-stress',
    fields: [text('workers', 'Workers', '1', 'spec.stressors.cpu.workers'), text('load', 'Load per worker (%)', '50', 'spec.stressors.cpu.load')],
    spec: (v) => ({ stressors: { cpu: compact({ workers: number(v.workers), load: number(v.load) }) } }),
  },
  {
    id: 'memory-stress', label: 'Memory stress', kind: 'StressChaos', name: 'memory-stress',
    fields: [text('workers', 'Workers', '1', 'spec.stressors.memory.workers'), text('size', 'Size', '256MB', 'spec.stressors.memory.size', { placeholder: '256MB or 25%' })],
    spec: (v) => ({ stressors: { memory: compact({ workers: number(v.workers), size: v.size }) } }),
  },
  {
    id: 'process-kill', label: 'Process kill (pod-kill)', kind: 'PodChaos', name: 'pod-kill', oneShot: true,
    fields: [text('gracePeriod', 'Grace period (s)', '0', 'spec.gracePeriod')],
    spec: (v) => ({ action: 'pod-kill', gracePeriod: number(v.gracePeriod) }),
  },
  {
    id: 'process-freeze', label: 'Process freeze (pod-failure)', kind: 'PodChaos', name: 'pod-failure',
    fields: [],
    spec: () => ({ action: 'pod-failure' }),
  },
  {
    id: 'tcp-latency', label: 'TCP latency (toxic)', kind: 'TCPChaos', apiVersion: TCP_API, name: 'tcp-latency',
    fields: tcpFields([text('latency', 'Latency (ms)', '100', 'spec.toxics[0].attributes.latency'),
      text('jitter', 'Jitter (ms)', '', 'spec.toxics[0].attributes.jitter', { placeholder: 'e.g. 10' })]),
    spec: (v) => tcpSpec(v, 'latency', compact({ latency: number(v.latency), jitter: number(v.jitter) })),
  },
  {
    id: 'tcp-bandwidth', label: 'TCP bandwidth (toxic)', kind: 'TCPChaos', apiVersion: TCP_API, name: 'tcp-bandwidth',
    fields: tcpFields([text('rate', 'Rate (KB/s)', '100', 'spec.toxics[0].attributes.rate')]),
    spec: (v) => tcpSpec(v, 'bandwidth', compact({ rate: number(v.rate) })),
  },
  {
    id: 'tcp-reset', label: 'TCP reset (toxic)', kind: 'TCPChaos', apiVersion: TCP_API, name: 'tcp-reset',
    fields: tcpFields([text('timeout', 'After (ms)', '0', 'spec.toxics[0].attributes.timeout')]),
    spec: (v) => tcpSpec(v, 'reset_peer', compact({ timeout: number(v.timeout) })),
  },
];

/** 'app=web, tier=front' -> {map: {app: 'web', tier: 'front'}, bad: [...]} */
function labels(value) {
  const map = {};
  const bad = [];
  for (const part of value.split(',').map((item) => item.trim()).filter(Boolean)) {
    const match = /^([^=\s]+)\s*=\s*(\S*)$/.exec(part);
    if (match) map[match[1]] = match[2];
    else bad.push(part);
  }
  return { map, bad };
}

function matches(pod, namespace, selector) {
  if (namespace && pod.namespace !== namespace) return false;
  return Object.entries(selector).every(([key, value]) => (pod.labels || {})[key] === value);
}

/**
 * A YAML text area with line numbers, each problem marked on its line with
 * its message inline, and listed below (`problems`) with a button to jump
 * to its line; `statusLine` says how the last check went. `render(result,
 * message)` draws a check's `{errors, warnings, documents}` (as
 * `POST /api/validate` or a 400's `errors` give them) and `message`
 * (`{kind, text}`) in the status line, and returns the problems with their
 * lines. Tab indents by two spaces.
 */
export function yamlEditor({ id, label, placeholder, statusId, problemsId, status = '' }) {
  const textarea = h('textarea', {
    id, spellcheck: 'false', wrap: 'off', autocapitalize: 'off', autocomplete: 'off', 'aria-label': label, placeholder,
  });
  const gutter = h('pre', { class: 'gutter', 'aria-hidden': 'true' });
  const backdrop = h('pre', { class: 'backdrop', 'aria-hidden': 'true' });
  const statusLine = h('div', { id: statusId, class: 'validation', role: 'status' }, status);
  const problems = h('ul', { id: problemsId, class: 'problems' });

  const syncScroll = () => {
    backdrop.scrollTop = textarea.scrollTop;
    backdrop.scrollLeft = textarea.scrollLeft;
    gutter.scrollTop = textarea.scrollTop;
  };
  textarea.addEventListener('scroll', syncScroll);
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Tab' && !event.shiftKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      textarea.setRangeText('  ', textarea.selectionStart, textarea.selectionEnd, 'end');
      textarea.dispatchEvent(new Event('input', { bubbles: true }));
    }
  });

  const jumpTo = (line) => {
    const lines = textarea.value.split('\n');
    const start = lines.slice(0, line - 1).reduce((sum, item) => sum + item.length + 1, 0);
    textarea.focus();
    textarea.setSelectionRange(start, start + (lines[line - 1] || '').length);
    const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
    textarea.scrollTop = Math.max(0, (line - 4) * lineHeight);
  };

  const setStatus = (kind, text) => {
    statusLine.className = `validation ${kind}`;
    statusLine.textContent = text;
  };

  /** Draws line numbers, marks, inline messages and the list. */
  const render = (result, message) => {
    const source = textarea.value;
    const index = lineIndex(source);
    const lines = source.split('\n');
    const byLine = new Map();
    const placed = [];
    const place = (problem, severity) => {
      const where = problem.line ? { line: problem.line, exact: true } : locate(index, problem.path, problem.document);
      const item = { ...problem, severity, line: where ? where.line : null };
      placed.push(item);
      if (item.line) {
        const list = byLine.get(item.line) || [];
        list.push(item);
        byLine.set(item.line, list);
      }
    };
    for (const problem of (result && result.errors) || []) place(problem, 'error');
    for (const problem of (result && result.warnings) || []) place(problem, 'warning');

    clear(gutter, lines.map((_, position) => {
      const marks = byLine.get(position + 1);
      const severity = marks ? (marks.some((item) => item.severity === 'error') ? 'error' : 'warning') : '';
      return h('span', { class: `ln ${severity}` }, String(position + 1), '\n');
    }));
    clear(backdrop, lines.map((line, position) => {
      const marks = byLine.get(position + 1);
      if (!marks) return h('span', { class: 'bl' }, line, '\n');
      const severity = marks.some((item) => item.severity === 'error') ? 'error' : 'warning';
      return h('span', { class: `bl ${severity}` }, h('span', { class: 'ghost' }, line),
        h('span', { class: 'inline-msg' }, `  ← ${marks.map((item) => `${item.path}: ${item.message}`).join(' · ')}`), '\n');
    }));
    syncScroll();

    clear(problems, placed.map((item) => h('li', { class: item.severity, 'data-path': item.path },
      item.line ? h('button', { type: 'button', class: 'line small', onclick: () => jumpTo(item.line) }, `line ${item.line}`) : null,
      h('code', { class: 'path' }, item.path),
      h('span', { class: 'message' }, item.message),
      item.document && result.documents && result.documents.length > 1 ? h('span', { class: 'muted' }, ` (document ${item.document})`) : null)));

    if (message !== undefined) setStatus(message.kind, message.text);
    return placed;
  };

  const element = h('div', { class: 'editor' }, gutter, h('div', { class: 'editor-body' }, backdrop, textarea));
  return { element, textarea, statusLine, problems, render, setStatus };
}

export function newExperiment(root) {
  const suffix = Math.random().toString(36).slice(2, 6);
  let fault = FAULTS[0];
  let pods = [];
  let lastGenerated = '';
  let sequence = 0;
  let lastResult = null;

  // MARK: Form
  const faultSelect = h('select', { id: 'fault', 'aria-label': 'Fault' }, FAULTS.map((item) => option(item.id, item.label, fault.id)));
  const nameInput = h('input', { id: 'exp-name', name: 'name', value: `${fault.name}-${suffix}`, 'data-path': 'metadata.name', autocomplete: 'off' });
  const namespaceSelect = h('select', { id: 'target-namespace', 'data-path': 'spec.selector.namespaces' }, option('default'));
  const labelInput = h('input', { id: 'target-labels', placeholder: 'e.g. app=web, tier=front', 'data-path': 'spec.selector.labelSelectors', autocomplete: 'off' });
  const modeSelect = h('select', { id: 'mode', 'data-path': 'spec.mode' }, MODES.map((mode) => option(mode, mode, 'all')));
  const valueInput = h('input', { id: 'mode-value', placeholder: 'N or %', 'data-path': 'spec.value', autocomplete: 'off' });
  const durationInput = h('input', { id: 'duration', value: '5m', placeholder: 'until deleted', 'data-path': 'spec.duration', autocomplete: 'off' });
  const podList = h('div', { id: 'pod-picker', class: 'pod-picker' });
  const faultFields = h('div', { id: 'fault-fields', class: 'form-grid' });
  const formHint = h('p', { class: 'hint muted', id: 'form-hint' });

  const field = (label, input, hint) => h('label', { class: 'field' }, h('span', { class: 'label' }, label), input,
    hint ? h('small', { class: 'muted' }, hint) : null, h('small', { class: 'field-error', 'data-error-for': input.dataset.path || '' }));

  const renderFaultFields = () => {
    clear(faultFields, fault.fields.map((spec) => {
      const input = spec.choices
        ? h('select', { name: spec.name, 'data-path': spec.path }, spec.choices.map((item) => option(item, item, spec.value)))
        : h('input', { name: spec.name, value: spec.value, placeholder: spec.placeholder, 'data-path': spec.path, autocomplete: 'off' });
      return field(spec.label, input);
    }));
    if (!fault.fields.length) faultFields.append(h('p', { class: 'muted' }, 'No settings: the targets\' processes are frozen for the duration.'));
    durationInput.disabled = Boolean(fault.oneShot);
    durationInput.placeholder = fault.oneShot ? 'one-shot: no duration' : 'until deleted';
  };

  const renderPods = () => {
    const selector = labels(labelInput.value);
    const checked = new Set([...podList.querySelectorAll('input:checked')].map((input) => input.value));
    const shown = pods.filter((pod) => matches(pod, namespaceSelect.value, selector.map));
    clear(podList,
      h('div', { class: 'muted' }, shown.length ? `${shown.length} pod${shown.length === 1 ? '' : 's'} match; tick some to target only those.` : 'No pod matches.'),
      shown.map((pod) => h('label', { class: 'pod' },
        h('input', { type: 'checkbox', value: `${pod.namespace}/${pod.name}`, checked: checked.has(`${pod.namespace}/${pod.name}`), 'data-pod': `${pod.namespace}/${pod.name}` }),
        h('span', { class: 'pod-name' }, pod.name), h('span', { class: 'muted' }, (pod.ips || []).join(', ')),
        Object.keys(pod.labels || {}).length ? h('span', { class: 'muted' }, Object.entries(pod.labels).map(([k, v]) => `${k}=${v}`).join(' ')) : null)));
  };

  const values = () => {
    const result = {};
    for (const input of faultFields.querySelectorAll('[name]')) result[input.name] = input.value.trim();
    return result;
  };

  const buildDocument = () => {
    const namespace = namespaceSelect.value;
    const picked = [...podList.querySelectorAll('input:checked')].map((input) => input.value);
    let selector;
    if (picked.length) {
      selector = { pods: {} };
      for (const id of picked) {
        const [ns, ...rest] = id.split('/');
        (selector.pods[ns] = selector.pods[ns] || []).push(rest.join('/'));
      }
    } else {
      selector = compact({ namespaces: namespace ? [namespace] : undefined, labelSelectors: Object.keys(labels(labelInput.value).map).length ? labels(labelInput.value).map : undefined });
    }
    const spec = fault.spec(values(), { namespace });
    const { action, ...rest } = spec;
    const ordered = compact({
      action,
      mode: modeSelect.value,
      value: VALUE_MODES.has(modeSelect.value) ? valueInput.value.trim() : undefined,
      selector,
      ...rest,
      duration: fault.oneShot ? undefined : durationInput.value.trim(),
    });
    return {
      apiVersion: fault.apiVersion || 'chaos-mesh.org/v1alpha1',
      kind: fault.kind,
      metadata: { name: nameInput.value.trim(), namespace: namespace || 'default' },
      spec: ordered,
    };
  };

  const generate = (force) => {
    const yaml = toYAML(buildDocument());
    if (!force && editor.value && editor.value !== lastGenerated) {
      formHint.textContent = 'The YAML was edited by hand: “Write YAML” replaces it with the form.';
      return;
    }
    formHint.textContent = '';
    editor.value = yaml;
    lastGenerated = yaml;
    onEdit();
  };

  const form = h('form', { class: 'fault-form', id: 'fault-form', onsubmit: (event) => { event.preventDefault(); generate(true); } },
    field('Fault', faultSelect),
    h('fieldset', {}, h('legend', {}, 'Experiment'), h('div', { class: 'form-grid' }, field('Name', nameInput), field('Duration', durationInput, 'e.g. 30s, 5m, 1h'))),
    h('fieldset', {}, h('legend', {}, 'Targets'),
      h('div', { class: 'form-grid' },
        field('Namespace', namespaceSelect),
        field('Labels', labelInput),
        field('Mode', modeSelect),
        field('Value', valueInput, 'for fixed and percent modes')),
      podList),
    h('fieldset', {}, h('legend', { id: 'fault-legend' }, fault.label), faultFields),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', id: 'generate', class: 'primary' }, 'Write YAML'), formHint));

  faultSelect.addEventListener('change', () => {
    const previous = fault;
    fault = FAULTS.find((item) => item.id === faultSelect.value) || FAULTS[0];
    if (nameInput.value === `${previous.name}-${suffix}`) nameInput.value = `${fault.name}-${suffix}`;
    form.querySelector('#fault-legend').textContent = fault.label;
    renderFaultFields();
    generate(false);
  });
  form.addEventListener('input', (event) => {
    if (event.target === labelInput || event.target === namespaceSelect) renderPods();
    if (event.target !== faultSelect) generate(false);
  });
  form.addEventListener('change', (event) => {
    if (event.target === namespaceSelect) renderPods();
    valueInput.disabled = !VALUE_MODES.has(modeSelect.value);
    if (event.target !== faultSelect) generate(false);
  });
  valueInput.disabled = true;
  renderFaultFields();

  // MARK: Editor
  const yaml = yamlEditor({
    id: 'yaml-editor', label: 'Experiment YAML', placeholder: 'Paste a Chaos Mesh document, or use the form.',
    statusId: 'validation-status', problemsId: 'problems', status: 'Empty',
  });
  const { textarea: editor, statusLine, problems } = yaml;
  const createButton = h('button', { type: 'button', id: 'create', class: 'primary', disabled: true }, 'Create');
  const clearButton = h('button', {
    type: 'button', id: 'clear-editor',
    onclick: () => { editor.value = ''; lastGenerated = ''; onEdit(); },
  }, 'Clear');

  /** Draws the problems in the editor, and beside the form's fields. */
  const renderProblems = (result, message) => {
    const placed = yaml.render(result, message);
    // Field errors only mean something while the editor holds what the form wrote.
    const fromForm = editor.value === lastGenerated;
    for (const slot of form.querySelectorAll('[data-error-for]')) {
      const path = slot.dataset.errorFor;
      const mine = path && fromForm ? placed.filter((item) => item.severity === 'error' && (item.path === path || item.path.startsWith(`${path}.`) || item.path.startsWith(`${path}[`))) : [];
      slot.textContent = mine.map((item) => item.message).join('; ');
      slot.closest('.field').classList.toggle('invalid', mine.length > 0);
    }
  };

  const validate = debounce(async () => {
    const source = editor.value;
    const mine = ++sequence;
    if (!source.trim()) {
      lastResult = null;
      createButton.disabled = true;
      renderProblems(null, { kind: '', text: 'Empty' });
      return;
    }
    try {
      const result = await api.validate(source);
      if (mine !== sequence) return;
      lastResult = result;
      createButton.disabled = !result.valid;
      const described = (result.documents || []).map((item) => `${item.kind || '?'} ${item.namespace ? `${item.namespace}/` : ''}${item.name || ''}`).join(', ');
      const warnings = result.warnings.length ? ` (${result.warnings.length} warning${result.warnings.length === 1 ? '' : 's'})` : '';
      renderProblems(result, result.valid
        ? { kind: 'ok', text: `✓ Valid: ${described}${warnings}` }
        : { kind: 'bad', text: `✗ ${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}${warnings}` });
    } catch (error) {
      if (mine !== sequence) return;
      renderProblems(null, { kind: 'bad', text: `Could not validate: ${error.message}` });
    }
  }, 250);

  function onEdit() {
    // Keep hand-written text across page changes; the form's output needs no keeping.
    try {
      if (editor.value && editor.value !== lastGenerated) sessionStorage.setItem(DRAFT_KEY, editor.value);
      else sessionStorage.removeItem(DRAFT_KEY);
    } catch { /* storage full or refused */ }
    // Keep line numbers in step while waiting for the server.
    if (lastResult) renderProblems(lastResult); else renderProblems(null);
    statusLine.className = 'validation pending';
    statusLine.textContent = 'Checking…';
    validate();
  }
  editor.addEventListener('input', () => onEdit());

  createButton.addEventListener('click', async () => {
    createButton.disabled = true;
    try {
      const result = await api.create(editor.value);
      const created = Array.isArray(result) ? result : [result];
      toast(created.map((item) => `${item.kind} ${item.namespace}/${item.name}: ${item.result}`).join('; '), 'ok');
      sessionStorage.removeItem(DRAFT_KEY);
      if (created.length === 1 && created[0].kind === 'Schedule') location.hash = `#/schedules/${encodeURIComponent(created[0].uid)}`;
      else if (created.length === 1) location.hash = `#/experiments/${encodeURIComponent(created[0].uid)}`;
      else location.hash = '#/experiments';
    } catch (error) {
      if (error instanceof APIError && error.errors.length) {
        renderProblems({ errors: error.errors.map((item) => ({ document: 1, ...item })), warnings: [] }, { kind: 'bad', text: `✗ ${error.message}` });
      } else {
        statusLine.className = 'validation bad';
        statusLine.textContent = `✗ ${error.message}`;
        toast(error.message, 'error');
      }
      createButton.disabled = false;
    }
  });

  clear(root,
    h('div', { class: 'page-head' }, h('h1', {}, 'New experiment')),
    h('p', { class: 'muted' }, 'Pick a fault and its targets, or write any Chaos Mesh document (NetworkChaos, StressChaos, PodChaos, DNSChaos, Schedule…). The server checks it as you type; nothing runs until you press Create.'),
    h('div', { class: 'new-layout' },
      h('section', { class: 'panel' }, h('h2', {}, 'Common faults'), form),
      h('section', { class: 'panel editor-panel' },
        h('div', { class: 'editor-head' }, h('h2', {}, 'YAML'), statusLine, h('span', { class: 'spacer' }), clearButton, createButton),
        yaml.element,
        problems)));

  // Load the inventory for the target pickers, then start from a draft or the form.
  api.pods().then((items) => {
    pods = items;
    const namespaces = [...new Set(items.map((pod) => pod.namespace).concat(['default']))].sort();
    clear(namespaceSelect, namespaces.map((name) => option(name, name, 'default')));
    renderPods();
    if (editor.value === lastGenerated) generate(false);
  }).catch((error) => toast(`Inventory: ${error.message}`, 'error'));

  let draft = '';
  try { draft = sessionStorage.getItem(DRAFT_KEY) || ''; } catch { /* none */ }
  if (draft) {
    editor.value = draft;
    formHint.textContent = 'Editing a draft: “Write YAML” replaces it with the form.';
    onEdit();
  } else {
    generate(true);
  }
  return {};
}

// MARK: New workflow

/** Where a Workflow being written is kept across pages ("Edit as new" puts one there). */
export const WORKFLOW_DRAFT_KEY = 'tumult.workflow-draft';

/** A small Workflow to start from: a network delay, then a pause. */
export function exampleWorkflow(suffix) {
  return toYAML({
    apiVersion: 'chaos-mesh.org/v1alpha1',
    kind: 'Workflow',
    metadata: { name: `delay-then-pause-${suffix}`, namespace: 'default' },
    spec: {
      entry: 'entry',
      templates: [
        { name: 'entry', templateType: 'Serial', children: ['network-delay', 'pause'] },
        {
          name: 'network-delay',
          templateType: 'NetworkChaos',
          deadline: '30s',
          networkChaos: {
            action: 'delay', mode: 'all', selector: { namespaces: ['default'], labelSelectors: { app: 'web' } }, delay: { latency: '100ms' },
          },
        },
        { name: 'pause', templateType: 'Suspend', deadline: '10s' },
      ],
    },
  });
}

/**
 * `#/workflows/new`: a Workflow's YAML, created by `POST /api/workflows`;
 * the page of the new workflow follows, or each problem the server found
 * shows on its line. (`/api/validate` checks the kinds this host injects,
 * which a Workflow is not, so the check is Create's.)
 */
export function newWorkflow(root) {
  const example = exampleWorkflow(Math.random().toString(36).slice(2, 6));
  const yaml = yamlEditor({
    id: 'workflow-yaml', label: 'Workflow YAML', placeholder: 'A Chaos Mesh Workflow (kind: Workflow).',
    statusId: 'workflow-status', problemsId: 'workflow-problems',
  });
  const editor = yaml.textarea;
  const createButton = h('button', { type: 'button', id: 'create-workflow', class: 'primary' }, 'Create');
  const exampleButton = h('button', {
    type: 'button', id: 'workflow-example', title: 'Replace the text with the example Workflow',
    onclick: () => { editor.value = example; lastResult = null; onEdit(); },
  }, 'Example');
  // The last Create's problems, kept on their lines (found again by path) while the text is fixed.
  let lastResult = null;

  function onEdit() {
    try {
      if (editor.value && editor.value !== example) sessionStorage.setItem(WORKFLOW_DRAFT_KEY, editor.value);
      else sessionStorage.removeItem(WORKFLOW_DRAFT_KEY);
    } catch { /* storage full or refused */ }
    createButton.disabled = !editor.value.trim();
    yaml.render(lastResult, lastResult
      ? { kind: 'pending', text: 'Edited: Create checks it again' }
      : { kind: '', text: editor.value.trim() ? 'Checked by the server when you press Create' : 'Empty' });
  }
  editor.addEventListener('input', onEdit);

  createButton.addEventListener('click', async () => {
    createButton.disabled = true;
    yaml.setStatus('pending', 'Creating…');
    try {
      const answer = await api.createWorkflow(editor.value);
      const created = Array.isArray(answer) ? answer[0] : answer;
      toast(`Workflow ${created.namespace}/${created.name}: ${created.result}`, 'ok');
      for (const warning of created.warnings || []) toast(`${warning.path}: ${warning.message}`, 'info');
      try { sessionStorage.removeItem(WORKFLOW_DRAFT_KEY); } catch { /* none */ }
      location.hash = `#/workflows/${encodeURIComponent(created.uid)}`;
    } catch (error) {
      if (error instanceof APIError && error.errors.length) {
        lastResult = { errors: error.errors.map((item) => ({ ...item, document: item.document || 1 })), warnings: [] };
        yaml.render(lastResult, { kind: 'bad', text: `✗ ${error.errors.length} problem${error.errors.length === 1 ? '' : 's'}: nothing was created` });
      } else {
        lastResult = null;
        yaml.render(null, { kind: 'bad', text: `✗ ${error.message}` });
        toast(error.message, 'error');
      }
      createButton.disabled = false;
    }
  });

  clear(root,
    h('div', { class: 'page-head' }, h('h1', {}, 'New workflow'), h('span', { class: 'spacer' }), h('a', { href: '#/workflows' }, 'All workflows')),
    h('p', { class: 'muted' }, 'A Chaos Mesh Workflow: templates run in series or in parallel from its entry (faults, suspends, tasks, status checks, schedules). Each template\'s deadline is how long it runs. Nothing runs until you press Create.'),
    h('section', { class: 'panel editor-panel' },
      h('div', { class: 'editor-head' }, h('h2', {}, 'YAML'), yaml.statusLine, h('span', { class: 'spacer' }), exampleButton, createButton),
      yaml.element,
      yaml.problems));

  let draft = '';
  try { draft = sessionStorage.getItem(WORKFLOW_DRAFT_KEY) || ''; } catch { /* none */ }
  editor.value = draft || example;
  onEdit();
  return {};
}
