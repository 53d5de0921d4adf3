const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' })
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
]

/** The day of a timestamp, in the viewer's own time zone (for narrow table cells). */
export function formatDate(iso: string): string {
  return dateFormat.format(new Date(iso))
}

/** A timestamp in the viewer's own time zone. */
export function formatDateTime(iso: string): string {
  return dateTimeFormat.format(new Date(iso))
}

/** "3 days ago", "in 2 weeks", "now". */
export function formatRelative(iso: string, now: number = Date.now()): string {
  const seconds = (new Date(iso).getTime() - now) / 1000
  const abs = Math.abs(seconds)
  for (const [unit, size] of UNITS) {
    if (abs >= size || unit === 'second') {
      const value = Math.round(seconds / size)
      if (unit === 'second' && Math.abs(value) < 10) return relativeFormat.format(0, 'second')
      return relativeFormat.format(value, unit)
    }
  }
  return relativeFormat.format(0, 'second')
}

/** The first 8 characters of a credential ID, then an ellipsis. */
export function shortKeyId(keyId: string): string {
  return keyId.length > 8 ? `${keyId.slice(0, 8)}…` : keyId
}

/** "1 session", "3 sessions". */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`
}

/** A length of time for people: "20 seconds", "5 minutes", "1 hour 30 minutes". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return plural(s, 'second', 'seconds')
  if (s < 3600) {
    const minutes = Math.floor(s / 60)
    const rest = s % 60
    return rest ? `${plural(minutes, 'minute', 'minutes')} ${plural(rest, 'second', 'seconds')}` : plural(minutes, 'minute', 'minutes')
  }
  const hours = Math.floor(s / 3600)
  const minutes = Math.floor((s % 3600) / 60)
  return minutes ? `${plural(hours, 'hour', 'hours')} ${plural(minutes, 'minute', 'minutes')}` : plural(hours, 'hour', 'hours')
}
