// Flow-Opt visualizer: pick or edit a problem, plan it with one or two planners over the
// HTTP API, and animate the robots. Plain ES module, no build step.

import { $, api, setStatus } from '/common.js';

const COLORS = ['#2a6fdb', '#e67e22', '#16a085', '#8e44ad', '#c0392b', '#27ae60', '#d35400',
  '#2980b9', '#7f8c8d', '#f1c40f', '#1abc9c', '#e84393'];
const color = (i) => COLORS[i % COLORS.length];

const state = {
  problem: null,
  views: [makeView($('view-a')), makeView($('view-b'))],
  t: 0,            // seconds
  playing: true,
  lastFrame: null,
  frames: 0,
  drag: null,
};

function makeView(root) {
  return { root, canvas: root.querySelector('canvas'), title: root.querySelector('.title'),
    table: root.querySelector('.metrics'), plan: null, planner: '' };
}

// ---- geometry ------------------------------------------------------------------------------

function frame(canvas, problem) {
  const [x0, y0] = problem.workspace.min, [x1, y1] = problem.workspace.max;
  const pad = 12, w = canvas.width - 2 * pad, h = canvas.height - 2 * pad;
  const s = Math.min(w / (x1 - x0), h / (y1 - y0));
  const ox = pad + (w - s * (x1 - x0)) / 2, oy = pad + (h - s * (y1 - y0)) / 2;
  return {
    s,
    to: ([x, y]) => [ox + (x - x0) * s, canvas.height - oy - (y - y0) * s],
    from: ([px, py]) => [x0 + (px - ox) / s, y0 + (canvas.height - oy - py) / s],
  };
}

function positionAt(samples, t) {
  if (!samples.length) return [0, 0];
  if (t <= samples[0][0]) return [samples[0][1], samples[0][2]];
  for (let k = 1; k < samples.length; k++) {
    const [ta, xa, ya] = samples[k - 1], [tb, xb, yb] = samples[k];
    if (t <= tb) {
      const a = tb > ta ? (t - ta) / (tb - ta) : 0;
      return [xa + a * (xb - xa), ya + a * (yb - ya)];
    }
  }
  const last = samples[samples.length - 1];
  return [last[1], last[2]];
}

// ---- drawing -------------------------------------------------------------------------------

function draw(view) {
  const { canvas } = view, ctx = canvas.getContext('2d'), p = state.problem;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!p) return 0;
  const f = frame(canvas, p);
  const [ax, ay] = f.to(p.workspace.min), [bx, by] = f.to(p.workspace.max);
  ctx.strokeStyle = '#999'; ctx.lineWidth = 1;
  ctx.strokeRect(ax, by, bx - ax, ay - by);
  ctx.fillStyle = '#bbb';
  for (const o of p.obstacles || []) {
    const [cx, cy] = f.to(o.center);
    ctx.beginPath(); ctx.arc(cx, cy, o.radius * f.s, 0, 2 * Math.PI); ctx.fill();
  }
  const plan = view.plan;
  if (plan && $('show-candidates').checked && plan.candidates) {
    ctx.globalAlpha = 0.25;
    for (const cand of plan.candidates.slice(1)) drawPaths(ctx, f, cand.trajectories, 1);
    ctx.globalAlpha = 1;
  }
  if (plan) drawPaths(ctx, f, plan.trajectories, 1.5);
  let drawn = 0;
  p.robots.forEach((r, i) => {
    const radius = (r.radius ?? 0.2) * f.s;
    const [gx, gy] = f.to(r.goal);
    ctx.strokeStyle = color(i); ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.arc(gx, gy, radius, 0, 2 * Math.PI); ctx.stroke();
    const where = plan ? positionAt(plan.trajectories[i].samples, state.t) : r.start;
    const [x, y] = f.to(where);
    ctx.fillStyle = color(i);
    ctx.beginPath(); ctx.arc(x, y, radius, 0, 2 * Math.PI); ctx.fill();
    drawn++;
  });
  return drawn;
}

function drawPaths(ctx, f, trajectories, width) {
  trajectories.forEach((tr, i) => {
    ctx.strokeStyle = color(i); ctx.lineWidth = width;
    ctx.beginPath();
    tr.samples.forEach((s, k) => {
      const [x, y] = f.to([s[1], s[2]]);
      if (k === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  });
}

function fmt(v, digits = 3) {
  return v === null || v === undefined ? '—' : Number(v).toFixed(digits);
}

function showMetrics(view) {
  const plan = view.plan, table = view.table;
  table.textContent = '';
  if (!plan) return;
  const m = plan.metrics;
  const rows = [
    ['verdict', plan.feasible ? 'feasible' : 'infeasible', plan.feasible ? 'feasible' : 'infeasible'],
    ['max violation (m)', fmt(m.max_violation, 4)],
    ['min pair distance (m)', fmt(m.min_pair_distance)],
    ['min obstacle clearance (m)', fmt(m.min_obstacle_clearance)],
    ['max speed (m/s)', fmt(m.max_speed, 2)],
    ['max accel (m/s²)', fmt(m.max_accel, 2)],
    ['smoothness', fmt(m.smoothness, 2)],
    ['path length (m)', fmt(m.path_length, 2)],
  ];
  for (const [stage, ms] of Object.entries(plan.timings_ms)) rows.push([`time: ${stage} (ms)`, fmt(ms, 1)]);
  for (const [key, value] of Object.entries(plan.info || {})) rows.push([key, String(value)]);
  if (plan.candidates) rows.push(['feasible candidates shown', String(plan.candidates.length)]);
  for (const [name, value, cls] of rows) {
    const tr = table.insertRow();
    tr.insertCell().textContent = name;
    const td = tr.insertCell(); td.textContent = value; if (cls) td.className = cls;
  }
}

function horizon() {
  return state.problem?.horizon ?? 8;
}

function render() {
  let drawn = 0;
  for (const view of state.views) if (!view.root.hidden) drawn += draw(view);
  state.frames++;
  document.body.dataset.robotsDrawn = String(state.problem ? state.problem.robots.length : 0);
  document.body.dataset.frames = String(state.frames);
  $('clock').textContent = `t = ${state.t.toFixed(2)} s`;
  $('time').value = String(Math.round((state.t / horizon()) * 1000));
  return drawn;
}

function tick(now) {
  if (state.playing && state.views[0].plan) {
    const dt = state.lastFrame === null ? 0 : (now - state.lastFrame) / 1000;
    state.t += dt;
    if (state.t >= horizon()) {
      state.t = horizon();
      state.playing = false;
      $('play').textContent = 'Play';
      document.body.dataset.state = 'done';
    }
  }
  state.lastFrame = now;
  render();
  requestAnimationFrame(tick);
}

// ---- problem & planning --------------------------------------------------------------------

function setProblem(problem) {
  state.problem = problem;
  for (const view of state.views) { view.plan = null; showMetrics(view); view.title.textContent = 'problem'; }
  state.t = 0;
  document.body.dataset.state = 'problem';
  render();
}

async function generate() {
  const params = new URLSearchParams({ robots: $('robots').value, seed: $('seed').value });
  if ($('obstacles').value !== '') params.set('obstacles', $('obstacles').value);
  setStatus('generating…');
  try {
    setProblem(await api(`/v1/scenarios/${$('scenario').value}?${params}`));
    setStatus(`${$('scenario').value}: ${state.problem.robots.length} robots`);
  } catch (e) { setStatus(e.message, true); }
}

async function planWith(view, planner) {
  const params = new URLSearchParams({ planner, seed: $('seed').value });
  if (planner === 'flowopt') {
    params.set('candidates', $('candidates').value);
    if ($('show-candidates').checked) params.set('return_candidates', 'true');
  }
  view.title.textContent = `${planner}: planning…`;
  const started = performance.now();
  const plan = await api(`/v1/plan?${params}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(state.problem),
  });
  view.plan = plan;
  view.planner = planner;
  view.title.textContent = `${planner} (${(performance.now() - started).toFixed(0)} ms round trip)`;
  showMetrics(view);
}

async function plan() {
  if (!state.problem) return;
  const a = $('planner-a').value, b = $('planner-b').value;
  state.views[1].root.hidden = !b;
  setStatus('planning…');
  document.body.dataset.state = 'planning';
  try {
    await Promise.all([planWith(state.views[0], a), b ? planWith(state.views[1], b) : null]);
    state.t = 0; state.playing = true; state.lastFrame = null;
    $('play').textContent = 'Pause';
    document.body.dataset.state = 'animating';
    setStatus(`planned with ${a}${b ? ` and ${b}` : ''}`);
  } catch (e) {
    setStatus(e.message, true);
    document.body.dataset.state = 'error';
  }
}

function download(name, value) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  URL.revokeObjectURL(url);
}

// ---- editing by dragging -------------------------------------------------------------------

function pick(canvas, event) {
  const p = state.problem; if (!p) return null;
  const rect = canvas.getBoundingClientRect();
  const px = (event.clientX - rect.left) * (canvas.width / rect.width);
  const py = (event.clientY - rect.top) * (canvas.height / rect.height);
  const f = frame(canvas, p), at = f.from([px, py]);
  const near = (c, r) => Math.hypot(c[0] - at[0], c[1] - at[1]) <= Math.max(r, 8 / f.s);
  for (const [i, r] of p.robots.entries()) {
    if (near(r.start, r.radius ?? 0.2)) return { target: p.robots[i], key: 'start', f };
    if (near(r.goal, r.radius ?? 0.2)) return { target: p.robots[i], key: 'goal', f };
  }
  for (const o of p.obstacles || []) if (near(o.center, o.radius)) return { target: o, key: 'center', f };
  return null;
}

function enableEditing(view) {
  const c = view.canvas;
  c.addEventListener('pointerdown', (e) => { state.drag = pick(c, e); if (state.drag) c.setPointerCapture(e.pointerId); });
  c.addEventListener('pointermove', (e) => {
    if (!state.drag) return;
    const rect = c.getBoundingClientRect();
    const at = state.drag.f.from([(e.clientX - rect.left) * (c.width / rect.width), (e.clientY - rect.top) * (c.height / rect.height)]);
    state.drag.target[state.drag.key] = at.map((v) => Math.round(v * 100) / 100);
    for (const v of state.views) { v.plan = null; showMetrics(v); }
    state.t = 0;
    render();
  });
  c.addEventListener('pointerup', () => { if (state.drag) setStatus('edited: plan again'); state.drag = null; });
}

// ---- start-up ------------------------------------------------------------------------------

async function init() {
  const [planners, scenarios] = await Promise.all([api('/v1/planners'), api('/v1/scenarios')]);
  for (const s of scenarios) $('scenario').add(new Option(`${s.name}`, s.name));
  for (const p of planners) {
    $('planner-a').add(new Option(p.name, p.name, p.default, p.default));
    $('planner-b').add(new Option(p.name, p.name));
  }
  $('generate').onclick = generate;
  $('plan').onclick = plan;
  $('play').onclick = () => {
    if (state.t >= horizon()) state.t = 0;
    state.playing = !state.playing; state.lastFrame = null;
    $('play').textContent = state.playing ? 'Pause' : 'Play';
  };
  $('time').oninput = () => { state.t = (Number($('time').value) / 1000) * horizon(); state.playing = false; $('play').textContent = 'Play'; };
  $('save').onclick = () => state.problem && download('problem.json', state.problem);
  $('save-plan').onclick = () => state.views[0].plan && download('plan.json', state.views[0].plan);
  $('show-candidates').onchange = render;
  $('load').onchange = async (e) => {
    const file = e.target.files[0]; if (!file) return;
    try { setProblem(JSON.parse(await file.text())); setStatus(`loaded ${file.name}`); } catch (err) { setStatus(`${file.name}: ${err.message}`, true); }
  };
  state.views.forEach(enableEditing);
  // URL parameters preset the form: ?scenario=circle&robots=8&seed=1&planner=flowopt&compare=straight&autoplan=1
  const q = new URLSearchParams(location.search);
  for (const [param, id] of [['scenario', 'scenario'], ['robots', 'robots'], ['seed', 'seed'], ['obstacles', 'obstacles'], ['planner', 'planner-a'], ['compare', 'planner-b']]) {
    if (q.has(param)) $(id).value = q.get(param);
  }
  requestAnimationFrame(tick);
  await generate();
  if (q.get('autoplan') === '1') await plan();
}

init().catch((e) => setStatus(`start-up failed: ${e.message}`, true));
