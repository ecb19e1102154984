// steward/http: the HTTP face of a run (health, readiness, metrics, status, events, dashboard).
export { stewardHttp } from './handler.js'
export type { Controllable, HttpHandler, HttpHandlerOptions } from './handler.js'
export { serveHttp } from './server.js'
export type { HttpServer, HttpServerOptions } from './server.js'
