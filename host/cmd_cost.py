"""``systolic cost``: FPGA or ASIC? Total cost, breakeven volume and its sensitivity.

With no options the command reproduces the reference case (ASIC $1.5M NRE + $4 a unit
against an FPGA at $8 a unit: breakeven at 375,000 units). ``--from-build`` or array options
with ``--device`` derive the costs from a design instead: the FPGA's price from the device
catalog, the ASIC's from an estimate of the design on a process node.
"""

from . import cost
from .cost.text import render
from .cost_options import (add_design_options, add_estimate_options, add_money_options,
                           case_from_args, parse_units)
from .errors import UsageError
from .numbers import number_type
from .options import add_array_options
from .output import STDOUT, check_output, print_json

__all__ = ["register", "run"]


# The parser ----------------------------------------------------------------------------------

def register(subparsers):
    """Add the ``cost`` subcommand to ``subparsers``."""
    data = cost.load_cost_data()
    parser = subparsers.add_parser(
        "cost", help="FPGA or ASIC? total cost, breakeven volume and its sensitivity",
        description="Compare the total cost NRE + unit x volume of an FPGA and an ASIC, find the "
                    "breakeven volume and show how it moves when each input moves by +/-50%. "
                    "With no options: the reference case (ASIC $1.5M + $4 a unit, FPGA $0 + $8 a "
                    "unit, breakeven 375,000 units). With --from-build, or array options and "
                    "--device, the costs are derived from the design. Amounts accept 1500000, "
                    "1,500,000, 1.5e6 or 1.5M. Every input is printed with its value and source.")
    out = parser.add_argument_group("volumes and output")
    out.add_argument("--units", type=parse_units, nargs="+", action="extend", metavar="N",
                     help="volumes at which to total both options (default: "
                          f"{', '.join(f'{v:,}' for v in data['volumes']['value'])})")
    out.add_argument("--plot", metavar="FILE",
                     help="write a picture in the format the suffix names (.png, .pdf, .svg, ...; "
                          "- for a PNG on standard output): total cost against volume (log axes) with the breakeven "
                          "and its sensitivity band, beside the tornado chart")
    out.add_argument("--sensitivity", type=number_type("a fraction", 0, 1, lo_open=True, hi_open=True), metavar="F",
                     help=f"how far the tornado moves each input, as a fraction (default "
                          f"{data['sensitivity']['value']}, i.e. +/-50%%)")
    out.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    add_money_options(parser)
    add_design_options(parser)
    add_array_options(parser)
    add_estimate_options(parser)
    parser.set_defaults(func=run)
    return parser


# Reading a build report ----------------------------------------------------------------------


# From arguments to a case --------------------------------------------------------------------


def run(args):
    """Run ``systolic cost`` with parsed ``args``; return the exit status."""
    plot = None
    if args.plot is not None:
        if args.json and args.plot == STDOUT:
            raise UsageError("--plot -: standard output carries the --json object; give a file name")
        from .cost.plot import plot_format
        plot = check_output(args.plot, "--plot", inputs=[("--from-build", args.from_build)])
        plot_format(args.plot)
    case = case_from_args(args)
    try:
        result = cost.analyse(case, args.units, args.sensitivity)
    except cost.CostInputError as exc:
        raise UsageError(str(exc)) from None
    if plot is not None:
        _write_plot(plot, result)
        result["plot"] = str(args.plot)
        if args.plot == STDOUT:
            return 0          # the picture is the output
    if args.json:
        print_json(result)
    else:
        print("\n".join(render(result)))
    return 0


def _write_plot(path, result):
    from .cost.plot import write_cost_plot
    try:
        write_cost_plot(path, result)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise UsageError(f"--plot {path}: cannot write the file ({exc.strerror or exc})") from None


# Text ----------------------------------------------------------------------------------------


# For the demo --------------------------------------------------------------------------------

