import { Link } from '../../router'

const auditTimeFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'medium',
  timeStyle: 'long',
})

/** An event's time in the viewer's zone, with the zone ("30 Nov 2026, 19:12:05 CET"); the exact instant on hover. */
export function AuditTime({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={iso}>
      {auditTimeFormat.format(new Date(iso))}
    </time>
  )
}

/** The member ID in `member:<id>`, or null for other actors and targets. */
export function memberIdOf(party: string | null | undefined): string | null {
  return party?.startsWith('member:') ? party.slice('member:'.length) || null : null
}

/** An actor or target by name (linked to the member's page), or the raw value when it has no name. */
export function AuditParty({ raw, name }: { raw: string | null | undefined; name: string | null | undefined }) {
  if (!raw) return <span className="muted">none</span>
  const memberId = memberIdOf(raw)
  const label = name || raw
  if (memberId) return <Link to={`/org/members/${encodeURIComponent(memberId)}`}>{label}</Link>
  return name ? <span>{name}</span> : <code>{raw}</code>
}
