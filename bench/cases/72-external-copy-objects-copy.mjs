// Second half of `copyObjects`: copy() only, of one ExternalCopy made in setup
// (external copy -> new host value).
import { checkUsers, makeUsers } from '../lib/data.mjs';

export default {
  name: 'copyObjectsCopy',
  title: 'externalCopy.copy() (only, 10k objects)',
  kind: 'time',
  separate: true,
  batch: 2,
  setup(ivm) {
    const copy = new ivm.ExternalCopy(makeUsers());
    return {
      check: () => checkUsers(copy.copy()),
      run: () => copy.copy(),
      teardown: () => copy.release(),
    };
  },
};
