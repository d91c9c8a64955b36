/**
 * Card routing: which domain (if any) is offered the card just inserted. The ATR pattern of each
 * policy card class is matched first; only when several classes claim the same ATR does the broker
 * talk to the card, probing each candidate's AIDs with SELECT by AID.
 */
import { buildApdu } from '../sdk/apdu.js';
import type { Route } from './types.js';
import { compileRules, type FilterClass } from './apdu-filter.js';
import { fromHex } from './hex.js';

export const DEFAULT_MAX_RESPONSE_BYTES = 4096;

export class RouteConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RouteConfigError';
  }
}

/** A route with every hex field of its card class parsed and checked once, at broker creation. */
export interface CompiledRoute extends FilterClass {
  domain: string;
  atrValue: Uint8Array;
  atrMask: Uint8Array;
  aids: readonly Uint8Array[];
  maxResponseBytes: number;
  /** Per-class lease durations (policy `lease`); absent: the broker's defaults. */
  lease?: { idleMs: number; maxMs: number };
}

export function compileRoutes(routes: readonly Route[]): CompiledRoute[] {
  const seen = new Map<string, string>();
  return routes.map((route, i) => {
    const cc = route.cardClass;
    const where = `route ${i} (domain "${route.domain}", card class "${cc.name}")`;
    try {
      if (typeof route.domain !== 'string' || route.domain === '') throw new TypeError('domain is empty');
      if (typeof cc.name !== 'string' || cc.name === '') throw new TypeError('card class name is empty');
      const owner = seen.get(cc.name);
      if (owner !== undefined) {
        throw new TypeError(`card class name is already used by domain "${owner}"; a class belongs to one domain`);
      }
      seen.set(cc.name, route.domain);
      const atrValue = fromHex(cc.atr.value, 'atr.value');
      const atrMask = fromHex(cc.atr.mask, 'atr.mask');
      if (atrValue.length < 1 || atrValue.length > 33) {
        throw new TypeError(`atr.value is ${atrValue.length} bytes; a pattern has 1..33 bytes (an ATR at most 33)`);
      }
      if (atrMask.length !== atrValue.length) {
        throw new TypeError(`atr.mask is ${atrMask.length} bytes but atr.value is ${atrValue.length}`);
      }
      const aids = cc.aids.map((a, j) => {
        const aid = fromHex(a, `aids[${j}]`);
        if (aid.length < 5 || aid.length > 16) throw new TypeError(`aids[${j}] is ${aid.length} bytes; an AID has 5..16`);
        return aid;
      });
      const maxResponseBytes = cc.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
      if (!Number.isInteger(maxResponseBytes) || maxResponseBytes < 0 || maxResponseBytes > 65_536) {
        throw new TypeError(`maxResponseBytes ${String(cc.maxResponseBytes)} is not an integer 0..65536`);
      }
      const pinReferences = new Set<number>();
      for (const ref of cc.pinReferences) {
        if (!Number.isInteger(ref) || ref < 0 || ref > 0xff) throw new TypeError(`pinReferences entry ${String(ref)} is not a byte`);
        pinReferences.add(ref);
      }
      return {
        domain: route.domain,
        name: cc.name,
        atrValue,
        atrMask,
        aids,
        maxResponseBytes,
        pinReferences,
        rules: compileRules(cc, 'card class'),
        ...(cc.lease !== undefined ? { lease: { idleMs: cc.lease.idleMs, maxMs: cc.lease.maxMs } } : {}),
      };
    } catch (e) {
      throw new RouteConfigError(`${where}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
}

/**
 * A pattern shorter than the ATR matches the ATR's first bytes (policies may pin only TS, or TS and
 * T0, and leave the AID probe to decide); an ATR shorter than its pattern never matches.
 */
export function atrMatches(atr: Uint8Array, route: CompiledRoute): boolean {
  if (atr.length < route.atrValue.length) return false;
  for (let i = 0; i < route.atrValue.length; i++) {
    const m = route.atrMask[i]!;
    if ((atr[i]! & m) !== (route.atrValue[i]! & m)) return false;
  }
  return true;
}

/** 00 A4 04 00 Lc AID 00: SELECT by DF name, first or only occurrence, FCI requested. */
export function selectByAid(aid: Uint8Array): Uint8Array {
  return buildApdu({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x00, data: aid, le: 256 });
}

/** 9000, or 61xx (more data waiting), means the application is there. */
export function selectSucceeded(response: Uint8Array): boolean {
  if (response.length < 2) return false;
  const sw1 = response[response.length - 2]!;
  const sw2 = response[response.length - 1]!;
  return (sw1 === 0x90 && sw2 === 0x00) || sw1 === 0x61;
}

export type RoutingDecision =
  | { kind: 'routed'; route: CompiledRoute; probed: boolean }
  | { kind: 'refused'; reason: string; probed: boolean };

/**
 * Decide the route for one insertion. `probe` sends a SELECT by AID and says whether the card
 * answered 9000/61xx; it is only called when the ATR alone is ambiguous. The caller resets the card
 * after probing (probed: true) so that no selection made here survives into a lease.
 */
export async function decideRoute(
  atr: Uint8Array,
  routes: readonly CompiledRoute[],
  probe: (aid: Uint8Array) => Promise<boolean>,
): Promise<RoutingDecision> {
  const candidates = routes.filter((r) => atrMatches(atr, r));
  if (candidates.length === 0) {
    return { kind: 'refused', reason: 'no card class of any policy matches this ATR', probed: false };
  }
  if (candidates.length === 1) return { kind: 'routed', route: candidates[0]!, probed: false };

  let probed = false;
  for (const route of candidates) {
    for (const aid of route.aids) {
      probed = true;
      if (await probe(aid)) return { kind: 'routed', route, probed };
    }
  }
  const names = candidates.map((c) => `"${c.name}"`).join(', ');
  return {
    kind: 'refused',
    reason: `ATR matches card classes ${names} but the card answered none of their AIDs to SELECT`,
    probed,
  };
}
