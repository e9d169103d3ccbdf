"""``python -m revive.app colorizer=... [denoiser=...]`` (``make app``): the local web page.

The networks load once, through :func:`revive.restore.load_restorer` with ``predict.py``'s
options (``conf/restore/default.yaml``, which ``conf/app.yaml`` composes). The server binds to
``app.host`` (127.0.0.1) and ``app.port``, never makes a public share link, sends no analytics,
and keeps every upload and result in a temporary folder that is deleted per session and when
the server stops (Ctrl+C or SIGTERM). Exit status 2 when it cannot start.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
from pathlib import Path

from omegaconf import DictConfig

from revive.config import hydra_command, register_resolvers
from revive.errors import UserError, one_line, user_errors
from revive.extras import require

register_resolvers()
log = logging.getLogger("app")
# Set before Gradio is imported: no usage statistics, no version check, no Hugging Face telemetry.
OFFLINE_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "GRADIO_RUN_HISTORY": "False",
}
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]  # no font files from the internet


def serve(cfg: DictConfig, root: Path) -> None:
    """Load the networks, build the page and serve it until interrupted."""
    os.environ.update(OFFLINE_ENV)
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")
    os.umask(0o077)  # every folder and file this server makes: 0700 / 0600, Gradio's too
    for noisy in ("httpx", "uvicorn.access"):  # request lines would carry file paths
        logging.getLogger(noisy).setLevel(logging.WARNING)
    gr = require("app", "gradio")
    from starlette.middleware import Middleware

    from revive.app.guard import FileGuard
    from revive.app.page import CSS, build_page
    from revive.app.sessions import SessionFolders
    from revive.app.work import Limits
    from revive.restore.options import RestoreOptions
    from revive.restore.restorer import load_restorer

    app = cfg.app
    restorer = load_restorer(RestoreOptions.from_config(cfg))  # predict.py's options
    limits = Limits(app.max_upload_mb, app.max_megapixels, app.max_photos)
    folders = SessionFolders(root / "gradio" / "sessions", app.keep_minutes)
    # Swept often enough that nothing outlives keep_minutes by more than a quarter of it.
    keep_s = folders.keep_seconds
    every = max(0.5, min(60.0, keep_s / 4))
    sweeper = folders.sweep_every(every, uploads=root / "gradio", max_age=keep_s - every)
    page = build_page(restorer, folders, limits, app.concurrency, app.queue_size)
    log.info("serving on http://%s:%d (Ctrl+C stops it)", app.host, app.port)
    try:
        page.launch(
            server_name=str(app.host),
            server_port=int(app.port),
            share=False,
            max_file_size=limits.max_upload_bytes,
            show_error=True,
            footer_links=[],
            run_history=False,
            ssr_mode=False,
            mcp_server=False,
            pwa=False,
            enable_monitoring=False,
            quiet=True,
            css=CSS,
            # every file request passes the guard: a session's links open for it alone
            app_kwargs={"middleware": [Middleware(FileGuard, folders=folders, protected=root)]},
            theme=gr.themes.Default(font=SYSTEM_FONTS, font_mono=["ui-monospace", "monospace"]),
        )
    finally:
        sweeper.set()


@hydra_command("app", "revive.app")
def main(cfg: DictConfig) -> None:
    # SIGTERM (systemd, docker, `timeout`) stops the server like Ctrl+C, so the folder goes too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    root = Path(tempfile.mkdtemp(prefix="revive-app-"))  # mode 0700: this user only
    try:
        with user_errors("revive.app"):
            try:
                serve(cfg, root)
            except (ValueError, OSError) as e:  # a bad checkpoint or option, the port taken
                raise UserError(one_line(e)) from e
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
