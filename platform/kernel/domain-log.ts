/**
 * The kernel's per-domain log: what applets say through platform.log, and what hosts write on
 * stdout/stderr (crash output included). Everything passes through the redactor first.
 */
import { appendFileSync, mkdirSync, statSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { redactFields, redactText } from './redact.js';
import type { DomainLogger } from './services.js';

const MAX_BYTES = 4 * 1024 * 1024;

export class FileDomainLogger implements DomainLogger {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  write(domain: string, level: string, message: string, fields: unknown): void {
    this.append(`${domain}.log`, { ts: new Date().toISOString(), level, message: redactText(message), fields: fields === null ? undefined : redactFields(fields) });
  }

  hostOutput(domain: string, line: string): void {
    this.append(`host-${domain}.log`, { ts: new Date().toISOString(), line: redactText(line) });
  }

  private append(file: string, entry: object): void {
    const path = join(this.dir, file);
    try {
      if (statSync(path).size > MAX_BYTES) renameSync(path, path + '.1');
    } catch {
      /* first write */
    }
    appendFileSync(path, JSON.stringify(entry) + '\n');
  }
}
