/** ui.show / ui.ask: screen content is plain text; the PIN is never asked through here. */
import type { KernelServices } from '../services.js';
import type { OpHandler } from '../router.js';
import { obj, strArray, int } from './args.js';
import { KernelError } from '../errors.js';
import type { WireValue } from '../../wire/messages.js';

const LINE = 64;

function optTitle(op: string, v: WireValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > LINE) throw new KernelError('E_ARGS', `${op}: title must be a string of at most ${LINE} characters`);
  return v;
}

export function uiOps(k: KernelServices): Record<'ui.show' | 'ui.ask', OpHandler> {
  const granted = (op: string, ctx: { domain: string; policy: { ui: { foreground: boolean } } }) => {
    if (!ctx.policy.ui.foreground) throw new KernelError('E_POLICY', `${op}: the ${ctx.domain} policy does not grant the screen (ui.foreground)`);
  };
  return {
    'ui.show': async (ctx, args) => {
      granted('ui.show', ctx);
      const s = obj('ui.show', args, 'screen');
      const lines = strArray('ui.show', s.lines, 'screen.lines', { maxItems: 12, maxLen: LINE });
      const keys = s.keys === undefined ? undefined : strArray('ui.show', s.keys, 'screen.keys', { maxItems: 4, maxLen: 16 });
      const title = optTitle('ui.show', s.title);
      k.terminal.show(ctx.domain, { lines, ...(title !== undefined && { title }), ...(keys && { keys }) });
      return null;
    },
    'ui.ask': async (ctx, args) => {
      granted('ui.ask', ctx);
      const q = obj('ui.ask', args, 'question');
      if (typeof q.text !== 'string' || q.text.length > 4 * LINE) throw new KernelError('E_ARGS', `ui.ask: question.text must be a string of at most ${4 * LINE} characters`);
      const choices = strArray('ui.ask', q.choices, 'question.choices', { maxItems: 9, maxLen: LINE });
      if (choices.length === 0) throw new KernelError('E_ARGS', 'ui.ask: question.choices must not be empty');
      const timeoutMs = int('ui.ask', q as never, 'timeoutMs', { min: 100, max: 600_000, optional: true }) ?? 120_000;
      const title = optTitle('ui.ask', q.title);
      const choice = await k.terminal.ask(ctx.domain, { text: q.text, choices, ...(title !== undefined && { title }) }, timeoutMs, ctx.signal);
      return { choice };
    },
  };
}
