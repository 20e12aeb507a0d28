// Test data shared by the data-model cases.

// 10,000 small objects, ≈ 0.6 MB as JSON / v8.serialize (≈ 1–1.5 MB on the V8 heap):
// [{ id, name: 'user' + i, tags: ['a', 'b'], score: i * 1.5 }, ...]
export const USERS_COUNT = 10000;
export function makeUsers(n = USERS_COUNT) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = { id: i, name: 'user' + i, tags: ['a', 'b'], score: i * 1.5 };
  return out;
}

export function checkUsers(v, n = USERS_COUNT) {
  if (!Array.isArray(v) || v.length !== n) return false;
  const last = v[n - 1];
  return last.id === n - 1 && last.name === `user${n - 1}` && last.score === (n - 1) * 1.5 &&
    Array.isArray(last.tags) && last.tags.join() === 'a,b';
}
