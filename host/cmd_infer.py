"""``systolic infer``: an int8 digit classifier, trained here, its GEMMs run on the accelerator."""

import sys
import time

import numpy as np

from ..rtl.protocol import DEFAULT_BAUD
from .channel import BITS_PER_BYTE
from .link_options import add_board_options, add_link_options, check_link_args, connect
from .errors import UsageError
from .options import engine_config_from_args
from .output import print_json, progress

__all__ = ["register", "run", "render", "HIDDEN_MAX"]

#: Largest hidden layer --hidden takes.
HIDDEN_MAX = 4096
_INT8_BITS = 8


def register(subparsers):
    """Add the ``infer`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "infer", help="classify handwritten digits with an int8 MLP whose GEMMs run on the "
                      "accelerator",
        description="Train a small multi-layer perceptron on scikit-learn's bundled digits data "
                    "(8x8 images, no download), quantize it to int8 (symmetric int8 weights per "
                    "output channel, int8 activations, int32 accumulators; requantization by a "
                    "fixed-point scale and shift with ReLU and saturation between layers, on the "
                    "host) and classify the test split with its GEMMs on a board (--port), a "
                    "virtual board (--virtual: the board core on Verilator behind a "
                    "pseudo-terminal) or, with neither, the engine's exact numpy model. Reports "
                    "the accuracy of the float model, of the int8 numpy reference and of the "
                    "accelerator (equal image for image, or the exit status is 1), images/s, and "
                    "the images/s the same bytes allow on a real UART at the board's baud.")
    add_link_options(parser, required=False)
    net = parser.add_argument_group("the network")
    net.add_argument("--hidden", type=int, nargs="+", default=[32], metavar="N",
                     help=f"hidden layer sizes, 1 to {HIDDEN_MAX} each (default 32: 64-32-10)")
    net.add_argument("--seed", type=int, default=0,
                     help="seed of the train/test split and of the training (default 0)")
    net.add_argument("--batch", type=int, metavar="B",
                     help="images per accelerator GEMM (default: the rows one engine job holds); "
                          "each layer runs over every batch before the next layer, so its "
                          "weights stay on the board")
    add_board_options(parser, tiling=False)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(func=run)


def _check_args(args):
    check_link_args(args)
    for size in args.hidden:
        if not 1 <= size <= HIDDEN_MAX:
            raise UsageError(f"--hidden {size} is out of range: each layer takes 1 to "
                             f"{HIDDEN_MAX} units")
    if args.batch is not None and args.batch < 1:
        raise UsageError(f"--batch {args.batch} is out of range: must be a whole number >= 1")


def _check_int8(config, where):
    array = config.array
    if not array.signed or min(array.a_width, array.b_width) < _INT8_BITS:
        raise UsageError(f"{where}: int8 inference needs signed operands of at least "
                         f"{_INT8_BITS} bits; the design has {array.describe()}")


def run(args):
    """Run ``systolic infer`` with parsed ``args``; return the exit status."""
    from ..workloads import WorkloadError
    from ..workloads.digits import train_digits
    from .driver import AcceleratorError
    _check_args(args)
    if args.port is None:
        _check_int8(engine_config_from_args(args), "the design options")
    progress(f"training a 64-{'-'.join(map(str, args.hidden))}-10 MLP on the digits data "
             f"(seed {args.seed}) and quantizing it to int8", quiet=args.json)
    try:
        model = train_digits(hidden=tuple(args.hidden), seed=args.seed)
    except WorkloadError as exc:
        raise UsageError(str(exc)) from None
    inputs = model.test_inputs()
    reference = model.network.run(inputs)
    try:
        report, accelerated = _run_accelerator(args, model, inputs)
    except AcceleratorError as exc:
        print(f"systolic infer: error: {exc}", file=sys.stderr)
        return 1
    differs = np.zeros(len(inputs), dtype=bool)
    for mine, theirs in zip(reference.accumulators, accelerated.accumulators):
        differs |= np.any(mine != theirs, axis=1)
    report.update({
        "images": len(inputs), "train_images": len(model.x_train),
        "hidden": list(model.hidden), "seed": model.seed, "train_s": model.train_s,
        "layers": [{"name": layer.name, "k": layer.shape[0], "n": layer.shape[1],
                    "relu": layer.relu} for layer in model.network.layers],
        "macs_per_image": sum(layer.shape[0] * layer.shape[1] for layer in model.network.layers),
        "float_accuracy": model.float_accuracy,
        "int8_accuracy": float(np.mean(reference.predictions == model.y_test)),
        "accelerator_accuracy": float(np.mean(accelerated.predictions == model.y_test)),
        "match": not bool(differs.any()), "mismatched_images": int(differs.sum()),
    })
    if args.json:
        print_json(report)
    else:
        print("\n".join(render(report)))
    return 0 if report["match"] else 1


def _run_accelerator(args, model, inputs):
    """Run the test images through the chosen target; return the report so far and the
    :class:`~systolic.workloads.int8.Int8Result`."""
    if args.port is None and not args.virtual:
        from ..sim.engine_model import engine_matmul
        config = engine_config_from_args(args)
        batch = args.batch or config.max_m
        started = time.perf_counter()
        result = model.network.run(inputs, lambda a, b: engine_matmul(a, b, config), batch=batch)
        return {"target": "model", "config": config.to_dict(), "batch": batch,
                "model_s": time.perf_counter() - started, "wall_s": None, "images_per_s": None,
                "baud": None, "link_estimate": None}, result
    started = time.perf_counter()
    with connect(args) as acc:
        _check_int8(acc.config, f"the board on {args.port}" if args.port else "the design")
        acc.reset()     # the engine's clean-up, kept out of the measured run
        setup_s = time.perf_counter() - started
        config = acc.config
        batch = args.batch or config.max_m
        progress(f"{len(inputs)} test images through {config.describe()}, {batch} a GEMM",
                 quiet=args.json)
        before = acc.stats()
        started = time.perf_counter()
        result = model.network.run(inputs, acc.matmul, batch=batch)
        wall_s = time.perf_counter() - started
        after = acc.stats()
    moved = {key: after[key] - before[key] for key in
             ("bytes_out", "bytes_in", "payload_out", "payload_in", "exchanges", "retries")}
    baud = args.baud or DEFAULT_BAUD
    wire = moved["bytes_out"] + moved["bytes_in"]
    line_s = wire * BITS_PER_BYTE / baud
    return {
        "target": args.port or "virtual", "config": config.to_dict(), "batch": batch,
        "setup_s": setup_s, "wall_s": wall_s, "images_per_s": len(inputs) / wall_s,
        "bytes_to_board": moved["bytes_out"], "bytes_from_board": moved["bytes_in"],
        "payload_to_board": moved["payload_out"], "payload_from_board": moved["payload_in"],
        "exchanges": moved["exchanges"], "retries": moved["retries"], "baud": baud,
        # The same bytes on an 8N1 UART, with no adapter latency: the link's own ceiling.
        "link_estimate": {"baud": baud, "bytes": wire, "seconds": line_s,
                          "images_per_s": len(inputs) / line_s if line_s else None},
    }, result


def render(report):
    """Return the text lines of an ``infer`` report."""
    layers = report["layers"]
    shape = "-".join(str(n) for n in [layers[0]["k"]] + [layer["n"] for layer in layers])
    where = {"model": "the engine's numpy model", "virtual": "a virtual board"}.get(
        report["target"], f"the board on {report['target']}")
    lines = [f"network:  {shape} int8 MLP, {report['train_images']} training images "
             f"(trained and quantized in {report['train_s']:.1f} s), {report['images']} test images",
             f"accuracy: float {report['float_accuracy']:.2%}, int8 reference "
             f"{report['int8_accuracy']:.2%}, accelerator ({where}) "
             f"{report['accelerator_accuracy']:.2%}",
             "result:   " + ("every accumulator equals the int8 reference's" if report["match"] else
                            f"{report['mismatched_images']} images DIFFER from the int8 reference")]
    if report["images_per_s"] is not None:
        lines.append(f"speed:    {report['images_per_s']:,.0f} images/s ({report['wall_s']:.2f} s, "
                     f"{report['batch']} images a GEMM; {report['bytes_to_board']:,} bytes to the "
                     f"board, {report['bytes_from_board']:,} back, {report['exchanges']:,} "
                     f"exchanges, {report['retries']} retries)")
        estimate = report["link_estimate"]
        lines.append(f"on a UART: {estimate['images_per_s']:,.0f} images/s at {estimate['baud']:,} "
                     f"baud for these bytes ({estimate['seconds']:.2f} s; not counting adapter "
                     f"latency)")
    return lines
