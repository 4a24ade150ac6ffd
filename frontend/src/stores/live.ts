// The one live push connection of the signed-in app, and who listens to it.
import { defineStore } from 'pinia'
import type { LiveEvent } from '@/api/types'
import { LiveSocket, liveUrl } from '@/live/socket'
import { useConnectionStore } from './connection'

type Listener = (event: LiveEvent) => void

export const useLiveStore = defineStore('live', () => {
  const listeners = new Set<Listener>()
  let socket: LiveSocket | null = null
  let ticker: ReturnType<typeof setInterval> | null = null

  function start(url: string = liveUrl()): void {
    if (socket) return
    const connection = useConnectionStore()
    connection.socketWanted = true
    socket = new LiveSocket({
      url,
      onState: (state) => connection.socketStateSet(state),
      onEvent: (event) => {
        for (const listener of listeners) listener(event)
      },
    })
    socket.start()
    ticker = setInterval(() => connection.tick(), 1000)
  }

  function stop(): void {
    const connection = useConnectionStore()
    connection.socketWanted = false
    socket?.stop()
    socket = null
    if (ticker) clearInterval(ticker)
    ticker = null
  }

  function retryNow(): void {
    socket?.retryNow()
  }

  /** Listen to push events; answers the function that stops listening. */
  function subscribe(listener: Listener): () => void {
    listeners.add(listener)
    return () => listeners.delete(listener)
  }

  return { start, stop, retryNow, subscribe }
})
