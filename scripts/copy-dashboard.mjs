// The build's one copy step: the dashboard (plain HTML, CSS and a module script, no build step of
// its own) goes from src/http/dashboard/ to dist/http/dashboard/, where the HTTP handler serves it.
import { cpSync } from 'node:fs'

cpSync('src/http/dashboard', 'dist/http/dashboard', { recursive: true })
