import type { MemberStatsFieldsFragment } from '../../gql/graphql'
import { formatCount, formatMemberSummary, keyShare } from '../../rollout'

/** The rollout at a glance: "412 of 500 have a key, 82% · 88 without · 140 with only one", with a bar. */
export function MemberSummary({ stats }: { stats: MemberStatsFieldsFragment }) {
  const share = keyShare(stats)
  return (
    <div className="member-summary">
      <p data-testid="member-summary" className="member-summary-line">
        {formatMemberSummary(stats)}
      </p>
      {stats.members > 0 && (
        <meter className="rollout-meter" min={0} max={100} value={share} aria-label="Share of active members with a key">
          {share}%
        </meter>
      )}
      {stats.deactivated > 0 && (
        <p className="muted">
          Not counted: {formatCount(stats.deactivated)} deactivated {stats.deactivated === 1 ? 'member' : 'members'}.
        </p>
      )}
    </div>
  )
}
