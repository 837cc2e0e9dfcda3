// Pure helpers of the imgd web page: sizes, ages and IDs as the docker CLI
// prints them (github.com/docker/go-units), and `docker images` rows.
// No DOM access, so they can be checked outside a browser.

/** Go's fmt "%.*g" for a non-negative number. */
export function goG(value, precision) {
  if (value === 0) return '0';
  const rounded = Number(value.toPrecision(precision));
  const exp = Math.floor(Math.log10(Math.abs(rounded)));
  if (exp < -4 || exp >= precision) {
    const [mantissa, e] = rounded.toExponential(precision - 1).split('e');
    const m = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(rounded);
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** go-units HumanSizeWithPrecision: decimal units (`docker images` uses 3 digits). */
export function humanSize(bytes, precision = 3) {
  let size = Number(bytes) || 0;
  let i = 0;
  while (size >= 1000 && i < UNITS.length - 1) {
    size /= 1000;
    i += 1;
  }
  return `${goG(size, precision)}${UNITS[i]}`;
}

/** go-units HumanDuration of `ms` milliseconds. */
export function humanDuration(ms) {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3600000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3600000 / 24 / 365)} years`;
}

/** `2 weeks ago`, or the empty string for an unknown time. */
export function createdSince(created, now = Date.now()) {
  if (!created) return '';
  const t = Date.parse(created);
  if (Number.isNaN(t)) return '';
  return `${humanDuration(now - Math.floor(t / 1000) * 1000)} ago`;
}

/** The first 12 hex characters of an ID, without the algorithm. */
export function shortId(id) {
  const hex = String(id ?? '').includes(':') ? String(id).split(':', 2)[1] : String(id ?? '');
  return hex.slice(0, 12);
}

/** Splits `repo:tag` (the tag is after the last colon that follows the last slash). */
export function splitTag(reference) {
  const slash = reference.lastIndexOf('/');
  const colon = reference.lastIndexOf(':');
  if (colon > slash) return [reference.slice(0, colon), reference.slice(colon + 1)];
  return [reference, '<none>'];
}

/** One row per tag, as `docker images` lists them; untagged images give `<none>`. */
export function rowsOf(images) {
  const rows = [];
  for (const image of images) {
    const base = {
      id: image.Id,
      short: shortId(image.Id),
      created: image.Created ? Date.parse(image.Created) : null,
      createdText: image.Created ?? null,
      size: image.Size ?? 0,
      containers: image.Containers ?? 0,
    };
    const tags = image.RepoTags ?? [];
    if (tags.length === 0) {
      const digest = (image.RepoDigests ?? [])[0];
      const repository = digest ? digest.split('@')[0] : '<none>';
      rows.push({ ...base, repository, tag: '<none>', ref: image.Id, tagged: false });
    } else {
      for (const t of tags) {
        const [repository, tag] = splitTag(t);
        rows.push({ ...base, repository, tag, ref: t, tagged: true });
      }
    }
  }
  return rows;
}
