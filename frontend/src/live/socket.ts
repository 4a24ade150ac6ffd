// The live push: one WebSocket to /ws/webhooks/, reconnected with capped exponential backoff.
import type { LiveEvent } from '@/api/types'

export type SocketState = 'connecting' | 'open' | 'closed'

export interface LiveSocketOptions {
  url: string
  onEvent: (event: LiveEvent) => void
  onState: (state: SocketState) => void
  /** Injected in tests; the browser's WebSocket otherwise. */
  createSocket?: (url: string) => WebSocket
  baseDelayMs?: number
  maxDelayMs?: number
}

const EVENT_TYPES = new Set(['webhook', 'position', 'order'])

/** ws(s)://<this host>/ws/webhooks/: the same origin as the page, so the session cookie goes along. */
export function liveUrl(location: Pick<Location, 'protocol' | 'host'> = window.location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${location.host}/ws/webhooks/`
}

/** A push message, or null when it is not one we know (ignored, never a crash). */
export function liveEventParse(text: unknown): LiveEvent | null {
  if (typeof text !== 'string') return null
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (!value || typeof value !== 'object') return null
  const message = value as Record<string, unknown>
  if (typeof message.type !== 'string' || !EVENT_TYPES.has(message.type)) return null
  const data = message.data && typeof message.data === 'object' ? (message.data as Record<string, unknown>) : {}
  const event = message.event === 'updated' ? 'updated' : 'created'
  return { type: message.type as LiveEvent['type'], event, data }
}

/** The delay before reconnect attempt `attempt` (0-based): base × 2^attempt, capped, with ±20 % jitter. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const plain = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20))
  return Math.round(plain * (0.8 + 0.4 * random()))
}

export class LiveSocket {
  private readonly options: Required<Omit<LiveSocketOptions, 'createSocket'>> & Pick<LiveSocketOptions, 'createSocket'>
  private socket: WebSocket | null = null
  private timer: ReturnType<typeof setTimeout> | null = null
  private attempt = 0
  private stopped = true

  constructor(options: LiveSocketOptions) {
    this.options = { baseDelayMs: 1000, maxDelayMs: 30000, ...options }
  }

  start(): void {
    if (!this.stopped) return
    this.stopped = false
    this.attempt = 0
    this.connect()
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const socket = this.socket
    this.socket = null
    if (socket) {
      socket.onclose = null
      socket.onerror = null
      socket.onmessage = null
      socket.onopen = null
      socket.close()
    }
    this.options.onState('closed')
  }

  /** Reconnect now (e.g. the page became visible again) instead of waiting for the backoff. */
  retryNow(): void {
    if (this.stopped || this.socket) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.connect()
  }

  private connect(): void {
    this.options.onState('connecting')
    let socket: WebSocket
    try {
      socket = this.options.createSocket ? this.options.createSocket(this.options.url) : new WebSocket(this.options.url)
    } catch {
      this.scheduleReconnect()
      return
    }
    this.socket = socket
    socket.onopen = () => {
      this.attempt = 0
      this.options.onState('open')
    }
    socket.onmessage = (message: MessageEvent) => {
      const event = liveEventParse(message.data)
      if (event) this.options.onEvent(event)
    }
    socket.onclose = () => {
      this.socket = null
      this.scheduleReconnect()
    }
    socket.onerror = () => {
      // A close event follows; reconnecting is handled there.
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return
    this.options.onState('closed')
    const delay = backoffDelay(this.attempt, this.options.baseDelayMs, this.options.maxDelayMs)
    this.attempt += 1
    this.timer = setTimeout(() => {
      this.timer = null
      this.connect()
    }, delay)
  }
}
