#!/usr/bin/env node
// Starts tslab's TypeScript kernel for promptlab's notebooks with the repository root as its working
// directory, so notebooks import the library as './src/...' and read files as 'models/...' whatever
// the notebook's folder (Jupyter starts kernels there) or the folder Jupyter was started from.
// Used by jupyter/kernels/promptlab/kernel.json:  node <this file> {connection_file}
'use strict';
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');

function fail(message) {
  process.stderr.write(`promptlab kernel: ${message}\n`);
  process.exit(1);
}

const args = process.argv.slice(2);
let connectionFile = args[0];
if (connectionFile === '--config-path') connectionFile = args[1];
if (!connectionFile) fail('usage: node scripts/tslab-kernel.js <connection file>');
connectionFile = path.resolve(connectionFile); // relative to the cwd Jupyter gave us, before chdir

let tslabMain;
try {
  tslabMain = require.resolve('tslab/dist/main.js', { paths: [ROOT] });
} catch {
  fail(`tslab is not installed under ${path.join(ROOT, 'node_modules')}; run \`npm ci\` in ${ROOT}`);
}

// Where the notebook lives (Jupyter's choice of cwd), for notebooks that want it.
process.env.PROMPTLAB_NOTEBOOK_DIR = process.env.PROMPTLAB_NOTEBOOK_DIR || process.cwd();
process.chdir(ROOT);
if (!fs.existsSync(path.join(ROOT, 'src'))) fail(`${ROOT} does not look like the promptlab repository (no src/)`);

// tslab 1.0.22 runs the local .ts files a cell imports from the JavaScript it compiled them to, found
// by joining the import to the importer's folder and adding ".js". A folder import such as
// './src/miniclip' or '../world' (TypeScript resolves it to the folder's index.ts) thus misses that
// output, and Node's own require then fails with "Cannot find module". Map such joins to the folder's
// index, as TypeScript does; any other path is left as tslab computed it.
const tspath = require(path.join(path.dirname(tslabMain), 'tspath.js'));
const normalizeJoin = tspath.normalizeJoin;
const isFile = (p) => {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
};
tspath.normalizeJoin = function normalizeJoinWithIndex(...parts) {
  const joined = normalizeJoin(...parts);
  if (path.extname(joined) !== '' || !path.isAbsolute(joined)) return joined;
  if (['.ts', '.tsx', '.d.ts', '.js'].some((ext) => isFile(joined + ext))) return joined;
  if (isFile(path.join(joined, 'index.ts')) || isFile(path.join(joined, 'index.tsx'))) return normalizeJoin(joined, 'index');
  return joined;
};

// tslab 1.0.22 sends its messages without waiting for the previous send on the same socket
// (ZmqMessage.signAndSend calls sock.send and returns). zeromq 6 allows one send in progress per
// socket and throws "Socket is busy writing" (EBUSY) otherwise, which killed the kernel when a cell's
// outputs and the status messages of the next request met on the IOPub socket (seen in notebook 05).
// Queue the sends of each socket instead: each starts when the one before it has finished; a send that
// fails is reported on stderr rather than left as an unhandled rejection.
const zmq = require(require.resolve('zeromq', { paths: [path.dirname(tslabMain)] }));
const sendQueues = new WeakMap(); // socket -> the promise of its last send (zeromq's sockets are sealed)
for (const Cls of [zmq.Publisher, zmq.Router]) {
  const send = Object.getPrototypeOf(Cls.prototype).send;
  Object.defineProperty(Cls.prototype, 'send', {
    configurable: true,
    writable: true,
    value: function queuedSend(message) {
      const queue = sendQueues.get(this) || Promise.resolve();
      const sent = queue.then(() => send.call(this, message));
      sendQueues.set(this, sent.catch(() => undefined));
      return sent.catch((e) => process.stderr.write(`promptlab kernel: a message was not sent: ${e && e.message}\n`));
    },
  });
}

const { startKernel } = require(tslabMain);
// enableFindLocal: false: this is already the repository's own tslab.
startKernel({ configPath: connectionFile, enableFindLocal: false, jsKernel: false, globalVersion: require(path.join(path.dirname(tslabMain), '..', 'package.json')).version });
