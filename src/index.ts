// The public API of steward. Every name is listed; nothing is re-exported wholesale.

// Supervision
export { steward } from './steward/steward.js'
export type { Steward } from './steward/steward.js'
export type { StewardOptions, RestartType, RestartInfo, StartOrder } from './steward/options.js'
export type { Run, StartOptions, Outcome, StopReport, Lifecycle, EventOf } from './steward/run-api.js'
export { wardHost } from './steward/host.js'
export type { SpawnedInfo, WardHost } from './steward/host.js'
export type { Ward, WardContext } from './steward/ward.js'
export { Output } from './steward/output.js'
export type { DeadLetter } from './steward/output.js'
export { walk } from './steward/walk.js'
export type { WalkSource } from './steward/walk.js'

// Errors
export {
  GaveUpError,
  WardHungError,
  WardStalledError,
  WardIdleTimeoutError,
  NonErrorThrown,
  WardRetiredError,
  errorInfo,
} from './steward/errors.js'
export type { ErrorInfo, GiveUpReason } from './steward/errors.js'
// A ward that cannot be started (a command not found, a module that does not load): not restarted.
export { WardStartError, UnknownChildError, ChildNotUpError } from './steward/errors.js'
export type { StartTarget } from './steward/errors.js'
// Over a memory limit: a process ward's maxMemory, a thread ward's resourceLimits (restart reason 'memory').
export { MemoryLimitError } from './steward/errors.js'
export type { MemoryLimitDetails } from './steward/errors.js'
// A bad option of steward(), supervisor() (or a child's) or start(), thrown when it is given:
// OptionTypeError (a TypeError: wrong type, unknown key, not applicable) or OptionRangeError
// (a RangeError: out of range), both with code 'ERR_STEWARD_OPTION', option, child and where.
export { OptionTypeError, OptionRangeError } from './steward/errors.js'
export type { OptionError, OptionErrorDetails, OptionSite } from './steward/errors.js'

// Events and status
export type {
  StewardEvent,
  StewardEventType,
  EventBase,
  StartedEvent,
  SpawnedEvent,
  HungEvent,
  StalledEvent,
  IdleTimeoutEvent,
  FailedEvent,
  RestartingEvent,
  DecisionEvent,
  UnstoppedEvent,
  DeadLetterEvent,
  LineEvent,
  CompletedEvent,
  StoppedEvent,
  GaveUpEvent,
  BlockedEvent,
  RestartReason,
  EventListener,
  Subscription,
} from './observe/events.js'
export type { WardStatus, RunState } from './observe/status.js'
export type { ProbeFailure } from './observe/probe-failure.js'
// the node:diagnostics_channel every event is published on
export { eventChannelName } from './observe/channels.js'

// Supervision trees
export { supervisor } from './tree/supervisor.js'
export type { Supervisor, SupervisorOptions, SupervisorStartOptions, SupervisorRun, ChildSpec, ChildWaitOptions, Strategy } from './tree/supervisor.js'
export { initialIntensity, nextIntensity } from './policy/intensity.js'
export type { Intensity, IntensityState } from './policy/intensity.js'

// Isolation: wards in worker threads and child processes
export { threadWard } from './isolation/thread-ward.js'
export type { ThreadWardOptions } from './isolation/thread-ward.js'
export { processWard } from './isolation/process-ward.js'
export { stopOnSignals } from './isolation/stop-on-signals.js'
export type { StopOnSignalsOptions, SignalNote } from './isolation/stop-on-signals.js'
export type { ProcessWardOptions, ProcessHeartbeat } from './isolation/process-ward.js'
export type { ProbeHeartbeat } from './isolation/probes.js'
export type { Size, SizeUnit } from './isolation/size.js'

// Sentinels a ward can end with
export { DoNotRestart, TerminateTree } from './steward/sentinels.js'

// Restart policy
export { nextRestart, noRestarts } from './policy/restart-limit.js'
export { exponential, fixed, jittered, upTo, resetAfter } from './policy/backoff.js'
export type { Backoff, BackoffStep, ExponentialOptions, JitterOptions } from './policy/backoff.js'
export type { RestartLimit, RestartHistory, RestartDecision } from './policy/restart-limit.js'

// Time
export { systemClock } from './time/clock.js'
export type { Clock, Timer } from './time/clock.js'
export { ManualClock } from './time/manual-clock.js'
export type { RunUntilOptions } from './time/manual-clock.js'
export { toMs } from './time/duration.js'
export type { Duration, DurationUnit, DurationRules } from './time/duration.js'

// Stream primitives
export { or } from './streams/or.js'
export type { OrSignal } from './streams/or.js'
export { orDone, take } from './streams/or-done.js'
export { bridge } from './streams/bridge.js'

// The CLI's config file (`steward up`): typed by defineConfig()
export { defineConfig } from './config.js'
export type { StewardConfig, ChildConfig, ProcessChildConfig, ThreadChildConfig, ChildConfigOptions, LogsConfig, ProbeText } from './config.js'
