# GENERATED from reference_solution/coursekit/views.py by `python -m reference_solution release`; edit the original
"""The base of the interactive views: controls, a figure, cached PNG frames, degrading.

``View`` is what every explorer (``explorers_data``, ``explorers_anomalies``, ``explorers_models``)
subclasses; the helpers here (``control``, ``agg_figure``, ``png``, ``numpy``) are what they
share. The public entry points are in ``widgets``.

Degrading: a view needs ipywidgets and a Jupyter kernel with a widget front end. Without the
``ipywidgets`` package (import fails) or outside a kernel (``IPython.get_ipython()`` is None or
has no ``kernel``, e.g. a plain terminal), or with ``static=True``, displaying a view prints why
and shows the current frame as a static image; the controls still work from code. If a kernel
runs but the browser lacks the widget extension, the notebook shows the view's text form, which
says how to fix it.

Course support code: numpy, matplotlib, ipywidgets and the standard library only.
"""

from __future__ import annotations

import io
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imsave

from .language import tr

try:  # optional: without it the views are static
    import ipywidgets as W
except ImportError:  # pragma: no cover - exercised by monkeypatching W in the tests
    W = None

NO_FRONTEND_HINT = ("Interactive view unavailable: {why}. Showing a static frame; the controls "
                    "still work from code (e.g. view.day.value = 10; view.show()).")
MISSING_EXTENSION_HINT = ("{name}: if you read this text instead of sliders, the notebook has "
                          "no ipywidgets front end; install it in the Jupyter server's "
                          "environment (pip install 'ipywidgets>=8' jupyterlab_widgets) and "
                          "reload, or call .show_static().")


def frontend_problem() -> str | None:
    """Why no interactive view can be shown here, or None if ipywidgets and a kernel exist."""
    if W is None:
        return "the ipywidgets package is not installed (pip install ipywidgets)"
    try:
        from IPython import get_ipython
    except ImportError:
        return "IPython is not installed"
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return "not running in a Jupyter kernel (no widget front end)"
    return None


class Plain:
    """Stand-in for an ipywidgets control when ipywidgets is missing: a value with observers."""

    def __init__(self, value=None, **traits):
        self.__dict__.update(traits)
        self.__dict__["value"] = value
        self._observers: list[Callable] = []

    def __setattr__(self, name, new):
        old = self.__dict__.get(name)
        self.__dict__[name] = new
        if name == "value" and new != old:
            for callback in list(self._observers):
                callback({"name": "value", "old": old, "new": new, "owner": self})

    def observe(self, callback: Callable, names="value") -> None:
        self._observers.append(callback)

    def on_click(self, callback: Callable) -> None:
        self._observers.append(lambda change: callback(self))

    def click(self) -> None:
        for callback in list(self._observers):
            callback({"name": "click"})


def has_widgets() -> bool:
    """Whether ipywidgets imported (looked up at call time, so tests can switch it off)."""
    return W is not None


def control(kind: str, **traits) -> Any:
    """An ipywidgets control (``kind`` e.g. ``"IntSlider"``), or a ``Plain`` stand-in."""
    if W is None:
        return Plain(**traits)
    return getattr(W, kind)(**traits)


def agg_figure(width: float, height: float, dpi: int = 96) -> Figure:
    """A figure outside pyplot: nothing leaks into the notebook's inline output or pyplot state."""
    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi)
    return buffer.getvalue()


def encode_png(rgba: np.ndarray) -> bytes:
    """PNG bytes of an ``(H, W, 4)`` uint8 image; fast zlib level (a third of ``savefig``)."""
    buffer = io.BytesIO()
    imsave(buffer, rgba, format="png", pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


class View:
    """Base of the views: controls, a figure drawn by ``draw(key)``, cached PNG frames.

    Subclasses set ``self.controls`` (widgets shown above the image), call ``_finish`` at the end
    of ``__init__``, and implement ``key()`` (what determines the frame), ``compute()`` (the
    costly numbers, cached per key) and ``draw(state)`` (artists and ``label_text``).
    """

    name = "view"
    cache_size = 128

    def __init__(self, figure: Figure, static: bool = False):
        self.figure = figure
        self.static = static
        self.label_text = ""
        self.last_update_s = 0.0
        self.state: Any = None
        self._frames: OrderedDict[Hashable, tuple[bytes, Any]] = OrderedDict()
        self.controls: list = []
        self.extras: list = []  # widgets shown below the image (galleries)
        # Blitting: artists that change with the controls are drawn over a cached rendering of
        # the rest, which is redrawn only when background_key() changes.
        self.animated: list = []
        self._background: tuple[Hashable, Any] | None = None

    def background_key(self) -> Hashable:
        """What the static part of the figure depends on (e.g. an axis range)."""
        return None

    def render(self) -> bytes:
        """PNG bytes of the figure as drawn now (the whole figure, moving artists included)."""
        canvas = self.figure.canvas
        # A full draw puts an axes' frame over its data, so the frames of the axes holding
        # moving artists move to the overlay too.
        overlay = list(self.animated)
        for artist in self.animated:
            if artist.axes is not None:
                overlay += [s for s in artist.axes.spines.values() if s not in overlay]
        key = self.background_key()
        if self._background is not None and self._background[0] == key:
            canvas.restore_region(self._background[1])
        else:
            for artist in overlay:
                artist.set_animated(True)
            canvas.draw()
            self._background = (key, canvas.copy_from_bbox(self.figure.bbox))
        for artist in overlay:
            self.figure.draw_artist(artist)
        return encode_png(np.asarray(canvas.buffer_rgba()))

    def save(self, path) -> None:
        """Write the frame shown now as a PNG file."""
        with open(path, "wb") as handle:
            handle.write(self.png)

    def key(self) -> Hashable:  # pragma: no cover - abstract
        raise NotImplementedError

    def compute(self) -> Any:
        """The numbers behind the frame of the current controls (cached with the frame)."""
        return None

    def draw(self, state: Any) -> None:  # pragma: no cover - abstract
        """Update the figure's artists and ``label_text`` from ``state`` (cheap, no rendering)."""
        raise NotImplementedError

    def _finish(self) -> None:
        self.label = control("HTML", value="")
        self.image = control("Image", value=b"", format="png")
        if has_widgets():
            # Natural size: a browser that stretches the PNG blurs it.
            self.image.layout = W.Layout(width=f"{round(self.figure.bbox.width)}px",
                                         max_width="100%", height="auto")
            self.widget = W.VBox([W.HBox(self.controls, layout=W.Layout(flex_flow="row wrap")),
                                  self.label, self.image, *self.extras])
            self.widget.add_class(f"coursekit-{self.name}")
        else:
            self.widget = None
        self.update()

    def _watch(self, *widgets) -> None:
        for w in widgets:
            w.observe(lambda change: self.update(), names="value")

    def update(self) -> None:
        """Show the frame of the current control values; PNG rendering is skipped when cached."""
        start = time.perf_counter()
        key = self.key()
        cached = self._frames.get(key)
        if cached is not None:
            self._frames.move_to_end(key)
            self.state = cached[1]
        else:
            self.state = self.compute()
        self.draw(self.state)  # keeps .figure and the public state in step with the controls
        frame = cached[0] if cached is not None else self.render()
        if cached is None:
            self._frames[key] = (frame, self.state)
            if len(self._frames) > self.cache_size:
                self._frames.popitem(last=False)
        self.label.value = self.label_text
        self.image.value = frame
        self.last_update_s = time.perf_counter() - start

    @property
    def png(self) -> bytes:
        """The PNG bytes shown now."""
        return bytes(self.image.value)

    def show_static(self):
        """The current frame as an ``IPython.display.Image`` (or the figure without IPython)."""
        try:
            from IPython.display import Image
        except ImportError:
            return self.figure
        return Image(data=self.png, format="png")

    def _repr_mimebundle_(self, include=None, exclude=None):
        problem = "static=True was passed" if self.static else frontend_problem()
        if problem is None:
            bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
            bundle["text/plain"] = tr(MISSING_EXTENSION_HINT, name=type(self).__name__)
            # every view without a widget manager (nbconvert, nbgrader's autograded notebooks and
            # feedback, GitHub) shows this picture of the first frame instead of the hint text
            bundle["image/png"] = self.png
            return bundle
        print(tr(NO_FRONTEND_HINT, why=problem))
        return {"image/png": self.png, "text/plain": f"<{type(self).__name__}: {self.label_text}>"}

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.label_text}>"


def numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)
