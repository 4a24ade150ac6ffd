"""The trading engine (terminal 3): alerts in, orders out, positions kept."""
