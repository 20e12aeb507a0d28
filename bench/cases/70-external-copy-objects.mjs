// new ExternalCopy(data).copy() of 10,000 small objects (see lib/data.mjs), built once.
// The ExternalCopy handles are released after the batch's clock stops.
import { checkUsers, makeUsers } from '../lib/data.mjs';

export default {
  name: 'copyObjects',
  title: 'new ExternalCopy(10k objects).copy()',
  kind: 'time',
  separate: true,
  batch: 2,
  setup(ivm) {
    const data = makeUsers();
    let held = [];
    const releaseAll = () => {
      for (const c of held) c.release();
      held = [];
    };
    return {
      check: () => {
        const c = new ivm.ExternalCopy(data);
        const ok = checkUsers(c.copy());
        c.release();
        return ok;
      },
      beforeBatch: releaseAll,
      run() {
        const c = new ivm.ExternalCopy(data);
        held.push(c);
        return c.copy();
      },
      teardown: releaseAll,
    };
  },
};
