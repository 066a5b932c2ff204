// Keeps the status page current: polls GET /api/status/view (view-models.ts StatusView, the view this page was first
// rendered from) every second while `live`, and places its already formatted pieces where status.eta put them.
// Nothing is formatted here.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var job = $('job');
  var startedAt = job.dataset.startedAt;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function text(id, value) { $(id).textContent = value; }
  // `count` rows in `body`, each new one a copy of `template`'s rows.
  function sizeRows(body, count, template) {
    var per = template.content.querySelectorAll('tr').length;
    while (body.rows.length > count * per) body.deleteRow(-1);
    while (body.rows.length < count * per) {
      Array.prototype.forEach.call(template.content.querySelectorAll('tr'), function (tr) { body.appendChild(tr.cloneNode(true)); });
    }
  }

  // One table's row, as views/partials/table-row.eta draws it.
  function fillRow(tr, row) {
    tr.className = row.stateClass;
    tr.dataset.table = row.name;
    tr.querySelector('.t-name').textContent = row.name;
    var note = tr.querySelector('.note');
    note.textContent = row.note;
    note.hidden = !row.note;
    tr.querySelector('.c-kind').textContent = row.kind;
    var badge = tr.querySelector('.c-state .badge');
    badge.className = 'badge ' + row.stateClass;
    badge.textContent = row.state;
    badge.hidden = !row.state;
    var bar = tr.querySelector('.bar');
    bar.setAttribute('aria-valuenow', String(row.width));
    bar.setAttribute('aria-label', row.progressLabel);
    tr.querySelector('.fill').style.width = row.width + '%';
    tr.querySelector('.c-percent').textContent = row.percent;
    tr.querySelector('.c-rows').textContent = row.rows;
    tr.querySelector('.c-chunks').textContent = row.chunks;
    tr.querySelector('.c-rate').textContent = row.rate;
    tr.querySelector('.c-eta').textContent = row.eta;
  }

  // The line under a table's row, as views/partials/diff-row.eta draws it; redrawn only when it changed, keeping
  // the example lists the user opened open.
  function fillDiff(tr, row) {
    tr.dataset.diffOf = row.name;
    tr.hidden = !row.diff;
    var key = row.diff ? JSON.stringify(row.diff) : '';
    if (tr.shardworkerDiff === key) return;
    tr.shardworkerDiff = key;
    var td = tr.cells[0];
    var open = {};
    Array.prototype.forEach.call(td.querySelectorAll('details[open]'), function (e) { open[e.dataset.kind] = true; });
    td.textContent = '';
    if (row.diff) td.appendChild(diffBox(row.diff, open));
  }

  function diffBox(d, open) {
    var box = el('div', 'diff ' + d.cls);
    var summary = el('p', 'diff-summary');
    if (d.running) summary.appendChild(el('span', 'diff-running', d.running));
    summary.appendChild(document.createTextNode(d.summary));
    box.appendChild(summary);
    var counts = el('p', 'diff-counts');
    d.counts.forEach(function (c, i) {
      if (i > 0) counts.appendChild(document.createTextNode(' \u00b7 '));
      counts.appendChild(el('span', c.cls, c.text));
    });
    box.appendChild(counts);
    d.kinds.forEach(function (k) {
      var details = el('details', 'diff-examples');
      details.dataset.kind = k.kind;
      if (open[k.kind]) details.open = true;
      details.appendChild(el('summary', '', k.title));
      var ul = el('ul');
      k.examples.forEach(function (e) {
        var li = el('li');
        li.appendChild(el('code', '', e.key));
        if (e.rest) li.appendChild(document.createTextNode(e.rest));
        ul.appendChild(li);
      });
      if (k.more) ul.appendChild(el('li', 'more', k.more));
      details.appendChild(ul);
      box.appendChild(details);
    });
    return box;
  }

  // Two rows per table: its figures, and the line with what its diff found.
  function renderTables(v) {
    text('rows-heading', v.rowsHeading);
    var body = $('table-rows');
    sizeRows(body, v.tables.length, $('row-template'));
    v.tables.forEach(function (row, i) {
      fillRow(body.rows[2 * i], row);
      fillDiff(body.rows[2 * i + 1], row);
    });
    $('no-tables').hidden = v.tables.length > 0;
    fillRow($('totals').rows[0], v.totals);
  }

  // The streams table, as views/partials/stream-row.eta draws it.
  function renderStreams(rows) {
    $('streams-card').hidden = rows.length === 0;
    var body = $('stream-rows');
    sizeRows(body, rows.length, $('stream-template'));
    rows.forEach(function (row, i) {
      var tr = body.rows[i];
      tr.className = row.stateClass;
      tr.dataset.stream = row.key;
      tr.querySelector('.s-destination code').textContent = row.destination;
      tr.querySelector('.s-source code').textContent = row.source;
      tr.querySelector('.s-tablet').textContent = row.sourceTablet;
      var badge = tr.querySelector('.s-state .badge');
      badge.className = 'badge ' + row.stateClass;
      badge.textContent = row.state;
      tr.querySelector('.s-held').textContent = row.held;
      tr.querySelector('.s-owner').textContent = row.owner;
      tr.querySelector('.s-position code').textContent = row.position;
      tr.querySelector('.s-behind').textContent = row.behind;
      tr.querySelector('.s-transactions').textContent = row.transactions;
      tr.querySelector('.s-rows').textContent = row.rows;
      tr.querySelector('.s-rate').textContent = row.rate;
      tr.querySelector('.s-error').textContent = row.lastError;
    });
  }

  // The Controls card, as status.eta draws it.
  function renderControl(c) {
    $('control-card').hidden = !c;
    if (!c) return;
    text('control-writes', c.writes);
    text('control-why', c.why);
    text('control-throttled', c.throttledTotal);
    text('control-paused', c.pausedTotal);
    text('control-max-tps', c.maxTps);
    text('control-max-lag', c.maxReplicationLag);
    var replicas = $('control-replicas');
    replicas.replaceChildren.apply(replicas, c.replicas.map(function (r) { return el('div', '', r); }));
    if (c.noReplicas) replicas.appendChild(el('span', 'muted', c.noReplicas));
    $('control-actions').hidden = !c.running;
    $('pause-form').hidden = c.paused;
    $('resume-form').hidden = !c.paused;
  }

  // The cutover card, as status.eta draws it.
  function renderCutover(c) {
    $('cutover-card').hidden = !c;
    if (!c) return;
    text('cutover-title', c.title);
    var steps = $('cutover-steps');
    steps.replaceChildren.apply(steps, c.steps.map(function (st) {
      var li = el('li', st.stateClass);
      li.append(el('span', 'badge ' + st.stateClass, st.state), ' ', el('span', 'step-name', st.name), ' ', el('span', 'muted step-took', st.took), el('div', 'muted step-detail', st.detail));
      return li;
    }));
    text('write-pause', c.writePause);
    var positions = $('cutover-positions');
    positions.replaceChildren.apply(positions, c.positions.map(function (p) {
      var div = el('div', '', p.label);
      div.appendChild(el('code', '', p.position));
      return div;
    }));
  }

  function render(v) {
    job.dataset.state = v.job.state;
    var state = $('state');
    state.textContent = v.job.state;
    state.className = 'badge ' + v.job.stateClass;
    text('ended-at', v.endedAt);
    text('elapsed', v.elapsed);
    text('sources', v.sources);
    text('destinations', v.destinations);
    text('retries', v.retries);
    text('locks', v.locks);
    text('snapshot', v.snapshot);
    var waits = $('waits');
    waits.replaceChildren.apply(waits, v.waits.map(function (w) { return el('div', 'wait', w); }));
    waits.hidden = v.waits.length === 0;
    var error = $('error');
    error.textContent = v.job.error || '';
    error.hidden = !v.job.error;
    $('cancel-form').hidden = !v.job.running;
    $('reset-form').hidden = !v.job.ended;
    renderTables(v);
    renderStreams(v.streams);
    renderCutover(v.cutover);
    renderControl(v.control);
    var log = $('log');
    var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent = v.log;
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function poll() {
    fetch('/api/status/view', { cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (r) {
        // The session ended (expired, logged out elsewhere, daemon restarted): back through the login page.
        if (r.status === 401) location.assign('/login?next=%2Fstatus');
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(function (v) {
        // Another job (or none) since the page was drawn: its job line and options are stale, draw it anew.
        if (v.startedAtIso !== startedAt) { location.reload(); return; }
        render(v);
        // Until the job ended and no streams run on after it.
        if (v.live) setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }

  if (job.dataset.live === 'true') setTimeout(poll, 1000);
})();
