/**
 * A pricing refusal: `code` is stable (tests, screens and the AMO's rejections key on it), `field`
 * points at the input (`acts[2].coefficient`), the message is French and names the act and the rule.
 */
export class TariffError extends Error {
  readonly code: string;
  readonly field: string;

  constructor(code: string, field: string, message: string) {
    super(message);
    this.name = 'TariffError';
    this.code = code;
    this.field = field;
  }
}
