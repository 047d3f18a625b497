"""The command line: the only part of twin that prints, writes reports or exits."""
