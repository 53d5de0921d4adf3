import { useState } from 'react'
import { useClient, useQuery } from 'urql'
import { ApiKeyRevokeDocument, ApiKeysDocument, type ApiKeyFieldsFragment } from '../gql/graphql'
import { ActionDialog } from '../components/Dialog'
import { LoadState } from '../components/Loading'
import { OrgPage } from '../components/OrgPage'
import { ApiKeyCreateDialog } from '../components/org/ApiKeyCreateDialog'
import { ApiKeysTable } from '../components/org/ApiKeysTable'

/** Organization settings → API keys: keys for pipelines and scripts, created (secret shown once) and revoked. */
export function OrgApiKeysPage() {
  const client = useClient()
  const [{ data, fetching, error }, reexecute] = useQuery({ query: ApiKeysDocument, requestPolicy: 'cache-and-network' })
  const [creating, setCreating] = useState(false)
  const [revoking, setRevoking] = useState<ApiKeyFieldsFragment | null>(null)
  const [status, setStatus] = useState('')
  const reload = () => reexecute({ requestPolicy: 'network-only' })
  const keys = data?.apiKeys

  return (
    <OrgPage title="API keys" status={status} busy={fetching && !keys} wide>
      <section className="card" aria-labelledby="api-keys-title">
        <h2 id="api-keys-title">Keys for pipelines and scripts</h2>
        <p>
          A pipeline uses an API key to ask for approvals (<code>keyward approval request</code> and{' '}
          <code>wait</code>); a script or dashboard can read the organization&apos;s settings with one. An API key can
          never approve, step up, or change a setting.
        </p>
        <button type="button" className="button-primary section-action" onClick={() => setCreating(true)}>
          Create API key
        </button>
        {!keys && <LoadState loading={fetching} loadingText="Loading API keys…" error={error} onRetry={reload} />}
        {keys && keys.length === 0 && <p data-testid="no-api-keys">There are no API keys yet.</p>}
        {keys && keys.length > 0 && <ApiKeysTable keys={keys} onRevoke={setRevoking} />}
      </section>
      {creating && (
        <ApiKeyCreateDialog
          onClose={() => setCreating(false)}
          onCreated={(created) => {
            setStatus(`Created “${created.apiKey.name}”. Copy its secret now: it is shown only once.`)
            reload()
          }}
        />
      )}
      {revoking && (
        <ActionDialog
          title={`Revoke “${revoking.name}”?`}
          confirmLabel="Revoke key"
          busyLabel="Revoking…"
          tone="danger"
          action={() => client.mutation(ApiKeyRevokeDocument, { id: revoking.id }).toPromise()}
          onDone={() => {
            setStatus(`Revoked “${revoking.name}”.`)
            setRevoking(null)
            reload()
          }}
          onClose={() => setRevoking(null)}
        >
          <p>
            <strong>Every pipeline or script using this key is refused from now on</strong>, on every Keyward instance.
            This cannot be undone: to go on, create a new key and put its secret where the old one was.
          </p>
        </ActionDialog>
      )}
    </OrgPage>
  )
}
