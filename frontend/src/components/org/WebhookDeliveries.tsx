import { useQuery } from 'urql'
import { WebhookDeliveriesDocument } from '../../gql/graphql'
import { Link } from '../../router'
import { eventName } from '../../webhooks'
import { LoadState } from '../Loading'
import { Time } from '../Time'

const STATUS_BADGES: Record<string, { label: string; tone: string }> = {
  PENDING: { label: 'Retrying', tone: 'badge-warning' },
  DELIVERED: { label: 'Delivered', tone: 'badge-success' },
  FAILED: { label: 'Failed', tone: 'badge-error' },
}

/** The newest deliveries: what was sent, how it went, and when the next try is. */
export function WebhookDeliveries() {
  const [{ data, fetching, error }, reexecute] = useQuery({ query: WebhookDeliveriesDocument, variables: { first: 50 }, requestPolicy: 'cache-and-network' })
  const reload = () => reexecute({ requestPolicy: 'network-only' })
  const deliveries = data?.webhookDeliveries

  return (
    <section className="card" aria-labelledby="deliveries-title" aria-busy={fetching || undefined}>
      <h2 id="deliveries-title">Deliveries</h2>
      <p className="muted">
        Newest first. A delivery that fails is tried again with growing pauses; its ID (the <code>X-Keyward-Delivery</code>{' '}
        header) stays the same, so a receiver can drop duplicates.{' '}
        <button type="button" className="button-link" onClick={reload} disabled={fetching}>
          {fetching ? 'Refreshing…' : 'Refresh'}
        </button>
      </p>
      {!deliveries && <LoadState loading={fetching} loadingText="Loading deliveries…" error={error} onRetry={reload} />}
      {deliveries && deliveries.length === 0 && <p data-testid="no-deliveries">Nothing has been sent yet.</p>}
      {deliveries && deliveries.length > 0 && (
        <table className="keys deliveries" data-testid="webhook-deliveries">
          <caption className="visually-hidden">Webhook deliveries</caption>
          <thead>
            <tr>
              {['Created', 'Event', 'Request', 'Status', 'Attempts', 'Last answer', 'Next try', 'Delivery ID'].map((column) => (
                <th scope="col" key={column}>
                  {column}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {deliveries.map((delivery) => {
              const badge = STATUS_BADGES[delivery.status] ?? { label: delivery.status, tone: '' }
              return (
                <tr key={delivery.id} data-testid={`delivery-${delivery.id}`}>
                  <td data-label="Created">
                    <Time iso={delivery.createdAt} />
                  </td>
                  <td data-label="Event">
                    <code>{eventName(delivery.event)}</code>
                  </td>
                  <td data-label="Request">
                    {delivery.requestId ? <Link to={`/approvals/${encodeURIComponent(delivery.requestId)}`}>Open</Link> : <span className="muted">—</span>}
                  </td>
                  <td data-label="Status">
                    <span className={`badge ${badge.tone}`}>{badge.label}</span>
                    {delivery.deliveredAt && (
                      <span className="muted">
                        {' '}
                        <Time iso={delivery.deliveredAt} />
                      </span>
                    )}
                  </td>
                  <td data-label="Attempts">{delivery.attempts}</td>
                  <td data-label="Last answer">
                    {delivery.lastStatusCode != null && <code>HTTP {delivery.lastStatusCode}</code>}
                    {delivery.lastError && <span className="delivery-error"> {delivery.lastError}</span>}
                    {delivery.lastStatusCode == null && !delivery.lastError && <span className="muted">—</span>}
                  </td>
                  <td data-label="Next try">
                    {delivery.status === 'PENDING' && delivery.nextAttemptAt ? <Time iso={delivery.nextAttemptAt} /> : <span className="muted">—</span>}
                  </td>
                  <td data-label="Delivery ID">
                    <code className="break">{delivery.idempotencyKey}</code>
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
    </section>
  )
}
