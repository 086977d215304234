"""Peak, sustained and over-the-wire throughput of a design on a reference GEMM (no Amaranth).

Three figures, side by side, wherever a design is reported (``build``, ``report``,
``simulate``):

* ``peak_gops``: ``2 * rows * cols * f``, every MAC busy on every cycle;
* ``sustained_gops``: the reference GEMM's operations over the cycles the exact engine model
  (:func:`~systolic.sim.engine_perf.gemm_perf`) gives for it on this engine, host tiling
  included and the first job's operand load counted;
* ``link_gops``: the same GEMM run by the driver over the board's serial link: every byte of
  every frame the driver would exchange (:func:`link_traffic`, the driver's own message plan)
  at ``baud`` on an 8N1 line, one request at a time, plus the engine's cycles.
"""

import math
from dataclasses import asdict, dataclass

from ..rtl.protocol import CRC_BYTES, HEADER_BYTES, MIN_MAX_PAYLOAD, Kind
from ..sim.engine_perf import JOB_LIMIT, gemm_perf, job_count
from ..sim.engine_tiling import job_word_count, plan_jobs
from .gemm_jobs import job_messages

__all__ = ["REFERENCE_GEMM", "BITS_PER_BYTE", "LinkTraffic", "link_traffic", "throughput",
           "parse_gemm", "check_gemm"]

#: The GEMM the sustained figures are for unless told otherwise.
REFERENCE_GEMM = (256, 256, 256)
#: Line bits of one byte on an 8N1 UART (start, 8 data, stop).
BITS_PER_BYTE = 10
#: Bytes of a READ request's payload (the word count, u16).
_READ_PAYLOAD = 2


@dataclass(frozen=True)
class LinkTraffic:
    """What the driver exchanges with a board for one GEMM.

    Attributes
    ----------
    bytes_to_board, bytes_from_board : int
        Every byte of every frame, headers and CRCs included.
    exchanges : int
        Requests (each answered by one reply).
    """
    bytes_to_board: int
    bytes_from_board: int
    exchanges: int

    def line_seconds(self, baud):
        """Seconds the bytes take on an 8N1 line at ``baud``, one exchange after another."""
        return (self.bytes_to_board + self.bytes_from_board) * BITS_PER_BYTE / baud


def link_traffic(config, m, k, n, *, max_payload=MIN_MAX_PAYLOAD):
    """Return the :class:`LinkTraffic` of ``Accelerator.matmul`` of an ``m x k x n`` GEMM.

    The jobs are the host tiler's (operands a bank already holds from this GEMM are not sent
    again); the messages :func:`~.gemm_jobs.job_messages`; frames carry at most
    ``max_payload`` bytes, whole words of ``ceil(word_width / 8)`` bytes.
    """
    word_bytes = (config.word_width + 7) // 8
    per_frame = max_payload // word_bytes
    frame = HEADER_BYTES + CRC_BYTES
    to_board = from_board = exchanges = 0
    for job in plan_jobs(m, k, n, config):
        result_words = job.shape[0] * job.shape[2] if job.emit else 0
        for kind, words in job_messages(job_word_count(job, config), result_words):
            frames = math.ceil(words / per_frame)
            exchanges += frames
            if kind == Kind.WRITE:
                to_board += frames * frame + words * word_bytes
                from_board += frames * frame                   # ACK
            else:
                to_board += frames * (frame + _READ_PAYLOAD)
                from_board += frames * frame + words * word_bytes  # DATA
    return LinkTraffic(to_board, from_board, exchanges)


def throughput(config, clock_hz, *, gemm=REFERENCE_GEMM, baud=None,
               max_payload=MIN_MAX_PAYLOAD):
    """Peak, sustained and link figures of ``config`` at ``clock_hz`` on ``gemm``.

    Returns
    -------
    dict
        ``peak_gops``, ``sustained_gops``, ``sustained_efficiency`` (sustained over peak),
        ``link_gops`` (``None`` without a ``baud``) and ``sustained``: the details (the GEMM,
        the model's cycles from the first START and from the first word, the ideal cycles,
        the jobs, the clock, and the link's bytes, exchanges, baud and seconds). A GEMM of more
        jobs than the model times (:func:`check_gemm`) has ``None`` figures and a ``note``.
    """
    operations = 2 * math.prod(gemm)
    peak = 2 * config.array.macs * clock_hz
    jobs = job_count(config, *gemm)
    if jobs > JOB_LIMIT:
        return {"peak_gops": peak / 1e9, "sustained_gops": None, "sustained_efficiency": None,
                "link_gops": None,
                "sustained": {"gemm": dict(zip("mkn", gemm)), "clock_mhz": clock_hz / 1e6,
                              "jobs": jobs, "note": f"{jobs:,} engine jobs, more than the "
                                                    f"{JOB_LIMIT:,} the model times"}}
    perf = gemm_perf(config, *gemm)
    sustained = perf.ops_per_s(clock_hz)
    details = {
        "gemm": dict(zip("mkn", gemm)), "clock_mhz": clock_hz / 1e6, "jobs": perf.jobs,
        "cycles": perf.cycles, "total_cycles": perf.total_cycles,
        "ideal_cycles": perf.ideal_cycles, "efficiency": perf.efficiency,
    }
    link_gops = None
    if baud is not None:
        traffic = link_traffic(config, *gemm, max_payload=max_payload)
        seconds = traffic.line_seconds(baud) + perf.total_cycles / clock_hz
        link_gops = operations / seconds / 1e9
        details["link"] = {**asdict(traffic), "baud": baud, "max_payload": max_payload,
                           "seconds": seconds}
    return {"peak_gops": peak / 1e9, "sustained_gops": sustained / 1e9,
            "sustained_efficiency": sustained / peak, "link_gops": link_gops,
            "sustained": details}


def parse_gemm(text):
    """Parse ``M,K,N`` (three integers >= 1); raise ``ValueError`` naming what is wrong."""
    parts = text.split(",")
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or len(parts) != 3 or min(values) < 1:
        raise ValueError(f"--gemm {text!r} is invalid: give M,K,N, three whole numbers >= 1 "
                         f"(e.g. 256,256,256)")
    return values


def check_gemm(config, gemm):
    """Raise ``ValueError`` (naming ``--gemm``) if the model cannot time ``gemm`` on ``config``:
    more than :data:`~systolic.sim.engine_perf.JOB_LIMIT` jobs."""
    jobs = job_count(config, *gemm)
    if jobs > JOB_LIMIT:
        raise ValueError(f"--gemm {','.join(map(str, gemm))} is {jobs:,} engine jobs on these "
                         f"buffers, more than the {JOB_LIMIT:,} the model times; give a smaller "
                         f"reference GEMM")
