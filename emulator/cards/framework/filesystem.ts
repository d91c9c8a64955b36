/**
 * The card's file tree (ISO/IEC 7816-4 §5.3): MF 3F00, DFs (optionally applications with an AID),
 * transparent and record EFs with access conditions. Specs are plain data so profiles can be JSON;
 * the FileSystem keeps its own deep copy so two cards built from one spec never share state.
 */
import { encodeTlv } from '../../../platform/sdk/tlv.js';
import { concatBytes, toHex } from '../../../platform/sdk/hex.js';

/** Who may read: everyone, nobody, or whoever verified this PIN reference since the last reset. */
export type AccessCondition = 'always' | 'never' | { pin: number };

interface EfCommon {
  fid: number;
  /** Short EF identifier 1..30, for READ BINARY/RECORD without a prior SELECT. */
  sfi?: number;
  read?: AccessCondition;
  label?: string;
}

export interface TransparentEfSpec extends EfCommon {
  type: 'transparent';
  data: Uint8Array;
}

/** Linear variable records; record numbers start at 1. */
export interface RecordEfSpec extends EfCommon {
  type: 'records';
  records: Uint8Array[];
}

export interface DfSpec {
  type: 'df';
  /** Required except for the MF (forced to 3F00) and for applications reached only by AID. */
  fid?: number;
  /** DF name, 5..16 bytes, for SELECT by AID. */
  aid?: Uint8Array;
  label?: string;
  /** Complete FCI returned by SELECT with P2=00; overrides the built one (EMV PSE, applications). */
  fci?: Uint8Array;
  /** Content of the A5 proprietary template in the built FCI. */
  fciProprietary?: Uint8Array;
  children?: FileSpec[];
}

export type EfSpec = TransparentEfSpec | RecordEfSpec;
export type FileSpec = DfSpec | EfSpec;

export const MF_FID = 0x3f00;

function fidHex(fid: number): string {
  return fid.toString(16).toUpperCase().padStart(4, '0');
}

function cloneSpec<T extends FileSpec>(spec: T): T {
  return structuredClone(spec);
}

export class FileSystem {
  readonly mf: DfSpec;
  readonly #parents = new Map<FileSpec, DfSpec>();
  readonly #applications: DfSpec[] = [];

  constructor(mf: DfSpec) {
    const root = cloneSpec(mf);
    if (root.type !== 'df') throw new Error('file system root must be a DF (the MF)');
    if (root.fid !== undefined && root.fid !== MF_FID) {
      throw new Error(`MF must have FID 3F00, got ${fidHex(root.fid)}`);
    }
    root.fid = MF_FID;
    root.children ??= [];
    this.mf = root;
    const aids = new Set<string>();
    this.#index(root, 'MF', aids);
  }

  #index(df: DfSpec, path: string, aids: Set<string>): void {
    if (df.aid) {
      if (df.aid.length < 5 || df.aid.length > 16) {
        throw new Error(`${path}: AID must be 5..16 bytes, got ${df.aid.length}`);
      }
      const key = toHex(df.aid);
      if (aids.has(key)) throw new Error(`${path}: AID ${key} is used by two DFs`);
      aids.add(key);
      this.#applications.push(df);
    }
    const fids = new Set<number>();
    const sfis = new Set<number>();
    for (const child of df.children ?? []) {
      const where = `${path}/${child.fid !== undefined ? fidHex(child.fid) : child.label ?? '?'}`;
      if (child.fid !== undefined) {
        if (!Number.isInteger(child.fid) || child.fid < 0 || child.fid > 0xffff) {
          throw new Error(`${where}: FID must be 0000..FFFF`);
        }
        if (child.fid === MF_FID || child.fid === 0xffff) throw new Error(`${where}: FID ${fidHex(child.fid)} is reserved`);
        if (fids.has(child.fid)) throw new Error(`${where}: FID ${fidHex(child.fid)} appears twice in ${path}`);
        fids.add(child.fid);
      } else if (child.type !== 'df' || !child.aid) {
        throw new Error(`${where}: an EF or a DF without AID needs a FID`);
      }
      this.#parents.set(child, df);
      if (child.type === 'df') {
        child.children ??= [];
        this.#index(child, where, aids);
        continue;
      }
      if (child.sfi !== undefined) {
        if (!Number.isInteger(child.sfi) || child.sfi < 1 || child.sfi > 30) {
          throw new Error(`${where}: SFI must be 1..30, got ${String(child.sfi)}`);
        }
        if (sfis.has(child.sfi)) throw new Error(`${where}: SFI ${child.sfi} appears twice in ${path}`);
        sfis.add(child.sfi);
      }
      if (child.type === 'records' && child.records.length > 254) {
        throw new Error(`${where}: at most 254 records can be addressed, got ${child.records.length}`);
      }
    }
  }

  parentOf(node: FileSpec): DfSpec | undefined {
    return this.#parents.get(node);
  }

  findByAid(aid: Uint8Array): DfSpec | undefined {
    const key = toHex(aid);
    return this.#applications.find((df) => df.aid !== undefined && toHex(df.aid) === key);
  }

  child(df: DfSpec, fid: number): FileSpec | undefined {
    return df.children?.find((c) => c.fid === fid);
  }

  efBySfi(df: DfSpec, sfi: number): EfSpec | undefined {
    for (const c of df.children ?? []) {
      if (c.type !== 'df' && c.sfi === sfi) return c;
    }
    return undefined;
  }

  /** SELECT by FID with P1=00: the MF, the current DF, its children, its parent and the parent's children. */
  resolveFid(current: DfSpec, fid: number): FileSpec | undefined {
    if (fid === MF_FID) return this.mf;
    const own = this.child(current, fid);
    if (own) return own;
    if (current.fid === fid) return current;
    const parent = this.parentOf(current);
    if (parent) {
      if (parent.fid === fid) return parent;
      return this.child(parent, fid);
    }
    return undefined;
  }

  /** The application a node belongs to: nearest DF with an AID, else the MF. */
  applicationOf(node: FileSpec): DfSpec {
    let cur: FileSpec | undefined = node;
    while (cur) {
      if (cur.type === 'df' && cur.aid) return cur;
      cur = this.parentOf(cur);
    }
    return this.mf;
  }

  /** The FCP items (ISO 7816-4 table 12) without the 62 template. */
  #fcpItems(node: FileSpec): Uint8Array[] {
    const items: Uint8Array[] = [];
    if (node.type === 'df') {
      items.push(encodeTlv(0x82, Uint8Array.of(0x38)));
      if (node.fid !== undefined) items.push(encodeTlv(0x83, Uint8Array.of(node.fid >> 8, node.fid & 0xff)));
      if (node.aid) items.push(encodeTlv(0x84, node.aid));
      return items;
    }
    const size = node.type === 'transparent' ? node.data.length : node.records.reduce((n, r) => n + r.length, 0);
    items.push(encodeTlv(0x80, Uint8Array.of((size >> 8) & 0xff, size & 0xff)));
    // 01 transparent; 04 linear variable (with the 21 data coding byte that goes with it).
    items.push(encodeTlv(0x82, node.type === 'transparent' ? Uint8Array.of(0x01) : Uint8Array.of(0x04, 0x21)));
    items.push(encodeTlv(0x83, Uint8Array.of(node.fid >> 8, node.fid & 0xff)));
    if (node.sfi !== undefined) items.push(encodeTlv(0x88, Uint8Array.of(node.sfi << 3)));
    return items;
  }

  fcp(node: FileSpec): Uint8Array {
    return encodeTlv(0x62, concatBytes(...this.#fcpItems(node)));
  }

  fci(node: FileSpec): Uint8Array {
    if (node.type === 'df') {
      if (node.fci) return node.fci.slice();
      if (node.aid) {
        const items = [encodeTlv(0x84, node.aid)];
        if (node.fciProprietary) items.push(encodeTlv(0xa5, node.fciProprietary));
        return encodeTlv(0x6f, concatBytes(...items));
      }
    }
    return encodeTlv(0x6f, concatBytes(...this.#fcpItems(node)));
  }
}

