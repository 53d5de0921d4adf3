// Step-up, centrally: any mutation the server answers with STEP_UP_REQUIRED waits while the user touches
// their security key in the step-up dialog, then is sent again exactly as it was (same variables), so no
// form is filled in twice. Cancelling hands the original error back to whoever sent the mutation. It works
// at the fetch level, below urql, so every mutation of the app gets it without opting in.

/** What a STEP_UP_REQUIRED error asks for (its `extensions`). */
export interface StepUpRequest {
  action: string
  resource: string | null
  /** How old the last key check may be for this action. */
  maxAgeSeconds: number | null
  /** The policy's reason, when it gave one. */
  reason: string | null
}

/** Asks the user for a key touch; resolves to true once a step-up grant is held, false when they cancel. */
export type StepUpHandler = (request: StepUpRequest) => Promise<boolean>

let handler: StepUpHandler | null = null
// One dialog at a time: a second mutation needing a touch waits for the first to be settled.
let queue: Promise<unknown> = Promise.resolve()

/** Installs the function that shows the step-up dialog; returns the uninstaller. */
export function setStepUpHandler(next: StepUpHandler): () => void {
  handler = next
  return () => {
    if (handler === next) handler = null
  }
}

/** Queues `request` for the dialog; false when nothing can show it (e.g. the app is not logged in). */
export function requestStepUp(request: StepUpRequest): Promise<boolean> {
  const ask = () => (handler ? handler(request) : Promise.resolve(false))
  const answer = queue.then(ask, ask)
  queue = answer.catch(() => false)
  return answer
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null
}

/** The first STEP_UP_REQUIRED in a GraphQL response body, or null. */
export function stepUpRequirement(body: unknown): StepUpRequest | null {
  const errors = (body as { errors?: unknown } | null)?.errors
  if (!Array.isArray(errors)) return null
  for (const error of errors) {
    const extensions = (error as { extensions?: Record<string, unknown> } | null)?.extensions
    if (extensions?.code !== 'STEP_UP_REQUIRED') continue
    const action = text(extensions.action)
    if (!action) return null
    const maxAge = extensions.maxAgeSeconds
    return {
      action,
      resource: text(extensions.resource),
      maxAgeSeconds: typeof maxAge === 'number' ? maxAge : null,
      reason: text(extensions.reason),
    }
  }
  return null
}

/**
 * Operations never retried here: the step-up ceremony itself is exempt from step-up, and an approval's
 * assertion is good for one try only (its challenge is spent), so sending it again could never succeed.
 */
const CEREMONY_OPERATIONS = new Set(['StepUpBegin', 'StepUpFinish', 'ApprovalFinish', 'ApprovalReject'])

/** Whether a request body (urql's JSON) carries a mutation other than the step-up ceremony. */
export function isRetriableMutation(body: unknown): boolean {
  if (typeof body !== 'string') return false
  let request: { query?: unknown; operationName?: unknown }
  try {
    request = JSON.parse(body)
  } catch {
    return false
  }
  if (typeof request.query !== 'string') return false
  if (typeof request.operationName === 'string' && CEREMONY_OPERATIONS.has(request.operationName)) return false
  // The operation is the one definition that is not a fragment; fragments follow it in our documents.
  return /(?:^|\})\s*mutation\b/.test(request.query.replace(/#[^\n]*/g, ''))
}

async function requirementIn(response: Response): Promise<StepUpRequest | null> {
  if (!(response.headers.get('content-type') ?? '').includes('json')) return null
  try {
    return stepUpRequirement(await response.clone().json())
  } catch {
    return null
  }
}

/** A mutation asks for at most this many touches before its error is handed back as it is. */
const MAX_STEP_UPS = 2

/**
 * `fetch` for the GraphQL client: a mutation answered with STEP_UP_REQUIRED is held while the user touches
 * their key, then sent again with the same body; after a cancel the original answer is returned.
 */
export function fetchWithStepUp(fetcher: typeof fetch = (...args) => fetch(...args)): typeof fetch {
  return async (input, init) => {
    let response = await fetcher(input, init)
    if (!isRetriableMutation(init?.body)) return response
    for (let attempt = 0; attempt < MAX_STEP_UPS; attempt++) {
      const required = await requirementIn(response)
      if (!required || !(await requestStepUp(required))) return response
      response = await fetcher(input, init)
    }
    return response
  }
}
