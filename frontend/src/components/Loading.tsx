import type { ReactNode } from 'react'
import type { CombinedError } from '@urql/core'
import { describeError, type UiError } from '../errors'
import type { Paged } from '../operations'
import { ErrorAlert } from './ErrorAlert'

interface LoadStateProps {
  /** True while the data is on its way. */
  loading: boolean
  /** Says what is loading, e.g. "Loading the members…". */
  loadingText: string
  error: CombinedError | UiError | null | undefined
  onRetry: () => void
}

/** What a section shows while its data is not there: a loading line, or the error with a Retry button. */
export function LoadState({ loading, loadingText, error, onRetry }: LoadStateProps) {
  if (error) {
    return (
      <ErrorAlert error={'graphQLErrors' in error ? describeError(error) : error}>
        <button type="button" onClick={onRetry} disabled={loading}>
          {loading ? 'Retrying…' : 'Retry'}
        </button>
      </ErrorAlert>
    )
  }
  if (!loading) return null
  return <p className="muted">{loadingText}</p>
}

interface PagedListProps<T> {
  paged: Paged<T>
  /** Says what is loading, e.g. "Loading members…". */
  loadingText: string
  /** Shown when the list is empty. */
  empty: ReactNode
  /** Renders the rows loaded so far (never empty). */
  children: (rows: T[]) => ReactNode
}

/**
 * A list read page by page: loading and error states for the first page, the rows, then "Load more"
 * (or the error of the page that failed, with Retry, while the rows so far stay).
 */
export function PagedList<T>({ paged, loadingText, empty, children }: PagedListProps<T>) {
  const { rows, loading, error, hasMore, loadMore, reload } = paged
  if (rows === null) {
    return <LoadState loading={loading} loadingText={loadingText} error={error && !error.more ? error.error : null} onRetry={reload} />
  }
  return (
    <>
      {rows.length === 0 ? empty : children(rows)}
      {error?.more ? (
        <ErrorAlert error={error.error}>
          <button type="button" onClick={loadMore}>
            Retry
          </button>
        </ErrorAlert>
      ) : (
        hasMore && (
          <button type="button" onClick={loadMore} disabled={loading}>
            {loading ? 'Loading…' : 'Load more'}
          </button>
        )
      )}
    </>
  )
}
