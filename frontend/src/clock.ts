// One clock for every countdown on the page: a single timer, started while something shows the time.
import { useSyncExternalStore } from 'react'

let now = Date.now()
let timer: number | null = null
const watchers = new Set<() => void>()

function subscribe(onTick: () => void): () => void {
  watchers.add(onTick)
  if (timer === null) {
    now = Date.now()
    timer = window.setInterval(() => {
      now = Date.now()
      for (const watcher of watchers) watcher()
    }, 1000)
  }
  return () => {
    watchers.delete(onTick)
    if (watchers.size === 0 && timer !== null) {
      window.clearInterval(timer)
      timer = null
    }
  }
}

/** The current time in milliseconds, re-rendering every second. */
export function useNow(): number {
  return useSyncExternalStore(subscribe, () => now)
}
