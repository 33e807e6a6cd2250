"""FlowPro Console: the on-prem admin console for FlowPro Soft's payroll, HRM and POS data."""

__version__ = "0.1.0"
