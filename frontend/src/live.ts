// Live updates of approval requests: the `approvalRequestUpdated` subscription over one shared WebSocket
// (graphql-ws, protocol "graphql-transport-ws", at /graphql/ws; the browser sends the session cookie with
// the handshake). While the socket is down, or when the server refuses the subscription, whoever listens
// polls every 5 s instead, and reads once more when the socket comes back, so nothing is missed.
import { useEffect, useRef, useState, useSyncExternalStore } from 'react'
import { stringifyDocument } from '@urql/core'
import { createClient, type Client as SocketClient } from 'graphql-ws'
import { ApprovalRequestUpdatedDocument, type ApprovalRequestDetailFieldsFragment } from './gql/graphql'

/** How often to read again while no live updates arrive. */
export const POLL_INTERVAL_MS = 5000
/** After the server refused the subscription itself, try it again this much later. */
const RESUBSCRIBE_MS = 30_000

/** The socket's state: connecting (first try), live, or down (retrying in the background). */
export type SocketState = 'connecting' | 'live' | 'down'

let state: SocketState = 'connecting'
// Bumped when the socket is dropped for another session: listeners subscribe again on the new one.
let generation = 0
const watchers = new Set<() => void>()

function notify() {
  for (const watcher of watchers) watcher()
}

function setState(next: SocketState) {
  if (state === next) return
  state = next
  notify()
}

function watch(onChange: () => void): () => void {
  watchers.add(onChange)
  return () => watchers.delete(onChange)
}

/** The WebSocket address of this origin's GraphQL subscriptions. */
export function socketUrl(location: { protocol: string; host: string } = window.location): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql/ws`
}

/** Waits before reconnecting: 1, 2, 4, … seconds, at most 30, with a little jitter. */
export function retryDelayMs(retries: number, jitter: number = Math.random()): number {
  return Math.min(30_000, 1000 * 2 ** retries) + Math.floor(jitter * 500)
}

let socket: SocketClient | null = null

function getSocket(): SocketClient {
  socket ??= createClient({
    url: socketUrl(),
    lazy: true,
    // Keep the socket a moment after the last listener leaves, so moving between pages does not reconnect.
    lazyCloseTimeout: 3000,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    retryWait: (retries) => new Promise((resolve) => window.setTimeout(resolve, retryDelayMs(retries))),
    on: {
      connected: () => setState('live'),
      closed: () => setState('down'),
      error: () => setState('down'),
    },
  })
  return socket
}

/**
 * Closes the socket: the server authenticated it with the session cookie of its handshake, so after a login,
 * logout or change of session it must not carry on. Listeners still mounted subscribe again on a new socket.
 */
export function resetLiveUpdates(): void {
  if (!socket) return
  const old = socket
  socket = null
  generation += 1
  state = 'connecting'
  notify()
  void old.dispose()
}

/** The shared socket's state, re-rendering when it changes. */
export function useSocketState(): SocketState {
  return useSyncExternalStore(watch, () => state)
}

export type ApprovalUpdate = ApprovalRequestDetailFieldsFragment

/** Whether a listener gets its updates live or by polling. */
export type UpdateMode = 'live' | 'polling'

/**
 * Calls `onUpdate` with each change of request `id` (null: every request of the organization), live through
 * the subscription; calls `poll` every `pollMs` (5 s) while the subscription cannot deliver, and once when it
 * is back.
 */
export function useApprovalUpdates(
  id: string | null,
  onUpdate: (request: ApprovalUpdate) => void,
  poll: () => void,
  pollMs: number = POLL_INTERVAL_MS,
): UpdateMode {
  const socketState = useSocketState()
  const socketGeneration = useSyncExternalStore(watch, () => generation)
  const [refused, setRefused] = useState(false)
  const handlers = useRef({ onUpdate, poll })
  useEffect(() => {
    handlers.current = { onUpdate, poll }
  })

  useEffect(() => {
    if (refused) {
      const again = window.setTimeout(() => setRefused(false), RESUBSCRIBE_MS)
      return () => window.clearTimeout(again)
    }
    const dispose = getSocket().subscribe<{ approvalRequestUpdated: ApprovalUpdate }>(
      { query: stringifyDocument(ApprovalRequestUpdatedDocument), variables: { id } },
      {
        next: (result) => {
          if (result.data) handlers.current.onUpdate(result.data.approvalRequestUpdated)
        },
        // The server refused the subscription (or the socket gave up): polling takes over.
        error: () => setRefused(true),
        complete: () => {},
      },
    )
    return dispose
  }, [id, refused, socketGeneration])

  const live = socketState === 'live' && !refused
  useEffect(() => {
    if (live) {
      // Back (or first) on the socket: read once, for what changed while it was down.
      handlers.current.poll()
      return
    }
    const timer = window.setInterval(() => handlers.current.poll(), pollMs)
    return () => window.clearInterval(timer)
  }, [live, pollMs])

  return live ? 'live' : 'polling'
}
