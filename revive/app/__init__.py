"""The web page for families: a thin Gradio face over :mod:`revive.restore`.

- :mod:`~revive.app.work`: the limits and one request's photos through the same
  :class:`~revive.restore.Restorer` as ``predict.py`` (no Gradio, testable on its own);
- :mod:`~revive.app.sessions`: each browser session's private temporary folder, and its cleanup;
- :mod:`~revive.app.page`: the Gradio page (upload, options, before/after sliders, downloads);
- :mod:`~revive.app.__main__`: ``python -m revive.app`` (``conf/app.yaml``, ``make app``).
"""
