/** Applet-side source text: a walk over every object reachable from some roots (see ESC-08, SIDE-01). */
/** Walks every object reachable from `roots` (own string and symbol keys, data values and accessor functions, prototypes). */
export const WALKER = `
function walk(roots) {
  const seen = new Set(); const queue = [...roots]; const hostish = []; const foreignFns = []; const names = new Set();
  const HOST_METHODS = ['derefInto', 'copyInto', 'applySync', 'applySyncPromise', 'applyIgnored', 'setIgnored', 'getSync'];
  while (queue.length) {
    const o = queue.shift();
    if ((typeof o !== 'object' && typeof o !== 'function') || o === null || seen.has(o)) continue;
    seen.add(o);
    if (typeof o === 'function' && o !== Function.prototype && !(o instanceof Function)) foreignFns.push(String(o.name));
    let keys = [];
    try { keys = Reflect.ownKeys(o); } catch (e) { continue; }
    for (const k of keys) {
      if (typeof k === 'string') { names.add(k); if (HOST_METHODS.includes(k)) hostish.push(k); }
      const d = Reflect.getOwnPropertyDescriptor(o, k);
      if (!d) continue;
      if ('value' in d) queue.push(d.value); else { queue.push(d.get); queue.push(d.set); }
    }
    queue.push(Reflect.getPrototypeOf(o));
  }
  const bad = ['Reference', 'ExternalCopy', 'Callback', 'Isolate', 'Context', 'SharedArrayBuffer', 'Atomics', 'WeakRef', 'FinalizationRegistry', 'WebAssembly'].filter((n) => names.has(n));
  return { objects: seen.size, hostish, foreignFns, bad };
}
`;
