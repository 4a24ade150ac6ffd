"""What every exchange simulator shares: accounts with a paper matching engine each (`state`),
armed faults (`faults`), the /_sim/ control API (`control`), the server (`server`), the startup
config and command line (`config`, `cli`). An exchange's package adds only its protocol.
"""
