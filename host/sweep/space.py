"""The design space of a sweep: its axes, a plan file, and the points they span.

A sweep is the Cartesian product of its axes (``--rows 4,8 --cols 8,16 ...`` or a TOML plan
file), or the union of several such products (a plan's ``[[group]]`` tables). Every point is a
dict with one value per axis of :data:`AXES`; an axis left unset takes the board's default
(what ``systolic build --board NAME`` builds), so every point is concrete and has a stable
:func:`point_id`, which names its record in the store and its build directory.

Standard library only: the values are checked for their syntax here, for their meaning where
the point is evaluated (:mod:`.sweep_point`), so that a point with an invalid configuration is
recorded as such rather than stopping the sweep.
"""

import itertools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError

__all__ = ["Axis", "AXES", "AXIS_NAMES", "DESIGNS", "DEFAULT_GEMM", "parse_list", "parse_gemm",
           "load_plan", "expand", "resolve", "point_id"]

#: What a point builds: the engine behind its UART bridge, or the array alone
#: (``systolic build --design``).
DESIGNS = ("engine", "array")
#: The GEMM whose sustained throughput a point reports unless told otherwise (M, K, N).
DEFAULT_GEMM = (256, 256, 256)


def _integer(text):
    try:
        return int(str(text).strip())
    except ValueError:
        raise ValueError("is not a whole number") from None


def _mhz(text):
    try:
        value = float(str(text).strip())
    except ValueError:
        raise ValueError("is not a frequency in MHz") from None
    if not value > 0:
        raise ValueError("is not a frequency in MHz > 0")
    return value


def _name(text):
    text = str(text).strip()
    if not text:
        raise ValueError("is empty")
    return text


def _design(text):
    text = _name(text)
    if text not in DESIGNS:
        raise ValueError(f"is not one of {', '.join(DESIGNS)}")
    return text


def _placer(text):
    from ...boards.toolchain import PLACERS
    text = _name(text)
    if text not in PLACERS:
        raise ValueError(f"is not one of {', '.join(PLACERS)}")
    return text


@dataclass(frozen=True)
class Axis:
    """One dimension of the design space.

    Attributes
    ----------
    name : str
        Key in a point and in a plan file (``clock_mhz``; a plan may also write ``clock-mhz``).
    parse : callable
        Text (or a TOML value) to value; raises ``ValueError`` saying what is wrong.
    metavar, help : str
        For ``--help``.
    """

    name: str
    parse: object
    metavar: str
    help: str

    @property
    def flag(self):
        """The command-line option: ``--clock-mhz``."""
        return "--" + self.name.replace("_", "-")


#: The axes, in the order a point's id lists them. ``None`` in a point means the board's
#: default until :func:`resolve` fills it in.
AXES = (
    Axis("board", _name, "NAMES", "boards (see 'systolic boards')"),
    Axis("design", _design, "DESIGNS", "engine (default) and/or array (the array alone, as "
                                       "'systolic build --design array')"),
    Axis("rows", _integer, "R,...", "array rows (default: the board's)"),
    Axis("cols", _integer, "C,...", "array columns (default: the board's)"),
    Axis("width", _integer, "W,...", "operand width in bits, both operands (default 8)"),
    Axis("dataflow", _name, "NAMES", "dataflows (default output-stationary; a dataflow the "
                                     "gateware lacks is recorded as an invalid point)"),
    Axis("pipeline", _integer, "N,...", "extra register stages, 0 or 1 (default: the board's)"),
    Axis("clock_mhz", _mhz, "F,...", "main clock targets in MHz (default: the board's)"),
    Axis("seed", _integer, "S,...", "nextpnr placer seeds (default: the board's)"),
    Axis("placer", _placer, "NAMES", "nextpnr placers: heap, static and/or sa (default: the "
                                     "board's; as 'systolic build --placer')"),
)
AXIS_NAMES = tuple(axis.name for axis in AXES)
_AXIS = {axis.name: axis for axis in AXES}


def parse_list(axis_name, value, where=None):
    """Return the list of values that ``value`` gives an axis.

    ``value`` is a comma-separated string (``"4,8,16"``), a single TOML value or a TOML list.
    Raises :class:`UsageError` naming ``where`` (default the axis' option) and the bad item.
    """
    axis = _AXIS[axis_name]
    where = where or axis.flag
    if isinstance(value, list):
        items = value
    else:
        items = value.split(",") if isinstance(value, str) else [value]
    if not items or any(isinstance(item, (list, dict, bool)) for item in items):
        raise UsageError(f"{where}: expected a comma-separated list of values, got {value!r}")
    values = []
    for item in items:
        try:
            parsed = axis.parse(item)
        except ValueError as exc:
            raise UsageError(f"{where}: {str(item).strip()!r} {exc} (give a comma-separated "
                             f"list, e.g. {axis.flag} {axis.metavar})") from None
        if parsed not in values:
            values.append(parsed)
    return values


def parse_gemm(value, where="--gemm"):
    """Return ``(m, k, n)`` from ``"M,K,N"`` or a list of three whole numbers >= 1."""
    items = value if isinstance(value, list) else str(value).split(",")
    try:
        dims = tuple(int(str(item).strip()) for item in items)
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) < 1:
        raise UsageError(f"{where}: expected M,K,N, three whole numbers >= 1 (e.g. 256,256,256); "
                         f"got {value!r}")
    return dims


def _plan_table(table, where, extra=()):
    """The axes of one plan table: ``{axis: [values]}`` (hyphens in keys read as underscores).

    Keys other than the axes and ``extra`` are refused."""
    axes = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name in AXIS_NAMES:
            axes[name] = parse_list(name, value, where=f"{where}: {key}")
        elif name not in extra:
            raise UsageError(f"{where}: unknown key {key!r}; known: "
                             f"{', '.join(AXIS_NAMES + tuple(extra))}")
    return axes


def load_plan(path):
    """Read a TOML plan file; return ``(groups, gemm or None)``.

    The top level gives axes (``rows = [4, 8]``, ``clock_mhz = 150``, or the command line's
    ``"4,8"``) and optionally ``gemm = [M, K, N]``; each ``[[group]]`` table gives axes that
    override the top level's for its own product. Without groups the top level is the one
    group. ``groups`` is a list of ``{axis: [values]}``.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"plan {path}: cannot read it: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"plan {path}: not valid TOML: {exc}") from None
    top = _plan_table(data, f"plan {path}", extra=("gemm", "group"))
    gemm = parse_gemm(data["gemm"], where=f"plan {path}: gemm") if "gemm" in data else None
    groups = data.get("group", [])
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise UsageError(f"plan {path}: 'group' must be an array of tables ([[group]])")
    tables = [{**top, **_plan_table(g, f"plan {path}: group {i + 1}")}
              for i, g in enumerate(groups)] or [top]
    return tables, gemm


def expand(groups, overrides=None):
    """Return the points (dicts over :data:`AXIS_NAMES`, unset axes ``None``) of ``groups``.

    ``overrides`` (``{axis: [values]}``, the command line's) replace an axis in every group.
    Points repeat only once, in the order the products give them.
    """
    points = []
    for group in groups:
        axes = {**group, **(overrides or {})}
        values = [axes.get(name) or [None] for name in AXIS_NAMES]
        for combo in itertools.product(*values):
            point = dict(zip(AXIS_NAMES, combo))
            if point not in points:
                points.append(point)
    return points


def resolve(point):
    """Fill the unset axes of ``point`` with the board's defaults; return a new dict.

    Raises :class:`UsageError` for an unknown board (a typo, not a design point).
    """
    from ...boards.platforms import UnknownBoardError, board as get_board
    if point["board"] is None:
        raise UsageError("--board: give at least one board (see 'systolic boards')")
    try:
        board = get_board(point["board"])
    except UnknownBoardError as exc:
        raise UsageError(f"--board: {exc}") from None
    array = board.array
    fill = {"board": board.name, "design": "engine", "rows": array.rows,
            "cols": array.cols, "width": array.a_width, "dataflow": array.dataflow,
            "pipeline": array.pipeline, "clock_mhz": board.default_clk_hz / 1e6,
            "seed": board.seed, "placer": board.placer}
    return {name: fill[name] if point[name] is None or name == "board" else point[name]
            for name in AXIS_NAMES}


def point_id(point):
    """A file-name-safe id naming every axis of a resolved point, e.g.
    ``icebreaker-engine-4x4-w8-output-stationary-p0-30mhz-s1``."""
    from ...boards.toolchain import PLACERS
    seed = "nextpnr" if point["seed"] is None else point["seed"]
    # nextpnr's own placer (``heap``) adds nothing, so that a point keeps the id (and its
    # record) of the sweeps from before the placer was an axis.
    placer = point.get("placer")
    placer = "" if placer in (None, PLACERS[0]) else f"-{placer}"
    text = (f"{point['board']}-{point['design']}-{point['rows']}x{point['cols']}-w{point['width']}"
            f"-{point['dataflow']}-p{point['pipeline']}-{point['clock_mhz']:g}mhz-s{seed}{placer}")
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", text)
