/**
 * `di security`'s runner: runs test/security/** with vitest (a child process, JSON results), maps
 * every result to the catalogue by the `[ID]` at the start of its title, and renders the report
 * (Markdown and HTML) and the JSON summary.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CATALOGUE, FAMILIES, NOT_YET, type Attack, type Family } from './catalogue.js';

export interface TestOutcome {
  title: string;
  file: string;
  status: 'passed' | 'failed' | 'skipped' | 'pending' | 'todo' | 'disabled';
  durationMs: number;
  failure: string | null;
  evidence: Record<string, unknown>;
}

export interface AttackResult extends Attack {
  result: 'passed' | 'failed' | 'not present';
  tests: TestOutcome[];
}

export interface SecuritySummary {
  total: number;
  passed: number;
  failed: number;
  families: Record<string, { total: number; passed: number }>;
}

export interface SecurityRun {
  summary: SecuritySummary;
  attacks: AttackResult[];
  /** Tests in test/security with no catalogue ID (supporting checks), and IDs no catalogue entry has. */
  untagged: TestOutcome[];
  unknownIds: string[];
  durationMs: number;
  fuzzMinutes: number;
}

const ID_RE = /^\[([A-Z]+-\d+)\]/;

interface VitestJson {
  testResults: Array<{ name: string; assertionResults: Array<{ title: string; status: TestOutcome['status']; duration?: number | null; failureMessages?: string[]; meta?: { evidence?: Record<string, unknown> } }> }>;
}

/** Maps vitest JSON results to catalogue entries. */
export function mapResults(json: VitestJson, root: string, catalogue: readonly Attack[] = CATALOGUE): Omit<SecurityRun, 'durationMs' | 'fuzzMinutes'> {
  const byId = new Map<string, TestOutcome[]>();
  const untagged: TestOutcome[] = [];
  for (const f of json.testResults) {
    const file = relative(root, f.name);
    for (const a of f.assertionResults) {
      const t: TestOutcome = {
        title: a.title, file, status: a.status, durationMs: Math.round(a.duration ?? 0),
        failure: a.failureMessages && a.failureMessages.length > 0 ? a.failureMessages.join('\n').slice(0, 2000) : null,
        evidence: a.meta?.evidence ?? {},
      };
      const m = ID_RE.exec(a.title);
      if (!m) untagged.push(t);
      else byId.set(m[1]!, [...(byId.get(m[1]!) ?? []), t]);
    }
  }
  for (const a of catalogue.filter((x) => x.wholeFile)) {
    const mine = untagged.filter((t) => t.file === a.test);
    if (mine.length > 0) byId.set(a.id, [...(byId.get(a.id) ?? []), ...mine]);
    for (const t of mine) untagged.splice(untagged.indexOf(t), 1);
  }
  const known = new Set(catalogue.map((a) => a.id));
  const unknownIds = [...byId.keys()].filter((id) => !known.has(id));
  const attacks: AttackResult[] = catalogue.map((a) => {
    const tests = byId.get(a.id) ?? [];
    let result: AttackResult['result'];
    if (tests.length === 0) result = a.optional ? 'not present' : 'failed';
    else result = tests.every((t) => t.status === 'passed') ? 'passed' : 'failed';
    return { ...a, result, tests };
  });
  const counted = attacks.filter((a) => a.result !== 'not present');
  const families: SecuritySummary['families'] = {};
  for (const a of counted) {
    const f = (families[a.family] ??= { total: 0, passed: 0 });
    f.total++;
    if (a.result === 'passed') f.passed++;
  }
  const passed = counted.filter((a) => a.result === 'passed').length;
  const failedUnknown = unknownIds.length + untagged.filter((t) => t.status === 'failed').length;
  return {
    summary: { total: counted.length, passed, failed: counted.length - passed + failedUnknown, families },
    attacks, untagged, unknownIds,
  };
}

export interface RunOptions {
  root: string;
  fuzzMinutes?: number;
  /** Extra vitest filters (file paths); default: all of test/security. */
  filters?: string[];
  onOutput?: (chunk: string) => void;
}

export async function runSecurity(opts: RunOptions): Promise<SecurityRun> {
  const t0 = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'di-security-'));
  const out = join(work, 'results.json');
  const fuzzMinutes = opts.fuzzMinutes ?? 0;
  const env: NodeJS.ProcessEnv = { ...process.env, DI_SECURITY_JSON: out };
  if (fuzzMinutes > 0) {
    // The budget is shared by the fuzz properties (about a dozen); each gets an equal slice.
    const perProperty = Math.max(1000, Math.floor((fuzzMinutes * 60_000) / 12));
    env.DI_FUZZ_MS = String(perProperty);
    env.DI_SECURITY_TIMEOUT_MS = String(perProperty + 120_000);
  }
  const vitest = join(opts.root, 'node_modules', 'vitest', 'vitest.mjs');
  const args = [vitest, 'run', '--config', 'test/security/vitest.security.config.ts', ...(opts.filters ?? [])];
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd: opts.root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (c: Buffer) => opts.onOutput?.(c.toString()));
    child.stderr.on('data', (c: Buffer) => opts.onOutput?.(c.toString()));
    child.on('error', reject);
    child.on('close', () => resolvePromise());
  });
  if (!existsSync(out)) throw new Error('vitest produced no results (see its output above)');
  const json = JSON.parse(readFileSync(out, 'utf8')) as VitestJson;
  rmSync(work, { recursive: true, force: true });
  return { ...mapResults(json, opts.root), durationMs: Date.now() - t0, fuzzMinutes };
}

// ---------------------------------------------------------------- reports

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function evidenceLines(t: TestOutcome): string[] {
  const out = [`${t.status} in ${t.durationMs} ms: ${t.title}`];
  for (const [k, v] of Object.entries(t.evidence)) {
    const text = typeof v === 'string' ? v : JSON.stringify(v, null, 1).replace(/\n\s*/g, ' ');
    out.push(`${k}: ${text.length > 1500 ? text.slice(0, 1500) + '…' : text}`);
  }
  if (t.failure) out.push(`failure: ${t.failure.split('\n')[0]}`);
  return out;
}

export function renderMarkdown(run: SecurityRun): string {
  const s = run.summary;
  const lines = [
    '# di security: isolation and confinement report',
    '',
    `Run ${new Date().toISOString()}, ${Math.round(run.durationMs / 1000)} s${run.fuzzMinutes > 0 ? `, fuzzing ${run.fuzzMinutes} min` : ''}. ` +
      `**${s.passed} of ${s.total} attacks held** (${s.failed} failed).`,
    '',
    '| family | attacks | held |',
    '|---|---|---|',
    ...Object.entries(s.families).map(([f, v]) => `| ${FAMILIES[f as Family] ?? f} | ${v.total} | ${v.passed} |`),
    '',
  ];
  for (const [fam, title] of Object.entries(FAMILIES)) {
    const list = run.attacks.filter((a) => a.family === fam);
    if (list.length === 0) continue;
    lines.push(`## ${title}`, '');
    for (const a of list) {
      lines.push(`### ${a.id}: ${a.result === 'passed' ? 'HELD' : a.result === 'failed' ? 'FAILED' : 'not present'}`, '');
      lines.push(`- **Attack**: ${a.attack}`, `- **Expected**: ${a.expected}`, `- **Why**: ${a.anchor}`, `- **Test**: \`${a.test}\``);
      if (a.residual) lines.push(`- **Residual risk**: ${a.residual}`);
      lines.push('- **Evidence**:');
      if (a.tests.length === 0) lines.push('  - no test ran for this ID');
      for (const t of a.tests) for (const [i, l] of evidenceLines(t).entries()) lines.push(`${i === 0 ? '  - ' : '    - '}${l}`);
      lines.push('');
    }
  }
  lines.push('## Not covered yet', '', ...NOT_YET.map((n) => `- ${n}`), '');
  if (run.untagged.length > 0) {
    lines.push('## Supporting tests (no catalogue ID)', '', ...run.untagged.map((t) => `- ${t.status}: ${t.title} (\`${t.file}\`)`), '');
  }
  if (run.unknownIds.length > 0) lines.push(`**Tests tagged with IDs missing from the catalogue** (counted as failures): ${run.unknownIds.join(', ')}`, '');
  return lines.join('\n');
}

export function renderHtml(run: SecurityRun): string {
  const s = run.summary;
  const rows = run.attacks.map((a) => {
    const ev = a.tests.flatMap(evidenceLines).map((l) => `<li>${esc(l)}</li>`).join('');
    const cls = a.result === 'passed' ? 'ok' : a.result === 'failed' ? 'bad' : 'na';
    return `<tr class="${cls}"><td>${a.id}</td><td>${esc(FAMILIES[a.family])}</td><td>${esc(a.attack)}</td><td>${esc(a.expected)}${a.residual ? `<br><em>Residual: ${esc(a.residual)}</em>` : ''}</td><td>${esc(a.anchor)}</td><td>${a.result}</td><td><code>${esc(a.test)}</code><ul>${ev}</ul></td></tr>`;
  });
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>di security report</title><style>
body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3em;vertical-align:top;font-size:.85em}
tr.ok td:nth-child(6){background:#dfd}tr.bad td:nth-child(6){background:#fdd}tr.na td:nth-child(6){background:#eee}ul{margin:0;padding-left:1.1em}</style></head><body>
<h1>di security: isolation and confinement report</h1>
<p>${s.passed} of ${s.total} attacks held, ${s.failed} failed. ${Math.round(run.durationMs / 1000)} s.</p>
<table><tr><th>family</th><th>attacks</th><th>held</th></tr>${Object.entries(s.families).map(([f, v]) => `<tr><td>${esc(FAMILIES[f as Family] ?? f)}</td><td>${v.total}</td><td>${v.passed}</td></tr>`).join('')}</table>
<h2>Attacks</h2><table><tr><th>id</th><th>family</th><th>attack</th><th>expected</th><th>why</th><th>result</th><th>test and evidence</th></tr>${rows.join('\n')}</table>
<h2>Not covered yet</h2><ul>${NOT_YET.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>
</body></html>\n`;
}

/** The catalogue as the Markdown table docs/EVALUATORS.md carries (between its catalogue markers). */
export function catalogueTable(catalogue: readonly Attack[] = CATALOGUE): string {
  return [
    '| id | family | attack | expected | test |',
    '|---|---|---|---|---|',
    ...catalogue.map((a) => `| ${a.id} | ${FAMILIES[a.family]} | ${cell(a.attack)} | ${cell(a.expected)}${a.residual ? ` (residual: ${cell(a.residual)})` : ''} | ${a.test.replace('test/security/', '')}${a.optional ? ' (when present)' : ''} |`),
  ].join('\n');
}

export function writeReports(run: SecurityRun, file: string): { markdown: string; html: string } {
  const base = file.replace(/\.(md|html)$/i, '');
  const markdown = `${base}.md`;
  const html = `${base}.html`;
  writeFileSync(markdown, renderMarkdown(run));
  writeFileSync(html, renderHtml(run));
  return { markdown, html };
}
