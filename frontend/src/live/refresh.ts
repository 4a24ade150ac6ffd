// Keep a page fresh: refresh every 10 s, and at once (debounced) when the push says something changed.
import { onBeforeUnmount, onMounted } from 'vue'
import type { LiveEvent } from '@/api/types'
import { useLiveStore } from '@/stores/live'

export const REFRESH_EVERY_MS = 10_000
const LIVE_DEBOUNCE_MS = 150

export interface AutoRefreshOptions {
  everyMs?: number
  /** Which push events trigger a refresh (all by default). */
  types?: LiveEvent['type'][]
  onEvent?: (event: LiveEvent) => void
}

/** Call `refresh` on mount, every `everyMs`, on matching push events, and when the tab becomes visible. */
export function useAutoRefresh(refresh: () => Promise<void> | void, options: AutoRefreshOptions = {}): { refreshNow: () => void } {
  const live = useLiveStore()
  let timer: ReturnType<typeof setInterval> | null = null
  let debounce: ReturnType<typeof setTimeout> | null = null
  let unsubscribe: (() => void) | null = null

  const refreshNow = (): void => {
    void refresh()
  }

  const onVisible = (): void => {
    if (document.visibilityState === 'visible') {
      refreshNow()
      live.retryNow()
    }
  }

  onMounted(() => {
    refreshNow()
    timer = setInterval(refreshNow, options.everyMs ?? REFRESH_EVERY_MS)
    unsubscribe = live.subscribe((event) => {
      if (options.types && !options.types.includes(event.type)) return
      options.onEvent?.(event)
      if (debounce) clearTimeout(debounce)
      debounce = setTimeout(refreshNow, LIVE_DEBOUNCE_MS)
    })
    document.addEventListener('visibilitychange', onVisible)
  })

  onBeforeUnmount(() => {
    if (timer) clearInterval(timer)
    if (debounce) clearTimeout(debounce)
    unsubscribe?.()
    document.removeEventListener('visibilitychange', onVisible)
  })

  return { refreshNow }
}
