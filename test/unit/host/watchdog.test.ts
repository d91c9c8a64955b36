/** The watchdog's accounting, driven tick by tick with fake clocks. */
import { describe, expect, it } from 'vitest';
import { Watchdog, type Breach } from '../../../platform/host/watchdog.js';

function rig(opts: { cpuMs: number; wallMs: number; deadlineMs?: number; idleCpuMs?: number }, initialCpuNs = 0n) {
  // cpu and isoWall: the isolate's clocks; wall: real time.
  const clock = { cpu: initialCpuNs, isoWall: initialCpuNs, wall: 0n, dead: false };
  const breaches: Breach[] = [];
  const dog = new Watchdog({
    deadlineMs: 60_000,
    ...opts,
    idleWindowMs: 1000,
    readCpuNs: () => {
      if (clock.dead) throw new Error('Isolate is disposed');
      return clock.cpu;
    },
    readWallNs: () => clock.isoWall,
    isDead: () => clock.dead,
    onBreach: (b) => breaches.push(b),
    nowNs: () => clock.wall,
  });
  const ms = (n: number): bigint => BigInt(n) * 1_000_000n;
  return { clock, breaches, dog, ms };
}

describe('Watchdog', () => {
  it('charges a call the isolate CPU used since it began, across any number of ticks', () => {
    // 500 ms used before the watchdog existed (context set-up): nobody's budget.
    const { clock, breaches, dog, ms } = rig({ cpuMs: 100, wallMs: 10_000 }, 500_000_000n);
    dog.begin(1);
    for (let i = 0; i < 10; i++) {
      clock.cpu += ms(10);
      clock.wall += ms(50);
      dog.check();
    }
    expect(breaches).toEqual([]);
    clock.cpu += ms(1);
    dog.check();
    expect(breaches).toEqual([{ kind: 'cpu', detail: 'call 1 used 101.0 ms of CPU (limit 100 ms)', callId: 1 }]);
    // Fires once only.
    clock.cpu += ms(100);
    dog.check();
    expect(breaches).toHaveLength(1);
  });

  it('wall is time spent inside the isolate (blocked or running), not time waiting on the kernel', () => {
    const { clock, breaches, dog, ms } = rig({ cpuMs: 100, wallMs: 300 });
    dog.begin(7);
    // A person takes 20 s to type a PIN: the isolate sits idle, nothing is charged.
    clock.wall += ms(20_000);
    dog.check();
    expect(breaches).toEqual([]);
    // Blocked inside the isolate (wall grows, CPU does not).
    clock.isoWall += ms(301);
    dog.check();
    expect(breaches).toEqual([{ kind: 'wall', detail: 'call 7 ran for 301.0 ms in the isolate (limit 300 ms)', callId: 7 }]);
  });

  it('a call that never settles hits the real-time deadline', () => {
    const { clock, breaches, dog, ms } = rig({ cpuMs: 100, wallMs: 300, deadlineMs: 60_000 });
    dog.begin(9);
    clock.wall += ms(60_001);
    dog.check();
    expect(breaches).toEqual([{ kind: 'deadline', detail: 'call 9 has not finished after 60001.0 ms (limit 60000 ms)', callId: 9 }]);
  });

  it('a call that ends is no longer charged, and its CPU is not billed to the idle window', () => {
    const { clock, breaches, dog, ms } = rig({ cpuMs: 100, wallMs: 1000 });
    dog.begin(1);
    clock.cpu += ms(90);
    dog.end(1);
    clock.wall += ms(5000);
    dog.check();
    expect(breaches).toEqual([]);
  });

  it('bills CPU used outside any call to a 1 s window', () => {
    const { clock, breaches, dog, ms } = rig({ cpuMs: 50, wallMs: 1000 });
    // 40 ms per second in the background: under budget, for ever.
    for (let s = 0; s < 5; s++) {
      for (let i = 0; i < 10; i++) {
        clock.cpu += ms(4);
        clock.wall += ms(100);
        dog.check();
      }
    }
    expect(breaches).toEqual([]);
    for (let i = 0; i < 10; i++) {
      clock.cpu += ms(6);
      clock.wall += ms(10);
      dog.check();
    }
    expect(breaches).toHaveLength(1);
    expect(breaches[0]).toMatchObject({ kind: 'cpu' });
    expect(breaches[0]?.detail).toMatch(/outside any call/);
    expect(breaches[0]?.callId).toBeUndefined();
  });

  it('an isolate that died on its own is a memory breach naming a running call', () => {
    const { clock, breaches, dog } = rig({ cpuMs: 50, wallMs: 1000 });
    dog.begin('init');
    dog.end('init');
    dog.begin(4);
    clock.dead = true;
    dog.check();
    expect(breaches).toEqual([{ kind: 'memory', detail: 'isolate was disposed by isolated-vm (memory limit)', callId: 4 }]);
  });

  it('start-up is budgeted like a call, without a call id', () => {
    const { clock, breaches, dog, ms } = rig({ cpuMs: 50, wallMs: 1000 });
    dog.begin('init');
    clock.cpu += ms(60);
    dog.check();
    expect(breaches).toEqual([{ kind: 'cpu', detail: 'applet start-up used 60.0 ms of CPU (limit 50 ms)' }]);
  });
});
