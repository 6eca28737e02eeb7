// The web console's own build: `npm run build:web` (part of `npm run build`) writes it to
// dist/web, which tsvirtd --http serves. No plugin: esbuild compiles the TSX with React's
// automatic runtime.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // Inline nothing as data: URLs beyond small images; fonts stay files under assets/.
    assetsInlineLimit: 4096,
    chunkSizeWarningLimit: 2000,
  },
});
