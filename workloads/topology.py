"""SCALE-Sim topology files: the conv form and the GEMM form, read as SCALE-Sim reads them.

SCALE-Sim (Samajdar et al., "SCALE-Sim: Systolic CNN Accelerator Simulator", arXiv:1811.02883,
2018; "A Systematic Methodology for Characterizing Scalability of DNN Accelerators using
SCALE-Sim", ISPASS 2020) describes a network as a CSV file with a header line and one row per
layer, every row ending with a comma:

* conv form: ``Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
  Num Filter, Strides,`` (an optional ninth number is the stride across, as SCALE-Sim's own
  writer emits it). There is no padding: a padded layer is written with its padded input. The
  output extent is SCALE-Sim's ``ceil((IFMAP - Filter + Stride) / Stride)``. A layer whose name
  contains ``DP`` is depthwise, as in SCALE-Sim: one group per channel, ``Num Filter`` filters
  each.
* GEMM form: ``Layer, M, N, K,``: ``A`` is M x K, ``B`` is K x N.

Which form a file has is told by its header. Blank lines are skipped; so are lines starting
with ``#`` (comments, an extension: SCALE-Sim itself reads only the first line as a header),
and a last cell starting with ``#`` (SCALE-Sim drops whatever follows the last comma).
"""

from pathlib import Path

from .layers import LayerError, Network, WorkloadError, conv_layer, gemm_layer, scalesim_output_size

__all__ = ["TopologyError", "CONV_COLUMNS", "GEMM_COLUMNS", "read_topology", "parse_topology"]

#: The conv form's columns after the name, as SCALE-Sim's documentation spells them.
CONV_COLUMNS = ("IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
                "Num Filter", "Strides")
#: The GEMM form's columns after the name.
GEMM_COLUMNS = ("M", "N", "K")

_CONV_HEADER = "Layer name, " + ", ".join(CONV_COLUMNS) + ","
_GEMM_HEADER = "Layer, " + ", ".join(GEMM_COLUMNS) + ","


class TopologyError(WorkloadError):
    """A topology file that cannot be read; the message names the file and the line."""


def read_topology(path):
    """Read a SCALE-Sim topology CSV; return its :class:`~.layers.Network` (batch 1).

    Raises
    ------
    TopologyError
        If the file cannot be read, or a line is malformed (the message names the line).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise TopologyError(f"{path}: not a text file (a SCALE-Sim topology is a CSV file)") from None
    except OSError as exc:
        raise TopologyError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    return parse_topology(text, name=path.stem, source=str(path))


def _cells(line):
    cells = [cell.strip() for cell in line.split(",")]
    # Whatever follows the last comma, SCALE-Sim drops: an empty cell, or a comment.
    while cells and (cells[-1] == "" or cells[-1].startswith("#")):
        cells.pop()
    return cells


def _form(cells):
    names = [cell.lower() for cell in cells[1:]]
    if names[:3] == ["m", "n", "k"]:
        return "SCALE-Sim GEMM"
    if names and names[0].startswith("ifmap"):
        return "SCALE-Sim conv"
    return None


def parse_topology(text, *, name="topology", source="<text>"):
    """Parse the text of a SCALE-Sim topology file (see the module's description).

    Parameters
    ----------
    text : str
    name : str
        The network's name.
    source : str
        The file, for messages.

    Returns
    -------
    Network

    Raises
    ------
    TopologyError
        Naming ``source`` and the line of the first problem.
    """
    form = None
    layers = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{source}, line {number}"
        cells = _cells(line)
        if form is None:
            form = _form(cells)
            if form is None:
                raise TopologyError(
                    f"{where}: expected a SCALE-Sim header, the conv form '{_CONV_HEADER}' or the "
                    f"GEMM form '{_GEMM_HEADER}'; got {line.strip()!r}")
            continue
        try:
            if form == "SCALE-Sim GEMM":
                layers.append(_gemm_row(cells, number))
            else:
                layers.append(_conv_row(cells, number))
        except LayerError as exc:
            raise TopologyError(f"{where}: {exc}") from None
    if form is None:
        raise TopologyError(f"{source}: empty: expected a SCALE-Sim header line and one row per layer")
    if not layers:
        raise TopologyError(f"{source}: a header but no layer rows")
    return Network(name, tuple(layers), form=form, source=source)


def _numbers(cells, columns, optional=()):
    values = cells[1:]
    most = len(columns) + len(optional)
    if not len(columns) <= len(values) <= most:
        expected = (f"{len(columns)}" if not optional else f"{len(columns)} or {most}")
        raise LayerError(f"expected a name and {expected} numbers ({', '.join(columns + optional)}), "
                         f"got {len(values)} value{'s' if len(values) != 1 else ''}")
    numbers = []
    for column, cell in zip(columns + optional, values):
        try:
            value = int(cell)
        except ValueError:
            value = None
        if value is None or value < 1:
            raise LayerError(f"{column}={cell!r} must be a whole number >= 1")
        numbers.append(value)
    return numbers


def _layer_name(cells, number):
    return cells[0] if cells and cells[0] else f"line {number}"


def _gemm_row(cells, number):
    m, n, k = _numbers(cells, GEMM_COLUMNS)
    return gemm_layer(_layer_name(cells, number), m, k, n, origin=f"line {number}")


def _conv_row(cells, number):
    height, width, f_height, f_width, channels, filters, stride, *across = _numbers(
        cells, CONV_COLUMNS, optional=("Stride Width",))
    stride_w = across[0] if across else stride
    name = _layer_name(cells, number)
    for what, size, kernel in (("Height", height, f_height), ("Width", width, f_width)):
        if kernel > size:
            raise LayerError(f"Filter {what} {kernel} is larger than IFMAP {what} {size}")
    out = (scalesim_output_size(height, f_height, stride),
           scalesim_output_size(width, f_width, stride_w))
    if "DP" in name:
        # SCALE-Sim's depthwise convention: a layer per channel, each with Num Filter filters.
        return conv_layer(name, batch=1, channels=channels, out_spatial=out,
                          kernel=(f_height, f_width), filters=channels * filters, groups=channels,
                          origin=f"line {number}")
    return conv_layer(name, batch=1, channels=channels, out_spatial=out, kernel=(f_height, f_width),
                      filters=filters, origin=f"line {number}")
