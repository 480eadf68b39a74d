"""The live trading node: the desk of a desk file trading on a live venue."""
