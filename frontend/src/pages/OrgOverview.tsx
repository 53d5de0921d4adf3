import { useQuery } from 'urql'
import { OrganizationOverviewDocument } from '../gql/graphql'
import { LoadState } from '../components/Loading'
import { OrgPage } from '../components/OrgPage'
import { OrgAtAGlance } from '../components/org/OrgAtAGlance'

/** Organization → Overview: where admins land; the rollout, enforcement, SSO and the audit chain at a glance. */
export function OrgOverviewPage() {
  const [{ data, fetching, error }, reexecute] = useQuery({ query: OrganizationOverviewDocument, requestPolicy: 'cache-and-network' })
  const org = data?.organization
  return (
    <OrgPage title={org ? `${org.name}: overview` : 'Organization overview'} busy={fetching && !org}>
      {!org && (
        <LoadState
          loading={fetching}
          loadingText="Loading the organization…"
          error={error}
          onRetry={() => reexecute({ requestPolicy: 'network-only' })}
        />
      )}
      {org && <OrgAtAGlance org={org} />}
    </OrgPage>
  )
}
