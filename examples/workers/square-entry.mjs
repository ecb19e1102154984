// The entry of examples/workers/square.ts for a worker thread: registers tsx's loader in this
// thread, then loads the TypeScript module. Needed on Node 20, whose worker threads do not get
// the loader of the main thread's `--import tsx`; harmless on Node 22 and 24, where they do.
import { register } from 'tsx/esm/api'

register()
const { default: square } = await import('./square.ts')
export default square
