// danfojs-node 1.2 requires '@tensorflow/tfjs-node' (^3.13, whose install downloads libtensorflow).
// package.json "overrides" point that one dependency (danfojs-node > @tensorflow/tfjs-node) here, so
// danfojs shares the project's @tensorflow/tfjs (and whichever backend src/backend picked), while the
// root's optional @tensorflow/tfjs-node stays the real native package for the backend picker.
// (An npm alias, "npm:@tensorflow/tfjs@4.22.0", does not work for this: npm takes the real
// @tensorflow/tfjs-node@4.22.0 at the root as satisfying it, the two names having the same version.)
module.exports = require('@tensorflow/tfjs');
