"""The command line: parses arguments, calls one function of the layers below, prints; the
only part of twin that exits."""
