import { useEffect, useState } from 'react'
import { useClient } from 'urql'
import { errorCode, messageForSsoLink, type UiError } from '../../errors'
import { SsoLinkFinishDocument, SsoLinkStartDocument } from '../../gql/graphql'
import { useAction } from '../../operations'
import { navigate, useSearch } from '../../router'
import { useSession } from '../../session'
import { goToIdentityProvider, pendingSsoTest } from '../../sso'
import { ErrorAlert } from '../ErrorAlert'

const PAGE = '/org/sso'

// A link's code works once; React may run an effect twice (StrictMode), so remember what was sent.
const finishing = new Set<string>()

/**
 * Finishes a link when the IdP has sent the browser back with `linkCode` and `linkState`, then leaves
 * `?linked=1` or `?error=CODE` in the address (and no code, which must not be bookmarked or shared).
 */
function useFinishLink(code: string | null, state: string | null, onLinked: () => void): boolean {
  const client = useClient()
  const pending = !!code && !!state
  useEffect(() => {
    if (!code || !state || finishing.has(state)) return
    finishing.add(state)
    void client
      .mutation(SsoLinkFinishDocument, { code, state })
      .toPromise()
      .then((result) => {
        if (result.data) {
          navigate(`${PAGE}?linked=1`, { replace: true })
          onLinked()
        } else {
          const failed = result.error ? errorCode(result.error) : 'INTERNAL'
          navigate(`${PAGE}?error=${encodeURIComponent(failed)}`, { replace: true })
        }
      })
  }, [client, code, state, onLinked])
  return pending
}

/** Links the admin's own IdP account to their member, so the first admin can move from backup credentials to SSO. */
export function IdpAccountCard({ configured, loaded }: { configured: boolean; loaded: boolean }) {
  const client = useClient()
  const { viewer, refresh } = useSession()
  const params = new URLSearchParams(useSearch())
  // A test sign-in may come back through the same address: that one is the test's, not a link.
  const [testing] = useState(() => pendingSsoTest() !== null)
  const finishingLink = useFinishLink(testing ? null : params.get('linkCode'), testing ? null : params.get('linkState'), refresh)
  const callbackError = params.get('error')
  const { busy, error, run } = useAction()
  const [leaving, setLeaving] = useState(false)
  const [unsafe, setUnsafe] = useState<UiError | null>(null)
  const linked = viewer?.member.ssoLinked ?? false
  const failed = error ?? unsafe

  async function link() {
    setUnsafe(null)
    const data = await run(() => client.mutation(SsoLinkStartDocument, {}).toPromise())
    if (!data) return
    const refused = goToIdentityProvider(data.ssoLinkStart.authorizationUrl)
    if (refused) setUnsafe(refused)
    else setLeaving(true)
  }

  let body
  if (finishingLink) {
    body = <p className="muted">Linking your IdP account…</p>
  } else if (linked) {
    body = <p data-testid="sso-linked">Linked: you can log in with SSO.</p>
  } else if (!loaded) {
    body = null
  } else if (!configured) {
    body = <p className="muted">Set up single sign-on above first; then you can link your own IdP account to your member.</p>
  } else {
    body = (
      <>
        <p>
          You are not linked to an account at the identity provider yet, so you can only log in with backup credentials.
          Link your IdP account to log in with SSO; your security keys stay the same.
        </p>
        {failed && <ErrorAlert error={failed} />}
        <button type="button" className="button-primary" onClick={link} disabled={busy || leaving}>
          {busy || leaving ? 'Opening your identity provider…' : 'Link my IdP account'}
        </button>
      </>
    )
  }

  return (
    <section className="card" aria-labelledby="idp-account-title" aria-busy={finishingLink || undefined}>
      <h2 id="idp-account-title">Your IdP account</h2>
      {params.get('linked') === '1' && (
        <p className="alert alert-info" role="status" data-testid="sso-linked-notice">
          Your IdP account is linked: from now on, log in with single sign-on and your security key.
        </p>
      )}
      {callbackError && !linked && <ErrorAlert error={{ code: callbackError, message: messageForSsoLink(callbackError) }} />}
      {body}
    </section>
  )
}
