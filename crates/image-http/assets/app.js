// The imgd web page: plain modern JavaScript, no framework, no build step.
//
// Everything it shows comes from imgd's HTTP API (api/v1/...), called with
// the token as a Bearer header; the token lives only in sessionStorage and is
// never put in a URL or a cookie (fetch runs with credentials: 'omit').
// All data reaches the page through textContent or element attributes,
// never through innerHTML.

import { createdSince, humanSize, rowsOf, shortId } from './format.js';

const API = 'api/v1';
const TOKEN_KEY = 'imgd.token';
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el;
};

/** Creates an element with attributes and children (strings become text nodes). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'text') el.textContent = String(value);
    else el.setAttribute(key, String(value));
  }
  return el;
}

// ---------------------------------------------------------------------------
// The API.

class ApiError extends Error {
  constructor(status, kind, message) {
    super(message);
    this.status = status;
    this.kind = kind;
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

async function errorOf(res) {
  let kind = 'http';
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.error) {
      kind = body.error.kind ?? kind;
      message = body.error.message ?? message;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(res.status, kind, message);
}

/** Calls the API; `query` is a list of [key, value] pairs. */
async function request(path, { method = 'GET', body, query = [], signal, auth = token() } = {}) {
  const params = new URLSearchParams(query).toString();
  const url = `${API}${path}${params ? `?${params}` : ''}`;
  const headers = { Accept: 'application/json', Authorization: `Bearer ${auth}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
    signal,
  });
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && auth === token()) askToken('The token was refused; enter it again.');
    throw err;
  }
  return res;
}

async function api(path, options) {
  const res = await request(path, options);
  return res.json();
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------------------
// Status line and dialogs.

function say(message, kind = 'info') {
  const status = $('status');
  status.textContent = message;
  status.dataset.kind = kind;
}

function failed(err) {
  if (err instanceof ApiError && err.status === 401) return;
  say(err instanceof Error ? err.message : String(err), 'error');
}

const openers = new WeakMap();

function openDialog(dialog, focus) {
  openers.set(dialog, document.activeElement);
  if (!dialog.open) dialog.showModal();
  if (focus) focus.focus();
}

for (const dialog of document.querySelectorAll('dialog')) {
  dialog.addEventListener('close', () => {
    const opener = openers.get(dialog);
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    else $('images-heading').focus();
  });
  for (const close of dialog.querySelectorAll('button.close')) {
    close.addEventListener('click', () => dialog.close());
  }
}

// ---------------------------------------------------------------------------
// Token.

function askToken(problem = '') {
  $('token-error').textContent = problem;
  const dialog = $('token-dialog');
  if (!dialog.open) {
    for (const other of document.querySelectorAll('dialog[open]')) other.close();
    openDialog(dialog, $('token-input'));
  }
}

// The page cannot work without a token: Escape does not close this dialog.
$('token-dialog').addEventListener('cancel', (event) => event.preventDefault());

$('token-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const candidate = $('token-input').value.trim();
  if (!candidate) return;
  $('token-submit').disabled = true;
  $('token-error').textContent = 'Checking…';
  try {
    await request('/images', { query: [['limit', '1']], auth: candidate });
    sessionStorage.setItem(TOKEN_KEY, candidate);
    $('token-input').value = '';
    $('token-error').textContent = '';
    $('token-dialog').close();
    await refresh();
  } catch (err) {
    $('token-error').textContent =
      err instanceof ApiError && err.status === 401
        ? 'imgd refused this token.'
        : `Cannot reach imgd: ${err.message}`;
  } finally {
    $('token-submit').disabled = false;
  }
});

$('forget-token').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  state.images = [];
  state.containers.clear();
  render();
  drawUsage(null);
  say('Token forgotten.');
  askToken();
});

// ---------------------------------------------------------------------------
// The image table.

const state = {
  images: [],
  containers: new Map(), // image ID -> [ContainerRef]
  sort: { key: 'created', dir: 'descending' },
  filter: '',
};

function containerText(row) {
  if (row.containers === 0) return '';
  const list = state.containers.get(row.id);
  if (!list) return `${row.containers} container${row.containers === 1 ? '' : 's'}`;
  return list.map((c) => `${c.name} (${c.state})`).join(', ');
}

function compareRows(key) {
  // `<none>` sorts after every name.
  const text = (a, b) => (a === '<none>') - (b === '<none>')
    || a.localeCompare(b, undefined, { numeric: true });
  switch (key) {
    case 'repository': return (a, b) => text(a.repository, b.repository) || text(a.tag, b.tag);
    case 'tag': return (a, b) => text(a.tag, b.tag) || text(a.repository, b.repository);
    case 'id': return (a, b) => text(a.id, b.id) || text(a.ref, b.ref);
    case 'size': return (a, b) => a.size - b.size || text(a.ref, b.ref);
    case 'inuse': return (a, b) => a.containers - b.containers || text(a.ref, b.ref);
    case 'created':
    default:
      return (a, b) => (a.created ?? 0) - (b.created ?? 0) || text(a.ref, b.ref);
  }
}

function visibleRows() {
  const needle = state.filter.trim().toLowerCase();
  let rows = rowsOf(state.images);
  if (needle) {
    rows = rows.filter((row) =>
      [row.repository, row.tag, row.id, `${row.repository}:${row.tag}`, containerText(row)]
        .some((field) => field.toLowerCase().includes(needle)));
  }
  const compare = compareRows(state.sort.key);
  rows.sort(state.sort.dir === 'ascending' ? compare : (a, b) => compare(b, a));
  return rows;
}

function render() {
  const body = $('images-body');
  const rows = visibleRows();
  const now = Date.now();
  body.replaceChildren(...rows.map((row) => {
    const name = row.tagged ? row.ref : row.short;
    const inUse = containerText(row);
    return h('tr', { 'data-testid': 'image-row', dataset: { ref: row.ref, id: row.id } },
      h('td', { 'data-col': 'repository', text: row.repository }),
      h('td', { 'data-col': 'tag', text: row.tag }),
      h('td', { 'data-col': 'id', class: 'mono', title: row.id }, h('code', { text: row.short })),
      h('td', { 'data-col': 'created', title: row.createdText ?? 'unknown',
        text: createdSince(row.createdText, now) }),
      h('td', { 'data-col': 'size', class: 'num', title: `${row.size} bytes`, text: humanSize(row.size) }),
      h('td', { 'data-col': 'inuse', class: inUse ? 'inuse' : 'unused' },
        inUse || h('span', { class: 'visually-hidden', text: 'not in use' })),
      h('td', { class: 'row-actions' },
        h('button', { type: 'button', 'data-testid': 'tag-button', 'data-action': 'tag',
          'aria-label': `Tag ${name}`, text: 'Tag…' }),
        h('button', { type: 'button', 'data-testid': 'remove-button', 'data-action': 'remove',
          class: 'danger-text', 'aria-label': `Remove ${name}`, text: 'Remove…' })));
  }));
  const total = rowsOf(state.images).length;
  $('image-count').textContent = rows.length === total
    ? `${total} row${total === 1 ? '' : 's'}`
    : `${rows.length} of ${total} rows`;
  $('images-empty').hidden = rows.length > 0;
  for (const th of document.querySelectorAll('#images-table th[aria-sort]')) {
    const key = th.querySelector('button')?.dataset.sort;
    th.setAttribute('aria-sort', key === state.sort.key ? state.sort.dir : 'none');
  }
}

for (const button of document.querySelectorAll('#images-table th button[data-sort]')) {
  button.addEventListener('click', () => {
    const key = button.dataset.sort;
    if (state.sort.key === key) {
      state.sort.dir = state.sort.dir === 'ascending' ? 'descending' : 'ascending';
    } else {
      state.sort = { key, dir: key === 'created' || key === 'size' || key === 'inuse' ? 'descending' : 'ascending' };
    }
    render();
    say(`Sorted by ${button.textContent.toLowerCase()}, ${state.sort.dir}.`);
  });
}

$('filter-input').addEventListener('input', (event) => {
  state.filter = event.target.value;
  render();
});

$('show-all').addEventListener('change', () => refresh().catch(failed));
$('refresh').addEventListener('click', () => refresh().catch(failed));

$('images-body').addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button[data-action]') : null;
  if (!button) return;
  const tr = button.closest('tr');
  const row = rowsOf(state.images).find((r) => r.ref === tr?.dataset.ref);
  if (!row) return;
  if (button.dataset.action === 'tag') openTag(row);
  else openRemove(row);
});

let loading = null;

/**
 * Reloads the images, their containers and the disk usage. `announce` says
 * the counts on the status line (not after an action, whose own message
 * stays). `body[data-loaded]` is `true` while no reload is under way.
 */
async function refresh({ announce = true } = {}) {
  if (!token()) {
    askToken();
    return;
  }
  document.body.dataset.loaded = 'false';
  const run = (async () => {
    const query = $('show-all').checked ? [['all', 'true']] : [];
    const list = await api('/images', { query });
    state.images = list.images ?? [];
    render();
    const used = state.images.filter((image) => (image.Containers ?? 0) > 0);
    const containers = await Promise.all(used.map((image) =>
      api(`/images/${enc(image.Id)}/containers`).then((list) => [image.Id, list], () => null)));
    state.containers = new Map(containers.filter(Boolean));
    render();
    const usage = await api('/disk-usage');
    drawUsage(usage);
    const rows = rowsOf(state.images).length;
    if (announce) say(`${state.images.length} images, ${rows} rows.`);
  })();
  loading = run;
  try {
    await run;
  } finally {
    if (loading === run) {
      loading = null;
      document.body.dataset.loaded = 'true';
    }
  }
}

// ---------------------------------------------------------------------------
// Tag.

let tagSource = null;

function openTag(row) {
  tagSource = row.ref;
  $('tag-source').textContent = row.tagged ? row.ref : row.short;
  $('tag-target').value = '';
  $('tag-error').textContent = '';
  openDialog($('tag-dialog'), $('tag-target'));
}

$('tag-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const target = $('tag-target').value.trim();
  if (!target || !tagSource) return;
  $('tag-submit').disabled = true;
  try {
    const res = await api(`/images/${enc(tagSource)}/tag`, { method: 'POST', body: { target } });
    $('tag-dialog').close();
    say(`Tagged ${res.source ?? tagSource} as ${res.target ?? target}.`);
    await refresh({ announce: false });
  } catch (err) {
    $('tag-error').textContent = err.message;
  } finally {
    $('tag-submit').disabled = false;
  }
});

// ---------------------------------------------------------------------------
// Remove, with a confirmation and a force option.

let removeTarget = null;

function openRemove(row) {
  removeTarget = row;
  $('remove-name').textContent = row.tagged ? row.ref : row.short;
  $('remove-effect').textContent = row.tagged
    ? 'The tag is removed; if it is the image\u2019s last tag, the image is deleted too.'
    : 'The image is deleted.';
  $('remove-force').checked = false;
  $('remove-error').textContent = '';
  const users = containerText(row);
  $('remove-users').textContent = users ? `Used by: ${users}.` : '';
  openDialog($('remove-dialog'), $('remove-confirm'));
}

function actionText(action) {
  if (action.untagged) return `Untagged: ${action.untagged}`;
  if (action.deleted) return `Deleted: ${action.deleted}`;
  return JSON.stringify(action);
}

$('remove-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!removeTarget) return;
  const force = $('remove-force').checked;
  $('remove-confirm').disabled = true;
  try {
    const res = await api(`/images/${enc(removeTarget.ref)}`, {
      method: 'DELETE',
      query: force ? [['force', 'true']] : [],
    });
    const actions = res.actions ?? [];
    $('remove-dialog').close();
    say(actions.length ? actions.map(actionText).join('; ') : `Removed ${removeTarget.ref}.`);
    await refresh({ announce: false });
  } catch (err) {
    $('remove-error').textContent = err instanceof ApiError && err.status === 409 && !force
      ? `${err.message} (Check “Force” to remove it anyway.)`
      : err.message;
  } finally {
    $('remove-confirm').disabled = false;
  }
});

// ---------------------------------------------------------------------------
// Prune: a dry-run plan first, then the confirmation.

function pruneOptions() {
  const until = $('prune-until').value.trim();
  return {
    all: $('prune-all').checked,
    filters: until ? [`until=${until}`] : [],
  };
}

let prunePlan = null;

function resetPrunePlan() {
  prunePlan = null;
  $('prune-plan').hidden = true;
  $('prune-actions').replaceChildren();
  $('prune-space').textContent = '';
  $('prune-confirm').disabled = true;
}

$('prune-open').addEventListener('click', () => {
  resetPrunePlan();
  $('prune-error').textContent = '';
  openDialog($('prune-dialog'), $('prune-preview'));
});

for (const id of ['prune-all', 'prune-until']) {
  $(id).addEventListener('input', resetPrunePlan);
}

/** Every local image, intermediates included, by ID: to tell images from layers in a report. */
async function allImages() {
  const list = await api('/images', { query: [['all', 'true']] });
  return new Map((list.images ?? []).map((image) => [image.Id, image]));
}

/**
 * One line of a prune report. Like docker, a report lists deleted layers
 * (their chain IDs) next to deleted images; `images` tells them apart.
 */
function pruneItem(action, images) {
  if (action.untagged) {
    return h('li', { 'data-testid': 'prune-action', 'data-kind': 'tag', 'data-ref': action.untagged },
      'Untag ', h('code', { text: action.untagged }));
  }
  const id = action.deleted ?? '';
  const image = images.get(id);
  if (!image) {
    return h('li', { 'data-testid': 'prune-action', 'data-kind': 'layer', 'data-id': id, title: id },
      'Delete layer ', h('code', { text: shortId(id) }));
  }
  const tags = image.RepoTags?.length ? image.RepoTags.join(', ') : '<none>';
  return h('li', { 'data-testid': 'prune-action', 'data-kind': 'image', 'data-id': id, title: id },
    'Delete image ', h('code', { text: shortId(id) }), ` ${tags}, ${humanSize(image.Size ?? 0)}`);
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

$('prune-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  resetPrunePlan();
  $('prune-error').textContent = '';
  $('prune-preview').disabled = true;
  const options = pruneOptions();
  try {
    const [report, images] = await Promise.all([
      api('/images/prune', { method: 'POST', body: { ...options, dry_run: true } }),
      allImages(),
    ]);
    const actions = report.actions ?? [];
    const items = actions.map((action) => pruneItem(action, images));
    $('prune-actions').replaceChildren(...items);
    const deleted = items.filter((li) => li.dataset.kind === 'image').length;
    $('prune-space').textContent = actions.length
      ? `Would delete ${plural(deleted, 'image')} and free ${humanSize(report.space_reclaimed ?? 0, 4)}.`
      : 'Nothing to prune.';
    $('prune-plan').hidden = false;
    prunePlan = actions.length ? options : null;
    $('prune-confirm').disabled = !prunePlan;
    (prunePlan ? $('prune-confirm') : $('prune-preview')).focus();
  } catch (err) {
    $('prune-error').textContent = err.message;
  } finally {
    $('prune-preview').disabled = false;
  }
});

$('prune-confirm').addEventListener('click', async () => {
  if (!prunePlan) return;
  $('prune-confirm').disabled = true;
  try {
    const images = await allImages();
    const report = await api('/images/prune', { method: 'POST', body: { ...prunePlan, dry_run: false } });
    const deleted = (report.actions ?? []).filter((a) => a.deleted && images.has(a.deleted)).length;
    $('prune-dialog').close();
    say(`Pruned: ${plural(deleted, 'image')} deleted, ${humanSize(report.space_reclaimed ?? 0, 4)} freed.`);
    await refresh({ announce: false });
  } catch (err) {
    $('prune-error').textContent = err.message;
    $('prune-confirm').disabled = false;
  }
});

// ---------------------------------------------------------------------------
// Pull: the NDJSON stream, one progress bar per layer.

let pullAbort = null;

const DONE_STATUSES = /^(Pull complete|Already exists|Pushed|Layer already exists|Mounted from)/;

function layerFraction(event) {
  const { status, current, total } = event;
  if (DONE_STATUSES.test(status)) return 1;
  const part = total > 0 && current != null ? Math.min(current / total, 1) : null;
  if (status.startsWith('Downloading')) return part === null ? null : part / 2;
  if (status.startsWith('Verifying') || status.startsWith('Download complete')) return 0.5;
  if (status.startsWith('Extracting')) return part === null ? 0.5 : 0.5 + part / 2;
  return part;
}

function showLayer(event) {
  const list = $('pull-layers');
  let item = [...list.children].find((li) => li.dataset.layerId === event.id);
  if (!item) {
    const label = `layer-${list.children.length}`;
    item = h('li', { 'data-testid': 'pull-layer', dataset: { layerId: event.id } },
      h('span', { class: 'layer-id', id: `${label}-id` }, h('code', { text: event.id })),
      h('span', { class: 'layer-status', id: `${label}-status` }),
      h('progress', { max: '1000', value: '0', 'aria-labelledby': `${label}-id ${label}-status` }));
    list.append(item);
  }
  const fraction = layerFraction(event);
  const bar = item.querySelector('progress');
  if (fraction !== null) bar.value = Math.round(fraction * 1000);
  let text = event.status;
  if (event.current != null && event.total) {
    text += ` ${humanSize(event.current)} / ${humanSize(event.total)}`;
  }
  item.querySelector('.layer-status').textContent = text;
  item.dataset.status = event.status;
  item.dataset.updates = String(Number(item.dataset.updates ?? 0) + 1);
  item.dataset.state = DONE_STATUSES.test(event.status) ? 'done' : 'active';
}

function pullMessage(text) {
  $('pull-messages').append(h('li', { text }));
}

function pullStatus(text, stateName) {
  const status = $('pull-status');
  status.textContent = text;
  status.dataset.state = stateName;
  $('pull-dialog').dataset.state = stateName;
}

function handlePullEvent(event) {
  switch (event.type) {
    case 'layer':
      if (/^(Pulling from|The push refers to)/.test(event.status)) pullMessage(`${event.id}: ${event.status}`);
      else showLayer(event);
      return null;
    case 'message':
      pullMessage(event.text);
      return null;
    case 'done':
      return { ok: true, event };
    case 'error':
      return { ok: false, message: event.error?.message ?? 'the pull failed', kind: event.error?.kind };
    default:
      return null;
  }
}

/** Reads an NDJSON body, calling `onEvent` per line; stops at the first non-null result. */
async function readNdjson(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value ?? new Uint8Array(), { stream: !done });
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (!line) continue;
      const outcome = onEvent(JSON.parse(line));
      if (outcome) {
        reader.cancel().catch(() => {});
        return outcome;
      }
    }
    if (done) {
      const rest = buffer.trim();
      if (rest) return onEvent(JSON.parse(rest));
      return null;
    }
  }
}

$('pull-open').addEventListener('click', () => {
  if (!pullAbort) {
    $('pull-layers').replaceChildren();
    $('pull-messages').replaceChildren();
    pullStatus('', 'idle');
  }
  openDialog($('pull-dialog'), $('pull-reference'));
});

$('pull-dialog').addEventListener('close', () => {
  if (pullAbort) pullAbort.abort();
});

$('pull-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const reference = $('pull-reference').value.trim();
  if (!reference || pullAbort) return;
  const platform = $('pull-platform').value.trim();
  $('pull-layers').replaceChildren();
  $('pull-messages').replaceChildren();
  pullStatus(`Pulling ${reference}…`, 'running');
  $('pull-submit').disabled = true;
  const abort = new AbortController();
  pullAbort = abort;
  try {
    const res = await request('/images/pull', {
      method: 'POST',
      body: { reference, platform: platform || null, all_tags: $('pull-all-tags').checked, auth: null },
      signal: abort.signal,
    });
    const outcome = await readNdjson(res.body, handlePullEvent);
    if (!outcome) {
      pullStatus(`Error: the stream ended before the pull finished.`, 'error');
    } else if (outcome.ok) {
      const done = outcome.event;
      pullStatus(`Done: pulled ${done.reference ?? reference}`
        + `${done.image_id ? ` (image ${shortId(done.image_id)})` : ''}.`, 'done');
      say(`Pulled ${done.reference ?? reference}.`);
      refresh({ announce: false }).catch(failed);
    } else {
      pullStatus(`Error: ${outcome.message}`, 'error');
    }
  } catch (err) {
    if (abort.signal.aborted) pullStatus('Cancelled.', 'error');
    else pullStatus(`Error: ${err.message}`, 'error');
  } finally {
    pullAbort = null;
    $('pull-submit').disabled = false;
  }
});

// ---------------------------------------------------------------------------
// Disk usage: shared versus unique bytes per image, as an SVG bar chart.

function drawUsage(usage) {
  const chart = $('usage-chart');
  const title = chart.querySelector('title');
  chart.replaceChildren(title);
  const tbody = $('usage-table').querySelector('tbody');
  tbody.replaceChildren();
  if (!usage) {
    $('usage-summary').textContent = '';
    chart.setAttribute('height', '0');
    return;
  }
  const images = [...(usage.images ?? [])].sort((a, b) => b.size - a.size);
  const uniqueTotal = images.reduce((sum, i) => sum + (i.unique_size ?? 0), 0);
  const layers = usage.layers_size ?? 0;
  const sharedTotal = Math.max(layers - uniqueTotal, 0);
  const active = images.filter((i) => i.containers > 0).length;
  $('usage-summary').textContent =
    `${images.length} images (${active} in use) take ${humanSize(layers, 4)}: `
    + `${humanSize(sharedTotal, 4)} in layers shared between images, `
    + `${humanSize(uniqueTotal, 4)} unique. Reclaimable: ${humanSize(usage.reclaimable ?? 0, 4)}.`;

  const nameOf = (i) => (i.repo_tags && i.repo_tags.length ? i.repo_tags.join(', ') : `<none> ${shortId(i.id)}`);
  const rows = [
    { name: 'All images (each layer once)', shared: sharedTotal, unique: uniqueTotal, total: true },
    ...images.map((i) => ({ name: nameOf(i), shared: i.shared_size ?? 0, unique: i.unique_size ?? 0, id: i.id })),
  ];
  const width = 900;
  const labelWidth = 300;
  const valueWidth = 150;
  const barArea = width - labelWidth - valueWidth;
  const rowHeight = 26;
  const max = Math.max(1, ...rows.map((r) => r.shared + r.unique));
  const height = rows.length * rowHeight + 8;
  chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
  chart.setAttribute('height', String(height));
  rows.forEach((row, index) => {
    const y = 4 + index * rowHeight;
    const g = svg('g', { 'data-testid': 'usage-bar', class: row.total ? 'total' : 'image' });
    if (row.id) g.setAttribute('data-id', row.id);
    const label = row.name.length > 42 ? `${row.name.slice(0, 41)}…` : row.name;
    g.append(svg('text', { x: labelWidth - 8, y: y + rowHeight / 2 + 4, 'text-anchor': 'end', class: 'label', text: label }));
    const sharedW = (row.shared / max) * barArea;
    const uniqueW = (row.unique / max) * barArea;
    const shared = svg('rect', { x: labelWidth, y: y + 3, width: sharedW.toFixed(1), height: rowHeight - 8, class: 'shared', 'data-testid': 'usage-shared' });
    shared.append(svg('title', { text: `${row.name}: ${humanSize(row.shared, 4)} shared` }));
    const unique = svg('rect', { x: (labelWidth + sharedW).toFixed(1), y: y + 3, width: uniqueW.toFixed(1), height: rowHeight - 8, class: 'unique', 'data-testid': 'usage-unique' });
    unique.append(svg('title', { text: `${row.name}: ${humanSize(row.unique, 4)} unique` }));
    g.append(shared, unique);
    g.append(svg('text', { x: labelWidth + sharedW + uniqueW + 6, y: y + rowHeight / 2 + 4, class: 'value',
      text: `${humanSize(row.shared, 3)} + ${humanSize(row.unique, 3)}` }));
    chart.append(g);
  });
  for (const i of images) {
    tbody.append(h('tr', {},
      h('th', { scope: 'row', text: nameOf(i) }),
      h('td', { class: 'num', text: humanSize(i.shared_size ?? 0, 4) }),
      h('td', { class: 'num', text: humanSize(i.unique_size ?? 0, 4) }),
      h('td', { class: 'num', text: humanSize(i.size ?? 0, 4) }),
      h('td', { class: 'num', text: String(i.containers ?? 0) })));
  }
}

// ---------------------------------------------------------------------------
// Start.

if (token()) refresh().catch(failed);
else askToken();
