"""Live exchanges through ccxt: the only place that imports ccxt."""
