import { Client, cacheExchange, fetchExchange, getOperationName, mapExchange } from '@urql/core'
import { fetchWithStepUp } from './stepUp'

/** Fired when the server says the session is gone (e.g. the org enforced MFA and ended sessions). */
export const SESSION_ENDED_EVENT = 'keyward:session-ended'
/** Fired when the server says the session's stage no longer allows an operation. */
export const STAGE_CHANGED_EVENT = 'keyward:stage-changed'

/**
 * The context of a query the app sends on its own in the background (e.g. the pending-approvals count):
 * its failure is not the user's, so it never ends the session on screen; their next action will.
 */
export const BACKGROUND = { background: true } as const

/** Operations where UNAUTHENTICATED means "wrong credentials", not "your session ended". */
const FIRST_FACTOR_OPERATIONS = new Set(['BackupCredentialsLogin', 'SsoLoginStart', 'Logout'])

export const client = new Client({
  url: '/graphql',
  // The server refuses GET for mutations and requires JSON (its CSRF defence): always POST JSON.
  preferGetMethod: false,
  // A mutation answered with STEP_UP_REQUIRED waits for a key touch in the step-up dialog, then runs again.
  fetch: fetchWithStepUp(),
  fetchOptions: {
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
  },
  exchanges: [
    cacheExchange,
    mapExchange({
      onError(error, operation) {
        if (operation.context.background) return
        const name = getOperationName(operation.query) ?? ''
        const codes = error.graphQLErrors.map((e) => e.extensions?.code)
        if (codes.includes('UNAUTHENTICATED') && !FIRST_FACTOR_OPERATIONS.has(name)) {
          window.dispatchEvent(new Event(SESSION_ENDED_EVENT))
        } else if (codes.includes('MFA_REQUIRED') || codes.includes('MFA_REGISTRATION_REQUIRED')) {
          window.dispatchEvent(new Event(STAGE_CHANGED_EVENT))
        }
      },
    }),
    fetchExchange,
  ],
})
