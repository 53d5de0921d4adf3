import { useSession } from '../session'
import { AddKeyForm } from '../components/AddKeyForm'
import { Time } from '../components/Time'

/** Stage MFA_REGISTRATION_REQUIRED: the organization requires a key and the member has none. */
export function RegisterKeyPage() {
  const { viewer, refresh, logout } = useSession()
  return (
    <main id="main" className="auth-card" aria-labelledby="register-title">
      <h1 id="register-title">Register a security key</h1>
      <p>
        {viewer?.organization.name ?? 'Your organization'} requires a security key for every member. Register one now
        to continue; you will touch it each time you log in.
      </p>
      {viewer?.gracePeriodEndsAt && (
        <p>
          Deadline: <Time iso={viewer.gracePeriodEndsAt} />
        </p>
      )}
      <AddKeyForm submitLabel="Register security key" onRegistered={() => refresh()} />
      <p>
        <button type="button" className="button-link" onClick={() => void logout()}>
          Log out
        </button>
      </p>
    </main>
  )
}
