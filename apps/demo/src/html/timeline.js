/* global document, window */
// The timeline page's script: inlined into the page by html.ts, runs with no network.
// Reads the data from <script id="timeline-data">, draws one SVG per variant: lane groups
// (engines, queues, fence timelines, CPU), slices coloured by client, markers, dependency
// arrows; a legend, hover details, wheel zoom, drag to pan, double-click to reset.
(function () {
  'use strict';
  var SVGNS = 'http://www.w3.org/2000/svg';
  var DATA = JSON.parse(document.getElementById('timeline-data').textContent);
  var ROW_H = 18;
  var GROUP_H = 20;
  var LABEL_W = 220;
  var AXIS_H = 22;
  var GROUP_TITLES = { engines: 'hardware engines', queues: 'drm_dep queues', fences: 'fence timelines', cpu: 'CPU: tasks, workers, irq' };
  var KIND_COLORS = { work: '#9aa3b5', other: '#b3a58f' };
  var MARKERS = {
    fence: { color: '#1f8a4c', label: 'fence signalled' },
    timeout: { color: '#e67e22', label: 'timeout (TDR)' },
    fault: { color: '#c0392b', label: 'fault / kill / cancel' },
    report: { color: '#c0392b', label: 'report (lockdep, WARN, stall)' },
    preempt: { color: '#8e44ad', label: 'preemption' },
    irq: { color: '#7f8c8d', label: 'interrupt' },
    event: { color: '#2c6fbb', label: 'queue / timer event' },
  };

  var clientColor = {};
  DATA.clients.forEach(function (c) { clientColor[c.name] = c.color; });

  var end = 0;
  DATA.views.forEach(function (v) { end = Math.max(end, v.end); });
  if (!(end > 0)) end = 1;
  var view = { t0: 0, t1: end * 1.02 };

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVGNS, name);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, String(attrs[k]));
    if (parent) parent.appendChild(e);
    return e;
  }
  function h(name, attrs, parent, text) {
    var e = document.createElement(name);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function fmt(ms) {
    if (ms === 0) return '0';
    var a = Math.abs(ms);
    if (a < 0.001) return (ms * 1e6).toFixed(0) + ' ns';
    if (a < 1) return (ms * 1000).toFixed(a < 0.01 ? 2 : 1) + ' µs';
    if (a < 1000) return ms.toFixed(a < 10 ? 3 : 1) + ' ms';
    return (ms / 1000).toFixed(3) + ' s';
  }

  // --- tooltip -----------------------------------------------------------------------
  var tip = document.getElementById('tooltip');
  function showTip(evt, title, lines) {
    tip.textContent = '';
    h('b', {}, tip, title);
    lines.forEach(function (l) { tip.appendChild(document.createTextNode('\n' + l)); });
    tip.style.display = 'block';
    moveTip(evt);
  }
  function moveTip(evt) {
    var x = evt.clientX + 14;
    var y = evt.clientY + 14;
    var w = tip.offsetWidth;
    var hgt = tip.offsetHeight;
    if (x + w > window.innerWidth - 8) x = Math.max(8, evt.clientX - w - 14);
    if (y + hgt > window.innerHeight - 8) y = Math.max(8, evt.clientY - hgt - 14);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  function hideTip() { tip.style.display = 'none'; }
  function hover(node, title, lines) {
    node.addEventListener('mouseenter', function (e) { showTip(e, title, lines); });
    node.addEventListener('mousemove', moveTip);
    node.addEventListener('mouseleave', hideTip);
  }
  function argLines(args) {
    var out = [];
    Object.keys(args || {}).forEach(function (k) { out.push(k + ': ' + args[k]); });
    return out;
  }

  // --- header, legend, stats ---------------------------------------------------------
  document.title = DATA.title;
  var root = document.getElementById('app');
  var head = h('header', {}, root);
  h('h1', {}, head, DATA.title);
  h('div', { class: 'sub' }, head, DATA.subtitle);
  var vd = h('div', {}, head);
  h('span', { class: 'verdict ' + (DATA.verdict.ok ? 'ok' : 'bad'), 'data-testid': 'verdict' }, vd, (DATA.verdict.ok ? '✔ ' : '✘ ') + DATA.verdict.outcome);
  h('span', { class: 'verdict-detail' }, vd, DATA.verdict.detail);

  var legend = h('div', { class: 'legend', 'data-testid': 'legend' }, root);
  h('span', { class: 'title' }, legend, 'Clients');
  DATA.clients.forEach(function (c) {
    var it = h('span', { class: 'item', 'data-client': c.name }, legend);
    h('span', { class: 'swatch', style: 'background:' + c.color }, it);
    it.appendChild(document.createTextNode(c.name));
  });
  [['work', 'work item (CPU)']].forEach(function (p) {
    var it = h('span', { class: 'item' }, legend);
    h('span', { class: 'swatch', style: 'background:' + KIND_COLORS[p[0]] }, it);
    it.appendChild(document.createTextNode(p[1]));
  });
  h('span', { class: 'title' }, legend, ' Markers');
  Object.keys(MARKERS).forEach(function (k) {
    var it = h('span', { class: 'item', 'data-marker': k }, legend);
    var s = el('svg', { width: 12, height: 12 }, it);
    drawMarker(s, k, 6, 6);
    it.appendChild(document.createTextNode(MARKERS[k].label));
  });
  var ai = h('span', { class: 'item' }, legend);
  var as = el('svg', { width: 28, height: 10 }, ai);
  el('path', { d: 'M2 5 L24 5', class: 'flow', 'marker-end': 'url(#arrow-legend)' }, as);
  var defsL = el('defs', {}, as);
  arrowDef(defsL, 'arrow-legend', '#39425a');
  ai.appendChild(document.createTextNode('dependency: the job waited for this fence'));

  if (DATA.stats.rows.length > 0) {
    var table = h('table', { class: 'stats', 'data-testid': 'stats' }, root);
    var tr = h('tr', {}, table);
    DATA.stats.header.forEach(function (c, i) { h('th', { class: i < DATA.stats.textColumns ? 'text' : '' }, tr, c); });
    DATA.stats.rows.forEach(function (r) {
      var row = h('tr', {}, table);
      r.forEach(function (c, i) { h('td', { class: i < DATA.stats.textColumns ? 'text' : '' }, row, c); });
    });
  }
  if (DATA.comparison) {
    h('div', { class: 'sub' }, root, DATA.comparison.title);
    var ct = h('table', { class: 'stats', 'data-testid': 'comparison' }, root);
    var ctr = h('tr', {}, ct);
    h('th', {}, ctr, '');
    DATA.comparison.columns.forEach(function (c) { h('th', {}, ctr, c); });
    DATA.comparison.rows.forEach(function (r) {
      var row = h('tr', {}, ct);
      h('td', { class: 'text' }, row, r.label);
      r.values.forEach(function (v) { h('td', {}, row, String(v)); });
    });
  }

  var bar = h('div', { class: 'toolbar' }, root);
  var reset = h('button', { type: 'button', 'data-testid': 'reset-zoom' }, bar, 'Reset zoom');
  h('span', {}, bar, 'Wheel: zoom · drag: pan · double-click: reset · hover: details');
  reset.addEventListener('click', function () { view.t0 = 0; view.t1 = end * 1.02; drawAll(); });

  // --- drawing -----------------------------------------------------------------------
  function arrowDef(defs, id, color) {
    var m = el('marker', { id: id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs);
    el('path', { d: 'M0 0 L10 5 L0 10 z', fill: color }, m);
  }
  function drawMarker(parent, kind, x, y) {
    var c = MARKERS[kind] ? MARKERS[kind].color : '#555';
    var g = el('g', { class: 'marker', 'data-kind': kind }, parent);
    if (kind === 'fence') el('path', { d: 'M' + x + ' ' + (y - 5) + ' L' + (x + 5) + ' ' + y + ' L' + x + ' ' + (y + 5) + ' L' + (x - 5) + ' ' + y + ' z', fill: c }, g);
    else if (kind === 'timeout') el('path', { d: 'M' + x + ' ' + (y - 5) + ' L' + (x + 5) + ' ' + (y + 4) + ' L' + (x - 5) + ' ' + (y + 4) + ' z', fill: c }, g);
    else if (kind === 'fault') el('path', { d: 'M' + (x - 4) + ' ' + (y - 4) + ' L' + (x + 4) + ' ' + (y + 4) + ' M' + (x + 4) + ' ' + (y - 4) + ' L' + (x - 4) + ' ' + (y + 4), stroke: c, 'stroke-width': 2.5 }, g);
    else if (kind === 'report') {
      el('circle', { cx: x, cy: y, r: 5.5, fill: c }, g);
      var t = el('text', { x: x, y: y + 3.5, 'text-anchor': 'middle', 'font-size': 9, 'font-weight': 700, fill: '#fff' }, g);
      t.textContent = '!';
    } else if (kind === 'irq') el('rect', { x: x - 1, y: y - 5, width: 2, height: 10, fill: c }, g);
    else el('circle', { cx: x, cy: y, r: kind === 'preempt' ? 4.5 : 3.5, fill: c }, g);
    return g;
  }

  var charts = [];
  DATA.views.forEach(function (v, vi) {
    var sec = h('section', { class: 'view', 'data-view': v.label }, root);
    if (DATA.views.length > 1) h('h2', {}, sec, v.label);
    var box = h('div', { class: 'chart' }, sec);
    var svg = el('svg', { 'data-testid': 'timeline-' + vi }, box);
    charts.push({ v: v, svg: svg, box: box });
    attachZoom(svg);
  });

  function layout(v) {
    // y of each lane row; groups get a title row.
    var y = AXIS_H;
    var rows = [];
    var groups = [];
    var last = null;
    v.lanes.forEach(function (l, li) {
      if (l.group !== last) {
        groups.push({ group: l.group, y: y });
        y += GROUP_H;
        last = l.group;
      }
      rows[li] = y;
      y += l.rows * ROW_H + 4;
    });
    return { rows: rows, groups: groups, height: y + 6 };
  }

  function drawAll() {
    hideTip();
    charts.forEach(draw);
  }

  function draw(ch) {
    var v = ch.v;
    var svg = ch.svg;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var width = Math.max(600, ch.box.clientWidth || 1200);
    var L = layout(v);
    svg.setAttribute('width', width);
    svg.setAttribute('height', L.height);
    var plotW = width - LABEL_W - 12;
    var scale = plotW / (view.t1 - view.t0);
    var X = function (t) { return LABEL_W + (t - view.t0) * scale; };
    var defs = el('defs', {}, svg);
    arrowDef(defs, 'arrow-' + svg.getAttribute('data-testid'), '#39425a');
    arrowDef(defs, 'arrowp-' + svg.getAttribute('data-testid'), '#8e44ad');
    var clip = el('clipPath', { id: 'clip-' + svg.getAttribute('data-testid') }, defs);
    el('rect', { x: LABEL_W, y: 0, width: plotW + 12, height: L.height }, clip);

    // lane backgrounds and labels
    var lanesG = el('g', { class: 'lanes' }, svg);
    L.groups.forEach(function (g) {
      var t = el('text', { x: 8, y: g.y + 14, class: 'group-title', 'data-group': g.group }, lanesG);
      t.textContent = GROUP_TITLES[g.group] || g.group;
      el('line', { x1: 0, x2: width, y1: g.y + 0.5, y2: g.y + 0.5, stroke: '#dde1ea' }, lanesG);
    });
    v.lanes.forEach(function (l, li) {
      var y = L.rows[li];
      var lg = el('g', { class: 'lane', 'data-lane': l.key, 'data-group': l.group }, lanesG);
      el('rect', { x: 0, y: y, width: width, height: l.rows * ROW_H, fill: li % 2 ? '#f3f5f9' : '#ffffff' }, lg);
      var t = el('text', { x: 14, y: y + 13, class: 'lane-label' }, lg);
      t.textContent = l.name.length > 30 ? l.name.slice(0, 29) + '…' : l.name;
      if (l.client) {
        var ct = el('text', { x: LABEL_W - 8, y: y + 13, class: 'lane-client', 'text-anchor': 'end' }, lg);
        ct.textContent = l.client;
        el('rect', { x: 4, y: y + 3, width: 5, height: ROW_H - 6, fill: clientColor[l.client] || '#999' }, lg);
      }
      hover(lg, l.key, [GROUP_TITLES[l.group] || l.group].concat(l.client ? ['client: ' + l.client] : []).concat(l.rows > 1 ? [l.rows + ' rows (overlapping slices)'] : []));
    });

    // axis
    var axis = el('g', { class: 'axis' }, svg);
    var span = view.t1 - view.t0;
    var step = Math.pow(10, Math.floor(Math.log10(span / 6)));
    if (span / step > 12) step *= 5; else if (span / step > 6) step *= 2;
    for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      var x = X(t);
      el('line', { x1: x, x2: x, y1: AXIS_H - 4, y2: L.height }, axis);
      var tt = el('text', { x: x + 2, y: 12 }, axis);
      tt.textContent = fmt(Math.round(t / step) * step);
    }

    var plot = el('g', { 'clip-path': 'url(#clip-' + svg.getAttribute('data-testid') + ')' }, svg);
    var pos = [];
    v.slices.forEach(function (s, si) {
      var y = L.rows[s.lane] + s.row * ROW_H + 2;
      var x0 = X(s.ts);
      var w = Math.max(1.5, s.dur * scale);
      pos[si] = { x0: x0, x1: x0 + w, y: y + (ROW_H - 4) / 2 };
      if (x0 > width || x0 + w < LABEL_W) return;
      var fill = s.client && clientColor[s.client] ? clientColor[s.client] : KIND_COLORS[s.kind] || KIND_COLORS.other;
      var r = el('rect', { x: x0, y: y, width: w, height: ROW_H - 4, rx: 2, fill: fill, class: 'slice' + (s.open ? ' open' : ''), 'data-kind': s.kind }, plot);
      if (s.client) r.setAttribute('data-client', s.client);
      if (w > 40) {
        var lt = el('text', { x: x0 + 4, y: y + 11, class: 'slice-label' }, plot);
        lt.textContent = s.name.length * 6 > w - 6 ? s.name.slice(0, Math.max(1, Math.floor((w - 6) / 6))) : s.name;
      }
      var lines = [fmt(s.ts) + ' → ' + (s.open ? 'never ended' : fmt(s.ts + s.dur)), 'lane: ' + v.lanes[s.lane].key];
      if (s.client) lines.push('client: ' + s.client);
      hover(r, s.name, lines.concat(argLines(s.args)));
    });
    var mpos = [];
    v.markers.forEach(function (m, mi) {
      var y = L.rows[m.lane] + ROW_H / 2;
      var x = X(m.ts);
      mpos[mi] = { x: x, y: y };
      if (x < LABEL_W - 6 || x > width + 6) return;
      var g = drawMarker(plot, m.kind, x, y);
      hover(g, m.name, [fmt(m.ts) + ' on ' + v.lanes[m.lane].key].concat(argLines(m.args)));
    });
    v.flows.forEach(function (f) {
      var from = f.from.slice !== undefined ? { x: pos[f.from.slice].x1, y: pos[f.from.slice].y } : mpos[f.from.marker];
      var to = pos[f.to.slice];
      if (!from || !to) return;
      var dx = Math.max(20, Math.abs(to.x0 - from.x) / 2);
      var d = 'M' + from.x + ' ' + from.y + ' C' + (from.x + dx) + ' ' + from.y + ' ' + (to.x0 - dx) + ' ' + to.y + ' ' + to.x0 + ' ' + to.y;
      var p = el('path', { d: d, class: 'flow' + (f.preempt ? ' preempt' : ''), 'marker-end': 'url(#' + (f.preempt ? 'arrowp-' : 'arrow-') + svg.getAttribute('data-testid') + ')' }, plot);
      hover(p, 'dependency', ['waited for ' + f.label, 'by ' + v.slices[f.to.slice].name]);
    });
  }

  function attachZoom(svg) {
    svg.addEventListener('wheel', function (e) {
      e.preventDefault();
      var rect = svg.getBoundingClientRect();
      var plotW = rect.width - LABEL_W - 12;
      var frac = Math.min(1, Math.max(0, (e.clientX - rect.left - LABEL_W) / plotW));
      var at = view.t0 + frac * (view.t1 - view.t0);
      var k = e.deltaY > 0 ? 1.25 : 0.8;
      var span = Math.max(end * 1e-6, Math.min(end * 1.02, (view.t1 - view.t0) * k));
      view.t0 = Math.max(0, at - frac * span);
      view.t1 = view.t0 + span;
      drawAll();
    }, { passive: false });
    var drag = null;
    svg.addEventListener('mousedown', function (e) { drag = { x: e.clientX, t0: view.t0, t1: view.t1 }; svg.classList.add('dragging'); });
    window.addEventListener('mouseup', function () { drag = null; svg.classList.remove('dragging'); });
    window.addEventListener('mousemove', function (e) {
      if (!drag) return;
      var rect = svg.getBoundingClientRect();
      var dt = ((e.clientX - drag.x) / (rect.width - LABEL_W - 12)) * (drag.t1 - drag.t0);
      var t0 = Math.max(0, drag.t0 - dt);
      view.t0 = t0;
      view.t1 = t0 + (drag.t1 - drag.t0);
      drawAll();
    });
    svg.addEventListener('dblclick', function () { view.t0 = 0; view.t1 = end * 1.02; drawAll(); });
  }

  if (DATA.reports.length > 0) {
    var det = h('details', { class: 'reports' }, root);
    h('summary', {}, det, DATA.reports.length + ' report(s) from lockdep and the WARN sink');
    h('pre', {}, det, DATA.reports.join('\n\n'));
  }
  h('footer', {}, root, DATA.footer);
  window.addEventListener('resize', drawAll);
  drawAll();
  document.body.setAttribute('data-rendered', 'true');
})();
