import { dropEarlyLoad, startEarlyLoad } from './earlyLoad.js';

// `serve` starts loading its config in the load worker first: the commands' modules
// (the whole proxy) then load on this thread while the keys are read on another core.
startEarlyLoad(process.argv.slice(2));
const { main } = await import('./main.js');

main(process.argv.slice(2)).then(
  (code) => {
    dropEarlyLoad();
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    dropEarlyLoad();
    process.stderr.write(`keygate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
