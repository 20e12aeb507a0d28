// First half of `copyObjects`: new ExternalCopy(data) only (host value -> external copy).
import { checkUsers, makeUsers } from '../lib/data.mjs';

export default {
  name: 'copyObjectsNew',
  title: 'new ExternalCopy(10k objects) (only)',
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
      },
      teardown: releaseAll,
    };
  },
};
