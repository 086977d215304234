"""ArrayConfig: validation, derived widths and serialisation."""

import pytest

from systolic.rtl.config import ArrayConfig, ConfigError
from systolic.rtl.engine.config import EngineConfig


def test_defaults_are_int8_with_exact_accumulator():
    config = ArrayConfig()
    assert (config.rows, config.cols, config.a_width, config.b_width) == (4, 4, 8, 8)
    # (-128) * (-128) = 16384 per step; 4096 steps = 2**26, which needs 27 bits + sign.
    assert config.acc_width == 28
    assert config.exact_k >= config.max_k


@pytest.mark.parametrize("a_width, b_width, signed, max_k, expected", [
    (8, 8, False, 4096, 28),   # 255 * 255 * 4096 = 266,342,400 < 2**28
    (8, 8, True, 1, 16),       # one product: 16384 needs 16 signed bits
    (4, 4, True, 64, 14),      # 64 * 64 = 4096 = 2**12 -> 13 bits + sign
    (2, 2, True, 1, 4),        # (-2) * (-2) = 4 -> 4 signed bits
    (16, 8, False, 1, 24),
    (32, 32, True, 1 << 20, 84),
])
def test_derived_acc_width(a_width, b_width, signed, max_k, expected):
    config = ArrayConfig(a_width=a_width, b_width=b_width, signed=signed, max_k=max_k)
    assert config.acc_width == expected
    # Independent check: the width holds max_k extreme products and one more bit would be spare.
    lo, hi = config.product_range
    acc_lo, acc_hi = config.acc_range
    assert acc_lo <= lo * max_k and hi * max_k <= acc_hi


@pytest.mark.parametrize("kwargs, parameter", [
    ({"rows": 0}, "rows"),
    ({"cols": -3}, "cols"),
    ({"rows": 2.5}, "rows"),
    ({"a_width": 1}, "a_width"),
    ({"b_width": 33}, "b_width"),
    ({"acc_width": 15}, "acc_width"),     # narrower than one 8x8 product (16 bits)
    ({"overflow": "clip"}, "overflow"),
    ({"dataflow": "row-stationary"}, "dataflow"),
    ({"signed": "yes"}, "signed"),
    ({"max_k": 0}, "max_k"),
    ({"pipeline": -1}, "pipeline"),
    ({"pipeline": 2}, "pipeline"),
    ({"pipeline": True}, "pipeline"),
])
def test_bad_values_name_the_parameter(kwargs, parameter):
    with pytest.raises(ConfigError) as info:
        ArrayConfig(**kwargs)
    assert info.value.parameter == parameter
    assert parameter in str(info.value) and "must be" in str(info.value)


def test_frozen_and_round_trips():
    config = ArrayConfig(rows=3, cols=5, a_width=4, b_width=6, signed=False, overflow="saturate",
                         acc_width=12, pipeline=1)
    with pytest.raises(AttributeError):
        config.rows = 9
    assert ArrayConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="colour"):
        ArrayConfig.from_dict({"colour": "red"})


def test_timing_figures():
    config = ArrayConfig(rows=3, cols=5)
    assert config.min_pass_spacing == 5
    assert config.result_latency == 8
    assert config.macs == 15


def test_pipeline_range_is_named():
    with pytest.raises(ConfigError, match=r"pipeline=3 is invalid: must be from 0 to 1"):
        ArrayConfig(pipeline=3)


def test_pipeline_adds_an_input_register_a_product_stage_and_a_mux_level():
    plain, piped = ArrayConfig(rows=3, cols=5), ArrayConfig(rows=3, cols=5, pipeline=1)
    assert (plain.input_stages, plain.product_stages, plain.mux_stages) == (0, 0, 0)
    assert (piped.input_stages, piped.product_stages, piped.mux_stages) == (1, 1, 1)
    assert piped.result_latency == plain.result_latency + 3 == 11
    # The PEs' results are read on the same cycle relative to their `done`: spacing is unchanged.
    assert piped.min_pass_spacing == plain.min_pass_spacing


def test_dicts_without_pipeline_still_load():
    old = ArrayConfig(rows=2, cols=7).to_dict()
    del old["pipeline"]
    assert ArrayConfig.from_dict(old) == ArrayConfig(rows=2, cols=7)
    assert ArrayConfig.from_dict(ArrayConfig(pipeline=1).to_dict()).pipeline == 1


def test_describe_names_the_pipeline_only_when_set():
    assert "pipeline" not in ArrayConfig().describe()
    assert ArrayConfig(pipeline=1).describe().endswith(", pipeline 1")


def test_overlay_derives_again_what_the_base_derived():
    from systolic.rtl.config import overlay
    base = ArrayConfig()                                       # acc_width derived: 28
    wide = overlay(base, a_width=16, b_width=16, rows=None)    # None: not given
    assert wide == ArrayConfig(a_width=16, b_width=16) and wide.acc_width > base.acc_width
    assert overlay(base, acc_width=20).acc_width == 20
    given = ArrayConfig(acc_width=30)                          # given: kept
    assert overlay(given, a_width=4).acc_width == 30
    # The engine's default buffers and word width follow a new array; given ones stay.
    engine = EngineConfig()
    bigger = overlay(engine, array=ArrayConfig(rows=8, cols=8, a_width=16, b_width=16))
    assert bigger == EngineConfig(ArrayConfig(rows=8, cols=8, a_width=16, b_width=16))
    sized = EngineConfig(m_blocks=3)
    assert overlay(sized, array=ArrayConfig(rows=8)).m_blocks == 3
    assert overlay(sized, array=ArrayConfig(rows=8)).n_blocks == EngineConfig(
        ArrayConfig(rows=8)).n_blocks


def test_the_engine_takes_both_dataflows_with_their_a_layouts():
    # Output-stationary: A in blocks of R rows, a word a K step; weight-stationary: in blocks
    # of R columns of K, a word a row of A. The same job limits either way.
    os_config = EngineConfig(ArrayConfig(rows=3, cols=2), k_depth=10, m_blocks=4, n_blocks=2)
    ws_config = EngineConfig(ArrayConfig(rows=3, cols=2, dataflow="weight-stationary"),
                             k_depth=10, m_blocks=4, n_blocks=2)
    assert (os_config.max_m, os_config.max_k, os_config.max_n) == (
        ws_config.max_m, ws_config.max_k, ws_config.max_n) == (12, 10, 4)
    assert os_config.a_bank_words == 4 * 10 and ws_config.a_bank_words == 4 * 12
    assert os_config.load_words("a", 7, 10) == 3 * 10 and ws_config.load_words("a", 7, 10) == 4 * 7
