// The child-process side of a process ward with heartbeat 'ipc', for Node children:
//   import { beat, output, resume, attempt } from 'steward/child'
// Every function is a no-op when the process was not started by a process ward.

/** Messages a child sends its steward over IPC. @internal */
export type ChildMessage =
  | { readonly steward: 'beat'; readonly progress?: unknown }
  | { readonly steward: 'output'; readonly value: unknown; readonly progress?: unknown }

function send(message: ChildMessage): void {
  if (typeof process.send === 'function' && process.connected) process.send(message)
}

/** A heartbeat, optionally with progress (structured-cloneable); the next process gets it as `resume`. */
export function beat(progress?: unknown): void {
  send(progress === undefined ? { steward: 'beat' } : { steward: 'beat', progress })
}

/**
 * An output for the process ward's stream (option `stream: true`), with the
 * progress its delivery commits, as `ctx.output` does in-process.
 */
export function output(value: unknown, progress?: unknown): void {
  send(progress === undefined ? { steward: 'output', value } : { steward: 'output', value, progress })
}

function fromEnvironment(name: string): unknown {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return undefined
  try {
    return JSON.parse(raw) as unknown
  } catch {
    return undefined
  }
}

/** The progress the previous process reported last (`STEWARD_RESUME`, JSON), or `undefined`. */
export const resume: unknown = fromEnvironment('STEWARD_RESUME')

/** This process's attempt number (`STEWARD_ATTEMPT`): 1 for the first. */
export const attempt: number = Number(process.env.STEWARD_ATTEMPT ?? 1)
