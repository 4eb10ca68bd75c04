// The stylesheet's colours against WCAG: the keyboard focus indicator at 3:1 or
// more against every background a focused control sits on (1.4.11, non-text
// contrast), and the status words at 7:1 on their chips, as status/style.ts says.
import { describe, expect, it } from 'vitest'
import { STYLESHEET } from './style.ts'

/** WCAG relative luminance of #rgb or #rrggbb. */
function luminance(colour: string): number {
  const hex = colour.length === 4 ? colour.replace(/[0-9a-f]/gi, (d) => d + d) : colour
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
  }) as [number, number, number]
  return 0.2126 * r + 0.7152 * g + 0.0722 * b
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number]
  return (hi + 0.05) / (lo + 0.05)
}

const variable = (name: string): string => {
  const match = new RegExp(`--${name}:(#[0-9a-f]{6}|#[0-9a-f]{3})\\b`, 'i').exec(STYLESHEET)
  if (!match?.[1]) throw new Error(`no --${name} in the stylesheet`)
  return match[1]
}

describe('the stylesheet', () => {
  it('keyboard focus is an outline of at least 3:1 against the page and panel backgrounds', () => {
    const rule = /[^}]*:focus-visible[^{]*\{([^}]*)\}/.exec(STYLESHEET)?.[1] ?? ''
    const outline = /outline:(\d+)px solid (#[0-9a-f]{6}|#[0-9a-f]{3})\b/i.exec(rule)
    expect(outline, 'a solid focus outline with a hex colour').not.toBeNull()
    const [, width, colour] = outline as unknown as [string, string, string]
    expect(Number(width)).toBeGreaterThanOrEqual(2)
    for (const background of ['bg', 'panel']) {
      expect(
        contrast(colour, variable(background)),
        `${colour} on --${background}`,
      ).toBeGreaterThanOrEqual(3)
    }
  })

  it('each status word is at least 7:1 on its chip', () => {
    for (const status of ['pass', 'warn', 'fail', 'error', 'none']) {
      expect(contrast(variable(status), variable(`${status}-bg`)), status).toBeGreaterThanOrEqual(7)
    }
  })
})
