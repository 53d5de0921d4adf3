import { useEffect, useRef, useState } from 'react'
import { useClient } from 'urql'
import { BackupCredentialsRotateDocument, type BackupCredentialsRotateMutation } from '../../gql/graphql'
import { ActionDialog } from '../Dialog'
import { CopyField } from '../Form'

type Credentials = BackupCredentialsRotateMutation['backupCredentialsRotate']

/** The organization's break-glass login: explains it and rotates its secret, showing the new one once. */
export function BackupCredentialsCard() {
  const [confirming, setConfirming] = useState(false)
  const [fresh, setFresh] = useState<Credentials | null>(null)
  const rotateButton = useRef<HTMLButtonElement>(null)
  const [dismissed, setDismissed] = useState(false)
  useEffect(() => {
    // The secret's panel had focus and is gone: put focus back where the admin started.
    if (dismissed) rotateButton.current?.focus()
  }, [dismissed])

  return (
    <section className="card" aria-labelledby="backup-title">
      <h2 id="backup-title">Backup credentials</h2>
      <p>
        Backup credentials are the break-glass login for when the identity provider is down or misconfigured: the
        organization, the username and a secret. An admin who has a security key still needs it after the secret.
      </p>
      <p>Keep the secret offline, where more than one admin can reach it (a safe, a sealed envelope).</p>
      {fresh ? (
        <NewSecret
          credentials={fresh}
          onDone={() => {
            setFresh(null)
            setDismissed(true)
          }}
        />
      ) : (
        <button type="button" className="button-danger" onClick={() => setConfirming(true)} ref={rotateButton}>
          Rotate backup secret
        </button>
      )}
      {confirming && (
        <RotateDialog
          onClose={() => setConfirming(false)}
          onRotated={(credentials) => {
            setConfirming(false)
            setDismissed(false)
            setFresh(credentials)
          }}
        />
      )}
    </section>
  )
}

function RotateDialog({ onClose, onRotated }: { onClose: () => void; onRotated: (credentials: Credentials) => void }) {
  const client = useClient()
  return (
    <ActionDialog
      title="Rotate the backup secret?"
      confirmLabel="Rotate"
      busyLabel="Rotating…"
      tone="danger"
      action={() => client.mutation(BackupCredentialsRotateDocument, {}).toPromise()}
      onDone={(data) => onRotated(data.backupCredentialsRotate)}
      onClose={onClose}
    >
      <p>
        <strong>The current backup secret stops working at once.</strong> Anyone who relies on it will need the new one.
      </p>
      <p>The new secret is shown only once: have a safe place ready to store it.</p>
    </ActionDialog>
  )
}

function NewSecret({ credentials, onDone }: { credentials: Credentials; onDone: () => void }) {
  const panel = useRef<HTMLDivElement>(null)
  useEffect(() => {
    // The dialog that asked for this is gone: bring the keyboard and screen readers to the secret.
    panel.current?.focus()
  }, [])

  return (
    <div className="secret-panel" ref={panel} tabIndex={-1} aria-labelledby="new-secret-title" role="group" data-testid="new-backup-secret">
      <h3 id="new-secret-title">New backup credentials</h3>
      <p className="alert alert-warning">
        <strong>This secret is shown only once.</strong> Store it now: Keyward keeps only a hash and cannot show it again. The
        old secret no longer works.
      </p>
      <dl className="facts">
        <dt>Organization</dt>
        <dd>
          <code>{credentials.organization}</code>
        </dd>
        <dt>Username</dt>
        <dd>
          <code>{credentials.username}</code>
        </dd>
      </dl>
      <CopyField label="New backup secret" value={credentials.secret} />
      <button type="button" className="button-primary" onClick={onDone}>
        Done
      </button>
    </div>
  )
}
