/**
 * The one error every DI-SV decoder and encoder throws: callers (the applet, the AMO emulator) treat any
 * malformed input the same way and need only the format, the place and the reason.
 */
export type FormatName = 'FSE' | 'DRE' | 'LOT' | 'FILE' | 'ARL' | 'RSP' | 'MAIL';

export class FormatError extends Error {
  readonly format: FormatName;
  /** Record number and field name, e.g. `record 3 (B01) surname`. */
  readonly where: string;
  readonly reason: string;
  constructor(format: FormatName, where: string, reason: string) {
    super(`${format} ${where}: ${reason}`);
    this.name = 'FormatError';
    this.format = format;
    this.where = where;
    this.reason = reason;
  }
}
