// The entry of promptlab's worker threads (src/train/workers.ts): loads TypeScript through tsx, then
// runs workerData.fn of workerData.module with the worker's context. Plain CommonJS, so that Node can
// start it before any TypeScript loader is in place.
'use strict';
require('tsx/cjs');
const { parentPort, workerData } = require('worker_threads');
const { workerMain } = require('./workers.ts');
workerMain(parentPort, workerData);
