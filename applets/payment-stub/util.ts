/** Small codecs the EMV flow shares: BCD amounts and dates, local date and time, masking. */
import { fromHex } from '../../platform/sdk/hex.js';

/** n12 amount in centimes as 6 BCD bytes (9F02). */
export function amountBcd(centimes: number): Uint8Array {
  return fromHex(String(centimes).padStart(12, '0'));
}

/** BCD digits of a byte string, or null when a nibble is not a digit. */
export function bcdDigits(b: Uint8Array): string | null {
  let s = '';
  for (const x of b) {
    const hi = x >> 4;
    const lo = x & 0x0f;
    if (hi > 9 || lo > 9) return null;
    s += `${hi}${lo}`;
  }
  return s;
}

/** cn digits (F padded on the right), or null when malformed. */
export function cnDigits(b: Uint8Array): string | null {
  let s = '';
  let ended = false;
  for (const x of b) {
    for (const nib of [x >> 4, x & 0x0f]) {
      if (nib === 0x0f) ended = true;
      else if (ended || nib > 9) return null;
      else s += String(nib);
    }
  }
  return s;
}

/** An EMV YYMMDD date that exists (00–49 → 20YY). */
export function validYymmdd(d: string): boolean {
  if (!/^\d{6}$/.test(d)) return false;
  const y = 2000 + Number(d.slice(0, 2)) - (Number(d.slice(0, 2)) >= 50 ? 100 : 0);
  const m = Number(d.slice(2, 4));
  const day = Number(d.slice(4, 6));
  if (m < 1 || m > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** Comparable form of YYMMDD (century per Book 4 §6.7.3: 00–49 → 20YY, 50–99 → 19YY). */
export function dateKey(yymmdd: string): string {
  return `${Number(yymmdd.slice(0, 2)) < 50 ? '20' : '19'}${yymmdd}`;
}

export interface LocalTime {
  /** YYMMDD */
  date: string;
  /** HHMMSS */
  time: string;
  /** DD/MM/YY for receipts */
  dateText: string;
  /** HH:MM:SS */
  timeText: string;
}

/** The terminal's local (Paris) date and time; UTC when the isolate has no time zone data. */
export function localTime(ms: number): LocalTime {
  let parts: Record<string, string> | null = null;
  try {
    const f = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', year: '2-digit', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    parts = {};
    for (const p of f.formatToParts(new Date(ms))) parts[p.type] = p.value;
  } catch {
    parts = null;
  }
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  const yy = parts?.year ?? two(d.getUTCFullYear() % 100);
  const mm = parts?.month ?? two(d.getUTCMonth() + 1);
  const dd = parts?.day ?? two(d.getUTCDate());
  const hh = parts?.hour ?? two(d.getUTCHours());
  const mi = parts?.minute ?? two(d.getUTCMinutes());
  const ss = parts?.second ?? two(d.getUTCSeconds());
  return { date: `${yy}${mm}${dd}`, time: `${hh}${mi}${ss}`, dateText: `${dd}/${mm}/${yy}`, timeText: `${hh}:${mi}:${ss}` };
}

/** First 6 and last 4 digits, the rest as '*' (PCI DSS display rule). */
export function maskPan(pan: string): string {
  if (pan.length < 11) return '*'.repeat(pan.length);
  return `${pan.slice(0, 6)}${'*'.repeat(pan.length - 10)}${pan.slice(-4)}`;
}

/** "23,00 EUR" */
export function formatAmount(centimes: number): string {
  const euros = Math.floor(centimes / 100);
  const cents = String(centimes % 100).padStart(2, '0');
  const grouped = String(euros).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  return `${grouped},${cents} EUR`;
}

export function luhnOk(pan: string): boolean {
  let sum = 0;
  for (let i = 0; i < pan.length; i++) {
    let d = pan.charCodeAt(pan.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}
