import { describe, expect, it } from 'vitest'
import { belongsTo, filterFromSearch, mergeUpdate, statusArgument } from './approvalList'

const row = (id: string, createdAt: string, status = 'PENDING') => ({ id, createdAt, status })
const rows = [row('c', '2026-11-30T12:03:00Z'), row('b', '2026-11-30T12:02:00Z'), row('a', '2026-11-30T12:01:00Z')]

describe('mergeUpdate', () => {
  it('replaces a request in place while it still belongs on the tab', () => {
    const merged = mergeUpdate(rows, { ...row('b', '2026-11-30T12:02:00Z'), note: 'new vote' } as ReturnType<typeof row>, 'pending')
    expect(merged.map((r) => r.id)).toEqual(['c', 'b', 'a'])
    expect(merged[1]).toHaveProperty('note', 'new vote')
  })

  it('drops a request from the pending tab once decided, and keeps it on the others', () => {
    const decided = row('b', '2026-11-30T12:02:00Z', 'APPROVED')
    expect(mergeUpdate(rows, decided, 'pending').map((r) => r.id)).toEqual(['c', 'a'])
    expect(mergeUpdate(rows, decided, 'all').map((r) => r.status)).toEqual(['PENDING', 'APPROVED', 'PENDING'])
  })

  it('adds a new request at its place by creation time', () => {
    expect(mergeUpdate(rows, row('d', '2026-11-30T12:04:00Z'), 'pending').map((r) => r.id)).toEqual(['d', 'c', 'b', 'a'])
    expect(mergeUpdate(rows, row('x', '2026-11-30T12:01:30Z'), 'pending').map((r) => r.id)).toEqual(['c', 'b', 'x', 'a'])
    expect(mergeUpdate(rows, row('z', '2026-11-30T11:00:00Z'), 'all').map((r) => r.id)).toEqual(['c', 'b', 'a', 'z'])
    expect(mergeUpdate([], row('d', '2026-11-30T12:04:00Z'), 'all').map((r) => r.id)).toEqual(['d'])
  })

  it('ignores a new request that does not belong on the tab', () => {
    expect(mergeUpdate(rows, row('d', '2026-11-30T12:04:00Z'), 'decided')).toEqual(rows)
  })
})

describe('tabs', () => {
  it('reads the tab from the address, pending by default', () => {
    expect(filterFromSearch('')).toBe('pending')
    expect(filterFromSearch('?status=decided')).toBe('decided')
    expect(filterFromSearch('?status=all')).toBe('all')
    expect(filterFromSearch('?status=<script>')).toBe('pending')
  })

  it('asks the server for pending requests only on the pending tab', () => {
    expect(statusArgument('pending')).toBe('PENDING')
    expect(statusArgument('decided')).toBeNull()
    expect(belongsTo('decided', 'EXPIRED')).toBe(true)
    expect(belongsTo('decided', 'PENDING')).toBe(false)
  })
})
