import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { useClient, useQuery } from 'urql'
import { clearAfterLogin, pendingAfterLogin, rememberAfterLogin } from './afterLogin'
import { SESSION_ENDED_EVENT, STAGE_CHANGED_EVENT } from './client'
import { describeError, hasCode } from './errors'
import { resetLiveUpdates } from './live'
import { clearRecovered, hasRecovered } from './recovery'
import { shouldOfferRecoveryCodes } from './recoveryCodes'
import { LogoutDocument, ViewerDocument, type ViewerFieldsFragment } from './gql/graphql'
import { navigate, usePath } from './router'
import { SessionContext, type Session } from './session'
import { ErrorAlert } from './components/ErrorAlert'
import { RecoveryCodesStep } from './components/RecoveryCodesStep'
import { GraceBanner } from './components/GraceBanner'
import { OrgNav } from './components/OrgPage'
import { StepUpHost } from './components/StepUp'
import { TopBar } from './components/TopBar'
import { ApprovalRequestPage } from './pages/ApprovalRequest'
import { ApprovalsPage } from './pages/Approvals'
import { HomePage } from './pages/Home'
import { LoginPage } from './pages/Login'
import { MfaSettingsPage } from './pages/MfaSettings'
import { NotFoundPage } from './pages/NotFound'
import { OrgApiKeysPage } from './pages/OrgApiKeys'
import { OrgApprovalPolicyPage } from './pages/OrgApprovalPolicy'
import { OrgAuditPage } from './pages/OrgAudit'
import { OrgMemberPage } from './pages/OrgMember'
import { OrgMembersPage } from './pages/OrgMembers'
import { OrgMfaPage } from './pages/OrgMfa'
import { OrgOverviewPage } from './pages/OrgOverview'
import { OrgPolicyPage } from './pages/OrgPolicy'
import { OrgSsoPage } from './pages/OrgSso'
import { OrgStepUpPolicyPage } from './pages/OrgStepUpPolicy'
import { OrgWebhookPage } from './pages/OrgWebhook'
import { RegisterKeyPage } from './pages/RegisterKey'
import { SecurityKeyStep } from './pages/SecurityKeyStep'
import { StepUpPage } from './pages/StepUp'

const SESSION_ENDED_NOTICE = 'Your session ended; log in again.'

/** Where a viewer at this stage may be; null when `path` is fine. */
function redirectFor(viewer: ViewerFieldsFragment | null, path: string): string | null {
  if (!viewer || viewer.stage === 'MFA_REQUIRED') return path === '/login' ? null : '/login'
  if (viewer.stage === 'MFA_REGISTRATION_REQUIRED') return path === '/register-key' ? null : '/register-key'
  // A /step-up page sent the user to log in (SSO comes back to "/"): back there now.
  const back = path === '/login' || path === '/' || path === '/register-key' ? pendingAfterLogin() : null
  if (back) return back
  if (path === '/login') return '/'
  if (path === '/register-key') {
    // After a recovery code, the new key is registered: the keys page suggests deleting the lost one.
    if (hasRecovered(viewer.member.id) || viewer.methods.includes('RECOVERY_CODE')) return '/settings/mfa'
    // A first key: save recovery codes next (skippable), so losing the key is no dead end.
    return shouldOfferRecoveryCodes(viewer.member.id, viewer.recoveryCodes) ? '/recovery-codes' : '/'
  }
  return null
}

/** The SPA: reads the viewer, sends it where its stage allows, and draws the page for the path. */
export function App() {
  const client = useClient()
  const path = usePath()
  const [{ data, fetching, error }, reexecute] = useQuery({ query: ViewerDocument, requestPolicy: 'cache-and-network' })
  const [notice, setNotice] = useState<string | null>(null)
  const hadViewer = useRef(false)

  const refresh = useCallback(() => reexecute({ requestPolicy: 'network-only' }), [reexecute])
  // A dead session may answer viewer with UNAUTHENTICATED instead of null: both mean "logged out".
  const loggedOut = hasCode(error, 'UNAUTHENTICATED')
  const viewer = loggedOut ? null : (data?.viewer ?? null)

  const logout = useCallback(async () => {
    hadViewer.current = false
    clearRecovered()
    clearAfterLogin()
    await client.mutation(LogoutDocument, {}).toPromise()
    setNotice(null)
    navigate('/login')
    refresh()
  }, [client, refresh])

  useEffect(() => {
    function ended() {
      if (!hadViewer.current) return
      hadViewer.current = false
      clearRecovered()
      setNotice(SESSION_ENDED_NOTICE)
      navigate('/login')
      refresh()
    }
    window.addEventListener(SESSION_ENDED_EVENT, ended)
    window.addEventListener(STAGE_CHANGED_EVENT, refresh)
    return () => {
      window.removeEventListener(SESSION_ENDED_EVENT, ended)
      window.removeEventListener(STAGE_CHANGED_EVENT, refresh)
    }
  }, [refresh])

  const settled = data !== undefined || loggedOut
  useEffect(() => {
    if (!settled) return
    if (viewer) {
      hadViewer.current = true
      setNotice(null)
    } else if (hadViewer.current) {
      // The session vanished between requests (expired or revoked).
      hadViewer.current = false
      clearRecovered()
      setNotice(SESSION_ENDED_NOTICE)
    }
  }, [settled, viewer])

  const target = settled ? redirectFor(viewer, path) : null
  useEffect(() => {
    if (!target) return
    // Logging in (or registering a forced key) first: come back to this step-up page afterwards.
    if (path === '/step-up' || path.startsWith('/approvals')) rememberAfterLogin(window.location.pathname + window.location.search)
    navigate(target, { replace: true })
  }, [target, path])

  // Live updates ride a socket authenticated at its handshake: a new session (or none) needs a new socket.
  const sessionKey = viewer ? `${viewer.member.id}:${viewer.stage}` : ''
  const lastSessionKey = useRef(sessionKey)
  useEffect(() => {
    const previous = lastSessionKey.current
    lastSessionKey.current = sessionKey
    // Nothing listens before the first session (no socket yet); after one, the socket is its.
    if (previous && previous !== sessionKey) resetLiveUpdates()
  }, [sessionKey])

  const session: Session = useMemo(() => ({ viewer, refresh, logout }), [viewer, refresh, logout])

  if (!settled) {
    if (error) {
      return (
        <main id="main" className="auth-card">
          <h1>Keyward</h1>
          <ErrorAlert error={describeError(error)}>
            <button type="button" onClick={refresh}>
              Retry
            </button>
          </ErrorAlert>
        </main>
      )
    }
    return <Loading />
  }
  if (target || (fetching && !viewer && path !== '/login')) return <Loading />

  return (
    <SessionContext.Provider value={session}>
      {viewer?.gracePeriodEndsAt && (
        <GraceBanner endsAt={viewer.gracePeriodEndsAt} linkToKeys={viewer.stage === 'AUTHENTICATED'} />
      )}
      {viewer?.stage === 'AUTHENTICATED' && <TopBar viewer={viewer} path={path} onLogout={logout} />}
      {viewer?.stage === 'AUTHENTICATED' && viewer.role === 'ADMIN' && (path === '/org' || path.startsWith('/org/')) && <OrgNav path={path} />}
      <Screen viewer={viewer} path={path} notice={notice} />
      {viewer?.stage === 'AUTHENTICATED' && <StepUpHost />}
    </SessionContext.Provider>
  )
}

function Screen({ viewer, path, notice }: { viewer: ViewerFieldsFragment | null; path: string; notice: string | null }) {
  if (!viewer) return <LoginPage notice={notice} />
  if (viewer.stage === 'MFA_REQUIRED') return <SecurityKeyStep />
  if (viewer.stage === 'MFA_REGISTRATION_REQUIRED') return <RegisterKeyPage />
  switch (path) {
    case '/':
      return <HomePage />
    case '/settings/mfa':
      return <MfaSettingsPage />
    case '/recovery-codes':
      return <RecoveryCodesStep variant="page" onDone={() => navigate('/')} />
    case '/step-up':
      return <StepUpPage />
    case '/approvals':
      return <ApprovalsPage />
  }
  const requestId = idFrom(/^\/approvals\/([^/]+)\/?$/, path)
  if (requestId) return <ApprovalRequestPage key={requestId} id={requestId} />
  if (viewer.role === 'ADMIN') {
    switch (path) {
      case '/org':
        return <OrgOverviewPage />
      case '/org/members':
        return <OrgMembersPage />
      case '/org/mfa':
        return <OrgMfaPage />
      case '/org/sso':
        return <OrgSsoPage />
      case '/org/policy':
        return <OrgPolicyPage />
      case '/org/step-up':
        return <OrgStepUpPolicyPage />
      case '/org/audit':
        return <OrgAuditPage />
      case '/org/approval-policy':
        return <OrgApprovalPolicyPage />
      case '/org/api-keys':
        return <OrgApiKeysPage />
      case '/org/webhook':
        return <OrgWebhookPage />
    }
    const memberId = idFrom(/^\/org\/members\/([^/]+)\/?$/, path)
    if (memberId) return <OrgMemberPage key={memberId} memberId={memberId} />
  }
  return <NotFoundPage />
}

/** The ID `pattern` captures in `path` (e.g. `/org/members/<id>`), or null. */
function idFrom(pattern: RegExp, path: string): string | null {
  const match = pattern.exec(path)
  if (!match) return null
  try {
    return decodeURIComponent(match[1])
  } catch {
    return null
  }
}

function Loading() {
  return (
    <main id="main" className="auth-card" aria-busy="true">
      <p className="muted" role="status">
        Loading…
      </p>
    </main>
  )
}
