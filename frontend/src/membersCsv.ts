import type { Client, OperationResult } from '@urql/core'
import { describeError, unexpectedError, type UiError } from './errors'
import { MembersWithoutKeyExportDocument, type MembersWithoutKeyExportQuery } from './gql/graphql'

/** The most members the API returns at once. */
export const MEMBERS_EXPORT_PAGE = 100

/** One member as the CSV lists them. */
export interface CsvMember {
  username: string
  displayName: string
  email?: string | null
  createdAt: string
  lastLoginAt?: string | null
}

export const MEMBERS_CSV_HEADER = ['username', 'display name', 'e-mail', 'created', 'last login'] as const

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break. A cell a spreadsheet would
 * read as a formula (starting with = + - @, or a tab or carriage return) gets a leading apostrophe, so an
 * IdP display name like `=HYPERLINK(…)` stays text when the file is opened.
 */
export function csvCell(value: string | null | undefined): string {
  let text = value ?? ''
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/** The members as CSV with a header line, CRLF line ends (what spreadsheets expect). */
export function membersCsv(members: CsvMember[]): string {
  const lines = [MEMBERS_CSV_HEADER.join(',')]
  for (const m of members) {
    lines.push([m.username, m.displayName, m.email, m.createdAt, m.lastLoginAt].map(csvCell).join(','))
  }
  return lines.map((line) => `${line}\r\n`).join('')
}

/** How reading every member without a key ended. */
export type MembersReadOutcome =
  | { kind: 'done'; members: CsvMember[] }
  | { kind: 'failed'; error: UiError; read: number }
  | { kind: 'cancelled' }

type Row = MembersWithoutKeyExportQuery['organization']['members']['nodes'][number]

/** Reads every active member without a key, page by page; `onProgress` hears the count so far. */
export async function readMembersWithoutKey(
  client: Client,
  onProgress: (read: number) => void,
  signal: AbortSignal,
): Promise<MembersReadOutcome> {
  const members: CsvMember[] = []
  let after: string | null = null
  do {
    const result: OperationResult<MembersWithoutKeyExportQuery> = await client
      .query(MembersWithoutKeyExportDocument, { first: MEMBERS_EXPORT_PAGE, after }, { requestPolicy: 'network-only' })
      .toPromise()
    if (signal.aborted) return { kind: 'cancelled' }
    if (result.error || !result.data) {
      return { kind: 'failed', error: result.error ? describeError(result.error) : unexpectedError(), read: members.length }
    }
    const page = result.data.organization.members
    // Deactivated members cannot log in: they are not part of the rollout.
    members.push(...page.nodes.filter((row: Row) => !row.member.deactivatedAt).map((row: Row) => row.member))
    onProgress(members.length)
    after = page.pageInfo.hasNextPage ? (page.pageInfo.endCursor ?? null) : null
  } while (after)
  return { kind: 'done', members }
}
