/**
 * The attack catalogue, as data. Every entry names the test that runs it: each test title in
 * test/security/** starts with `[ID]` (several tests may share an ID; all must pass). The runner
 * (test/security/runner.ts, `di security`) maps vitest results to these IDs; docs/EVALUATORS.md holds
 * a table generated from this list (test/security/catalogue.test.ts checks that they agree).
 */

export const FAMILIES = {
  escape: 'sandbox escape',
  ambient: 'ambient authority',
  confidentiality: 'cross-domain confidentiality',
  lease: 'slot hijack, capability forgery and replay',
  dos: 'denial of service',
  side: 'side channels',
  audit: 'logs and audit',
  fault: 'fault isolation',
  tamper: 'policy and package tampering',
  card: 'hostile cards',
  fuzz: 'fuzzing (parsers and validators)',
  hostlink: 'TLA host link',
} as const;
export type Family = keyof typeof FAMILIES;

export interface Attack {
  id: string;
  family: Family;
  /** What the attacker does. */
  attack: string;
  /** What the platform must do. */
  expected: string;
  /** Why this attack is in the list: advisory, issue, prior art, rule. */
  anchor: string;
  /** The test file (relative to the repository root) whose test titles start with `[id]`. */
  test: string;
  /** Optional (the file may not exist yet): the runner reports it as "not present" instead of failing. */
  optional?: boolean;
  /** Every test of `test` without an ID of its own belongs to this attack (a file owned by someone else). */
  wholeFile?: boolean;
  /** What stays possible, stated honestly. */
  residual?: string;
}

const AE = 'test/security/ambient-and-escapes.test.ts';
const ESC2 = 'test/security/escapes-more.test.ts';
const SIDE = 'test/security/side-channels.test.ts';
const DOS = 'test/security/denial-of-service.test.ts';
const DOS2 = 'test/security/denial-of-service-more.test.ts';
const LR = 'test/security/leases-and-routing.test.ts';
const XD = 'test/security/review-cross-domain.test.ts';
const LIM = 'test/security/review-limits.test.ts';
const AUD = 'test/security/audit-and-logs.test.ts';
const FLT = 'test/security/fault-isolation.test.ts';
const PKG = 'test/security/packages-and-policies.test.ts';
const HP = 'test/security/host-protocol.test.ts';
const HC = 'test/security/hostile-cards.test.ts';
const FZ = 'test/security/fuzz';
const TLA = 'test/security/hostlink-attacks.test.ts';
const TLA_ANCHOR = 'issue 8: the TLA host link serves only a paired computer (TLS 1.3, certificates pinned by fingerprint, one-time code on the device screen)';

const IVM_LEAK = 'isolated-vm README "Security": never hand a Reference/ExternalCopy/host function to untrusted code (the known escapes go through leaked host objects)';
const SES = 'SES (Hardened JavaScript) confinement tests: frozen primordials, no ambient authority, eval/Function confined to the compartment';
const OOM = 'isolated-vm issues #460, #499, #527: V8 OOM can abort the whole process, so each domain gets its own process';
const JCF = 'Java Card firewall: an applet reaches only objects of its own context; shared access only through declared interfaces';
const PCI = 'PCI DSS 3.4/3.3 (PAN masked to first 6 / last 4, no track data or PIN after authorisation) and PCI PIN (PIN never in clear outside the secure PIN entry)';

export const CATALOGUE: Attack[] = [
  // ---------------------------------------------------------------- sandbox escape
  { id: 'ESC-01', family: 'escape', test: AE, anchor: `${SES}; the classic vm/vm2 escape this.constructor.constructor('return process')()`,
    attack: 'constructor chains: this.constructor.constructor, platform function constructors, async function and Error constructors used to compile "return process"',
    expected: 'every chain reaches the isolate\'s own Function: process/require/Buffer are undefined; platform is a plain object' },
  { id: 'ESC-02', family: 'escape', test: AE, anchor: `${SES} (prototype poisoning, "override mistake")`,
    attack: 'replace or mutate platform, delete it, poison Array.prototype.push',
    expected: 'TypeError on each attempt; platform and primordials are frozen' },
  { id: 'ESC-03', family: 'escape', test: AE, anchor: 'V8 Error.prepareStackTrace / CallSite objects leak host frames and functions (vm2 CVE-2022-36067 class)',
    attack: 'install Error.prepareStackTrace, then make a platform call fail and read its stack',
    expected: 'prepareStackTrace cannot be installed; stacks show no node:/platform/dist frame' },
  { id: 'ESC-04', family: 'escape', test: AE, anchor: `${IVM_LEAK}; vm2 CVE-2023-29017 / CVE-2023-30547 (host code running attacker getters/proxies)`,
    attack: 'pass Proxies, getters and thenables as platform call arguments',
    expected: 'copied inside the isolate or refused with E_ARGS; the attacker\'s traps never run on the host (touched = 0)' },
  { id: 'ESC-05', family: 'escape', test: AE, anchor: 'isolated-vm promise/thenable handling: a thenable result must not run host code',
    attack: 'return a thenable-shaped object from main()',
    expected: 'returned as plain data, no host code calls then' },
  { id: 'ESC-06', family: 'escape', test: AE, anchor: 'isolated-vm: scripts compiled without a module loader; import() must reject',
    attack: 'dynamic import() of a Node module',
    expected: 'the promise rejects; nothing is loaded' },
  { id: 'ESC-07', family: 'escape', test: ESC2, anchor: SES,
    attack: 'eval, indirect eval and the Function constructor used to reach the host',
    expected: 'they run, but in the isolate realm only: Function("return this")() is the isolate global; no process/require' },
  { id: 'ESC-08', family: 'escape', test: ESC2, anchor: IVM_LEAK,
    attack: 'walk every object reachable from globalThis, platform, a lease and a kernel error looking for isolated-vm Reference/ExternalCopy/Callback or a function of another realm',
    expected: 'none found: every function\'s constructor is the isolate Function, no object has derefInto/copyInto/applySync' },
  { id: 'ESC-09', family: 'escape', test: ESC2, anchor: 'vm2 CVE-2022-36067 / CVE-2023-37466 (escapes through error objects and their stacks)',
    attack: 'inspect the error objects the kernel sends back: their prototype chain, own properties, constructor chain',
    expected: 'isolate Error instances with only stack, message, code; their constructors compile code in the isolate realm only' },

  // ---------------------------------------------------------------- ambient authority
  { id: 'AMB-01', family: 'ambient', test: AE, anchor: `${SES}; DESIGN §2 (no require, process, network, file system, timers)`,
    attack: 'probe for Node, web and embedder globals (require, process, Buffer, fetch, timers, console, performance, ivm...)',
    expected: 'none present; the global object holds only ECMAScript built-ins, the handlers and platform' },
  { id: 'AMB-02', family: 'ambient', test: ESC2, anchor: `${JCF}; object-capability principle (authority only by grant)`,
    attack: 'an applet under a policy that grants nothing calls every capability: store, screen, network, intents, slots, PIN',
    expected: 'each refused on the kernel side (E_QUOTA, E_POLICY, E_NOT_ROUTED...) with no effect' },
  { id: 'AMB-03', family: 'ambient', test: ESC2, anchor: 'DESIGN §4: an applet can only name an endpoint or intent target its policy lists',
    attack: 'name a network endpoint, an intent target and an intent action that are not in the policy, including path-like names',
    expected: 'E_POLICY / E_ARGS, and nothing leaves the device' },
  { id: 'AMB-04', family: 'ambient', test: 'test/security/mail-and-grants.test.ts', anchor: 'RFC 5321/5322 header and command injection; the kernel owns every connection (DESIGN §4)',
    attack: 'from the sandbox, net.send an SMTP message with CRLF in an address, a header in the subject, several addresses in one, a path as an attachment name, an extra field',
    expected: 'E_ARGS naming the field, before any connection is opened' },
  { id: 'AMB-05', family: 'ambient', test: 'test/security/mail-and-grants.test.ts', anchor: 'credentials stay in the kernel (the mailbox account is kernel configuration, never applet data)',
    attack: 'make the POP3 login fail and read the error the applet gets, looking for the mailbox account',
    expected: 'E_NET "authentication refused by <endpoint>", naming neither the user nor the password' },

  // ---------------------------------------------------------------- cross-domain confidentiality
  { id: 'XDOM-01', family: 'confidentiality', test: LR, anchor: JCF,
    attack: 'a domain lists and acquires a card routed to another domain',
    expected: 'not offered, not listed, acquire refused E_NOT_ROUTED without naming the owner' },
  { id: 'XDOM-02', family: 'confidentiality', test: XD, anchor: JCF,
    attack: 'read slots.list and card insertion/removal events for the other domain\'s card',
    expected: 'health sees nothing of the payment card' },
  { id: 'XDOM-03', family: 'confidentiality', test: XD, anchor: 'oracle attacks: distinct errors reveal another domain\'s state',
    attack: 'compare acquire errors for an empty slot, a foreign card and a foreign leased card; steal a token',
    expected: 'the same code and words for all three; a stolen token fails like a forged one' },
  { id: 'XDOM-04', family: 'confidentiality', test: XD, anchor: PCI,
    attack: 'look for the other domain\'s card or lease token in audit entries under one\'s own name',
    expected: 'nothing of the payment card under health; no lease token anywhere in the audit' },
  { id: 'XDOM-05', family: 'confidentiality', test: XD, anchor: JCF,
    attack: 'read, list or path-traverse the other domain\'s store keys',
    expected: 'missing / empty; one SQLite file per domain' },
  { id: 'XDOM-06', family: 'confidentiality', test: 'test/security/review-intent-errors.test.ts', anchor: `${PCI}; DESIGN §4 (only status and references travel back)`,
    attack: 'the payment side of an intent returns PAN, track 2, cryptogram, wrong types, huge strings',
    expected: 'only declared fields with declared types reach the requester; no PAN/cryptogram in the audit' },
  { id: 'XDOM-07', family: 'confidentiality', test: 'test/security/review-intent-errors.test.ts', anchor: PCI,
    attack: 'the intent target throws an error whose message carries cryptogram, holder name, expiry, track 2',
    expected: 'the requester gets an error code, not the message' },
  { id: 'XDOM-08', family: 'confidentiality', test: 'test/security/review-internal-errors.test.ts', anchor: 'CWE-209 (information exposure through error messages)',
    attack: 'make kernel I/O fail (store, log) and read the error',
    expected: 'E_INTERNAL / E_STORE without kernel paths' },
  { id: 'XDOM-09', family: 'confidentiality', test: ESC2, anchor: 'DESIGN §5: slots reset and buffers zeroed before anyone else gets them (residue after a lease)',
    attack: 'read a card, release the lease, then look for the response bytes in the broker\'s slot buffers',
    expected: 'buffers are zero after release; the next lease starts on a reset card' },
  { id: 'XDOM-10', family: 'confidentiality', test: 'test/security/review-terminal-foreground.test.ts', anchor: `${PCI}; DESIGN §4 (one foreground domain owns the keypad)`,
    attack: 'nest a PIN entry inside one\'s own question so that keys typed for another domain land in one\'s PIN buffer',
    expected: 'the nested PIN entry is refused (E_UI); the other domain\'s answer goes to it' },
  { id: 'XDOM-11', family: 'confidentiality', test: 'test/security/payment-confinement.test.ts', wholeFile: true, anchor: `${PCI}; ${JCF}`,
    attack: 'health and payment transactions interleaved on two slots; look for bank-card response bytes in anything delivered to health (and the reverse), and for PANs/PINs in every log, audit, store and crash file',
    expected: 'no byte string crosses; no Luhn-valid PAN or PIN used anywhere on disk' },
  { id: 'XDOM-12', family: 'confidentiality', test: 'test/security/billing-confinement.test.ts', wholeFile: true, anchor: `${JCF}; issue 4: the health applet touches no card but Vitale and CPS`,
    attack: 'under the health policy, reach the bank card: acquire its slot, SELECT the EMV application or the PSE through the Vitale lease, send GET PROCESSING OPTIONS / GENERATE AC / VERIFY, ask a PIN entry with the EMV PIN reference',
    expected: 'E_NOT_ROUTED, E_APDU_DENIED (a SELECT by name outside the class\'s AIDs, instructions outside its allowlist, PIN instructions), E_POLICY; not one APDU reaches the EMV card; the audit shows health leasing only vitale/cps' },

  // ---------------------------------------------------------------- leases
  { id: 'LEASE-01', family: 'lease', test: LR, anchor: 'capability systems: unforgeable references; Java Card AID-bound contexts',
    attack: 'present a forged token and another domain\'s token',
    expected: 'E_LEASE for both' },
  { id: 'LEASE-02', family: 'lease', test: LR, anchor: 'replay of a revoked capability',
    attack: 'transmit through a lease after releasing it',
    expected: 'E_LEASE' },
  { id: 'LEASE-03', family: 'lease', test: LR, anchor: `${PCI} (VERIFY only from the kernel's PIN entry); ISO 7816-4 well-formedness`,
    attack: 'send an APDU outside the card class allowlist, a VERIFY with PIN digits, and a malformed APDU',
    expected: 'E_APDU_DENIED, E_APDU_DENIED (no digits in the message), E_APDU_MALFORMED; allowed ECHO still works' },
  { id: 'LEASE-04', family: 'lease', test: LR, anchor: OOM,
    attack: 'reuse a lease token after the holder\'s host was killed',
    expected: 'lease.revoked (host-death) audited; the old token is dead; a new lease gets a new token' },
  { id: 'LEASE-05', family: 'lease', test: ESC2, anchor: 'confused deputy: a method must act for its own object, not for `this`',
    attack: 'call lease.transmit/release with `this` set to a forged lease object, redefine lease.token',
    expected: 'leases are frozen; methods act for their own lease; a forged lease object passed to pin.verify is E_LEASE' },

  // ---------------------------------------------------------------- denial of service
  { id: 'DOS-01', family: 'dos', test: DOS, anchor: 'isolated-vm timeout does not cover async work; watchdog on cpuTime/wallTime',
    attack: 'endless synchronous loop', expected: 'E_TERMINATED, watchdog.breach audited, fresh isolate; the other domain serves throughout' },
  { id: 'DOS-02', family: 'dos', test: DOS, anchor: 'isolated-vm issue #136 class: microtasks escape script timeouts',
    attack: 'endless microtask chain', expected: 'E_TERMINATED by the CPU watchdog; the other domain serves throughout' },
  { id: 'DOS-03', family: 'dos', test: DOS, anchor: 'work hidden in awaited host calls (DESIGN §6)',
    attack: 'endless loop of awaited platform calls', expected: 'E_TERMINATED (CPU charged across awaits); the other domain serves' },
  { id: 'DOS-04', family: 'dos', test: DOS, anchor: OOM,
    attack: 'memory bomb (allocate until the heap limit)', expected: 'breach or host exit of that domain only; it comes back' },
  { id: 'DOS-05', family: 'dos', test: DOS2, anchor: 'V8 stack overflow inside an isolate',
    attack: 'unbounded recursion, also through a platform-call callback', expected: 'RangeError inside the isolate; the host and the kernel unaffected' },
  { id: 'DOS-06', family: 'dos', test: DOS2, anchor: 'ReDoS (OWASP); V8 irregexp backtracking is not interruptible by the applet',
    attack: 'catastrophic regular expression /^(a+)+$/ on a long non-matching input', expected: 'terminated by the watchdog (cpu), the other domain serves' },
  { id: 'DOS-07', family: 'dos', test: LIM, anchor: 'DESIGN §4 router: bounded queues, per-domain rate limits',
    attack: 'flood of platform calls', expected: 'E_QUEUE / E_RATE; at most queueLength in flight; the other domain works' },
  { id: 'DOS-08', family: 'dos', test: 'test/security/review-audit-flood.test.ts', anchor: 'log injection/flooding (CWE-779)',
    attack: 'thousands of refused calls to grow the audit log (fsync per entry)', expected: 'refusals audited in bounded numbers' },
  { id: 'DOS-09', family: 'dos', test: LIM, anchor: 'CWE-400 (uncontrolled resource consumption)',
    attack: 'log flooding with huge messages', expected: 'bounded on disk (rotation, two files)' },
  { id: 'DOS-10', family: 'dos', test: DOS2, anchor: 'ISO 7816-4 extended length caps; DESIGN §5 (lengths capped)',
    attack: 'a 70,000-byte APDU, a maximal extended APDU, an APDU whose Lc lies', expected: 'E_ARGS over the 65,544-byte ISO maximum, E_APDU_MALFORMED for the lie, bounded work otherwise; the lease and host stay usable' },
  { id: 'DOS-11', family: 'dos', test: LIM, anchor: 'DESIGN §5: leases revoked on timeout',
    attack: 'acquire a slot and never release it', expected: 'lease revoked on idle timeout (reason timeout); token dead' },
  { id: 'DOS-12', family: 'dos', test: LIM, anchor: 'message size limits (policy maxMessageBytes)',
    attack: 'send a request larger than maxMessageBytes', expected: 'refused to the applet (E_ARGS/E_QUOTA); host not killed' },
  { id: 'DOS-13', family: 'dos', test: LIM, anchor: 'store quota (DESIGN §4)',
    attack: 'fill the store past quota with put and transaction', expected: 'E_QUOTA; a refused transaction changes nothing' },
  { id: 'DOS-14', family: 'dos', test: LIM, anchor: 'bounded argument shapes',
    attack: 'oversize screens, questions, deep and wide values', expected: 'E_ARGS; the screen is unchanged' },
  { id: 'DOS-15', family: 'dos', test: 'test/security/review-terminal-foreground.test.ts', anchor: 'fair scheduling of the foreground',
    attack: 'queue many questions to starve another domain of the screen', expected: 'turns alternate between domains' },

  // ---------------------------------------------------------------- side channels
  { id: 'SIDE-01', family: 'side', test: SIDE, anchor: 'Spectre-class timers: SharedArrayBuffer + Atomics give a fine clock (browsers gate them behind cross-origin isolation)',
    attack: 'look for SharedArrayBuffer and Atomics, directly and through intrinsics (ArrayBuffer.prototype, WebAssembly.Memory)',
    expected: 'absent; no constructor reachable' },
  { id: 'SIDE-02', family: 'side', test: SIDE, anchor: 'timer coarsening (browsers after Spectre); DESIGN §6 (clock coarse)',
    attack: 'read Date.now(), new Date(), Intl formatting and platform.clock.now() for sub-granularity bits',
    expected: 'all multiples of the clock granularity (100 ms by default)' },
  { id: 'SIDE-03', family: 'side', test: SIDE, anchor: 'Schwarz et al., "Fantastic Timers" (counting threads and loops as clocks)',
    attack: 'count loop iterations between two awaited platform calls, and within one coarse tick',
    expected: 'possible (residual risk): the test measures and reports the resolution; bounded only by the CPU budget per call',
    residual: 'an applet can build a fine timer from a counting loop; it can time its own platform calls. It cannot time the other domain directly (no shared memory, no shared card), only through shared CPU contention.' },
  { id: 'SIDE-04', family: 'side', test: SIDE, anchor: 'WeakRef/FinalizationRegistry expose GC timing and run callbacks outside handler calls (SES removes/tames them)',
    attack: 'use WeakRef / FinalizationRegistry', expected: 'absent' },
  { id: 'SIDE-05', family: 'side', test: XD, anchor: 'timing oracles on capability refusal',
    attack: 'time acquire on empty vs foreign vs foreign-leased slots with a long timeout', expected: 'all settle at once' },

  // ---------------------------------------------------------------- logs and audit
  { id: 'LOG-01', family: 'audit', test: 'test/security/review-pin-oddities.test.ts', anchor: PCI,
    attack: 'a hostile card echoes the PIN block in GET RESPONSE, 6Cxx, odd SW, huge answers', expected: 'the applet learns ok/tries or an error, never a digit; broker buffers clean' },
  { id: 'LOG-02', family: 'audit', test: 'test/security/review-pin-oddities.test.ts', anchor: PCI,
    attack: 'look for the PIN digits in the audit and every log after PIN entries', expected: 'absent; pin.* events present' },
  { id: 'LOG-03', family: 'audit', test: 'test/security/review-redaction.test.ts', anchor: PCI,
    attack: 'a host writes a full PAN, spaced PAN and track 2 in crash output', expected: 'masked to first 6 / last 4; track 2 discretionary data gone' },
  { id: 'LOG-04', family: 'audit', test: 'test/security/review-redaction.test.ts', anchor: PCI,
    attack: 'a PAN straddling the 4096-character line cut or the host\'s 1024-byte error cut', expected: 'middle digits never reach a log' },
  { id: 'LOG-05', family: 'audit', test: AUD, anchor: PCI,
    attack: 'platform.log with PAN, track 2 (ASCII and nibble form) and PIN in message and fields', expected: 'the domain log holds the masked PAN only; no track 2, no PIN' },
  { id: 'LOG-06', family: 'audit', test: AUD, anchor: 'tamper-evident logs (hash chains, e.g. RFC 6962 style); DESIGN §4 `di audit verify`',
    attack: 'edit, delete, reorder an audit entry on disk', expected: '`di audit verify` exits 1 naming the line' },
  { id: 'LOG-07', family: 'audit', test: AUD, anchor: 'log injection (CWE-117)',
    attack: 'forge audit entries: from an applet (a log message that looks like an audit line, with newlines) and on disk (a line inserted with a made-up hash)',
    expected: 'applets cannot write the audit; the injected text stays one escaped log line; an inserted line breaks the chain',
    residual: 'the chain is unkeyed: someone who can write the file and recompute every later hash is not detected unless the last hash was kept elsewhere' },

  // ---------------------------------------------------------------- fault isolation
  { id: 'FAULT-01', family: 'fault', test: FLT, anchor: OOM,
    attack: 'the host of one domain is killed mid-transaction (lease held, APDUs in flight)', expected: 'the other domain completes its own transaction on its own card; the killed domain\'s leases are revoked and it restarts' },
  { id: 'FAULT-02', family: 'fault', test: FLT, anchor: OOM,
    attack: 'one domain runs out of memory mid-transaction', expected: 'the other domain completes its transaction; the guilty domain comes back' },
  { id: 'FAULT-03', family: 'fault', test: HP, anchor: 'the kernel trusts no message from a host (DESIGN §2)',
    attack: 'a host writes garbage on its pipe', expected: 'killed, violation audited, the kernel serves' },
  { id: 'FAULT-04', family: 'fault', test: HP, anchor: 'length-prefix bombs',
    attack: 'a host sends an oversize length prefix', expected: 'killed before buffering; the kernel serves' },
  { id: 'FAULT-05', family: 'fault', test: HP, anchor: 'schema validation of every frame',
    attack: 'a host sends a well-framed but invalid message', expected: 'killed; the kernel serves' },
  { id: 'FAULT-06', family: 'fault', test: HP, anchor: 'confused deputy via call ids',
    attack: 'a host answers a call the kernel never made', expected: 'killed; the kernel serves' },
  { id: 'FAULT-07', family: 'fault', test: LIM, anchor: 'start-up denial', attack: 'a host that never answers init', expected: 'E_UNAVAILABLE and killed' },
  { id: 'FAULT-08', family: 'fault', test: LIM, anchor: 'crash loops', attack: 'a host that keeps crashing', expected: 'restarted with exponential back-off, capped' },

  // ---------------------------------------------------------------- tampering
  { id: 'PKG-01', family: 'tamper', test: PKG, anchor: 'code signing (CMS SignedData over a manifest of SHA-256 hashes)',
    attack: 'append code to an installed applet.js', expected: 'domain refused at boot naming applet.js; the other domain boots' },
  { id: 'PKG-02', family: 'tamper', test: PKG, anchor: 'unsigned code', attack: 'delete signature.p7s', expected: 'refused (unsigned); the other domain boots' },
  { id: 'PKG-03', family: 'tamper', test: PKG, anchor: 'DESIGN §7 schema validation', attack: 'break a field of an installed policy', expected: 'refused naming file and JSON pointer' },
  { id: 'PKG-04', family: 'tamper', test: PKG, anchor: 'DESIGN §7: the policy is signed with the package', attack: 'edit an installed policy into another valid one (more memory)', expected: 'refused: differs from the signed policy' },
  { id: 'PKG-05', family: 'tamper', test: PKG, anchor: 'trust anchors: a valid signature by an untrusted key is no signature',
    attack: 'a stranger edits an installed package and re-signs it with their own CA', expected: 'refused (E_UNKNOWN_SIGNER); the other domain boots' },
  { id: 'PKG-06', family: 'tamper', test: PKG, anchor: 'manifest hash binding', attack: 'edit policy.json inside the package (granting more)', expected: 'refused (hash mismatch naming policy.json)' },

  // ---------------------------------------------------------------- hostile cards
  { id: 'PKG-07', family: 'tamper', test: 'test/security/mail-and-grants.test.ts', anchor: 'workerd-style grants: nothing bundled unless declared; the sandbox has no modules',
    attack: 'pack an applet importing an npm package its applet.json does not declare, or a Node built-in it does declare',
    expected: 'E_PACK naming the import; built-ins refused whatever applet.json says' },
  { id: 'CARD-01', family: 'card', test: HC, anchor: 'ISO 7816-3 T=0 procedure bytes; bounded loops', attack: 'endless 61xx', expected: 'bounded GET RESPONSE rounds, E_CARD' },
  { id: 'CARD-02', family: 'card', test: HC, anchor: 'ISO 7816-3 6Cxx', attack: 'endless 6Cxx', expected: 'one re-send, then E_CARD' },
  { id: 'CARD-03', family: 'card', test: HC, anchor: 'response length caps', attack: 'oversized answer', expected: 'E_CARD, never delivered' },
  { id: 'CARD-04', family: 'card', test: HC, anchor: 'mute card / reader timeouts', attack: 'mute card', expected: 'E_CARD/E_NO_CARD; kernel healthy' },
  { id: 'CARD-05', family: 'card', test: HC, anchor: 'the broker does not parse content (smaller TCB)', attack: 'malformed TLV', expected: 'passed as bytes' },
  { id: 'CARD-06', family: 'card', test: HC, anchor: 'ISO 7816-4 status words', attack: 'one-byte and odd status words', expected: 'E_CARD for the one-byte answer' },
  { id: 'CARD-07', family: 'card', test: HC, anchor: 'card reset between holders', attack: 'an ATR that changes at each reset', expected: 'the changed card is routed afresh as a new insertion; the next session works' },

  // ---------------------------------------------------------------- fuzzing
  { id: 'FUZZ-01', family: 'fuzz', test: `${FZ}/parsers.test.ts`, anchor: 'BER-TLV (ISO 8825-1) parser robustness', attack: 'random and mutated BER-TLV bytes', expected: 'parses or throws the codec\'s error; round-trips what it parses' },
  { id: 'FUZZ-02', family: 'fuzz', test: `${FZ}/parsers.test.ts`, anchor: 'ISO 7816-4 APDU cases', attack: 'random command APDUs', expected: 'parsed consistently or refused with the codec\'s error' },
  { id: 'FUZZ-03', family: 'fuzz', test: `${FZ}/wire.test.ts`, anchor: 'the kernel trusts no host frame', attack: 'random bytes and near-valid messages into the frame decoder and validators', expected: 'only FrameError / ProtocolError, never another exception or acceptance of an invalid message' },
  { id: 'FUZZ-04', family: 'fuzz', test: `${FZ}/policy-and-packages.test.ts`, anchor: 'DESIGN §7', attack: 'random and mutated policy JSON', expected: 'a Policy or a PolicyError naming the file' },
  { id: 'FUZZ-05', family: 'fuzz', test: `${FZ}/policy-and-packages.test.ts`, anchor: 'code signing', attack: 'random byte mutations of a signed package\'s files', expected: 'PackageError only; a modified package is never accepted' },
  { id: 'FUZZ-06', family: 'fuzz', test: `${FZ}/parsers.test.ts`, anchor: 'DESIGN §5 APDU filter', attack: 'random APDUs through the broker\'s filter', expected: 'only allowlisted, well-formed commands pass; VERIFY never; only BrokerError otherwise' },

  // ---------------------------------------------------------------- TLA host link
  { id: 'TLA-01', family: 'hostlink', test: TLA, anchor: `${TLA_ANCHOR}; complete mediation`,
    attack: 'a computer that is not paired (another certificate, or none) asks identify, data.load, fse.unload, date.get, date.set',
    expected: 'E_UNPAIRED and the link closed, no result; the domain\'s handler is never called and the clock is unchanged' },
  { id: 'TLA-02', family: 'hostlink', test: TLA, anchor: 'online guessing of a short code (NIST SP 800-63B rate limiting; Bluetooth SSP numeric comparison)',
    attack: 'guess the pairing code: three wrong proofs, then the right one',
    expected: 'E_PAIRING each time; the code is void after the third wrong proof, so the fourth (right) one is refused too; the code is never audited' },
  { id: 'TLA-03', family: 'hostlink', test: TLA, anchor: 'relay / man-in-the-middle on pairing (channel binding, RFC 5056): the proofs bind both certificates',
    attack: 'a relay in the middle: the proof is computed over the relay\'s certificate, or by another computer\'s certificate',
    expected: 'E_PAIRING; nothing paired' },
  { id: 'TLA-04', family: 'hostlink', test: TLA, anchor: 'one-time codes are single use (replay)',
    attack: 'pair with no pairing open, with a cancelled code, or replay a code another computer already used',
    expected: 'E_PAIRING; nothing paired' },
  { id: 'TLA-05', family: 'hostlink', test: TLA, anchor: 'the device trusts no frame from the computer (strict validation, msgpack extension types refused)',
    attack: 'malformed frames: garbage msgpack, a length prefix over the limit, an empty body, an array for the request, an id that is not a uint32, an extra field, a wrong version, args not an object, a Date, undefined or an unknown extension in args; wrong kernel-op arguments',
    expected: 'E_FRAME naming the field and the link closed (E_REQUEST naming the field for wrong arguments); the domain is not called; the paired computer and the domain are served afterwards' },
  { id: 'TLA-06', family: 'hostlink', test: TLA, anchor: 'DESIGN §4: only what a policy grants (hostLink.ops)',
    attack: 'a paired computer asks for operations the policy does not grant, or that do not exist (erase, shell.exec, onAction, __proto__)',
    expected: 'E_OP; the domain\'s handler is never called; the link stays usable' },
  { id: 'TLA-07', family: 'hostlink', test: TLA, anchor: 'DESIGN §7 policy set rules: one domain serves the host link',
    attack: 'a second policy claims hostLink',
    expected: 'refused at load with a PolicyError naming both domains; a kernel given both does not boot' },
  { id: 'TLA-08', family: 'hostlink', test: TLA, anchor: 'resource exhaustion (CWE-400): bounded connections and one request at a time',
    attack: 'open more than 4 links; send a second request while the first runs',
    expected: 'the fifth link gets E_BUSY and is closed; the second request gets E_BUSY; once links close the device serves again' },
  { id: 'TLA-09', family: 'hostlink', test: 'test/security/review-hostlink.test.ts', anchor: 'resource exhaustion (CWE-400) by an unauthenticated peer: slots reserved for the paired computer',
    attack: 'a computer that is not paired opens links and keeps them open, sending nothing, to take every slot',
    expected: 'beyond 4 links it gets E_BUSY; when the paired computer connects, one of the stranger\'s links gets E_BUSY and is closed to make room: the paired computer is served',
    residual: 'the stranger\'s links can delay the pairing of a new computer until they go idle (60 s)' },
  { id: 'TLA-10', family: 'hostlink', test: 'test/security/review-hostlink.test.ts', anchor: 'no NIR in what leaves the device as an error (issue 8 contract: E_DOMAIN messages redacted)',
    attack: 'a domain refusal quoting a NIR born in Corsica (department 2A/2B), whose digits come in runs too short for the long-digit-run mask',
    expected: 'the message reaches the computer with the NIR masked to its first character' },
];

/** Parsers the issue names that do not exist in the code yet (nothing to fuzz). */
export const NOT_YET = [
  'ARL parser (applets/sesam-vitale returns): not written yet; FUZZ entry to add when it lands',
  'RSP / NOEMIE payment-return parser: not written yet',
  'LOTS / file (B2) parser: not written yet',
];
