// Existing isolated-vm code after `npm install isolated-vm@npm:isolated-vm-rs`: unchanged.
const ivm = require('isolated-vm');

const isolate = new ivm.Isolate({ memoryLimit: 32 });
const context = isolate.createContextSync();
const jail = context.global;
jail.setSync('global', jail.derefInto());
console.log(`alias: ${require('isolated-vm/package.json').name} ${context.evalSync('global === globalThis')} ${context.evalSync('6 * 7')}`);
isolate.dispose();
