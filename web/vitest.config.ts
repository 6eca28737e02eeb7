// The UI's component tests (`npm run test:web`, part of `npm test`): vitest in happy-dom, TSX by
// esbuild with React's automatic runtime, as the build does.
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  esbuild: { jsx: 'automatic' },
  test: {
    environment: 'happy-dom',
    include: ['test/**/*.test.tsx'],
    // CSS imports are the build's business; components are tested on their DOM.
    css: false,
    testTimeout: 10_000,
  },
});
