import { useCallback, useId, useState } from 'react'
import { useClient } from 'urql'
import { OrganizationMembersDocument, type OrganizationMembersQuery } from '../../gql/graphql'
import { usePaged } from '../../operations'
import { Link } from '../../router'
import { PagedList } from '../Loading'
import { Time } from '../Time'
import { Deactivated } from './MemberAccessCard'

const PAGE_SIZE = 50

type MemberRow = OrganizationMembersQuery['organization']['members']['nodes'][number]

const selectMembers = (data: OrganizationMembersQuery) => data.organization.members

/** The organization's members with their keys and sessions; `version` changes re-read the list. */
export function MembersCard({ version }: { version: number }) {
  const client = useClient()
  const filterId = useId()
  const [withoutKey, setWithoutKey] = useState(false)
  const fetchPage = useCallback(
    (after: string | null) =>
      client.query(OrganizationMembersDocument, { first: PAGE_SIZE, after, withoutKey }, { requestPolicy: 'network-only' }).toPromise(),
    // A new `version` makes a new fetchPage, which is what makes usePaged read the list again.
    [client, withoutKey, version],
  )
  const members = usePaged(fetchPage, selectMembers)

  return (
    <section className="card" aria-labelledby="members-title" aria-busy={members.loading}>
      <h2 id="members-title">Members</h2>
      <div className="checkbox">
        <input id={filterId} type="checkbox" checked={withoutKey} onChange={(e) => setWithoutKey(e.target.checked)} />
        <label htmlFor={filterId}>Only members without a key</label>
      </div>
      <PagedList
        paged={members}
        loadingText="Loading members…"
        empty={<p data-testid="no-members">{withoutKey ? 'Every member has a security key.' : 'This organization has no members yet.'}</p>}
      >
        {(rows) => <MembersTable rows={rows} withoutKey={withoutKey} />}
      </PagedList>
    </section>
  )
}

function MembersTable({ rows, withoutKey }: { rows: MemberRow[]; withoutKey: boolean }) {
  return (
    <table className="keys members" data-testid="members-table">
      <caption className="visually-hidden">{withoutKey ? 'Members without a security key' : 'Members of the organization'}</caption>
      <thead>
        <tr>
          <th scope="col">Member</th>
          <th scope="col">E-mail</th>
          <th scope="col">Role</th>
          <th scope="col">Status</th>
          <th scope="col">Keys</th>
          <th scope="col">Live sessions</th>
          <th scope="col">Last login</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.member.id}>
            <td data-label="Member">
              <Link to={`/org/members/${encodeURIComponent(row.member.id)}`}>
                <strong>{row.member.username}</strong>
              </Link>
              {row.member.displayName && row.member.displayName !== row.member.username && (
                <div className="muted">{row.member.displayName}</div>
              )}
            </td>
            <td data-label="E-mail">{row.member.email ?? <span className="muted">none</span>}</td>
            <td data-label="Role">{row.member.role === 'ADMIN' ? 'Admin' : 'Member'}</td>
            <td data-label="Status">{row.member.deactivatedAt ? <Deactivated iso={row.member.deactivatedAt} compact /> : 'Active'}</td>
            <td data-label="Keys">{row.keyCount === 0 ? <span className="badge badge-warning">No key</span> : row.keyCount}</td>
            <td data-label="Live sessions">{row.liveSessions}</td>
            <td data-label="Last login">
              {row.member.lastLoginAt ? <Time iso={row.member.lastLoginAt} /> : <span className="muted">never</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
