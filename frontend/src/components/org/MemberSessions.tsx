import type { MemberDetailQuery } from '../../gql/graphql'
import { Time } from '../Time'

type Session = MemberDetailQuery['member']['sessions'][number]

const METHOD_LABELS: Record<string, string> = {
  SSO: 'SSO',
  BACKUP_CREDENTIALS: 'backup credentials',
  RECOVERY_CODE: 'recovery code',
  SECURITY_KEY: 'security key',
}

/** "SSO, then security key". */
function methodsText(methods: readonly string[]): string {
  return methods.length ? methods.map((m) => METHOD_LABELS[m] ?? m.toLowerCase().replaceAll('_', ' ')).join(', then ') : 'none yet'
}

/** A member's active sessions: device, address, when they started and were last seen; the viewer's own marked. */
export function MemberSessionsTable({ sessions, name }: { sessions: Session[]; name: string }) {
  return (
    <table className="keys member-sessions" data-testid="member-sessions">
      <caption className="visually-hidden">Active sessions of {name}</caption>
      <thead>
        <tr>
          <th scope="col">Device</th>
          <th scope="col">IP address</th>
          <th scope="col">Started</th>
          <th scope="col">Last seen</th>
          <th scope="col">Logged in with</th>
        </tr>
      </thead>
      <tbody>
        {sessions.map((session) => (
          <tr key={`${session.createdAt}-${session.ip ?? ''}-${session.device ?? ''}`}>
            <td data-label="Device">
              {session.device ?? <span className="muted">unknown device</span>}
              {session.current && (
                <>
                  {' '}
                  <span className="badge badge-success">this session</span>
                </>
              )}
            </td>
            <td data-label="IP address">{session.ip ?? <span className="muted">unknown</span>}</td>
            <td data-label="Started">
              <Time iso={session.createdAt} />
            </td>
            <td data-label="Last seen">
              <Time iso={session.lastSeenAt} />
            </td>
            <td data-label="Logged in with">{methodsText(session.methods)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
