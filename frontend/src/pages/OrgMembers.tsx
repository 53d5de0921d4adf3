import { useQuery } from 'urql'
import { MemberStatsDocument } from '../gql/graphql'
import { useSession } from '../session'
import { LoadState } from '../components/Loading'
import { OrgPage } from '../components/OrgPage'
import { MemberSummary } from '../components/org/MemberSummary'
import { MembersCard } from '../components/org/MembersCard'
import { MembersExport } from '../components/org/MembersExport'

/** Organization settings → Members: how far the key rollout is, the searchable list, the CSV of who is missing. */
export function OrgMembersPage() {
  const { viewer } = useSession()
  const [{ data, fetching, error }, reexecute] = useQuery({ query: MemberStatsDocument, requestPolicy: 'cache-and-network' })
  const stats = data?.organization.memberStats
  return (
    <OrgPage title="Members" wide>
      <section className="card" aria-labelledby="rollout-title">
        <h2 id="rollout-title">Security key rollout</h2>
        {stats ? (
          <MemberSummary stats={stats} />
        ) : (
          <LoadState
            loading={fetching}
            loadingText="Counting members…"
            error={error}
            onRetry={() => reexecute({ requestPolicy: 'network-only' })}
          />
        )}
        <MembersExport slug={viewer?.organization.slug ?? 'organization'} />
      </section>
      <MembersCard version={0} />
    </OrgPage>
  )
}
