// Types for index.js: danfojs-node's declarations import '@tensorflow/tfjs-node', which resolves here.
export * from '@tensorflow/tfjs';
