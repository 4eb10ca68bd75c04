/**
 * The status page's whole stylesheet (a few KB, served at /status.css with a
 * version in its URL, so it is cached until it changes) and its icon. System
 * fonts, readable on a phone (tables turn into cards below 700 px), visible
 * keyboard focus (an outline of at least 3:1 on the page and its panels, WCAG
 * 1.4.11), text contrast of at least 7:1 on status colours (style.test.ts).
 */

export const STYLESHEET = `
:root{--ink:#1a1d21;--muted:#4a5058;--line:#d5d9de;--bg:#fff;--panel:#f5f7f9;--link:#0b57d0;
--pass:#14532d;--pass-bg:#dcfce7;--warn:#713f12;--warn-bg:#fef3c7;--fail:#7f1d1d;--fail-bg:#fee2e2;
--error:#581c87;--error-bg:#f3e8ff;--none:#374151;--none-bg:#e5e7eb;color-scheme:light}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
a{color:var(--link)}
a:focus-visible,button:focus-visible,input:focus-visible,main:focus-visible{outline:3px solid #b45309;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:var(--ink);color:#fff;padding:.5rem 1rem;z-index:1}
.skip:focus{left:.5rem}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.5rem;padding:.75rem 1rem;border-bottom:1px solid var(--line);background:var(--panel)}
.brand{font-weight:700;color:var(--ink);text-decoration:none}
.top nav ul{display:flex;gap:1rem;list-style:none;margin:0;padding:0}
.top nav a[aria-current=page]{font-weight:700;color:var(--ink);text-decoration-thickness:3px}
.who{margin:0 0 0 auto;color:var(--muted);font-size:.9rem}
main{max-width:72rem;margin:0 auto;padding:1rem}
footer{max-width:72rem;margin:2rem auto 1rem;padding:0 1rem;color:var(--muted);font-size:.85rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem;overflow-wrap:anywhere}
figure{margin:0}
h2{font-size:1.2rem;margin:2rem 0 .5rem}
button{font:inherit;padding:.45rem 1rem;border:1px solid var(--ink);border-radius:.4rem;background:var(--ink);color:#fff;cursor:pointer}
button.secondary{background:var(--bg);color:var(--ink)}
input[type=password],input[type=text]{font:inherit;padding:.5rem;border:1px solid var(--muted);border-radius:.4rem;width:100%;max-width:28rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
.hint,.muted{color:var(--muted);font-size:.9rem}
.notice{border:1px solid var(--line);border-left:6px solid var(--link);background:var(--panel);padding:.75rem 1rem;margin:1rem 0;border-radius:.3rem}
.notice.bad{border-left-color:var(--fail)}.notice.good{border-left-color:var(--pass)}
.badge{display:inline-flex;align-items:center;gap:.3rem;padding:.05rem .5rem;border-radius:1rem;font-weight:600;font-size:.85rem;white-space:nowrap}
.badge .icon{font-size:.8rem}
.pass{color:var(--pass);background:var(--pass-bg)}.warn{color:var(--warn);background:var(--warn-bg)}
.fail{color:var(--fail);background:var(--fail-bg)}.error{color:var(--error);background:var(--error-bg)}
.none{color:var(--none);background:var(--none-bg)}
.summary{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0 1rem;padding:0;list-style:none}
.panel{border:1px solid var(--line);border-radius:.4rem;padding:.75rem 1rem;background:var(--panel)}
.filters{display:grid;gap:.35rem;margin:1rem 0}
.filters ul{display:flex;flex-wrap:wrap;gap:.3rem .8rem;list-style:none;margin:0;padding:0}
.filters .label{font-weight:600;min-width:4rem;display:inline-block}
.filters a[aria-current=true]{font-weight:700;color:var(--ink);text-decoration-thickness:3px}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.95rem}
caption{text-align:left;color:var(--muted);padding:.25rem 0}
th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.85rem;color:var(--muted)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.when{white-space:nowrap}
.name{font-weight:600;word-break:break-word}
.tags{display:flex;flex-wrap:wrap;gap:.25rem;list-style:none;margin:0;padding:0}
.tags a{font-size:.8rem;background:var(--none-bg);color:var(--ink);padding:0 .4rem;border-radius:.3rem;text-decoration:none}
.tags a:hover,.tags a:focus-visible{text-decoration:underline}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}
dl.facts dt{font-weight:600;color:var(--muted)}dl.facts dd{margin:0}
pre{background:var(--panel);border:1px solid var(--line);padding:.75rem;overflow-x:auto;border-radius:.3rem;font-size:.85rem;white-space:pre-wrap;overflow-wrap:anywhere}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
.spark{display:block}
svg .line{fill:none;stroke:#1d4ed8;stroke-width:1.5}
svg circle.line{fill:#1d4ed8;stroke:none}
svg .last{stroke:#fff;stroke-width:1;fill:#1d4ed8}svg .last.fail,svg .last.error{fill:#b91c1c}
svg .threshold line{stroke-dasharray:4 3;stroke-width:1}
svg .threshold.fail line{stroke:#b91c1c}svg .threshold.warn line{stroke:#b45309}
svg .threshold text,svg .axis{font-size:11px;fill:var(--muted)}
svg .band{fill:#a5b4fc;fill-opacity:.45;stroke:none}
svg .range{stroke:#93c5fd;stroke-width:3}
svg .frame{fill:none;stroke:var(--line)}
svg .mark.pass{fill:#15803d}svg .mark.warn{fill:#b45309}svg .mark.fail{fill:#b91c1c}
svg .mark.error{stroke:#7e22ce;stroke-width:2;fill:none}
.chart{width:100%;height:auto;max-width:52rem}
.legend{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;padding:0;margin:.25rem 0;font-size:.85rem;color:var(--muted)}
@media (max-width:700px){
.cards thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.cards tr{display:block;border:1px solid var(--line);border-radius:.4rem;margin:.6rem 0;padding:.3rem .5rem}
.cards,.cards tbody,.cards caption{display:block;width:100%}
.cards td{display:block;position:relative;border:0;padding:.2rem 0 .2rem 7rem;min-height:1.8rem;overflow-wrap:anywhere}
.cards td::before{content:attr(data-label);position:absolute;left:0;top:.25rem;width:6.5rem;font-weight:600;color:var(--muted);font-size:.85rem}
.cards td.num{text-align:left}
dl.facts{grid-template-columns:1fr}
}
`
  .trim()
  .replace(/\n/g, '')

/** FNV-1a, for the stylesheet's version in its URL. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash.toString(36)
}

export const STYLESHEET_PATH = `/status.css?v=${fnv1a(STYLESHEET)}`

export const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1d4ed8"/><path d="M3 11l3-4 3 2 4-5" stroke="#fff" stroke-width="2" fill="none"/></svg>`
