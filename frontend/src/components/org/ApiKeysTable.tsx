import { apiKeyState, scopeName } from '../../apiKeys'
import { useNow } from '../../clock'
import type { ApiKeyFieldsFragment } from '../../gql/graphql'
import { useRememberName } from '../../names'
import { Time } from '../Time'

const STATE_BADGES = {
  active: { label: 'Active', tone: 'badge-success' },
  revoked: { label: 'Revoked', tone: 'badge-error' },
  expired: { label: 'Expired', tone: 'badge-warning' },
} as const

/** The organization's API keys, newest first, with Revoke on the ones still working. */
export function ApiKeysTable({ keys, onRevoke }: { keys: readonly ApiKeyFieldsFragment[]; onRevoke: (key: ApiKeyFieldsFragment) => void }) {
  const now = useNow()
  return (
    <table className="keys api-keys" data-testid="api-keys">
      <caption className="visually-hidden">API keys</caption>
      <thead>
        <tr>
          {['Name', 'Prefix', 'Scopes', 'Created', 'Expires', 'Last used', 'Status'].map((column) => (
            <th scope="col" key={column}>
              {column}
            </th>
          ))}
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {keys.map((key) => (
          <ApiKeyRow key={key.id} apiKey={key} state={apiKeyState(key, now)} onRevoke={onRevoke} />
        ))}
      </tbody>
    </table>
  )
}

interface RowProps {
  apiKey: ApiKeyFieldsFragment
  state: keyof typeof STATE_BADGES
  onRevoke: (key: ApiKeyFieldsFragment) => void
}

function ApiKeyRow({ apiKey: key, state, onRevoke }: RowProps) {
  // The step-up dialog names the key ("Revoke API key ‘CI’") when revoking it needs a touch.
  useRememberName(`api_key:${key.id}`, key.name)
  const badge = STATE_BADGES[state]
  return (
    <tr data-testid={`api-key-${key.id}`}>
      <td data-label="Name">{key.name}</td>
      <td data-label="Prefix">
        <code>{key.prefix}…</code>
      </td>
      <td data-label="Scopes">
        {key.scopes.map((scope) => (
          <code key={scope} className="scope">
            {scopeName(scope)}
          </code>
        ))}
      </td>
      <td data-label="Created">
        <Time iso={key.createdAt} />
        {key.createdBy && <span className="muted"> by {key.createdBy}</span>}
      </td>
      <td data-label="Expires">{key.expiresAt ? <Time iso={key.expiresAt} /> : <span className="muted">never</span>}</td>
      <td data-label="Last used">{key.lastUsedAt ? <Time iso={key.lastUsedAt} /> : <span className="muted">never</span>}</td>
      <td data-label="Status">
        <span className={`badge ${badge.tone}`}>{badge.label}</span>
        {key.revokedAt && (
          <span className="muted">
            {' '}
            <Time iso={key.revokedAt} />
          </span>
        )}
      </td>
      <td className="actions">
        {state === 'active' && (
          <button type="button" className="button-small button-danger" onClick={() => onRevoke(key)} aria-label={`Revoke ${key.name}`}>
            Revoke
          </button>
        )}
      </td>
    </tr>
  )
}
