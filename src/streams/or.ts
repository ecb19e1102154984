/** The signal {@link or} returns: aborts with the first input's reason; `dispose()` detaches it early. */
export interface OrSignal extends AbortSignal, Disposable {
  /**
   * Removes the listeners this signal put on its inputs. Call it (or use
   * `using`) when the combined signal is no longer needed but no input
   * aborted, so a long-lived input does not keep one listener per call.
   * The signal itself stays as it is. Idempotent.
   */
  dispose(): void
}

// When an OrSignal is garbage-collected without dispose(), drop its listeners.
const orphans = new FinalizationRegistry<() => void>((detach) => detach())
// Each output's controller, alive exactly as long as the output is: a signal does not hold its
// controller, and the inputs' listeners hold the output only weakly.
const controllers = new WeakMap<AbortSignal, AbortController>()

/**
 * The seed's or-channel: a signal that aborts as soon as any input aborts,
 * with that input's reason. Zero inputs: a signal that never aborts; an
 * input that is already aborted: a signal aborted with its reason.
 *
 * Leak-free: the listeners it adds are removed when it aborts, when it is
 * disposed, or (as a last resort) when it is garbage-collected. Unlike
 * `AbortSignal.any` on Node 20, a long-lived input does not keep state for
 * every signal ever derived from it.
 */
export function or(...signals: AbortSignal[]): OrSignal {
  for (const [index, signal] of signals.entries()) {
    if (!(signal instanceof AbortSignal)) throw new TypeError(`or: argument ${index} is not an AbortSignal`)
  }
  const controller = new AbortController()
  const output = controller.signal as OrSignal
  const aborted = signals.find((signal) => signal.aborted)
  if (aborted !== undefined) controller.abort(aborted.reason)

  // The listeners must not keep the output alive, or it could never be collected; they reach its
  // controller through it, so the controller lives as long as the output does (not less).
  controllers.set(output, controller)
  const target = new WeakRef(output)
  let attached = false
  const detach = (): void => {
    if (!attached) return
    attached = false
    for (const signal of signals) signal.removeEventListener('abort', onAbort)
  }
  const onAbort = function (this: AbortSignal): void {
    detach()
    orphans.unregister(token)
    const live = target.deref()
    if (live !== undefined) controllers.get(live)?.abort(this.reason)
  }
  const token = {}
  if (aborted === undefined && signals.length > 0) {
    attached = true
    for (const signal of signals) signal.addEventListener('abort', onAbort)
    orphans.register(output, detach, token)
  }
  const dispose = (): void => {
    detach()
    orphans.unregister(token)
  }
  Object.defineProperty(output, 'dispose', { value: dispose })
  Object.defineProperty(output, Symbol.dispose, { value: dispose })
  return output
}
