import { hasRecovered } from '../recovery'
import { useSession } from '../session'
import { AddKeyForm } from '../components/AddKeyForm'
import { Time } from '../components/Time'

/** Stage MFA_REGISTRATION_REQUIRED: the member has no usable key (none yet, or they used a recovery code). */
export function RegisterKeyPage() {
  const { viewer, refresh, logout } = useSession()
  const recovered = hasRecovered(viewer?.member.id)
  return (
    <main id="main" className="auth-card" aria-labelledby="register-title">
      <h1 id="register-title">Register a security key</h1>
      {recovered ? (
        <p data-testid="register-after-recovery">
          You used a recovery code in place of your security key. Register a new key now to finish logging in; you will
          touch it each time you log in.
        </p>
      ) : (
        <p>
          {viewer?.organization.name ?? 'Your organization'} requires a security key for every member. Register one now
          to continue; you will touch it each time you log in.
        </p>
      )}
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
