import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const byId = new Map(p.nodes.map(n => [n.id, n]));
const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const t = new Map(); const dt = p.timeDeltas;
for (let i = 0; i < p.samples.length; i++) t.set(p.samples[i], (t.get(p.samples[i]) ?? 0) + (dt[i] ?? 0));
const incl = new Map();
for (const [id, v] of t) { const seen = new Set(); let cur = id; while (cur !== undefined) { const cf = byId.get(cur).callFrame; const k = `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-1)[0]}:${cf.lineNumber}`; if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + v); } cur = parent.get(cur); } }
const rows = [...incl].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 60));
for (const [k, v] of rows) console.log((v / 1000).toFixed(1).padStart(8), k);
