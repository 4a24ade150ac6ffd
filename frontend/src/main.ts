// Start the dashboard: Pinia, the router, and the API client's hooks into the connection state.
import { createPinia } from 'pinia'
import { createApp } from 'vue'
import App from './App.vue'
import { clientHooksSet } from './api/client'
import { routerCreate } from './router'
import { useAuthStore } from './stores/auth'
import { useConnectionStore } from './stores/connection'
import './styles/main.css'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia)
const router = routerCreate()
app.use(router)

const connection = useConnectionStore(pinia)
const auth = useAuthStore(pinia)
clientHooksSet({
  onReachable: () => connection.apiUp(),
  onUnreachable: (error) => connection.apiDown(error.message),
  onUnauthenticated: () => {
    // The session expired or was ended elsewhere: back to sign-in, then to this page.
    if (!auth.user) return
    auth.sessionEnded()
    const here = router.currentRoute.value
    if (!here.meta.public) void router.replace({ name: 'login', query: { next: here.fullPath } })
  },
})

app.mount('#app')
