// The dashboard's index.html, served from the binary (see DashboardAssets).

extension DashboardAssets {
    /// `index.html`: The page at `/`: the shell every view renders into; `{{assets}}` becomes this build's asset path.
    static let indexHTML = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tumult</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='7' fill='%23111827'/%3E%3Cpath d='M6 20l5-9 4 7 4-10 4 8 3-4' stroke='%23f97316' stroke-width='3' fill='none' stroke-linecap='round' stroke-linejoin='round'/%3E%3C/svg%3E">
<link rel="stylesheet" href="{{assets}}/app.css">
<link rel="modulepreload" href="{{assets}}/api.js">
<link rel="modulepreload" href="{{assets}}/ui.js">
<link rel="modulepreload" href="{{assets}}/yaml.js">
<link rel="modulepreload" href="{{assets}}/views.js">
<link rel="modulepreload" href="{{assets}}/editor.js">
<script type="module" src="{{assets}}/app.js"></script>
</head>
<body>
<header class="top">
  <a class="brand" href="#/" aria-label="Tumult overview">
    <svg viewBox="0 0 32 32" width="26" height="26" aria-hidden="true"><rect width="32" height="32" rx="7" fill="#1f2937"/><path d="M6 20l5-9 4 7 4-10 4 8 3-4" stroke="#f97316" stroke-width="3" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>
    <span>Tumult</span>
  </a>
  <nav id="nav" aria-label="Pages">
    <a href="#/" data-nav="overview">Overview</a>
    <a href="#/experiments" data-nav="experiments">Experiments</a>
    <a href="#/new" data-nav="new">New experiment</a>
    <a href="#/schedules" data-nav="schedules">Schedules</a>
    <a href="#/archives" data-nav="archives">Archives</a>
    <a href="#/events" data-nav="events">Events</a>
    <a href="#/inventory" data-nav="inventory">Inventory</a>
  </nav>
  <span id="live" class="live" title="Live updates: connecting">connecting</span>
  <button id="emergency-stop" class="danger stop" type="button" title="Recover every fault now and refuse new experiments">Emergency stop</button>
</header>
<div id="halt-banner" class="halt-banner" role="alert" hidden>
  <strong>Emergency stop is active.</strong>
  <span>Every fault was recovered and every experiment paused; new experiments are refused.</span>
  <button id="unhalt" type="button">Unhalt</button>
</div>
<main id="view" tabindex="-1"><p class="muted loading">Loading…</p></main>
<dialog id="confirm-dialog">
  <form method="dialog">
    <h2 id="confirm-title"></h2>
    <p id="confirm-message"></p>
    <div class="dialog-actions">
      <button value="cancel" type="submit" id="confirm-cancel">Cancel</button>
      <button value="ok" type="submit" id="confirm-ok" class="danger">OK</button>
    </div>
  </form>
</dialog>
<dialog id="token-dialog">
  <form method="dialog">
    <h2>API token</h2>
    <p id="token-message">This server requires a bearer token.</p>
    <label>Token <input id="token-input" type="password" autocomplete="current-password" required></label>
    <div class="dialog-actions">
      <button value="cancel" type="submit" formnovalidate>Cancel</button>
      <button value="ok" type="submit" class="primary">Use token</button>
    </div>
  </form>
</dialog>
<div id="toasts" aria-live="polite"></div>
<noscript>The Tumult dashboard needs JavaScript.</noscript>
</body>
</html>
"""#
}
