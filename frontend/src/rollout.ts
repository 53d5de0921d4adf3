// Numbers and zones as the rollout screens say them. The UI is in English, so numbers are grouped the
// English way ("1,042") whatever the browser's locale, to match the sentences around them.
const numberFormat = new Intl.NumberFormat('en')

/** A count with thousands separators: 1042 → "1,042". */
export function formatCount(n: number): string {
  return numberFormat.format(n)
}

/** What `organization.memberStats` holds. */
export interface MemberStatsLike {
  members: number
  withKey: number
  withoutKey: number
  withOneKey: number
}

/** The share of members with a key, rounded down (99.6% is not yet "everyone"). */
export function keyShare(stats: MemberStatsLike): number {
  if (stats.members === 0) return 0
  return Math.floor((stats.withKey * 100) / stats.members)
}

/** "412 of 500 have a key, 82% · 88 without · 140 with only one". */
export function formatMemberSummary(stats: MemberStatsLike): string {
  if (stats.members === 0) return 'No active members yet'
  return [
    `${formatCount(stats.withKey)} of ${formatCount(stats.members)} have a key, ${keyShare(stats)}%`,
    `${formatCount(stats.withoutKey)} without`,
    `${formatCount(stats.withOneKey)} with only one`,
  ].join(' · ')
}

/** "+01:00", "-05:30", "+00:00" for an offset east of UTC in minutes. */
export function formatUtcOffset(minutesEast: number): string {
  const sign = minutesEast < 0 ? '-' : '+'
  const abs = Math.abs(minutesEast)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
}

/** "Europe/Berlin (UTC+01:00)": a zone by name with its offset at one moment. */
export function describeTimeZone(zone: string, minutesEast: number): string {
  return `${zone} (UTC${formatUtcOffset(minutesEast)})`
}

/** The browser's own time zone, described at `at` (offsets change with daylight saving time). */
export function browserTimeZone(at: Date = new Date()): string {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'Local time'
  // getTimezoneOffset counts minutes west of UTC.
  return describeTimeZone(zone, -at.getTimezoneOffset())
}
