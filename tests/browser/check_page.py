#!/usr/bin/env python3
"""Checks one rendered report: its DOM (as Chromium serialized it), its screenshot and
Chromium's log. Exits 1 with one line per problem.

usage: check_page.py DOM_FILE PNG_FILE LOG_FILE MIN_CHARTS [REQUIRED_CHARTS]

- every <svg class="chart"> must have drawn marks: lines (<path class="series">), bars,
  points or boxes, and no "no data" note;
- at least MIN_CHARTS charts, and every chart named in REQUIRED_CHARTS (ids separated
  by commas; `id:utc` also requires a time axis in UTC: a replay's charts are dated);
- the log must hold no console error or uncaught exception;
- the screenshot must not be blank: more than 2% of its pixels differ from the most
  common colour (a PNG decoder from the standard library, no PIL needed);
- no axis leaves the data's range: the left axis of a chart whose data never goes below
  zero does not go below zero, and no drawn value lies outside its axis;
- no line drawn over time is zero throughout (a chart states such a series instead);
- layout, as layout_check.js measured it in the browser at 1,400 px: no two texts of a
  chart overlap, no text is cut by its chart's edge, no table is wider than its card,
  and the page does not scroll sideways.
"""

import json

import re
import struct
import sys
import zlib
from collections import Counter


def png_pixels(path):
    """Decodes an 8-bit RGB or RGBA, non-interlaced PNG into a list of pixel tuples."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG (depth {depth}, colour {colour}, interlace {interlace})")
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    pixels = []
    i = 0
    for _ in range(height):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 255
        prev = line
        # Every 4th pixel is enough to judge blankness and keeps this fast.
        pixels.extend(bytes(line[x:x + 3]) for x in range(0, stride, bpp * 4))
    return pixels


def main():
    dom_file, png_file, log_file, min_charts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    required = [r for r in (sys.argv[5] if len(sys.argv) > 5 else "").split(",") if r]
    problems = []
    dom = open(dom_file, encoding="utf-8", errors="replace").read()
    charts = re.findall(r"<svg\b[^>]*class=\"chart\"[^>]*>.*?</svg>", dom, flags=re.S)
    if len(charts) < min_charts:
        problems.append(f"{len(charts)} charts in the page, expected at least {min_charts}")
    by_id = {m.group(1): svg for svg in charts for m in [re.search(r'id="([^"]*)"', svg)] if m}
    for want in required:
        ident, _, flag = want.partition(":")
        svg = by_id.get(ident)
        if svg is None:
            problems.append(f"chart `{ident}` is missing")
        elif flag == "utc" and not ('data-x-scale="time"' in svg and "time (UTC)" in svg):
            problems.append(f"chart `{ident}` has no UTC time axis")
    for svg in charts:
        ident = re.search(r'id="([^"]*)"', svg)
        name = ident.group(1) if ident else "?"
        marks = (
            len(re.findall(r'<path class="series"', svg))
            + len(re.findall(r'<rect class="bar"', svg))
            + len(re.findall(r'<circle class="point"', svg))
            + len(re.findall(r'<g class="box"', svg))
        )
        if marks == 0 or "no data" in svg:
            problems.append(f"chart `{name}` is empty")
        if not re.search(r'd="M[0-9.]+,[0-9.]+L', svg) and not re.search(r'<rect class="bar"[^>]*height="(?!0\.00")', svg) \
                and "<circle" not in svg and 'class="box"' not in svg:
            problems.append(f"chart `{name}` has no drawn geometry")
        axis = re.search(r'data-y-axis="([-0-9.e+]+) ([-0-9.e+]+)"', svg)
        data = re.search(r'data-y-data="([-0-9.e+]+) ([-0-9.e+]+)"', svg)
        if axis and data:
            a_lo, a_hi = float(axis.group(1)), float(axis.group(2))
            d_lo, d_hi = float(data.group(1)), float(data.group(2))
            if d_lo >= 0 and a_lo < 0:
                problems.append(f"chart `{name}`: the axis goes down to {a_lo:g} for data that is never negative")
            slack = 1e-9 * max(abs(a_lo), abs(a_hi), 1.0)
            if d_lo < a_lo - slack or d_hi > a_hi + slack:
                problems.append(f"chart `{name}`: data from {d_lo:g} to {d_hi:g} leaves the axis ({a_lo:g} to {a_hi:g})")
        # Over time, a line that is zero throughout is a recorder that saw nothing.
        if 'data-x-scale="time"' in svg:
            for series in re.findall(r'<path class="series" data-series="([^"]*)"[^>]*data-zero="true"', svg):
                problems.append(f"chart `{name}`: series `{series}` is zero throughout")
    found = re.findall(r'<pre id="layout-check">(\[.*?\])</pre>', dom, flags=re.S)
    layout = found[-1] if found else None
    if layout is None:
        problems.append("the layout check did not run (no <pre id=\"layout-check\"> in the DOM)")
    else:
        text = layout.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        problems.extend(f"layout: {p}" for p in json.loads(text))
    log = open(log_file, encoding="utf-8", errors="replace").read()
    for line in log.splitlines():
        if re.search(r"Uncaught|ERROR:CONSOLE|CONSOLE\(\d+\).*[Ee]rror|Refused to", line):
            problems.append(f"console: {line.strip()[:200]}")
    pixels = png_pixels(png_file)
    common, count = Counter(pixels).most_common(1)[0]
    varied = 1 - count / len(pixels)
    if varied < 0.02:
        problems.append(f"screenshot is blank: {varied:.2%} of pixels differ from the background")
    for p in problems:
        print(f"{dom_file}: {p}")
    print(f"{dom_file}: {len(charts)} charts, {varied:.1%} of the screenshot drawn, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
