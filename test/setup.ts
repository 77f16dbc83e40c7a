// Root hooks: every test file runs on the backend promptlab would pick (PROMPTLAB_BACKEND honoured).
import { initBackend } from '../src/backend';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60000);
    await initBackend();
  },
};
