import { describe, expect, it } from 'vitest'
import { csvCell, membersCsv } from './membersCsv'

describe('csvCell', () => {
  it('leaves plain text alone', () => {
    expect(csvCell('alice')).toBe('alice')
    expect(csvCell(null)).toBe('')
  })

  it('quotes commas, quotes and line breaks', () => {
    expect(csvCell('Member, Alice')).toBe('"Member, Alice"')
    expect(csvCell('Alice "Al" Member')).toBe('"Alice ""Al"" Member"')
    expect(csvCell('two\nlines')).toBe('"two\nlines"')
  })

  it('keeps formulas from running in a spreadsheet', () => {
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`)
    expect(csvCell('+1')).toBe("'+1")
    expect(csvCell('-2')).toBe("'-2")
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)")
    expect(csvCell('\tcmd')).toBe("'\tcmd")
    expect(csvCell('a=b')).toBe('a=b')
  })
})

describe('membersCsv', () => {
  it('writes a header and one line a member, with CRLF', () => {
    const csv = membersCsv([
      { username: 'bob', displayName: 'Bob, the builder', email: null, createdAt: '2026-01-02T03:04:05Z', lastLoginAt: null },
      { username: 'eve', displayName: '=cmd', email: 'eve@example.com', createdAt: '2026-02-03T00:00:00Z', lastLoginAt: '2026-02-04T00:00:00Z' },
    ])
    expect(csv).toBe(
      'username,display name,e-mail,created,last login\r\n' +
        'bob,"Bob, the builder",,2026-01-02T03:04:05Z,\r\n' +
        "eve,'=cmd,eve@example.com,2026-02-03T00:00:00Z,2026-02-04T00:00:00Z\r\n",
    )
  })
})
