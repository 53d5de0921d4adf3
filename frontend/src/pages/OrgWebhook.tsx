import { useEffect, useRef, useState } from 'react'
import { useClient, useQuery } from 'urql'
import { WebhookDeleteDocument, WebhookDocument, type WebhookFieldsFragment } from '../gql/graphql'
import { ActionDialog } from '../components/Dialog'
import { CopyField } from '../components/Form'
import { LoadState } from '../components/Loading'
import { OrgPage } from '../components/OrgPage'
import { Time } from '../components/Time'
import { WebhookDeliveries } from '../components/org/WebhookDeliveries'
import { WebhookForm } from '../components/org/WebhookForm'

/** Organization settings → Webhook: where approval events are sent, the signing secret, and the delivery log. */
export function OrgWebhookPage() {
  const client = useClient()
  const [{ data, fetching, error }, reexecute] = useQuery({ query: WebhookDocument, requestPolicy: 'cache-and-network' })
  // The webhook as last saved here (undefined: as read), and the secret of the last save, shown once.
  const [saved, setSaved] = useState<WebhookFieldsFragment | null | undefined>(undefined)
  const [secret, setSecret] = useState<string | null>(null)
  const [deleting, setDeleting] = useState(false)
  const [status, setStatus] = useState('')
  const [formKey, setFormKey] = useState(0)
  const webhook = saved !== undefined ? saved : data?.webhook
  const loaded = saved !== undefined || data !== undefined

  return (
    <OrgPage title="Webhook" status={status} busy={fetching && !loaded} wide>
      <section className="card" aria-labelledby="webhook-title">
        <h2 id="webhook-title">Tell another system about approvals</h2>
        <p>
          Keyward sends an event when a pipeline asks for approval, and when a request is approved, rejected or expires:
          to chat (through an adapter), to an incident tool, or to your own service.
        </p>
        {!loaded && <LoadState loading={fetching} loadingText="Loading the webhook…" error={error} onRetry={() => reexecute({ requestPolicy: 'network-only' })} />}
        {loaded && (
          <>
            {webhook ? (
              <p className="muted" data-testid="webhook-state">
                Set up <Time iso={webhook.createdAt} />; last changed <Time iso={webhook.updatedAt} />.
              </p>
            ) : (
              <p data-testid="webhook-state">No webhook yet: Keyward sends no events.</p>
            )}
            {secret && <WebhookSecret secret={secret} onDone={() => setSecret(null)} />}
            <WebhookForm
              key={formKey}
              webhook={webhook ?? null}
              onSaved={(result) => {
                setSaved(result.webhook)
                if (result.secret) setSecret(result.secret)
                setStatus(result.secret ? 'Saved. Copy the signing secret now: it is shown only once.' : 'Saved the webhook.')
              }}
            />
            {webhook && (
              <div className="subsection">
                <h3>Stop sending events</h3>
                <button type="button" className="button-danger" onClick={() => setDeleting(true)}>
                  Delete webhook
                </button>
              </div>
            )}
          </>
        )}
      </section>
      <WebhookDeliveries />
      {deleting && (
        <ActionDialog
          title="Delete the webhook?"
          confirmLabel="Delete webhook"
          busyLabel="Deleting…"
          tone="danger"
          action={() => client.mutation(WebhookDeleteDocument, {}).toPromise()}
          onDone={() => {
            setDeleting(false)
            setSaved(null)
            setSecret(null)
            setFormKey((k) => k + 1)
            setStatus('Deleted the webhook: Keyward sends no more events.')
          }}
          onClose={() => setDeleting(false)}
        >
          <p>Keyward stops sending events. Setting a webhook up again later makes a new signing secret.</p>
        </ActionDialog>
      )}
    </OrgPage>
  )
}

/** The signing secret, shown once after it was made. */
function WebhookSecret({ secret, onDone }: { secret: string; onDone: () => void }) {
  const panel = useRef<HTMLDivElement>(null)
  useEffect(() => panel.current?.focus(), [])
  return (
    <div className="secret-panel" ref={panel} tabIndex={-1} role="group" aria-labelledby="webhook-secret-title" data-testid="webhook-secret">
      <h3 id="webhook-secret-title">Signing secret</h3>
      <p className="alert alert-warning">
        <strong>This secret is shown only once.</strong> Give it to the receiver now, to check each delivery&apos;s{' '}
        <code>X-Keyward-Signature</code>: <code>sha256=</code> HMAC-SHA256 of <code>&lt;timestamp&gt;.&lt;body&gt;</code>.
      </p>
      <CopyField label="Webhook signing secret" value={secret} />
      <button type="button" className="button-primary" onClick={onDone}>
        Done
      </button>
    </div>
  )
}
