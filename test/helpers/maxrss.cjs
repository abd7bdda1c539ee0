// Preloaded into a child process (node --require): reports its peak RSS on stderr as it exits.
process.on('exit', () => {
  require('node:fs').writeSync(2, `\nmaxrss_kib=${process.resourceUsage().maxRSS}\n`);
});
