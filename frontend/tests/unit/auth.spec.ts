import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { pageUserTake, useAuthStore } from '@/stores/auth'
import { jsonResponse } from './fixtures'

function metaAdd(content: string): void {
  const meta = document.createElement('meta')
  meta.name = 'aristobot-user'
  meta.content = content
  document.head.appendChild(meta)
}

beforeEach(() => {
  setActivePinia(createPinia())
  document.head.querySelectorAll('meta[name="aristobot-user"]').forEach((meta) => meta.remove())
})

afterEach(() => vi.unstubAllGlobals())

describe('who is signed in', () => {
  it('takes the user Django put in the page, without a request', async () => {
    metaAdd(JSON.stringify({ id: 3, username: 'alice', email: '', first_name: '', last_name: '', is_staff: false }))
    const fetch = vi.fn()
    vi.stubGlobal('fetch', fetch)

    const user = await useAuthStore().load()

    expect(user?.username).toBe('alice')
    expect(fetch).not.toHaveBeenCalled()
  })

  it('knows a signed-out page without asking (no 403 in the console)', async () => {
    metaAdd('null')
    const fetch = vi.fn()
    vi.stubGlobal('fetch', fetch)

    expect(await useAuthStore().load()).toBeNull()
    expect(fetch).not.toHaveBeenCalled()
  })

  it('reads the page once: the next check asks the API', async () => {
    metaAdd('null')
    expect(pageUserTake()).toBeNull()
    expect(pageUserTake()).toBeUndefined()
  })

  it('asks /api/auth/me/ when the page says nothing (dev server)', async () => {
    const fetch = vi.fn(async () => jsonResponse({ message: 'Authentication credentials were not provided.' }, 403))
    vi.stubGlobal('fetch', fetch)

    expect(await useAuthStore().load()).toBeNull()
    expect(fetch).toHaveBeenCalledWith('/api/auth/me/', expect.objectContaining({ credentials: 'same-origin' }))
  })
})
