// The imgd web page: plain modern JavaScript, no framework, no build step.
//
// Everything it shows comes from imgd's HTTP API (api/v1/...), called with
// the token as a Bearer header; the token lives only in sessionStorage and is
// never put in a URL or a cookie (fetch runs with credentials: 'omit').
// All data reaches the page through textContent or element attributes,
// never through innerHTML.

import { createdSince, humanSize, rowsOf, shortId, splitTag } from './format.js';

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
  state.outdated.clear();
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
  outdated: new Map(), // `${ref} ${image ID}` -> {status, local_digest, registry_digest, reason}
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
    const outdated = state.outdated.get(outdatedKey(row));
    const dataset = { ref: row.ref, id: row.id };
    if (outdated) dataset.outdated = outdated.status;
    return h('tr', { 'data-testid': 'image-row', dataset },
      h('td', { 'data-col': 'repository', text: row.repository }),
      h('td', { 'data-col': 'tag' }, row.tag, updateBadge(row)),
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
$('refresh').addEventListener('click', () => {
  // Ask the registries again too.
  state.outdated.clear();
  refresh().catch(failed);
});

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
    checkOutdated().catch(() => {});
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
// "Update available": each tag of an image pulled from a registry is
// compared with what the registry serves now, a few at a time, after the
// table is drawn; answers are kept until the Refresh button.

const OUTDATED_AT_ONCE = 3;

function outdatedKey(row) {
  return `${row.ref} ${row.id}`;
}

function updateBadge(row) {
  const outdated = state.outdated.get(outdatedKey(row));
  if (outdated?.status !== 'update_available') return null;
  return h('span', {
    class: 'badge', 'data-testid': 'update-badge',
    title: `The registry's ${row.ref} is ${shortId(outdated.registry_digest)}; `
      + `this image was pulled as ${shortId(outdated.local_digest)}.`,
    text: 'update available',
  });
}

/** Redraws the tag cell of the rows of `ref` on image `id`. */
function showOutdated(row) {
  for (const tr of document.querySelectorAll('#images-body tr[data-testid=image-row]')) {
    if (tr.dataset.ref !== row.ref || tr.dataset.id !== row.id) continue;
    const outdated = state.outdated.get(outdatedKey(row));
    if (outdated) tr.dataset.outdated = outdated.status;
    tr.querySelector('td[data-col=tag]')?.replaceChildren(row.tag, ...[updateBadge(row)].filter(Boolean));
  }
}

let outdatedRun = 0;

async function checkOutdated() {
  const run = ++outdatedRun;
  const pulled = new Set(state.images
    .filter((image) => (image.RepoDigests ?? []).length > 0)
    .map((image) => image.Id));
  const todo = rowsOf(state.images)
    .filter((row) => row.tagged && pulled.has(row.id) && !state.outdated.has(outdatedKey(row)));
  const worker = async () => {
    while (todo.length > 0 && run === outdatedRun) {
      const row = todo.shift();
      try {
        state.outdated.set(outdatedKey(row), await api(`/images/${enc(row.ref)}/outdated`));
      } catch {
        // Gone meanwhile, or the token went: nothing to show.
        continue;
      }
      showOutdated(row);
    }
  };
  await Promise.all(Array.from({ length: OUTDATED_AT_ONCE }, worker));
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
// Cleanup: one retention rule, its plan (a dry run), then the confirmation.

/** Globs from a field, separated by commas or white space. */
function globs(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

/** The policy of the form, or null after saying what is missing. */
function cleanupPolicy() {
  const repositories = globs($('cleanup-repositories').value);
  $('cleanup-repositories').toggleAttribute('aria-invalid', repositories.length === 0);
  if (repositories.length === 0) {
    $('cleanup-error').textContent = 'Name at least one repository (a glob such as myapp or team/*).';
    $('cleanup-repositories').focus();
    return null;
  }
  const rule = {
    repository: repositories,
    keep: globs($('cleanup-keep').value),
    order: $('cleanup-order').value,
    dangling: $('cleanup-dangling').checked,
  };
  const keepLast = $('cleanup-keep-last').value.trim();
  if (keepLast) rule.keep_last = Number(keepLast);
  const olderThan = $('cleanup-older-than').value.trim();
  if (olderThan) rule.older_than = olderThan;
  return { rules: [rule] };
}

/** Why a tag or image goes (a RemovalReason). */
function removalText(reason) {
  switch (reason?.kind) {
    case 'expired': {
      const parts = [];
      if (reason.keep_last != null) parts.push(`beyond the newest ${reason.keep_last} (rank ${reason.rank})`);
      else parts.push(`rank ${reason.rank}`);
      if (reason.older_than) parts.push(`older than ${reason.older_than}`);
      return parts.join(', ');
    }
    case 'all_tags_removed': return 'all its tags are removed';
    case 'dangling': return reason.older_than ? `dangling, older than ${reason.older_than}` : 'dangling';
    case 'untagged_parent': return `untagged parent of deleted ${shortId(reason.child)}`;
    default: return reason?.kind ?? '';
  }
}

/** Why a tag or image stays (a KeepReason). */
function keepText(reason) {
  switch (reason?.kind) {
    case 'in_use': return `in use by ${(reason.containers ?? []).join(', ')}`;
    case 'protected': return `matches keep glob ${reason.glob}`;
    case 'within_newest': return `among the newest ${reason.keep_last} (rank ${reason.rank})`;
    case 'too_recent': return `not older than ${reason.older_than}`;
    case 'unknown_age': return 'no creation time';
    case 'no_expiry': return 'the rule sets neither keep last nor older than';
    case 'not_matched': return 'no rule matches';
    case 'has_children': return 'kept images are built on it';
    case 'refused': return `the engine would refuse: ${reason.message}`;
    default: return reason?.kind ?? '';
  }
}

/**
 * Go's path.Match pattern as a RegExp over a whole name (`*` and `?` do not
 * match `/`), or null when malformed. Only used to pick the rows to show:
 * imgd decides what matches.
 */
function globRegExp(glob) {
  const literal = (c) => c.replace(/[\\^$.*+?()[\]{}|\/-]/g, '\\$&');
  let re = '';
  for (let i = 0; i < glob.length; i += 1) {
    const c = glob[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      i += 1;
      if (i >= glob.length) return null;
      re += literal(glob[i]);
    } else if (c === '[') {
      let j = i + 1;
      let cls = '';
      if (glob[j] === '^') {
        cls += '^';
        j += 1;
      }
      const start = j;
      for (; j < glob.length && (glob[j] !== ']' || j === start); j += 1) {
        if (glob[j] === '\\') {
          j += 1;
          if (j >= glob.length) return null;
          cls += literal(glob[j]);
        } else {
          cls += glob[j] === '-' ? '-' : literal(glob[j]);
        }
      }
      if (j >= glob.length) return null;
      re += `[${cls}]`;
      i = j;
    } else {
      re += literal(c);
    }
  }
  try {
    return new RegExp(`^${re}$`);
  } catch {
    return null;
  }
}

/** Whether a repository falls under one of the rule's globs (malformed ones match all). */
function ruleMatches(policy, repository) {
  return policy.rules.some((rule) => rule.repository.some((glob) => {
    const re = globRegExp(glob);
    return re === null || re.test(repository);
  }));
}

/**
 * The plan's rows: removals in the plan's order, then the tags that stay in
 * the repositories the rule names, with the reasons.
 */
function planRows(plan, images, policy) {
  const rows = [];
  for (const action of plan.actions ?? []) {
    if (action.action === 'untag') {
      const [repository, tag] = splitTag(action.reference);
      rows.push({ repository, tag, id: action.image_id, action: 'untag', reason: removalText(action.reason) });
    } else {
      const image = images.get(action.image_id);
      const named = image?.RepoTags?.[0] ?? image?.RepoDigests?.[0]?.split('@')[0];
      const repository = named ? splitTag(named)[0] : '<none>';
      rows.push({ repository, tag: '—', id: action.image_id, action: 'delete', reason: removalText(action.reason) });
    }
  }
  for (const kept of plan.kept ?? []) {
    for (const tag of kept.tags ?? []) {
      const [repository, name] = splitTag(tag.tag);
      if (tag.reason?.kind === 'not_matched' || !ruleMatches(policy, repository)) continue;
      rows.push({ repository, tag: name, id: kept.image_id, action: 'keep', reason: keepText(tag.reason) });
    }
  }
  return rows;
}

let cleanupPlanned = null;

function resetCleanupPlan() {
  cleanupPlanned = null;
  $('cleanup-confirm').disabled = true;
  $('cleanup-plan-wrap').hidden = true;
  $('cleanup-plan').querySelector('tbody').replaceChildren();
  $('cleanup-summary').textContent = '';
  $('cleanup-report').hidden = true;
  $('cleanup-report').replaceChildren();
}

for (const id of ['cleanup-repositories', 'cleanup-keep', 'cleanup-keep-last', 'cleanup-older-than',
  'cleanup-order', 'cleanup-dangling']) {
  $(id).addEventListener('input', () => {
    resetCleanupPlan();
    $('cleanup-error').textContent = '';
  });
}

$('cleanup-open').addEventListener('click', () => {
  $('cleanup-view').scrollIntoView({ block: 'start' });
  $('cleanup-heading').focus();
});

$('cleanup-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  resetCleanupPlan();
  $('cleanup-error').textContent = '';
  const policy = cleanupPolicy();
  if (!policy) return;
  $('cleanup-plan-button').disabled = true;
  try {
    const [answer, images] = await Promise.all([
      api('/cleanup', { method: 'POST', body: { policy, dry_run: true } }),
      allImages(),
    ]);
    const plan = answer.plan ?? {};
    const rows = planRows(plan, images, policy);
    $('cleanup-plan').querySelector('tbody').replaceChildren(...rows.map((row) =>
      h('tr', { 'data-testid': 'cleanup-row', dataset: { action: row.action, id: row.id } },
        h('td', { 'data-col': 'repository', text: row.repository }),
        h('td', { 'data-col': 'tag', text: row.tag }),
        h('td', { 'data-col': 'id', class: 'mono', title: row.id }, h('code', { text: shortId(row.id) })),
        h('td', { 'data-col': 'action', class: `action-${row.action}`, text: row.action }),
        h('td', { 'data-col': 'reason', text: row.reason }))));
    $('cleanup-plan-wrap').hidden = rows.length === 0;
    const untags = rows.filter((r) => r.action === 'untag').length;
    const deletes = rows.filter((r) => r.action === 'delete').length;
    $('cleanup-summary').textContent = untags + deletes > 0
      ? `Would untag ${plural(untags, 'tag')} and delete ${plural(deletes, 'image')}, `
        + `freeing ${humanSize(plan.freed_bytes ?? 0, 4)}.`
      : 'Nothing to clean up: every tag stays.';
    cleanupPlanned = untags + deletes > 0 ? policy : null;
    $('cleanup-confirm').disabled = !cleanupPlanned;
  } catch (err) {
    $('cleanup-error').textContent = err.message;
  } finally {
    $('cleanup-plan-button').disabled = false;
  }
});

function outcomeItem({ action, outcome }) {
  const what = action.action === 'untag' ? action.reference : shortId(action.image_id);
  const verb = action.action === 'untag' ? 'Untagged' : 'Deleted';
  let text;
  switch (outcome?.status) {
    case 'done': text = `${verb} ${what}`; break;
    case 'already_done': text = `${verb} ${what} (with an earlier step)`; break;
    case 'refused': text = `Refused: ${what}: ${outcome.error}`; break;
    case 'changed': text = `Skipped ${what}: ${outcome.detail}`; break;
    case 'unplanned': text = `${verb} ${what}, and more than planned: ${outcome.detail}`; break;
    default: text = `${what}: ${outcome?.status ?? 'unknown'}`;
  }
  return h('li', { 'data-testid': 'cleanup-outcome', 'data-status': outcome?.status ?? '', text });
}

$('cleanup-confirm').addEventListener('click', async () => {
  const policy = cleanupPlanned;
  if (!policy) return;
  $('cleanup-confirm').disabled = true;
  $('cleanup-error').textContent = '';
  try {
    const answer = await api('/cleanup', { method: 'POST', body: { policy, dry_run: false } });
    const outcomes = answer.report?.outcomes ?? [];
    const count = (...statuses) => outcomes.filter((o) => statuses.includes(o.outcome?.status)).length;
    const freed = answer.report?.freed_bytes;
    const summary = `Cleaned up: ${count('done', 'already_done')} done, ${count('refused')} refused, `
      + `${count('changed')} skipped as changed since the plan, `
      + `${count('unplanned')} removed more than planned; `
      + `${freed == null ? 'the space freed is unknown' : `${humanSize(freed, 4)} freed`}.`;
    cleanupPlanned = null;
    $('cleanup-plan-wrap').hidden = true;
    $('cleanup-report').replaceChildren(...outcomes.map(outcomeItem));
    $('cleanup-report').hidden = outcomes.length === 0;
    $('cleanup-summary').textContent = summary;
    $('cleanup-plan-button').focus();
    say(summary);
    await refresh({ announce: false });
  } catch (err) {
    $('cleanup-error').textContent = err.message;
    $('cleanup-confirm').disabled = false;
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
