"""A browser session of the page, spoken over plain HTTP as Gradio's own frontend speaks it.

For the load test and ``make bench``'s ``app_load``: open the page (its token, kept as a
cookie), upload photos, press Revive, and follow the request's messages until it ends, noting
when each result arrived. No Gradio client library: only the routes a browser uses
(``/config``, ``/gradio_api/upload``, ``/gradio_api/queue/join``, ``/gradio_api/queue/data``).
"""

from __future__ import annotations

import copy
import json
import mimetypes
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

API = "/gradio_api"


def apply_edits(value: Any, edits: list[list[Any]]) -> Any:
    """Gradio's diff of a generator's output (``gradio.utils.diff``) applied to ``value``."""
    value = copy.deepcopy(value)
    for op, path, new in edits:
        if not path:
            value = value + new if op == "append" else new
            continue
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if op == "replace":
            parent[key] = new
        elif op == "append":
            parent[key] += new
        elif op == "add":
            if isinstance(parent, list):
                parent.insert(key, new)
            else:
                parent[key] = new
        elif op == "delete":
            del parent[key]
    return value


def file_urls(value: Any) -> list[str]:
    """Every file URL inside an output value (an ImageSlider holds two)."""
    if isinstance(value, dict):
        found = [value["url"]] if isinstance(value.get("url"), str) else []
        return found + [
            u for v in value.values() if isinstance(v, dict | list) for u in file_urls(v)
        ]
    if isinstance(value, list):
        return [u for v in value for u in file_urls(v)]
    return []


@dataclass
class Run:
    """One request as its page saw it: the statuses in order, the final value of each output,
    and when (seconds after Revive) each photo's result first arrived."""

    statuses: list[str] = field(default_factory=list)
    values: dict[int, Any] = field(default_factory=dict)
    result_times: dict[int, float] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0


class PageSession:
    """One session of the page at ``url`` (its own session id and cookie jar)."""

    def __init__(self, url: str, timeout: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)
        self.session = secrets.token_hex(6)
        config = self.http.get("/config").raise_for_status().json()
        self.fns = {d["api_name"]: d["id"] for d in config["dependencies"] if d.get("api_name")}
        self.revive_outputs: list[int] = next(
            d["outputs"] for d in config["dependencies"] if d.get("api_name") == "revive"
        )
        self.ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
        self.token = ""

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PageSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def join(self, api_name: str, data: list[Any]) -> str:
        """Put ``api_name`` in the queue for this session; its event id."""
        body = {
            "data": data, "fn_index": self.fns[api_name], "session_hash": self.session,
            "event_data": None, "trigger_id": None,
        }  # fmt: skip
        return self.http.post(f"{API}/queue/join", json=body).raise_for_status().json()["event_id"]

    def messages(self, event_id: str) -> Iterator[dict[str, Any]]:
        """The queue's messages for ``event_id`` until it completes."""
        params = {"session_hash": self.session}
        with self.http.stream("GET", f"{API}/queue/data", params=params) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") not in (None, event_id):
                    continue
                yield message
                if message.get("msg") in ("process_completed", "close_stream"):
                    return

    def call(self, api_name: str, data: list[Any]) -> list[Any]:
        """Run ``api_name`` to its end; its final output values."""
        for message in self.messages(self.join(api_name, data)):
            if message.get("msg") == "process_completed":
                output = message.get("output", {})
                if not message.get("success"):
                    raise RuntimeError(output.get("error") or "the call failed")
                return output.get("data", [])
        raise RuntimeError(f"{api_name}: the stream ended without a result")

    def open(self) -> str:
        """What the page does on load: take the session's token and keep it as a cookie."""
        (self.token,) = self.call("open", [])
        name, _, value = self.token.partition("=")
        self.http.cookies.set(name, value)
        return self.token

    def heartbeat(self, seconds: float) -> None:
        """Hold the page's heartbeat for ``seconds``, then drop it as a closed tab does (the
        server then runs the page's close action)."""
        end = time.monotonic() + seconds
        with self.http.stream("GET", f"{API}/heartbeat/{self.session}") as stream:
            for _ in stream.iter_lines():
                if time.monotonic() > end:
                    return

    def upload(self, paths: Sequence[Path]) -> list[dict[str, Any]]:
        """POST the photos as the file box does; their FileData, then the page's upload event."""
        files = [
            ("files", (p.name, p.read_bytes(), mimetypes.guess_type(p.name)[0] or "image/png"))
            for p in paths
        ]
        stored = self.http.post(f"{API}/upload", files=files).raise_for_status().json()
        data = [
            {"path": s, "orig_name": p.name, "meta": {"_type": "gradio.FileData"}}
            for s, p in zip(stored, paths, strict=True)
        ]
        self.call("keep", [data])
        return data

    def revive(
        self, files: list[dict[str, Any]], grain: bool = True, enlarge: bool = False,
        detail: float = 128,
    ) -> Run:  # fmt: skip
        """Press Revive and follow the request to its end."""
        run = Run()
        start = time.monotonic()
        raw: list[Any] | None = None
        slider_ids = [self.ids[f"slider-{i}"] for i in range(len(files))]
        event = self.join("revive", [files, grain, enlarge, detail, self.token])
        for message in self.messages(event):
            if message.get("msg") not in ("process_generating", "process_completed"):
                continue
            output = message.get("output", {})
            if not message.get("success", True) or "error" in output and output["error"]:
                run.error = output.get("error") or "failed"
                break
            data = output.get("data")
            if data is None:
                continue
            if raw is None or message["msg"] == "process_completed":
                raw = data
            else:
                raw = [apply_edits(old, edits) for old, edits in zip(raw, data, strict=True)]
            for component, value in zip(self.revive_outputs, raw, strict=True):
                if isinstance(value, dict) and value.get("__type__") == "update":
                    if "value" not in value:
                        continue
                    value = value["value"]
                run.values[component] = value
            status = run.values.get(self.ids["status"])
            if isinstance(status, str) and (not run.statuses or run.statuses[-1] != status):
                run.statuses.append(status)
            for i, component in enumerate(slider_ids):
                if i not in run.result_times and file_urls(run.values.get(component)):
                    run.result_times[i] = time.monotonic() - start
        run.seconds = time.monotonic() - start
        return run

    def results(self, run: Run) -> list[list[str]]:
        """The file URLs of each photo's slider (before, after), in order."""
        return [
            file_urls(run.values.get(self.ids[f"slider-{i}"])) for i in range(len(run.result_times))
        ]
