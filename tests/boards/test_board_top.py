"""The board top around the engine (boards/top.py) and what a board build reports and says when
it fails (boards/top_build.py; no toolchain)."""

from systolic.boards.platforms import board
from systolic.boards.design import default_engine_config
from systolic.boards.top import BoardTop
from systolic.boards.top_build import explain_failure, peak_gops
from systolic.boards.build import BuildError


def test_peak_gops_formula():
    assert peak_gops(16, 31.5, 30.0) == 0.96           # runs at the target it meets
    assert peak_gops(16, 25.0, 30.0) == 0.8             # clocked down to its Fmax
    assert peak_gops(156, 240.0, 250.0) == round(2 * 156 * 240 / 1e3, 3)
    assert peak_gops(16, None, 30.0) is None


def test_board_top_gives_the_pes_the_device_budget():
    from amaranth.hdl import Fragment
    from systolic.boards.top import core_factory
    b = board("icebreaker")
    top = BoardTop(b, default_engine_config(b), clock_hz=30e6)
    platform = b.platform()
    Fragment.get(top, platform)
    assert top.multipliers.to_dict() == {"available": 8, "blocks": 8, "hard": 16, "soft": 0}
    assert type(top.core) is core_factory()
    # A smaller budget leaves the rest of the PEs to logic cells.
    top = BoardTop(b, default_engine_config(b), clock_hz=30e6, dsp_budget=3)
    Fragment.get(top, b.platform())
    assert top.multipliers.to_dict() == {"available": 3, "blocks": 3, "hard": 6, "soft": 10}


ECP5_OVERFLOW_LOG = """\
Info: Device utilisation:
Info: \t          TRELLIS_IO:      11/    365     3%
Info: \t              DP16KD:     120/    208    57%
Info: \t          MULT18X18D:     160/    156   102%
Info: \t        TRELLIS_COMB:   18316/  83640    21%
ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'MULT18X18D'
"""


def test_explain_failure_names_the_overflowing_resource(tmp_path):
    (tmp_path / "top.tim").write_text(ECP5_OVERFLOW_LOG)
    error = BuildError("placement", "placement failed", log="x.log")
    failure = explain_failure(error, "ulx3s-85f", tmp_path)
    assert isinstance(failure, BuildError) and failure is not error
    message = str(failure)
    assert "\n" not in message
    assert "does not fit LFE5U-85F" in message
    assert "dsp (MULT18X18D) 160 used, 156 available" in message
    assert message.endswith(f"log: {tmp_path / 'top.tim'}")
    assert failure.overflow.to_dict() == {"resource": "dsp", "cell": "MULT18X18D", "used": 160,
                                          "available": 156}


def test_explain_failure_without_overflow_quotes_the_tool(tmp_path):
    (tmp_path / "top.tim").write_text("Info: Device utilisation:\nInfo: \t  DP16KD:  1/ 208  0%\n")
    failure = explain_failure(BuildError("routing", "routing failed (nextpnr-ecp5 exited with "
                                         "status 1): ERROR: congestion", log="b/top.build.log"),
                              "ulx3s-85f", tmp_path)
    assert failure.overflow is None
    assert str(failure) == ("routing failed (nextpnr-ecp5 exited with status 1): ERROR: "
                            "congestion; log: b/top.build.log")
