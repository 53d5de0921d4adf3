import { useCallback, useEffect, useRef, useState } from 'react'
import type { CombinedError, OperationResult } from '@urql/core'
import { describeError, unexpectedError, type UiError } from './errors'

/** What `run` needs of an operation's result: its data, or its error (a urql `OperationResult` is one). */
export type Answer<T> = Pick<OperationResult<T>, 'data' | 'error'>

/** One user-started operation (a form's submit, a dialog's confirm) and its state. */
export interface Action {
  /** True while the operation runs: disable the controls that would start it again. */
  busy: boolean
  /** What to show when the last run failed. */
  error: UiError | null
  /** The last run's raw error, for errors that belong under a form field. */
  failure: CombinedError | null
  /** Runs `operation`; resolves to its data, or to null after recording the error. */
  run: <T>(operation: () => Promise<Answer<T>>) => Promise<T | null>
  /** Forgets the last error. */
  reset: () => void
}

/** Busy and error state for a mutation started by the user, so every form and dialog handles them alike. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<UiError | null>(null)
  const [failure, setFailure] = useState<CombinedError | null>(null)

  const reset = useCallback(() => {
    setError(null)
    setFailure(null)
  }, [])

  const run = useCallback(async <T>(operation: () => Promise<Answer<T>>): Promise<T | null> => {
    setBusy(true)
    setError(null)
    setFailure(null)
    let result: Answer<T>
    try {
      result = await operation()
    } finally {
      setBusy(false)
    }
    if (result.data && !result.error) return result.data
    setFailure(result.error ?? null)
    setError(result.error ? describeError(result.error) : unexpectedError())
    return null
  }, [])

  return { busy, error, failure, run, reset }
}

/** A page of a cursor-paginated list, as the API returns it. */
export interface Page<T> {
  nodes: T[]
  pageInfo: { hasNextPage: boolean; endCursor?: string | null }
}

/** A list read page by page with "Load more". */
export interface Paged<T> {
  /** Every row loaded so far; null until the first page is there. */
  rows: T[] | null
  hasMore: boolean
  loading: boolean
  /** The last page's error; `more` says whether it was a later page (the rows so far stay shown). */
  error: { error: UiError; more: boolean } | null
  loadMore: () => void
  /** Reads the first page again. */
  reload: () => void
}

/**
 * Reads `fetchPage(null)`, then each next page on `loadMore`. A new `fetchPage` (e.g. other filters) starts
 * over, and the answers of the old one are dropped. Keep `select` stable (a module-level function).
 */
export function usePaged<D, T>(
  fetchPage: (after: string | null) => Promise<OperationResult<D>>,
  select: (data: D) => Page<T>,
): Paged<T> {
  const [rows, setRows] = useState<T[] | null>(null)
  const [cursor, setCursor] = useState<string | null>(null)
  const [hasMore, setHasMore] = useState(false)
  const [loading, setLoading] = useState(false)
  const [error, setError] = useState<Paged<T>['error']>(null)
  // Bumped for every new list, so a late answer for an old one is ignored.
  const generation = useRef(0)

  const load = useCallback(
    async (after: string | null) => {
      const mine = generation.current
      setLoading(true)
      setError(null)
      const result = await fetchPage(after)
      if (mine !== generation.current) return
      setLoading(false)
      if (result.error || !result.data) {
        setError({ error: result.error ? describeError(result.error) : unexpectedError(), more: after !== null })
        return
      }
      const page = select(result.data)
      setRows((previous) => (after && previous ? [...previous, ...page.nodes] : page.nodes))
      setCursor(page.pageInfo.endCursor ?? null)
      setHasMore(page.pageInfo.hasNextPage)
    },
    [fetchPage, select],
  )

  const reload = useCallback(() => {
    generation.current += 1
    setRows(null)
    setCursor(null)
    setHasMore(false)
    void load(null)
  }, [load])

  useEffect(reload, [reload])

  const loadMore = useCallback(() => void load(cursor), [load, cursor])
  return { rows, hasMore, loading, error, loadMore, reload }
}
