"""``mcptrace view --html OUT.html``: one self-contained report, no network fetches at all.

Usage::

    write_report(model, filters, Path("report.html"))

The timeline is SVG drawn here (one row of lanes per session, requests as bars, runtime
events as marks); the data rides along as JSON in a ``<script type="application/json">``
tag, and a little vanilla JS renders the summary, the request table, the side panel,
search and filters from it. The time axis is compressed (see ``TimeScale``) so that short
calls stay visible beside long ones and idle hours.
"""

from __future__ import annotations

import bisect
import json
import math
from html import escape
from pathlib import Path
from typing import Any

from mcptrace.view.inert import (
    LOOKALIKE_LETTERS,
    LOOKALIKE_SCRIPTS,
    clipped_name,
    js_character_class,
    json_inert,
    visible,
)
from mcptrace.view.jsonout import call_dict, model_dict
from mcptrace.view.model import CATEGORIES, Call, Filters, Model, Session, iso
from mcptrace.view.terminal import clock, duration

MAX_CALLS_PER_SESSION = 2000  # the most recent ones; the summary still covers all
WIDTH = 1100
LANE_HEIGHT = 28
BAR_HEIGHT = 22
MAX_LANES = 10
AXIS_HEIGHT = 22

CATEGORY_COLOURS = {
    "file": "#3b82f6",
    "network": "#0891b2",
    "process": "#a21caf",
    "code": "#ca8a04",
    "native": "#ea580c",
    "import": "#16a34a",
    "policy": "#dc2626",
    "detection": "#b91c1c",
    "tamper": "#7f1d1d",
}


class TimeScale:
    """Monotone time → x that keeps short calls visible next to long ones.

    Between consecutive call boundaries (starts and ends), each stretch of time gets a width
    growing with the logarithm of its length, and idle stretches (no call running) are
    capped: a 2 ms call beside a 3 s ``initialize`` or an hour of idle stays readable. Order
    and overlap are exact; distances are not, which the report says on the axis.
    """

    def __init__(self, calls: list[Call], width: float) -> None:
        changes: dict[int, int] = {}
        for call in calls:
            end = max(call.end_ns, call.start_ns + 1)
            changes[call.start_ns] = changes.get(call.start_ns, 0) + 1
            changes[end] = changes.get(end, 0) - 1
        self.points = sorted(changes)
        weights: list[float] = []
        running = 0
        for left, right in zip(self.points, self.points[1:], strict=False):
            running += changes[left]
            weight = math.log1p((right - left) / 1e6) + 0.2
            weights.append(weight if running > 0 else min(weight, 1.2))
        total = sum(weights) or 1.0
        self.xs = [0.0]
        for weight in weights:
            self.xs.append(self.xs[-1] + width * weight / total)

    def x(self, ns: int) -> float:
        index = bisect.bisect_right(self.points, ns) - 1
        if index < 0:
            return 0.0
        if index >= len(self.points) - 1:
            return self.xs[-1]
        left, right = self.points[index], self.points[index + 1]
        return self.xs[index] + (self.xs[index + 1] - self.xs[index]) * (ns - left) / (right - left)


def _lanes(calls: list[Call], scale: TimeScale) -> list[int]:
    lane_ends: list[float] = []
    lanes: list[int] = []
    for call in calls:
        x0 = scale.x(call.start_ns)
        lane = next((i for i, end in enumerate(lane_ends) if end + 2 <= x0), None)
        if lane is None:
            if len(lane_ends) < MAX_LANES:
                lane_ends.append(0.0)
            lane = len(lane_ends) - 1
        x1 = max(scale.x(call.end_ns), x0 + 3)
        lane_ends[lane] = max(lane_ends[lane], x1)
        lanes.append(lane)
    return lanes


def timeline_svg(session: Session, calls: list[Call], session_index: int) -> str:
    scale = TimeScale(calls, WIDTH)
    lanes = _lanes(calls, scale)
    height = (max(lanes) + 1) * LANE_HEIGHT + AXIS_HEIGHT
    out = [
        f'<svg class="timeline" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" role="img" '
        f'aria-label="timeline of {len(calls)} requests">'
    ]
    axis_y = height - AXIS_HEIGHT + 14
    labelled_x = -1e9
    for point, x in zip(scale.points, scale.xs, strict=True):
        if x - labelled_x < 110 or x > WIDTH - 60:
            continue
        labelled_x = x
        out.append(
            f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height - AXIS_HEIGHT + 2}"/>'
            f'<text class="axis" x="{x:.1f}" y="{axis_y}">{clock(point)}</text>'
        )
    for index, (call, lane) in enumerate(zip(calls, lanes, strict=True)):
        x0 = scale.x(call.start_ns)
        width = max(scale.x(call.end_ns) - x0, 3.0)
        y = lane * LANE_HEIGHT + 2
        status = "error" if call.failed else "ok"
        title = f"{call.name} · {duration(call.duration_ms)} · {status}"
        out.append(
            f'<g class="call {status}" data-session="{session_index}" data-call="{index}">'
            f"<title>{_text(title)}</title>"
            f'<rect class="bar" x="{x0:.1f}" y="{y}" width="{width:.1f}" '
            f'height="{BAR_HEIGHT}" rx="3"/>'
        )
        label = call.tool or call.method
        if width > 6.5 * len(label) + 8:
            out.append(f'<text class="label" x="{x0 + 4:.1f}" y="{y + 10}">{_name(label)}</text>')
        for time_ns, category, label in call.activity.labelled_marks():
            mx = min(max(scale.x(time_ns), x0 + 2), x0 + width - 2)
            out.append(
                f'<circle class="mark cat-{category}" data-category="{category}" '
                f'cx="{mx:.1f}" cy="{y + BAR_HEIGHT - 5}" r="3.6" '
                f'fill="{CATEGORY_COLOURS[category]}"><title>{_text(label)}</title></circle>'
            )
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def report_data(model: Model, filters: Filters) -> dict[str, Any]:
    data = model_dict(model, filters)
    for session, session_data in zip(model.sessions, data["sessions"], strict=True):
        shown = session.calls[-MAX_CALLS_PER_SESSION:]
        session_data["requests_not_shown"] = session.requests - len(shown)
        session_data["calls"] = [_call_with_marks(c) for c in shown]
    return data


def _call_with_marks(call: Call) -> dict[str, Any]:
    data = call_dict(call)
    data["marks"] = [
        {"offset_ms": round((t - call.start_ns) / 1e6, 3), "category": c, "label": label}
        for t, c, label in call.activity.labelled_marks()
    ]
    return data


def _name(value: object) -> str:
    """A name for the page: as ``_text``, and lookalike letters shown (inert.clipped_name)."""
    return escape(clipped_name(str(value), 1 << 20))


def _text(value: object) -> str:
    """Spool text for the page: control, bidi and invisible characters shown as escapes
    (the same as the terminal view, and as the page's script does with ``shown``)."""
    return escape(visible(str(value), one_line=True))


# Inside <script> the HTML parser looks for "</script", and after "<!--" for "<script" and
# "-->" (a data value "x<!--<script>y" would keep the element open to the end of the page).
# No "<", ">" or "&" is left in the JSON text, so none of them can appear; JSON.parse reads
# the \u escapes back.  U+2028/9 are line ends to old JavaScript parsers.
_SCRIPT_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _json_for_script(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return json_inert(text).translate(_SCRIPT_SAFE)  # no control or bidi character raw either


def render_report(model: Model, filters: Filters) -> str:
    data = report_data(model, filters)
    sections = []
    for index, session in enumerate(model.sessions):
        calls = session.calls[-MAX_CALLS_PER_SESSION:]
        ids = " ⇄ ".join(session.session_ids) or "(no session id)"
        facts = " · ".join(
            fact
            for fact in [
                " → ".join(s or "?" for s in session.services),
                ("client " + ", ".join(session.clients)) if session.clients else "",
                session.transport or "",
                f"{iso(session.start_ns)} → {iso(session.end_ns)}",
                f"{session.requests} request{'' if session.requests == 1 else 's'}, "
                f"{session.errors} failed",
            ]
            if fact
        )
        omitted = session.requests - len(calls)
        note = ""
        if omitted and calls:
            note = (
                f'<p class="note">showing the {len(calls)} most recent requests; '
                f"{omitted} earlier ones count in the summary only</p>"
            )
        elif omitted:
            note = (
                '<p class="note">older than the requests shown (--limit): '
                "they count in the summary only</p>"
            )
        sections.append(
            f'<section class="session" data-session="{index}">'
            f"<h2>session <code>{_name(ids)}</code></h2>"
            f'<p class="facts">{_name(facts)}</p>{note}'
            f"{timeline_svg(session, calls, index) if calls else ''}"
            '<p class="note">time axis compressed: order and overlap are exact, '
            "lengths grow with the logarithm of duration</p></section>"
        )
    legend = "".join(
        f'<label class="cat"><input type="checkbox" data-category="{c}" checked>'
        f'<span class="swatch" style="background:{CATEGORY_COLOURS[c]}"></span>{c}</label>'
        for c in CATEGORIES
    )
    title = f"mcptrace report — {model.spool}"
    return _PAGE.format(
        title=_text(title),
        spool=_text(model.spool),
        legend=legend,
        sessions="".join(sections) or '<p class="note">no MCP requests in this spool</p>',
        data=_json_for_script(data),
        css=_CSS,
        js=_JS.replace("@HIDDEN@", js_character_class())
        .replace("@SCRIPTS@", ", ".join(f"'{script.title()}'" for script in LOOKALIKE_SCRIPTS))
        .replace("@LETTERS@", LOOKALIKE_LETTERS),
    )


def write_report(model: Model, filters: Filters, out: Path) -> None:
    out.write_text(render_report(model, filters), encoding="utf-8")


_CSS = """
:root{--fg:#1e293b;--muted:#64748b;--line:#e2e8f0;--bg:#f8fafc;--ok:#94a3b8;--err:#ef4444}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);
background:var(--bg)}
header{padding:14px 24px;background:#0f172a;color:#f1f5f9}
header h1{margin:0;font-size:18px}header p{margin:2px 0 0;color:#94a3b8;font-size:12px}
main{margin-right:380px;padding:16px 24px}
#detections ul{margin:4px 0 14px;padding-left:18px}#detections li{margin:2px 0}
#detections h2{font-size:15px;margin:0 0 4px;color:#b91c1c}
.sev-critical b,.sev-error b{color:#b91c1c}.sev-warning b{color:#b45309}
.sev-notice b,.sev-info b{color:var(--muted)}
#summary{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card .value{font-size:22px;font-weight:600}.card .name{color:var(--muted);font-size:12px}
.card ul{margin:4px 0 0;padding-left:16px;font-size:12px;max-height:90px;overflow:auto;
overflow-wrap:anywhere}
.controls{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin:16px 0}
.controls input[type=search]{padding:6px 10px;border:1px solid var(--line);border-radius:6px;
width:280px}
.cat{display:inline-flex;align-items:center;gap:4px;font-size:13px}
.swatch{display:inline-block;width:10px;height:10px;border-radius:50%}
.session{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px;
margin-bottom:14px}
.session h2{font-size:14px;margin:0}.facts,.note{color:var(--muted);font-size:12px;margin:2px 0 6px}
svg.timeline{display:block;overflow:visible}
.bar{fill:var(--ok);cursor:pointer}.error .bar{fill:var(--err)}
.call:hover .bar{stroke:#0f172a;stroke-width:1}.call.selected .bar{stroke:#0f172a;stroke-width:2}
.call.dimmed{opacity:.15}.mark{stroke:#fff;stroke-width:.8;pointer-events:none}
.mark.hidden{display:none}
.label{font-size:10px;fill:#0f172a;pointer-events:none}
.axis{font-size:10px;fill:var(--muted)}.tick{stroke:var(--line)}.gap{fill:var(--muted)}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line);
font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
td.events{white-space:normal;color:var(--muted)}tr.call-row{cursor:pointer}
tr.call-row:hover{background:#f1f5f9}tr.err td.status{color:var(--err);font-weight:600}
tr.hidden{display:none}
#panel{position:fixed;top:0;right:0;width:380px;height:100vh;overflow:auto;background:#fff;
border-left:1px solid var(--line);padding:16px}
#panel h3{margin:0 0 6px;font-size:15px;word-break:break-all}
#panel dl{display:grid;grid-template-columns:110px 1fr;gap:2px 8px;font-size:12px}
#panel dt{color:var(--muted)}#panel dd{margin:0;word-break:break-all}
#panel li{font-size:12px;word-break:break-all}.flag{color:#b45309;font-weight:600}
.library{opacity:.55}
"""

_JS = r"""
(function(){
const data = JSON.parse(document.getElementById('mcptrace-data').textContent);
const $ = (sel, root) => (root||document).querySelector(sel);
// Every text the page shows passes here (as view/inert.py does for the terminal): control,
// bidirectional and invisible characters become visible escapes, so a name cannot reorder
// or hide what is around it.
const HIDDEN = /[@HIDDEN@]/gu;  // view/inert.py's characters, filled in below
const NAMED = {'\n': '\\n', '\r': '\\r', '\x1b': '\\x1b', '\x07': '\\x07', '\x08': '\\x08'};
const hex = (code, width) => code.toString(16).padStart(width, '0');
const shown = text => String(text).replace(HIDDEN, c => NAMED[c] || (c.codePointAt(0) < 0x100 ?
  '\\x' + hex(c.codePointAt(0), 2) : '<U+' + hex(c.codePointAt(0), 4).toUpperCase() + '>'));
// Names (tools, services, sessions) also show letters that pass for ASCII without being it
// (Cyrillic а in rеad_file, fullwidth ｒ), as view/inert.py's clipped_name does.
const LOOKALIKE = new RegExp('^(?:' + [@SCRIPTS@].map(s => '\\p{Script=' + s + '}').join('|') +
  ')$', 'u');
const passesForAscii = c => /^[\x21-\x7e]+$/.test(c.normalize('NFKC')) || LOOKALIKE.test(c);
const LOOKS_LATIN = '@LETTERS@';  // view/inert.py's LOOKALIKE_LETTERS
const allLettersPass = t => {
  const letters = Array.from(t).filter(c => /\p{L}/u.test(c));
  return letters.length > 0 && letters.every(c => LOOKS_LATIN.includes(c) ||
    /^[\x00-\x7f]+$/.test(c.normalize('NFKC')));
};
const namedWord = t => {  // each space-separated word judged alone, as clipped_name does
  if (/^[\x00-\x7f]*$/.test(t) || !(/[A-Za-z]/.test(t) || allLettersPass(t))) return t;
  return Array.from(t).map(c => c.codePointAt(0) > 127 && passesForAscii(c) ?
    '<U+' + hex(c.codePointAt(0), 4).toUpperCase() + '>' : c).join('');
};
const named = text => shown(text).split(' ').map(namedWord).join(' ');
const el = (tag, props, children) => {
  const node = document.createElement(tag);
  const safe = Object.assign({}, props||{});
  for (const key of ['textContent', 'title']) if (key in safe) safe[key] = shown(safe[key]);
  Object.assign(node, safe);
  (children||[]).forEach(c => node.append(typeof c === 'string' ? shown(c) : c));
  return node;
};
const fmt = ms => ms == null ? '-' : ms >= 10000 ? (ms/1000).toFixed(1)+' s' : ms.toFixed(1)+' ms';
const s = data.summary;
if (s.detections && s.detections.length) {
  const box = $('#detections');
  box.append(el('h2', {textContent: `detections (${s.detections.reduce((n,d) => n+d.count, 0)})`}));
  box.append(el('ul', {}, s.detections.map(d => el('li', {className: 'sev-'+d.severity}, [
    el('b', {textContent: d.severity+' '}),
    el('span', {textContent: (d.tool ? named(d.tool) : '?') + ': ' + d.finding +
      (d.count > 1 ? ` ×${d.count}` : '')})]))));
}
const cards = [
  ['tool calls', s.tool_calls, s.tools.map(t => `${named(t.name)} ×${t.calls}` +
    (t.errors ? ` (${t.errors} failed)` : ''))],
  ['error rate', (100*s.error_rate).toFixed(1)+'%', [`${s.tool_errors} of ${s.tool_calls}`]],
  ['p95 duration', fmt(s.p95_duration_ms), [`${s.requests} requests in all`]],
  ['clients', s.clients.filter(c => c.client).length, s.clients.filter(c => c.client)
    .map(c => `${c.client} ×${c.requests}` + (c.errors ? ` (${c.errors} failed)` : ''))],
  ['hosts contacted', s.hosts_contacted.length, s.hosts_contacted],
  ['files written', s.files_written.length, s.files_written],
  ['processes spawned', s.processes_spawned.length, s.processes_spawned],
  ['module mismatches', s.module_mismatches.length, s.module_mismatches],
  ['policy violations', s.violations.reduce((n,v) => n+v.count, 0),
    s.violations.map(v => `${v.rule} (${v.action}) ×${v.count}`)],
  ['runtime events', Object.values(s.events).reduce((a,b) => a+b, 0),
    Object.entries(s.events).map(([c,n]) => `${c} ${n}`)
      .concat(s.dropped ? [`dropped ${s.dropped}`] : [])],
];
const summary = $('#summary');
cards.forEach(([name, value, items], i) => {
  const card = el('div', {className: 'card', id: 'card-'+i}, [
    el('div', {className: 'value', textContent: String(value)}),
    el('div', {className: 'name', textContent: name})]);
  if (items.length) card.append(el('ul', {}, items.map(t => el('li', {textContent: t}))));
  summary.append(card);
});
const calls = [];
data.sessions.forEach((session, si) => session.calls.forEach((call, ci) => {
  call.session = si; call.index = ci;
  call.haystack = [call.name, call.tool||'', call.trace_id, call.error_type||'',
    call.error_message].concat(call.activity.items.map(i => i.target)).join(' ').toLowerCase();
  calls.push(call);
}));
const countsText = a => Object.entries(a.counts).map(([c,n]) => `${c} ${n}`).join(' · ') +
  (a.dropped ? ` · dropped ${a.dropped}` : '');
const tbody = $('#calls tbody');
calls.forEach(call => {
  const row = el('tr', {className: 'call-row' + (call.status === 'error' ? ' err' : '')}, [
    el('td', {textContent: call.start.slice(11, 23)}),
    el('td', {className: 'name', textContent: named(call.name)}),
    el('td', {className: 'status', textContent: call.status === 'error' ?
      (call.error_type || 'error') : 'ok'}),
    el('td', {textContent: fmt(call.duration_ms)}),
    el('td', {className: 'events', textContent: countsText(call.activity)}),
    el('td', {textContent: call.trace_id.slice(0, 8)})]);
  row.dataset.session = call.session; row.dataset.call = call.index;
  row.addEventListener('click', () => select(call));
  call.row = row;
  tbody.append(row);
});
document.querySelectorAll('g.call').forEach(g => {
  const call = data.sessions[+g.dataset.session].calls[+g.dataset.call];
  call.bar = g;
  g.addEventListener('click', () => select(call));
});
function select(call) {
  document.querySelectorAll('g.call.selected').forEach(g => g.classList.remove('selected'));
  if (call.bar) call.bar.classList.add('selected');
  const panel = $('#panel');
  panel.replaceChildren();
  const facts = [['status', call.status === 'error' ?
      `${call.error_type}${call.error_message ? ': ' + call.error_message : ''}` : 'ok'],
    ['start', call.start], ['duration', fmt(call.duration_ms)],
    ['method', call.method], ['tool', call.tool ? named(call.tool) : '-'],
    ['request id', call.request_id || '-'],
    ['trace', call.trace_id],
    ['client span', call.client ? `${call.client.span_id} · ${call.client.service} · ` +
      fmt(call.client.duration_ms) : '(not traced)'],
    ['server span', call.server ? `${call.server.span_id} · ${call.server.service} · ` +
      fmt(call.server.duration_ms) : '(not traced)'],
    ['session', [call.client, call.server].filter(Boolean).map(x => x.session_id)
      .filter(Boolean).join(' ⇄ ') || '-'],
    ['events', countsText(call.activity) || 'none']];
  const dl = el('dl');
  facts.forEach(([k, v]) => dl.append(el('dt', {textContent: k}), el('dd', {textContent: v})));
  panel.append(el('h3', {textContent: named(call.name)}), dl);
  if (call.activity.items.length) {
    panel.append(el('h4', {textContent: 'what it did'}));
    panel.append(el('ul', {}, call.activity.items.map(i => el('li', {
      className: i.library ? 'library' : i.flagged ? 'flag' : '',
      textContent: `${i.category} ${i.action} ${i.target}` + (i.count > 1 ? ` ×${i.count}` : '') +
        (i.library ? ` · ${i.library}` : '')
    }))));
  }
}
function applyFilters() {
  const needle = $('#search').value.trim().toLowerCase();
  const errorsOnly = $('#errors-only').checked;
  const cats = [...document.querySelectorAll('.cat input')].filter(i => i.checked)
    .map(i => i.dataset.category);
  const all = cats.length === document.querySelectorAll('.cat input').length;
  let shown = 0;
  calls.forEach(call => {
    const keep = (!needle || call.haystack.includes(needle)) &&
      (!errorsOnly || call.status === 'error') &&
      (all || cats.some(c => call.activity.counts[c]));
    call.row.classList.toggle('hidden', !keep);
    if (call.bar) call.bar.classList.toggle('dimmed', !keep);
    shown += keep;
  });
  document.querySelectorAll('circle.mark').forEach(m =>
    m.classList.toggle('hidden', !cats.includes(m.dataset.category)));
  $('#shown').textContent = `${shown} of ${calls.length} requests`;
}
// a link can carry filters: report.html#q=fetch&errors=1&cat=network,file
const wanted = new URLSearchParams(location.hash.slice(1));
if (wanted.has('q')) $('#search').value = wanted.get('q');
if (wanted.get('errors') === '1') $('#errors-only').checked = true;
if (wanted.has('cat')) {
  const cats = wanted.get('cat').split(',');
  document.querySelectorAll('.cat input')
    .forEach(i => i.checked = cats.includes(i.dataset.category));
}
$('#search').addEventListener('input', applyFilters);
$('#errors-only').addEventListener('change', applyFilters);
document.querySelectorAll('.cat input').forEach(i => i.addEventListener('change', applyFilters));
applyFilters();
const firstError = calls.find(c => c.status === 'error' && c.activity.items.length) ||
  calls.find(c => c.activity.items.length) || calls[0];
if (firstError) select(firstError);
document.body.dataset.rendered = 'true';
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; \
style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{title}</title><style>{css}</style></head>
<body>
<header><h1>mcptrace — what every tool call did</h1><p>spool {spool}</p></header>
<main>
<div id="detections"></div>
<div id="summary"></div>
<div class="controls">
<input id="search" type="search" placeholder="search tools, paths, hosts, trace ids">
<label><input id="errors-only" type="checkbox"> errors only</label>
{legend}<span id="shown" class="note"></span>
</div>
{sessions}
<h2>requests</h2>
<table id="calls"><thead><tr><th>time (UTC)</th><th>request</th><th>status</th>
<th>duration</th><th>runtime events</th><th>trace</th></tr></thead><tbody></tbody></table>
</main>
<aside id="panel"><p class="note">click a request for details</p></aside>
<script type="application/json" id="mcptrace-data">{data}</script>
<script>{js}</script>
</body></html>
"""
