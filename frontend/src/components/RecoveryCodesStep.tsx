import { useId, useState } from 'react'
import { useClient } from 'urql'
import { RecoveryCodesGenerateDocument } from '../gql/graphql'
import { useAction } from '../operations'
import { skipRecoveryCodes } from '../recoveryCodes'
import { useSession } from '../session'
import { ErrorAlert } from './ErrorAlert'
import { RecoveryCodesList } from './RecoveryCodesSection'

interface RecoveryCodesStepProps {
  /** `page`: the step after a forced first key (its own screen); `card`: inside the security keys page. */
  variant: 'page' | 'card'
  /** The member saved the codes or skipped the step. */
  onDone: (outcome: 'saved' | 'skipped') => void
}

/**
 * "Save your recovery codes", right after a member's first key (as GitHub does): generate (a fresh key touch
 * if the session's is old), show, copy, download; skippable, and the skip is remembered in this browser.
 */
export function RecoveryCodesStep({ variant, onDone }: RecoveryCodesStepProps) {
  const client = useClient()
  const titleId = useId()
  const { viewer, refresh } = useSession()
  const { busy, error, run } = useAction()
  const [codes, setCodes] = useState<{ codes: string[]; at: Date } | null>(null)

  async function generate() {
    const data = await run(() => client.mutation(RecoveryCodesGenerateDocument, {}).toPromise())
    if (!data) return
    setCodes({ codes: data.recoveryCodesGenerate.codes, at: new Date() })
    refresh()
  }

  const Heading = variant === 'page' ? 'h1' : 'h2'
  const body = (
    <>
      <Heading id={titleId}>Save your recovery codes</Heading>
      {codes ? (
        <>
          <p className="alert alert-warning">
            Store these codes somewhere safe now, like a password manager: they are shown only once. Each code works once.
          </p>
          <RecoveryCodesList codes={codes.codes} generatedAt={codes.at} />
          <div className="row step-actions">
            <button type="button" className="button-primary" onClick={() => onDone('saved')}>
              I have saved them
            </button>
          </div>
        </>
      ) : (
        <>
          <p>
            If you lose your security key, a recovery code lets you log in once and register a new key, without waiting
            for an admin. Generate a set of 10 now and keep them somewhere safe.
          </p>
          {viewer && viewer.recoveryCodes.total > 0 && (
            <p className="alert alert-warning">You already have recovery codes: new ones replace them, and the old ones stop working.</p>
          )}
          {error && <ErrorAlert error={error} />}
          <div className="row step-actions">
            <button type="button" className="button-primary" onClick={generate} disabled={busy}>
              {busy ? 'Generating…' : 'Generate recovery codes'}
            </button>
            <button
              type="button"
              className="button-link"
              disabled={busy}
              onClick={() => {
                if (viewer) skipRecoveryCodes(viewer.member.id)
                onDone('skipped')
              }}
            >
              Skip for now
            </button>
          </div>
        </>
      )}
    </>
  )
  if (variant === 'page') {
    return (
      <main id="main" className="auth-card auth-card-wide" aria-labelledby={titleId} data-testid="recovery-codes-step">
        {body}
      </main>
    )
  }
  return (
    <section className="card card-highlight" aria-labelledby={titleId} data-testid="recovery-codes-step">
      {body}
    </section>
  )
}
