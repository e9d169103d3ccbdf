"""The Gradio page: upload photos, choose options in plain words, see before/after, download.

Nothing is shared between browser sessions: uploads are copied into the session's own folder as
they arrive, results live there too (:class:`~revive.app.sessions.SessionFolders`), and its file
links open only with its own cookie (:mod:`revive.app.guard`); there are no examples, no gallery,
no flagging and no run history. Requests wait in the page's own line
(:class:`~revive.app.line.Line`), whose concurrency limit keeps two families at once from
exhausting the machine, and the status line under Revive says where a request stands: its place
in line, then "photo 2 of 3"; each photo appears as soon as it is done. No time estimate is shown:
on a shared CPU it was wrong by minutes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import gradio as gr

from revive.app.line import Line, LineFull
from revive.app.sessions import SessionClosed, SessionFolders
from revive.app.work import LimitError, Limits, Outcome, check_count, revive_steps
from revive.io import IMAGE_EXTENSIONS
from revive.restore import Restorer

log = logging.getLogger(__name__)

INTRO = """# Revive old photos
Drop in black-and-white or faded photos (or click to pick them). Each comes back in color, at
its full size, with a slider to compare before and after. Your photos stay on this computer,
are seen by no one else, and are deleted when you close the page."""
# The status line keeps its height and never clips what it says.
CSS = "#status { min-height: 1.6em; overflow: visible !important; }"


def set_cookie_js(token_at: int, inputs: int) -> str:
    """Browser code run before an event is sent: keep the session's token (input ``token_at``)
    as its cookie, which every file link needs. Gradio passes the inputs' values and then the
    outputs'; the function hands back the inputs only, for the server function."""
    return f"""(...args) => {{
  const token = args[{token_at}];
  if (token) document.cookie = token + "; path=/; SameSite=Strict";
  return args.slice(0, {inputs});
}}"""


UPLOAD_RACE_S = 10.0  # an upload younger than this may be another session's, not yet copied


def detail_range(restorer: Restorer) -> tuple[int, int, int]:
    """(minimum, maximum, step) of the "detail" slider: the render size, in the U-Net's steps."""
    step = max(restorer.multiple, 32)
    low = max(step, 128 // step * step)
    return low, max(low, 1024 // step * step), step


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def summary_text(revived: int, problems: list[str]) -> str:
    lines = [f"**{plural(revived, 'photo')} revived.**"]
    lines += [f"- {problem}" for problem in problems]
    return "\n".join(lines)


def waiting_text(place: int, photos: int) -> str:
    """The status while a request waits: its place in line, no time estimate."""
    ahead = plural(place, "request")
    return (
        f"**Waiting in line: {ahead} ahead of yours.** Your {plural(photos, 'photo')} "
        f"will start as soon as {'it is' if place == 1 else 'they are'} done."
    )


def working_text(done: int, total: int, problems: list[str]) -> str:
    """The status while a request runs: which photo, and the problems so far."""
    lines = [f"**Reviving photo {done + 1} of {total}…**"]
    lines += [f"- {problem}" for problem in problems]
    return "\n".join(lines)


def build_page(
    restorer: Restorer,
    folders: SessionFolders,
    limits: Limits,
    concurrency: int = 1,
    queue_size: int = 16,
) -> gr.Blocks:
    """The page for ``restorer``; every request works in its session's folder. The page's
    waiting line is ``page.line`` (``concurrency`` at once, ``queue_size`` waiting)."""
    low, high, step = detail_range(restorer)
    has_denoiser = restorer.denoiser is not None
    scale = restorer.scale
    line = Line(concurrency, queue_size)
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
        token = gr.Textbox(visible=False, elem_id="session-token")
        archive = gr.DownloadButton("Download all (ZIP)", visible=False, elem_id="download-all")
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
        outputs = [status, go, archive, *boxes, *sliders, *buttons]

        def updates(
            text: str | None = None,
            busy: bool | None = None,
            outcome: Outcome | None = None,
            shown: int = 0,
            reset: bool = False,
        ) -> list[Any]:
            """One value per output: the status, the button, the ZIP, then the photos from
            ``shown`` on (the ones before it are on the page already); skip for the rest."""
            values: list[Any] = [gr.skip()] * len(outputs)
            n = limits.max_photos
            if text is not None:
                values[0] = text
            if busy is not None:
                values[1] = gr.Button(interactive=not busy)
            if reset:
                values[2] = gr.DownloadButton(value=None, visible=False)
                values[3 : 3 + n] = [gr.Column(visible=False)] * n
            if outcome is not None:
                if outcome.archive is not None:
                    values[2] = gr.DownloadButton(value=outcome.archive, visible=True)
                for i, r in enumerate(outcome.revived[shown:], start=shown):
                    values[3 + i] = gr.Column(visible=True)
                    values[3 + n + i] = gr.ImageSlider(
                        value=(r.before, r.after), label=f"{r.name}: before / after"
                    )
                    values[3 + 2 * n + i] = gr.DownloadButton(
                        f"Download {r.after.name}", value=r.after
                    )
            return values

        def open_session(request: gr.Request) -> str:
            """The page opened: its token, given once (the browser keeps it as a cookie)."""
            return folders.issue_token(request.session_hash or "") or ""

        def keep(uploads: list[str] | None, request: gr.Request) -> None:
            """Copy each new upload into the session's own folder at once: Gradio shares one
            file between sessions that upload the same bytes, and deletes it on its own."""
            for upload in uploads or []:
                # when this fails, Revive tries again and names the photo if it is missing
                with suppress(OSError, ValueError, SessionClosed):
                    folders.keep_upload(request.session_hash or "", Path(upload))

        def own_copy(session: str, upload: Path) -> Path:
            """The session's copy of ``upload``, made now if the upload event has not run yet;
            ``upload`` itself when it is gone (the photo is then named as missing)."""
            copy = folders.own_upload(session, upload)
            if copy is None:
                try:
                    copy = folders.keep_upload(session, upload)
                except FileNotFoundError:
                    copy = upload
            return copy

        def revive(
            uploads: list[str] | None,
            remove_grain: bool,
            enlarge_photo: bool,
            render_size: float,
            _token: str,
            request: gr.Request,
        ) -> Iterator[list[Any]]:
            session = request.session_hash or ""
            if not session or folders.is_closed(session):
                return
            if not folders.has_token(session):
                raise gr.Error("The page is still opening: wait a moment, then press Revive again.")
            try:
                check_count(len(uploads or []), limits)
                pairs = [(own_copy(session, Path(p)), Path(p).name) for p in uploads or []]
                ticket = line.join()
            except LimitError as e:
                raise gr.Error(str(e)) from None
            except LineFull:
                raise gr.Error(
                    "The page is busy with other photos right now: please try again in a few "
                    "minutes."
                ) from None
            except SessionClosed:
                return
            try:
                place = line.place(ticket)
                yield updates(
                    waiting_text(place, len(pairs)) if place else working_text(0, len(pairs), []),
                    busy=True,
                    reset=True,
                )
                while place > 0:
                    if folders.is_closed(session):
                        return  # the page closed while it waited: its place goes to the next
                    moved = line.wait(ticket, timeout=1.0)
                    if moved != place:
                        place = moved
                        yield updates(
                            waiting_text(place, len(pairs))
                            if place
                            else working_text(0, len(pairs), [])
                        )
                variant = restorer.variant(
                    min(
                        max(int(render_size), low), high
                    ),  # clamped: a value sent around the slider
                    bool(remove_grain),
                    bool(enlarge_photo),
                )
                shown = 0
                started = time.monotonic()
                for done, total, outcome in revive_steps(
                    variant, pairs, folders.path(session), limits,
                    writing=lambda: folders.writing(session),
                ):  # fmt: skip
                    text = (
                        summary_text(len(outcome.revived), outcome.problems)
                        if done == total
                        else working_text(done, total, outcome.problems)
                    )
                    yield updates(text, outcome=outcome, shown=shown)
                    shown = len(outcome.revived)
                log.info(
                    "request: %d revived, %d problems, %.1f s",
                    len(outcome.revived), len(outcome.problems), time.monotonic() - started,
                )  # fmt: skip
            except SessionClosed:
                log.info("request stopped: its page was closed")
            finally:
                line.leave(ticket)

        def ready() -> Any:
            return gr.Button(interactive=True)

        def forget(request: gr.Request) -> None:
            """The page closed (Gradio's heartbeat ended): stop its work and delete its folder
            and the uploads no other session holds. Called any other way (the queue takes any
            function's index from anyone), it does nothing."""
            session = request.session_hash or ""
            raw = getattr(request, "request", None)
            route = str(getattr(getattr(raw, "url", None), "path", ""))
            if not session or not route.endswith(f"/heartbeat/{session}"):
                log.warning("refused a call of the page's close action from outside its heartbeat")
                return
            now = time.time()
            for upload in folders.close(session):
                try:
                    if now - upload.stat().st_mtime > UPLOAD_RACE_S:
                        upload.unlink()
                except OSError:
                    pass  # gone already; a fresh one is left to the sweep

        hidden: dict[str, Any] = {"show_progress": "hidden", "concurrency_limit": None}
        page.load(open_session, outputs=[token], api_name="open", **hidden).then(
            None, inputs=[token], js=set_cookie_js(0, 0), api_visibility="private"
        )
        files.upload(keep, inputs=[files], api_name="keep", **hidden)
        go.click(
            revive,
            inputs=[files, grain, enlarge, detail, token],
            outputs=outputs,
            js=set_cookie_js(4, 5),
            api_name="revive",
            **hidden,
        ).then(ready, outputs=[go], api_visibility="private", **hidden)
        page.unload(forget)
    page.queue(max_size=queue_size + concurrency + 8, default_concurrency_limit=concurrency)
    page.line = line  # type: ignore[attr-defined]
    return page
