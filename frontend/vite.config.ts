import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

const backend = 'http://localhost:8080'

// `npm run dev` serves the SPA and forwards the API and the SSO callback to a running `keyward serve`.
export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/graphql': { target: backend, changeOrigin: false },
      '/auth': { target: backend, changeOrigin: false },
    },
  },
})
