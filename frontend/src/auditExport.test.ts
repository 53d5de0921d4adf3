import { describe, expect, it } from 'vitest'
import { auditExportFilename, auditSubsetHeader, SUBSET_NOTE } from './auditExport'

describe('auditSubsetHeader', () => {
  it('says the file is a subset, by which filter, and that its chain cannot be checked alone', () => {
    const line = auditSubsetHeader(
      { action: 'security_key.registered', actor: null, target: 'member:abc', from: null, to: undefined },
      { id: 'org-1', slug: 'acme' },
      3,
    )
    expect(line.endsWith('\n')).toBe(true)
    const header = JSON.parse(line)
    expect(header).toEqual({
      keyward_audit_export: {
        subset: true,
        filter: { action: 'security_key.registered', target: 'member:abc' },
        events: 3,
        note: SUBSET_NOTE,
        org_id: 'org-1',
        organization: 'acme',
      },
    })
    expect(header.seq, 'not mistaken for an event').toBeUndefined()
    expect(SUBSET_NOTE).toContain('cannot be checked on its own')
  })
})

describe('auditExportFilename', () => {
  it('marks a filtered export', () => {
    expect(auditExportFilename('acme', false)).toBe('keyward-audit-acme.jsonl')
    expect(auditExportFilename('acme', true)).toBe('keyward-audit-acme-subset.jsonl')
  })
})
