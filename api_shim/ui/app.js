// vpe.hypervisor host page: reads the host's REST API with a token kept in
// sessionStorage and draws the metric charts as inline SVG. No framework, no
// request outside this host. api_shim/svgchart.py draws the same charts on
// the server for GET /hypervisor/metrics.svg.
'use strict';
(function () {
  var KEY = 'vpe-token';
  var SERIES = [['cpu', 'CPU'], ['memory', 'Memory'], ['network_in', 'Network in'],
    ['network_out', 'Network out'], ['disk_read', 'Disk read'], ['disk_write', 'Disk write']];
  var SCALED = {'B/s': ['B/s', 'KB/s', 'MB/s', 'GB/s', 'TB/s'], 'MB': ['MB', 'GB', 'TB']};
  var DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  var W = 720, H = 240, L = 64, R = 16, T = 30, B = 28;
  var SVGNS = 'http://www.w3.org/2000/svg';
  var timer = null;

  function $(id) { return document.getElementById(id); }
  function text(id, value) { $(id).textContent = value === null || value === undefined ? '-' : String(value); }

  function AuthError(message) { this.message = message; }

  // GET path with the token: {status, doc}; a 401 throws AuthError.
  function api(path) {
    var token = sessionStorage.getItem(KEY) || '';
    return fetch(path, {headers: {'Authorization': 'Bearer ' + token, 'Accept': 'application/json'},
      cache: 'no-store', credentials: 'omit'}).then(function (resp) {
      return resp.text().then(function (body) {
        var doc = null;
        try { doc = JSON.parse(body); } catch (e) { doc = null; }
        if (resp.status === 401) {
          throw new AuthError('The token was not accepted (401 ' + ((doc && doc.title) || 'Unauthorized') + ': ' +
            ((doc && doc.detail) || 'no detail') + '). Enter a read token from the shim\'s token file.');
        }
        return {status: resp.status, doc: doc};
      });
    });
  }

  function problem(res) {
    if (res.status === 404) { return 'not available on this shim'; }
    return (res.doc && res.doc.detail) || ('HTTP ' + res.status);
  }

  function showError(message) {
    $('error').textContent = message;
    $('error').hidden = !message;
  }

  function signedOut(message) {
    sessionStorage.removeItem(KEY);
    if (timer) { clearInterval(timer); timer = null; }
    $('page').hidden = true;
    $('login').hidden = false;
    $('forget').hidden = true;
    $('status').textContent = '';
    showError(message || '');
    $('token').focus();
  }

  function bar(id, used, total) {
    var pct = total ? Math.min(100, 100 * used / total) : 0;
    $(id).style.width = pct.toFixed(1) + '%';
    $(id).className = pct >= 90 ? 'hot' : '';
  }

  function showUsages(res) {
    if (res.status !== 200) { text('cpu_note', problem(res)); return; }
    var u = res.doc.usages;
    ['cpu_used', 'cpu_total', 'memory_used_mb', 'memory_total_mb', 'instances'].forEach(function (k) { text(k, u[k]); });
    bar('cpu_bar', u.cpu_used, u.cpu_total);
    bar('memory_bar', u.memory_used_mb, u.memory_total_mb);
    text('cpu_note', u.cpu_total ? (100 * u.cpu_used / u.cpu_total).toFixed(0) + '% of the vCPUs that may be allocated' : '');
    text('memory_note', (u.memory_used_mb / 1024).toFixed(1) + ' of ' + (u.memory_total_mb / 1024).toFixed(1) + ' GB');
  }

  // enforce is what was asked; enforced whether libvirtd runs the hook now.
  function showQuota(res) {
    if (res.status !== 200) { text('quota_enforce', '-'); text('quota_note', problem(res)); return; }
    var q = res.doc.quota;
    $('cpu_note').textContent += ' (quota ' + q.cpu_max + ')';
    $('card-quota').setAttribute('data-enforce', q.enforce || 'off');
    $('card-quota').setAttribute('data-enforced', q.enforced ? 'yes' : 'no');
    if (!q.enforce || q.enforce === 'off') {
      text('quota_enforce', 'off');
      text('quota_note', 'bookkeeping only: libvirt starts any domain');
    } else if (q.enforced) {
      text('quota_enforce', q.enforce);
      text('quota_note', 'libvirt refuses a start beyond the quota, counting the ' + q.enforce + ' domains');
    } else {
      text('quota_enforce', q.enforce + ', not yet');
      text('quota_note', 'set, but not enforced: libvirtd must restart to run the hook (running domains keep running)');
    }
  }

  function showNetwork(res) {
    if (res.status !== 200) { text('bridge', problem(res)); text('bridge_interface', '-'); return; }
    text('bridge', res.doc.network.bridge || 'not set');
    text('bridge_interface', res.doc.network.bridge_interface || 'not set');
  }

  function cell(tr, value, cls) {
    var td = document.createElement('td');
    if (value instanceof Node) { td.appendChild(value); } else { td.textContent = value === null || value === undefined ? '-' : String(value); }
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    return td;
  }

  function storageRow(body, kind, p) {
    var tr = document.createElement('tr');
    tr.setAttribute('data-kind', kind);
    var wrap = document.createElement('div');
    if (p.max_gb) {
      wrap.className = 'bar';
      var inner = document.createElement('div');
      var pct = Math.min(100, 100 * p.used_gb / p.max_gb);
      inner.style.width = pct.toFixed(1) + '%';
      if (pct >= 90) { inner.className = 'hot'; }
      wrap.appendChild(inner);
    }
    cell(tr, p.name);
    cell(tr, p.path, 'path');
    cell(tr, p.used_gb, 'num');
    cell(tr, p.max_gb, 'num');
    cell(tr, wrap, 'wide');
    cell(tr, p.created_at || '');
    body.appendChild(tr);
  }

  function showStorage(image, pools) {
    var body = $('storage-rows');
    body.textContent = '';
    if (image.status === 200) {
      var ip = image.doc['image-pool'];
      storageRow(body, 'image-pool', {name: 'image store', path: ip.path || 'not configured', used_gb: ip.path ? ip.used_gb : null, max_gb: ip.max_gb});
    } else {
      storageRow(body, 'image-pool', {name: 'image store', path: problem(image)});
    }
    if (pools.status === 200) {
      pools.doc.pools.forEach(function (p) { storageRow(body, 'pool', p); });
      if (!pools.doc.pools.length) { storageRow(body, 'none', {name: 'no volume pools'}); }
    } else {
      storageRow(body, 'pool', {name: 'volume pools', path: problem(pools)});
    }
  }

  // -- charts ------------------------------------------------------------------

  function wall(key) { // "YYYY-MM-DD HH:MM" (host wall clock) -> ms on a UTC axis
    var m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d)/.exec(key);
    return Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5]);
  }

  function span(q, firstKey) {
    var f = new Date(wall(firstKey));
    var y = f.getUTCFullYear(), mo = f.getUTCMonth(), d = f.getUTCDate();
    var start = Date.UTC(y, mo, d);
    if (q === 'today' || q === 'yesterday') { return [start, Date.UTC(y, mo, d + 1)]; }
    if (q === 'thisweek' || q === 'lastweek') { return [start, Date.UTC(y, mo, d + 7)]; }
    return [start, Date.UTC(y, mo + 1, 1)];
  }

  function ticks(q, s) {
    var out = [], i, t, dt;
    var pad = function (n) { return (n < 10 ? '0' : '') + n; };
    if (q === 'today' || q === 'yesterday') {
      for (i = 0; i < 24; i += 3) { out.push([s[0] + i * 3600e3, pad(i) + ':00']); }
    } else if (q === 'thisweek' || q === 'lastweek') {
      for (i = 0; i < 7; i++) { dt = new Date(s[0] + i * 86400e3); out.push([+dt, DAYS[dt.getUTCDay()] + ' ' + dt.getUTCDate()]); }
    } else {
      for (t = s[0]; t < s[1]; t += 7 * 86400e3) { dt = new Date(t); out.push([t, pad(dt.getUTCMonth() + 1) + '-' + pad(dt.getUTCDate())]); }
    }
    return out;
  }

  function niceStep(raw) {
    if (raw <= 0) { return 1; }
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var f = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < f.length; i++) { if (f[i] * p >= raw * (1 - 1e-9)) { return f[i] * p; } }
    return 10 * p;
  }

  function fmt(v) { return v === Math.round(v) ? String(v) : String(+v.toFixed(2)); }

  function el(parent, name, attrs, content) {
    var e = document.createElementNS(SVGNS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (content !== undefined) { e.textContent = content; }
    parent.appendChild(e);
    return e;
  }

  function drawChart(name, title, q, s) {
    var keys = Object.keys(s.datas).sort();
    var values = keys.map(function (k) { return s.datas[k]; });
    var top = Math.max.apply(null, [0].concat(values.filter(function (v) { return v !== null; })));
    var names = SCALED[s.unit], div = 1, unit = s.unit, idx = 0;
    while (names && idx + 1 < names.length && top / div >= 1024) { div *= 1024; idx++; }
    if (names) { unit = names[idx]; }
    var step = top > 0 ? niceStep(top / div / 4) : 0.25;
    var ymax = top > 0 ? step * Math.ceil(top / div / step - 1e-9) : 1;
    var pw = W - L - R, ph = H - T - B;
    var svg = document.createElementNS(SVGNS, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('class', 'chart');
    svg.setAttribute('data-series', name);
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', title + ' (' + unit + '), ' + q);
    el(svg, 'text', {x: L, y: 18, 'class': 'title'}, title);
    el(svg, 'text', {x: W - R, y: 18, 'class': 'q', 'text-anchor': 'end'},
      keys.length ? keys[keys.length - 1].slice(0, 16) + ': ' + (values[values.length - 1] === null ? 'no sample' : fmt(+(values[values.length - 1] / div).toFixed(2)) + ' ' + unit) : '');
    var gy = el(svg, 'g', {'class': 'axis-y', 'text-anchor': 'end'});
    for (var i = 0; i <= Math.round(ymax / step); i++) {
      var y = T + ph - ph * (i * step) / ymax;
      el(gy, 'line', {x1: L, x2: L + pw, y1: y.toFixed(1), y2: y.toFixed(1), 'class': 'grid'});
      el(gy, 'text', {x: L - 6, y: (y + 4).toFixed(1)}, fmt(+(i * step).toFixed(4)));
    }
    el(svg, 'text', {x: L - 6, y: T - 8, 'class': 'unit', 'text-anchor': 'end'}, unit);
    el(svg, 'rect', {x: L, y: T, width: pw, height: ph, 'class': 'plot'});
    if (!keys.length) {
      el(svg, 'text', {x: L + pw / 2, y: T + ph / 2, 'text-anchor': 'middle', 'class': 'q'}, 'no data');
      return svg;
    }
    var sp = span(q, keys[0]);
    var xOf = function (k) { return L + pw * (wall(k) - sp[0]) / (sp[1] - sp[0]); };
    var gx = el(svg, 'g', {'class': 'axis-x', 'text-anchor': 'middle'});
    ticks(q, sp).forEach(function (t) {
      var x = (L + pw * (t[0] - sp[0]) / (sp[1] - sp[0])).toFixed(1);
      el(gx, 'line', {x1: x, x2: x, y1: T + ph, y2: T + ph + 4, 'class': 'tick'});
      el(gx, 'text', {x: x, y: T + ph + 16}, t[1]);
    });
    var gs = el(svg, 'g', {'class': 'series'});
    var run = [];
    var flush = function () {
      if (!run.length) { return; }
      var d = 'M' + run[0] + (run.length > 1 ? ' L' + run.slice(1).join(' ') : ' h0');
      el(gs, 'path', {'class': 'seg', d: d, 'data-count': run.length});
      run = [];
    };
    keys.forEach(function (k, j) {
      var v = values[j];
      if (v === null || v === undefined) { flush(); return; }
      run.push(xOf(k).toFixed(1) + ',' + (T + ph - ph * Math.min(v / div, ymax) / ymax).toFixed(1));
    });
    flush();
    hover(svg, keys.map(xOf), keys, values, div, unit, ymax, pw, ph);
    return svg;
  }

  // A readout of the point under the pointer: a guide line and "time: value unit".
  function hover(svg, xs, keys, values, div, unit, ymax, pw, ph) {
    var g = el(svg, 'g', {'class': 'hover', display: 'none'});
    var line = el(g, 'line', {y1: T, y2: T + ph});
    var dot = el(g, 'circle', {r: 3});
    var label = el(g, 'text', {y: T + 12});
    var area = el(svg, 'rect', {x: L, y: T, width: pw, height: ph, 'class': 'hit'});
    area.addEventListener('mousemove', function (ev) {
      var box = svg.getBoundingClientRect();
      var x = (ev.clientX - box.left) * W / box.width, i = 0, best = Infinity;
      xs.forEach(function (px, j) { var d = Math.abs(px - x); if (d < best) { best = d; i = j; } });
      var v = values[i], px = xs[i].toFixed(1);
      line.setAttribute('x1', px); line.setAttribute('x2', px);
      dot.setAttribute('display', v === null ? 'none' : 'inline');
      if (v !== null) { dot.setAttribute('cx', px); dot.setAttribute('cy', (T + ph - ph * Math.min(v / div, ymax) / ymax).toFixed(1)); }
      label.textContent = keys[i] + ': ' + (v === null ? 'no sample' : fmt(+(v / div).toFixed(2)) + ' ' + unit);
      var right = xs[i] > L + pw / 2;
      label.setAttribute('x', right ? xs[i] - 6 : xs[i] + 6);
      label.setAttribute('text-anchor', right ? 'end' : 'start');
      g.setAttribute('display', 'inline');
    });
    area.addEventListener('mouseleave', function () { g.setAttribute('display', 'none'); });
  }

  function showMetrics(res, q) {
    var box = $('charts');
    box.textContent = '';
    if (res.status !== 200) {
      box.setAttribute('data-state', 'unavailable');
      $('metrics-note').textContent = 'metrics: ' + problem(res);
      return;
    }
    box.setAttribute('data-state', 'ok');
    var m = res.doc.metrics;
    $('metrics-note').textContent = 'one point every ' + (m.step >= 3600 ? m.step / 3600 + ' h' : m.step / 60 + ' min');
    SERIES.forEach(function (s) {
      var fig = document.createElement('figure');
      fig.className = 'chart-box';
      fig.setAttribute('data-series', s[0]);
      fig.appendChild(m[s[0]] ? drawChart(s[0], s[1], m.duration, m[s[0]]) : document.createTextNode(s[1] + ': not available'));
      box.appendChild(fig);
    });
  }

  function loadMetrics() {
    var q = $('range').value;
    return api('/hypervisor/metrics?q=' + encodeURIComponent(q)).then(function (res) { showMetrics(res, q); });
  }

  function loadAll() {
    showError('');
    $('status').textContent = 'loading...';
    return api('/hypervisor/usages').then(function (usages) {
      $('login').hidden = true;
      $('page').hidden = false;
      $('forget').hidden = false;
      showUsages(usages);
      return Promise.all([api('/hypervisor/quota'), api('/hypervisor/network'), api('/hypervisor/image-pool'),
        api('/hypervisor/pools'), loadMetrics()]);
    }).then(function (r) {
      showQuota(r[0]);
      showNetwork(r[1]);
      showStorage(r[2], r[3]);
      $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
      document.body.setAttribute('data-loaded', 'yes');
    }).catch(function (err) {
      if (err instanceof AuthError) { signedOut(err.message); return; }
      $('status').textContent = '';
      showError('Cannot reach the shim: ' + (err && err.message ? err.message : err));
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('host').textContent = location.host;
    $('login').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var token = $('token').value.trim();
      if (!token) { return; }
      sessionStorage.setItem(KEY, token);
      $('token').value = '';
      document.body.removeAttribute('data-loaded');
      loadAll().then(function () {
        if (!timer && sessionStorage.getItem(KEY)) { timer = setInterval(loadAll, 300e3); }
      });
    });
    $('forget').addEventListener('click', function () { signedOut(''); });
    $('range').addEventListener('change', function () {
      document.body.removeAttribute('data-loaded');
      loadMetrics().then(function () { document.body.setAttribute('data-loaded', 'yes'); }, function (err) {
        if (err instanceof AuthError) { signedOut(err.message); }
      });
    });
    if (sessionStorage.getItem(KEY)) { loadAll(); } else { $('token').focus(); }
  });
})();
