/// <reference types="vitest/config" />
// Vite: the dev server on 5173 proxies the backend (8000); the build goes to dist/, which Django
// serves under /static/app/ (STATICFILES_DIRS) with index.html for every dashboard route.
import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

const backend = process.env.ARISTOBOT_BACKEND_URL ?? 'http://127.0.0.1:8000'

export default defineConfig(({ command }) => ({
  // Built assets live at /static/app/… on Django; the dev server serves from /.
  base: command === 'build' ? '/static/app/' : '/',
  plugins: [vue()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      '/api': { target: backend, changeOrigin: false },
      '/admin': { target: backend, changeOrigin: false },
      '/static': { target: backend, changeOrigin: false },
      '/ws': { target: backend, ws: true, changeOrigin: false },
    },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    include: ['tests/unit/**/*.spec.ts'],
    restoreMocks: true,
  },
}))
