import type { ReactNode } from 'react'
import type { OperationResult } from '@urql/core'
import type { UiError } from '../errors'
import type { SecurityKeyFieldsFragment } from '../gql/graphql'
import { useRememberName } from '../names'
import { ActionDialog } from './Dialog'
import { shortKeyId } from '../format'
import { CopyButton } from './CopyButton'
import { Time } from './Time'

/** The keys table shared by the personal and the admin pages: the rows bring their own name and actions cells. */
export function KeysTable({ caption, children }: { caption: string; children: ReactNode }) {
  return (
    <table className="keys">
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Key ID</th>
          <th scope="col">Created</th>
          <th scope="col">Last used</th>
          <th scope="col">Model</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  )
}

/** The read-only cells of a key's row: key ID (shortened, with copy), created, last used, model. */
export function KeyDetailCells({ securityKey: key }: { securityKey: SecurityKeyFieldsFragment }) {
  // The step-up dialog names the key ("Delete security key ‘Desk key’") when an action on it needs a touch.
  useRememberName(`security_key:${key.id}`, key.name)
  return (
    <>
      <td data-label="Key ID">
        <code title={key.keyId}>{shortKeyId(key.keyId)}</code>{' '}
        <CopyButton text={key.keyId} label="Copy" ariaLabel={`Copy the full key ID of ${key.name}`} />
      </td>
      <td data-label="Created">
        <Time iso={key.createdAt} />
      </td>
      <td data-label="Last used">{key.lastUsedAt ? <Time iso={key.lastUsedAt} /> : <span className="muted">never</span>}</td>
      <td data-label="Model">{key.model ?? <span className="muted">Unknown model</span>}</td>
    </>
  )
}

interface DeleteKeyDialogProps<T> {
  keyName: string
  /** What deleting means for whoever owns the key. */
  children: ReactNode
  /** Deletes the key (your own, or a member's for admins). */
  action: () => Promise<OperationResult<T>>
  onDeleted: (data: T) => void
  onClose: () => void
  /** Errors after which deleting again cannot work. */
  final?: (error: UiError) => boolean
}

/** Asks before deleting a security key, then deletes it. */
export function DeleteKeyDialog<T>({ keyName, children, action, onDeleted, onClose, final }: DeleteKeyDialogProps<T>) {
  return (
    <ActionDialog
      title={`Delete “${keyName}”?`}
      confirmLabel="Delete key"
      busyLabel="Deleting…"
      tone="danger"
      action={action}
      onDone={onDeleted}
      onClose={onClose}
      final={final}
    >
      {children}
    </ActionDialog>
  )
}
