// The code blocks of README.md and pkg-template/README.md, and what the tests do with each. A block says so with an
// HTML comment (invisible on GitHub and npm) on the line before its fence:
//
//   <!-- docs: file <app>/<path>… -->    the file <path> of the framework app <app> (of each, if several):
//                                        tests/js/frameworks.test.mjs (react: tests/js/react.test.mjs) writes it into
//                                        the app, then builds and runs the app in Chromium. The app's fixture folder
//                                        must not have that file.
//   <!-- docs: check[; prelude: D] -->   type-checked (tsc, checkJs, with the packed package installed); D are
//                                        TypeScript declarations of the names a deliberately partial block uses but
//                                        does not define (the default for js, jsx, ts and tsx blocks)
//   <!-- docs: run (…) -->               a shell block that tests/js/docs.test.mjs runs
//   <!-- docs: skip <reason> -->         not run, for the reason given (e.g. `make test` itself)
//
// Any other block, or a marker the extractor does not know, fails tests/js/docs.test.mjs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const DOCS = ['README.md', 'pkg-template/README.md'];
const CHECKED = new Set(['js', 'jsx', 'ts', 'tsx']);

function parseMarker(text, where) {
  if (text === undefined) return null;
  const [kind] = text.split(/[\s;]+/, 1);
  const arg = text.slice(kind.length).trim();
  switch (kind) {
    case 'file': {
      const targets = arg.split(/\s+/).map((t) => /^([\w-]+)\/(\S+)$/.exec(t));
      if (!arg || targets.some((m) => !m)) throw new Error(`${where}: "docs: file" needs <app>/<path>…, got ${JSON.stringify(arg)}`);
      return { kind, targets: targets.map((m) => ({ app: m[1], path: m[2] })) };
    }
    case 'check': {
      const m = /^(?:;\s*prelude:\s*(.+))?$/.exec(arg);
      if (!m) throw new Error(`${where}: "docs: check" takes only "; prelude: <declarations>"`);
      return { kind, prelude: m[1] ?? '' };
    }
    case 'run':
      return { kind, note: arg };
    case 'skip':
      if (!arg) throw new Error(`${where}: "docs: skip" needs a reason`);
      return { kind, reason: arg };
    default:
      throw new Error(`${where}: unknown docs marker ${JSON.stringify(text)}`);
  }
}

/** Every fenced block of a Markdown file: { doc, line, lang, code, marker }, marker defaulted (see above). */
export function codeBlocks(doc) {
  const lines = readFileSync(join(root, doc), 'utf8').split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    let j = i + 1;
    while (j < lines.length && !(lines[j].trim().startsWith(fence) && lines[j].trim().replace(/[`~]/g, '') === '')) j++;
    if (j === lines.length) throw new Error(`${doc}:${i + 1}: unclosed code block`);
    let k = i - 1;
    while (k >= 0 && !lines[k].trim()) k--;
    const where = `${doc}:${i + 1}`;
    const m = k >= 0 ? /^<!-- docs: (.+?) -->$/.exec(lines[k].trim()) : null;
    let marker = parseMarker(m?.[1], where);
    if (!marker && CHECKED.has(lang)) marker = { kind: 'check', prelude: '' };
    if (!marker) throw new Error(`${where}: a \`${lang || 'plain'}\` block needs a <!-- docs: … --> marker (file, check, run or skip)`);
    const code = lines.slice(i + 1, j).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l)).join('\n') + '\n';
    blocks.push({ doc, line: i + 1, lang, code, marker, where });
    i = j;
  }
  return blocks;
}

export const allBlocks = () => DOCS.flatMap(codeBlocks);

/** The files of a framework app as the README gives them: Map path → code. */
export function recipeFiles(app) {
  const files = new Map();
  for (const b of allBlocks()) {
    if (b.marker.kind !== 'file') continue;
    for (const { path } of b.marker.targets.filter((t) => t.app === app)) {
      if (files.has(path)) throw new Error(`${b.where}: ${app}/${path} is given twice`);
      files.set(path, b.code);
    }
  }
  if (!files.size) throw new Error(`no README block is a file of the app ${app}`);
  return files;
}
