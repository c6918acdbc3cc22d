"""The Teams app's icons, drawn here so that no binary lives in the repository.

The symbol: a team of three (the one in front a little larger) over a line that rises to
the right - a team that carries someone's work ability upwards. Teams wants a 192x192
full-colour icon (the symbol inside the middle 120x120) and a 32x32 outline: white on
transparent. The shapes are signed distance functions in a unit square, so the same
drawing serves both sizes; edges are anti-aliased by sampling a pixel 4x4 times where a
shape's edge crosses it.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Signed distance in unit-square coordinates: negative inside the shape.
Shape = Callable[[float, float], float]
Rgb = tuple[int, int, int]

BLUE: Rgb = (0, 94, 184)  # #005EB8, also the manifest's accentColor
PALE: Rgb = (184, 214, 242)
WHITE: Rgb = (255, 255, 255)
AMBER: Rgb = (255, 198, 30)
ACCENT = "#005EB8"


def circle(cx: float, cy: float, r: float) -> Shape:
    return lambda x, y: math.hypot(x - cx, y - cy) - r


def capsule(ax: float, ay: float, bx: float, by: float, r: float) -> Shape:
    """A thick line with round ends."""
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy

    def distance(x: float, y: float) -> float:
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / length2))
        return math.hypot(x - ax - t * dx, y - ay - t * dy) - r

    return distance


def polygon(points: Sequence[tuple[float, float]]) -> Shape:
    """A convex polygon, its points counter-clockwise on screen (y grows downwards)."""
    edges = []
    for (x1, y1), (x2, y2) in zip(points, [*points[1:], points[0]], strict=True):
        nx, ny = y2 - y1, x1 - x2
        norm = math.hypot(nx, ny)
        edges.append((x1, y1, nx / norm, ny / norm))

    def distance(x: float, y: float) -> float:
        return max((x - x1) * nx + (y - y1) * ny for x1, y1, nx, ny in edges)

    return distance


def above(y0: float) -> Shape:
    """Everything above the line y = y0."""
    return lambda x, y: y - y0


def union(*shapes: Shape) -> Shape:
    return lambda x, y: min(s(x, y) for s in shapes)


def intersection(*shapes: Shape) -> Shape:
    return lambda x, y: max(s(x, y) for s in shapes)


def grown(shape: Shape, by: float) -> Shape:
    return lambda x, y: shape(x, y) - by


def scaled(shape: Shape, k: float) -> Shape:
    """The shape shrunk (k < 1) or grown about the centre of the square."""
    return lambda x, y: shape((x - 0.5) / k + 0.5, (y - 0.5) / k + 0.5) * k


def person(cx: float, top: float, scale: float) -> Shape:
    """Head and shoulders, `top` being the crown of the head."""
    head_r = 0.088 * scale
    head = circle(cx, top + head_r, head_r)
    shoulders_top = top + 2 * head_r + 0.036 * scale
    body_r = 0.165 * scale
    body = intersection(circle(cx, shoulders_top + body_r, body_r), above(shoulders_top + body_r))
    return union(head, body)


@dataclass(frozen=True)
class Symbol:
    """The parts of the symbol, each drawn over the ones before it."""

    back: Shape
    front: Shape
    rise: Shape


def symbol(k: float = 1.0) -> Symbol:
    """The symbol filling the square (k = 1) or shrunk about its centre."""
    left = person(0.31, 0.245, 0.8)
    right = person(0.69, 0.245, 0.8)
    front = person(0.5, 0.19, 1.0)
    # The line rises from lower left to upper right and ends in an arrowhead.
    line = capsule(0.21, 0.78, 0.66, 0.655, 0.034)
    head = polygon([(0.62, 0.59), (0.80, 0.62), (0.68, 0.76)])
    return Symbol(
        back=scaled(union(left, right), k),
        front=scaled(front, k),
        rise=scaled(union(line, head), k),
    )


def _coverage(shape: Shape, px: int, py: int, size: int) -> float:
    """How much of pixel (px, py) the shape covers, 0..1."""
    scale = 1.0 / size
    d = shape((px + 0.5) * scale, (py + 0.5) * scale) * size
    if d <= -0.75:
        return 1.0
    if d >= 0.75:
        return 0.0
    hits = 0
    for sy in range(4):
        for sx in range(4):
            if shape((px + (sx + 0.5) / 4) * scale, (py + (sy + 0.5) / 4) * scale) <= 0:
                hits += 1
    return hits / 16


Layer = tuple[Shape, Rgb]


def render(size: int, layers: Sequence[Layer], background: Rgb | None) -> list[bytearray]:
    """RGBA rows: the layers painted in order over the background (None: transparent)."""
    rows = []
    for py in range(size):
        row = bytearray()
        for px in range(size):
            r, g, b = background or (0, 0, 0)
            a = 1.0 if background else 0.0
            for shape, (lr, lg, lb) in layers:
                c = _coverage(shape, px, py, size)
                if c == 0.0:
                    continue
                # Porter-Duff "over", straight (non-premultiplied) alpha.
                out = c + a * (1 - c)
                r = round((lr * c + r * a * (1 - c)) / out)
                g = round((lg * c + g * a * (1 - c)) / out)
                b = round((lb * c + b * a * (1 - c)) / out)
                a = out
            row += bytes((r, g, b, round(a * 255)))
        rows.append(row)
    return rows


def png(rows: Sequence[bytes | bytearray]) -> bytes:
    """An RGBA PNG of the given rows (filter type 0 on every row)."""
    height, width = len(rows), len(rows[0]) // 4

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def color_icon(size: int = 192) -> bytes:
    """Full bleed blue; the team in white and pale blue, the rising line in amber."""
    parts = symbol(0.88)  # inside the 120x120 middle that Teams keeps clear of its mask
    gap = 0.022
    layers: list[Layer] = [
        (parts.back, PALE),
        # A ring of background keeps the figure in front apart from the two behind it.
        (grown(parts.front, gap), BLUE),
        (parts.front, WHITE),
        (grown(parts.rise, gap), BLUE),
        (parts.rise, AMBER),
    ]
    return png(render(size, layers, BLUE))


def outline_icon(size: int = 32) -> bytes:
    """White on transparent; the gaps between the parts are cut out, not painted."""
    parts = symbol(1.12)  # nothing masks the outline: the symbol may use the whole square
    gap = 0.05  # wider than in colour: at 32 px a gap must be at least a pixel and a half
    front_cut = grown(parts.front, gap)
    rise_cut = grown(parts.rise, gap)
    back = intersection(parts.back, lambda x, y: -front_cut(x, y), lambda x, y: -rise_cut(x, y))
    front = intersection(parts.front, lambda x, y: -rise_cut(x, y))
    return png(render(size, [(union(back, front, parts.rise), WHITE)], None))
