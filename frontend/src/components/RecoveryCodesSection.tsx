import { useState } from 'react'
import { useClient } from 'urql'
import { formatDate } from '../format'
import { RecoveryCodesGenerateDocument } from '../gql/graphql'
import { recoveryCodeSummary, recoveryCodesFile } from '../recoveryCodes'
import { useSession } from '../session'
import { CopyButton, DownloadButton } from './CopyButton'
import { ActionDialog, Dialog } from './Dialog'

/** The security keys page's recovery-codes card: how many are left and since when, and a new set. */
export function RecoveryCodesSection() {
  const { viewer, refresh } = useSession()
  const [showCodes, setShowCodes] = useState(false)
  const status = viewer?.recoveryCodes
  const summary = status ? recoveryCodeSummary(status, formatDate) : null
  return (
    <section className="card" aria-labelledby="codes-title">
      <h2 id="codes-title">Recovery codes</h2>
      {summary && (
        <p className={summary.warning ? 'alert alert-warning' : 'codes-status'} data-testid="recovery-codes-status">
          {summary.text}
        </p>
      )}
      <p>
        If you lose all your security keys, a recovery code takes the place of a key once: log in as usual, choose “Lost
        your key?” at the security key step, then register a new key. Generating codes makes any codes you generated
        before stop working.
      </p>
      <button type="button" onClick={() => setShowCodes(true)}>
        Generate recovery codes
      </button>
      {showCodes && (
        <RecoveryCodesDialog
          onClose={() => {
            setShowCodes(false)
            refresh()
          }}
        />
      )}
    </section>
  )
}

function RecoveryCodesDialog({ onClose }: { onClose: () => void }) {
  const client = useClient()
  const [codes, setCodes] = useState<{ codes: string[]; at: Date } | null>(null)

  if (!codes) {
    return (
      <ActionDialog
        title="Generate recovery codes"
        confirmLabel="Generate new codes"
        busyLabel="Generating…"
        tone="primary"
        action={() => client.mutation(RecoveryCodesGenerateDocument, {}).toPromise()}
        onDone={(data) => setCodes({ codes: data.recoveryCodesGenerate.codes, at: new Date() })}
        onClose={onClose}
        focusCancel={false}
      >
        <p className="alert alert-warning">New codes replace your old ones: any recovery codes you saved before stop working.</p>
      </ActionDialog>
    )
  }

  return (
    <Dialog title="Your recovery codes" onClose={onClose}>
      <p className="alert alert-warning">
        Store these codes somewhere safe now: they are shown only once. Each code works once. Your old codes no longer work.
      </p>
      <RecoveryCodesList codes={codes.codes} generatedAt={codes.at} />
      <div className="row dialog-actions">
        <button type="button" className="button-primary" onClick={onClose}>
          I have saved them
        </button>
      </div>
    </Dialog>
  )
}

/**
 * Freshly generated recovery codes: the list, Copy all and Download. The file names the organization, the
 * username and this Keyward's address, so it can be told apart from others months later.
 */
export function RecoveryCodesList({ codes, generatedAt }: { codes: string[]; generatedAt: Date }) {
  const { viewer } = useSession()
  const file = recoveryCodesFile(codes, {
    organizationName: viewer?.organization.name ?? '',
    organizationSlug: viewer?.organization.slug ?? '',
    username: viewer?.member.username ?? '',
    url: window.location.origin,
    generatedAt,
  })
  return (
    <>
      <ol className="codes" data-testid="recovery-codes" aria-label="Recovery codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ol>
      <div className="row">
        <CopyButton text={codes.join('\n')} label="Copy all" />
        <DownloadButton text={file.text} filename={file.filename} label="Download (.txt)" />
      </div>
    </>
  )
}
