// JSON -> YAML for showing and generating documents, and the reverse
// question the editor needs: on which line of a YAML text is the field at
// `spec.delay.latency`?

const RESERVED = /^(?:true|false|yes|no|on|off|y|n|null|~|-?\.inf|\.nan)$/i;
const NUMBERISH = /^[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$|^0x[0-9a-fA-F]+$|^0o[0-7]+$/;

function quoteIfNeeded(text) {
  if (text === '') return "''";
  if (RESERVED.test(text) || NUMBERISH.test(text)) return `"${text}"`;
  if (/^[\s\-?:,[\]{}#&*!|>'"%@`]/.test(text) && !/^-[^\s-]/.test(text)) return JSON.stringify(text);
  if (/:(\s|$)|\s#|[\t\n\r]|\s$/.test(text)) return JSON.stringify(text);
  if (/[\u0000-\u001f\u007f]/.test(text)) return JSON.stringify(text);
  return text;
}

function isObject(value) { return value !== null && typeof value === 'object' && !Array.isArray(value); }
function isBlock(value) {
  return (Array.isArray(value) && value.length > 0) || (isObject(value) && Object.keys(value).length > 0);
}

function scalar(value, indent) {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (Array.isArray(value)) return '[]';
  if (isObject(value)) return '{}';
  const text = String(value);
  if (text.includes('\n') && !/[\u0000-\u0009\u000b-\u001f]/.test(text)) {
    const pad = ' '.repeat(indent);
    const chomp = text.endsWith('\n') ? '' : '-';
    const body = text.replace(/\n$/, '').split('\n').map((line) => (line ? pad + line : '')).join('\n');
    return `|${chomp}\n${body}`;
  }
  return quoteIfNeeded(text);
}

function write(value, indent, out) {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isBlock(item)) {
        const inner = [];
        write(item, indent + 2, inner);
        inner[0] = `${pad}- ${inner[0].slice(indent + 2)}`;
        out.push(...inner);
      } else {
        out.push(`${pad}- ${scalar(item, indent + 2)}`);
      }
    }
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    const name = quoteIfNeeded(key);
    if (isBlock(item)) {
      out.push(`${pad}${name}:`);
      write(item, indent + 2, out);
    } else {
      out.push(`${pad}${name}: ${scalar(item, indent + 2)}`);
    }
  }
}

/** A value as block YAML (keys in their order; `undefined` fields left out). */
export function toYAML(value) {
  if (!isBlock(value)) return `${scalar(value, 0)}\n`;
  const out = [];
  write(value, 0, out);
  return `${out.join('\n')}\n`;
}

/** 'spec.containerNames[0]' -> ['spec', 'containerNames', 0] */
export function splitPath(path) {
  const parts = [];
  const pattern = /([^.[\]]+)|\[(\d+)\]/g;
  let match;
  while ((match = pattern.exec(path)) !== null) {
    parts.push(match[2] !== undefined ? Number(match[2]) : match[1]);
  }
  return parts;
}

function unquote(key) {
  const trimmed = key.trim();
  if ((trimmed.startsWith('"') && trimmed.endsWith('"')) || (trimmed.startsWith("'") && trimmed.endsWith("'"))) {
    return trimmed.slice(1, -1);
  }
  return trimmed;
}

const KEY = /^("(?:[^"\\]|\\.)*"|'[^']*'|[^\s#'"{[\]},:][^#:]*?|[^\s#'"{[\]},]+)\s*:(?:\s|$)/;

/**
 * Maps every block-style field of every document in `text` to its line:
 * returns [Map(pathKey -> line)] per document, lines 1-based. Flow-style
 * content (`{a: 1}`) maps to the line of the key holding it.
 */
export function lineIndex(text) {
  const documents = [new Map()];
  let stack = [];
  let counters = new Map();
  let blockIndent = -1;
  const lines = text.split('\n');
  lines.forEach((raw, position) => {
    const lineNumber = position + 1;
    const line = raw.replace(/\r$/, '');
    const content = line.trimStart();
    const indent = line.length - content.length;
    if (blockIndent >= 0) {
      if (!content || indent > blockIndent) return;
      blockIndent = -1;
    }
    if (/^---(\s|$)/.test(line)) {
      if (documents[documents.length - 1].size) documents.push(new Map());
      stack = [];
      counters = new Map();
      return;
    }
    if (!content || content.startsWith('#') || /^\.\.\.(\s|$)/.test(line)) return;
    const index = documents[documents.length - 1];
    let rest = content;
    let column = indent;
    while (rest === '-' || rest.startsWith('- ')) {
      while (stack.length && (stack[stack.length - 1].indent > column
        || (stack[stack.length - 1].indent === column && stack[stack.length - 1].item))) stack.pop();
      const parent = stack.length ? stack[stack.length - 1].path : [];
      const counterKey = `${parent.join('\u0000')}@${column}`;
      const next = (counters.get(counterKey) ?? -1) + 1;
      counters.set(counterKey, next);
      const path = parent.concat([next]);
      stack.push({ indent: column, path, item: true });
      if (!index.has(path.join('.'))) index.set(path.join('.'), lineNumber);
      const after = rest.slice(1);
      const spaces = after.length - after.trimStart().length;
      column += 1 + spaces;
      rest = after.trimStart();
      if (!rest) return;
    }
    const match = KEY.exec(rest);
    if (!match) return;
    while (stack.length && stack[stack.length - 1].indent >= column) stack.pop();
    const parent = stack.length ? stack[stack.length - 1].path : [];
    const path = parent.concat([unquote(match[1])]);
    stack.push({ indent: column, path, item: false });
    if (!index.has(path.join('.'))) index.set(path.join('.'), lineNumber);
    const value = rest.slice(match[0].length).trim();
    if (/^[|>][-+0-9]*\s*(#.*)?$/.test(value)) blockIndent = column;
  });
  return documents;
}

/**
 * The line of `path` in document `document` (1-based) of `text`, or of its
 * nearest parent that is there; `exact` says which.
 */
export function locate(index, path, document = 1) {
  const map = index[Math.max(0, (document || 1) - 1)] || index[0];
  if (!map) return null;
  const parts = splitPath(path);
  for (let length = parts.length; length > 0; length -= 1) {
    const line = map.get(parts.slice(0, length).join('.'));
    if (line) return { line, exact: length === parts.length };
  }
  return null;
}