// Run by the runner in a child process: prints the WebGPU adapter Dawn offers as one JSON value
// (null when there is none), so `backend: auto` can pass over a software adapter without loading
// Dawn, and the warnings it prints while enumerating Mesa's adapter, in the runner's own process.
const { create } = require(process.argv[2]);

create([])
  .requestAdapter({ powerPreference: 'high-performance' })
  .then(
    (adapter) => {
      const info = adapter
        ? {
            vendor: adapter.info.vendor,
            architecture: adapter.info.architecture,
            device: adapter.info.device,
            description: adapter.info.description,
            isFallbackAdapter: adapter.info.isFallbackAdapter,
          }
        : null;
      process.stdout.write(JSON.stringify(adapter ? { info, isFallbackAdapter: adapter.isFallbackAdapter } : null));
      // Dawn's instance keeps the event loop alive; the answer is written, so end here.
      process.exit(0);
    },
    () => process.exit(3),
  );
