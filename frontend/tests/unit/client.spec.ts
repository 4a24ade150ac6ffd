import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { api, ApiError, clientHooksSet, cookieRead, errorMessage, messageOf, urlWithQuery } from '@/api/client'
import { cookiesClear, jsonResponse } from './fixtures'

type FetchArgs = [string, RequestInit]

function fetchMock(...answers: (Response | Error)[]) {
  const mock = vi.fn(async (..._args: FetchArgs) => {
    const next = answers.shift()
    if (!next) throw new Error('unexpected fetch')
    if (next instanceof Error) throw next
    return next
  })
  vi.stubGlobal('fetch', mock)
  return mock
}

function headersOf(call: FetchArgs): Record<string, string> {
  return call[1].headers as Record<string, string>
}

beforeEach(() => {
  cookiesClear()
  clientHooksSet({})
})

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('api client', () => {
  it('sends the CSRF cookie back in X-CSRFToken on unsafe requests, same-origin', async () => {
    document.cookie = 'csrftoken=abc123; path=/'
    const fetch = fetchMock(jsonResponse({ id: 1 }, 201))

    await api('/api/brokers/', { method: 'POST', body: { name: 'Paper' } })

    const [url, init] = fetch.mock.calls[0]
    expect(url).toBe('/api/brokers/')
    expect(init.method).toBe('POST')
    expect(init.credentials).toBe('same-origin')
    expect(headersOf(fetch.mock.calls[0])['X-CSRFToken']).toBe('abc123')
    expect(headersOf(fetch.mock.calls[0])['Content-Type']).toBe('application/json')
    expect(init.body).toBe('{"name":"Paper"}')
  })

  it('asks for the CSRF cookie first when it has none', async () => {
    const fetch = vi.fn(async (url: string) => {
      if (url === '/api/auth/csrf/') {
        document.cookie = 'csrftoken=fresh; path=/'
        return jsonResponse({ csrftoken: 'fresh' })
      }
      return jsonResponse(null, 204)
    })
    vi.stubGlobal('fetch', fetch)

    await api('/api/auth/logout/', { method: 'POST' })

    expect(fetch.mock.calls.map((call) => call[0])).toEqual(['/api/auth/csrf/', '/api/auth/logout/'])
    expect(((fetch.mock.calls[1] as unknown as FetchArgs)[1].headers as Record<string, string>)['X-CSRFToken']).toBe('fresh')
  })

  it('sends no CSRF header on reads', async () => {
    document.cookie = 'csrftoken=abc123; path=/'
    const fetch = fetchMock(jsonResponse({ results: [] }))

    await api('/api/webhooks/', { query: { period: '7d', broker: '', symbol: undefined } })

    expect(fetch.mock.calls[0][0]).toBe('/api/webhooks/?period=7d')
    expect(headersOf(fetch.mock.calls[0])['X-CSRFToken']).toBeUndefined()
  })

  it('retries once with a fresh token when the CSRF token was refused', async () => {
    document.cookie = 'csrftoken=stale; path=/'
    const fetch = fetchMock(
      jsonResponse({ message: 'CSRF Failed: CSRF token incorrect.' }, 403),
      jsonResponse({ csrftoken: 'new' }),
      jsonResponse({ id: 3 }, 201),
    )

    const answer = await api<{ id: number }>('/api/webhook-tokens/', { method: 'POST', body: {} })

    expect(answer).toEqual({ id: 3 })
    expect(fetch.mock.calls.map((call) => call[0])).toEqual(['/api/webhook-tokens/', '/api/auth/csrf/', '/api/webhook-tokens/'])
  })

  it('turns an error body into an ApiError with its message', async () => {
    fetchMock(jsonResponse({ message: 'period: must be one of 24h, 7d, 30d', errors: { period: ['…'] } }, 400))

    const error = await api('/api/webhooks/stats/').catch((cause: unknown) => cause)

    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).status).toBe(400)
    expect((error as ApiError).kind).toBe('invalid')
    expect((error as ApiError).message).toBe('period: must be one of 24h, 7d, 30d')
  })

  it('reports an unreachable server as a network error and tells the app', async () => {
    const onUnreachable = vi.fn()
    clientHooksSet({ onUnreachable })
    fetchMock(new TypeError('Failed to fetch'))

    const error = (await api('/api/webhooks/').catch((cause: unknown) => cause)) as ApiError

    expect(error.status).toBe(0)
    expect(error.kind).toBe('network')
    expect(error.message).toMatch(/cannot be reached/)
    expect(onUnreachable).toHaveBeenCalledOnce()
  })

  it('treats a proxy 502/503/504 as unreachable too', async () => {
    const onUnreachable = vi.fn()
    clientHooksSet({ onUnreachable })
    fetchMock(new Response('Bad gateway', { status: 502, headers: { 'Content-Type': 'text/html' } }))

    const error = (await api('/api/webhooks/').catch((cause: unknown) => cause)) as ApiError

    expect(error.kind).toBe('server')
    expect(onUnreachable).toHaveBeenCalledOnce()
  })

  it('says the API is back when it answers again', async () => {
    const onReachable = vi.fn()
    clientHooksSet({ onReachable })
    fetchMock(jsonResponse({ message: 'Not found.' }, 404))

    await api('/api/webhooks/99/').catch(() => null)

    expect(onReachable).toHaveBeenCalledOnce()
  })

  it('tells the app when the session has ended', async () => {
    const onUnauthenticated = vi.fn()
    clientHooksSet({ onUnauthenticated })
    fetchMock(jsonResponse({ message: 'Authentication credentials were not provided.' }, 403))

    const error = (await api('/api/webhooks/').catch((cause: unknown) => cause)) as ApiError

    expect(error.kind).toBe('unauthenticated')
    expect(onUnauthenticated).toHaveBeenCalledOnce()
  })

  it('answers null for 204 No Content', async () => {
    document.cookie = 'csrftoken=abc; path=/'
    fetchMock(jsonResponse(null, 204))

    expect(await api('/api/brokers/5/', { method: 'DELETE' })).toBeNull()
  })
})

describe('client helpers', () => {
  it('reads one cookie among several', () => {
    expect(cookieRead('csrftoken', 'sessionid=x; csrftoken=a%3Db; other=1')).toBe('a=b')
    expect(cookieRead('csrftoken', 'sessionid=x')).toBeNull()
  })

  it('leaves empty filters out of the query', () => {
    expect(urlWithQuery('/api/orders/', { webhook: 12, broker: '', status: null, page: 2 })).toBe('/api/orders/?webhook=12&page=2')
  })

  it('finds the message of DRF and Django error bodies', () => {
    expect(errorMessage({ detail: 'Not found.' }, 'x')).toBe('Not found.')
    expect(errorMessage({ name: ['you already have a broker named "A"'] }, 'x')).toBe('name: you already have a broker named "A"')
    expect(errorMessage(null, 'fallback')).toBe('fallback')
  })

  it('gives the text of whatever a failed call threw', () => {
    expect(messageOf(new ApiError('Not found.', 404, 'not_found'))).toBe('Not found.')
    expect(messageOf(new Error('boom'))).toBe('boom')
    expect(messageOf('plain text')).toBe('plain text')
    expect(messageOf(undefined)).toBe('undefined')
  })
})
