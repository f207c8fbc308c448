// What both visualizer pages share: element lookup, the status line, and API calls whose
// errors carry the service's JSON error (status, code, field, message).

export const $ = (id) => document.getElementById(id);

export function setStatus(text, error = false) {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', error);
}

export async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const e = body?.error;
    throw new Error(e ? `${response.status} ${e.code}${e.field ? ` (${e.field})` : ''}: ${e.message}` : `HTTP ${response.status}`);
  }
  return body;
}
