// A seeded generator for the lab's daemons (mulberry32): the run's seed fixes their timings.
export function seededRandom(seed, salt = 0) {
  let a = (Math.imul(Number(seed) || 1, 0x9e3779b1) + salt) | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
