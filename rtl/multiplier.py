"""The multipliers of the processing element on each FPGA family, and the hard-multiplier budget.

A processing element registers its operands, multiplies the registered operands into a product
register and accumulates: two register stages from the operands at its inputs to the product.
In simulation (no platform) that is written as ``a * b`` between two registers. On an FPGA the
same two stages are built from what the device does well:

* ``"mult18x18d"`` (ECP5): a ``MULT18X18D`` instance whose own input registers are the first
  stage and whose output register is the second. Yosys maps ``a * b`` onto this block but
  leaves it combinational (it packs none of its registers), and a combinational
  ``MULT18X18D`` between fabric registers held even a 4x4 array far below the clocks the
  boards target (BENCHMARKS.md, "FPGA builds"); with the block's
  registers in use nextpnr times only the short paths into and out of the block.
* ``"sb_mac16_8x8"`` (iCE40, operands up to 8 bits): half of an ``SB_MAC16`` in its dual 8 x 8
  mode, so one block serves two PEs (one takes the top 8 x 8 product, the next one the
  bottom). The block's input registers are the first stage and its 8 x 8 product registers
  the second. The iCE40 UP5K's 8 blocks so multiply for 16 PEs.
* ``"inferred"`` (iCE40, operands of 9 to 16 bits; Gowin, operands up to 18 bits): the
  generic ``a * b``, which ``synth_ice40 -dsp`` maps onto a whole ``SB_MAC16``, packing the
  product register into it, and ``synth_gowin`` onto a ``MULT9X9`` or ``MULT18X18`` of a
  Gowin DSP block, by the operands' width.
* ``"lut"``: a multiplier of logic cells, split over the two stages (radix-4 Booth partial
  products summed in pairs in the first, the pair sums added in the second), for PEs beyond
  the device's hard multipliers. It is plain adds of selected, shifted operands, so Yosys does
  not see a ``$mul`` and cannot put it on a DSP block.
* ``"generic"``: ``a * b`` as in simulation, for no platform, an unknown family, or operands
  wider than one hard multiplier (Yosys then splits the product over several blocks).

Every kind has the same cycle timing: operands at the PE's inputs on cycle ``t`` give the
product on cycle ``t + 2``.

Which kind a PE gets is decided when it is elaborated (:func:`make_multiplier`): a board top
gives the platform a :class:`MultiplierBudget` of the device's hard multiplier blocks (the top
knows the device; the PEs, deep inside the engine, do not), and each PE takes a block, or half
of one, while any are left. PEs are elaborated in the array's row-major order, so the first
PEs get the blocks, unless the budget holds a placement plan: then the PEs it names (by their
place in the array) get a block at the site it gives, and the others multiply in logic cells.
Without a budget every PE that fits one gets a hard multiplier.
"""

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .lib.hard_multipliers import pes_per_multiplier
from .lib.platform import platform_family
from .shapes import a_shape, b_shape, product_shape

__all__ = [
    "KINDS", "MultiplierBudget", "platform_family", "set_multiplier_budget",
    "multiplier_budget", "choose_multiplier", "make_multiplier", "LUTMultiplier",
    "MULT18X18DMultiplier", "SBMAC16Half",
]

#: Multiplier kinds :func:`choose_multiplier` returns.
KINDS = ("generic", "inferred", "mult18x18d", "sb_mac16_8x8", "lut")
#: Name of the platform attribute that holds the budget of one build.
_BUDGET_ATTRIBUTE = "systolic_multiplier_budget"


class MultiplierBudget:
    """The hard multiplier blocks the PEs of one design may take, and how they were used.

    Parameters
    ----------
    available : int
        Blocks the PEs may use (the device's count, less any kept for other logic).
    sites : dict or None
        A placement plan: a PE's ``(row, column)`` to the site of its block (the ``BEL``
        attribute nextpnr places the block's cell at), for the PEs that get one; the others
        multiply in logic cells. ``None`` gives blocks in the order they are taken and leaves
        their placement to the tools.

    Attributes
    ----------
    blocks : int
        Blocks taken so far (a block shared by two PEs counts once).
    hard : int
        PEs given a hard multiplier (a whole block or half of one).
    soft : int
        PEs refused one because none were left (they multiply in logic cells).
    """

    def __init__(self, available, sites=None):
        if isinstance(available, bool) or not isinstance(available, int) or available < 0:
            raise ValueError(f"available={available!r} is invalid: must be a whole number >= 0")
        self.available = available
        self.sites = None if sites is None else dict(sites)
        self.blocks = 0
        self.hard = 0
        self.soft = 0
        self._open_half = None

    def take(self, index=None):
        """Take a whole block for the PE at ``index`` (``(row, column)``); return its site
        (``""`` when unplaced), or ``None`` if none is left or a plan gives that PE none."""
        if self.sites is not None and index is None:
            raise ValueError("a budget with a placement plan needs each PE's index")
        if self.blocks >= self.available:
            site = None
        elif self.sites is None:
            site = ""
        else:
            site = self.sites.get(index)
        if site is None:
            self.soft += 1
            return None
        self.blocks += 1
        self.hard += 1
        return site

    def take_half(self, make_shared):
        """Take half of a block; return ``(shared, index)`` or ``None`` if none is left.

        The second half of the block opened last is handed out first; otherwise a new block is
        opened and ``make_shared()`` makes the object both halves share (index 0 is the first).
        """
        if self._open_half is not None:
            shared, self._open_half = self._open_half, None
            self.hard += 1
            return shared, 1
        if self.blocks < self.available:
            self.blocks += 1
            self.hard += 1
            self._open_half = shared = make_shared()
            return shared, 0
        self.soft += 1
        return None

    def to_dict(self):
        return {"available": self.available, "blocks": self.blocks, "hard": self.hard,
                "soft": self.soft}


def set_multiplier_budget(platform, available, sites=None):
    """Give ``platform`` a fresh :class:`MultiplierBudget` of ``available`` hard multipliers
    (placed at ``sites``, if given).

    Call it from the top's ``elaborate`` (which runs before its submodules are elaborated),
    so every build starts from a full budget. Returns the budget, which counts what the PEs
    took once the design is elaborated.
    """
    budget = MultiplierBudget(available, sites)
    setattr(platform, _BUDGET_ATTRIBUTE, budget)
    return budget


def multiplier_budget(platform):
    """Return the platform's :class:`MultiplierBudget`, or ``None`` if it has none."""
    return getattr(platform, _BUDGET_ATTRIBUTE, None)


def _pes_per_block(family, config):
    """PEs of ``config`` one hard multiplier block of ``family`` serves (0: none fits), from
    the family's facts that the cost model's DSP count reads too."""
    return pes_per_multiplier(family, config.a_width, config.b_width)


def _hard_kind(family, config):
    """The hard multiplier kind for ``config`` on ``family``, or ``None`` if none fits."""
    per_block = _pes_per_block(family, config)
    if per_block == 0:
        return None
    if family == "ecp5":
        return "mult18x18d"
    if family == "ice40" and per_block == 2:
        return "sb_mac16_8x8"
    return "inferred"


def choose_multiplier(platform, config, index=None):
    """Take a PE's multiplier from the platform's budget; return ``(kind, grant)``.

    ``kind`` is one of :data:`KINDS`; ``grant`` is the ``(shared block, half)`` of an
    ``"sb_mac16_8x8"`` PE, the site (``BEL`` name, or ``None``) of a ``"mult18x18d"`` one and
    ``None`` otherwise. ``index`` is the PE's ``(row, column)``, which a budget's placement
    plan needs. Call it once per PE: it uses up the budget.
    """
    family = platform_family(platform)
    kind = _hard_kind(family, config)
    if kind is None:
        return "generic", None
    budget = multiplier_budget(platform)
    if family == "gowin" and _pes_per_block(family, config) == 2:
        # Yosys picks the block itself (a MULT9X9 each); the budget counts two a block (the
        # shared object only marks the block as half taken).
        if budget is None or budget.take_half(object) is not None:
            return kind, None
        return "lut", None
    if kind == "sb_mac16_8x8":
        if budget is None:
            # No budget: every PE its own block, in the 8 x 8 mode all the same.
            return kind, (_SharedMAC16(config), 0)
        grant = budget.take_half(lambda: _SharedMAC16(config))
        return ("lut", None) if grant is None else (kind, grant)
    site = None
    if budget is not None:
        site = budget.take(index)
        if site is None:
            return "lut", None
    return kind, (site or None)


def make_multiplier(platform, config, index=None):
    """Return ``(kind, multiplier)`` for one PE of ``config`` on ``platform`` (at ``index``,
    its ``(row, column)``, for a budget's placement plan).

    ``kind`` is one of :data:`KINDS` (see :func:`choose_multiplier`). ``multiplier`` is a
    component with ``a``, ``b`` inputs and a ``product`` output two cycles later, or ``None``
    for the ``"generic"`` and ``"inferred"`` kinds, which the PE writes as ``a * b`` between
    its own registers.
    """
    kind, grant = choose_multiplier(platform, config, index)
    if kind == "lut":
        return kind, LUTMultiplier(config)
    if kind == "mult18x18d":
        return kind, MULT18X18DMultiplier(config, bel=grant)
    if kind == "sb_mac16_8x8":
        return kind, SBMAC16Half(config, *grant)
    return kind, None


class _TwoStageMultiplier(wiring.Component):
    """Ports shared by the explicit multipliers: operands in, product two cycles later."""

    def __init__(self, config):
        self._config = config
        super().__init__({
            "a":       In(a_shape(config)),
            "b":       In(b_shape(config)),
            "product": Out(product_shape(config)),
        })


class LUTMultiplier(_TwoStageMultiplier):
    """A multiplier of logic cells with the PE's timing: ``product`` is ``a * b`` of two cycles
    before.

    ``b`` is recoded in radix-4 Booth digits (``-2 .. 2``; an unsigned ``b`` first gets a zero
    sign bit), so there is one partial product for every two bits of ``b`` instead of one a
    bit. Each partial product is ``a`` or ``2a``, or zero, inverted for a negative digit; the
    ``+1`` that completes the negation goes into two low bits that the next partial product's
    shift leaves empty (the last digit's, registered, into the final add). The first stage sums
    the partial products in groups of ``group_digits`` and registers the group sums; the second
    adds the shifted group sums into the product register. On four-input LUTs the selection
    of a partial product's bit from two bits of ``a`` and three of ``b`` takes two LUTs, about
    what the AND gates of the two plain partial products it replaces cost, but it halves the
    rows to add; where the slices also mux LUTs into five-input functions (ECP5) it is one.

    Parameters
    ----------
    config : ArrayConfig
        Operand widths and signedness.
    group_digits : int
        Booth digits (partial products) per first-stage group.

    Members
    -------
    a, b : In
        Operands.
    product : Out
        The product of the operands two cycles earlier (a register).
    """

    def __init__(self, config, *, group_digits=2):
        if isinstance(group_digits, bool) or not isinstance(group_digits, int) or group_digits < 1:
            self._MustUse__silence = True
            raise ValueError(f"group_digits={group_digits!r} is invalid: must be a whole number "
                             f">= 1")
        self._group_digits = group_digits
        super().__init__(config)

    def _partial_products(self, m):
        """Return ``([(row, shift)], last_negative)``: the rows whose sum with
        ``last_negative << (2 * (digits - 1))`` is the product."""
        config = self._config
        a = self.a.as_signed() if config.signed else Cat(self.a, Const(0, 1)).as_signed()
        width = config.b_width + (0 if config.signed else 1)
        width += width % 2
        b = Signal(width, name="b_extended")
        m.d.comb += b.eq(self.b)            # extended by the operand's signedness
        b = Cat(Const(0, 1), b)             # the digit below the lowest is zero
        rows = []
        negative = None
        for digit in range(width // 2):
            low, mid, high = b[2 * digit], b[2 * digit + 1], b[2 * digit + 2]
            one = mid ^ low
            two = Mux(high, ~mid & ~low, mid & low)
            magnitude = Mux(two, a << 1, Mux(one, a, 0))
            inverted = Mux(high, ~magnitude, magnitude)
            if negative is None:
                rows.append((inverted, 0))
            else:
                # The previous digit's +1 sits in the two bits this row's shift leaves free.
                rows.append((Cat(negative, Const(0, 1), inverted).as_signed(), 2 * digit - 2))
            negative = high
        return rows, negative

    def elaborate(self, platform):
        m = Module()
        rows, last_negative = self._partial_products(m)
        total = 0
        for first in range(0, len(rows), self._group_digits):
            group = rows[first:first + self._group_digits]
            base = group[0][1]
            group_sum = 0
            for row, shift in group:
                group_sum = group_sum + (row << (shift - base))
            # The group sum is exact at this shape (Amaranth widens every add).
            stage = Signal.like(group_sum, name=f"group_{first}")
            m.d.sync += stage.eq(group_sum)
            total = total + (stage << base)
        negative = Signal(name="last_negative")
        m.d.sync += negative.eq(last_negative)
        # The true product fits product_shape, so truncating the wider sum is exact.
        m.d.sync += self.product.eq(total + (negative << 2 * (len(rows) - 1)))
        return m


class MULT18X18DMultiplier(_TwoStageMultiplier):
    """An ECP5 ``MULT18X18D`` with its input and output registers: ``product`` is ``a * b`` of
    two cycles before.

    The input registers (``REG_INPUTA``/``REG_INPUTB``) take the place of the PE's operand
    registers on the multiplier's path (the PE keeps its own for its neighbours) and the
    output register that of its product register. The pipeline register is left out: it would
    add a cycle to the array's latency. Clock enables are tied high and resets low: the product
    of a cycle without a valid operand is never accumulated, so its value after reset does not
    matter. Operands up to 18 bits; ``SIGNEDA``/``SIGNEDB`` follow the config.

    Timing: nextpnr times a registered block by its setup and clock-to-out only; the multiply
    between its input and output registers is not checked. nextpnr's own model gives that
    multiply 3.9 ns combinational, so this form is good to about 250 MHz; above that the
    pipeline register (and a cycle more latency) would be needed.

    Parameters
    ----------
    config : ArrayConfig
    bel : str or None
        Site for nextpnr (``X<x>/Y<y>/MULT18_<n>``), passed as the cell's ``BEL`` attribute.
    """

    def __init__(self, config, *, bel=None):
        if config.a_width > 18 or config.b_width > 18:
            self._MustUse__silence = True
            raise ValueError(f"MULT18X18D takes operands up to 18 bits, not "
                             f"{config.a_width} x {config.b_width}")
        self._bel = bel
        super().__init__(config)

    def elaborate(self, platform):
        m = Module()
        config = self._config
        p = Signal(36)
        a_shift, b_shift = mult18x18d_shifts(config)
        ports = {f"i_A{i}": self.a[i - a_shift] if i >= a_shift else Const(0, 1)
                 for i in range(18)}
        ports.update({f"i_B{i}": self.b[i - b_shift] if i >= b_shift else Const(0, 1)
                      for i in range(18)})
        ports.update({f"i_C{i}": Const(0, 1) for i in range(18)})
        ports.update({f"o_P{i}": p[i] for i in range(36)})
        sign = Const(int(config.signed), 1)
        placement = {} if self._bel is None else {"a_BEL": self._bel}
        # Only the pins the block's settings use are connected: the registers all take CLK0,
        # CE0 and RST0, and the unused CLK, CE and RST pins left open cost no routing (a
        # constant there is a route from nextpnr's one constant driver).
        m.submodules.mult = Instance(
            "MULT18X18D", **placement,
            p_REG_INPUTA_CLK="CLK0", p_REG_INPUTA_CE="CE0", p_REG_INPUTA_RST="RST0",
            p_REG_INPUTB_CLK="CLK0", p_REG_INPUTB_CE="CE0", p_REG_INPUTB_RST="RST0",
            p_REG_INPUTC_CLK="NONE",
            p_REG_PIPELINE_CLK="NONE",
            p_REG_OUTPUT_CLK="CLK0", p_REG_OUTPUT_CE="CE0", p_REG_OUTPUT_RST="RST0",
            p_CLK0_DIV="ENABLED", p_CLK1_DIV="ENABLED", p_CLK2_DIV="ENABLED",
            p_CLK3_DIV="ENABLED", p_HIGHSPEED_CLK="NONE", p_GSR="DISABLED",
            p_CAS_MATCH_REG="FALSE", p_SOURCEB_MODE="B_SHIFT", p_MULT_BYPASS="DISABLED",
            p_RESETMODE="SYNC",
            i_SIGNEDA=sign, i_SIGNEDB=sign, i_SOURCEA=Const(0, 1), i_SOURCEB=Const(0, 1),
            i_CLK0=ClockSignal("sync"), i_CE0=Const(1, 1), i_RST0=Const(0, 1),
            **ports,
        )
        low = a_shift + b_shift
        m.d.comb += self.product.eq(p[low:low + config.product_width])
        return m


def mult18x18d_shifts(config):
    """Where a ``MULT18X18D`` takes the operands of ``config``: ``(a_shift, b_shift)``.

    Each operand goes into the top bits of its 18-bit port, zeros below, and the product is
    read ``a_shift + b_shift`` bits up. The product is the same as of the operands extended to
    18 bits, but the zeros are tied off inside the block's tile by the bitstream, while each
    extension bit (a copy of a signed operand's sign) would be one more route into the
    block's tile, which the DSP rows' routing is short of.
    """
    return 18 - config.a_width, 18 - config.b_width


class _SharedMAC16:
    """One SB_MAC16 in dual 8 x 8 mode and the operand and product signals of its two halves.

    Half 0 uses the top multiplier (``A[15:8] * B[15:8]``, output ``O[31:16]``), half 1 the
    bottom one (``A[7:0] * B[7:0]``, output ``O[15:0]``). Each half's signals are driven from
    that half's PE only; the block itself is added to the design by half 0.
    """

    def __init__(self, config):
        self.signed = config.signed
        self.a = [Signal(8, name=f"mac16_a{half}") for half in range(2)]
        self.b = [Signal(8, name=f"mac16_b{half}") for half in range(2)]
        self.o = Signal(32, name="mac16_o")

    def instance(self):
        sign = int(self.signed)
        return Instance(
            "SB_MAC16",
            p_NEG_TRIGGER=0, p_MODE_8x8=1, p_A_SIGNED=sign, p_B_SIGNED=sign,
            # Input registers: the first stage. 8 x 8 product registers: the second.
            p_A_REG=1, p_B_REG=1, p_C_REG=0, p_D_REG=0,
            p_TOP_8x8_MULT_REG=1, p_BOT_8x8_MULT_REG=1,
            p_PIPELINE_16x16_MULT_REG1=0, p_PIPELINE_16x16_MULT_REG2=0,
            # Outputs straight from the registered 8 x 8 products; the adders are unused.
            p_TOPOUTPUT_SELECT=2, p_BOTOUTPUT_SELECT=2,
            p_TOPADDSUB_LOWERINPUT=0, p_TOPADDSUB_UPPERINPUT=0, p_TOPADDSUB_CARRYSELECT=0,
            p_BOTADDSUB_LOWERINPUT=0, p_BOTADDSUB_UPPERINPUT=0, p_BOTADDSUB_CARRYSELECT=0,
            i_CLK=ClockSignal("sync"), i_CE=Const(1, 1),
            i_A=Cat(self.a[1], self.a[0]), i_B=Cat(self.b[1], self.b[0]), i_C=Const(0, 16),
            i_D=Const(0, 16),
            i_AHOLD=Const(0, 1), i_BHOLD=Const(0, 1), i_CHOLD=Const(0, 1), i_DHOLD=Const(0, 1),
            i_IRSTTOP=Const(0, 1), i_IRSTBOT=Const(0, 1),
            i_ORSTTOP=Const(0, 1), i_ORSTBOT=Const(0, 1),
            i_OLOADTOP=Const(0, 1), i_OLOADBOT=Const(0, 1),
            i_ADDSUBTOP=Const(0, 1), i_ADDSUBBOT=Const(0, 1),
            i_OHOLDTOP=Const(0, 1), i_OHOLDBOT=Const(0, 1),
            i_CI=Const(0, 1), i_ACCUMCI=Const(0, 1), i_SIGNEXTIN=Const(0, 1),
            o_O=self.o,
        )


class SBMAC16Half(_TwoStageMultiplier):
    """Half of an iCE40 ``SB_MAC16`` in dual 8 x 8 mode: ``product`` is ``a * b`` of two cycles
    before.

    Operands up to 8 bits are extended to 8 (the block's sign controls follow the config) and
    go through the block's input registers; the product comes from its 8 x 8 product
    register, 16 bits, of which the low ``product_width`` are the product. Clock enables are
    tied high and resets low, as for :class:`MULT18X18DMultiplier`.

    Parameters
    ----------
    config : ArrayConfig
    shared : _SharedMAC16
        The block, from the budget (:meth:`MultiplierBudget.take_half`).
    half : int
        0 (top multiplier; this half adds the block to the design) or 1 (bottom).
    """

    def __init__(self, config, shared, half):
        if _pes_per_block("ice40", config) != 2:
            self._MustUse__silence = True
            raise ValueError(f"the SB_MAC16 8 x 8 mode takes operands up to 8 bits, not "
                             f"{config.a_width} x {config.b_width}")
        self._shared = shared
        self._half = half
        super().__init__(config)

    def elaborate(self, platform):
        m = Module()
        shared, half = self._shared, self._half
        if half == 0:
            m.submodules.mac16 = shared.instance()
        m.d.comb += [
            shared.a[half].eq(self.a),      # extended by the operand's signedness
            shared.b[half].eq(self.b),
            self.product.eq(shared.o.word_select(1 - half, 16)[:self._config.product_width]),
        ]
        return m
