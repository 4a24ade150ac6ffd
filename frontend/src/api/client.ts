// The one way the app talks to the REST API: same-origin session cookie, CSRF header on unsafe
// requests, JSON in and out, and an ApiError that says what went wrong in words a trader reads.

export type ApiErrorKind = 'network' | 'unauthenticated' | 'forbidden' | 'not_found' | 'invalid' | 'server'

/** An API call that failed: `status` is 0 when the server could not be reached at all. */
export class ApiError extends Error {
  readonly status: number
  readonly kind: ApiErrorKind
  readonly body: unknown

  constructor(message: string, status: number, kind: ApiErrorKind, body: unknown = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.kind = kind
    this.body = body
  }
}

/** The text of whatever a failed call threw: an Error's message, else the value as text. */
export function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause)
}

export type QueryValue = string | number | boolean | null | undefined
export type Query = Record<string, QueryValue>

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  query?: Query
  body?: unknown
  signal?: AbortSignal
}

/** Hooks the app sets: told when the API answers or not, and when the session has ended. */
export interface ClientHooks {
  onReachable?: () => void
  onUnreachable?: (error: ApiError) => void
  onUnauthenticated?: () => void
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
export const CSRF_COOKIE = 'csrftoken'
export const CSRF_HEADER = 'X-CSRFToken'
const CSRF_PATH = '/api/auth/csrf/'

let hooks: ClientHooks = {}

export function clientHooksSet(next: ClientHooks): void {
  hooks = next
}

/** The value of a cookie of this page, or null. */
export function cookieRead(name: string, cookies: string = document.cookie): string | null {
  for (const part of cookies.split(';')) {
    const [key, ...rest] = part.trim().split('=')
    if (key === name) return decodeURIComponent(rest.join('='))
  }
  return null
}

/** `path?query` with empty values left out (an empty filter means "all"). */
export function urlWithQuery(path: string, query?: Query): string {
  if (!query) return path
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === null || value === undefined || value === '') continue
    params.set(key, String(value))
  }
  const text = params.toString()
  return text ? `${path}${path.includes('?') ? '&' : '?'}${text}` : path
}

/** The message of an error body: DRF's `message` / `detail`, or the first field error. */
export function errorMessage(body: unknown, fallback: string): string {
  if (typeof body === 'string' && body.trim()) return body.trim().slice(0, 300)
  if (body && typeof body === 'object') {
    const record = body as Record<string, unknown>
    for (const key of ['message', 'detail', 'error']) {
      if (typeof record[key] === 'string' && record[key]) return record[key] as string
    }
    for (const [key, value] of Object.entries(record)) {
      const first = Array.isArray(value) ? value[0] : value
      if (typeof first === 'string') return key === 'non_field_errors' ? first : `${key}: ${first}`
    }
  }
  return fallback
}

function kindOf(status: number, body: unknown): ApiErrorKind {
  if (status === 401) return 'unauthenticated'
  if (status === 403) {
    // DRF answers 403 to a signed-out session ("credentials were not provided").
    const text = errorMessage(body, '').toLowerCase()
    return text.includes('credentials were not provided') || text.includes('not authenticated')
      ? 'unauthenticated'
      : 'forbidden'
  }
  if (status === 404) return 'not_found'
  if (status >= 500) return 'server'
  return 'invalid'
}

function isCsrfFailure(error: ApiError): boolean {
  return error.status === 403 && errorMessage(error.body, '').toLowerCase().includes('csrf')
}

async function bodyRead(response: Response): Promise<unknown> {
  if (response.status === 204) return null
  const text = await response.text()
  if (!text) return null
  const type = response.headers.get('Content-Type') ?? ''
  if (type.includes('json')) {
    try {
      return JSON.parse(text)
    } catch {
      return text
    }
  }
  return text
}

/** Make sure the csrftoken cookie is set (Django sets it on this GET); answers its value. */
export async function csrfTokenEnsure(force = false): Promise<string> {
  const existing = cookieRead(CSRF_COOKIE)
  if (existing && !force) return existing
  const body = (await send(CSRF_PATH, { method: 'GET' }, false)) as { csrftoken?: string } | null
  return cookieRead(CSRF_COOKIE) ?? body?.csrftoken ?? ''
}

async function send(path: string, options: RequestOptions, retryCsrf: boolean): Promise<unknown> {
  const method = options.method ?? 'GET'
  const headers: Record<string, string> = { Accept: 'application/json' }
  let payload: string | undefined
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    payload = JSON.stringify(options.body)
  }
  if (!SAFE_METHODS.has(method)) headers[CSRF_HEADER] = await csrfTokenEnsure()
  let response: Response
  try {
    response = await fetch(urlWithQuery(path, options.query), {
      method,
      headers,
      body: payload,
      credentials: 'same-origin',
      signal: options.signal,
    })
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') throw cause
    const error = new ApiError('The server cannot be reached: check your connection or that Aristobot is running.', 0, 'network')
    hooks.onUnreachable?.(error)
    throw error
  }
  const body = await bodyRead(response)
  if (response.status >= 502 && response.status <= 504) {
    const error = new ApiError(`The server is unavailable (HTTP ${response.status}).`, response.status, 'server', body)
    hooks.onUnreachable?.(error)
    throw error
  }
  hooks.onReachable?.()
  if (response.ok) return body
  const error = new ApiError(errorMessage(body, `HTTP ${response.status} ${response.statusText}`.trim()), response.status, kindOf(response.status, body), body)
  if (retryCsrf && isCsrfFailure(error)) {
    // The token rotates at sign-in; fetch a fresh one and try once more.
    await csrfTokenEnsure(true)
    return send(path, options, false)
  }
  if (error.kind === 'unauthenticated' && !path.startsWith('/api/auth/')) hooks.onUnauthenticated?.()
  throw error
}

/** Call the API; answers the decoded JSON body (null for 204) or throws an ApiError. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  return (await send(path, options, true)) as T
}
