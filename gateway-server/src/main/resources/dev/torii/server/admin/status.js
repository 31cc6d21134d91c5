// The status page: fetches status.json every 2 s and draws its series as SVG polylines (no library).
(function () {
  'use strict';
  var SVG = 'http://www.w3.org/2000/svg';
  // An admin API bound off loopback wants a bearer token: open the page as .../#token=SECRET.
  var token = (location.hash.match(/token=([^&]+)/) || [])[1];

  function text(id, value) { document.getElementById(id).textContent = value; }

  function fmt(v, digits) { return v === null || v === undefined ? '-' : Number(v).toFixed(digits); }

  // series: [{values: [...], color: '#...'}]; null values break nothing, they are skipped.
  function chart(id, series) {
    var svg = document.getElementById(id);
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var w = 400, h = 140, max = 0, n = 0;
    series.forEach(function (s) {
      n = Math.max(n, s.values.length);
      s.values.forEach(function (v) { if (v !== null && v > max) { max = v; } });
    });
    max = max > 0 ? max * 1.1 : 1;
    var axis = document.createElementNS(SVG, 'text');
    axis.setAttribute('x', 4); axis.setAttribute('y', 12); axis.setAttribute('font-size', '11');
    axis.textContent = 'max ' + max.toFixed(max < 10 ? 2 : 0);
    svg.appendChild(axis);
    var drawn = 0;
    series.forEach(function (s) {
      var pts = [];
      s.values.forEach(function (v, i) {
        if (v === null) { return; }
        var x = n > 1 ? (i * w) / (n - 1) : w;
        pts.push(x.toFixed(1) + ',' + (h - (v / max) * (h - 16)).toFixed(1));
      });
      var line = document.createElementNS(SVG, 'polyline');
      line.setAttribute('points', pts.join(' '));
      line.setAttribute('stroke', s.color);
      svg.appendChild(line);
      drawn = Math.max(drawn, pts.length);
    });
    svg.setAttribute('data-points', drawn);
  }

  function render(s) {
    var p = s.points;
    var last = p.length ? p[p.length - 1] : {};
    text('updated', 'at ' + new Date(s.time).toISOString().replace('T', ' ').replace(/\..*/, ' UTC'));
    text('rps-now', fmt(last.rps, 1));
    text('errors-now', fmt(last.errors, 2));
    text('latency-now', fmt(last.p50, 1) + ' / ' + fmt(last.p99, 1));
    chart('chart-rps', [{ values: p.map(function (x) { return x.rps; }), color: '#1f77b4' }]);
    chart('chart-errors', [{ values: p.map(function (x) { return x.errors; }), color: '#d62728' }]);
    chart('chart-latency', [
      { values: p.map(function (x) { return x.p50; }), color: '#2ca02c' },
      { values: p.map(function (x) { return x.p99; }), color: '#ff7f0e' }
    ]);
    var m = document.getElementById('maintenance');
    m.textContent = s.maintenance ? 'on' : 'off';
    m.className = s.maintenance ? 'on' : 'off';
    text('connections', s.openConnections);
    text('active', s.activeExchanges);
    text('limited', s.rateLimited);
    text('dns', s.dnsHitRatio === null ? 'no DNS cache' : (s.dnsHitRatio * 100).toFixed(1) + ' %');
    text('dropped', s.accessLogDropped === null ? 'no access log' : s.accessLogDropped);
    var table = document.getElementById('upstreams');
    while (table.rows.length > 1) { table.deleteRow(1); }
    s.upstreams.forEach(function (u) {
      var row = table.insertRow();
      row.insertCell().textContent = u.name;
      row.insertCell().textContent = u.endpoints.join(', ');
      row.insertCell().textContent = u.protocol;
    });
    document.body.setAttribute('data-refreshed', String(Number(document.body.getAttribute('data-refreshed') || 0) + 1));
  }

  function refresh() {
    var headers = token ? { Authorization: 'Bearer ' + decodeURIComponent(token) } : {};
    fetch('status.json', { headers: headers, cache: 'no-store' })
      .then(function (r) { if (!r.ok) { throw new Error('status.json: HTTP ' + r.status); } return r.json(); })
      .then(function (s) { text('error', ''); render(s); })
      .catch(function (e) { text('error', String(e)); });
  }

  refresh();
  setInterval(refresh, 2000);
})();
