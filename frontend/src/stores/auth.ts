// Who is signed in. `load()` asks the server once; the router waits for it before each page.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { ApiError } from '@/api/client'
import { authApi } from '@/api/endpoints'
import type { User } from '@/api/types'

const USER_META = 'meta[name="aristobot-user"]'

/**
 * Who Django said is signed in when it served the page (`undefined` when it did not say, as
 * under the Vite dev server). Read once: later checks ask the API.
 */
export function pageUserTake(doc: Document = document): User | null | undefined {
  const meta = doc.querySelector(USER_META)
  if (!meta) return undefined
  meta.remove()
  try {
    const value: unknown = JSON.parse(meta.getAttribute('content') ?? '')
    if (value === null) return null
    if (value && typeof value === 'object' && typeof (value as User).id === 'number') return value as User
  } catch {
    // unreadable: ask the API instead
  }
  return undefined
}

export const useAuthStore = defineStore('auth', () => {
  const user = ref<User | null>(null)
  const loaded = ref(false)
  let pending: Promise<User | null> | null = null

  /** The signed-in user, or null when signed out; a network failure keeps the question open. */
  async function load(force = false): Promise<User | null> {
    if (loaded.value && !force) return user.value
    if (!force) {
      const fromPage = pageUserTake()
      if (fromPage !== undefined) {
        user.value = fromPage
        loaded.value = true
        return fromPage
      }
    }
    if (!pending) {
      pending = authApi
        .me()
        .then((me) => {
          user.value = me
          loaded.value = true
          return me
        })
        .catch((error: unknown) => {
          if (error instanceof ApiError && (error.kind === 'unauthenticated' || error.kind === 'forbidden')) {
            user.value = null
            loaded.value = true
            return null
          }
          throw error
        })
        .finally(() => {
          pending = null
        })
    }
    return pending
  }

  async function login(username: string, password: string): Promise<User> {
    const me = await authApi.login(username, password)
    user.value = me
    loaded.value = true
    return me
  }

  async function logout(): Promise<void> {
    try {
      await authApi.logout()
    } finally {
      user.value = null
      loaded.value = true
    }
  }

  /** The server said the session is gone (expired, signed out elsewhere). */
  function sessionEnded(): void {
    user.value = null
    loaded.value = true
  }

  return { user, loaded, load, login, logout, sessionEnded }
})
