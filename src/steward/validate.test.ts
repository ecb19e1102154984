import { test } from 'node:test'
import assert from 'node:assert/strict'
import { exponential } from '../policy/backoff.js'
import { OptionRangeError, OptionTypeError, type OptionSite } from './errors.js'
import { resolveOptions } from './options.js'
import { steward } from './steward.js'
import { editDistance, resolveStewardOptions, suggestKey } from './validate.js'
import { resolveChildSpec, resolveSupervisorOptions, type ChildSpecToCheck } from '../tree/validate.js'

const ward = async (): Promise<void> => {}
const none: ReadonlySet<string> = new Set()

interface Expected {
  readonly type: typeof OptionTypeError | typeof OptionRangeError
  readonly option: string
  readonly child?: string
  readonly where: OptionSite
  readonly message: RegExp
}

/** Asserts that `fn` throws the option error described, every field of it. */
function throwsOption(fn: () => unknown, expected: Expected): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof expected.type, `${String(error)} is not an ${expected.type.name}`)
    assert.ok(error instanceof (expected.type === OptionTypeError ? TypeError : RangeError))
    assert.equal(error.name, expected.type.name)
    assert.equal(error.code, 'ERR_STEWARD_OPTION')
    assert.equal(error.option, expected.option)
    assert.equal(error.child, expected.child)
    assert.equal(error.where, expected.where)
    assert.match(error.message, expected.message)
    return true
  })
}

const stewardOf = (options: object) => (): unknown => resolveStewardOptions(ward, options, 'w')
const supervisorOf = (options: object) => (): unknown => resolveSupervisorOptions(options)
const childOf = (options: object) => (): unknown => resolveChildSpec({ name: 'reader', ward, ...options }, none, 'tree')

test('suggestKey: the same key but for case, or the closest within 2 edits (1 for short keys), a swap counting 1', () => {
  const known = ['name', 'timeout', 'maxRestarts', 'within', 'strategy']
  assert.equal(suggestKey('maxrestarts', known), 'maxRestarts')
  assert.equal(suggestKey('MAXRESTARTS', known), 'maxRestarts')
  assert.equal(suggestKey('ondeadlettr', ['onDeadLetter']), 'onDeadLetter') // case ignored, then one edit
  assert.equal(suggestKey('timout', known), 'timeout')
  assert.equal(suggestKey('tiemout', known), 'timeout') // a swap is one edit
  assert.equal(suggestKey('timeoutt', known), 'timeout')
  assert.equal(suggestKey('tmout', known), 'timeout') // two edits
  assert.equal(suggestKey('tmot', known), undefined) // a short key: one edit at most
  assert.equal(suggestKey('nme', known), 'name')
  assert.equal(suggestKey('nm', known), undefined)
  assert.equal(suggestKey('colour', known), undefined)
  assert.equal(suggestKey('stratgy', known), 'strategy')
  assert.equal(editDistance('ab', 'ba'), 1)
  assert.equal(editDistance('kitten', 'sitting'), 3)
  assert.equal(editDistance('', 'abc'), 3)
  assert.equal(editDistance('ca', 'abc'), 3) // optimal string alignment: no edit of a swapped pair
  assert.equal(editDistance('timeout', 'timeout'), 0)
})

test("a steward's start() options: each bad one is an OptionTypeError or OptionRangeError naming it, where 'start'", () => {
  const start = (options: unknown) => (): unknown => steward(ward).start(options as never)
  throwsOption(start(null), { type: OptionTypeError, option: 'options', where: 'start', message: /^start: options must be an object, got null$/ })
  throwsOption(start({ signal: 'stop' }), { type: OptionTypeError, option: 'signal', where: 'start', message: /^start: option 'signal' must be an AbortSignal/ })
  throwsOption(start({ clock: {} }), { type: OptionTypeError, option: 'clock', where: 'start', message: /^start: option 'clock' must be a Clock/ })
  throwsOption(start({ failuresHere: -1 }), { type: OptionRangeError, option: 'failuresHere', where: 'start', message: /^start: option 'failuresHere' must be a whole number >= 0, got number -1$/ })
  throwsOption(start({ failuresHere: 1.5 }), { type: OptionRangeError, option: 'failuresHere', where: 'start', message: /failuresHere/ })
  throwsOption(start({ onEvent: 'log' }), { type: OptionTypeError, option: 'onEvent', where: 'start', message: /^start: option 'onEvent' must be a function/ })
})

test('unknown keys are refused with the closest known key: steward, start, supervisor, decay, child', () => {
  throwsOption(stewardOf({ timout: 5 }), {
    type: OptionTypeError,
    option: 'timout',
    where: 'steward',
    message: /^steward: unknown option 'timout'; did you mean 'timeout'\? known options: name, timeout, startTimeout, pulseInterval, /,
  })
  throwsOption(stewardOf({ maxrestarts: 5 }), {
    type: OptionTypeError,
    option: 'maxrestarts',
    where: 'steward',
    message: /unknown option 'maxrestarts'; did you mean 'maxRestarts'\?/,
  })
  throwsOption(stewardOf({ colour: 'red' }), {
    type: OptionTypeError,
    option: 'colour',
    where: 'steward',
    message: /^steward: unknown option 'colour'; known options: name, /,
  })
  throwsOption(() => steward(ward, { shouldRestrat: () => true } as never), {
    type: OptionTypeError,
    option: 'shouldRestrat',
    where: 'steward',
    message: /did you mean 'shouldRestart'\?/,
  })
  throwsOption(() => steward(ward).start({ sigal: 1 } as never), {
    type: OptionTypeError,
    option: 'sigal',
    where: 'start',
    message: /^start: unknown option 'sigal'; did you mean 'signal'\? known options: signal, clock, resume, failuresHere, onEvent$/,
  })
  throwsOption(supervisorOf({ stratgy: 'one-for-all' }), {
    type: OptionTypeError,
    option: 'stratgy',
    where: 'supervisor',
    message: /^supervisor: unknown option 'stratgy'; did you mean 'strategy'\? known options: name, strategy, .*startOrder$/,
  })
  throwsOption(supervisorOf({ decay: { threshold: 2, halfLif: '1s' } }), {
    type: OptionTypeError,
    option: 'decay.halfLif',
    where: 'supervisor',
    message: /^supervisor: unknown option 'decay.halfLif'; did you mean 'decay.halfLife'\? known options: decay.threshold, decay.halfLife$/,
  })
  throwsOption(childOf({ timout: 5 }), {
    type: OptionTypeError,
    option: 'timout',
    child: 'reader',
    where: 'supervisor',
    message: /^supervisor 'tree': child 'reader': unknown option 'timout'; did you mean 'timeout'\? known options: name, ward, restart, timeout, /,
  })
  throwsOption(childOf({ Restart: 'temporary' }), {
    type: OptionTypeError,
    option: 'Restart',
    child: 'reader',
    where: 'supervisor',
    message: /child 'reader': unknown option 'Restart'; did you mean 'restart'\?/,
  })
})

test('wrong types are OptionTypeErrors naming the option (and the child)', () => {
  const cases: Array<[() => unknown, string, string | undefined, OptionSite, RegExp]> = [
    [() => resolveStewardOptions(ward, 'fast' as never, 'w'), 'options', undefined, 'steward', /^steward: options must be an object, got "fast"$/],
    [stewardOf({ onEvent: 'log' }), 'onEvent', undefined, 'steward', /^steward: option 'onEvent' must be a function, got "log"$/],
    [stewardOf({ onDeadLetter: 1 }), 'onDeadLetter', undefined, 'steward', /option 'onDeadLetter' must be a function/],
    [stewardOf({ timeout: 'soon' }), 'timeout', undefined, 'steward', /^steward: option 'timeout': "soon" is not a duration/],
    [stewardOf({ maxRestarts: '3' }), 'maxRestarts', undefined, 'steward', /option 'maxRestarts' must be a non-negative integer or Infinity, got "3"/],
    [stewardOf({ poisonAfter: '3' }), 'poisonAfter', undefined, 'steward', /option 'poisonAfter' must be a positive integer or Infinity, got "3"/],
    [stewardOf({ restart: 1 }), 'restart', undefined, 'steward', /option 'restart' must be one of 'transient', 'permanent', 'temporary', got number 1/],
    [stewardOf({ backoff: {} }), 'backoff', undefined, 'steward', /option 'backoff' must be a backoff policy/],
    [stewardOf({ name: '' }), 'name', undefined, 'steward', /^steward: option 'name' must be a non-empty string, got ""$/],
    [supervisorOf({ strategy: 1 }), 'strategy', undefined, 'supervisor', /^supervisor: option 'strategy' must be one of 'one-for-one', 'one-for-all', 'rest-for-one', 'independent', got number 1$/],
    [supervisorOf({ decay: 5 }), 'decay', undefined, 'supervisor', /^supervisor: option 'decay' must be an object \{ threshold, halfLife \}, got number 5$/],
    [supervisorOf({ decay: { threshold: '2', halfLife: '1s' } }), 'decay.threshold', undefined, 'supervisor', /option 'decay.threshold' must be a positive number/],
    [supervisorOf({ decay: { threshold: 2 } }), 'decay.halfLife', undefined, 'supervisor', /option 'decay.halfLife': expected a duration/],
    [supervisorOf({ decay: { threshold: 2, halfLife: '1s' }, within: '1m' }), 'decay', undefined, 'supervisor', /^supervisor: option 'decay' replaces 'maxRestarts' and 'within'/],
    [supervisorOf({ backoff: () => 1 }), 'backoff', undefined, 'supervisor', /^supervisor: option 'backoff' must be a backoff policy/],
    [supervisorOf({ onEvent: true }), 'onEvent', undefined, 'supervisor', /^supervisor: option 'onEvent' must be a function/],
    [supervisorOf({ name: 7 }), 'name', undefined, 'supervisor', /^supervisor: option 'name' must be a non-empty string/],
    [childOf({ timeout: 'soon' }), 'timeout', 'reader', 'supervisor', /^supervisor 'tree': child 'reader': option 'timeout': "soon" is not a duration/],
    [childOf({ onDeadLetter: 'drop' }), 'onDeadLetter', 'reader', 'supervisor', /^supervisor 'tree': child 'reader': option 'onDeadLetter' must be a function/],
    [childOf({ ward: 'no' }), 'ward', 'reader', 'supervisor', /^supervisor 'tree': child 'reader': option 'ward' must be a function, got "no"$/],
    [childOf({ restart: true }), 'restart', 'reader', 'supervisor', /child 'reader': option 'restart' must be one of 'permanent', 'transient', 'temporary'/],
    [childOf({ name: '' }), 'name', undefined, 'supervisor', /^supervisor 'tree': option 'name' must be a non-empty string, got ""$/],
    [() => resolveChildSpec(null as never, none, 'tree'), 'child', undefined, 'supervisor', /^supervisor 'tree': a child must be an object, got null$/],
  ]
  for (const [fn, option, child, where, message] of cases) {
    throwsOption(fn, { type: OptionTypeError, option, ...(child === undefined ? {} : { child }), where, message })
  }
})

test('out-of-range values are OptionRangeErrors naming the option (and the child)', () => {
  const cases: Array<[() => unknown, string, string | undefined, OptionSite, RegExp]> = [
    [stewardOf({ timeout: -1 }), 'timeout', undefined, 'steward', /^steward: option 'timeout': must not be negative/],
    [stewardOf({ timeout: 0 }), 'timeout', undefined, 'steward', /option 'timeout': must be greater than zero/],
    [stewardOf({ timeout: 1_000, pulseInterval: 1_000 }), 'pulseInterval', undefined, 'steward', /^steward: option 'pulseInterval' must be below 'timeout' \(1000 ms\), got 1000 ms$/],
    [stewardOf({ restart: 'sometimes' }), 'restart', undefined, 'steward', /option 'restart' must be one of 'transient', 'permanent', 'temporary', got "sometimes"/],
    [stewardOf({ maxRestarts: -1 }), 'maxRestarts', undefined, 'steward', /option 'maxRestarts' must be a non-negative integer or Infinity, got number -1/],
    [stewardOf({ maxRestarts: 1.5 }), 'maxRestarts', undefined, 'steward', /option 'maxRestarts'/],
    [stewardOf({ within: 0 }), 'within', undefined, 'steward', /option 'within': must be greater than zero/],
    [stewardOf({ stopTimeout: -5 }), 'stopTimeout', undefined, 'steward', /option 'stopTimeout': must not be negative/],
    [stewardOf({ progressTimeout: 0 }), 'progressTimeout', undefined, 'steward', /option 'progressTimeout': must be greater than zero/],
    [stewardOf({ idleTimeout: -1 }), 'idleTimeout', undefined, 'steward', /option 'idleTimeout': must not be negative/],
    [stewardOf({ poisonAfter: 0 }), 'poisonAfter', undefined, 'steward', /option 'poisonAfter' must be a positive integer or Infinity, got number 0/],
    [supervisorOf({ strategy: 'all-for-one' }), 'strategy', undefined, 'supervisor', /option 'strategy' must be one of/],
    [supervisorOf({ maxRestarts: -1 }), 'maxRestarts', undefined, 'supervisor', /^supervisor: option 'maxRestarts' must be a non-negative integer/],
    [supervisorOf({ within: 0 }), 'within', undefined, 'supervisor', /^supervisor: option 'within': must be greater than zero/],
    [supervisorOf({ decay: { threshold: 0, halfLife: '1s' } }), 'decay.threshold', undefined, 'supervisor', /option 'decay.threshold' must be a positive number, got number 0/],
    [supervisorOf({ decay: { threshold: 2, halfLife: 0 } }), 'decay.halfLife', undefined, 'supervisor', /option 'decay.halfLife': must be greater than zero/],
    [childOf({ timeout: 0 }), 'timeout', 'reader', 'supervisor', /^supervisor 'tree': child 'reader': option 'timeout': must be greater than zero$/],
    [childOf({ timeout: '1s', pulseInterval: '2s' }), 'pulseInterval', 'reader', 'supervisor', /^supervisor 'tree': child 'reader': option 'pulseInterval' must be below 'timeout' \(1000 ms\), got 2000 ms$/],
    [childOf({ stopTimeout: -1 }), 'stopTimeout', 'reader', 'supervisor', /child 'reader': option 'stopTimeout': must not be negative/],
    [childOf({ progressTimeout: 0 }), 'progressTimeout', 'reader', 'supervisor', /child 'reader': option 'progressTimeout'/],
    [childOf({ idleTimeout: 0 }), 'idleTimeout', 'reader', 'supervisor', /child 'reader': option 'idleTimeout'/],
    [childOf({ poisonAfter: 0.5 }), 'poisonAfter', 'reader', 'supervisor', /child 'reader': option 'poisonAfter' must be a positive integer/],
    [childOf({ restart: 'always' }), 'restart', 'reader', 'supervisor', /child 'reader': option 'restart' must be one of 'permanent', 'transient', 'temporary', got "always"/],
    [() => resolveChildSpec({ name: 'reader', ward }, new Set(['writer', 'reader']), 'tree'), 'name', 'reader', 'supervisor', /^supervisor 'tree': option 'name' must be unique among the children, got 'reader' twice$/],
  ]
  for (const [fn, option, child, where, message] of cases) {
    throwsOption(fn, { type: OptionRangeError, option, ...(child === undefined ? {} : { child }), where, message })
  }
})

test("a child's restart options and onEvent are refused, naming the child, the option and where to give them", () => {
  const restarts = /its supervisor decides restarts \(give maxRestarts\/within\/backoff to supervisor\(\)\)$/
  const cases: Array<[object, string, RegExp]> = [
    [{ maxRestarts: 3 }, 'maxRestarts', restarts],
    [{ within: '1m' }, 'within', restarts],
    [{ backoff: exponential() }, 'backoff', restarts],
    [{ onEvent: () => {} }, 'onEvent', /its events go to its supervisor's listeners \(give onEvent to supervisor\(\) or to start\(\)\)$/],
  ]
  for (const [options, option, reason] of cases) {
    throwsOption(childOf(options), {
      type: OptionTypeError,
      option,
      child: 'reader',
      where: 'supervisor',
      message: new RegExp(`^supervisor 'tree': child 'reader': option '${option}' does not apply to a child: ${reason.source}`),
    })
  }
  // Refused even when undefined: the key says the author expected it to do something.
  throwsOption(childOf({ maxRestarts: undefined }), { type: OptionTypeError, option: 'maxRestarts', child: 'reader', where: 'supervisor', message: /does not apply to a child/ })
  // The supervisor's name defaults to 'supervisor'.
  assert.throws(() => resolveChildSpec({ name: 'reader', ward, within: 1 } as ChildSpecToCheck, none), /^OptionTypeError: supervisor 'supervisor': child 'reader': option 'within'/)
})

test('startTimeout: the resolved timeout by default, or a finite duration above zero', () => {
  assert.equal(resolveStewardOptions(ward, undefined, 'w').startTimeout, 10_000)
  assert.equal(resolveStewardOptions(ward, { timeout: '2s' }, 'w').startTimeout, 2_000)
  assert.equal(resolveStewardOptions(ward, { timeout: '2s', startTimeout: '30s' }, 'w').startTimeout, 30_000)
  assert.equal(resolveStewardOptions(ward, { timeout: '2s', startTimeout: 500 }, 'w').startTimeout, 500)
  assert.equal(resolveStewardOptions(ward, { timeout: '2s', startTimeout: '30s' }, 'w').timeout, 2_000)
  const child = (options: object): number => resolveChildSpec({ name: 'c', ward, ...options }, none).options.startTimeout
  assert.equal(child({}), 10_000)
  assert.equal(child({ timeout: '3s' }), 3_000)
  assert.equal(child({ timeout: '3s', startTimeout: '1m' }), 60_000)
  for (const [bad, type, message] of [
    [0, OptionRangeError, /^steward: option 'startTimeout': must be greater than zero$/],
    [-1, OptionRangeError, /^steward: option 'startTimeout': must not be negative/],
    [Infinity, OptionRangeError, /^steward: option 'startTimeout': must be finite/],
    ['soon', OptionTypeError, /^steward: option 'startTimeout': "soon" is not a duration/],
  ] as const) {
    throwsOption(stewardOf({ startTimeout: bad }), { type, option: 'startTimeout', where: 'steward', message })
  }
  throwsOption(childOf({ startTimeout: 0 }), {
    type: OptionRangeError,
    option: 'startTimeout',
    child: 'reader',
    where: 'supervisor',
    message: /^supervisor 'tree': child 'reader': option 'startTimeout': must be greater than zero$/,
  })
})

test('shouldRestart: kept as given, and must be a function', () => {
  const shouldRestart = (): boolean => false
  assert.equal(resolveStewardOptions(ward, {}, 'w').shouldRestart, undefined)
  assert.equal(resolveStewardOptions(ward, { shouldRestart }, 'w').shouldRestart, shouldRestart)
  assert.equal(resolveChildSpec({ name: 'c', ward, shouldRestart }, none).options.shouldRestart, shouldRestart)
  assert.equal(resolveChildSpec({ name: 'c', ward }, none).options.shouldRestart, undefined)
  throwsOption(stewardOf({ shouldRestart: true }), {
    type: OptionTypeError,
    option: 'shouldRestart',
    where: 'steward',
    message: /^steward: option 'shouldRestart' must be a function, got boolean true$/,
  })
  throwsOption(childOf({ shouldRestart: 'no' }), {
    type: OptionTypeError,
    option: 'shouldRestart',
    child: 'reader',
    where: 'supervisor',
    message: /^supervisor 'tree': child 'reader': option 'shouldRestart' must be a function, got "no"$/,
  })
})

test("startOrder: 'started' by default, or 'ready'", () => {
  assert.equal(resolveSupervisorOptions(undefined).startOrder, 'started')
  assert.equal(resolveSupervisorOptions({ startOrder: 'started' }).startOrder, 'started')
  assert.equal(resolveSupervisorOptions({ startOrder: 'ready' }).startOrder, 'ready')
  throwsOption(supervisorOf({ startOrder: 'eventually' }), {
    type: OptionRangeError,
    option: 'startOrder',
    where: 'supervisor',
    message: /^supervisor: option 'startOrder' must be one of 'started', 'ready', got "eventually"$/,
  })
  throwsOption(supervisorOf({ startOrder: 1 }), { type: OptionTypeError, option: 'startOrder', where: 'supervisor', message: /option 'startOrder' must be one of/ })
})

test('the resolved shapes: defaults filled, durations in ms', () => {
  assert.equal(resolveOptions, resolveStewardOptions)
  const onEvent = (): void => {}
  assert.deepEqual(resolveStewardOptions(ward, {}, 'w'), {
    ward,
    name: 'w',
    timeout: 10_000,
    startTimeout: 10_000,
    pulseInterval: 5_000,
    stopTimeout: 5_000,
    progressTimeout: Infinity,
    idleTimeout: Infinity,
    poisonAfter: Infinity,
    onDeadLetter: undefined,
    shouldRestart: undefined,
    restart: 'transient',
    maxRestarts: 5,
    within: 60_000,
    backoff: undefined,
    onEvent: undefined,
    policy: { intensity: { maxRestarts: 5, within: 60_000 }, backoff: undefined },
  })
  assert.deepEqual(resolveSupervisorOptions(undefined), {
    name: 'supervisor',
    strategy: 'one-for-one',
    intensity: { maxRestarts: 3, within: 5_000 },
    backoff: undefined,
    onEvent: undefined,
    startOrder: 'started',
  })
  assert.deepEqual(resolveSupervisorOptions({ name: 'tree', strategy: 'rest-for-one', decay: { threshold: 5, halfLife: '30s' }, onEvent }), {
    name: 'tree',
    strategy: 'rest-for-one',
    intensity: { threshold: 5, halfLife: 30_000 },
    backoff: undefined,
    onEvent,
    startOrder: 'started',
  })
  assert.deepEqual(resolveSupervisorOptions({ maxRestarts: Infinity, within: Infinity }).intensity, { maxRestarts: Infinity, within: Infinity })
  const onDeadLetter = (): void => {}
  assert.deepEqual(resolveChildSpec({ name: 'reader', ward, timeout: '4s', poisonAfter: 2, onDeadLetter }, new Set(['writer'])), {
    name: 'reader',
    ward,
    restart: 'permanent',
    options: {
      ward,
      name: 'reader',
      timeout: 4_000,
      startTimeout: 4_000,
      pulseInterval: 2_000,
      stopTimeout: 5_000,
      progressTimeout: Infinity,
      idleTimeout: Infinity,
      poisonAfter: 2,
      onDeadLetter,
      shouldRestart: undefined,
      // The child's run has its restart type; each restart is its supervisor's decision.
      restart: 'permanent',
      maxRestarts: Infinity,
      within: Infinity,
      backoff: undefined,
      onEvent: undefined,
      policy: { intensity: { maxRestarts: Infinity, within: Infinity }, backoff: undefined },
    },
  })
  assert.equal(resolveChildSpec({ name: 'r', ward, restart: 'transient' }, none).restart, 'transient')
  assert.equal(resolveChildSpec({ name: 'r', ward, restart: 'transient' }, none).options.restart, 'transient')
  assert.equal(resolveChildSpec({ name: 'r', ward, restart: 'temporary' }, none).options.restart, 'temporary')
})

test('one validation, structured: each option error carries its problem, suggestion and known keys, and the library and a config file render the same problem', async () => {
  const { optionMessage, OptionTypeError, OptionRangeError } = await import('./errors.js')
  const { processWard } = await import('../isolation/process-ward.js')
  const { threadWard } = await import('../isolation/thread-ward.js')
  const { buildConfig } = await import('../cli/config.js')
  const caught = (build: () => unknown): InstanceType<typeof OptionTypeError> | InstanceType<typeof OptionRangeError> => {
    try {
      build()
    } catch (error) {
      if (error instanceof OptionTypeError || error instanceof OptionRangeError) return error
      throw error
    }
    throw new Error('no error')
  }
  const rows = [
    { error: caught(() => resolveStewardOptions(async () => {}, { timout: 5 } as never, 'w')), option: 'timout', where: 'steward', problem: 'is not a known option', suggestion: 'timeout' },
    { error: caught(() => resolveStewardOptions(async () => {}, { maxRestarts: -1 }, 'w')), option: 'maxRestarts', where: 'steward', problem: 'must be a non-negative integer or Infinity, got number -1', suggestion: undefined },
    { error: caught(() => resolveStewardOptions(async () => {}, { timeout: -5 }, 'w')), option: 'timeout', where: 'steward', problem: 'must not be negative, got -5', suggestion: undefined },
    { error: caught(() => processWard('sh', [], { killAftr: 5 } as never)), option: 'killAftr', where: 'processWard', problem: 'is not a known option', suggestion: 'killAfter' },
    { error: caught(() => processWard('sh', [], { stream: 'yes' } as never)), option: 'stream', where: 'processWard', problem: 'must be a boolean, got "yes"', suggestion: undefined },
    { error: caught(() => threadWard('/x.js', { terminateAfter: 'soon' } as never)), option: 'terminateAfter', where: 'threadWard', problem: `"soon" is not a duration; use milliseconds or a string like '500ms', '4s', '1m', '2h'`, suggestion: undefined },
  ]
  for (const row of rows) {
    assert.deepEqual(
      { option: row.error.option, where: row.error.where, problem: row.error.problem, suggestion: row.error.suggestion },
      { option: row.option, where: row.where, problem: row.problem, suggestion: row.suggestion },
      row.error.message,
    )
    assert.ok(row.error.message.endsWith(optionMessage(row.error, 'option')), row.error.message)
  }
  assert.equal(rows[0]!.error.message, `steward: unknown option 'timout'; did you mean 'timeout'? known options: ${rows[0]!.error.known!.join(', ')}`)
  assert.equal(rows[2]!.error.message, "steward: option 'timeout': must not be negative, got -5")
  // A config file renders the same problems with its own word, and names the child.
  assert.throws(() => buildConfig({ children: [{ name: 'a', command: 'sh', timeout: -5 }] }, '/tmp/steward.config.json'), {
    message: "steward.config.json: child 'a': key 'timeout': must not be negative, got -5",
  })
  assert.throws(() => buildConfig({ children: [{ name: 'a', command: 'sh', maxLineLength: 2 }] }, '/tmp/steward.config.json'), {
    message: "steward.config.json: child 'a': key 'maxLineLength' must be at least 4 bytes (one UTF-8 character), got 2",
  })
})
