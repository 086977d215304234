"""Board top-level designs and the device catalog.

:mod:`systolic.boards.catalog` reads the device data file without importing Amaranth.
"""
