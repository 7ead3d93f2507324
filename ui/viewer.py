"""The article viewer: opens the article behind a clicked citation, scrolled to the quote.

Citations are plain links (`#cite:<scope>:<doc>:<start>:<end>`) in chat messages and markdown,
and `data-cite` cards in HTML panels. One capture-phase click listener per scope turns a click
on any of them into this component's `cite` event, whose handler renders the article; the link
never navigates. The listener reads the newest `trigger` from `window`, so a re-mounted viewer
keeps working without a second listener being added.
"""

from __future__ import annotations

import gradio as gr

from rag.pipeline import Pipeline
from rag.ui.render import ARTICLE_PLACEHOLDER, article_html, parse_ref

JS = """
const scope = props.scope;
const key = '__newsragCite_' + scope;
const first = !window[key];
window[key] = (ref) => trigger('cite', {ref: ref});
if (first) {
  const refOf = (el) => (el.dataset && el.dataset.cite) || (el.getAttribute('href') || '').slice(1);
  const open = (e) => {
    const el = e.target.closest && e.target.closest('a[href^="#cite:"], [data-cite]');
    if (!el) return;
    const ref = refOf(el);
    if (!ref.startsWith('cite:' + scope + ':')) return;
    e.preventDefault();
    e.stopPropagation();
    window[key](ref);
  };
  document.addEventListener('click', open, true);
  document.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(e); }, true);
}
watch('value', () => {
  const m = element.querySelector('mark.quote');
  const box = element.querySelector('.article-text');
  if (m && box) box.scrollTop = Math.max(0, m.offsetTop - 60);
});
"""


def article_viewer(pipe: Pipeline, scope: str, elem_id: str) -> gr.HTML:
    """An HTML panel that shows the article of whichever `scope` citation was clicked."""
    viewer = gr.HTML(
        ARTICLE_PLACEHOLDER,
        js_on_load=JS,
        elem_id=elem_id,
        elem_classes=["article-viewer"],
        scope=scope,
    )

    def open_citation(evt: gr.EventData) -> str:
        ref = parse_ref(str(getattr(evt, "ref", "")))
        if ref is None:
            return ARTICLE_PLACEHOLDER
        _, doc_id, start, end = ref
        doc = pipe.index.documents.get(doc_id)
        if doc is None:
            return '<p class="muted">That article is no longer in the library.</p>'
        return article_html(doc, start, end)

    viewer.cite(  # type: ignore[attr-defined]
        open_citation, None, viewer, concurrency_limit=None, show_progress="hidden", api_name=False
    )
    return viewer
