"""Host side: the ``systolic`` command line, reports and the cost model."""
