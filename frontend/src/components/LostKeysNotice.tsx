import type { SecurityKeyFieldsFragment } from '../gql/graphql'
import { lostKeyCandidates } from '../recovery'
import { Time } from './Time'

interface LostKeysNoticeProps {
  keys: SecurityKeyFieldsFragment[]
  onRemove: (key: SecurityKeyFieldsFragment) => void
  onDismiss: () => void
}

/**
 * After a recovery code and a new key: the keys registered before (one of them is the lost one, which still
 * works for whoever finds it), each with a Remove button. Dismissible.
 */
export function LostKeysNotice({ keys, onRemove, onDismiss }: LostKeysNoticeProps) {
  const candidates = lostKeyCandidates(keys)
  if (candidates.length === 0) return null
  return (
    <div className="alert alert-warning" data-testid="recovered-notice" role="region" aria-labelledby="lost-keys-title">
      <h3 id="lost-keys-title">Remove the key you lost</h3>
      <p>
        You logged in with a recovery code and registered a new key. The key you lost still works for whoever finds it:
        remove it. These keys were registered before:
      </p>
      <ul className="lost-keys">
        {candidates.map((key) => (
          <li key={key.id}>
            <span>
              <strong>{key.name}</strong>{' '}
              <span className="muted">
                last used {key.lastUsedAt ? <Time iso={key.lastUsedAt} /> : 'never'}
              </span>
            </span>
            <button type="button" className="button-small button-danger" onClick={() => onRemove(key)} aria-label={`Remove ${key.name}`}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      <button type="button" className="button-small" onClick={onDismiss}>
        Dismiss
      </button>
    </div>
  )
}
