// new ExternalCopy(buf).copy() of a 16 MiB ArrayBuffer, built once.
// The ExternalCopy handles are released after the batch's clock stops.
const SIZE = 16 * 2 ** 20;

export default {
  name: 'copyBuffer',
  title: 'new ExternalCopy(16 MiB ArrayBuffer).copy()',
  kind: 'time',
  separate: true,
  batch: 5,
  setup(ivm) {
    const buf = new ArrayBuffer(SIZE);
    const bytes = new Uint8Array(buf);
    for (let i = 0; i < SIZE; i += 4096) bytes[i] = i % 251;
    bytes[SIZE - 1] = 42;
    let held = [];
    const releaseAll = () => {
      for (const c of held) c.release();
      held = [];
    };
    return {
      check: () => {
        const c = new ivm.ExternalCopy(buf);
        const out = c.copy();
        c.release();
        const b = new Uint8Array(out);
        return out instanceof ArrayBuffer && out !== buf && out.byteLength === SIZE &&
          b[SIZE - 1] === 42 && b[4096 * 7] === (4096 * 7) % 251;
      },
      beforeBatch: releaseAll,
      run() {
        const c = new ivm.ExternalCopy(buf);
        held.push(c);
        return c.copy();
      },
      teardown: releaseAll,
    };
  },
};
