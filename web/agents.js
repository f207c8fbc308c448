// Flow-Opt agent visualizer: run one episode of an agent in its built-in plane environment
// (`POST /v1/agents/{id}/rollout`) and replay it: walls, the goal, the learner (blue) with its
// trail and action, and the other robots. Plain ES module, no build step.
// URL parameters: ?agent=ID&seed=N&autorun=1.

import { $, api, setStatus } from '/common.js';

const PLANE = new Set(['point-maze', 'swarm-nav']);
const state = { rollout: null, agent: null, step: 0, playing: true, last: null, carry: 0 };

async function loadAgents() {
  const agents = (await api('/v1/agents')).filter((a) => PLANE.has(a.env));
  const select = $('agent');
  select.replaceChildren(...agents.map((a) => {
    const option = document.createElement('option');
    option.value = a.id;
    option.textContent = `${a.id} (${a.algorithm})`;
    option.agent = a;
    return option;
  }));
  const wanted = new URLSearchParams(location.search).get('agent');
  if (wanted && agents.some((a) => a.id === wanted)) select.value = wanted;
  setStatus(agents.length ? `${agents.length} agents` : 'no agent of point-maze or swarm-nav: create one with POST /v1/agents');
  return agents.length > 0;
}

async function run() {
  const option = $('agent').selectedOptions[0];
  if (!option) return;
  const seed = Math.max(0, parseInt($('seed').value, 10) || 0);
  document.body.dataset.state = 'loading';
  setStatus(`running ${option.value} on seed ${seed}…`);
  try {
    const started = performance.now();
    const rollout = await api(`/v1/agents/${encodeURIComponent(option.value)}/rollout`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ seed }),
    });
    const ms = performance.now() - started;
    state.rollout = rollout;
    state.agent = option.agent;
    state.step = 0;
    state.carry = 0;
    state.playing = true;
    $('play').textContent = 'Pause';
    $('step').max = String(rollout.frames.length - 1);
    $('title').textContent = `${option.agent.algorithm} on ${rollout.env}, seed ${seed}`;
    document.body.dataset.frames = String(rollout.frames.length);
    showMetrics(rollout, option.agent, ms);
    setStatus(`${option.value}: ${rollout.success ? 'success' : 'no success'} in ${rollout.frames.length - 1} steps`);
    document.body.dataset.state = 'animating';
    draw(); // the first frame now, not at the next animation frame
  } catch (e) {
    document.body.dataset.state = 'error';
    setStatus(e.message, true);
  }
}

function showMetrics(rollout, agent, ms) {
  const rows = [
    ['outcome', rollout.success ? 'success' : 'no success', rollout.success ? 'feasible' : 'infeasible'],
    ['return', rollout.episode_return.toFixed(2)],
    ['steps', String(rollout.frames.length - 1)],
    ['network calls per action', String(agent.calls_per_action)],
    ['actions per chunk', String(agent.chunk_actions)],
    ['episode computed in', `${ms.toFixed(0)} ms`],
  ];
  $('metrics').replaceChildren(...rows.map(([k, v, cls]) => {
    const tr = document.createElement('tr');
    const a = document.createElement('td');
    const b = document.createElement('td');
    a.textContent = k;
    b.textContent = v;
    if (cls) b.className = cls;
    tr.append(a, b);
    return tr;
  }));
}

function draw() {
  const canvas = $('canvas');
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const frames = state.rollout?.frames;
  const scene = frames?.[state.step]?.scene;
  if (!scene) return;
  const [x0, y0, x1, y1] = scene.bounds;
  const pad = 10;
  const scale = Math.min((canvas.width - 2 * pad) / (x1 - x0), (canvas.height - 2 * pad) / (y1 - y0));
  const X = (x) => pad + (x - x0) * scale;
  const Y = (y) => canvas.height - pad - (y - y0) * scale;
  ctx.strokeStyle = '#999';
  ctx.strokeRect(X(x0), Y(y1), (x1 - x0) * scale, (y1 - y0) * scale);
  ctx.fillStyle = '#bbb';
  for (const [a, b, c, d] of scene.walls) ctx.fillRect(X(a), Y(d), (c - a) * scale, (d - b) * scale);
  const disc = (d, fill, stroke) => {
    ctx.beginPath();
    ctx.arc(X(d.x), Y(d.y), Math.max(2, d.r * scale), 0, 2 * Math.PI);
    if (fill) { ctx.fillStyle = fill; ctx.fill(); }
    if (stroke) { ctx.strokeStyle = stroke; ctx.lineWidth = 2; ctx.stroke(); ctx.lineWidth = 1; }
  };
  disc(scene.goal, null, '#1e8449');
  // The learner's trail so far.
  ctx.strokeStyle = 'rgba(42, 111, 219, 0.5)';
  ctx.beginPath();
  frames.slice(0, state.step + 1).forEach((f, i) => {
    const p = f.scene.bodies[0];
    if (i === 0) ctx.moveTo(X(p.x), Y(p.y)); else ctx.lineTo(X(p.x), Y(p.y));
  });
  ctx.stroke();
  scene.bodies.forEach((b, i) => disc(b, i === 0 ? '#2a6fdb' : '#e67e22', null));
  // The action taken from here, an arrow of length 0.5 m per unit.
  const action = frames[state.step].action;
  if (action.length === 2) {
    const p = scene.bodies[0];
    ctx.strokeStyle = '#c0392b';
    ctx.beginPath();
    ctx.moveTo(X(p.x), Y(p.y));
    ctx.lineTo(X(p.x + 0.5 * action[0]), Y(p.y + 0.5 * action[1]));
    ctx.stroke();
  }
  document.body.dataset.bodiesDrawn = String(scene.bodies.length);
  $('step').value = String(state.step);
  const reward = frames.slice(1, state.step + 1).reduce((s, f) => s + f.reward, 0);
  $('clock').textContent = `step ${state.step} of ${frames.length - 1}, return ${reward.toFixed(2)}`;
}

function tick(now) {
  const frames = state.rollout?.frames;
  if (frames && state.playing && state.last !== null) {
    // Environment steps are 0.1 s: 10 steps/s at 1x.
    state.carry += ((now - state.last) / 1000) * Number($('speed').value);
    const advance = Math.floor(state.carry);
    state.carry -= advance;
    state.step = Math.min(frames.length - 1, state.step + advance);
    if (state.step === frames.length - 1) {
      state.playing = false;
      $('play').textContent = 'Play';
      document.body.dataset.state = 'done';
    }
  }
  state.last = now;
  draw();
  requestAnimationFrame(tick);
}

$('run').addEventListener('click', run);
$('play').addEventListener('click', () => {
  if (!state.rollout) return;
  if (!state.playing && state.step === state.rollout.frames.length - 1) state.step = 0;
  state.playing = !state.playing;
  $('play').textContent = state.playing ? 'Pause' : 'Play';
  document.body.dataset.state = state.playing ? 'animating' : 'paused';
});
$('step').addEventListener('input', () => {
  state.step = parseInt($('step').value, 10) || 0;
  state.playing = false;
  $('play').textContent = 'Play';
});

const params = new URLSearchParams(location.search);
if (params.has('seed')) $('seed').value = params.get('seed');
loadAgents()
  .then((any) => { if (any && params.get('autorun') === '1') run(); })
  .catch((e) => setStatus(e.message, true));
requestAnimationFrame(tick);
