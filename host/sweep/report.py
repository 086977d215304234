"""What a sweep shows: its Pareto fronts as PNG and one self-contained HTML page.

Two fronts, each of points no other point beats on both counts:

- sustained GOPS against LUTs (built points only: the LUTs are the build's);
- sustained GOPS against US dollars per sustained GOPS, from the device catalog's prices
  (:func:`systolic.host.cost.device_price`, which converts other currencies); points on a
  device without a price are left out, with a note saying which.

A point's sustained GOPS is its build's (the model's cycles at the clock the build reaches,
its Fmax when it misses the target) when it was built, else the model's at its target clock.
``sweep.html`` inlines the pictures (base64) and the tables, so it opens from disk and can be
mailed as one file. Drawn with matplotlib's object API on the Agg canvas, written atomically.
"""

import base64
import html
import math

from ..output import atomic_path, write_atomic

__all__ = ["figures", "pareto_front", "write_report", "point_label", "LUT_PLOT", "PRICE_PLOT",
           "HTML_NAME"]

LUT_PLOT = "pareto-luts.png"
PRICE_PLOT = "pareto-price.png"
HTML_NAME = "sweep.html"


def figures(record, prices=None):
    """The headline figures of a record: ``sustained_gops``, ``peak_gops``, ``lut``,
    ``usd_per_gops``, ``price_note`` (why there is no price); ``None`` where there is none.

    ``prices`` overrides catalog prices (``{device: USD}``).
    """
    from ..cost import device_price
    out = {"sustained_gops": None, "peak_gops": None, "lut": None, "usd_per_gops": None,
           "price_note": None}
    if record.get("status") != "ok" or not record.get("model"):
        return out
    model, build = record["model"], record.get("build")
    if build:
        out.update(sustained_gops=build["sustained_gops"], peak_gops=build["peak_gops"],
                   lut=build["lut"]["used"])
    else:
        out.update(sustained_gops=model["sustained_gops"], peak_gops=model["peak_gops"])
    usd, source = device_price(record["device"], prices)
    if usd is None:
        out["price_note"] = source
    elif out["sustained_gops"]:
        out["usd_per_gops"] = usd / out["sustained_gops"]
    return out


def pareto_front(items, x, y):
    """Return the items no other item beats on both counts: smaller ``x(item)``, larger
    ``y(item)``; in order of ``x``. Items with ``None`` for either are left out."""
    scored = [(x(item), y(item), index, item) for index, item in enumerate(items)]
    scored = sorted((s for s in scored if s[0] is not None and s[1] is not None),
                    key=lambda s: (s[0], -s[1], s[2]))
    front, best = [], -math.inf
    for xv, yv, _, item in scored:
        if yv > best:
            front.append(item)
            best = yv
    return front


def _varying(records):
    """The axes whose values differ between the records (what a label must say)."""
    from .space import AXIS_NAMES
    return [name for name in AXIS_NAMES
            if len({repr(r["point"].get(name)) for r in records}) > 1]


def point_label(record, varying=None):
    """A short label of a point: the array and whatever else varies in the sweep."""
    point = record["point"]
    parts = [f"{point['rows']}x{point['cols']}"]
    for name in varying or ():
        if name in ("rows", "cols"):
            continue
        parts.append(_LABELS.get(name, str)(point.get(name)))
    return " ".join(parts)


_LABELS = {"clock_mhz": lambda v: f"{v:g} MHz", "seed": lambda v: f"seed {v}",
           "width": lambda v: f"int{v}", "pipeline": lambda v: f"p{v}",
           "placer": lambda v: f"{v} placer"}


def _plot(path, points, front, xlabel, title, log_x=False):
    """Scatter ``points`` (``(record, x, y)``) by board, the front as a step line; write PNG.

    The front's points are labelled with what varies among the plotted points."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    varying = _varying([record for record, _, _ in points])
    boards = sorted({record["point"]["board"] for record, _, _ in points})
    markers = "os^Dv<>PX*"
    for i, board in enumerate(boards):
        mine = [(x, y) for record, x, y in points if record["point"]["board"] == board]
        ax.scatter([x for x, _ in mine], [y for _, y in mine], marker=markers[i % len(markers)],
                   alpha=0.75, label=board, zorder=3)
    fx = [x for _, x, _ in front]
    fy = [y for _, _, y in front]
    ax.plot(fx, fy, color="black", linestyle="--", linewidth=1, drawstyle="steps-post",
            label="Pareto front", zorder=2)
    for record, x, y in front:
        ax.annotate(point_label(record, varying), (x, y), textcoords="offset points",
                    xytext=(5, 5), fontsize=8)
    ys = [y for _, _, y in points if y > 0]
    if ys and max(ys) / min(ys) > 30:
        ax.set_yscale("log")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("sustained GOPS")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


def _gemm_words(records):
    settings = next((r["settings"] for r in records if r.get("settings")), {})
    gemms = settings.get("gemms", [])
    if settings.get("workload"):
        return (f"the workload {settings['workload']} ({sum(g[3] for g in gemms):,} GEMMs of "
                f"{len(gemms)} shapes)")
    return ", ".join("x".join(map(str, g)) for g in gemms) or "none"


def write_report(records, out, *, prices=None, title="systolic sweep", meta=None):
    """Draw the fronts and write ``sweep.html`` for ``records`` under ``out``.

    Returns ``{"pictures": {name: path or None}, "notes": [...], "fronts": {...},
    "html": path}``; ``fronts`` holds the ids of the points on each front.
    """
    from pathlib import Path
    out = Path(out)
    figs = {record["id"]: figures(record, prices) for record in records}
    notes, pictures, fronts = [], {}, {}
    gemms = _gemm_words(records)

    built = [(r, figs[r["id"]]["lut"], figs[r["id"]]["sustained_gops"]) for r in records
             if figs[r["id"]]["lut"] is not None and figs[r["id"]]["sustained_gops"] is not None]
    front = pareto_front(built, lambda p: p[1], lambda p: p[2])
    fronts["luts"] = [r["id"] for r, _, _ in front]
    if built:
        pictures["luts"] = out / LUT_PLOT
        _plot(pictures["luts"], built, front, "LUTs used (build)",
              f"Sustained GOPS against LUTs (GEMM {gemms})")
    else:
        pictures["luts"] = None
        notes.append("No point was built, so there is no LUT picture: run the sweep with "
                     "--build.")

    priced = [(r, figs[r["id"]]["usd_per_gops"], figs[r["id"]]["sustained_gops"])
              for r in records if figs[r["id"]]["usd_per_gops"] is not None]
    unpriced = sorted({r["device"] for r in records
                       if figs[r["id"]]["price_note"] and figs[r["id"]]["sustained_gops"]})
    if unpriced:
        notes.append("Left out of the price picture (no price in the device catalog, "
                     "boards/devices.json; give --device-price DEVICE=USD): "
                     + ", ".join(unpriced) + ".")
    front = pareto_front(priced, lambda p: p[1], lambda p: p[2])
    fronts["price"] = [r["id"] for r, _, _ in front]
    if priced:
        pictures["price"] = out / PRICE_PLOT
        xs = [x for _, x, _ in priced]
        _plot(pictures["price"], priced, front, "US dollars of FPGA per sustained GOPS",
              f"Sustained GOPS against price per GOPS (GEMM {gemms})",
              log_x=max(xs) / min(xs) > 30)
    else:
        pictures["price"] = None
        notes.append("No point has both a device price and a throughput, so there is no price "
                     "picture.")

    page = _html(records, figs, pictures, notes, fronts, title, meta or {}, gemms)
    write_atomic(out / HTML_NAME, page)
    return {"pictures": pictures, "notes": notes, "fronts": fronts, "html": out / HTML_NAME}


# The page ---------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f0f0f0; }
td.text { text-align: left; }
tr.invalid td, tr.no-fit td { color: #8a6d00; }
tr.failed td { color: #b00020; }
tr.front td { font-weight: bold; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0 1.5em 0; }
.note { background: #fff8e0; padding: 0.5em 1em; border-left: 4px solid #e0b000; }
"""

_COLUMNS = ("status", "board", "design", "array", "width", "dataflow", "pipeline",
            "clock MHz", "seed", "MACs", "peak GOPS", "sustained GOPS", "efficiency", "buffers",
            "LUT", "FF", "DSP", "BRAM", "Fmax MHz", "timing", "build s", "USD / GOPS", "note")
_TEXT = {"status", "board", "design", "array", "dataflow", "buffers", "timing", "note"}


def _number(value, digits=2):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _row(record, fig):
    point, model, build = record["point"], record.get("model"), record.get("build") or {}
    buffers = ""
    if model:
        b = model["buffers"]
        buffers = (f"K {b['k_depth']}, {b['m_blocks']}x{b['n_blocks']} blocks, {b['buffer_ram']}"
                   f" RAM; jobs {'x'.join(map(str, b['max_job']))}")
    note = record.get("reason") or ""
    if record.get("log") and record["status"] != "ok":
        note = note if "log:" in note else f"{note} (log: {record['log']})"
    used = {key: build[key]["used"] if isinstance(build.get(key), dict) else None
            for key in ("lut", "ff", "dsp", "bram")}
    return {
        "status": record["status"], "board": point["board"], "design": point["design"],
        "array": f"{point['rows']}x{point['cols']}", "width": point["width"],
        "dataflow": point["dataflow"], "pipeline": point["pipeline"],
        "clock MHz": _number(float(point["clock_mhz"]), 1),
        "seed": "nextpnr's" if point["seed"] is None else point["seed"],
        "MACs": model["macs"] if model else "",
        "peak GOPS": _number(fig["peak_gops"]), "sustained GOPS": _number(fig["sustained_gops"]),
        "efficiency": _number(model["sustained_efficiency"], 3) if model else "",
        "buffers": buffers,
        "LUT": _number(used["lut"]), "FF": _number(used["ff"]), "DSP": _number(used["dsp"]),
        "BRAM": _number(used["bram"]), "Fmax MHz": _number(build.get("fmax_mhz")),
        "timing": {True: "met", False: "NOT met"}.get(build.get("timing_met"), ""),
        "build s": _number(build.get("seconds"), 0),
        "USD / GOPS": _number(fig["usd_per_gops"]),
        "note": note,
    }


def _table(records, figs, highlight=()):
    head = "".join(f"<th>{html.escape(c)}</th>" for c in _COLUMNS)
    lines = [f"<table><tr>{head}</tr>"]
    for record in records:
        row = _row(record, figs[record["id"]])
        classes = [record["status"]] + (["front"] if record["id"] in highlight else [])
        cells = "".join(f'<td class="text">{html.escape(str(row[c]))}</td>' if c in _TEXT
                        else f"<td>{html.escape(str(row[c]))}</td>" for c in _COLUMNS)
        lines.append(f'<tr class="{" ".join(classes)}" title="{html.escape(record["id"])}">'
                     f"{cells}</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _image(path):
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


def _order(records, figs):
    rank = {"ok": 0, "no-fit": 1, "invalid": 2, "failed": 3}
    return sorted(records, key=lambda r: (rank.get(r["status"], 4),
                                          -(figs[r["id"]]["sustained_gops"] or 0), r["id"]))


def _html(records, figs, pictures, notes, fronts, title, meta, gemms):
    counts = {}
    for record in records:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    by_id = {r["id"]: r for r in records}
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(records)} points: "
        + ", ".join(f"{n} {html.escape(s)}" for s, n in sorted(counts.items()))
        + f". Sustained GOPS over the GEMM {html.escape(gemms)} (operand loads included), from "
          "the engine model; on a built point at the clock the build reaches.</p>",
    ]
    if meta.get("command"):
        parts.append(f"<p>Command: <code>{html.escape(meta['command'])}</code></p>")
    if meta.get("machine"):
        parts.append(f"<p>Machine: {html.escape(meta['machine'])}</p>")
    for note in notes:
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    for key, heading in (("luts", "Sustained GOPS against LUTs"),
                         ("price", "Sustained GOPS against US dollars per sustained GOPS")):
        if pictures.get(key) is None:
            continue
        front = [by_id[i] for i in fronts[key]]
        parts += [f"<h2>{html.escape(heading)}</h2>", _image(pictures[key]),
                  f"<h3>The front ({len(front)} points)</h3>", _table(front, figs)]
    parts += ["<h2>Every point</h2>",
              "<p>Bold rows are on a front. Hover a row for its id (its record is "
              "points/&lt;id&gt;.json).</p>",
              _table(_order(records, figs), figs, set(fronts["luts"]) | set(fronts["price"])),
              "</body></html>"]
    return "\n".join(parts) + "\n"
