// Cross-runtime seed program, run by scripts/test-runtimes.mjs under Node 18/20/22/24,
// Bun and Deno. It is the isolated-vm README example, unchanged except for the package name.
//
// `require('isolated-vm-rs')` resolves through the package's self-reference (this file
// lives inside the package, whose package.json has a name and an "exports" map), exactly
// as it would from an app's node_modules. Expected output, in any order (the three calls
// run concurrently):
//   Result: 30
//   Execution Failed: Script execution timed out.
//   Execution Failed: process is not defined
const ivm = require('isolated-vm-rs');

async function runUntrustedScript(code) {
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const context = await isolate.createContext();
  const script = await isolate.compileScript(code);
  try {
    console.log('Result:', await script.run(context, { timeout: 1000 }));
  } catch (e) {
    console.error('Execution Failed:', e.message);
  } finally {
    isolate.dispose();
  }
}

runUntrustedScript('10 + 20;'); // Result: 30
runUntrustedScript('while(true) {}'); // Execution Failed: Script execution timed out.
runUntrustedScript('process.env.SECRET_API_KEY;'); // Execution Failed: process is not defined
