"""Accounting: exact positions, cash, fees, realized PnL, settlement and exposure."""
