"""A Streamlit session without a browser: the browser's side of Streamlit's protocol, for load tests.

Checked against Streamlit 1.67's server (streamlit/web/server/starlette/starlette_websocket.py,
runtime/app_session.py) and its front end's bundle:

- One WebSocket, ``/_stcore/stream``, subprotocols ``streamlit`` and a token slot (an XSRF token, checked only
  when the request carries an Origin header, as browsers' do). Binary protobuf frames both ways.
- The client sends ``BackMsg.rerun_script`` (a ``ClientState``): the first names the page by its address
  (``page_name``: "" for the default page, "draw" for /draw); later ones name it by its hash
  (``page_script_hash``), which arrives in the ``navigation`` message (the first ``new_session`` names the
  router's, app.py's). A widget's change is a ``WidgetState`` under the element's id: a button press is
  ``trigger_value``, a component's state ``json_value``. Only the changed widget is sent: the server keeps the
  others' values (resending an element's ``default`` as its value would silently change it).
- A rerun of a fragment names it (``fragment_id``, from the ``Delta`` that drew the element).
- The server answers with ``ForwardMsg``s: ``new_session`` (a run starts; ``metadata.run`` says which
  fragments it runs, none for a full run), ``delta`` (an element at ``metadata.delta_path``),
  ``script_finished``, and ``auto_rerun`` for a fragment with ``run_every``: the client must then send
  ``rerun_script{fragment_id, is_auto_rerun}`` every ``interval`` seconds itself, until ``stop_auto_rerun``, a
  full run or a page change (as the front end's timers do), or the live view never moves on.
- ``page_info_changed`` sets the address bar's query string, which later requests carry (a page change
  drops it).
- The client must read every frame as it comes: the server queues at most 500 messages per client
  (WEBSOCKET_MAX_SEND_QUEUE_SIZE) and drops a client that lets them pile up.

    async with StreamlitSession(base_url) as student:
        seconds = await student.open()             # the default page, run to its end
        await student.go_to("Draw")
        await student.click("Train the Lecture preset")
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.parse
from dataclasses import dataclass, field

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState, ContextInfo
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates

STREAM_PATH = "/_stcore/stream"
MAIN, SIDEBAR = 0, 1  # RootContainer: the delta_path's first number
FINISHED = ForwardMsg.FINISHED_SUCCESSFULLY
FRAGMENT_FINISHED = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
COMPILE_ERROR = ForwardMsg.FINISHED_WITH_COMPILE_ERROR


class SessionError(Exception):
    """The server did not answer as a browser session expects (a timeout, a closed socket, an unknown page)."""


@dataclass
class Shown:
    """An element as the client last received it."""

    element: Element
    fragment_id: str  # the fragment that drew it ("" outside fragments)
    sequence: int  # the number of the message that brought it: later elements have higher numbers
    received: float  # time.perf_counter() when it arrived

    @property
    def kind(self) -> str:
        return self.element.WhichOneof("type") or ""


@dataclass
class Run:
    """One script run, from its new_session to its script_finished."""

    run_id: str
    fragment_ids: tuple[str, ...]  # () for a full run
    started: int  # the message number of its new_session
    status: int | None = None  # a ForwardMsg.ScriptFinishedStatus once finished


@dataclass
class StreamlitSession:
    """One browser session, spoken over the protocol. Use ``async with``; read ``errors`` at the end."""

    base_url: str  # http://host:port
    timeout: float = 120.0  # seconds one page run may take before it counts as an error
    elements: dict[tuple[int, ...], Shown] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # what a person would have seen go wrong, in order
    pages: dict[str, str] = field(default_factory=dict)  # page title -> page_script_hash (the navigation message)
    page_hash: str = ""  # the page shown now
    query: str = ""  # the address bar's query string
    runs: dict[str, Run] = field(default_factory=dict)
    auto_reruns: int = 0  # fragment reruns sent because the server asked for them (auto_rerun)

    def __post_init__(self):
        self._socket = None
        self._reader: asyncio.Task | None = None
        self._timers: dict[str, tuple[float, asyncio.Task]] = {}  # fragment id -> (interval, its timer task)
        self._sequence = 0
        self._current_run: Run | None = None
        self._changed = asyncio.Event()
        self._closed_by_us = False
        self._error_texts: set[str] = set()

    async def __aenter__(self) -> StreamlitSession:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # ----- connection -----

    async def open(self, page: str = "", query: str = "") -> float:
        """Connect and run the page at address ``page`` ("" = the default page) to its end, as a browser's first
        visit; returns the seconds from the first byte sent to the end of that run (raises SessionError)."""
        started = time.perf_counter()
        url = urllib.parse.urlsplit(self.base_url)
        stream = urllib.parse.urlunsplit(("ws" if url.scheme == "http" else "wss", url.netloc, STREAM_PATH, "", ""))
        try:
            # No Origin header (as any non-browser client): the server then checks no XSRF token; the second
            # subprotocol is the slot the browser puts it in.
            self._socket = await websockets.connect(stream, subprotocols=["streamlit", "classroom-bench"],
                                                    max_size=None, open_timeout=self.timeout,
                                                    ping_interval=None)
        except (OSError, websockets.WebSocketException, asyncio.TimeoutError) as error:
            raise SessionError(f"could not open {stream}: {type(error).__name__}: {error}") from error
        self._reader = asyncio.create_task(self._read())
        self.query = query
        mark = await self._send(ClientState(page_name=page, query_string=query))
        await self.wait_finished(mark)
        return time.perf_counter() - started

    async def close(self) -> None:
        """Leave: stop the timers and close the socket, as a closed tab does."""
        self._closed_by_us = True
        for _, timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    # ----- what a person does -----

    async def go_to(self, title: str) -> float:
        """Click the sidebar's link to the page titled ``title``; returns the seconds until its run ended."""
        if title not in self.pages:
            raise SessionError(f"no page titled {title!r}; the navigation lists {sorted(self.pages)}")
        self._stop_timers()  # the front end clears every auto-rerun on a page change
        self.query = ""  # ... and drops the query string
        started = time.perf_counter()
        mark = await self._send(ClientState(page_script_hash=self.pages[title]))
        await self.wait_finished(mark)
        return time.perf_counter() - started

    async def click(self, label: str, root: int = MAIN) -> float:
        """Press the button labelled ``label``; returns the seconds until the run it caused ended."""
        shown = self.find("button", label, root)
        started = time.perf_counter()
        mark = await self.send_widget(WidgetState(id=shown.element.button.id, trigger_value=True), shown.fragment_id)
        await self.wait_finished(mark, shown.fragment_id)
        return time.perf_counter() - started

    async def send_widget(self, state: WidgetState, fragment_id: str = "") -> int:
        """Send one widget's new state (a rerun of ``fragment_id``, or of the page); returns the message mark
        that ``wait_finished`` and ``wait_for`` take."""
        return await self._send(ClientState(widget_states=WidgetStates(widgets=[state]), fragment_id=fragment_id,
                                            page_script_hash=self.page_hash))

    # ----- what the page shows -----

    def find(self, kind: str, label: str | None = None, root: int = MAIN) -> Shown:
        """The newest element of ``kind`` ("button", "metric", ...) whose label is ``label``; raises SessionError."""
        found = self.find_all(kind, label, root)
        if not found:
            raise SessionError(f"no {kind} {label!r} on the page")
        return found[-1]

    def find_all(self, kind: str, label: str | None = None, root: int = MAIN) -> list[Shown]:
        """Every element of ``kind`` (with ``label``) in the ``root`` container, oldest first."""
        found = [shown for path, shown in self.elements.items() if path[0] == root and shown.kind == kind
                 and (label is None or getattr(shown.element, kind).label == label)]
        return sorted(found, key=lambda shown: shown.sequence)

    def texts(self, root: int = MAIN) -> list[str]:
        """The page's markdown, headings, alerts and progress texts, in message order (for checks by eye)."""
        out = []
        for path, shown in sorted(self.elements.items(), key=lambda item: item[1].sequence):
            if path[0] != root:
                continue
            if shown.kind in ("markdown", "heading", "alert"):
                out.append(getattr(shown.element, shown.kind).body)
            elif shown.kind == "progress":
                out.append(shown.element.progress.text)
        return out

    def title(self) -> str:
        """The page's h1 (st.title), "" while none is shown."""
        headings = [shown for shown in self.find_all("heading") if shown.element.heading.tag == "h1"]
        return headings[-1].element.heading.body if headings else ""

    # ----- waiting -----

    def mark(self) -> int:
        """The number of the last message received: what came later has a higher number."""
        return self._sequence

    async def wait_for(self, predicate, timeout: float | None = None, what: str = "an answer"):
        """Wait until ``predicate()`` returns something true (checked at every message); return it."""
        deadline = time.perf_counter() + (self.timeout if timeout is None else timeout)
        while True:
            result = predicate()
            if result:
                return result
            if self._reader is None or self._reader.done():
                raise SessionError(f"the connection closed while waiting for {what}")
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise SessionError(f"no {what} within {self.timeout if timeout is None else timeout:.0f} s")
            event = self._changed
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_finished(self, mark: int, fragment_id: str = "", timeout: float | None = None) -> Run:
        """Wait for a run that started after ``mark`` to finish: the page's (a full run) or the fragment's.

        A run stopped early for another rerun does not count; the rerun that replaced it does. A run that
        failed to compile raises SessionError."""

        def finished() -> Run | None:
            for run in self.runs.values():
                if run.started > mark and run.status is not None and run.status != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    if run.status == COMPILE_ERROR:
                        raise SessionError("the page's script did not compile")
                    if (fragment_id in run.fragment_ids) if fragment_id else not run.fragment_ids:
                        return run
            return None

        return await self.wait_for(finished, timeout, what=f"end of the {'fragment' if fragment_id else 'page'}'s run")

    # ----- the protocol -----

    async def _send(self, state: ClientState) -> int:
        if self._reader is None or self._reader.done():
            raise SessionError("the connection is closed")
        state.query_string = state.query_string or self.query
        # What a browser says about itself; the app reads none of it.
        state.context_info.CopyFrom(ContextInfo(timezone="UTC", timezone_offset=0, locale="en-US",
                                                url=self.base_url + "/", is_embedded=False, color_scheme="light"))
        mark = self._sequence
        try:
            await self._socket.send(BackMsg(rerun_script=state).SerializeToString())
        except websockets.WebSocketException as error:
            raise SessionError(f"could not send: {error}") from error
        return mark

    async def _read(self) -> None:
        try:
            async for frame in self._socket:
                message = ForwardMsg()
                message.ParseFromString(frame)
                self._sequence += 1
                self._handle(message)
                self._changed.set()
                self._changed = asyncio.Event()
        except websockets.ConnectionClosed as closed:
            if not self._closed_by_us:
                self._error(f"connection closed by the server ({closed})")
        finally:
            self._changed.set()

    def _handle(self, message: ForwardMsg) -> None:
        kind = message.WhichOneof("type")
        if kind == "new_session":
            run = Run(message.metadata.run.script_run_id, tuple(message.metadata.run.fragment_ids), self._sequence)
            self.runs[run.run_id] = run
            self._current_run = run
            if not run.fragment_ids:
                self._stop_timers()  # a full run clears every auto-rerun, as the front end does
        elif kind == "navigation":
            self.pages = {page.page_name: page.page_script_hash for page in message.navigation.app_pages}
            self.page_hash = message.navigation.page_script_hash
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            path = tuple(message.metadata.delta_path)
            element = message.delta.new_element
            self.elements[path] = Shown(element, message.delta.fragment_id, self._sequence, time.perf_counter())
            self._check_element(path, element)
        elif kind == "script_finished":
            run = self.runs.get(message.metadata.run.script_run_id) or self._current_run
            if run is not None:
                run.status = message.script_finished
                if message.script_finished in (FINISHED, FRAGMENT_FINISHED):
                    self._drop_stale(run)
            if message.script_finished == COMPILE_ERROR:
                self._error("the page's script did not compile")
        elif kind == "page_info_changed":
            self.query = message.page_info_changed.query_string
        elif kind == "auto_rerun":
            self._start_timer(message.auto_rerun.fragment_id, message.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fragment_id in message.stop_auto_rerun.fragment_ids:
                self._stop_timers(fragment_id)
        elif kind == "page_not_found":
            self._error(f"page not found: {message.page_not_found.page_name!r}")
        elif kind == "session_event" and message.session_event.WhichOneof("type") == "script_compilation_exception":
            self._error(f"script compilation error: {message.session_event.script_compilation_exception.message}")

    def _check_element(self, path: tuple[int, ...], element: Element) -> None:
        kind = element.WhichOneof("type")
        if kind == "exception":
            self._error(f"exception on the page: {element.exception.type}: {element.exception.message[:200]}")
        elif kind == "alert" and element.alert.format == Alert.ERROR:
            self._error(f"st.error: {element.alert.body[:200]}")

    def _error(self, text: str) -> None:
        if text not in self._error_texts:  # an error redrawn by every rerun is one error
            self._error_texts.add(text)
            self.errors.append(text)

    def _drop_stale(self, run: Run) -> None:
        """At the end of a run the front end removes what the run did not draw again: all of the page's for a
        full run, the fragment's own for a fragment run."""
        for path, shown in list(self.elements.items()):
            if shown.sequence < run.started and (not run.fragment_ids or shown.fragment_id in run.fragment_ids):
                del self.elements[path]

    def _start_timer(self, fragment_id: str, interval: float) -> None:
        if not fragment_id or (fragment_id in self._timers and self._timers[fragment_id][0] == interval):
            return
        self._stop_timers(fragment_id)
        self._timers[fragment_id] = (interval, asyncio.create_task(self._auto_rerun(fragment_id, interval)))

    async def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        """The front end's setInterval: a rerun of the fragment every ``interval`` s, finished or not."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self._send(ClientState(fragment_id=fragment_id, is_auto_rerun=True,
                                             page_script_hash=self.page_hash))
            except SessionError:
                return
            self.auto_reruns += 1

    def _stop_timers(self, fragment_id: str | None = None) -> None:
        for key in [fragment_id] if fragment_id else list(self._timers):
            if key in self._timers:
                self._timers.pop(key)[1].cancel()
