import { createContext, useContext } from 'react'
import type { ViewerFieldsFragment } from './gql/graphql'

export interface Session {
  /** The logged-in viewer (any stage), or null. */
  viewer: ViewerFieldsFragment | null
  /** Re-reads the viewer from the server; the app then routes by its stage. */
  refresh: () => void
  /** Logs out and goes to /login. */
  logout: () => Promise<void>
}

export const SessionContext = createContext<Session | null>(null)

export function useSession(): Session {
  const session = useContext(SessionContext)
  if (!session) throw new Error('useSession outside SessionContext')
  return session
}
