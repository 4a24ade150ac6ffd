// Starts the real stack once for the whole run (scripts/e2e_stack.py) and stops it at the end.
//
// The launcher prints one JSON line once every process answers; it is handed to the tests in
// process.env.E2E_STACK (workers inherit it). Its output goes to test-results/e2e-stack.log,
// whose tail is shown when the stack does not start. The launcher also stops by itself when
// its standard input closes, so a test runner killed outright leaves nothing running.
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import type { FullConfig } from '@playwright/test'

import type { StackInfo } from './fixtures'
import { FRONTEND, PYTHON, REPO } from './paths'

const START_TIMEOUT_MS = 120_000
const STOP_TIMEOUT_MS = 30_000

/** The newest file under `target` (a file or a folder) and its modification time; none when missing. */
function newest(target: string): { file: string; mtime: number } {
  if (!existsSync(target)) return { file: target, mtime: 0 }
  const stat = statSync(target)
  if (!stat.isDirectory()) return { file: target, mtime: stat.mtimeMs }
  return readdirSync(target)
    .map((name) => newest(path.join(target, name)))
    .reduce((a, b) => (b.mtime > a.mtime ? b : a), { file: target, mtime: 0 })
}

/** Fail at once, with the fix, when the production bundle is missing or older than its sources. */
function checkBundle(): void {
  const built = path.join(FRONTEND, 'dist', 'index.html')
  if (!existsSync(built)) {
    throw new Error('frontend/dist/index.html is missing: run `npm run build` before the browser tests')
  }
  const source = ['src', 'public', 'index.html', 'vite.config.ts', 'package.json']
    .map((name) => newest(path.join(FRONTEND, name)))
    .reduce((a, b) => (b.mtime > a.mtime ? b : a))
  if (source.mtime > statSync(built).mtimeMs) {
    const name = path.relative(FRONTEND, source.file)
    throw new Error(`frontend/dist is older than ${name}: run \`npm run build\` before the browser tests`)
  }
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** Fail at once when the browser playwright.config.ts names is not installed. */
function checkBrowser(config: FullConfig): void {
  const executable = config.projects[0]?.use.launchOptions?.executablePath
  if (executable && !existsSync(executable)) {
    throw new Error(
      `${executable} not found: \`make test\` installs Debian's chromium (as root), or apt-get install chromium, or set CHROMIUM_PATH`,
    )
  }
}

export default async function globalSetup(config: FullConfig): Promise<() => Promise<void>> {
  checkBundle()
  checkBrowser(config)
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: run \`make setup\` at the repository root`)

  const outputDir = config.projects[0]?.outputDir ?? path.join(FRONTEND, 'test-results')
  mkdirSync(outputDir, { recursive: true })
  const logPath = path.join(outputDir, 'e2e-stack.log')
  const log = createWriteStream(logPath)
  const tail: string[] = []
  const errors: string[] = []

  const started = Date.now()
  const child = spawn(PYTHON, [path.join(REPO, 'scripts', 'e2e_stack.py'), '--stop-on-eof'], {
    cwd: REPO,
    env: { ...process.env, NO_COLOR: '1', PYTHONUNBUFFERED: '1' },
    stdio: ['pipe', 'pipe', 'pipe'], // stdin stays open: its end tells the launcher we are gone
  })
  const ready = new Promise<StackInfo>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the stack did not start within ${START_TIMEOUT_MS / 1000} s`)),
      START_TIMEOUT_MS,
    )
    const onLine = (line: string): void => {
      log.write(line + '\n')
      tail.push(line)
      if (/Traceback|\b(ERROR|CRITICAL)\b|exited unexpectedly/.test(line)) errors.push(line)
      if (tail.length > 80) tail.shift()
      if (!line.startsWith('{')) return
      try {
        const info = JSON.parse(line) as StackInfo
        if (info.ready) {
          clearTimeout(timer)
          resolve(info)
        }
      } catch {
        // a process's own output that merely starts with "{": not ours
      }
    }
    createInterface({ input: child.stdout! }).on('line', onLine)
    createInterface({ input: child.stderr! }).on('line', onLine)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`the stack exited before it was ready (${signal ?? `code ${code}`})`))
    })
  })

  const stop = async (): Promise<void> => {
    const stopping = Date.now()
    child.kill('SIGTERM')
    if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
      child.kill('SIGKILL')
      await waitForExit(child, 5_000)
    }
    log.end()
    console.log(`[e2e] stack stopped in ${((Date.now() - stopping) / 1000).toFixed(1)} s`)
    // A server-side error behind a failing test is easier to see here than in the log file.
    if (errors.length) {
      console.log(`[e2e] the stack logged ${errors.length} error line(s) (all in ${logPath}):`)
      for (const line of errors.slice(0, 30)) console.log(`    ${line}`)
    }
  }

  let info: StackInfo
  try {
    info = await ready
  } catch (error) {
    await stop()
    throw new Error(`${(error as Error).message}; last lines of ${logPath}:\n${tail.join('\n')}`)
  }
  console.log(`[e2e] stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${info.web_url}`)
  process.env.E2E_STACK = JSON.stringify(info)
  return stop
}
