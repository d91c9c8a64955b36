/** One problem found in an invoice before it is built: `field` points at the input, the message is French and says what to do. */
export interface Issue {
  field: string;
  code: string;
  message: string;
}

/** buildInvoice refuses to build: the issues say why (all of them, not only the first). */
export class InvoiceError extends Error {
  readonly issues: Issue[];

  constructor(issues: Issue[]) {
    super(issues.length === 1 ? issues[0]!.message : `${issues.length} problèmes : ${issues.map((i) => i.message).join(' ; ')}`);
    this.name = 'InvoiceError';
    this.issues = issues;
  }
}
