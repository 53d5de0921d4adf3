import { describe, expect, it } from 'vitest'
import { retryDelayMs, socketUrl } from './live'

describe('live updates', () => {
  it('subscribes on this origin, over wss when the page is https', () => {
    expect(socketUrl({ protocol: 'http:', host: 'localhost:8080' })).toBe('ws://localhost:8080/graphql/ws')
    expect(socketUrl({ protocol: 'https:', host: 'keyward.example.com' })).toBe('wss://keyward.example.com/graphql/ws')
  })

  it('waits longer after each failed connection, at most 30 s', () => {
    expect(retryDelayMs(0, 0)).toBe(1000)
    expect(retryDelayMs(3, 0)).toBe(8000)
    expect(retryDelayMs(10, 0)).toBe(30_000)
    expect(retryDelayMs(10, 0.999)).toBeLessThan(30_500)
  })
})
