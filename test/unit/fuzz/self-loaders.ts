/** Loaders with known behaviour, for the fuzz harness's own test. */
export default {
  accept: () => 1,
  rejectNamed: (file: string) => {
    throw new Error(`${file}: line 1: not JSON`);
  },
  rejectUnnamed: () => {
    throw new Error('thrift unhandled type: 13');
  },
  hang: () => {
    for (;;);
  },
  crash: () => process.abort(),
  bloat: () => {
    const b = Buffer.alloc(400 * 2 ** 20, 1);
    return b.length;
  },
};
