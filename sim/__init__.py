"""Reference model (numpy only) and simulation harnesses for the gateware.

:mod:`systolic.sim.model` needs only numpy; the harnesses import their simulators lazily.
"""
