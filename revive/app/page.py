"""The Gradio page: upload photos, choose options in plain words, see before/after, download.

Nothing is shared between browser sessions: results live in the session's own folder
(:class:`~revive.app.sessions.SessionFolders`) and reach only the session that asked; there are
no examples, no gallery, no flagging and no run history. Photos go through a queue whose
concurrency limit keeps two families at once from exhausting the machine.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr

from revive.app.sessions import SessionFolders
from revive.app.work import LimitError, Limits, revive_uploads
from revive.io import IMAGE_EXTENSIONS
from revive.restore import Restorer

log = logging.getLogger(__name__)

INTRO = """# Revive old photos
Drop in black-and-white or faded photos (or click to pick them). Each comes back in color, at
its full size, with a slider to compare before and after. Your photos stay on this computer,
are seen by no one else, and are deleted when you close the page."""


def detail_range(restorer: Restorer) -> tuple[int, int, int]:
    """(minimum, maximum, step) of the "detail" slider: the render size, in the U-Net's steps."""
    step = max(restorer.multiple, 32)
    low = max(step, 128 // step * step)
    return low, max(low, 1024 // step * step), step


def summary_text(revived: int, problems: list[str]) -> str:
    lines = [f"**{revived} photo{'s' * (revived != 1)} revived.**"]
    lines += [f"- {problem}" for problem in problems]
    return "\n".join(lines)


def build_page(
    restorer: Restorer,
    folders: SessionFolders,
    limits: Limits,
    concurrency: int = 1,
    queue_size: int = 16,
) -> gr.Blocks:
    """The page for ``restorer``; every request works in its session's folder."""
    low, high, step = detail_range(restorer)
    has_denoiser = restorer.denoiser is not None
    scale = restorer.scale
    with gr.Blocks(title="revive: old photos in color", analytics_enabled=False) as page:
        gr.Markdown(INTRO)
        files = gr.File(
            label=f"Photos (up to {limits.max_photos} at a time, {limits.max_upload_mb:g} MB "
            f"and {limits.max_megapixels:g} megapixels each)",
            file_count="multiple",
            file_types=list(IMAGE_EXTENSIONS),
            type="filepath",
            elem_id="photos",
        )
        with gr.Row():
            grain = gr.Checkbox(
                value=True,
                label="remove grain",
                info="clean film grain and scanner noise before coloring",
                visible=has_denoiser,
            )
            enlarge = gr.Checkbox(
                value=True,
                label=f"enlarge {scale}x",
                info="a sharper, larger photo from the super-resolution network (slower)",
                visible=scale > 1,
            )
            detail = gr.Slider(
                low,
                high,
                value=min(max(restorer.render_size, low), high),
                step=step,
                label="detail",
                info="how closely the colorizer looks: higher sees more detail but is slower; "
                "lower often gives calmer colors",
            )
        go = gr.Button("Revive", variant="primary", elem_id="revive")
        status = gr.Markdown(elem_id="status")
        archive = gr.DownloadButton("Download all (ZIP)", visible=False, elem_id="download-all")
        uploaded: dict[str, set[Path]] = {}  # Gradio's copies of each session's uploads
        sliders, buttons, boxes = [], [], []
        for i in range(limits.max_photos):
            with gr.Column(visible=False) as box:
                sliders.append(
                    gr.ImageSlider(
                        type="filepath",
                        format="png",
                        interactive=False,
                        label="before / after",
                        elem_id=f"slider-{i}",
                        buttons=["fullscreen"],
                    )
                )
                buttons.append(gr.DownloadButton("Download", elem_id=f"download-{i}"))
            boxes.append(box)

        def revive(
            uploads: list[str] | None,
            remove_grain: bool,
            enlarge_photo: bool,
            render_size: float,
            request: gr.Request,
            progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's idiom)
        ) -> list[Any]:
            folder = folders.folder(request.session_hash or "")
            pairs = [(Path(p), Path(p).name) for p in uploads or []]
            uploaded.setdefault(request.session_hash or "", set()).update(p for p, _ in pairs)
            try:
                outcome = revive_uploads(
                    # clamped: a value sent around the slider must not blow up the canvas
                    restorer.variant(
                        min(max(int(render_size), low), high),
                        bool(remove_grain),
                        bool(enlarge_photo),
                    ),
                    pairs,
                    folder,
                    limits,
                    progress=lambda done, total, what: progress((done, total), desc=what),
                )
            except LimitError as e:
                raise gr.Error(str(e)) from None
            log.info(
                "request: %d revived, %d problems", len(outcome.revived), len(outcome.problems)
            )
            shown = outcome.revived
            updates: list[Any] = [
                summary_text(len(shown), outcome.problems),
                gr.DownloadButton(value=outcome.archive, visible=outcome.archive is not None),
            ]
            updates += [gr.Column(visible=i < len(shown)) for i in range(limits.max_photos)]
            updates += [
                gr.ImageSlider(value=(r.before, r.after), label=f"{r.name}: before / after")
                for r in shown
            ] + [gr.ImageSlider(value=None)] * (limits.max_photos - len(shown))
            updates += [
                gr.DownloadButton(f"Download {r.after.name}", value=r.after) for r in shown
            ] + [gr.DownloadButton(value=None)] * (limits.max_photos - len(shown))
            return updates

        go.click(
            revive,
            inputs=[files, grain, enlarge, detail],
            outputs=[status, archive, *boxes, *sliders, *buttons],
            concurrency_limit=concurrency,
            show_progress="full",
        )

        def forget(request: gr.Request) -> None:
            """The session ended (tab closed): delete its folder and Gradio's upload copies."""
            folders.drop(request.session_hash or "")
            for path in uploaded.pop(request.session_hash or "", set()):
                path.unlink(missing_ok=True)

        page.unload(forget)
    page.queue(max_size=queue_size, default_concurrency_limit=concurrency)
    return page
