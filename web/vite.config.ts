import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The bundle is committed (web/dist) and embedded in the switchboard binary, so the output layout
// is fixed: dist/index.html, dist/favicon.svg, dist/assets/<name>-<hash>.js|css.
export default defineConfig({
  plugins: [react()],
  base: '/',
  // `npm run dev` serves the sources and forwards the API and the desktop socket to a running
  // switchboard (SWITCHBOARD_URL, default the demo's http://127.0.0.1:3000).
  server: {
    proxy: {
      '/v1': { target: process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:3000', ws: true },
      '/demo': { target: process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:3000' },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
