// "Send a test alert": post a PING to the real receiver, as TradingView would, and find it among
// the recorded alerts once the engine has handled it.
import { errorMessage } from '@/api/client'
import type { Alert } from '@/api/types'

const BASE_KEY = 'aristobot.webhookBaseUrl'

/** `https://host/webhook/abt_…` → `https://host` (the receiver's public address). */
export function webhookBaseFrom(webhookUrl: string): string {
  const index = webhookUrl.indexOf('/webhook')
  return index > 0 ? webhookUrl.slice(0, index) : webhookUrl.replace(/\/+$/, '')
}

/** The receiver's address remembered from the last token created here (not a secret). */
export function webhookBaseRemembered(storage: Pick<Storage, 'getItem'> = window.localStorage): string | null {
  try {
    return storage.getItem(BASE_KEY)
  } catch {
    return null
  }
}

export function webhookBaseRemember(base: string, storage: Pick<Storage, 'setItem'> = window.localStorage): void {
  try {
    storage.setItem(BASE_KEY, base)
  } catch {
    // private mode: the URL is simply not remembered
  }
}

/** A guess for a local install: the receiver's port 8888 on this host. */
export function webhookBaseGuess(location: Pick<Location, 'protocol' | 'hostname'> = window.location): string {
  return `${location.protocol}//${location.hostname}:8888`
}

export interface SentAlert {
  ok: boolean
  status: number
  message: string
  traceId?: string
}

/** POST the alert to `<base>/webhook/<token>`; never throws, says what happened. */
export async function testAlertSend(base: string, token: string, body: Record<string, string>): Promise<SentAlert> {
  const url = `${base.replace(/\/+$/, '')}/webhook/${encodeURIComponent(token)}`
  let response: Response
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'omit',
      mode: 'cors',
    })
  } catch {
    return {
      ok: false,
      status: 0,
      message: `The receiver at ${base} cannot be reached from this browser (is it running, and is the address right?).`,
    }
  }
  let answer: unknown = null
  try {
    answer = await response.json()
  } catch {
    answer = null
  }
  const record = (answer ?? {}) as Record<string, unknown>
  if (response.ok) {
    return {
      ok: true,
      status: response.status,
      message: 'The receiver accepted the alert.',
      traceId: typeof record.trace_id === 'string' ? record.trace_id : undefined,
    }
  }
  const reason: Record<number, string> = {
    401: 'the token was refused (revoked or mistyped)',
    403: 'this address is not in the receiver’s allowlist',
    429: 'too many alerts: wait a little',
    503: 'the receiver cannot store alerts right now',
  }
  return {
    ok: false,
    status: response.status,
    message: `Refused (HTTP ${response.status}): ${reason[response.status] ?? errorMessage(answer, response.statusText)}.`,
  }
}

/** The recorded alert of our test, recognised by the unique BarTime it was sent with. */
export function testAlertFind(alerts: Alert[], barTime: string): Alert | undefined {
  return alerts.find((alert) => alert.raw_payload && alert.raw_payload.BarTime === barTime)
}
