// Run untrusted code with a memory limit and a timeout: `npm run example`.
const ivm = require('isolated-vm-rs');
async function runUntrustedScript(code) {
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const context = await isolate.createContext();
  const script = await isolate.compileScript(code);
  try { console.log('Result:', await script.run(context, { timeout: 1000 })); }
  catch (e) { console.error('Execution Failed:', e.message); }
  finally { isolate.dispose(); }
}
runUntrustedScript('10 + 20;');                      // Result: 30
runUntrustedScript('while(true) {}');                 // Execution Failed: Script execution timed out.
runUntrustedScript('process.env.SECRET_API_KEY;');    // Execution Failed: process is not defined
