"""``systolic generate``: write the array as Verilog."""

from .errors import UsageError
from .estimate import SHOW_S, generate_seconds
from .options import add_array_options, config_from_args
from .output import STDOUT, Heartbeat, check_output, format_duration, print_json, progress, write_atomic

DEFAULT_MODULE = "systolic_array"


def register(subparsers):
    parser = subparsers.add_parser(
        "generate", help="write the systolic array as Verilog",
        description="Generate the R x C systolic array as a Verilog module. The README lists its "
                    "ports and the cycle-level protocol of each dataflow.")
    add_array_options(parser)
    parser.add_argument("-o", "--output", required=True, metavar="FILE.v",
                        help="Verilog file to write; - writes it to standard output")
    parser.add_argument("--name", default=DEFAULT_MODULE, help=f"module name (default {DEFAULT_MODULE})")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    parser.set_defaults(func=run)


def run(args):
    config = config_from_args(args)
    if not args.name.isidentifier():
        raise UsageError(f"--name={args.name!r} is not a valid Verilog identifier")
    if args.json and args.output == STDOUT:
        raise UsageError("-o -: standard output carries the --json summary; give a file name, "
                         "or drop --json")
    output = check_output(args.output, "-o")
    estimate = generate_seconds(config)
    about = f" (about {format_duration(estimate)})" if estimate > SHOW_S else ""
    progress(f"generating {config.describe()}{about}", quiet=args.json)
    from ..rtl.array import make_array
    from ..rtl.verilog import to_verilog
    with Heartbeat("generating", estimate, quiet=args.json):
        text = to_verilog(make_array(config), args.name)
    write_atomic(output, text)
    if args.json:
        print_json({"output": args.output, "module": args.name, "config": config.to_dict(),
                    "lines": text.count("\n")})
    else:
        progress(f"wrote {args.output} (module {args.name})")
    return 0
