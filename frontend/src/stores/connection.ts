// Whether the API and the live push can be reached: drives the banner and the "live" indicator.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { SocketState } from '@/live/socket'

/** How long the push may be down before the banner says so (brief reconnects stay quiet). */
export const PUSH_GRACE_MS = 5000

export const useConnectionStore = defineStore('connection', () => {
  const apiReachable = ref(true)
  const apiError = ref('')
  const socketState = ref<SocketState>('closed')
  const socketWanted = ref(false)
  const socketDownSince = ref<number | null>(null)
  const now = ref(Date.now())

  function apiUp(): void {
    apiReachable.value = true
    apiError.value = ''
  }

  function apiDown(message: string): void {
    apiReachable.value = false
    apiError.value = message
  }

  function socketStateSet(state: SocketState): void {
    socketState.value = state
    if (state === 'open') socketDownSince.value = null
    else if (socketDownSince.value === null) socketDownSince.value = Date.now()
  }

  function tick(at: number = Date.now()): void {
    now.value = at
  }

  const live = computed(() => socketState.value === 'open')
  const pushDown = computed(
    () =>
      socketWanted.value &&
      socketState.value !== 'open' &&
      socketDownSince.value !== null &&
      now.value - socketDownSince.value >= PUSH_GRACE_MS,
  )
  /** The banner's text, or '' when everything answers. */
  const banner = computed(() => {
    if (!apiReachable.value) return `API unreachable — ${apiError.value} Retrying every 10 s; the figures shown may be out of date.`
    if (pushDown.value) return 'Live updates unreachable — reconnecting; the page still refreshes every 10 s.'
    return ''
  })

  return {
    apiReachable,
    apiError,
    socketState,
    socketWanted,
    socketDownSince,
    live,
    pushDown,
    banner,
    apiUp,
    apiDown,
    socketStateSet,
    tick,
  }
})
