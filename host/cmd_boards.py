"""``systolic boards``: the boards systolic builds for, with their devices' resources."""

from .errors import UsageError
from .output import print_json


def register(subparsers):
    parser = subparsers.add_parser(
        "boards", help="list the supported boards and their FPGAs",
        description="List the boards systolic can build for: FPGA, clocks, USB-serial link and "
                    "the device's resources from the catalog (boards/devices.json), and the "
                    "default link rate (Mbaud: the fastest the board's USB-serial chip and the "
                    "link clock allow with margin); --json adds the LEDs' roles, the programmers "
                    "and the design 'systolic build' puts on the board unless told otherwise "
                    "(default_design).")
    parser.add_argument("board", nargs="?", metavar="BOARD", help="show only this board")
    parser.add_argument("--json", action="store_true", help="print the list as JSON on stdout")
    parser.set_defaults(func=run)


def _row(info):
    res = info["resources"]
    dsp = f"{res['dsp']} {res['dsp_kind']}" if res["dsp"] else "0"
    bram = f"{res['bram']} x {res['bram_kbit']} kbit"
    return [info["name"], info["device"], f"{info['osc_hz'] / 1e6:g}",
            f"{info['default_clk_hz'] / 1e6:g}", f"{res['lut']:,}", f"{res['ff']:,}", dsp, bram,
            f"{info['default_baud'] / 1e6:g}", info["usb_serial"]]


def _info(board):
    """The board's summary, with the build defaults that are not facts of the board alone:
    what ``systolic build --board NAME`` builds unless told otherwise (``default_design``, the
    same function's answer as ``systolic build --dry-run``)."""
    from ..boards.design import resolve_build
    design = resolve_build(board)
    return {**board.to_dict(), "default_baud": design.baud, "link_clock_hz": design.link_hz,
            "default_design": design.to_dict()}


def run(args):
    from ..boards.platforms import boards, board, UnknownBoardError
    if args.board is not None:
        try:
            selected = [board(args.board)]
        except UnknownBoardError as exc:
            raise UsageError(str(exc)) from None
    else:
        selected = boards()
    infos = [_info(b) for b in selected]
    if args.json:
        print_json({"boards": infos})
        return 0
    header = ["board", "device", "osc MHz", "clk MHz", "LUT", "FF", "DSP", "BRAM", "Mbaud",
              "USB serial"]
    rows = [header] + [_row(info) for info in infos]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0
