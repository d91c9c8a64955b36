/**
 * How a card operation fails. The practitioner reads `message` (French, naming the card and the
 * status word); nothing from the card's data is quoted, so a message never carries a NIR or a PIN.
 */
export type CardName = 'CPS' | 'Vitale';

export type CardErrorKind =
  /** The card answered a status word the step does not accept. */
  | 'status'
  /** The answer was malformed (TLV, lengths, missing objects). */
  | 'malformed'
  /** The card left the reader or the lease ended (E_LEASE, E_NO_CARD...): the session forgets it. */
  | 'removed'
  /** The kernel refused or failed the exchange for another reason. */
  | 'transport';

const SW_FR: Readonly<Record<number, string>> = {
  0x6700: 'longueur incorrecte',
  0x6981: 'commande incompatible avec le fichier',
  0x6982: 'PIN non vérifié',
  0x6983: 'carte bloquée',
  0x6985: 'conditions d’utilisation non satisfaites',
  0x6986: 'aucun fichier courant',
  0x6a80: 'données incorrectes',
  0x6a82: 'application ou fichier absent',
  0x6a83: 'enregistrement absent',
  0x6a86: 'paramètres incorrects',
  0x6a88: 'donnée de référence absente',
  0x6b00: 'position hors du fichier',
  0x6d00: 'commande inconnue de la carte',
  0x6e00: 'classe inconnue de la carte',
};

export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}

export function swFrench(sw: number): string {
  const known = SW_FR[sw];
  if (known) return known;
  if (sw >> 8 === 0x63 && (sw & 0xf0) === 0xc0) return `code faux, ${sw & 0x0f} essai(s) restant(s)`;
  return 'réponse inattendue';
}

export class CardError extends Error {
  constructor(
    readonly card: CardName,
    readonly kind: CardErrorKind,
    message: string,
    /** The status word when the card gave one. */
    readonly sw?: number,
  ) {
    super(message);
    this.name = 'CardError';
  }
}

export function statusError(card: CardName, step: string, sw: number): CardError {
  return new CardError(card, 'status', `Carte ${card} : ${step} refusé (${swHex(sw)} ${swFrench(sw)})`, sw);
}

export function malformedError(card: CardName, step: string, detail: string): CardError {
  return new CardError(card, 'malformed', `Carte ${card} : réponse invalide à ${step} (${detail})`);
}

/** Kernel codes that mean the card (or our hold on it) is gone. */
const REMOVAL_CODES = new Set(['E_NO_CARD', 'E_CARD_REMOVED', 'E_LEASE', 'E_NOT_ROUTED']);

export function kernelCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isRemovalCode(err: unknown): boolean {
  const c = kernelCode(err);
  return c !== undefined && REMOVAL_CODES.has(c);
}

export function isCardRemoved(err: unknown): boolean {
  return (err instanceof CardError && err.kind === 'removed') || isRemovalCode(err);
}
