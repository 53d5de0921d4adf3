import { useCallback, useEffect, useId, useState } from 'react'
import { useClient } from 'urql'
import { OrganizationMembersDocument, type OrganizationMembersQuery } from '../../gql/graphql'
import { usePaged } from '../../operations'
import { Link } from '../../router'
import { PagedList } from '../Loading'
import { Time } from '../Time'
import { Deactivated } from './MemberAccessCard'

const PAGE_SIZE = 50
/** The API's limit on `members(search:)`. */
export const SEARCH_MAX = 100
const SEARCH_DELAY_MS = 300

type MemberRow = OrganizationMembersQuery['organization']['members']['nodes'][number]

const selectMembers = (data: OrganizationMembersQuery) => data.organization.members

/** `value`, once it has stopped changing for `delayMs`. */
export function useDebounced<T>(value: T, delayMs: number): T {
  const [settled, setSettled] = useState(value)
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), delayMs)
    return () => window.clearTimeout(timer)
  }, [value, delayMs])
  return settled
}

/** The organization's members with their keys and sessions, searchable; `version` changes re-read the list. */
export function MembersCard({ version }: { version: number }) {
  const client = useClient()
  const filterId = useId()
  const [withoutKey, setWithoutKey] = useState(false)
  const [typed, setTyped] = useState('')
  const search = useDebounced(typed.trim(), SEARCH_DELAY_MS)
  const fetchPage = useCallback(
    (after: string | null) =>
      client
        .query(
          OrganizationMembersDocument,
          { first: PAGE_SIZE, after, withoutKey, search: search || null },
          { requestPolicy: 'network-only' },
        )
        .toPromise(),
    // A new `version` makes a new fetchPage, which is what makes usePaged read the list again.
    [client, withoutKey, search, version],
  )
  const members = usePaged(fetchPage, selectMembers)
  const filtered = withoutKey || !!search

  return (
    <section className="card" aria-labelledby="members-title" aria-busy={members.loading}>
      <h2 id="members-title">Members</h2>
      <div className="members-filters">
        <div className="field">
          <label htmlFor={`${filterId}-search`}>Search members</label>
          <input
            id={`${filterId}-search`}
            type="search"
            value={typed}
            maxLength={SEARCH_MAX}
            placeholder="Name or e-mail"
            autoComplete="off"
            spellCheck={false}
            aria-describedby={`${filterId}-search-hint`}
            onChange={(e) => setTyped(e.target.value)}
          />
          <p id={`${filterId}-search-hint`} className="hint">
            Part of a username, display name or e-mail address.
          </p>
        </div>
        <div className="checkbox">
          <input id={filterId} type="checkbox" checked={withoutKey} onChange={(e) => setWithoutKey(e.target.checked)} />
          <label htmlFor={filterId}>Only members without a key</label>
        </div>
      </div>
      <PagedList
        paged={members}
        loadingText="Loading members…"
        empty={
          <p data-testid="no-members">
            {search
              ? `No member matches “${search}”${withoutKey ? ' among those without a key' : ''}.`
              : withoutKey
                ? 'Every member has a security key.'
                : 'This organization has no members yet.'}
          </p>
        }
      >
        {(rows) => <MembersTable rows={rows} filtered={filtered} />}
      </PagedList>
    </section>
  )
}

function MembersTable({ rows, filtered }: { rows: MemberRow[]; filtered: boolean }) {
  return (
    <table className="keys members" data-testid="members-table">
      <caption className="visually-hidden">{filtered ? 'Members matching the filters' : 'Members of the organization'}</caption>
      <thead>
        <tr>
          <th scope="col">Member</th>
          <th scope="col">E-mail</th>
          <th scope="col">Role</th>
          <th scope="col">Status</th>
          <th scope="col">Keys</th>
          <th scope="col">Active sessions</th>
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
            <td data-label="Keys">
              {row.keyCount === 0 ? (
                <span className="badge badge-warning">No key</span>
              ) : row.keyCount === 1 ? (
                <>
                  1 <span className="muted">(only one)</span>
                </>
              ) : (
                row.keyCount
              )}
            </td>
            <td data-label="Active sessions">{row.liveSessions}</td>
            <td data-label="Last login">
              {row.member.lastLoginAt ? <Time iso={row.member.lastLoginAt} /> : <span className="muted">never</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
