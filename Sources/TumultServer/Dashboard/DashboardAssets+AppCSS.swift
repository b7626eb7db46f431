// The dashboard's app.css, served from the binary (see DashboardAssets).

extension DashboardAssets {
    /// `app.css`: The dashboard's one style sheet (light and dark).
    static let appCSS = #"""
:root {
  --bg: #f5f6f8;
  --panel: #ffffff;
  --text: #1f2430;
  --muted: #6b7280;
  --line: #e3e6eb;
  --head: #111827;
  --accent: #2563eb;
  --accent-soft: #e8efff;
  --danger: #dc2626;
  --danger-dark: #b91c1c;
  --ok: #15803d;
  --warn: #b45309;
  --primary: #2563eb;
  --danger-soft: #fef2f2;
  --danger-line: #fecaca;
  --danger-text: #7f1d1d;
  --warn-soft: #fffbeb;
  --warn-text: #78350f;
  --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
  --radius: 8px;
  color-scheme: light;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1218;
    --panel: #171b23;
    --text: #e6e8ec;
    --muted: #9aa3b2;
    --line: #2a303b;
    --head: #0a0c10;
    --accent: #60a5fa;
    --accent-soft: #1c2a44;
    --danger-soft: rgba(220, 38, 38, .16);
    --danger-line: rgba(248, 113, 113, .45);
    --danger-text: #fca5a5;
    --warn-soft: rgba(217, 119, 6, .16);
    --warn-text: #fcd34d;
    color-scheme: dark;
  }
}
* { box-sizing: border-box; }
html, body { margin: 0; }
body {
  background: var(--bg);
  color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre { font-family: var(--mono); font-size: 12.5px; }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 15px; margin: 0 0 10px; }
.muted { color: var(--muted); }
.bad { color: var(--danger); }
[hidden] { display: none !important; }

/* Header */
header.top {
  position: sticky; top: 0; z-index: 10;
  display: flex; align-items: center; gap: 18px;
  padding: 0 18px; height: 54px;
  background: var(--head); color: #e5e7eb;
  box-shadow: 0 1px 0 rgba(0, 0, 0, .3);
}
.brand { display: flex; align-items: center; gap: 8px; color: #fff; font-weight: 700; font-size: 17px; letter-spacing: .2px; }
.brand:hover { text-decoration: none; }
#nav { display: flex; gap: 2px; flex: 1; overflow-x: auto; }
#nav a { color: #cbd5e1; padding: 7px 11px; border-radius: 6px; white-space: nowrap; }
#nav a:hover { background: #1f2937; text-decoration: none; color: #fff; }
#nav a.active { background: #374151; color: #fff; }
.live { font-size: 12px; color: #9ca3af; display: inline-flex; align-items: center; gap: 6px; }
.live::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: #6b7280; }
.live.on { color: #86efac; }
.live.on::before { background: #22c55e; box-shadow: 0 0 0 3px rgba(34, 197, 94, .25); }

/* Buttons */
button, .button {
  font: inherit; font-weight: 600; cursor: pointer;
  padding: 7px 14px; border-radius: 6px;
  border: 1px solid var(--line); background: var(--panel); color: var(--text);
  display: inline-flex; align-items: center; gap: 6px;
}
button:hover:not(:disabled), .button:hover { border-color: var(--muted); text-decoration: none; }
button:disabled { opacity: .5; cursor: not-allowed; }
button.primary, .button.primary { background: var(--primary); border-color: var(--primary); color: #fff; }
button.danger { background: var(--danger); border-color: var(--danger); color: #fff; }
button.danger:hover:not(:disabled) { background: var(--danger-dark); }
button.danger-outline { color: var(--danger); border-color: var(--danger-line); }
button.small { padding: 3px 9px; font-size: 12px; }
button.stop {
  padding: 8px 16px; font-weight: 700; letter-spacing: .3px;
  box-shadow: 0 0 0 2px rgba(220, 38, 38, .35);
}
body.halted button.stop { background: #7f1d1d; border-color: #7f1d1d; }

/* Halted banner */
.halt-banner {
  display: flex; align-items: center; gap: 12px;
  padding: 10px 18px; background: var(--danger-soft); color: var(--danger-text);
  border-bottom: 2px solid var(--danger);
}
.halt-banner button { margin-left: auto; }

/* Layout */
main { max-width: 1320px; margin: 0 auto; padding: 20px 18px 60px; outline: none; }
.page-head { display: flex; align-items: center; gap: 12px; margin-bottom: 14px; flex-wrap: wrap; }
.page-head .spacer { flex: 1; }
.subtitle { color: var(--muted); margin: -6px 0 12px; }
.toolbar { display: flex; gap: 8px; margin-bottom: 16px; flex-wrap: wrap; }
.actions { display: inline-flex; gap: 6px; }
.panel {
  background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius);
  padding: 14px 16px; margin-bottom: 16px; min-width: 0;
}
.columns { display: grid; grid-template-columns: minmax(0, 1.6fr) minmax(0, 1fr); gap: 16px; align-items: start; }
.columns > .panel, .columns > div > .panel:last-child { margin-bottom: 16px; }
@media (max-width: 980px) { .columns, .new-layout { grid-template-columns: minmax(0, 1fr) !important; } }

/* Cards */
.cards { display: grid; grid-template-columns: repeat(6, minmax(0, 1fr)); gap: 12px; margin-bottom: 16px; }
@media (max-width: 900px) { .cards { grid-template-columns: repeat(3, minmax(0, 1fr)); } }
.card {
  background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius);
  padding: 12px 14px; display: flex; flex-direction: column; color: var(--text);
  border-top: 4px solid var(--line);
}
.card:hover { text-decoration: none; border-color: var(--muted); }
.card .count { font-size: 26px; font-weight: 700; line-height: 1.1; }
.card .label { color: var(--muted); font-size: 12.5px; text-transform: uppercase; letter-spacing: .5px; }
.card.s-running { border-top-color: #16a34a; }
.card.s-injecting { border-top-color: #2563eb; }
.card.s-paused { border-top-color: #d97706; }
.card.s-failed { border-top-color: #dc2626; }
.card.s-finished { border-top-color: #6b7280; }
.card.s-deleting { border-top-color: #7c3aed; }

/* Tables */
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .4px; color: var(--muted); font-weight: 600; }
tbody tr:hover { background: var(--accent-soft); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.right { text-align: right; }
.empty { padding: 8px 0; margin: 0; }
a.name { font-weight: 600; }

/* Badges and chips */
.badge {
  display: inline-block; padding: 2px 9px; border-radius: 999px; font-size: 12px; font-weight: 600;
  background: #eef0f3; color: #374151; text-transform: lowercase;
}
.badge.s-running { background: #dcfce7; color: #166534; }
.badge.s-injecting { background: #dbeafe; color: #1e40af; }
.badge.s-paused { background: #fef3c7; color: #92400e; }
.badge.s-failed { background: #fee2e2; color: #991b1b; }
.badge.s-finished { background: #e5e7eb; color: #374151; }
.badge.s-deleting { background: #ede9fe; color: #5b21b6; }
.badge.s-archived { background: #e5e7eb; color: #4b5563; }
.page-head .badge { font-size: 13px; padding: 3px 12px; }
.count-link { font-weight: 700; }
.chips { display: inline-flex; flex-wrap: wrap; gap: 4px; }
.chip { font-family: var(--mono); font-size: 11.5px; background: var(--accent-soft); border-radius: 4px; padding: 1px 6px; }
.phase.on { color: var(--ok); font-weight: 600; }
.phase.off { color: var(--muted); }
.etype.warning { color: var(--danger); font-weight: 600; }
.conditions { display: flex; gap: 6px; margin: 0 0 14px; flex-wrap: wrap; }
.condition { font-size: 12px; padding: 2px 10px; border-radius: 999px; border: 1px solid var(--line); }
.condition.true { background: #dcfce7; border-color: #bbf7d0; color: #166534; }
.condition.true::before { content: "✓ "; }
.condition.false { color: var(--muted); }

/* Summary list */
.summary { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px 18px; margin: 0 0 14px; }
.summary dt { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .4px; }
.summary dd { margin: 2px 0 0; font-weight: 500; }

/* Timeline */
.timeline { list-style: none; margin: 0; padding: 0 0 0 4px; }
.timeline li { display: grid; grid-template-columns: 64px 1fr; gap: 10px; padding: 6px 0 10px 14px; border-left: 2px solid var(--line); position: relative; }
.timeline li::before {
  content: ""; position: absolute; left: -6px; top: 10px; width: 10px; height: 10px; border-radius: 50%;
  background: var(--accent); border: 2px solid var(--panel);
}
.timeline li.t-warning::before { background: var(--danger); }
.timeline .when { color: var(--muted); font-variant-numeric: tabular-nums; font-size: 12.5px; padding-top: 1px; }
.timeline .message { font-size: 12.5px; overflow-wrap: anywhere; }

/* Filters and forms */
.filters { display: flex; gap: 8px; margin-bottom: 12px; flex-wrap: wrap; }
input, select, textarea {
  font: inherit; color: var(--text); background: var(--panel);
  border: 1px solid var(--line); border-radius: 6px; padding: 6px 9px;
}
input:focus, select:focus, textarea:focus, button:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
input:disabled { opacity: .55; }
.filters input[type="search"] { min-width: 220px; }
fieldset { border: 1px solid var(--line); border-radius: var(--radius); padding: 10px 12px 12px; margin: 12px 0 0; }
legend { font-weight: 700; padding: 0 6px; }
.form-grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 10px 12px; }
.field { display: flex; flex-direction: column; gap: 3px; min-width: 0; }
.field .label { font-size: 12px; font-weight: 600; color: var(--muted); }
.field input, .field select { width: 100%; }
.field-error { color: var(--danger); font-size: 12px; min-height: 0; }
.field.invalid input, .field.invalid select { border-color: var(--danger); background: var(--danger-soft); }
.form-actions { display: flex; align-items: center; gap: 12px; margin-top: 14px; }
.hint { margin: 0; font-size: 12.5px; }
.pod-picker { margin-top: 10px; max-height: 190px; overflow: auto; border-top: 1px dashed var(--line); padding-top: 8px; }
.pod { display: flex; gap: 8px; align-items: center; padding: 2px 0; font-size: 13px; }
.pod-name { font-weight: 600; }

/* New experiment */
.new-layout { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.25fr); gap: 16px; align-items: start; }
.editor-head { display: flex; align-items: center; gap: 10px; margin-bottom: 8px; }
.editor-head h2 { margin: 0; }
.spacer { flex: 1; }
.validation { font-size: 13px; font-weight: 600; }
.validation.ok { color: var(--ok); }
.validation.bad { color: var(--danger); }
.validation.pending { color: var(--muted); }
.editor {
  display: flex; border: 1px solid var(--line); border-radius: 6px; overflow: hidden;
  background: var(--panel); height: 460px;
}
.editor .gutter {
  margin: 0; padding: 10px 8px 10px 10px; min-width: 44px; text-align: right; color: var(--muted);
  background: var(--bg); border-right: 1px solid var(--line); overflow: hidden; user-select: none;
  font: 13px/20px var(--mono);
}
.gutter .ln.error { color: #fff; background: var(--danger); border-radius: 3px; padding: 0 3px; }
.gutter .ln.warning { color: #fff; background: var(--warn); border-radius: 3px; padding: 0 3px; }
.editor-body { position: relative; flex: 1; min-width: 0; }
.editor-body textarea, .editor-body .backdrop {
  position: absolute; inset: 0; margin: 0; border: 0; border-radius: 0;
  padding: 10px 12px; font: 13px/20px var(--mono); tab-size: 2; white-space: pre; overflow: auto;
}
.editor-body textarea { background: transparent; resize: none; width: 100%; height: 100%; z-index: 1; caret-color: var(--text); }
.editor-body textarea:focus { outline: none; }
.backdrop { color: transparent; overflow: hidden !important; pointer-events: none; }
.backdrop .bl.error { background: rgba(220, 38, 38, .10); }
.backdrop .bl.warning { background: rgba(217, 119, 6, .10); }
.backdrop .inline-msg { color: var(--danger); font-style: italic; }
.backdrop .bl.warning .inline-msg { color: var(--warn); }
.problems { list-style: none; padding: 0; margin: 10px 0 0; }
.problems li { display: flex; gap: 8px; align-items: baseline; padding: 6px 8px; border-radius: 6px; margin-bottom: 4px; }
.problems li.error { background: var(--danger-soft); color: var(--danger-text); }
.problems li.warning { background: var(--warn-soft); color: var(--warn-text); }
.problems .path { font-weight: 700; }
.problems .line { flex: none; }

/* YAML */
.yaml-wrap { position: relative; }
.yaml-wrap .copy { position: absolute; top: 6px; right: 6px; }
pre.yaml {
  margin: 0; padding: 12px; background: var(--bg); border: 1px solid var(--line); border-radius: 6px;
  overflow: auto; max-height: 560px; line-height: 1.5;
}

/* Errors, dialogs, toasts */
.error-box {
  background: var(--danger-soft); border: 1px solid var(--danger-line); color: var(--danger-text); border-radius: 6px;
  padding: 10px 12px; margin-bottom: 14px; overflow-wrap: anywhere;
}
dialog {
  border: 1px solid var(--line); border-radius: 10px; padding: 20px 22px; max-width: 460px;
  background: var(--panel); color: var(--text); box-shadow: 0 20px 50px rgba(0, 0, 0, .3);
}
dialog::backdrop { background: rgba(15, 18, 24, .55); }
dialog h2 { font-size: 18px; }
dialog label { display: flex; flex-direction: column; gap: 4px; font-weight: 600; }
.dialog-actions { display: flex; justify-content: flex-end; gap: 8px; margin-top: 18px; }
#toasts { position: fixed; right: 16px; bottom: 16px; display: flex; flex-direction: column; gap: 8px; z-index: 20; }
.toast {
  background: var(--head); color: #f9fafb; padding: 10px 14px; border-radius: 8px; max-width: 420px;
  box-shadow: 0 8px 24px rgba(0, 0, 0, .25); border-left: 4px solid var(--accent);
}
.toast.ok { border-left-color: #22c55e; }
.toast.error { border-left-color: var(--danger); }
.loading { padding: 40px 0; text-align: center; }
"""#
}
