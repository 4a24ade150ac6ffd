// How numbers, dates and states are shown. API numbers are exact decimal strings: we format the
// text itself (trimmed, grouped) rather than through a float, so a price is never rounded away.

export type Tone = 'success' | 'danger' | 'info' | 'warning' | 'muted' | 'neutral'

/** "40000.5" → "40,000.5"; null/"" → "—". Keeps every significant digit. */
export function decimalText(value: string | number | null | undefined, maxFraction = 8): string {
  if (value === null || value === undefined || value === '') return '—'
  const text = String(value).trim()
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text)
  if (!match) return text
  const [, sign, whole, fraction = ''] = match
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  const trimmed = fraction.slice(0, maxFraction).replace(/0+$/, '')
  return `${sign}${grouped}${trimmed ? `.${trimmed}` : ''}`
}

/** A P&L amount with its sign and two decimals: "+12.34", "-0.5" → "-0.50". */
export function pnlText(value: string | number | null | undefined): string {
  const number = Number(value)
  if (value === null || value === undefined || value === '' || !Number.isFinite(number)) return '—'
  const fixed = Math.abs(number).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })
  if (number > 0) return `+${fixed}`
  if (number < 0) return `-${fixed}`
  return fixed
}

/** A route query's positive integer id (a broker, an alert), or '' when absent or not one. */
export function positiveIdFrom(value: unknown): number | '' {
  const number = Number(value)
  return typeof value === 'string' && Number.isInteger(number) && number > 0 ? number : ''
}

/** Green above zero, red below, neutral at zero or unknown. */
export function pnlTone(value: string | number | null | undefined): Tone {
  const number = Number(value)
  if (value === null || value === undefined || value === '' || !Number.isFinite(number) || number === 0) return 'neutral'
  return number > 0 ? 'success' : 'danger'
}

/** Buys green, sells red, MAJ blue, PING grey, MISS orange. */
export function actionTone(action: string): Tone {
  if (action.startsWith('Buy')) return 'success'
  if (action.startsWith('Sell')) return 'danger'
  if (action === 'MAJ') return 'info'
  if (action === 'MISS') return 'warning'
  return 'muted'
}

/** processed green, error red, processing (and received) yellow, miss orange. */
export function statusTone(status: string): Tone {
  switch (status) {
    case 'processed':
    case 'filled':
    case 'open':
      return 'success'
    case 'error':
    case 'rejected':
      return 'danger'
    case 'processing':
    case 'received':
    case 'new':
    case 'submitting':
      return 'warning'
    default:
      return 'muted'
  }
}

/** Rows a trader must not miss: errors and missed bars. */
export function alertNeedsAttention(alert: { status: string; action: string }): boolean {
  return alert.status === 'error' || alert.status === 'miss' || alert.action === 'MISS'
}

const dateFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
})

/** A timestamp in the trader's local time; "—" when missing or unreadable. */
export function dateTimeText(value: string | null | undefined): string {
  if (!value) return '—'
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? value : dateFormat.format(date)
}

/** A success rate (0–100, number or string) as "97.5 %". */
export function percentText(value: number | string | null | undefined): string {
  const number = Number(value)
  if (value === null || value === undefined || value === '' || !Number.isFinite(number)) return '—'
  return `${Number(number.toFixed(1))} %`
}
