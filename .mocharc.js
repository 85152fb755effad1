// Mocha runs the compiled tests (npm test builds first). Unit and integration tests share a
// 10 s timeout, like etcd3's; slower suites raise their own with this.timeout().
// The default spec applies only when no test files are named on the command line (mocha would
// otherwise merge the two lists), so `mocha dist/test/unit/...` runs just those files.
const named = process.argv.slice(2).some((a) => a.endsWith('.js') || a.includes('*'));
module.exports = {
  ...(named ? {} : { spec: ['dist/test/**/*.test.js'] }),
  timeout: 10000,
  recursive: true,
  exit: true,
};
