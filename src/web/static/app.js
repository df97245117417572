// netanomaly web app: vanilla JS, no build step. Every data string reaches the DOM through
// textContent or attribute setters, never innerHTML.

const PAGES = ['overview', 'clusters', 'predict', 'batch', 'live', 'drift'];
const state = { schema: null, model: null, batch: null, liveTimer: null };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = String(v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
const $ = (id) => document.getElementById(id);
const clear = (node) => {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
};
const fmt = (v, d = 3) =>
  typeof v === 'number' && Number.isFinite(v)
    ? Math.abs(v) >= 1000
      ? v.toLocaleString('en-US', { maximumFractionDigits: 0 })
      : Number(v.toFixed(d)).toString()
    : '—';
const pct = (v, d = 1) => (typeof v === 'number' && Number.isFinite(v) ? `${(100 * v).toFixed(d)}%` : '—');

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `request failed (HTTP ${status})`);
    this.status = status;
    this.issues = body?.error?.issues || [];
  }
}

async function api(path, options) {
  let res;
  try {
    res = await fetch(path, { credentials: 'same-origin', ...options });
  } catch {
    throw new ApiError(0, {
      error: { message: 'the server cannot be reached; is netanomaly app still running?' },
    });
  }
  let body = null;
  const type = res.headers.get('content-type') || '';
  if (type.includes('application/json')) body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}
const postJson = (path, data) =>
  api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(data) });

function banner(message) {
  const b = $('banner');
  if (!message) {
    b.classList.add('hidden');
    return;
  }
  b.textContent = message;
  b.classList.remove('hidden');
}

function plot(id, fig, extra) {
  const node = $(id);
  if (!fig || !window.Plotly) {
    clear(node).append(
      el('div', { class: 'empty', text: fig ? 'charts unavailable' : 'no data for this chart' }),
    );
    return;
  }
  const layout = Object.assign(
    {
      autosize: true,
      paper_bgcolor: '#fff',
      plot_bgcolor: '#fff',
      font: { family: 'system-ui, sans-serif', size: 12, color: '#1b2430' },
    },
    fig.layout,
    extra || {},
  );
  // The server's figure says how tall it wants to be; the container follows.
  if (typeof layout.height === 'number') node.style.height = `${layout.height}px`;
  window.Plotly.react(node, fig.data, layout, {
    displaylogo: false,
    responsive: true,
    modeBarButtonsToRemove: ['select2d', 'lasso2d'],
  });
}

function card(label, value, sub) {
  return el(
    'div',
    { class: 'card' },
    el('div', { class: 'label', text: label }),
    el('div', { class: 'value', text: value }),
    sub ? el('div', { class: 'sub', text: sub }) : null,
  );
}

function kv(dl, pairs) {
  clear(dl);
  for (const [k, v] of pairs) dl.append(el('dt', { text: k }), el('dd', { text: v }));
}

// ---------- Overview ----------
async function loadModel() {
  if (!state.model) state.model = await api('/api/model');
  const m = state.model;
  $('model-chip').textContent =
    `model ${m.model.sha256.slice(0, 12)} · k=${m.k} · ${m.model.data ? m.model.data.rows.toLocaleString('en-US') : '?'} training rows`;
  return m;
}

async function showOverview() {
  const m = await loadModel();
  const ev = m.evaluation;
  clear($('ov-stats')).append(
    card(
      'clusters (k)',
      String(m.k),
      m.ensemble_ks.length > 1 ? `ensemble k = ${m.ensemble_ks.join(', ')}` : 'one K-Means run',
    ),
    card('threshold', fmt(m.threshold), `target ${pct(m.target_fpr)} false positives`),
    card(
      'training rows',
      m.training.rows.toLocaleString('en-US'),
      m.training.calibration === 'loo'
        ? 'threshold from leave-one-out training scores'
        : `${m.training.calibration_rows.toLocaleString('en-US')} held out to calibrate`,
    ),
    card(
      'ROC-AUC',
      ev && typeof ev.roc_auc === 'number' ? ev.roc_auc.toFixed(3) : '—',
      ev?.test ? `on ${ev.test}` : 'no labelled test set',
    ),
    card(
      'detection at threshold',
      ev && typeof ev.recall === 'number' ? pct(ev.recall) : '—',
      ev && typeof ev.fpr === 'number' ? `false positives ${pct(ev.fpr, 2)}` : '',
    ),
  );
  kv($('ov-card'), [
    [
      'trained on',
      m.model.data
        ? `${m.model.data.source.split('/').pop()} (${m.model.data.format}, ${m.model.data.trainOn} rows)`
        : '—',
    ],
    ['rows used', m.model.data ? m.model.data.rows.toLocaleString('en-US') : '—'],
    ['fields', String(m.model.fields)],
    ['k', `${m.k}`],
    [
      'threshold',
      `${fmt(m.threshold, 4)} (${m.training.calibration === 'loo' ? 'leave-one-out' : 'held-out'} training FPR ${pct(m.calibration_fpr, 2)})`,
    ],
    ['created', m.model.created || '—'],
    ['model SHA-256', m.model.sha256],
  ]);
  $('ov-k-why').textContent = `Why k = ${m.k}: ${m.k_choice}`;
  const evalBox = clear($('ov-eval'));
  if (!ev)
    evalBox.append(
      el('p', {
        class: 'note',
        text: 'No evaluation in the model card (train with labelled test data, e.g. `netanomaly demo`).',
      }),
    );
  else {
    const base = ev.baseline || {};
    const rows = [
      ['ROC-AUC', ev.roc_auc, base.roc_auc, 3],
      ['PR-AUC', ev.pr_auc, base.pr_auc, 3],
      ['detection @ 1% FPR', ev.dr_at_fpr?.['0.01'], base.dr_at_fpr?.['0.01'], 'pct'],
      ['false-positive rate', ev.fpr, base.fpr, 'pct'],
      ['F1', ev.f1, base.f1, 3],
    ];
    const t = el(
      'table',
      {},
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', { text: `metric on ${ev.test || 'test set'}` }),
          el('th', { class: 'num', text: 'this model' }),
          el('th', { class: 'num', text: 'plain K-Means' }),
        ),
      ),
    );
    const tb = el('tbody');
    for (const [name, a, b, d] of rows)
      tb.append(
        el(
          'tr',
          {},
          el('td', { text: name }),
          el('td', { class: 'num', text: d === 'pct' ? pct(a) : fmt(a, d) }),
          el('td', { class: 'num', text: d === 'pct' ? pct(b) : fmt(b, d) }),
        ),
      );
    t.append(tb);
    evalBox.append(t);
    if (ev.recall_by_family) {
      const fam = Object.entries(ev.recall_by_family)
        .map(([f, g]) => `${f} ${pct(g.recall)} of ${g.n}`)
        .join(' · ');
      evalBox.append(el('p', { class: 'note', text: `Flagged at the threshold, by family: ${fam}` }));
    }
  }
  // Show the optional panels first, so every chart is sized in its final column.
  for (const name of ['roc', 'pr'])
    $(`fig-${name}`).parentElement.classList.toggle('hidden', !m.figures[name]);
  plot('fig-elbow', m.figures.elbow);
  plot('fig-scores', m.figures.scores);
  if (m.figures.roc) plot('fig-roc', m.figures.roc);
  if (m.figures.pr) plot('fig-pr', m.figures.pr);
  plot('fig-pca', m.figures.pca);
  $('ov-kslider').classList.toggle('hidden', !m.figures.kslider);
  if (m.figures.kslider) plot('fig-kslider', m.figures.kslider);
}

// ---------- Clusters ----------
function textInput(maxlength, placeholder, label, value) {
  const input = el('input', { type: 'text', maxlength, placeholder, 'aria-label': label });
  input.value = value || '';
  return input;
}

function clusterCard(c) {
  const name = textInput('60', 'name (e.g. "web browsing")', `name of cluster ${c.id}`, c.name);
  const note = textInput('500', 'note (optional)', `note for cluster ${c.id}`, c.note);
  const msg = el('span', { class: 'msg' });
  const save = el('button', { type: 'submit', class: 'secondary', text: 'Save' });
  const form = el('form', {}, name, note, save, msg);
  const box = el('div', { class: 'cluster', 'data-cluster': String(c.id) });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    save.disabled = true;
    msg.className = 'msg';
    msg.textContent = 'saving…';
    try {
      const body = { name: name.value };
      if (note.value.trim()) body.note = note.value;
      const r = await postJson(`/api/clusters/${c.id}/name`, body);
      state.model = null;
      box.replaceWith(clusterCard(r.cluster));
    } catch (err) {
      msg.className = 'msg error';
      msg.textContent = err.issues.length
        ? err.issues.map((i) => `${i.path}: ${i.message}`).join('; ')
        : err.message;
    } finally {
      save.disabled = false;
    }
  });
  const id = el('span', { class: 'id', text: `#${c.id}` });
  id.style.background = c.color;
  const fam = c.families
    ? Object.entries(c.families)
        .sort((a, b) => b[1] - a[1])
        .map(([f, n]) => `${f} ${n}`)
        .join(' · ')
    : null;
  const parts = [
    el(
      'div',
      { class: 'head' },
      id,
      el('span', { class: 'name', text: c.name || 'unnamed' }),
      el('span', { class: 'size', text: `${c.size.toLocaleString('en-US')} flows · ${pct(c.share)}` }),
    ),
    c.note ? el('div', { class: 'note', text: c.note }) : null,
    el(
      'div',
      {},
      c.tags.map((t) => el('span', { class: t === 'rare' ? 'tag rare' : 'tag', text: t })),
    ),
    el(
      'ul',
      {},
      c.evidence.map((t) => el('li', { text: t })),
    ),
    el('div', {
      class: 'typical',
      text: `typical: ${c.typical
        .filter((t) => !/^0(\.00)?$/.test(t.value))
        .slice(0, 8)
        .map((t) => `${t.field}=${t.value}`)
        .join(', ')}`,
    }),
    fam ? el('div', { class: 'fam', text: `source rows here: ${fam}` }) : null,
    form,
  ];
  // Node.append(null) would print "null"
  box.append(...parts.filter(Boolean));
  return box;
}

async function showClusters() {
  await loadModel();
  const r = await api('/api/clusters');
  const list = clear($('cl-list'));
  for (const c of r.clusters) list.append(clusterCard(c));
  const filter = $('cl-filter');
  filter.oninput = () => {
    const q = filter.value.trim().toLowerCase();
    for (const node of list.children)
      node.classList.toggle(
        'hidden',
        q !== '' &&
          !node.textContent.toLowerCase().includes(q) &&
          node.querySelector('input').value.toLowerCase().indexOf(q) < 0,
      );
  };
}

// ---------- Predict ----------
function fieldInput(f) {
  const id = `f-${f.name}`;
  const wrap = el('div', { class: 'field', 'data-field': f.name });
  const label = el('label', { for: id, text: f.name });
  const err = el('div', { class: 'err' });
  let input;
  if (f.kind === 'categorical') {
    input = el('select', { id, name: f.name });
    for (const v of f.vocabulary) input.append(el('option', { value: v, text: v }));
    input.append(el('option', { value: '__other__', text: 'other…' }));
    const other = el('input', {
      type: 'text',
      class: 'other hidden',
      id: `${id}-other`,
      maxlength: '64',
      placeholder: 'value not seen in training',
      'aria-label': `${f.name} (other value)`,
    });
    input.addEventListener('change', () => other.classList.toggle('hidden', input.value !== '__other__'));
    wrap.append(label, input, other, err);
  } else {
    input = el('input', { id, name: f.name, type: 'text', inputmode: 'decimal', autocomplete: 'off' });
    const hint = [];
    if (f.binary) hint.push('0 or 1');
    else {
      if (f.min !== undefined) hint.push(`≥ ${f.min}`);
      if (f.max !== undefined) hint.push(`≤ ${f.max}`);
    }
    if (hint.length) input.setAttribute('title', hint.join(', '));
    wrap.append(label, input, err);
  }
  return wrap;
}

function resetForm() {
  for (const f of state.schema.fields) {
    const input = $(`f-${f.name}`);
    input.value = f.kind === 'numeric' ? String(f.default) : f.default;
    if (f.kind === 'categorical') $(`f-${f.name}-other`).classList.add('hidden');
  }
  clearFieldErrors();
}

function clearFieldErrors() {
  for (const w of document.querySelectorAll('.field.invalid')) {
    w.classList.remove('invalid');
    w.querySelector('.err').textContent = '';
  }
}

function fieldError(name, message) {
  const w = document.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
  if (!w) return false;
  w.classList.add('invalid');
  w.querySelector('.err').textContent = message;
  return true;
}

/** Reads the form; returns {flow} or null after marking invalid fields. */
function readForm() {
  clearFieldErrors();
  const flow = {};
  let ok = true;
  for (const f of state.schema.fields) {
    const input = $(`f-${f.name}`);
    if (f.kind === 'categorical') {
      if (input.value === '__other__') {
        const typed = $(`f-${f.name}-other`).value.trim();
        flow[f.name] = typed || '__other__';
      } else flow[f.name] = input.value;
      continue;
    }
    const raw = input.value.trim();
    const v = raw === '' ? NaN : Number(raw);
    let problem = null;
    if (raw === '') problem = 'required';
    else if (!Number.isFinite(v)) problem = 'not a finite number';
    else if (f.binary && v !== 0 && v !== 1) problem = 'must be 0 or 1';
    else if (f.min !== undefined && v < f.min)
      problem = f.min === 0 ? 'cannot be negative' : `must be ≥ ${f.min}`;
    else if (f.max !== undefined && v > f.max)
      problem = `must be ≤ ${f.max}${f.max === 1 ? ' (a rate)' : ''}`;
    else if (f.integer && !Number.isInteger(v)) problem = 'must be a whole number';
    else if (Math.abs(v) > 1e15) problem = 'too large';
    if (problem) {
      ok = false;
      fieldError(f.name, problem);
    } else flow[f.name] = v;
  }
  return ok ? flow : null;
}

function showPrediction(r) {
  $('pr-empty').classList.add('hidden');
  $('pr-result').classList.remove('hidden');
  const bad = r.verdict === 'anomalous';
  const v = clear($('pr-verdict'));
  v.className = `verdict ${bad ? 'bad' : 'ok'}`;
  v.setAttribute('data-verdict', r.verdict);
  v.append(
    bad ? 'Anomalous' : 'Normal',
    el('small', {
      text: `anomaly score ${fmt(r.anomaly_score)} ${bad ? '>' : '≤'} threshold ${fmt(r.threshold)} · risk ${r.risk_score}/100${r.label ? ` · record label: ${r.label}` : ''}`,
    }),
  );
  const max = Math.max(r.threshold * 2, r.anomaly_score * 1.05);
  const g = $('pr-gauge');
  g.style.width = `${Math.min(100, (100 * r.anomaly_score) / max)}%`;
  g.className = `gauge-bar${bad ? ' bad' : ''}`;
  $('pr-gauge-thr').style.left = `${(100 * r.threshold) / max}%`;
  const top = r.explanation.top_fields
    .slice(0, 3)
    .map((c) => `${c.field} ${c.value} (typical ${c.typical}, ${pct(c.share, 0)})`)
    .join('; ');
  kv($('pr-kv'), [
    ['cluster', `#${r.cluster}${r.cluster_name ? ` “${r.cluster_name}”` : ''}`],
    ['cluster tags', r.cluster_tags.join(', ') || '—'],
    ['drove it', top || '—'],
    ...(r.unknown_categories.length ? [['not seen in training', r.unknown_categories.join(', ')]] : []),
    ...(r.filled_with_defaults.length ? [['filled with defaults', r.filled_with_defaults.join(', ')]] : []),
  ]);
  const cf = r.explanation.counterfactual;
  $('pr-cf').textContent =
    cf && bad
      ? `Nearest ${cf.basis.startsWith('nearest other') ? 'other' : 'normal-looking'} cluster: #${cf.cluster}${cf.name ? ` “${cf.name}”` : ''} (${cf.tag}). What sets this flow apart from it most: ${cf.changes
          .slice(0, 4)
          .map((c) => `${c.field} ${c.value} (typical there ${c.target})`)
          .join('; ')}.`
      : '';
  plot('fig-contrib', r.figures.contributions, { height: 320 });
  const map = state.model.figures.pca;
  if (map && r.figures.flow_marker)
    plot(
      'fig-flow-pca',
      { data: [...map.data, r.figures.flow_marker], layout: map.layout },
      {
        height: 400,
        showlegend: false,
        title: { ...map.layout.title, text: 'This flow (star) on the traffic map' },
      },
    );
}

async function showPredict() {
  await loadModel();
  if (!state.schema) {
    state.schema = await api('/api/schema');
    const grid = clear($('pf-fields'));
    for (const f of state.schema.fields) grid.append(fieldInput(f));
    resetForm();
    $('predict-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const msg = $('pf-msg');
      const flow = readForm();
      if (!flow) {
        msg.className = 'msg error';
        msg.textContent = 'Some values are impossible; see the highlighted fields.';
        return;
      }
      msg.className = 'msg';
      msg.textContent = 'scoring…';
      $('pf-submit').disabled = true;
      try {
        showPrediction(await postJson('/api/predict', { flow }));
        msg.textContent = '';
      } catch (err) {
        msg.className = 'msg error';
        let placed = 0;
        for (const i of err.issues) if (fieldError(i.path.replace(/^flow\./, ''), i.message)) placed++;
        msg.textContent = placed
          ? 'The server rejected some values; see the highlighted fields.'
          : err.message;
      } finally {
        $('pf-submit').disabled = false;
      }
    });
    $('pf-reset').addEventListener('click', resetForm);
    $('raw-go').addEventListener('click', scoreRaw);
    if (!state.schema.kdd) {
      $('raw-line').disabled = true;
      $('raw-go').disabled = true;
      $('raw-msg').textContent = 'This model does not use KDD fields; raw record lines do not apply.';
    }
  }
}

async function scoreRaw() {
  const msg = $('raw-msg');
  const line = $('raw-line').value.trim();
  msg.className = 'msg';
  if (!line) {
    msg.className = 'msg error';
    msg.textContent = 'Paste one record line first.';
    return;
  }
  msg.textContent = 'scoring…';
  try {
    const r = await postJson('/api/predict/raw', { line });
    // Mirror the record in the form, so it can be edited and re-scored.
    const parts = line.split(',').map((s) => s.trim());
    const order = state.schema.raw_line_fields || [];
    state.schema.fields.forEach((f) => {
      const idx = order.indexOf(f.name);
      if (idx < 0 || parts[idx] === undefined) return;
      const input = $(`f-${f.name}`);
      if (f.kind === 'categorical') {
        if (f.vocabulary.includes(parts[idx])) input.value = parts[idx];
        else {
          input.value = '__other__';
          const o = $(`f-${f.name}-other`);
          o.value = parts[idx];
          o.classList.remove('hidden');
        }
      } else input.value = parts[idx];
    });
    clearFieldErrors();
    showPrediction(r);
    msg.textContent = 'scored; the form now holds this record';
  } catch (err) {
    msg.className = 'msg error';
    msg.textContent = err.issues.length ? err.issues.map((i) => i.message).join('; ') : err.message;
  }
}

// ---------- Batch ----------
function renderBatchTable() {
  const b = state.batch;
  if (!b) return;
  const only = $('bt-only').checked;
  const cl = $('bt-cluster').value;
  const q = $('bt-search').value.trim().toLowerCase();
  const hasLabel = b.top.some((r) => r.label !== undefined);
  const hasIp = b.top.some((r) => r.src_ip !== undefined);
  const head = [
    'row',
    'verdict',
    'anomaly score',
    'risk',
    'cluster',
    ...(hasLabel ? ['label'] : []),
    ...(hasIp ? ['source', 'destination'] : []),
    ...b.display_fields,
  ];
  const numeric = new Set(['row', 'anomaly score', 'risk']);
  clear($('bt-table').tHead).append(
    el(
      'tr',
      {},
      head.map((h) => el('th', { class: numeric.has(h) ? 'num' : null, text: h })),
    ),
  );
  const tb = clear($('bt-table').tBodies[0]);
  let shown = 0;
  for (const r of b.top) {
    if (only && !r.is_anomaly) continue;
    if (cl !== '' && String(r.cluster) !== cl) continue;
    const values = [r.label, r.src_ip, r.dst_ip, r.community_id, ...Object.values(r.fields)].map((v) =>
      String(v ?? '').toLowerCase(),
    );
    if (q && !values.some((v) => v.includes(q))) continue;
    shown++;
    tb.append(
      el(
        'tr',
        {},
        el('td', { class: 'num', text: r.row + 1 }),
        el('td', {}, el('span', { class: `pill ${r.is_anomaly ? 'bad' : 'ok'}`, text: r.verdict })),
        el('td', { class: 'num', text: fmt(r.anomaly_score) }),
        el('td', { class: 'num', text: r.risk_score }),
        el('td', { text: r.cluster_name ? `#${r.cluster} ${r.cluster_name}` : `#${r.cluster}` }),
        hasLabel ? el('td', { text: r.label ?? '' }) : null,
        hasIp ? el('td', { text: r.src_ip ? `${r.src_ip}:${r.src_port ?? ''}` : '' }) : null,
        hasIp ? el('td', { text: r.dst_ip ? `${r.dst_ip}:${r.dst_port ?? ''}` : '' }) : null,
        b.display_fields.map((f) =>
          el('td', {
            class: typeof r.fields[f] === 'number' ? 'num' : null,
            text: typeof r.fields[f] === 'number' ? fmt(r.fields[f]) : (r.fields[f] ?? ''),
          }),
        ),
      ),
    );
  }
  $('bt-shown').textContent =
    `${shown} of the ${b.top.length} highest-scoring rows shown (of ${b.rows.toLocaleString('en-US')} scored); download the CSV for every row.`;
}

/** A cell of Community ID buttons; a click shows that flow in the table below. */
function evidenceCell(ids) {
  return el(
    'td',
    { class: 'evidence' },
    ids.map((cid) => {
      const b = el('button', { type: 'button', class: 'link cid', text: cid, title: 'show this flow' });
      b.addEventListener('click', () => {
        $('bt-search').value = cid;
        $('bt-only').checked = false;
        renderBatchTable();
      });
      return b;
    }),
  );
}

/** Host windows of a batch: host, window, score against the host threshold, flows, evidence. */
function renderBatchHosts(h) {
  const panel = $('bt-hosts-panel');
  panel.classList.toggle('hidden', !h);
  if (!h) return;
  $('bt-hosts-note').textContent =
    h.threshold === null
      ? `${h.windows.toLocaleString('en-US')} host windows; this model has no host threshold, so the highest host scores are listed.`
      : `${h.flagged.toLocaleString('en-US')} of ${h.windows.toLocaleString('en-US')} host windows${h.window_seconds ? ` (${h.window_seconds} s)` : ''} above the host threshold ${fmt(h.threshold)}. A host's score is the mean of its top flow scores in the window; click a Community ID to find the flow below.`;
  const head = [
    'host',
    'window start (UTC)',
    'host score',
    'vs threshold',
    'flows',
    'flagged flows',
    'evidence (Community IDs)',
  ];
  clear($('bt-hosts').tHead).append(
    el(
      'tr',
      {},
      head.map((x, i) => el('th', { class: i >= 2 && i <= 5 ? 'num' : null, text: x })),
    ),
  );
  const tb = clear($('bt-hosts').tBodies[0]);
  for (const r of h.top) {
    const ids = evidenceCell(r.evidence);
    tb.append(
      el(
        'tr',
        {},
        el('td', { text: r.host }),
        el('td', { text: r.window_start ? r.window_start.slice(0, 19).replace('T', ' ') : '—' }),
        el(
          'td',
          { class: 'num' },
          el('span', { class: `pill ${r.is_anomaly ? 'bad' : 'ok'}`, text: fmt(r.score) }),
        ),
        el('td', { class: 'num', text: h.threshold === null ? '—' : `${fmt(r.score / h.threshold, 2)}×` }),
        el('td', { class: 'num', text: r.flows.toLocaleString('en-US') }),
        el('td', { class: 'num', text: r.flagged_flows.toLocaleString('en-US') }),
        ids,
      ),
    );
  }
  if (h.top.length === 0)
    tb.append(el('tr', {}, el('td', { colspan: '7', text: 'no host window above the host threshold' })));
}

/** Pairs of a batch ranked by check-in regularity: timing, sizes, connections, interval, evidence. */
function renderBatchBeacons(r) {
  const panel = $('bt-beacons-panel');
  panel.classList.toggle('hidden', !r);
  if (!r) return;
  $('bt-beacons-note').textContent =
    `${r.top.length} of ${r.ranked.toLocaleString('en-US')} pairs with 10 or more connections at least 1 s apart (of ${r.pairs_seen.toLocaleString('en-US')} pairs), most regular timing first. Regular is not malicious: update checks and monitoring beacon too (the CLI's beacons --baseline marks the known ones).`;
  const head = [
    'pair',
    'names',
    'timing',
    'sizes',
    'connections',
    'interval s',
    'MAD s',
    'bytes',
    'evidence (Community IDs)',
  ];
  clear($('bt-beacons').tHead).append(
    el(
      'tr',
      {},
      head.map((x, i) => el('th', { class: i >= 2 && i <= 7 ? 'num' : null, text: x })),
    ),
  );
  const tb = clear($('bt-beacons').tBodies[0]);
  for (const p of r.top) {
    const ids = evidenceCell(p.evidence);
    tb.append(
      el(
        'tr',
        {},
        el('td', {
          text: `${p.src_ip} → ${p.dst_ip}${p.dst_ports.length ? `:${p.dst_ports.join(',')}` : ''}`,
        }),
        el('td', { text: p.names.join(' ') || '—' }),
        el('td', { class: 'num', text: fmt(p.ts_score, 3) }),
        el('td', { class: 'num', text: fmt(p.ds_score, 3) }),
        el('td', { class: 'num', text: p.connections.toLocaleString('en-US') }),
        el('td', { class: 'num', text: fmt(p.interval_s, 3) }),
        el('td', { class: 'num', text: fmt(p.interval_mad_s, 3) }),
        el('td', { class: 'num', text: fmt(p.bytes) }),
        ids,
      ),
    );
  }
  if (r.top.length === 0)
    tb.append(
      el(
        'tr',
        {},
        el('td', { colspan: String(head.length), text: 'no pair with enough regular connections' }),
      ),
    );
}

function showBatchResult(b) {
  state.batch = b;
  $('bt-result').classList.remove('hidden');
  const quarantined = b.ingest.rows_quarantined;
  clear($('bt-stats')).append(
    card('rows scored', b.rows.toLocaleString('en-US'), `format: ${b.format}`),
    card(
      'anomalies',
      b.anomalies.toLocaleString('en-US'),
      `${pct(b.anomaly_share)} above threshold ${fmt(b.threshold)}`,
    ),
    card(
      'rows set aside',
      quarantined.toLocaleString('en-US'),
      quarantined
        ? Object.entries(b.ingest.reasons)
            .map(([r, n]) => `${r}: ${n}`)
            .join('; ')
            .slice(0, 120)
        : 'none',
    ),
    card(
      'unseen categories',
      Object.values(b.unknown_categories)
        .reduce((a, c) => a + c, 0)
        .toLocaleString('en-US'),
      Object.keys(b.unknown_categories).join(', ') || 'none',
    ),
  );
  const sel = clear($('bt-cluster'));
  sel.append(el('option', { value: '', text: 'all clusters' }));
  for (const c of b.per_cluster)
    sel.append(
      el('option', { value: String(c.cluster), text: `#${c.cluster}${c.name ? ` ${c.name}` : ''}` }),
    );
  $('bt-download').setAttribute('href', b.download);
  renderBatchHosts(b.hosts);
  renderBatchBeacons(b.beacons);
  renderBatchTable();
  const head = ['cluster', 'name / tags', 'rows', 'anomalies', 'anomaly share'];
  clear($('bt-clusters').tHead).append(
    el(
      'tr',
      {},
      head.map((h, i) => el('th', { class: i >= 2 ? 'num' : null, text: h })),
    ),
  );
  const tb = clear($('bt-clusters').tBodies[0]);
  for (const c of b.per_cluster) {
    tb.append(
      el(
        'tr',
        {},
        el('td', { text: `#${c.cluster}` }),
        el('td', { text: [c.name, (c.tags || []).slice(0, 4).join(', ')].filter(Boolean).join(' — ') }),
        el('td', { class: 'num', text: c.rows.toLocaleString('en-US') }),
        el('td', { class: 'num', text: c.anomalies.toLocaleString('en-US') }),
        el('td', { class: 'num', text: pct(c.anomalies / c.rows) }),
      ),
    );
  }
}

async function uploadBatch() {
  const file = $('bt-file').files[0];
  const msg = $('bt-msg');
  if (!file) {
    msg.className = 'msg error';
    msg.textContent = 'Choose a file first.';
    return;
  }
  if (file.size > 20 * 1024 * 1024) {
    msg.className = 'msg error';
    msg.textContent = `This file is ${(file.size / 1048576).toFixed(1)} MB; the limit is 20 MB. Use \`netanomaly score\` for large files.`;
    return;
  }
  msg.className = 'msg';
  msg.textContent = `scoring ${file.name}…`;
  $('bt-go').disabled = true;
  try {
    const b = await api('/api/batch?top=500', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: file,
    });
    showBatchResult(b);
    msg.textContent = `${file.name}: ${b.rows.toLocaleString('en-US')} rows scored`;
  } catch (err) {
    $('bt-result').classList.add('hidden');
    msg.className = 'msg error';
    msg.textContent = `Could not score ${file.name}: ${err.message}`;
  } finally {
    $('bt-go').disabled = false;
  }
}

function showBatch() {
  $('bt-limits').textContent =
    'Limits: 20 MB per upload, 200,000 rows. Results stay in this server’s memory only; the top rows are shown here and every score is in the CSV download.';
  if (!showBatch.bound) {
    showBatch.bound = true;
    $('bt-go').addEventListener('click', uploadBatch);
    $('bt-only').addEventListener('change', renderBatchTable);
    $('bt-cluster').addEventListener('change', renderBatchTable);
    $('bt-search').addEventListener('input', renderBatchTable);
    const drop = $('drop');
    drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      drop.classList.add('drag');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('drag'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('drag');
      if (e.dataTransfer.files.length) {
        $('bt-file').files = e.dataTransfer.files;
        uploadBatch();
      }
    });
  }
  return loadModel();
}

// ---------- Live ----------
async function refreshLive() {
  let t;
  try {
    t = await api('/api/alerts?limit=100');
  } catch (err) {
    banner(err.message);
    return;
  }
  banner(null);
  const empty = $('lv-empty');
  const last = t.perMinute.length ? t.perMinute[t.perMinute.length - 1] : null;
  clear($('lv-stats')).append(
    card(
      'alert file',
      t.configured ? (t.available ? 'following' : 'waiting') : 'not set',
      t.file ? t.file.split('/').pop() : 'start with --alerts FILE',
    ),
    card(
      'alerts in view',
      (t.linesRead - t.badLines - (t.suppressed ?? 0)).toLocaleString('en-US'),
      t.badLines ? `${t.badLines} unreadable lines skipped` : 'tail of the file',
    ),
    card(
      'latest minute',
      last ? String(last.count) : '—',
      last ? `${last.minute.replace('T', ' ')} UTC` : '',
    ),
    card('updated', t.modified ? new Date(t.modified).toLocaleTimeString() : '—', 'refreshes every 3 s'),
    card(
      'input health',
      t.health ? (t.health.lossy ? 'lossy' : t.health.status) : '—',
      t.health
        ? [
            t.health.recordsPerSecond !== null ? `${fmt(t.health.recordsPerSecond)} records/s` : null,
            t.health.secondsSinceLastRecord !== null
              ? `last record ${Math.round(t.health.secondsSinceLastRecord)} s ago`
              : 'no record yet',
            ...t.health.lossReasons,
          ]
            .filter(Boolean)
            .join(' · ')
        : 'from the watcher’s stats records',
    ),
    card(
      'alert budget',
      t.health?.budget ? `${t.health.budget.alerts_last_hour} / ${t.health.budget.per_hour} per h` : '—',
      t.health?.budget
        ? t.health.budget.over
          ? 'over budget in the last hour'
          : 'within budget'
        : 'watch --alert-budget N/h',
    ),
    card(
      'self-test',
      t.selftest ? (t.selftest.passed ? 'passed' : 'FAILED') : 'not run',
      t.selftest
        ? `${t.selftest['@timestamp'].replace('T', ' ').slice(0, 19)} UTC: ${t.selftest.passed ? t.selftest.reason : t.selftest.reason.split(':')[0]}`
        : 'netanomaly selftest --source … --alerts …',
    ),
    card(
      'suppressed by feedback',
      String(t.suppressed ?? 0),
      `analyst verdicts, revision ${t.feedbackRevision ?? 0}`,
    ),
  );
  if (!t.configured || !t.available) {
    empty.classList.remove('hidden');
    empty.textContent = t.configured
      ? 'The alert file does not exist yet; it will appear here as soon as the watcher writes it.'
      : 'No alert file configured. Start the app with --alerts FILE (the file `netanomaly watch` writes).';
  } else empty.classList.add('hidden');
  plot('fig-live', {
    data: [
      {
        type: 'bar',
        x: t.perMinute.map((p) => `${p.minute}:00Z`),
        y: t.perMinute.map((p) => p.count),
        marker: { color: '#e63946' },
      },
    ],
    layout: {
      title: { text: 'Alerts per minute', font: { size: 14 } },
      margin: { l: 50, r: 20, t: 40, b: 40 },
      xaxis: { type: 'date' },
      yaxis: { title: { text: 'alerts' } },
    },
  });
  const head = ['time (UTC)', 'score', 'risk', 'source', 'destination', 'cluster', 'event id', 'feedback'];
  clear($('lv-table').tHead).append(
    el(
      'tr',
      {},
      head.map((h) => el('th', { class: h === 'score' || h === 'risk' ? 'num' : null, text: h })),
    ),
  );
  const tb = clear($('lv-table').tBodies[0]);
  for (const a of t.alerts) {
    tb.append(
      el(
        'tr',
        {},
        el('td', { text: a.timestamp.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') }),
        el('td', { class: 'num', text: fmt(a.score) }),
        el('td', { class: 'num', text: a.risk ?? '' }),
        el('td', { text: a.src }),
        el('td', { text: a.dst }),
        el('td', { text: a.cluster }),
        el('td', { text: a.id.slice(0, 16), title: a.id }),
        el(
          'td',
          {},
          a.knownBad
            ? el('span', { class: 'tag', text: 'known bad' })
            : el('button', {
                type: 'button',
                class: 'small',
                text: 'benign host',
                title: `mark ${a.srcIp} benign: its alerts are hidden (kept in the file)`,
                onclick: () => markBenignHost(a.srcIp),
              }),
        ),
      ),
    );
  }
}

async function markBenignHost(ip) {
  if (!ip) return;
  try {
    await api('/api/feedback', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'host', verdict: 'benign', match: { host: ip }, who: 'web app' }),
    });
  } catch (err) {
    banner(err.message);
    return;
  }
  await refreshLive();
}

async function showLive() {
  await loadModel();
  await refreshLive();
  state.liveTimer = setInterval(refreshLive, 3000);
}

// ---------- Drift ----------
async function showDrift() {
  await loadModel();
  let d;
  try {
    d = await api('/api/drift');
  } catch (err) {
    banner(err.message);
    return;
  }
  const r = d.report;
  const live = d.live;
  clear($('dr-stats')).append(
    card(
      'retrain',
      r ? (r.retrain ? 'suggested' : 'not needed') : '—',
      r
        ? `${r.reasons.length} reason(s); report of ${r.at.replace('T', ' ').slice(0, 19)} UTC`
        : 'run netanomaly drift',
    ),
    card('cluster-share PSI', r ? fmt(r.sharePsi) : '—', '< 0.1 stable, > 0.25 shifted'),
    card(
      'score PSI',
      r ? fmt(r.scorePsi) : '—',
      r ? `${r.rows.toLocaleString('en-US')} rows of ${r.data}` : '',
    ),
    card(
      'above threshold',
      r ? `${(100 * r.farShare).toFixed(2)} %` : '—',
      r ? `reference ${(100 * r.referenceFarShare).toFixed(2)} %` : '',
    ),
    card(
      'watcher (live)',
      live ? (live.retrain ? 'drifting' : 'stable') : '—',
      live
        ? `${live.rows.toLocaleString('en-US')} recent records; clusters ${live.clusters_flagged.join(', ') || 'none'} flagged`
        : 'needs drift-reference.json beside the model',
    ),
  );
  const empty = $('dr-empty');
  if (!r) {
    empty.classList.remove('hidden');
    empty.textContent = 'No drift report yet: run `netanomaly drift MODEL DATA` on recent traffic.';
    return;
  }
  empty.classList.add('hidden');
  const ids = r.clusters.map((c) => (c.name ? `${c.cluster} ${c.name}` : String(c.cluster)));
  plot('fig-drift', {
    data: [
      {
        type: 'bar',
        name: 'reference',
        x: ids,
        y: r.clusters.map((c) => c.referenceShare),
        marker: { color: '#457b9d' },
      },
      {
        type: 'bar',
        name: 'recent',
        x: ids,
        y: r.clusters.map((c) => c.share),
        marker: {
          color: r.clusters.map((c) =>
            c.status === 'stable' || c.status === 'too-few-rows' ? '#a8dadc' : '#e63946',
          ),
        },
      },
    ],
    layout: {
      title: { text: 'Share of traffic per cluster (red: drifted)', font: { size: 14 } },
      barmode: 'group',
      margin: { l: 50, r: 20, t: 40, b: 60 },
      xaxis: { type: 'category', title: { text: 'cluster' } },
      yaxis: { title: { text: 'share' }, tickformat: '.0%' },
    },
  });
  const head = ['cluster', 'reference share', 'recent share', 'rows', 'score PSI', 'KS / critical', 'status'];
  clear($('dr-table').tHead).append(
    el(
      'tr',
      {},
      head.map((h) => el('th', { text: h })),
    ),
  );
  const tb = clear($('dr-table').tBodies[0]);
  for (const c of r.clusters) {
    tb.append(
      el(
        'tr',
        { class: c.status === 'stable' || c.status === 'too-few-rows' ? null : 'flagged' },
        el('td', { text: c.name ? `${c.cluster} · ${c.name}` : String(c.cluster) }),
        el('td', { class: 'num', text: `${(100 * c.referenceShare).toFixed(1)} %` }),
        el('td', { class: 'num', text: `${(100 * c.share).toFixed(1)} %` }),
        el('td', { class: 'num', text: c.rows.toLocaleString('en-US') }),
        el('td', { class: 'num', text: c.scorePsi === null ? '—' : fmt(c.scorePsi) }),
        el('td', { class: 'num', text: c.ks === null ? '—' : `${fmt(c.ks)} / ${fmt(c.ksCritical)}` }),
        el('td', { text: c.status }),
      ),
    );
  }
  clear($('dr-reasons')).append(...r.reasons.map((reason) => el('li', { text: reason })));
  $('dr-reasons-panel').classList.toggle('hidden', r.reasons.length === 0);
}

// ---------- router ----------
async function start() {
  let page = location.pathname.replace(/^\//, '') || 'overview';
  if (!PAGES.includes(page)) page = 'overview';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page);
  $(`page-${page}`).classList.remove('hidden');
  document.title = `netanomaly · ${page[0].toUpperCase()}${page.slice(1)}`;
  const show = {
    overview: showOverview,
    clusters: showClusters,
    predict: showPredict,
    batch: showBatch,
    live: showLive,
    drift: showDrift,
  }[page];
  try {
    await show();
    document.body.setAttribute('data-ready', page);
  } catch (err) {
    banner(err.message || 'something went wrong');
    document.body.setAttribute('data-ready', 'error');
  }
}

document.addEventListener('DOMContentLoaded', start);
