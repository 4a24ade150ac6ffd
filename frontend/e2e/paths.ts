// Where things are, for the global setup and the tests alike.
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const FRONTEND = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const REPO = path.resolve(FRONTEND, '..')
/** The project's Python (make setup creates .venv); E2E_PYTHON overrides it. */
export const PYTHON = process.env.E2E_PYTHON || path.join(REPO, '.venv', 'bin', 'python')
