// The dashboard's pages; every page but sign-in needs a signed-in user.
import { createRouter, createWebHistory, type RouteRecordRaw, type Router } from 'vue-router'
import { ApiError } from '@/api/client'
import { useAuthStore } from '@/stores/auth'
import { useConnectionStore } from '@/stores/connection'

export const routes: RouteRecordRaw[] = [
  { path: '/', redirect: '/webhooks' },
  { path: '/login', name: 'login', component: () => import('@/views/LoginView.vue'), meta: { public: true, title: 'Sign in' } },
  { path: '/webhooks', name: 'webhooks', component: () => import('@/views/WebhooksView.vue'), meta: { title: 'Webhooks' } },
  { path: '/brokers', name: 'brokers', component: () => import('@/views/BrokersView.vue'), meta: { title: 'Brokers' } },
  {
    path: '/tradingview',
    name: 'tradingview',
    component: () => import('@/views/TradingViewView.vue'),
    meta: { title: 'TradingView setup' },
  },
  { path: '/positions', name: 'positions', component: () => import('@/views/PositionsView.vue'), meta: { title: 'Positions' } },
  { path: '/orders', name: 'orders', component: () => import('@/views/OrdersView.vue'), meta: { title: 'Orders' } },
  { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('@/views/NotFoundView.vue'), meta: { title: 'Not found' } },
]

export function routerCreate(): Router {
  const router = createRouter({ history: createWebHistory('/'), routes })

  router.beforeEach(async (to) => {
    const auth = useAuthStore()
    let user = auth.user
    try {
      user = await auth.load()
    } catch (cause) {
      // The API is unreachable: let the page show with the banner rather than a blank screen.
      if (cause instanceof ApiError) useConnectionStore().apiDown(cause.message)
      if (to.meta.public) return true
      return auth.loaded && !auth.user ? { name: 'login', query: { next: to.fullPath } } : true
    }
    if (to.meta.public) return user && to.name === 'login' ? { path: '/webhooks' } : true
    if (!user) return { name: 'login', query: to.fullPath === '/webhooks' ? {} : { next: to.fullPath } }
    return true
  })

  router.afterEach((to) => {
    document.title = to.meta.title ? `${String(to.meta.title)} · Aristobot` : 'Aristobot'
  })

  return router
}
