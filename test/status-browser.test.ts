// The status page in a real browser: Debian's chromium driven by playwright-core
// (never a downloaded browser), against `dq demo --serve` on the seeded demo
// database, with JavaScript off (the pages have none): sign in, the overview,
// filters, a check, "Run now" and its new result, sign out; then a phone-sized
// window. No console errors; screenshots go to test/artifacts/ (git-ignored).
// Outside CI a missing chromium skips this file with a message; under CI=true it fails.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSlackReceiver } from './support/slack-receiver.ts'

const CHROMIUM = process.env.DQ_CHROMIUM ?? '/usr/bin/chromium'
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url))
const TOKEN = 'browser-test-token-0123456789'

const hasChromium = existsSync(CHROMIUM)
if (!hasChromium && process.env.CI !== 'true') {
  console.warn(
    `test/status-browser.test.ts skipped: no chromium at ${CHROMIUM} (apt-get install -y chromium, or set DQ_CHROMIUM); under CI=true this fails`,
  )
}

it.runIf(process.env.CI === 'true')(
  'CI has chromium for the browser test (.ci/run installs it)',
  () => {
    expect(hasChromium, `no chromium at ${CHROMIUM}`).toBe(true)
  },
)

/** `dq demo --serve --port 0`: the demo's output, then the page's URL. */
async function startDemo(
  env: Record<string, string>,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['bin/dq.js', 'demo', '--serve', '--port', '0'], {
    cwd: ROOT,
    env: { ...process.env, ...env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`dq demo --serve did not start:\n${output}`)),
      90_000,
    )
    const read = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /The status page of the demo database: (http:\/\/127\.0\.0\.1:\d+)\//.exec(
        output,
      )
      if (match?.[1]) {
        clearTimeout(timer)
        resolve(match[1])
      }
    }
    child.stdout?.on('data', read)
    child.stderr?.on('data', read)
    child.once('exit', (code) => reject(new Error(`dq demo --serve exited ${code}:\n${output}`)))
  })
  expect(output).toContain(`Sign in with this token (DQ_API_TOKEN): ${TOKEN}`)
  return { url, child }
}

/** WCAG contrast of a computed colour (`rgb(r, g, b)`) against white. */
function contrastOnWhite(colour: string): number {
  const channels = /rgba?\((\d+), (\d+), (\d+)/.exec(colour)?.slice(1, 4)
  if (!channels) throw new Error(`not an rgb() colour: ${colour}`)
  const [r, g, b] = channels.map((c) => {
    const v = Number(c) / 255
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4
  }) as [number, number, number]
  return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)
}

/** Removes the first entry that `expected` accepts; whether there was one. */
function dropOnce(entries: string[], expected: (entry: string) => boolean): boolean {
  const at = entries.findIndex(expected)
  if (at >= 0) entries.splice(at, 1)
  return at >= 0
}

describe.runIf(hasChromium)('the status page in chromium', () => {
  let browser: Browser
  let demo: { url: string; child: ChildProcess }
  let slack: Awaited<ReturnType<typeof startSlackReceiver>>
  const problems: string[] = []

  /** Records console errors, page errors, failed requests and error answers: there must be none. */
  const watch = (page: Page) => {
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`)
    })
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
    // A request the next navigation cancels (the icon, say) is not a failure.
    page.on('requestfailed', (request) => {
      const reason = request.failure()?.errorText ?? ''
      if (reason !== 'net::ERR_ABORTED') problems.push(`request failed: ${request.url()} ${reason}`)
    })
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()}: ${response.url()}`)
    })
    return page
  }

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true })
    // The demo alerts a Slack stand-in, so the page has open incidents, as after a cron run.
    slack = await startSlackReceiver()
    demo = await startDemo({ DQ_API_TOKEN: TOKEN, SLACK_WEBHOOK_URL: slack.url })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    if (demo?.child.exitCode === null) {
      const exited = new Promise((resolve) => demo.child.once('exit', resolve))
      demo.child.kill('SIGINT')
      await exited
    }
    await slack?.close()
  })

  it('sign in, overview, filters, a check, Run now, sign out: with JavaScript off', async () => {
    const context = await browser.newContext({
      javaScriptEnabled: false,
      viewport: { width: 1280, height: 900 },
    })
    const page = watch(await context.newPage())

    // Signed out: the sign-in form. A wrong token first.
    await page.goto(`${demo.url}/`)
    expect(new URL(page.url()).pathname).toBe('/login')
    await page.getByLabel('API token').fill('not-the-token-0123456789')
    const refused = page.waitForResponse(
      (r) => r.url().endsWith('/login') && r.request().method() === 'POST',
    )
    await page.getByRole('button', { name: 'Sign in' }).click()
    expect((await refused).status()).toBe(401)
    await expect(page.getByRole('alert').textContent()).resolves.toContain('not the API token')
    // That 401, and nothing else, is expected: the answer itself, and chromium's console line
    // for it (a failed resource). Anything recorded before or beside it still fails the test.
    expect(dropOnce(problems, (p) => p === `401: ${demo.url}/login`)).toBe(true)
    dropOnce(problems, (p) => /^console: Failed to load resource: .*\b401\b/.test(p))

    await page.getByLabel('API token').fill(TOKEN)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(`${demo.url}/`)
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(
      'Data quality',
    )
    const checkRows = page.locator('table.checks tbody tr')
    expect(await checkRows.count()).toBe(26)
    const incidents = page.locator('section[aria-labelledby="incidents-heading"] tbody tr')
    expect(await incidents.count()).toBe(22)
    expect(await page.locator('svg.spark[role="img"]').count()).toBe(26)
    await page.screenshot({ path: `${ARTIFACTS}status-overview.png`, fullPage: true })
    // The README's picture (docs/status-page.png): the top of the overview.
    await page.screenshot({
      path: `${ARTIFACTS}status-readme.png`,
      clip: { x: 0, y: 0, width: 1280, height: 1500 },
      fullPage: true,
    })

    // Filters are links: status, then a tag on top of it, then an owner alone.
    const filters = page.getByRole('navigation', { name: 'Filters' })
    await filters.getByRole('link', { name: 'pass (4)' }).click()
    expect(new URL(page.url()).search).toBe('?status=pass')
    expect(await checkRows.count()).toBe(4)
    await filters.getByRole('link', { name: 'breezeway', exact: true }).click()
    expect(new URL(page.url()).search).toBe('?status=pass&tag=breezeway')
    await expect(checkRows.locator('a.name').allTextContents()).resolves.toEqual([
      'breezeway_task_tags_duplicates',
    ])
    await page.getByRole('link', { name: 'Clear filters' }).click()
    await filters.getByRole('link', { name: '@jobs-pipeline' }).click()
    expect((await checkRows.locator('a.name').allTextContents()).sort()).toEqual([
      'enriched_jobs_daily_volume',
      'jobs_raw_vs_enriched',
    ])

    // A check's page; run it now; the new result.
    await checkRows.getByRole('link', { name: 'jobs_raw_vs_enriched' }).click()
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toContain(
      'jobs_raw_vs_enriched',
    )
    const recent = page
      .locator('table', { has: page.locator('caption') })
      .last()
      .locator('tbody tr')
    expect(await recent.count()).toBe(1)
    await page.getByRole('button', { name: 'Run now' }).click()
    await page.waitForURL(/\/check\/jobs_raw_vs_enriched\?ran=[0-9a-f-]{36}$/)
    await expect(page.getByRole('status').first().textContent()).resolves.toContain(
      'Ran just now: ✕fail 118 lost rows (118 keys) of 409 raw',
    )
    expect(await recent.count()).toBe(2)
    await page.screenshot({ path: `${ARTIFACTS}status-check.png`, fullPage: true })

    await page.getByRole('link', { name: 'Coverage by workflow' }).click()
    // The two coverage_gap checks of the catalog, registry completeness, six generated.
    expect(await page.locator('main tbody tr').count()).toBe(9)

    // Sign out: the cookie is gone, and the pages ask to sign in again.
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.waitForURL(`${demo.url}/login?signed_out=1`)
    expect(await context.cookies()).toEqual([])
    await page.goto(`${demo.url}/`)
    expect(new URL(page.url()).pathname).toBe('/login')

    expect(problems).toEqual([])
    await context.close()
  })

  it('on a phone: nothing wider than the screen; the keyboard reaches the skip link first', async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
    })
    const page = watch(await context.newPage())
    await page.goto(`${demo.url}/login`)
    await page.getByLabel('API token').fill(TOKEN)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(`${demo.url}/`)
    for (const path of ['/', '/check/pwh_experience_key_stale', '/coverage']) {
      await page.goto(`${demo.url}${path}`)
      // Evaluated in the page (a string: this file is type-checked without the DOM's types).
      const widths = (await page.evaluate(
        '({ page: document.documentElement.scrollWidth, screen: window.innerWidth })',
      )) as { page: number; screen: number }
      expect(widths.page, path).toBeLessThanOrEqual(widths.screen)
    }
    await page.goto(`${demo.url}/`)
    await page.keyboard.press('Tab')
    await expect(page.evaluate('document.activeElement?.textContent')).resolves.toBe(
      'Skip to content',
    )
    await page.screenshot({ path: `${ARTIFACTS}status-phone.png`, fullPage: true })
    expect(problems).toEqual([])
    await context.close()
  })

  it('the keyboard alone: sign in, Tab to "Run now" and "Sign out", Enter on each; a visible focus ring', async () => {
    const context = await browser.newContext({
      javaScriptEnabled: false,
      viewport: { width: 1280, height: 900 },
    })
    const page = watch(await context.newPage())
    const focused = page.locator(':focus')
    /** Presses Tab until the focus is on `name` (its text, or a field's name); a bounded number of times. */
    const tabTo = async (name: string) => {
      const seen: string[] = []
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press('Tab')
        const label = (await focused.count())
          ? ((await focused.getAttribute('name')) ?? (await focused.textContent())?.trim() ?? '')
          : ''
        if (label === name) return
        seen.push(label)
      }
      throw new Error(`Tab never reached "${name}"; it went through: ${seen.join(' | ')}`)
    }

    await page.goto(`${demo.url}/login?next=${encodeURIComponent('/check/enrichment_runs_stuck')}`)
    await tabTo('token')
    await page.keyboard.type(TOKEN)
    await page.keyboard.press('Enter')
    await page.waitForURL(`${demo.url}/check/enrichment_runs_stuck`)

    await tabTo('Run now')
    // The focus ring: a solid outline of 2 px or more, at least 3:1 against the white page.
    // Read in the page (a string: this file is type-checked without the DOM's types).
    const ring = (await page.evaluate(
      '(() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth, s.outlineColor] })()',
    )) as [string, string, string]
    expect(ring[0]).toBe('solid')
    expect(Number.parseFloat(ring[1])).toBeGreaterThanOrEqual(2)
    expect(contrastOnWhite(ring[2]), ring[2]).toBeGreaterThanOrEqual(3)
    await page.keyboard.press('Enter')
    await page.waitForURL(/\/check\/enrichment_runs_stuck\?ran=[0-9a-f-]{36}$/)
    await expect(page.getByRole('status').first().textContent()).resolves.toContain('Ran just now')

    await tabTo('Sign out')
    await page.keyboard.press('Enter')
    await page.waitForURL(`${demo.url}/login?signed_out=1`)
    expect(await context.cookies()).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  })
})
