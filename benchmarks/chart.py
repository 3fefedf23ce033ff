"""PNG bar charts, one panel per metric: matplotlib when it is installed, else a tiny built-in renderer.

The built-in renderer needs nothing but the standard library: an RGB canvas, rectangles, lines, a
5x7 bitmap font, and a PNG writer (zlib + struct).  Values span orders of magnitude between the
implementations, so the value axis is logarithmic and every bar carries its value.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

RGB = tuple[int, int, int]

PALETTE: dict[str, RGB] = {
    "fastsio": (31, 119, 180),
    "fastsio-pure": (174, 199, 232),
    "fastsio-uvicorn": (23, 190, 207),
    "python-socketio-uvicorn": (255, 127, 14),
    "node-socketio": (44, 160, 44),
    "node-socketio-uws": (214, 39, 40),
    "floor-write": (148, 103, 189),
    "floor-coalesce": (127, 127, 127),
}
SHORT_NAMES: dict[str, str] = {
    "fastsio-pure": "pure",
    "fastsio-uvicorn": "fs-uvi",
    "python-socketio-uvicorn": "psio",
    "node-socketio": "node",
    "node-socketio-uws": "node-uws",
    "floor-write": "fl-write",
    "floor-coalesce": "fl-coal",
}
FALLBACK_COLOURS: list[RGB] = [(140, 86, 75), (227, 119, 194), (188, 189, 34), (255, 187, 120)]


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    higher_is_better: bool
    bars: Sequence[tuple[str, float | None]]  # (implementation, value); None = no result


def short_name(name: str) -> str:
    """The label under a bar: a baseline fastsio@<sha> is @<sha>."""
    if name.startswith("fastsio@"):
        return name[len("fastsio") :]
    return SHORT_NAMES.get(name, name)


def colour_of(name: str, order: Sequence[str]) -> RGB:
    if name in PALETTE:
        return PALETTE[name]
    extra = [n for n in order if n not in PALETTE]
    return FALLBACK_COLOURS[extra.index(name) % len(FALLBACK_COLOURS)] if name in extra else (0, 0, 0)


def human(value: float) -> str:
    """3 significant digits with k/M/G suffixes: 5.52M, 134k, 14.2, 0.53."""
    a = abs(value)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            v = value / div
            return (f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}") + suffix
    if a >= 100 or a == 0:
        return f"{value:.0f}"
    return f"{value:.3g}"


def render(panels: Sequence[Panel], path: str, title: str, implementations: Sequence[str]) -> str:
    """Write the chart to ``path``; returns which renderer was used ("matplotlib" or "builtin")."""
    try:
        import matplotlib  # type: ignore[import-not-found,import-untyped,unused-ignore]

        matplotlib.use("Agg")
    except Exception:  # noqa: BLE001 - any failure to load matplotlib means the built-in renderer
        _render_builtin(panels, path, title, implementations)
        return "builtin"
    _render_matplotlib(panels, path, title, implementations)
    return "matplotlib"


# ---------------------------------------------------------------------------------------------------
# matplotlib


def _render_matplotlib(panels: Sequence[Panel], path: str, title: str, order: Sequence[str]) -> None:
    from matplotlib import pyplot  # type: ignore[import-not-found,import-untyped,unused-ignore]

    cols = 3 if len(panels) > 4 else max(1, len(panels))
    rows = max(1, math.ceil(len(panels) / cols))
    fig, axes = pyplot.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    for i, panel in enumerate(panels):
        ax = axes[i // cols][i % cols]
        names = [n for n, _ in panel.bars]
        values = [v if v is not None and v > 0 else 0.0 for _, v in panel.bars]
        colours = [tuple(c / 255 for c in colour_of(n, order)) for n in names]
        ax.bar(range(len(names)), values, color=colours)
        if any(v > 0 for v in values):
            ax.set_yscale("log")
        for x, (_, v) in enumerate(panel.bars):
            label = "n/a" if v is None else human(v)
            ax.annotate(label, (x, max(values[x], 1e-9)), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([short_name(n) for n in names], fontsize=7)
        hint = "higher is better" if panel.higher_is_better else "lower is better"
        ax.set_title(f"{panel.title}\n{panel.unit}, {hint}", fontsize=8)
    for j in range(len(panels), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot.close(fig)


# ---------------------------------------------------------------------------------------------------
# built-in renderer

# 5x7 font, column-major, bit 0 = top row (the classic HD44780-style glyphs), for ASCII 32..126.
_FONT_HEX = (
    "0000000000"
    "00005f0000"
    "0007000700"
    "147f147f14"
    "242a7f2a12"
    "2313086462"
    "3649552250"
    "0005030000"
    "001c224100"
    "0041221c00"
    "082a1c2a08"
    "08083e0808"
    "0050300000"
    "0808080808"
    "0060600000"
    "2010080402"
    "3e5149453e"
    "00427f4000"
    "4261514946"
    "2141454b31"
    "1814127f10"
    "2745454539"
    "3c4a494930"
    "0171090503"
    "3649494936"
    "064949291e"
    "0036360000"
    "0056360000"
    "0008142241"
    "1414141414"
    "4122140800"
    "0201510906"
    "324979413e"
    "7e1111117e"
    "7f49494936"
    "3e41414122"
    "7f4141221c"
    "7f49494941"
    "7f09090101"
    "3e41415132"
    "7f0808087f"
    "00417f4100"
    "2040413f01"
    "7f08142241"
    "7f40404040"
    "7f0204027f"
    "7f0408107f"
    "3e4141413e"
    "7f09090906"
    "3e4151215e"
    "7f09192946"
    "4649494931"
    "01017f0101"
    "3f4040403f"
    "1f2040201f"
    "7f2018207f"
    "6314081463"
    "0304780403"
    "6151494543"
    "00007f4141"
    "0204081020"
    "41417f0000"
    "0402010204"
    "4040404040"
    "0001020400"
    "2054545478"
    "7f48444438"
    "3844444420"
    "384444487f"
    "3854545418"
    "087e090102"
    "081454543c"
    "7f08040478"
    "00447d4000"
    "2040443d00"
    "007f102844"
    "00417f4000"
    "7c04180478"
    "7c08040478"
    "3844444438"
    "7c14141408"
    "081414187c"
    "7c08040408"
    "4854545420"
    "043f444020"
    "3c4040207c"
    "1c2040201c"
    "3c4030403c"
    "4428102844"
    "0c5050503c"
    "4464544c44"
    "0008364100"
    "00007f0000"
    "0041360800"
    "0804080408"
)
_FONT: dict[str, bytes] = {chr(32 + i): bytes.fromhex(_FONT_HEX[i * 10 : i * 10 + 10]) for i in range(95)}


class Canvas:
    def __init__(self, width: int, height: int, background: RGB = (255, 255, 255)) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(background) * (width * height))

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: RGB) -> None:
        """Fill [x0, x1) x [y0, y1), clipped."""
        x0, x1 = max(0, min(x0, x1)), min(self.width, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.height, max(y0, y1))
        if x0 >= x1 or y0 >= y1:
            return
        row = bytes(colour) * (x1 - x0)
        for y in range(y0, y1):
            start = (y * self.width + x0) * 3
            self.pixels[start : start + len(row)] = row

    def hline(self, x0: int, x1: int, y: int, colour: RGB, dashed: bool = False) -> None:
        if not dashed:
            self.rect(x0, y, x1, y + 1, colour)
            return
        for x in range(x0, x1, 6):
            self.rect(x, y, min(x + 3, x1), y + 1, colour)

    def vline(self, x: int, y0: int, y1: int, colour: RGB) -> None:
        self.rect(x, y0, x + 1, y1, colour)

    def text(self, x: int, y: int, s: str, colour: RGB = (0, 0, 0), scale: int = 1) -> None:
        for ch in s:
            glyph = _FONT.get(ch, _FONT["?"])
            for cx, col in enumerate(glyph):
                for cy in range(7):
                    if col >> cy & 1:
                        self.rect(x + cx * scale, y + cy * scale, x + (cx + 1) * scale, y + (cy + 1) * scale, colour)
            x += 6 * scale

    @staticmethod
    def text_width(s: str, scale: int = 1) -> int:
        return max(0, len(s) * 6 * scale - scale)

    def text_centered(self, cx: int, y: int, s: str, colour: RGB = (0, 0, 0), scale: int = 1) -> None:
        self.text(cx - self.text_width(s, scale) // 2, y, s, colour, scale)

    def png(self) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        stride = self.width * 3
        raw = b"".join(b"\x00" + bytes(self.pixels[y * stride : (y + 1) * stride]) for y in range(self.height))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
        )


def _fit(s: str, width: int, scale: int = 1) -> str:
    limit = max(1, (width + scale) // (6 * scale))
    return s if len(s) <= limit else s[: max(1, limit - 1)] + "."


def _render_builtin(panels: Sequence[Panel], path: str, title: str, order: Sequence[str]) -> None:
    cols = 3 if len(panels) > 4 else max(1, len(panels))
    rows = max(1, math.ceil(len(panels) / cols))
    pw, ph = 420, 300  # panel size
    top = 64  # title and legend
    width, height = cols * pw, top + rows * ph
    cv = Canvas(width, height)
    cv.text_centered(width // 2, 10, _fit(title, width - 20, 2), scale=2)

    # legend
    names = list(order)
    x, y = 16, 38
    for name in names:
        w = 14 + cv.text_width(name) + 18
        if x + w > width - 10:
            x, y = 16, y + 12
        cv.rect(x, y, x + 10, y + 8, colour_of(name, order))
        cv.text(x + 14, y + 1, name)
        x += w

    grey, light, dark = (140, 140, 140), (225, 225, 225), (40, 40, 40)
    for i, panel in enumerate(panels):
        px, py = (i % cols) * pw, top + (i // cols) * ph
        hint = "higher is better" if panel.higher_is_better else "lower is better"
        cv.text_centered(px + pw // 2, py + 6, _fit(panel.title, pw - 12))
        cv.text_centered(px + pw // 2, py + 17, _fit(f"{panel.unit}, {hint} (log scale)", pw - 12), grey)
        # plot area
        ax0, ax1 = px + 44, px + pw - 12
        ay0, ay1 = py + 42, py + ph - 24  # top, bottom (bottom = baseline)
        values = [v for _, v in panel.bars if v is not None and v > 0]
        if not values:
            cv.text_centered(px + pw // 2, (ay0 + ay1) // 2, "no results", grey)
            continue
        lo = math.floor(math.log10(min(values)) - 0.25)  # the shortest bar stays visible
        hi = math.ceil(math.log10(max(values)) + 0.15)
        if hi <= lo:
            hi = lo + 1
        lo = min(lo, hi - 1)

        def ypos(v: float, lo: int = lo, hi: int = hi, top: int = ay0, bottom: int = ay1) -> int:
            return round(bottom - (math.log10(v) - lo) / (hi - lo) * (bottom - top))

        for e in range(lo, hi + 1):
            yy = ypos(10.0**e)
            cv.hline(ax0, ax1, yy, light, dashed=e != lo)
            label = human(10.0**e)
            cv.text(ax0 - 4 - cv.text_width(label), yy - 3, label, grey)
        cv.vline(ax0, ay0, ay1 + 1, grey)
        cv.hline(ax0, ax1, ay1, grey)

        n = len(panel.bars)
        slot = (ax1 - ax0) / max(1, n)
        bw = max(4, int(slot * 0.62))
        for j, (name, value) in enumerate(panel.bars):
            cx = round(ax0 + slot * (j + 0.5))
            if value is None or value <= 0:
                cv.text_centered(cx, ay1 - 10, "n/a", grey)
            else:
                yy = ypos(value)
                cv.rect(cx - bw // 2, yy, cx + bw // 2, ay1, colour_of(name, order))
                cv.text_centered(cx, yy - 9, human(value), dark)
            short = _fit(short_name(name), int(slot) - 2)
            cv.text_centered(cx, ay1 + 6, short, dark)

    with open(path, "wb") as f:
        f.write(cv.png())
