// Display names of the resources a step-up names (`security_key:<id>`, `member:<id>`), so the step-up dialog
// can say "Delete security key ‘Desk key’" rather than an ID. Pages that show a key or a member note its name
// here; for a resource no page has shown (e.g. the /step-up page opened from a terminal), the name is asked
// from the server.
import { useEffect, useState } from 'react'
import type { Client } from '@urql/core'
import { useClient } from 'urql'
import { ApiKeysDocument, MemberDetailDocument, SecurityKeysDocument, type ViewerFieldsFragment } from './gql/graphql'
import { useSession } from './session'
import { parseResource } from './stepUpWords'

const known = new Map<string, string>()

/** Notes that `resource` (e.g. `security_key:<id>`) is called `name`. */
export function rememberName(resource: string, name: string): void {
  known.set(resource, name)
}

/** Notes a name while the component shows it. */
export function useRememberName(resource: string, name: string): void {
  useEffect(() => rememberName(resource, name), [resource, name])
}

/** Asks the server for the display name of `resource`; null when it is not there or not visible to `viewer`. */
async function askName(client: Client, viewer: ViewerFieldsFragment, resource: string): Promise<string | null> {
  const ref = parseResource(resource)
  if (ref?.type === 'security_key') {
    const result = await client.query(SecurityKeysDocument, {}, { requestPolicy: 'cache-first' }).toPromise()
    return result.data?.securityKeys.find((key) => key.id === ref.id)?.name ?? null
  }
  if (ref?.type === 'api_key') {
    if (viewer.role !== 'ADMIN') return null
    const result = await client.query(ApiKeysDocument, {}, { requestPolicy: 'cache-first' }).toPromise()
    return result.data?.apiKeys.find((key) => key.id === ref.id)?.name ?? null
  }
  if (ref?.type === 'member') {
    if (ref.id === viewer.member.id) return viewer.member.displayName || viewer.member.username
    if (viewer.role !== 'ADMIN') return null
    const result = await client.query(MemberDetailDocument, { id: ref.id }, { requestPolicy: 'cache-first' }).toPromise()
    const member = result.data?.member.member
    return member ? member.displayName || member.username : null
  }
  return null
}

/** The display name of `resource`, once known; null while looking, when not `lookUp`, or when not found. */
export function useResourceName(resource: string | null | undefined, lookUp: boolean): string | null {
  const client = useClient()
  const { viewer } = useSession()
  const [found, setFound] = useState<{ resource: string; name: string } | null>(null)
  const noted = resource ? (known.get(resource) ?? null) : null

  useEffect(() => {
    if (!lookUp || !resource || noted || !viewer) return
    let live = true
    void askName(client, viewer, resource).then((name) => {
      if (live && name) setFound({ resource, name })
    })
    return () => {
      live = false
    }
  }, [client, lookUp, resource, noted, viewer])

  return noted ?? (found && found.resource === resource ? found.name : null)
}
