import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { backoffDelay, LiveSocket, liveEventParse, liveUrl, type SocketState } from '@/live/socket'

class FakeSocket {
  static made: FakeSocket[] = []
  onopen: (() => void) | null = null
  onclose: (() => void) | null = null
  onerror: (() => void) | null = null
  onmessage: ((message: { data: unknown }) => void) | null = null
  closed = false
  constructor(readonly url: string) {
    FakeSocket.made.push(this)
  }
  close(): void {
    this.closed = true
  }
}

function liveSocket(states: SocketState[], events: unknown[]): LiveSocket {
  return new LiveSocket({
    url: 'ws://localhost/ws/webhooks/',
    onState: (state) => states.push(state),
    onEvent: (event) => events.push(event),
    createSocket: (url) => new FakeSocket(url) as unknown as WebSocket,
    baseDelayMs: 1000,
    maxDelayMs: 8000,
  })
}

beforeEach(() => {
  FakeSocket.made = []
  vi.useFakeTimers()
})

afterEach(() => {
  vi.useRealTimers()
})

describe('live socket', () => {
  it('connects to /ws/webhooks/ on the page host, wss under https', () => {
    expect(liveUrl({ protocol: 'http:', host: 'localhost:8000' })).toBe('ws://localhost:8000/ws/webhooks/')
    expect(liveUrl({ protocol: 'https:', host: 'bot.example.com' })).toBe('wss://bot.example.com/ws/webhooks/')
  })

  it('passes on the push events it knows and ignores the rest', () => {
    const states: SocketState[] = []
    const events: unknown[] = []
    const socket = liveSocket(states, events)
    socket.start()
    const fake = FakeSocket.made[0]
    fake.onopen?.()

    fake.onmessage?.({ data: JSON.stringify({ type: 'webhook', event: 'created', data: { id: 1 } }) })
    fake.onmessage?.({ data: JSON.stringify({ type: 'pong' }) })
    fake.onmessage?.({ data: 'not json' })

    expect(states).toEqual(['connecting', 'open'])
    expect(events).toEqual([{ type: 'webhook', event: 'created', data: { id: 1 } }])
  })

  it('reconnects with a growing delay after the connection drops', () => {
    const states: SocketState[] = []
    const socket = liveSocket(states, [])
    vi.spyOn(Math, 'random').mockReturnValue(0.5) // no jitter
    socket.start()

    FakeSocket.made[0].onclose?.()
    vi.advanceTimersByTime(999)
    expect(FakeSocket.made).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(FakeSocket.made).toHaveLength(2)

    FakeSocket.made[1].onclose?.()
    vi.advanceTimersByTime(1999)
    expect(FakeSocket.made).toHaveLength(2)
    vi.advanceTimersByTime(1)
    expect(FakeSocket.made).toHaveLength(3)
    expect(states.filter((state) => state === 'closed')).toHaveLength(2)
  })

  it('starts the backoff over once connected again', () => {
    const socket = liveSocket([], [])
    vi.spyOn(Math, 'random').mockReturnValue(0.5)
    socket.start()
    FakeSocket.made[0].onclose?.()
    vi.advanceTimersByTime(1000)
    FakeSocket.made[1].onopen?.()
    FakeSocket.made[1].onclose?.()

    vi.advanceTimersByTime(1000)

    expect(FakeSocket.made).toHaveLength(3)
  })

  it('stops reconnecting once stopped', () => {
    const socket = liveSocket([], [])
    socket.start()
    socket.stop()

    vi.advanceTimersByTime(60_000)

    expect(FakeSocket.made).toHaveLength(1)
    expect(FakeSocket.made[0].closed).toBe(true)
  })

  it('caps the delay and keeps it jittered', () => {
    expect(backoffDelay(0, 1000, 30000, () => 0.5)).toBe(1000)
    expect(backoffDelay(3, 1000, 30000, () => 0.5)).toBe(8000)
    expect(backoffDelay(50, 1000, 30000, () => 0.5)).toBe(30000)
    expect(backoffDelay(50, 1000, 30000, () => 1)).toBe(36000)
    expect(backoffDelay(50, 1000, 30000, () => 0)).toBe(24000)
  })

  it('parses only objects with a known type', () => {
    expect(liveEventParse(JSON.stringify({ type: 'order', event: 'updated', data: { id: 2 } }))).toEqual({
      type: 'order',
      event: 'updated',
      data: { id: 2 },
    })
    expect(liveEventParse(JSON.stringify({ type: 'error', message: 'x' }))).toBeNull()
    expect(liveEventParse(JSON.stringify([1, 2]))).toBeNull()
    expect(liveEventParse(42)).toBeNull()
  })
})
